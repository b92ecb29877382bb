/* test_loop.c — worker/loop.c without a provider: which curl debug lines are
 * redacted (the pure predicate, on the exact forms curl prints), and that a
 * request curl refuses to start never gets its failure callback inside
 * another request's loop_cancel (it comes later, from the loop).
 *
 * curl_multi_add_handle is interposed here (this executable's definition wins
 * over libcurl's for the statically linked engine) so the test can make curl
 * refuse a transfer on demand; otherwise it forwards to libcurl's. So is
 * epoll_ctl, to count what watching a reused connection costs. A
 * pooled transfer is checked against fakeprov: it starts clean each time;
 * a cached connection that dies (closed by the server, or by curl to make
 * room) is replaced cleanly. */
#include <arpa/inet.h>
#include <dlfcn.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <criterion/criterion.h>
#include <curl/curl.h>
#include <uv.h>

#include "worker/loop.h"
#include "sytest.h"

static int n_epoll_ctl; /* epoll_ctl calls, the loop's and libuv's */

int epoll_ctl(int epfd, int op, int fd, struct epoll_event *ev)
{
    typedef int (*ctl_fn)(int, int, int, struct epoll_event *);
    static ctl_fn real;
    if (!real) {
        void *sym = dlsym(RTLD_NEXT, "epoll_ctl");
        cr_assert_not_null(sym, "libc's epoll_ctl not found");
        memcpy(&real, &sym, sizeof real);
    }
    n_epoll_ctl++;
    return real(epfd, op, fd, ev);
}

static int fail_add; /* when set, curl_multi_add_handle refuses */
static int n_added;  /* transfers handed to curl */

CURLMcode curl_multi_add_handle(CURLM *m, CURL *e)
{
    typedef CURLMcode (*add_fn)(CURLM *, CURL *);
    static add_fn real;
    if (!real) {
        void *sym = dlsym(RTLD_NEXT, "curl_multi_add_handle");
        cr_assert_not_null(sym, "libcurl's curl_multi_add_handle not found");
        memcpy(&real, &sym, sizeof real);
    }
    if (fail_add)
        return CURLM_OUT_OF_MEMORY;
    n_added++;
    return real(m, e);
}

/* ---- M-1: redaction predicate ---- */

struct line_case {
    const char *line;
    int secret;
};

Test(loop_redact, credential_lines_in_every_form)
{
    static const struct line_case cases[] = {
        /* plain header lines (HTTP/1.1 "> " output) */
        { "Authorization: Bearer sk-live-123", 1 },
        { "authorization: Bearer sk-live-123", 1 },
        { "Proxy-Authorization: Basic dXNlcjpwYXNz", 1 },
        { "Cookie: session=abc", 1 },
        { "Set-Cookie: session=abc; Path=/", 1 },
        /* curl 7.86-8.0 (Debian 12's 7.88.1), lib/h2h3.c */
        { "h2h3 [authorization: Bearer sk-live-123]", 1 },
        { "h2h3 [cookie: session=abc]", 1 },
        { "h2h3 [proxy-authorization: Basic dXNlcjpwYXNz]", 1 },
        /* the older/later "h2 [" form */
        { "h2 [authorization: Bearer sk-live-123]", 1 },
        { "h2 [Cookie: a=b]", 1 },
        /* curl >= 8.1, lib/http2.c and the HTTP/3 backends */
        { "[HTTP/2] [1] [authorization: Bearer sk-live-123]", 1 },
        { "[HTTP/2] [13] [AUTHORIZATION: Bearer sk-live-123]", 1 },
        { "[HTTP/3] [0] [authorization: Bearer sk-live-123]", 1 },
        { "[HTTP/3] [4] [cookie: session=abc]", 1 },
        { "[HTTP/3] [4] [Proxy-Authorization: Basic x]", 1 },
        /* not credentials: must stay in the log */
        { "h2h3 [:method: POST]", 0 },
        { "[HTTP/2] [1] [:authority: api.kie.ai]", 0 },
        { "[HTTP/2] [1] [content-type: application/json]", 0 },
        { "Content-Type: application/json", 0 },
        { "Connected to api.replicate.com (10.0.0.1) port 443 (#0)", 0 },
        { "Using HTTP2, server supports multiplexing", 0 },
        { "", 0 },
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const char *ln = cases[i].line;
        cr_expect_eq(loop_debug_line_secret(ln, strlen(ln)), cases[i].secret, "\"%s\": want %s", ln,
                     cases[i].secret ? "redacted" : "kept");
    }
}

Test(loop_redact, bounded_by_len)
{
    /* the mark lies past len: not looked at (curl's buffers are not NUL-terminated) */
    const char *s = "h2h3 [authorization: Bearer x]";
    cr_assert_eq(loop_debug_line_secret(s, 10), 0);
    cr_assert_eq(loop_debug_line_secret(s, strlen(s)), 1);
}

/* ---- L-12: no re-entrant failure callbacks ---- */

/* loop_free, then run uv until the loop's handles are closed. */
static void free_and_run(uv_loop_t *uv, struct loop *l)
{
    loop_free(l);
    uv_run(uv, UV_RUN_DEFAULT);
}

static void close_uv(uv_loop_t *uv)
{
    cr_assert_eq(uv_loop_close(uv), 0, "a handle leaked");
}

struct probe {
    int calls;
    int inside_cancel; /* calls that ran while loop_cancel was on the stack */
    int failure;
    int *cancelling;
};

static void on_resp(void *ud, const struct loop_response *resp)
{
    struct probe *p = ud;
    p->calls++;
    p->inside_cancel += *p->cancelling;
    p->failure = (int)resp->failure;
}

static struct loop_req *send_get(struct loop *l, struct probe *p)
{
    struct prov_request req = { .method = PROV_GET, .url = strdup("http://127.0.0.1:9/never") };
    struct loop_send s = { .connect_timeout_ms = 5000, .total_timeout_ms = 5000 };
    struct loop_req *r = loop_http(l, &req, &s, on_resp, p);
    cr_assert_not_null(r);
    return r;
}

/* One request in curl (A), one waiting for the only slot (B); then A is
 * cancelled while curl refuses every transfer, so B is refused when A's slot
 * is handed over. The loop_cancel(A) call is marked in `cancelling`. */
struct two {
    uv_loop_t uv;
    struct loop *l;
    struct loop_req *a, *b;
    struct probe pa, pb;
    int cancelling;
};

static void cancel_a_with_b_refused(struct two *t)
{
    char err[256];
    struct loop_opts o = { .max_host_connections = 1, .max_in_curl = 1 };
    cr_assert_eq(uv_loop_init(&t->uv), 0);
    t->l = loop_new(&t->uv, &o, err, sizeof err);
    cr_assert_not_null(t->l, "%s", err);
    t->pa.cancelling = t->pb.cancelling = &t->cancelling;
    t->a = send_get(t->l, &t->pa);
    t->b = send_get(t->l, &t->pb);
    cr_assert_eq(loop_active(t->l), 2);
    fail_add = 1;
    t->cancelling = 1;
    loop_cancel(t->a);
    t->cancelling = 0;
    fail_add = 0;
}

static void finish(struct two *t)
{
    free_and_run(&t->uv, t->l);
    close_uv(&t->uv);
}

Test(loop_defer, refused_request_fails_later_not_inside_cancel, .timeout = 20)
{
    struct two t = { 0 };
    cancel_a_with_b_refused(&t);
    cr_assert_eq(t.pb.inside_cancel, 0, "B's failure callback ran inside loop_cancel(A)");
    cr_assert_eq(t.pb.calls, 0, "B's failure callback ran inside loop_cancel(A)");
    cr_assert_eq(loop_active(t.l), 1, "B counts as active until its failure is delivered");
    for (int i = 0; i < 100 && t.pb.calls == 0; i++)
        uv_run(&t.uv, UV_RUN_ONCE);
    cr_assert_eq(t.pb.calls, 1);
    cr_assert_eq(t.pb.failure, PROV_C_TRANSPORT);
    cr_assert_eq(t.pa.calls, 0, "a cancelled request is never called back");
    cr_assert_eq(loop_active(t.l), 0);
    finish(&t);
}

Test(loop_defer, cancelling_a_refused_request_drops_its_failure, .timeout = 20)
{
    struct two t = { 0 };
    cancel_a_with_b_refused(&t);
    loop_cancel(t.b); /* its failure is pending: the handle is still valid */
    cr_assert_eq(loop_active(t.l), 0);
    uv_run(&t.uv, UV_RUN_NOWAIT);
    uv_run(&t.uv, UV_RUN_NOWAIT);
    cr_assert_eq(t.pa.calls + t.pb.calls, 0);
    finish(&t);
}

Test(loop_defer, free_with_a_pending_failure_is_clean, .timeout = 20)
{
    struct two t = { 0 };
    cancel_a_with_b_refused(&t);
    finish(&t); /* loop_free drops B's pending failure without calling it */
    cr_assert_eq(t.pa.calls + t.pb.calls, 0);
}

/* ---- issue 12: transfers wait in the loop, not inside curl ---- */

static void on_resp_count(void *ud, const struct loop_response *resp)
{
    (void)resp;
    ++*(int *)ud;
}

static void send_to(struct loop *l, const char *url, int *calls)
{
    struct prov_request req = { .method = PROV_GET, .url = strdup(url) };
    struct loop_send s = { .connect_timeout_ms = 5000, .total_timeout_ms = 5000 };
    cr_assert_not_null(loop_http(l, &req, &s, on_resp_count, calls));
}

/* A plain-HTTP origin gets at most max_host_connections transfers in curl
 * (a transfer queued inside curl behind the cap re-ran its connect step on
 * every pass: CPU per job grew with jobs in flight); the rest wait in the
 * loop. Another origin is not held up behind it; an HTTPS origin (HTTP/2 may
 * multiplex) keeps the loop-wide cap. Every request still gets its callback. */
Test(loop_origin, plain_http_origin_capped_at_its_connections, .timeout = 30)
{
    uv_loop_t uv;
    char err[256];
    int calls = 0;
    struct loop_opts o = { .max_host_connections = 2 }; /* loop-wide cap: the cache, 8 */
    cr_assert_eq(uv_loop_init(&uv), 0);
    struct loop *l = loop_new(&uv, &o, err, sizeof err);
    cr_assert_not_null(l, "%s", err);
    n_added = 0;
    for (int i = 0; i < 5; i++)
        send_to(l, "http://127.0.0.1:9/a", &calls);
    cr_assert_eq(n_added, 2, "%d transfers in curl for one plain-HTTP origin with 2 connections",
                 n_added);
    send_to(l, "http://127.0.0.1:10/b", &calls);
    cr_assert_eq(n_added, 3, "a second origin waited behind the first");
    for (int i = 0; i < 4; i++)
        send_to(l, "https://127.0.0.1:11/c", &calls);
    cr_assert_eq(n_added, 7, "an HTTPS origin was held to its connection count");
    cr_assert_eq(loop_active(l), 10);
    for (int i = 0; i < 2000 && calls < 10; i++)
        uv_run(&uv, UV_RUN_ONCE);
    cr_assert_eq(calls, 10, "%d of 10 callbacks (nothing listens: each fails)", calls);
    cr_assert_eq(n_added, 10);
    cr_assert_eq(loop_active(l), 0);
    free_and_run(&uv, l);
    close_uv(&uv);
}

/* ---- issue 12: a transfer is reused; one reply never leaks into the next ---- */

struct got {
    int calls;
    long status;
    int has_retry_after;
    char retry_after[16];
    char body[64];
    size_t body_len;
    enum prov_class failure;
    char error[128];
};

static void on_got(void *ud, const struct loop_response *resp)
{
    struct got *g = ud;
    g->calls++;
    g->status = resp->reply.http_status;
    g->has_retry_after = resp->reply.retry_after != NULL;
    snprintf(g->retry_after, sizeof g->retry_after, "%s",
             resp->reply.retry_after ? resp->reply.retry_after : "");
    snprintf(g->body, sizeof g->body, "%.*s", (int)resp->reply.body_len, resp->reply.body);
    g->body_len = resp->reply.body_len;
    g->failure = resp->failure;
    snprintf(g->error, sizeof g->error, "%s", resp->error);
}

/* Send one request (through proxy unless NULL) and run the loop until its
 * callback. */
static void one_via(uv_loop_t *uv, struct loop *l, int port, int method, const char *path,
                    const char *body, const char *proxy, struct got *g)
{
    char url[128];
    snprintf(url, sizeof url, "http://127.0.0.1:%d%s", port, path);
    struct prov_request req = { .method = method,
                                .url = strdup(url),
                                .body = body ? strdup(body) : NULL };
    if (body)
        req.headers[req.n_headers++] = strdup("Content-Type: application/json");
    struct loop_send s = { .bearer = "test-kie-key",
                           .proxy = proxy,
                           .connect_timeout_ms = 5000,
                           .total_timeout_ms = 5000 };
    memset(g, 0, sizeof *g);
    cr_assert_not_null(loop_http(l, &req, &s, on_got, g));
    for (int i = 0; i < 2000 && g->calls == 0; i++)
        uv_run(uv, UV_RUN_ONCE);
    cr_assert_eq(g->calls, 1);
}

static void one(uv_loop_t *uv, struct loop *l, int port, int method, const char *path,
                const char *body, struct got *g)
{
    one_via(uv, l, port, method, path, body, NULL, g);
}

/* A loop of one transfer at a time (max_host_connections and max_in_curl
 * 1) on uv, already initialised; max_body 0 = the default, max_total 0 =
 * no total cap. */
static struct loop *one_at_a_time(uv_loop_t *uv, size_t max_body, int max_total)
{
    char err[256];
    struct loop_opts o = { .max_host_connections = 1,
                           .max_total_connections = max_total,
                           .max_in_curl = 1,
                           .max_body_bytes = max_body };
    struct loop *l = loop_new(uv, &o, err, sizeof err);
    cr_assert_not_null(l, "%s", err);
    return l;
}

/* One transfer at a time (max_in_curl 1), so each request reuses the last
 * one's easy handle and reply buffer: a 429 with Retry-After, then a reply
 * without it, then a reply over max_body_bytes, then a small one again. */
Test(loop_xfer, a_reused_transfer_starts_clean, .timeout = 30)
{
    struct fakeprov fp;
    fp_start(&fp, NULL);
    uv_loop_t uv;
    cr_assert_eq(uv_loop_init(&uv), 0);
    struct loop *l = one_at_a_time(&uv, 200, 0);
    struct got g;
    const char *limited =
            "{\"model\":\"google/nano-banana\",\"input\":{\"prompt\":\"a room [fault:429]\"}}";

    one(&uv, l, fp.port, PROV_POST, "/api/v1/jobs/createTask", limited, &g);
    cr_assert_eq(g.status, 429, "%ld %s", g.status, g.error);
    cr_assert(g.has_retry_after);
    cr_assert_str_eq(g.retry_after, "1");
    cr_assert_not_null(strstr(g.body, "Rate limit"), "%s", g.body);

    one(&uv, l, fp.port, PROV_GET, "/api/v1/jobs/recordInfo?taskId=nope", NULL, &g);
    cr_assert_eq(g.failure, PROV_C_NONE, "%s", g.error);
    cr_assert_eq(g.has_retry_after, 0, "the last reply's Retry-After leaked: %s", g.retry_after);
    cr_assert_eq(strstr(g.body, "Rate limit"), NULL, "%s", g.body);
    size_t small_len = g.body_len;
    cr_assert_gt(small_len, 0);

    one(&uv, l, fp.port, PROV_GET, "/_stats", NULL, &g); /* a few KiB: over max_body_bytes */
    cr_assert_eq(g.failure, PROV_C_TRANSPORT);
    cr_assert_str_eq(g.error, "reply body larger than worker.max_body_bytes");

    one(&uv, l, fp.port, PROV_GET, "/api/v1/jobs/recordInfo?taskId=nope", NULL, &g);
    cr_assert_eq(g.failure, PROV_C_NONE, "the last reply's too_large leaked: %s", g.error);
    cr_assert_eq(g.body_len, small_len, "the last reply's bytes leaked into this one");
    cr_assert_str_eq(g.error, "");

    free_and_run(&uv, l);
    close_uv(&uv);
    fp_stop(&fp);
}

/* The loop reads the proxy variables once, at loop_new, and skips curl's
 * per-transfer lookup only when none is set: with http_proxy set, requests
 * without a proxy of their own go through it (fakeprov plays the proxy: a
 * 404); with NO_PROXY naming the host too they go direct, and so does a
 * request with a proxy of its own, as curl decides. */
Test(loop_xfer, proxy_variables_still_apply, .timeout = 30)
{
    struct fakeprov fp;
    fp_start(&fp, NULL);
    uv_loop_t uv;
    cr_assert_eq(uv_loop_init(&uv), 0);
    struct got g;
    char proxy[64];
    snprintf(proxy, sizeof proxy, "http://127.0.0.1:%d", fp.port);

    setenv("http_proxy", proxy, 1);
    struct loop *l = one_at_a_time(&uv, 0, 0);
    one(&uv, l, fp.port, PROV_GET, "/_stats", NULL, &g);
    cr_assert_eq(g.status, 404, "http_proxy was not applied: %ld %s", g.status, g.body);
    free_and_run(&uv, l);

    setenv("NO_PROXY", "127.0.0.1", 1);
    l = one_at_a_time(&uv, 0, 0);
    one(&uv, l, fp.port, PROV_GET, "/_stats", NULL, &g);
    cr_assert_eq(g.status, 200, "NO_PROXY was not applied: %ld %s", g.status, g.body);
    one_via(&uv, l, fp.port, PROV_GET, "/_stats", NULL, proxy, &g);
    cr_assert_eq(g.status, 200, "NO_PROXY did not apply to a provider's proxy: %ld %s", g.status,
                 g.body);
    free_and_run(&uv, l);
    unsetenv("http_proxy");
    unsetenv("NO_PROXY");
    close_uv(&uv);
    fp_stop(&fp);
}

/* The easy handle is recycled without curl_easy_reset, so each request must
 * set every option it depends on. fakeprov serves GET /_stats only: a POST
 * there, or a request that went through a proxy (which fakeprov itself
 * plays: it gets the absolute URL), is a 404. One transfer at a time. */
Test(loop_xfer, a_reused_handle_keeps_no_method_or_proxy, .timeout = 30)
{
    struct fakeprov fp;
    fp_start(&fp, NULL);
    uv_loop_t uv;
    cr_assert_eq(uv_loop_init(&uv), 0);
    struct loop *l = one_at_a_time(&uv, 0, 0);
    struct got g;
    char proxy[64];
    snprintf(proxy, sizeof proxy, "http://127.0.0.1:%d", fp.port);

    one(&uv, l, fp.port, PROV_GET, "/_stats", NULL, &g);
    cr_assert_eq(g.status, 200, "%ld %s %s", g.status, g.error, g.body);
    one(&uv, l, fp.port, PROV_POST, "/_stats", "{\"a\":1}", &g);
    cr_assert_eq(g.status, 404, "a POST was not sent as a POST: %ld %s", g.status, g.body);
    one(&uv, l, fp.port, PROV_GET, "/_stats", NULL, &g);
    cr_assert_eq(g.status, 200, "the last POST leaked into this GET: %ld %s", g.status, g.body);
    cr_assert_eq(g.body[0], '{', "%s", g.body);

    one_via(&uv, l, fp.port, PROV_GET, "/_stats", NULL, proxy, &g);
    cr_assert_eq(g.failure, PROV_C_NONE, "%s", g.error);
    cr_assert_eq(g.status, 404, "the proxy was not used: %ld %s", g.status, g.body);
    one(&uv, l, fp.port, PROV_GET, "/_stats", NULL, &g);
    cr_assert_eq(g.status, 200, "the last request's proxy leaked into this one: %ld %s", g.status,
                 g.body);

    free_and_run(&uv, l);
    close_uv(&uv);
    fp_stop(&fp);
}

/* ---- cached connections that die: each request still completes ---- */

/* A small HTTP server on its own thread, one connection at a time, three in
 * all: each request gets "ok" with keep-alive; with close_after set the
 * server then closes the connection (curl still caches it as idle), else it
 * serves the connection until the client closes it. */
struct tiny {
    int lfd, port, conns, close_after;
    int delay_ms; /* before each reply */
    pthread_t th;
};

static void *tiny_main(void *ud)
{
    struct tiny *s = ud;
    for (int i = 0; i < 3; i++) {
        int fd = accept(s->lfd, NULL, NULL);
        if (fd < 0)
            break;
        s->conns++;
        char req[4096];
        size_t got = 0;
        for (;;) {
            ssize_t n = recv(fd, req + got, sizeof req - 1 - got, 0);
            if (n <= 0)
                break;
            got += (size_t)n;
            req[got] = '\0';
            if (!strstr(req, "\r\n\r\n") && got < sizeof req - 1)
                continue;
            static const char reply[] = "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok";
            if (s->delay_ms)
                sy_sleep_ms(s->delay_ms);
            if (send(fd, reply, sizeof reply - 1, MSG_NOSIGNAL) < 0 || s->close_after)
                break;
            got = 0;
        }
        close(fd); /* no "Connection: close" was sent: curl had cached it */
    }
    return NULL;
}

static void tiny_start(struct tiny *s, int close_after, int delay_ms)
{
    memset(s, 0, sizeof *s);
    s->close_after = close_after;
    s->delay_ms = delay_ms;
    s->lfd = socket(AF_INET, SOCK_STREAM, 0);
    cr_assert_geq(s->lfd, 0);
    struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
    socklen_t alen = sizeof a;
    cr_assert_eq(bind(s->lfd, (struct sockaddr *)&a, sizeof a), 0);
    cr_assert_eq(listen(s->lfd, 4), 0);
    cr_assert_eq(getsockname(s->lfd, (struct sockaddr *)&a, &alen), 0);
    s->port = ntohs(a.sin_port);
    cr_assert_eq(pthread_create(&s->th, NULL, tiny_main, s), 0);
}

static void tiny_stop(struct tiny *s)
{
    shutdown(s->lfd, SHUT_RDWR); /* wakes a thread still in accept */
    pthread_join(s->th, NULL);
    close(s->lfd);
}

static void get_ok(uv_loop_t *uv, struct loop *l, int port, int i)
{
    struct got g;
    one(uv, l, port, PROV_GET, "/x", NULL, &g);
    cr_assert_eq(g.failure, PROV_C_NONE, "request %d: %s", i, g.error);
    cr_assert_eq(g.status, 200, "request %d", i);
    cr_assert_str_eq(g.body, "ok");
    for (int k = 0; k < 20; k++) { /* let a server's FIN reach an idle socket's watch */
        uv_run(uv, UV_RUN_NOWAIT);
        sy_sleep_ms(5);
    }
}

static struct loop *tiny_loop(uv_loop_t *uv, int max_total)
{
    cr_assert_eq(uv_loop_init(uv), 0);
    return one_at_a_time(uv, 0, max_total);
}

static void tiny_loop_free(uv_loop_t *uv, struct loop *l, uint64_t connects)
{
    struct loop_stats st;
    loop_get_stats(l, &st);
    cr_assert_eq(st.connects, connects, "%llu connections", (unsigned long long)st.connects);
    free_and_run(uv, l);
    close_uv(uv);
}

/* After each reply the server closes the connection while curl keeps it
 * cached: curl finds it dead when it would reuse it and opens a new one,
 * whose socket usually gets the old fd number and must be watched afresh. */
Test(loop_sock, server_closed_idle_connection, .timeout = 30)
{
    struct tiny s;
    tiny_start(&s, 1, 0);
    uv_loop_t uv;
    struct loop *l = tiny_loop(&uv, 0);
    for (int i = 0; i < 3; i++)
        get_ok(&uv, l, s.port, i);
    tiny_loop_free(&uv, l, 3);
    tiny_stop(&s);
    cr_assert_eq(s.conns, 3);
}

/* One connection in curl's cache (max_total_connections 1): a request to B
 * makes curl close A's idle connection, and B's new socket gets that fd
 * number back (so does A's next one): every request completes on a
 * connection of its own, and no handle is left behind. */
Test(loop_sock, curl_closed_idle_connection_fd_reused, .timeout = 30)
{
    struct tiny a, b;
    tiny_start(&a, 0, 0);
    tiny_start(&b, 0, 0);
    uv_loop_t uv;
    struct loop *l = tiny_loop(&uv, 1);
    get_ok(&uv, l, a.port, 0);
    get_ok(&uv, l, b.port, 1);
    get_ok(&uv, l, a.port, 2);
    get_ok(&uv, l, b.port, 3);
    tiny_loop_free(&uv, l, 4);
    tiny_stop(&a);
    tiny_stop(&b);
    cr_assert_eq(a.conns, 2);
    cr_assert_eq(b.conns, 2);
}

/* Requests one after another on one keep-alive connection, each reply a
 * few ms late so curl must wait for it (not read it at once after sending):
 * curl lets go of the socket when each transfer ends and asks for it again
 * for the next. The socket stays in the loop's epoll set across that, so
 * the connection's later requests cost no epoll_ctl at all (a uv_poll_t per
 * socket cost six each). */
Test(loop_sock, a_reused_connection_is_not_re_registered, .timeout = 30)
{
    struct tiny s;
    tiny_start(&s, 0, 3);
    uv_loop_t uv;
    struct loop *l = tiny_loop(&uv, 0);
    struct got g;
    one(&uv, l, s.port, PROV_GET, "/x", NULL, &g); /* connects; the socket joins the set */
    cr_assert_eq(g.status, 200, "%s", g.error);
    n_epoll_ctl = 0;
    for (int i = 0; i < 10; i++) {
        one(&uv, l, s.port, PROV_GET, "/x", NULL, &g);
        cr_assert_eq(g.status, 200, "request %d: %s", i, g.error);
        cr_assert_str_eq(g.body, "ok");
    }
    cr_assert_eq(n_epoll_ctl, 0, "%d epoll_ctl calls for 10 requests on one connection",
                 n_epoll_ctl);
    tiny_loop_free(&uv, l, 1);
    tiny_stop(&s);
    cr_assert_eq(s.conns, 1);
}
