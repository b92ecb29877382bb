/* test_loopsock.c — worker/loopsock.c on its own: an fd number that comes
 * back for a new socket is watched afresh, whether the old socket was one
 * loopsock opened (and kept in the set after curl let go of it) or one it
 * only watched (a resolver's, closed behind its back); an event for a
 * socket nobody watches takes it out of the set; the set keeps the uv loop
 * alive only while a socket is watched; one wake-up ends in one "done".
 * Sockets are socketpairs: a byte written to one end makes the other
 * readable. */
#include <errno.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <criterion/criterion.h>
#include <curl/curl.h>
#include <uv.h>

#include "core/sy.h"
#include "worker/loopsock.h"

struct seen {
    int calls;
    int batches; /* wake-ups with at least one event */
    curl_socket_t fd;
    int flags;
};

static void on_ready(void *ud, curl_socket_t fd, int flags)
{
    struct seen *s = ud;
    s->calls++;
    s->fd = fd;
    s->flags = flags;
    char c;
    if (flags & CURL_CSELECT_IN) /* as curl would: take what made it readable */
        (void)recv(fd, &c, 1, MSG_DONTWAIT);
}

static void on_done(void *ud)
{
    struct seen *s = ud;
    s->batches++;
}

static struct loopsock ls;
static struct seen seen;
static uv_loop_t uv;

static void setup(void)
{
    char err[256];
    memset(&seen, 0, sizeof seen);
    cr_assert_eq(uv_loop_init(&uv), 0);
    cr_assert_eq(loopsock_init(&ls, &uv, on_ready, on_done, &seen, err, sizeof err), SY_OK, "%s",
                 err);
}

static void teardown(void)
{
    loopsock_close_handle(&ls, NULL);
    cr_assert_eq(uv_run(&uv, UV_RUN_DEFAULT), 0);
    loopsock_cleanup(&ls);
    cr_assert_eq(uv_loop_close(&uv), 0, "a handle leaked");
}

/* Run the loop a few times without blocking; the events it delivered. */
static int pump(void)
{
    seen.calls = seen.batches = 0;
    for (int i = 0; i < 5; i++)
        uv_run(&uv, UV_RUN_NOWAIT);
    return seen.calls;
}

/* A socketpair whose [0] end is opened the way curl opens a connection's
 * socket (loopsock_open), or with plain socketpair when own is 0. */
static void pair(int own, int sv[2])
{
    cr_assert_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
    if (!own)
        return;
    /* Swap [0] for a socket loopsock opens on the same number: close it,
     * and loopsock_open gets the lowest free fd, which is that one. */
    int want = sv[0];
    close(sv[0]);
    struct curl_sockaddr a = { .family = AF_UNIX, .socktype = SOCK_STREAM, .protocol = 0 };
    curl_socket_t fd = loopsock_open(&ls, CURLSOCKTYPE_IPCXN, &a);
    cr_assert_eq(fd, want, "loopsock_open did not reuse fd %d (got %d)", want, fd);
    close(sv[1]); /* an unconnected socket: pair it afresh through the kernel */
    int sv2[2];
    cr_assert_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, sv2), 0);
    cr_assert_eq(dup2(sv2[0], fd), fd);
    close(sv2[0]);
    sv[1] = sv2[1];
}

static void poke(int fd)
{
    cr_assert_eq(write(fd, "x", 1), 1);
}

/* Watch sv[0] for reading, make it readable: exactly one event, for it. */
static void expect_watched(const int sv[2], const char *what)
{
    cr_assert_eq(loopsock_watch(&ls, sv[0], CURL_POLL_IN), SY_OK);
    poke(sv[1]);
    cr_assert_eq(pump(), 1, "%s on fd %d is not watched", what, sv[0]);
    cr_assert_eq(seen.fd, sv[0]);
}

/* A new socket (own or not, as for pair) that must get fd number num, and
 * is watched at once. */
static void pair_on(int own, int sv[2], int num, const char *what)
{
    pair(own, sv);
    cr_assert_eq(sv[0], num, "fd %d, not the number %d just freed", sv[0], num);
    expect_watched(sv, what);
}

/* As curl ends with one of its sockets: unwatch, close through the set. */
static void own_done(const int sv[2])
{
    cr_assert_eq(loopsock_watch(&ls, sv[0], CURL_POLL_REMOVE), SY_OK);
    cr_assert_eq(loopsock_close(&ls, sv[0]), 0);
    close(sv[1]);
}

/* Curl lets go of a socket it opened (CURL_POLL_REMOVE) and watches it
 * again: still watched; it is closed (through loopsock_close), and the
 * number comes back for a new socket: that one is watched too. */
Test(loopsock, an_own_socket_number_reused_is_watched_afresh, .init = setup, .fini = teardown)
{
    int a[2];
    pair(1, a);
    expect_watched(a, "the socket");
    cr_assert_eq(seen.flags, CURL_CSELECT_IN);
    cr_assert_eq(loopsock_watch(&ls, a[0], CURL_POLL_REMOVE), SY_OK);
    expect_watched(a, "the socket watched again after CURL_POLL_REMOVE");

    int num = a[0];
    own_done(a);
    int b[2];
    pair_on(1, b, num, "the new socket");
    own_done(b);
}

/* A socket loopsock opened is closed through it, and its number comes back
 * for one it did not open (a resolver's): watched. Then that one is closed
 * behind the set's back without CURL_POLL_REMOVE, and loopsock_open gets
 * the number: watched too. */
Test(loopsock, a_number_passed_between_own_and_foreign_sockets, .init = setup, .fini = teardown)
{
    int a[2];
    pair(1, a);
    int num = a[0];
    cr_assert_eq(loopsock_watch(&ls, a[0], CURL_POLL_IN), SY_OK);
    own_done(a);
    int b[2];
    pair_on(0, b, num, "the foreign socket");
    close(b[0]);
    close(b[1]);
    int c[2];
    pair_on(1, c, num, "the new own socket");
    own_done(c);
}

/* A socket loopsock did not open (curl's resolver's): curl lets go of it
 * and closes it itself; a new socket on that number is watched. */
Test(loopsock, a_foreign_socket_number_reused_is_watched_afresh, .init = setup, .fini = teardown)
{
    int a[2];
    pair(0, a);
    expect_watched(a, "the socket");
    int num = a[0];
    cr_assert_eq(loopsock_watch(&ls, a[0], CURL_POLL_REMOVE), SY_OK);
    close(a[0]);
    close(a[1]);
    int b[2];
    pair_on(0, b, num, "the new socket");
    cr_assert_eq(loopsock_watch(&ls, b[0], CURL_POLL_REMOVE), SY_OK);
    close(b[0]);
    close(b[1]);
}

/* Readable while nobody watches it (an idle connection the server closed):
 * no call, and it leaves the set, so the loop does not spin on it. Another
 * socket is watched meanwhile, which keeps the loop running. */
Test(loopsock, an_unwatched_socket_is_not_reported, .init = setup, .fini = teardown)
{
    int a[2], b[2];
    pair(1, a);
    pair(1, b);
    cr_assert_eq(loopsock_watch(&ls, b[0], CURL_POLL_IN), SY_OK);
    cr_assert_eq(loopsock_watch(&ls, a[0], CURL_POLL_IN), SY_OK);
    cr_assert_eq(loopsock_watch(&ls, a[0], CURL_POLL_REMOVE), SY_OK);
    close(a[1]); /* EOF: readable for good */
    cr_assert_eq(pump(), 0);
    errno = 0;
    cr_assert_eq(epoll_ctl(ls.epfd, EPOLL_CTL_DEL, a[0], NULL), -1, "still in the set");
    cr_assert_eq(errno, ENOENT);
    /* Watched again, it is reported at once (level-triggered: on each pass). */
    cr_assert_eq(loopsock_watch(&ls, a[0], CURL_POLL_IN), SY_OK);
    cr_assert_geq(pump(), 1);
    cr_assert_eq(seen.fd, a[0]);
    cr_assert_eq(seen.flags & CURL_CSELECT_IN, CURL_CSELECT_IN);
    cr_assert_eq(loopsock_watch(&ls, a[0], CURL_POLL_REMOVE), SY_OK);
    cr_assert_eq(loopsock_close(&ls, a[0]), 0);
    own_done(b);
}

/* The interest changes from writing to reading: only what curl asked for
 * is reported. */
Test(loopsock, only_what_curl_watches_is_reported, .init = setup, .fini = teardown)
{
    int a[2];
    pair(1, a);
    cr_assert_eq(loopsock_watch(&ls, a[0], CURL_POLL_OUT), SY_OK);
    cr_assert_geq(pump(), 1);
    cr_assert_eq(seen.flags, CURL_CSELECT_OUT);
    cr_assert_eq(loopsock_watch(&ls, a[0], CURL_POLL_IN), SY_OK);
    cr_assert_eq(pump(), 0, "writable, but curl watches for reading now");
    poke(a[1]);
    cr_assert_eq(pump(), 1);
    cr_assert_eq(seen.flags, CURL_CSELECT_IN);
    own_done(a);
}

/* The set holds the uv loop open only while curl watches a socket. */
Test(loopsock, keeps_the_loop_alive_only_while_watching, .init = setup, .fini = teardown)
{
    cr_assert_eq(uv_run(&uv, UV_RUN_NOWAIT), 0, "alive with nothing watched");
    int a[2];
    pair(1, a);
    cr_assert_eq(loopsock_watch(&ls, a[0], CURL_POLL_IN), SY_OK);
    cr_assert_neq(uv_run(&uv, UV_RUN_NOWAIT), 0, "not alive while a socket is watched");
    cr_assert_eq(loopsock_watch(&ls, a[0], CURL_POLL_REMOVE), SY_OK);
    cr_assert_eq(uv_run(&uv, UV_RUN_NOWAIT), 0);
    cr_assert_eq(loopsock_close(&ls, a[0]), 0);
    close(a[1]);
}

/* Two sockets ready at once: both events, then one "done" for the wake-up
 * (where the loop drains curl's finished transfers, so the next requests
 * go out together). */
Test(loopsock, one_done_per_wake_up, .init = setup, .fini = teardown)
{
    int a[2], b[2];
    pair(1, a);
    pair(1, b);
    cr_assert_eq(loopsock_watch(&ls, a[0], CURL_POLL_IN), SY_OK);
    cr_assert_eq(loopsock_watch(&ls, b[0], CURL_POLL_IN), SY_OK);
    poke(a[1]);
    poke(b[1]);
    cr_assert_eq(pump(), 2);
    cr_assert_eq(seen.batches, 1);
    own_done(a);
    own_done(b);
}
