/* test_engine.c — the composition root in-process: engine_init() wires a
 * loop that closes cleanly, the mode's hooks are called, a failed setup
 * undoes itself, and engine_cleanup() reports a handle left open. Loopback
 * only (the metrics listener binds 127.0.0.1). */
#include "worker/engine.h"

#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "conf/config.h"
#include "testutil.h"
#include "core/sy.h"

/* A listening socket on an ephemeral loopback port (its port in *port). */
static int listen_any(int *port)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    cr_assert_geq(fd, 0);
    struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
    socklen_t n = sizeof a;
    cr_assert_eq(bind(fd, (struct sockaddr *)&a, sizeof a), 0);
    cr_assert_eq(listen(fd, 1), 0);
    cr_assert_eq(getsockname(fd, (struct sockaddr *)&a, &n), 0);
    *port = ntohs(a.sin_port);
    return fd;
}

static struct conf *conf_with_metrics(const char *listen)
{
    char text[512], err[512] = "";
    setenv("SY_T_ENG_KEY", "eng-key", 1);
    snprintf(text, sizeof text,
             "worker = { metrics_listen = \"%s\"; };\n"
             "providers = ( { name = \"kie\"; type = \"kie\"; priority = 1; "
             "base_url = \"http://127.0.0.1:9\"; api_key_env = \"SY_T_ENG_KEY\"; } );\n",
             listen);
    struct conf *c = conf_load_string(text, "eng.conf", err, sizeof err);
    cr_assert_not_null(c, "%s", err);
    return c;
}

struct counts {
    struct engine *e;
    int stops, collects, last_signum;
};

static void on_stop(void *ud, int signum)
{
    struct counts *k = ud;
    k->stops++;
    k->last_signum = signum;
    engine_close(k->e); /* from a signal callback: a clean stack */
}

static void on_collect(void *ud, struct metrics *m)
{
    (void)m;
    ((struct counts *)ud)->collects++;
}

static void raise_term(uv_timer_t *t)
{
    uv_close((uv_handle_t *)t, NULL);
    raise(SIGTERM);
}

Test(engine, runs_and_closes_cleanly, .timeout = 20)
{
    int port = 0, fd = listen_any(&port);
    close(fd); /* a free port for the metrics listener */
    char listen[32];
    snprintf(listen, sizeof listen, "127.0.0.1:%d", port);
    uv_loop_t uv;
    struct engine e = { 0 };
    struct counts k = { .e = &e };
    struct engine_hooks h = { .on_stop = on_stop, .collect = on_collect, .ud = &k };
    char err[256] = "";
    cr_assert_eq(engine_init(&e, &uv, conf_with_metrics(listen), &h, err, sizeof err), SY_OK, "%s",
                 err);
    cr_assert_not_null(e.loop);
    cr_assert_not_null(e.conf);
    cr_assert_neq(e.worker_id[0], 0);
    cr_assert_eq(k.collects, 1, "metrics_start took the first snapshot through the mode's hook");
    uv_timer_t t;
    uv_timer_init(&uv, &t);
    uv_timer_start(&t, raise_term, 0, 0);
    uv_run(&uv, UV_RUN_DEFAULT);
    cr_assert_eq(k.stops, 1);
    cr_assert_eq(k.last_signum, SIGTERM);
    cr_assert_eq(engine_cleanup(&e), SY_OK, "every handle closed");
    assert_no_leaks();
}

static void close_soon(uv_timer_t *t)
{
    uv_close((uv_handle_t *)t, NULL);
    engine_close(t->data);
}

Test(engine, cleanup_reports_a_handle_left_open, .timeout = 20)
{
    uv_loop_t uv;
    struct engine e = { 0 };
    struct counts k = { .e = &e };
    struct engine_hooks h = { .on_stop = on_stop, .ud = &k };
    char err[256] = "";
    cr_assert_eq(engine_init(&e, &uv, conf_with_metrics(""), &h, err, sizeof err), SY_OK, "%s",
                 err);
    uv_timer_t t, leaked;
    uv_timer_init(&uv, &t);
    t.data = &e;
    uv_timer_start(&t, close_soon, 0, 0);
    uv_timer_init(&uv, &leaked); /* inactive: uv_run returns, but the loop cannot close */
    uv_run(&uv, UV_RUN_DEFAULT);
    cr_assert_eq(engine_cleanup(&e), SY_ERR, "a handle left open is an error");
    uv_close((uv_handle_t *)&leaked, NULL);
    uv_run(&uv, UV_RUN_DEFAULT);
    cr_assert_eq(uv_loop_close(&uv), 0);
    assert_no_leaks();
}

Test(engine, failed_setup_undoes_itself, .timeout = 20)
{
    int port = 0, fd = listen_any(&port); /* kept listening: the metrics bind fails */
    char listen[32];
    snprintf(listen, sizeof listen, "127.0.0.1:%d", port);
    uv_loop_t uv;
    struct engine e = { 0 };
    struct counts k = { .e = &e };
    struct engine_hooks h = { .on_stop = on_stop, .ud = &k };
    char err[512] = "";
    cr_assert_eq(engine_init(&e, &uv, conf_with_metrics(listen), &h, err, sizeof err), SY_ERR);
    cr_assert_not_null(strstr(err, listen), "the error names the address: %s", err);
    cr_assert_null(e.d);
    cr_assert_null(e.m);
    cr_assert_null(e.loop);
    close(fd);
    assert_no_leaks();
}
