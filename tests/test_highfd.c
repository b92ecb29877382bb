/* test_highfd.c — the two HTTP listeners (/metrics + /healthz, and the
 * callback receiver) keep answering in a process that holds more than 1,024
 * open files. libmicrohttpd's select() mode closes every accepted socket whose
 * fd is >= FD_SETSIZE (and refuses such a listening socket), so a busy worker
 * would fail its liveness probe and drop provider callbacks; the listeners
 * must poll with epoll/poll instead.
 *
 * In-process: the listeners run on their own threads, the test's curl client
 * (poll-based) asks them. No timing is asserted. */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include <criterion/criterion.h>
#include <uv.h>

#include "conf/config.h"
#include "sytest.h"
#include "worker/callbacks.h"
#include "worker/metrics.h"
#include "core/sy.h"

#define HIGH_FD 1100 /* well above FD_SETSIZE (1024) */

/* Raise the soft RLIMIT_NOFILE if needed and hold /dev/null open until the
 * next fd a socket gets is >= HIGH_FD. Skips the test when the hard limit is
 * too low to do so. */
static void take_low_fds(void)
{
    struct rlimit rl;
    cr_assert_eq(getrlimit(RLIMIT_NOFILE, &rl), 0);
    rlim_t want = HIGH_FD + 256;
    if (rl.rlim_cur < want) {
        if (rl.rlim_max != RLIM_INFINITY && rl.rlim_max < want)
            cr_skip_test("RLIMIT_NOFILE hard limit %ld is below %ld", (long)rl.rlim_max,
                         (long)want);
        rl.rlim_cur = want;
        cr_assert_eq(setrlimit(RLIMIT_NOFILE, &rl), 0);
    }
    int fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
    cr_assert(fd >= 0);
    for (int i = 0; i < HIGH_FD + 16; i++) {
        int d = fcntl(fd, F_DUPFD_CLOEXEC, 0);
        cr_assert(d >= 0, "dup failed after %d fds", i);
        if (d >= HIGH_FD)
            break;
    }
    int probe = fcntl(fd, F_DUPFD_CLOEXEC, 0);
    cr_assert_geq(probe, HIGH_FD, "next fd %d is still below %d", probe, HIGH_FD);
    close(probe);
}

static void on_event(void *ud, const struct cbtopic_event *ev)
{
    (void)ud;
    (void)ev;
}

/* A config with both providers and a signed callback receiver on port. */
static struct conf *callback_conf(int port)
{
    char dir[256], path[320], err[1024];
    sy_tmpdir(dir, sizeof dir);
    snprintf(path, sizeof path, "%s/c.conf", dir);
    struct fakeprov fp = { .port = 1 }; /* never contacted */
    sy_write_config(&fp, path, "", "");
    setenv("SYTEST_CB_HMAC", "highfd-hmac-key", 1);
    setenv("SYTEST_CB_WHSEC", "whsec_cmVwbGljYXRlLXRlc3Qta2V5LTAxMjM0NTY3ODlhYmM=", 1);
    FILE *f = fopen(path, "a");
    cr_assert_not_null(f);
    fprintf(f,
            "callbacks = { listen = \"127.0.0.1:%d\"; public_url = \"http://127.0.0.1:%d\";\n"
            "  kie_hmac_key_env = \"SYTEST_CB_HMAC\"; webhook_secret_env = \"SYTEST_CB_WHSEC\"; };\n",
            port, port);
    fclose(f);
    struct conf *c = conf_load(path, err, sizeof err);
    cr_assert_not_null(c, "%s", err);
    return c;
}

struct listeners {
    uv_loop_t uv;
    struct metrics *m;
    struct callbacks *cb;
    struct conf *conf;
    int mport, cport;
};

static void start(struct listeners *s)
{
    char err[512], listen[64];
    cr_assert_eq(uv_loop_init(&s->uv), 0);
    s->mport = sy_free_port();
    s->m = metrics_new();
    cr_assert_not_null(s->m);
    struct metrics_source src = { 0 };
    snprintf(listen, sizeof listen, "127.0.0.1:%d", s->mport);
    cr_assert_eq(metrics_start(s->m, &s->uv, listen, &src, err, sizeof err), SY_OK, "metrics: %s",
                 err);
    s->cb = callbacks_start(&s->uv, s->conf, s->m, on_event, NULL, err, sizeof err);
    cr_assert_not_null(s->cb, "callbacks: %s", err);
}

/* /healthz and /metrics answer 200; the receiver answers (404 for a path it
 * does not serve): each on an accepted socket above FD_SETSIZE. */
static void ask(const struct listeners *s)
{
    char *body = NULL;
    long st = sy_http_get(s->mport, "/healthz", &body);
    cr_assert_eq(st, 200, "/healthz: status %ld (0 = connection refused or closed) %s", st, body);
    free(body);
    st = sy_http_get(s->mport, "/metrics", &body);
    cr_assert_eq(st, 200, "/metrics: status %ld", st);
    cr_assert(strstr(body, "# TYPE"), "not a metrics page: %.200s", body);
    free(body);
    st = sy_http_get(s->cport, "/not-a-callback", NULL);
    cr_assert_eq(st, 404, "callback receiver: status %ld (0 = connection refused or closed)", st);
}

static void stop(struct listeners *s)
{
    callbacks_close(s->cb);
    metrics_stop(s->m);
    uv_run(&s->uv, UV_RUN_DEFAULT);
    metrics_free(s->m);
    conf_free(s->conf);
    cr_assert_eq(uv_loop_close(&s->uv), 0, "a handle leaked");
}

/* The review's case: listeners opened early (low fds), connections accepted
 * once the worker holds many sockets. */
Test(highfd, accepted_sockets_above_fd_setsize, .timeout = 30)
{
    struct listeners s = { .cport = sy_free_port() };
    s.conf = callback_conf(s.cport);
    start(&s);
    take_low_fds();
    ask(&s);
    stop(&s);
}

/* Listeners opened after the fds are taken (e.g. a restart inside a busy
 * process): the listening sockets themselves are above FD_SETSIZE. */
Test(highfd, listening_sockets_above_fd_setsize, .timeout = 30)
{
    struct listeners s = { .cport = sy_free_port() };
    take_low_fds();
    s.conf = callback_conf(s.cport);
    start(&s);
    ask(&s);
    stop(&s);
}
