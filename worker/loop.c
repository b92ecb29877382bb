/* loop.c — libuv + curl_multi_socket_action glue (after curl's multi-uv.c).
 *
 * Three links tie curl to the application: CURLOPT_PRIVATE (easy → loop_req),
 * the socket set (loopsock.c: fd → what curl watches; it stands in for
 * curl_multi_assign and a uv_poll_t per socket, which cost six epoll_ctl
 * calls a request) and the callbacks' user pointers. The socket callback
 * only changes poll interest; the timer callback only re-arms one uv timer.
 * After the timer's curl_multi_socket_action, and after those of all the
 * sockets one wake-up found ready, the finished transfers are drained with
 * curl_multi_info_read and their completion callbacks run — outside any
 * curl callback, so they may add or remove transfers. (Draining once per
 * wake-up, not per socket, lets the requests those callbacks start go out
 * together on curl's next pass, as bare curl_multi_perform sends them: the
 * server wakes once for the lot.) Transfers (easy handle + buffers) are
 * recycled through a pool so connections (which live in the multi handle's
 * cache) and easy setup are reused.
 *
 * A request curl refuses to start when a slot frees up (start_pending) is
 * not answered on the spot: that may be inside loop_cancel, i.e. inside
 * another job's teardown. It goes on the `failed` list and its callback runs
 * from the `defer` timer (armed at 0 ms), as a loop callback of its own. */
#include "loop.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <curl/curl.h>

#include "core/sy.h"
#include "worker/loopsock.h"
#include "worker/loopxfer.h"

#define LOOP_MAX_HOSTS 64 /* distinct origins with a queue of their own; more share the last one */

/* One origin ("scheme://authority"): its transfers in curl and its FIFO. A
 * plain-HTTP origin gets at most max_host_connections transfers in curl, one
 * per connection it may open: a transfer queued inside curl behind the
 * connection cap costs curl work on every pass (it re-runs its connect
 * step), so it waits here instead. Over TLS (HTTP/2 may multiplex many
 * transfers on one connection) or through a proxy the cap is the loop's. */
struct loop_host {
    char *origin; /* NULL for the shared overflow bucket */
    size_t in_curl, cap;
    struct loop_req *pend_head, *pend_tail;
};

struct loop {
    uv_loop_t *uv;
    CURLM *multi;
    uv_timer_t timer;
    size_t max_body;
    char *user_agent;
    size_t active;              /* requests accepted: queued + in curl */
    size_t in_curl;             /* requests handed to curl */
    size_t max_in_curl;         /* more wait in the FIFO below */
    struct loop_req *free_reqs; /* recycled request structs (bounded) */
    size_t n_free_reqs;
    struct loopxfer_pool
            xfers;         /* recycled transfers with their easy handles (at most max_in_curl) */
    struct loop_req *live; /* doubly-linked list of requests in curl */
    struct loop_host *hosts[LOOP_MAX_HOSTS];
    size_t n_hosts;
    size_t host_cap;                        /* max_host_connections */
    size_t n_pending;                       /* requests in the hosts' FIFOs */
    struct loop_req *fail_head, *fail_tail; /* refused by curl, failure not yet delivered */
    uv_timer_t defer;                       /* delivers the failed list */
    int open_handles;                       /* timer, defer and the socket set's until closed */
    struct loop_stats stats;
    struct loopsock socks;
};

/* What a request needs to be started later; the rest (easy handle, reply
 * buffer, header captures, error text) is its transfer's, only while in curl. */
struct loop_req {
    struct loop *l;
    struct loop_xfer *x; /* only while in curl (and until recycled) */
    enum { REQ_LIVE = 0, REQ_QUEUED, REQ_FAILED } where; /* which list holds it */
    int method;
    struct loop_host *host;
    struct curl_slist *headers; /* one block (loopxfer_headers) */
    char *url;
    char *body;
    char *proxy;
    long connect_timeout_ms, total_timeout_ms;
    loop_http_fn cb;
    void *ud;
    struct loop_req *next, *prev;
};

static void drain(struct loop *l);

/* ---- libuv → curl ---- */

static void on_sock_ready(void *ud, curl_socket_t fd, int flags)
{
    struct loop *l = ud;
    int running;
    curl_multi_socket_action(l->multi, fd, flags, &running);
}

static void on_socks_done(void *ud)
{
    drain(ud);
}

static void on_timer(uv_timer_t *t)
{
    struct loop *l = t->data;
    int running;
    curl_multi_socket_action(l->multi, CURL_SOCKET_TIMEOUT, 0, &running);
    drain(l);
}

/* ---- curl → libuv ---- */

static int on_socket(CURL *easy, curl_socket_t s, int what, void *userp, void *socketp)
{
    (void)easy;
    (void)socketp;
    struct loop *l = userp;
    return loopsock_watch(&l->socks, s, what) == SY_OK ? 0 : -1;
}

static int on_curl_timer(CURLM *multi, long timeout_ms, void *userp)
{
    (void)multi;
    struct loop *l = userp;
    if (timeout_ms < 0)
        uv_timer_stop(&l->timer);
    else /* 0 is safe: libuv fires a zero timer on the next loop iteration, never re-entrantly from here */
        uv_timer_start(&l->timer, on_timer, (uint64_t)timeout_ms, 0);
    return 0;
}

/* ---- request lifecycle ----
 *
 * A request struct is small (what starts it: URL, headers, body, options);
 * a transfer is not (an easy handle, tens of KiB once used, a reply buffer,
 * header captures, an error buffer). A transfer (loopxfer.c) is attached only
 * while the request is in curl, at most max_in_curl at a time, and stays the
 * request's until recycle() so its reply outlives the callback; more requests
 * wait in a FIFO. So 100,000 jobs in flight cost 100,000 small structs. */

#define LOOP_MAX_FREE_REQS 1024

static void req_reset(struct loop_req *r)
{
    loopxfer_headers_free(r->headers); /* wiped: the Authorization line holds the API key */
    r->headers = NULL;
    free(r->url);
    r->url = NULL;
    free(r->body);
    r->body = NULL;
    free(r->proxy);
    r->proxy = NULL;
    if (r->x) {
        loopxfer_put(&r->l->xfers, r->x);
        r->x = NULL;
    }
    r->cb = NULL;
    r->ud = NULL;
}

static void list_unlink(struct loop_req **head, struct loop_req **tail, struct loop_req *r)
{
    if (r->prev)
        r->prev->next = r->next;
    else
        *head = r->next;
    if (r->next)
        r->next->prev = r->prev;
    else if (tail)
        *tail = r->prev;
    r->next = r->prev = NULL;
}

/* Take r off whichever list it is on; it no longer counts as active. */
static void detach(struct loop_req *r)
{
    struct loop *l = r->l;
    if (r->where == REQ_QUEUED) {
        list_unlink(&r->host->pend_head, &r->host->pend_tail, r);
        l->n_pending--;
    } else if (r->where == REQ_FAILED) {
        list_unlink(&l->fail_head, &l->fail_tail, r);
    } else {
        list_unlink(&l->live, NULL, r);
        curl_multi_remove_handle(l->multi, r->x->easy); /* the transfer stays r's until recycle() */
        l->in_curl--;
        r->host->in_curl--;
    }
    r->where = REQ_LIVE;
    l->active--;
}

static void recycle(struct loop_req *r)
{
    struct loop *l = r->l;
    req_reset(r);
    if (l->n_free_reqs >= LOOP_MAX_FREE_REQS) {
        free(r);
        return;
    }
    r->next = l->free_reqs;
    l->free_reqs = r;
    l->n_free_reqs++;
}

static struct loop_req *req_get(struct loop *l)
{
    struct loop_req *r = l->free_reqs;
    if (r) {
        l->free_reqs = r->next;
        l->n_free_reqs--;
        r->next = NULL;
        return r;
    }
    r = calloc(1, sizeof *r);
    if (r)
        r->l = l;
    return r;
}

static void list_append(struct loop_req **head, struct loop_req **tail, struct loop_req *r)
{
    r->prev = *tail;
    r->next = NULL;
    if (*tail)
        (*tail)->next = r;
    else
        *head = r;
    *tail = r;
}

static int req_start(struct loop *l, struct loop_req *r);

/* The defer timer: deliver the failures of requests curl refused. One at a
 * time from the head, so a callback may cancel or add any request. */
static void on_defer(uv_timer_t *t)
{
    struct loop *l = t->data;
    while (l->fail_head) {
        struct loop_req *r = l->fail_head;
        detach(r);
        struct loop_response resp = { .failure = PROV_C_TRANSPORT,
                                      .error = "could not start the transfer" };
        loop_http_fn cb = r->cb;
        void *ud = r->ud;
        recycle(r);
        cb(ud, &resp);
    }
}

static int host_has_room(const struct loop *l, const struct loop_host *h)
{
    return l->in_curl < l->max_in_curl && h->in_curl < h->cap;
}

/* Move waiting requests into curl while there is room, each origin's in
 * FIFO order, the origins in turn. Runs no callback. */
static void start_pending(struct loop *l)
{
    int moved = 1;
    while (l->n_pending > 0 && l->in_curl < l->max_in_curl && moved) {
        moved = 0;
        for (size_t i = 0; i < l->n_hosts && l->in_curl < l->max_in_curl; i++) {
            struct loop_host *h = l->hosts[i];
            if (!h->pend_head || !host_has_room(l, h))
                continue;
            struct loop_req *r = h->pend_head;
            list_unlink(&h->pend_head, &h->pend_tail, r);
            l->n_pending--;
            r->where = REQ_LIVE;
            moved = 1;
            if (req_start(l, r) != SY_OK) {
                /* curl refused it: a transport failure, delivered by on_defer. */
                r->where = REQ_FAILED;
                list_append(&l->fail_head, &l->fail_tail, r);
                uv_timer_start(&l->defer, on_defer, 0, 0);
            }
        }
    }
}

static void drain(struct loop *l)
{
    CURLMsg *msg;
    int left;
    while ((msg = curl_multi_info_read(l->multi, &left))) {
        if (msg->msg != CURLMSG_DONE)
            continue;
        CURL *easy = msg->easy_handle;
        CURLcode rc = msg->data.result;
        struct loop_req *r = NULL;
        curl_easy_getinfo(easy, CURLINFO_PRIVATE, (char **)&r);

        struct loop_xfer *x = r->x;
        struct loop_response resp;
        memset(&resp, 0, sizeof resp);
        resp.elapsed_ms = sy_now_ms() - x->start_ms;
        resp.error = "";
        long connects = 0;
        curl_easy_getinfo(easy, CURLINFO_NUM_CONNECTS, &connects);
        l->stats.connects += (uint64_t)connects;
        l->stats.requests++;
        if (rc == CURLE_OK) {
            curl_easy_getinfo(easy, CURLINFO_RESPONSE_CODE, &resp.reply.http_status);
            loopxfer_read_headers(x);
            resp.reply.body = x->buf && x->len ? x->buf : "";
            resp.reply.body_len = x->len;
            resp.reply.retry_after = x->retry_after[0] ? x->retry_after : NULL;
            resp.failure = PROV_C_NONE;
        } else if (rc == CURLE_OPERATION_TIMEDOUT) {
            resp.failure = PROV_C_TIMEOUT;
            resp.error = x->errbuf[0] ? x->errbuf : curl_easy_strerror(rc);
            l->stats.timeouts++;
        } else {
            resp.failure = PROV_C_TRANSPORT;
            resp.error = x->too_large   ? "reply body larger than worker.max_body_bytes"
                         : x->errbuf[0] ? x->errbuf
                                        : curl_easy_strerror(rc);
            l->stats.transport_errors++;
        }
        detach(r); /* r and its transfer's buffers stay valid until recycle() */
        loop_http_fn cb = r->cb;
        void *ud = r->ud;
        cb(ud, &resp);
        recycle(r);
    }
    start_pending(l);
}

/* Hand r to curl: attach a transfer and set every option. */
static int req_start(struct loop *l, struct loop_req *r)
{
    struct loop_xfer *x = loopxfer_get(&l->xfers, l->max_body);
    if (!x)
        return SY_ERR;
    CURL *e = x->easy;
    r->x = x;
    /* The handle is recycled without a reset: every option a request may
     * change is set here, each time (loopxfer.h). */
    curl_easy_setopt(e, CURLOPT_PRIVATE, r);
    curl_easy_setopt(e, CURLOPT_URL, r->url);
    curl_easy_setopt(e, CURLOPT_HTTPHEADER, r->headers);
    /* Over TLS, prefer HTTP/2 multiplexing to new connections (ALPN settles it
     * at the handshake). Over plain HTTP/1.1 waiting would queue every request
     * behind the first reply, so don't. */
    curl_easy_setopt(e, CURLOPT_PIPEWAIT, strncmp(r->url, "https://", 8) == 0 ? 1L : 0L);
    curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS, r->connect_timeout_ms);
    curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, r->total_timeout_ms);
    curl_easy_setopt(e, CURLOPT_PROXY, r->proxy ? r->proxy : l->xfers.no_proxy);
    if (r->method == PROV_POST) {
        curl_easy_setopt(e, CURLOPT_POST, 1L);
        curl_easy_setopt(e, CURLOPT_POSTFIELDS, r->body ? r->body : "");
        curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE, (long)(r->body ? strlen(r->body) : 0));
    } else {
        curl_easy_setopt(e, CURLOPT_HTTPGET, 1L); /* undoes a POST: no body, GET */
    }
    x->start_ms = sy_now_ms();
    if (curl_multi_add_handle(l->multi, e) != CURLM_OK) {
        loopxfer_put(&l->xfers, x);
        r->x = NULL;
        return SY_ERR;
    }
    r->next = l->live;
    r->prev = NULL;
    if (l->live)
        l->live->prev = r;
    l->live = r;
    l->in_curl++;
    r->host->in_curl++;
    return SY_OK;
}

/* The origin entry of url, created on first use; the overflow bucket (which
 * always exists, hosts[0]) when the table is full or memory is short. */
static struct loop_host *host_of(struct loop *l, const char *url, int proxied)
{
    const char *sep = strstr(url, "://");
    const char *auth = sep ? sep + 3 : url;
    size_t n = (size_t)(auth - url) + strcspn(auth, "/?#");
    int plain = strncasecmp(url, "http://", 7) == 0 && !proxied;
    for (size_t i = 1; i < l->n_hosts; i++) {
        struct loop_host *h = l->hosts[i];
        if (strlen(h->origin) == n + 1 && strncmp(h->origin + 1, url, n) == 0 &&
            (h->origin[0] == 'p') == plain)
            return h;
    }
    if (l->n_hosts >= LOOP_MAX_HOSTS)
        return l->hosts[0];
    struct loop_host *h = calloc(1, sizeof *h);
    char *origin = malloc(n + 2);
    if (!h || !origin) {
        free(h);
        free(origin);
        return l->hosts[0];
    }
    origin[0] =
            plain ? 'p' : 'm'; /* plain HTTP (one transfer per connection) or maybe multiplexed */
    memcpy(origin + 1, url, n);
    origin[n + 1] = '\0';
    h->origin = origin;
    h->cap = plain ? l->host_cap : l->max_in_curl;
    l->hosts[l->n_hosts++] = h;
    return h;
}

struct loop_req *loop_http(struct loop *l, struct prov_request *req, const struct loop_send *s,
                           loop_http_fn cb, void *ud)
{
    struct loop_req *r = req_get(l);
    if (!r) {
        prov_request_cleanup(req);
        return NULL;
    }
    r->url = req->url;
    r->body = req->body;
    req->url = NULL;
    req->body = NULL;
    const char *lines[PROV_MAX_HEADERS + 2];
    size_t n = 0;
    for (int i = 0; i < req->n_headers && i < PROV_MAX_HEADERS; i++)
        lines[n++] = req->headers[i];
    static const char bearer_hdr[] = "Authorization: Bearer ";
    char auth[1024];
    if (s->bearer) { /* as snprintf would write it, cut to the buffer; no printf per request */
        size_t hl = sizeof bearer_hdr - 1, kl = strnlen(s->bearer, sizeof auth - hl - 1);
        memcpy(auth, bearer_hdr, hl);
        memcpy(auth + hl, s->bearer, kl);
        auth[hl + kl] = '\0';
        lines[n++] = auth;
    }
    lines[n++] = "Expect:";
    r->headers = loopxfer_headers(lines, n);
    if (s->bearer)
        explicit_bzero(auth, sizeof auth);
    int fail = !r->headers;
    r->method = req->method;
    r->connect_timeout_ms = s->connect_timeout_ms;
    r->total_timeout_ms = s->total_timeout_ms + (long)req->hold_s * 1000;
    if (s->proxy && s->proxy[0]) {
        r->proxy = strdup(s->proxy);
        fail |= !r->proxy;
    }
    prov_request_cleanup(req);
    if (fail || !r->url) {
        recycle(r);
        return NULL;
    }
    r->cb = cb;
    r->ud = ud;
    r->host = host_of(l, r->url, r->proxy != NULL);
    if (host_has_room(l, r->host) && !r->host->pend_head) {
        if (req_start(l, r) != SY_OK) {
            recycle(r);
            return NULL;
        }
    } else {
        if (r->body) { /* it may wait long: give back the slack of the body's buffer */
            char *b = realloc(r->body, strlen(r->body) + 1);
            if (b)
                r->body = b;
        }
        r->where = REQ_QUEUED;
        list_append(&r->host->pend_head, &r->host->pend_tail, r);
        l->n_pending++;
    }
    l->active++;
    return r;
}

void loop_cancel(struct loop_req *r)
{
    struct loop *l = r->l;
    int was_in_curl = r->where == REQ_LIVE;
    detach(r);
    recycle(r);
    if (was_in_curl)
        start_pending(l);
}

size_t loop_active(const struct loop *l)
{
    return l->active;
}

void loop_get_stats(const struct loop *l, struct loop_stats *out)
{
    *out = l->stats;
}

uv_loop_t *loop_uv(struct loop *l)
{
    return l->uv;
}

static void handle_closed(struct loop *l)
{
    if (--l->open_handles > 0)
        return;
    loopsock_cleanup(&l->socks);
    free(l->user_agent);
    free(l);
}

static void on_timer_closed(uv_handle_t *h)
{
    handle_closed(h->data);
}

static void on_socks_closed(uv_handle_t *h)
{
    struct loopsock *s = h->data;
    handle_closed(s->ud);
}

/* Close the loop's three uv handles; the last close frees l. Curl is done. */
static void close_handles(struct loop *l)
{
    uv_timer_stop(&l->timer);
    uv_timer_stop(&l->defer);
    l->open_handles = 3;
    uv_close((uv_handle_t *)&l->timer, on_timer_closed);
    uv_close((uv_handle_t *)&l->defer, on_timer_closed);
    loopsock_close_handle(&l->socks, on_socks_closed);
}

struct loop *loop_new(uv_loop_t *uv, const struct loop_opts *o, char *err, size_t errlen)
{
    static int curl_ready;
    if (!curl_ready) {
        if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
            snprintf(err, errlen, "curl_global_init failed");
            return NULL;
        }
        curl_ready = 1;
    }
    struct loop *l = calloc(1, sizeof *l);
    if (!l) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    if (!loopxfer_headers_api()) {
        snprintf(err, errlen,
                 "this libcurl has no headers API (curl_easy_header, 7.84 or later, not disabled "
                 "at build time): switchyard reads Retry-After through it");
        free(l);
        return NULL;
    }
    l->uv = uv;
    l->max_body = o->max_body_bytes ? o->max_body_bytes : (size_t)1 << 20;
    l->user_agent = strdup(o->user_agent ? o->user_agent : "switchyard/" SY_VERSION);
    l->multi = curl_multi_init();
    if (!l->multi || !l->user_agent) {
        snprintf(err, errlen, "curl_multi_init failed");
        if (l->multi)
            curl_multi_cleanup(l->multi);
        free(l->user_agent);
        free(l);
        return NULL;
    }
    if (loopsock_init(&l->socks, uv, on_sock_ready, on_socks_done, l, err, errlen) != SY_OK) {
        curl_multi_cleanup(l->multi);
        free(l->user_agent);
        free(l);
        return NULL;
    }
    uv_timer_init(uv, &l->timer);
    l->timer.data = l;
    uv_timer_init(uv, &l->defer);
    l->defer.data = l;
    curl_multi_setopt(l->multi, CURLMOPT_SOCKETFUNCTION, on_socket);
    curl_multi_setopt(l->multi, CURLMOPT_SOCKETDATA, l);
    curl_multi_setopt(l->multi, CURLMOPT_TIMERFUNCTION, on_curl_timer);
    curl_multi_setopt(l->multi, CURLMOPT_TIMERDATA, l);
    curl_multi_setopt(l->multi, CURLMOPT_PIPELINING, (long)CURLPIPE_MULTIPLEX);
    long host_cap = o->max_host_connections > 0 ? o->max_host_connections : 64;
    curl_multi_setopt(l->multi, CURLMOPT_MAX_HOST_CONNECTIONS, host_cap);
    if (o->max_total_connections > 0)
        curl_multi_setopt(l->multi, CURLMOPT_MAX_TOTAL_CONNECTIONS, (long)o->max_total_connections);
    /* The idle-connection cache must hold every connection we may open, or
     * keep-alive reuse degrades into reconnects under load. */
    long cache = o->max_total_connections > 0 ? o->max_total_connections : host_cap * 4;
    curl_multi_setopt(l->multi, CURLMOPT_MAXCONNECTS, cache);
    /* Transfers in curl at once: as many as the connections we may open, so
     * a request waits for a connection in our FIFO, not inside curl (where
     * the wait would count against its connect timeout), and no easy handle
     * exists per job. */
    l->max_in_curl = o->max_in_curl > 0 ? (size_t)o->max_in_curl : (size_t)cache;
    l->host_cap = (size_t)host_cap;
    loopxfer_pool_init(&l->xfers, l->max_in_curl, l->user_agent, &l->socks);
    l->hosts[0] = calloc(1, sizeof *l->hosts[0]); /* the overflow bucket: only the loop's cap */
    if (l->hosts[0]) {
        l->hosts[0]->cap = l->max_in_curl;
        l->n_hosts = 1;
    }
    if (!l->hosts[0]) {
        snprintf(err, errlen, "out of memory");
        curl_multi_cleanup(l->multi);
        close_handles(l); /* l is freed when they are closed */
        return NULL;
    }
    return l;
}


void loop_free(struct loop *l)
{
    if (!l)
        return;
    for (size_t i = 0; i < l->n_hosts; i++)
        while (l->hosts[i]->pend_head) {
            struct loop_req *r = l->hosts[i]->pend_head;
            detach(r);
            recycle(r);
        }
    while (l->fail_head) {
        struct loop_req *r = l->fail_head;
        detach(r);
        recycle(r);
    }
    while (l->live) {
        struct loop_req *r = l->live;
        detach(r);
        recycle(r);
    }
    while (l->free_reqs) {
        struct loop_req *r = l->free_reqs;
        l->free_reqs = r->next;
        req_reset(r);
        free(r);
    }
    loopxfer_pool_cleanup(&l->xfers);
    for (size_t i = 0; i < l->n_hosts; i++) {
        free(l->hosts[i]->origin);
        free(l->hosts[i]);
    }
    /* Curl closes the cached connections' sockets through the socket set
     * (closing takes them out of it); it need not call back to unwatch. */
    curl_multi_setopt(l->multi, CURLMOPT_SOCKETFUNCTION, NULL);
    curl_multi_cleanup(l->multi);
    l->multi = NULL;
    close_handles(l);
}
