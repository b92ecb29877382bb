/* test_callbacks_limits.c — the callback receiver alone, in process (its
 * loop runs only when a test says): what it refuses before reading a body,
 * the per-IP and queue limits, the envelope bounds, KIE dedupe, the handoff
 * budget. The end-to-end runs are test_callbacks.c's. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <criterion/criterion.h>

#include "queue/cbtopic.h"
#include "providers/webhook.h"
#include "sytest.h"
#include "worker/callbacks.h"
#include "core/sy.h"

#define HMAC_KEY "cb-test-hmac-key"

/* ---- the receiver alone (in process; its loop runs only when a test says) ---- */

struct recv {
    uv_loop_t uv;
    struct conf *c;
    struct callbacks *cb;
    int port, events;
};

static void count_event(void *ud, const struct cbtopic_event *ev)
{
    (void)ev;
    ((struct recv *)ud)->events++;
}

/* A receiver on loopback without keys; extra goes into the callbacks group. */
static void recv_start(struct recv *r, const char *extra)
{
    setenv("SYTEST_RECV_KEY", "recv-test-key", 1);
    memset(r, 0, sizeof *r);
    r->port = sy_free_port();
    char text[1024], err[512] = "";
    snprintf(
            text, sizeof text,
            "providers = ( { name = \"kie\"; type = \"kie\"; priority = 1; base_url = \"http://127.0.0.1:1\";"
            " api_key_env = \"SYTEST_RECV_KEY\"; },\n"
            " { name = \"replicate\"; type = \"replicate\"; priority = 2; base_url = \"http://127.0.0.1:1\";"
            " api_key_env = \"SYTEST_RECV_KEY\"; } );\n"
            "callbacks = { listen = \"127.0.0.1:%d\"; public_url = \"http://127.0.0.1:%d\"; %s };\n",
            r->port, r->port, extra ? extra : "");
    r->c = conf_load_string(text, "recv.conf", err, sizeof err);
    cr_assert_not_null(r->c, "%s", err);
    cr_assert_eq(uv_loop_init(&r->uv), 0);
    r->cb = callbacks_start(&r->uv, r->c, NULL, count_event, r, err, sizeof err);
    cr_assert_not_null(r->cb, "%s", err);
}

static void recv_stop(struct recv *r)
{
    callbacks_close(r->cb);
    uv_run(&r->uv, UV_RUN_DEFAULT);
    cr_assert_eq(uv_loop_close(&r->uv), 0, "a handle was left open");
    conf_free(r->c);
}

static int raw_connect(int port)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    cr_assert(fd >= 0);
    struct timeval tv = { .tv_sec = 10 }; /* only a bound on a failing run */
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    struct sockaddr_in a = { .sin_family = AF_INET,
                             .sin_port = htons((uint16_t)port),
                             .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
    cr_assert_eq(connect(fd, (struct sockaddr *)&a, sizeof a), 0);
    return fd;
}

/* Send req on fd and read the answer's status: the code, 0 when the server
 * closed without one, -1 when nothing came within the receive timeout. */
static int raw_status(int fd, const char *req)
{
    size_t n = strlen(req);
    if (n)
        cr_assert_eq(send(fd, req, n, MSG_NOSIGNAL), (ssize_t)n);
    char buf[256];
    size_t got = 0;
    while (got < sizeof buf - 1 && !memchr(buf, '\n', got)) {
        ssize_t r = recv(fd, buf + got, sizeof buf - 1 - got, 0);
        if (r == 0 || (r < 0 && errno == ECONNRESET))
            return got ? -2 : 0;
        if (r < 0)
            return -1;
        got += (size_t)r;
    }
    buf[got] = '\0';
    int code = 0;
    return sscanf(buf, "HTTP/1.%*d %d", &code) == 1 ? code : -2;
}

/* 404 / 405 / 413 come back on the headers alone: no body byte is sent, and
 * the answer does not wait for one. */
Test(callbacks, refuses_before_the_body, .timeout = 60)
{
    struct recv r;
    recv_start(&r, NULL);
    static const struct {
        const char *req;
        int want;
    } cases[] = {
        { "POST /cb/kie/b/j HTTP/1.1\r\nHost: t\r\nContent-Length: 50000000\r\n\r\n", 413 },
        { "POST /cb/replicate/3/j HTTP/1.1\r\nHost: t\r\nContent-Length: 1048577\r\n\r\n", 413 },
        { "GET /cb/kie/b/j HTTP/1.1\r\nHost: t\r\nContent-Length: 5000\r\n\r\n", 405 },
        { "PUT /cb/kie/b/j HTTP/1.1\r\nHost: t\r\nContent-Length: 5000\r\n\r\n", 405 },
        { "POST /cb/nobody/b/j HTTP/1.1\r\nHost: t\r\nContent-Length: 5000\r\n\r\n", 404 },
        { "POST /other HTTP/1.1\r\nHost: t\r\nContent-Length: 5000\r\n\r\n", 404 },
        { "POST /cb/kie/x1/j HTTP/1.1\r\nHost: t\r\nContent-Length: 5000\r\n\r\n", 404 },
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        int fd = raw_connect(r.port);
        int got = raw_status(fd, cases[i].req);
        cr_assert_eq(got, cases[i].want, "case %zu: got %d (-1 = no answer without the body)", i,
                     got);
        close(fd);
    }
    cr_assert_eq(r.events, 0);
    recv_stop(&r);
}

/* One address holds at most max_connections_per_ip connections; the next
 * is closed unanswered, and a slot comes back when one closes. */
Test(callbacks, per_ip_connection_limit, .timeout = 60)
{
    struct recv r;
    recv_start(&r, "max_connections = 8; max_connections_per_ip = 3;");
    const char *req = "POST /cb/kie/b/j HTTP/1.1\r\nHost: t\r\nContent-Length: 8\r\n\r\nnot json";
    int held[3];
    for (int i = 0; i < 3; i++) {
        held[i] = raw_connect(r.port);
        cr_assert_eq(send(held[i], "POST /cb/kie/b/j HTTP/1.1\r\n", 27, MSG_NOSIGNAL),
                     27); /* and no more */
    }
    int fd = raw_connect(r.port);
    int got = raw_status(fd, req);
    close(fd);
    cr_assert_eq(got, 0, "a 4th connection from one address was served (%d)", got);
    close(held[0]);
    /* The slot frees once the server has seen the close; its idle timeout
     * (15 s) bounds that in any case. */
    int i = 0;
    for (; i < 1000 && got != 400; i++) {
        sy_sleep_ms(20);
        fd = raw_connect(r.port);
        got = raw_status(fd, req);
        close(fd);
    }
    cr_log_info("a slot after %d ms", i * 20);
    cr_assert_eq(got, 400, "no slot after one connection closed (last answer %d)", got);
    close(held[1]);
    close(held[2]);
    recv_stop(&r);
}

static long post_kie_unsigned(int port, int i)
{
    char body[160];
    snprintf(body, sizeof body,
             "{\"code\":200,\"data\":{\"taskId\":\"t%d\",\"state\":\"success\"}}", i);
    return sy_http_post(port, "/cb/kie/b/j", body, NULL);
}

/* The queue to the loop is bounded: with the loop not running, the event
 * after CB_MAX_QUEUED (1024) is answered 503 and not remembered, so the
 * provider's retry is taken once the loop has drained the queue. */
Test(callbacks, queue_bound_answers_503, .timeout = 120)
{
    struct recv r;
    recv_start(&r, NULL);
    const int Q = 1024;
    for (int i = 0; i < Q; i++)
        cr_assert_eq(post_kie_unsigned(r.port, i), 200, "event %d", i);
    cr_assert_eq(post_kie_unsigned(r.port, Q), 503, "the queue took more than %d events", Q);
    cr_assert_eq(r.events, 0);
    for (int i = 0; i < 100 && r.events < Q; i++)
        uv_run(&r.uv, UV_RUN_NOWAIT);
    cr_assert_eq(r.events, Q);
    cr_assert_eq(post_kie_unsigned(r.port, Q), 200, "the refused event was remembered as seen");
    cr_assert_eq(post_kie_unsigned(r.port, Q), 200, "a duplicate is answered 200 too");
    for (int i = 0; i < 100 && r.events < Q + 1; i++)
        uv_run(&r.uv, UV_RUN_NOWAIT);
    cr_assert_eq(r.events, Q + 1, "the duplicate was queued");
    recv_stop(&r);
}

/* A handoff record whose body or job id holds \u0000 is not an envelope:
 * body_len must always match the buffer. */
Test(callbacks, envelope_with_nul_refused)
{
    static const char *const bad[] = {
        "{\"provider\":\"replicate\",\"job\":\"j\",\"task_id\":\"t\",\"partition\":1,\"event\":\"{}\\u0000{\\\"x\\\":1}\"}",
        "{\"provider\":\"replicate\",\"job\":\"j\\u0000k\",\"task_id\":\"t\",\"partition\":1,\"event\":\"{}\"}",
        "{\"provider\":\"replicate\",\"job\":\"j\",\"task_id\":\"t\\u0000\",\"partition\":1,\"event\":\"{}\"}",
        "{\"provider\":\"replicate\",\"job\":\"j\",\"task_id\":\"t\",\"partition\":1,\"event\":\"{}\",\"wh_sig\":\"v1,\\u0000\"}",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        struct cbtopic_event ev;
        int rc = cbtopic_envelope_decode(bad[i], strlen(bad[i]), &ev);
        if (rc == SY_OK)
            cbtopic_event_cleanup(&ev);
        cr_assert_eq(rc, SY_ERR, "case %zu accepted", i);
        cr_assert_null(ev.body);
    }
    const char good[] =
            "{\"provider\":\"replicate\",\"job\":\"j\",\"task_id\":\"t\",\"partition\":1,\"event\":\"{}\"}";
    struct cbtopic_event ev;
    cr_assert_eq(cbtopic_envelope_decode(good, strlen(good), &ev), SY_OK);
    cr_assert_eq(ev.body_len, strlen(ev.body));
    cr_assert_eq(ev.body_trusted, 0, "an envelope alone is never trusted");
    cbtopic_event_cleanup(&ev);
}

/* An envelope stays under the cap (the body is left out past it, and the
 * owner polls), and '/' is not escaped. */
Test(callbacks, envelope_size_capped)
{
    size_t n = 200 * 1024;
    char *body = malloc(n + 1);
    cr_assert_not_null(body);
    for (size_t i = 0; i < n; i++)
        body[i] = i % 2 ? '/' : '\x01'; /* \x01 becomes \u0001: 6 bytes */
    body[n] = '\0';
    struct cbtopic_event ev = { .provider = "replicate",
                                .partition = 0,
                                .job_id = strdup("j"),
                                .task_id = "t",
                                .body = body,
                                .body_len = n,
                                .body_trusted = 1 };
    size_t len = 0;
    char *env = cbtopic_envelope_encode(&ev, &len);
    cr_assert_not_null(env);
    cr_assert_leq(len, CBTOPIC_MAX_ENVELOPE);
    struct cbtopic_event back;
    cr_assert_eq(cbtopic_envelope_decode(env, len, &back), SY_OK);
    cr_assert_eq(back.body_len, 0, "the body was carried over the cap");
    cbtopic_event_cleanup(&back);
    free(env);
    ev.body[0] = '/';
    ev.body[1] = '\0';
    ev.body_len = 1;
    env = cbtopic_envelope_encode(&ev, &len);
    cr_assert_not_null(strstr(env, "\"event\":\"/\""), "%s", env);
    free(env);
    cbtopic_event_cleanup(&ev);
}

/* KIE dedupe keys on (taskId, timestamp, signature), never on body fields:
 * one signature replayed with other `state` strings is one event. */
Test(callbacks, kie_dedupe_ignores_the_body, .timeout = 60)
{
    setenv("SYTEST_CB_HMAC", HMAC_KEY, 1);
    struct recv r;
    recv_start(&r, "kie_hmac_key_env = \"SYTEST_CB_HMAC\";");
    long long ts = (long long)(sy_wall_ms() / 1000);
    char msg[128], sig[64], h1[64], h2[128], body[256];
    snprintf(msg, sizeof msg, "task-d.%lld", ts);
    cr_assert_eq(webhook_sign(HMAC_KEY, strlen(HMAC_KEY), msg, strlen(msg), sig, sizeof sig),
                 SY_OK);
    snprintf(h1, sizeof h1, "X-Webhook-Timestamp: %lld", ts);
    snprintf(h2, sizeof h2, "X-Webhook-Signature: %s", sig);
    const char *hdrs[] = { h1, h2, NULL };
    static const char *const states[] = { "success", "fail", "x1", "x2", "generating" };
    for (size_t i = 0; i < sizeof states / sizeof states[0]; i++) {
        snprintf(body, sizeof body,
                 "{\"code\":200,\"data\":{\"taskId\":\"task-d\",\"state\":\"%s\"}}", states[i]);
        cr_assert_eq(sy_http_post(r.port, "/cb/kie/b/j", body, hdrs), 200);
    }
    for (int i = 0; i < 100 && r.events < 1; i++)
        uv_run(&r.uv, UV_RUN_NOWAIT);
    uv_run(&r.uv, UV_RUN_NOWAIT);
    cr_assert_eq(r.events, 1, "%d events from one signature", r.events);
    recv_stop(&r);
}

static void no_handoff(void *ud, const rd_kafka_message_t *m)
{
    (void)ud;
    (void)m;
}

/* Handoffs have a budget of their own: with no broker to deliver to, the
 * 1001st event queued (or the one past 16 MiB) is refused with SY_AGAIN
 * instead of growing a queue that results share. */
Test(callbacks, handoff_budget, .timeout = 60)
{
    char text[768], err[512] = "";
    setenv("SYTEST_RECV_KEY", "recv-test-key", 1);
    snprintf(
            text, sizeof text,
            "providers = ( { name = \"kie\"; type = \"kie\"; priority = 1; base_url = \"http://127.0.0.1:1\";"
            " api_key_env = \"SYTEST_RECV_KEY\"; } );\n"
            "kafka = { brokers = \"127.0.0.1:%d\"; properties = { socket_connection_setup_timeout_ms = \"1000\"; }; };\n",
            sy_free_port());
    struct conf *c = conf_load_string(text, "budget.conf", err, sizeof err);
    cr_assert_not_null(c, "%s", err);
    uv_loop_t uv;
    cr_assert_eq(uv_loop_init(&uv), 0);
    struct cbtopic *t = cbtopic_new(&uv, c, no_handoff, NULL, err, sizeof err);
    cr_assert_not_null(t, "%s", err);
    static char small[100], big[200 * 1024];
    memset(small, 'a', sizeof small);
    memset(big, 'b', sizeof big);
    int ok = 0, rc;
    while ((rc = cbtopic_send(t, 0, "k", 1, small, sizeof small, err, sizeof err)) == SY_OK &&
           ok < 5000)
        ok++;
    cr_assert_eq(rc, SY_AGAIN, "%s", err);
    cr_assert_eq(ok, 1000, "%d small handoffs queued", ok);
    cbtopic_close(t);
    uv_run(&uv, UV_RUN_DEFAULT);

    t = cbtopic_new(&uv, c, no_handoff, NULL, err, sizeof err);
    cr_assert_not_null(t, "%s", err);
    ok = 0;
    while ((rc = cbtopic_send(t, 0, "k", 1, big, sizeof big, err, sizeof err)) == SY_OK &&
           ok < 5000)
        ok++;
    cr_assert_eq(rc, SY_AGAIN, "%s", err);
    cr_assert(ok >= 70 && ok <= 82, "%d big handoffs queued (16 MiB / 200 KiB = 81)", ok);
    cbtopic_close(t);
    uv_run(&uv, UV_RUN_DEFAULT);
    cr_assert_eq(uv_loop_close(&uv), 0);
    conf_free(c);
}
