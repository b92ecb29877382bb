/* loopsock.c — curl's sockets in an epoll set of their own (see loopsock.h). */
#include "loopsock.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "core/sy.h"

#define LOOPSOCK_BATCH 64 /* events taken per wake-up; more stay ready for the next */

/* want and reg are CURL_POLL_IN / CURL_POLL_OUT bits. */
struct loopsock_ent {
    unsigned char want;  /* what curl watches now; 0 = not watched */
    unsigned char reg;   /* what the epoll set holds for this fd; 0 = not in it */
    unsigned char known; /* opened by loopsock_open and not closed since */
};

static uint32_t epoll_bits(int what)
{
    return ((what & CURL_POLL_IN) ? EPOLLIN : 0u) | ((what & CURL_POLL_OUT) ? EPOLLOUT : 0u);
}

/* Make fd's entry exist; NULL when out of memory. */
static struct loopsock_ent *ent_of(struct loopsock *s, curl_socket_t fd)
{
    if (fd < 0)
        return NULL;
    size_t i = (size_t)fd;
    if (i >= s->n_ent) {
        size_t n = s->n_ent ? s->n_ent : 64;
        while (n <= i)
            n *= 2;
        struct loopsock_ent *e = sy_grow_zeroed(s->ent, s->n_ent, n, sizeof *e);
        if (!e)
            return NULL;
        s->ent = e;
        s->n_ent = n;
    }
    return &s->ent[i];
}

/* Record what curl watches on e's fd. The set's uv handle keeps the uv
 * loop alive only while curl watches some socket, as a uv_poll_t per
 * socket would. */
static void set_want(struct loopsock *s, struct loopsock_ent *e, int want)
{
    if (!e->want == !want) {
        e->want = (unsigned char)want;
        return;
    }
    e->want = (unsigned char)want;
    if (want && s->n_watched++ == 0)
        uv_ref((uv_handle_t *)&s->poll);
    else if (!want && --s->n_watched == 0)
        uv_unref((uv_handle_t *)&s->poll);
}

/* Set the kernel's registration of fd to what (0 = out of the set). */
static int set_reg(struct loopsock *s, curl_socket_t fd, struct loopsock_ent *e, int what)
{
    if (e->reg == what && (e->known || !what)) /* a foreign fd's file may have changed: ask */
        return SY_OK;
    if (!what) {
        epoll_ctl(s->epfd, EPOLL_CTL_DEL, fd, NULL); /* ENOENT/EBADF: already gone with its file */
        e->reg = 0;
        return SY_OK;
    }
    struct epoll_event ev = { .events = epoll_bits(what), .data.fd = fd };
    int op = e->reg ? EPOLL_CTL_MOD : EPOLL_CTL_ADD;
    int rc = epoll_ctl(s->epfd, op, fd, &ev);
    if (rc != 0 && op == EPOLL_CTL_MOD && errno == ENOENT) /* the file it stood for is closed */
        rc = epoll_ctl(s->epfd, EPOLL_CTL_ADD, fd, &ev);
    else if (rc != 0 && op == EPOLL_CTL_ADD && errno == EEXIST)
        rc = epoll_ctl(s->epfd, EPOLL_CTL_MOD, fd, &ev);
    if (rc != 0) {
        e->reg = 0;
        return SY_ERR;
    }
    e->reg = (unsigned char)what;
    return SY_OK;
}

int loopsock_watch(struct loopsock *s, curl_socket_t fd, int what)
{
    struct loopsock_ent *e = ent_of(s, fd);
    if (what == CURL_POLL_REMOVE) {
        if (!e)
            return SY_OK;
        set_want(s, e, 0);
        if (!e->known) /* curl closes it without telling us: out of the set now */
            set_reg(s, fd, e, 0);
        return SY_OK;
    }
    if (!e)
        return SY_ERR;
    set_want(s, e, what & (CURL_POLL_IN | CURL_POLL_OUT));
    return set_reg(s, fd, e, e->want);
}

curl_socket_t loopsock_open(void *clientp, curlsocktype purpose, struct curl_sockaddr *addr)
{
    (void)purpose;
    struct loopsock *s = clientp;
    curl_socket_t fd = socket(addr->family, addr->socktype | SOCK_CLOEXEC, addr->protocol);
    if (fd < 0)
        return CURL_SOCKET_BAD;
    struct loopsock_ent *e = ent_of(s, fd);
    if (!e) {
        close(fd);
        return CURL_SOCKET_BAD;
    }
    /* A fresh file: whatever had this number before is out of the set. */
    set_want(s, e, 0);
    memset(e, 0, sizeof *e);
    e->known = 1;
    return fd;
}

int loopsock_close(void *clientp, curl_socket_t fd)
{
    struct loopsock *s = clientp;
    if (fd >= 0 && (size_t)fd < s->n_ent) {
        set_want(s, &s->ent[fd], 0);
        memset(&s->ent[fd], 0, sizeof s->ent[fd]); /* closing takes it out of the set */
    }
    return close(fd);
}

static void on_ready(uv_poll_t *h, int status, int events)
{
    (void)status;
    (void)events;
    struct loopsock *s = h->data;
    struct epoll_event ev[LOOPSOCK_BATCH];
    int n = epoll_wait(s->epfd, ev, LOOPSOCK_BATCH, 0);
    for (int i = 0; i < n; i++) {
        curl_socket_t fd = ev[i].data.fd;
        /* Looked up afresh: an earlier event's callback may have changed
         * (or moved) the table. */
        struct loopsock_ent *e = (size_t)fd < s->n_ent ? &s->ent[fd] : NULL;
        if (!e)
            continue;
        if (!e->want) { /* an idle connection, or one curl let go this pass */
            set_reg(s, fd, e, 0);
            continue;
        }
        uint32_t got = ev[i].events;
        int flags = 0;
        if ((got & EPOLLIN) || ((got & (EPOLLERR | EPOLLHUP)) && (e->want & CURL_POLL_IN)))
            flags |= CURL_CSELECT_IN;
        if ((got & EPOLLOUT) || ((got & (EPOLLERR | EPOLLHUP)) && (e->want & CURL_POLL_OUT)))
            flags |= CURL_CSELECT_OUT;
        if (got & EPOLLERR)
            flags |= CURL_CSELECT_ERR;
        s->ready(s->ud, fd, flags);
    }
    if (n > 0)
        s->done(s->ud);
}

int loopsock_init(struct loopsock *s, uv_loop_t *uv, loopsock_ready_fn ready, loopsock_done_fn done,
                  void *ud, char *err, size_t errlen)
{
    memset(s, 0, sizeof *s);
    s->ready = ready;
    s->done = done;
    s->ud = ud;
    s->epfd = epoll_create1(EPOLL_CLOEXEC);
    if (s->epfd < 0) {
        snprintf(err, errlen, "epoll_create1: %s", strerror(errno));
        return SY_ERR;
    }
    int rc = uv_poll_init(uv, &s->poll, s->epfd);
    if (rc != 0) {
        snprintf(err, errlen, "watching the socket set: %s", uv_strerror(rc));
        close(s->epfd);
        s->epfd = -1;
        return SY_ERR;
    }
    s->poll.data = s;
    (void)uv_poll_start(&s->poll, UV_READABLE, on_ready); /* 0 on a fresh handle */
    uv_unref((uv_handle_t *)&s->poll);                    /* until curl watches a socket */
    return SY_OK;
}

void loopsock_close_handle(struct loopsock *s, uv_close_cb cb)
{
    uv_poll_stop(&s->poll);
    uv_close((uv_handle_t *)&s->poll, cb);
}

void loopsock_cleanup(struct loopsock *s)
{
    if (s->epfd >= 0)
        close(s->epfd);
    s->epfd = -1;
    free(s->ent);
    s->ent = NULL;
    s->n_ent = 0;
}
