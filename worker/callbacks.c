/* callbacks.c — the callback listener (its own thread) and its handoff to
 * the loop.
 *
 * Threads: libmicrohttpd's single internal thread runs on_request and
 * on_completed: it reads only what callbacks_start() copied (provider names
 * and types, the keys, the limits), owns `buffered`, and takes `mu` for the
 * dedupe ring and the queue. The loop thread runs on_async, which empties
 * the queue and calls the owner's fn for each event. The MHD logger may run
 * on either thread and has its own lock.
 *
 * Memory before authentication is bounded: the first on_request call (only
 * headers read) answers 404 / 405 / 413 at once, so no body byte is read
 * for those; a body is buffered only up to CB_MAX_BODY, and all bodies being
 * read together only up to CB_MAX_BUFFERED (503 past it); connections are
 * limited in all and per client address; the queue to the loop holds at
 * most CB_MAX_QUEUED events (503 past it, not remembered as seen, so the
 * provider's retry is taken). Only a trusted body (Replicate, signed) stays
 * in a queued event.
 *
 * Dedupe: a ring of the last CB_SEEN 64-bit hashes. Replicate signed: the
 * webhook-id (covered by the signature). KIE: taskId, timestamp and
 * signature (the body is not signed, so no body field is in the key).
 * Unsigned Replicate: webhook-id, id and status. A duplicate is answered
 * 200 (so the provider stops retrying) and not queued. An event the loop
 * cannot place is dropped there; the job's safety poll covers it.
 *
 * Order of checks: path and provider (404), method (405), Content-Length
 * (413) — all before the body; then for Replicate the signature over the
 * raw bytes before any JSON parse (401; stale timestamp 400), and the body
 * (400); for KIE the body (400, its taskId is signed) then the signature;
 * then duplicate (200), queue room (503), accepted (200). */
#include "callbacks.h"

#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <microhttpd.h>

#include "providers/registry.h"
#include "worker/dispatch.h"
#include "worker/job.h"
#include "core/log.h"
#include "worker/metrics.h"
#include "core/sy.h"
#include "worker/httpd.h"

#define CB_MAX_BODY (1024 * 1024)
#define CB_MAX_BUFFERED (32 * 1024 * 1024) /* all bodies being read at once */
#define CB_MAX_QUEUED 1024                 /* events waiting for the loop */
#define CB_MAX_PROVIDERS 16
#define CB_MAX_TYPES 16
#define CB_SEEN 8192
#define CB_LOG_WINDOW_MS 10000 /* MHD log lines: at most CB_LOG_LINES per window */
#define CB_LOG_LINES 5

struct cb_item {
    struct cb_item *next;
    struct cbtopic_event ev;
};

struct cb_req {
    char *body;
    size_t len, cap;
    size_t reserved; /* counted in cb->buffered */
    int refused;     /* answered on the first call: discard what follows */
};

struct callbacks {
    struct {
        char name[65];
        const struct prov_desc *desc;
        const struct webhook_key *key; /* NULL = this provider's callbacks are unsigned */
    } prov[CB_MAX_PROVIDERS];
    size_t n_prov;
    /* One signing key per provider type (registry order); data NULL = unsigned. */
    struct webhook_key keys[CB_MAX_TYPES];
    int tolerance_s;
    struct metrics *m;
    callbacks_event_fn fn;
    void *ud;

    struct MHD_Daemon *daemon;
    uv_async_t async;
    int closing;
    size_t buffered; /* listener thread only */

    pthread_mutex_t log_mu; /* guards the MHD log rate limit */
    int64_t log_window_ms;
    unsigned log_lines;
    unsigned long log_suppressed;

    pthread_mutex_t mu; /* guards what follows */
    struct cb_item *head, *tail;
    size_t queued;
    uint64_t seen[CB_SEEN];
    size_t seen_next, seen_n;
};

/* ---- the listener thread ---- */

/* Every answer is a static line of plain text. */
static enum MHD_Result answer(struct MHD_Connection *c, unsigned code, const char *text)
{
    return httpd_reply(c, code, "text/plain; charset=utf-8", text, MHD_RESPMEM_PERSISTENT);
}

/* /cb/<provider>/<partition|b>/<job id>: the provider's index, or -1. The job
 * id is the rest of the path (libmicrohttpd has already unescaped it). */
static int parse_path(const struct callbacks *cb, const char *url, int32_t *partition,
                      const char **job_id)
{
    if (strncmp(url, "/cb/", 4) != 0)
        return -1;
    const char *p = url + 4, *s1 = strchr(p, '/');
    const char *s2 = s1 ? strchr(s1 + 1, '/') : NULL;
    if (!s1 || !s2 || s2[1] == '\0')
        return -1;
    size_t plen = (size_t)(s1 - p), qlen = (size_t)(s2 - s1 - 1);
    char part[16];
    if (qlen == 0 || qlen >= sizeof part)
        return -1;
    memcpy(part, s1 + 1, qlen);
    part[qlen] = '\0';
    if (strcmp(part, "b") == 0 || strcmp(part, "-1") == 0) {
        *partition = -1;
    } else {
        char *end;
        errno = 0;
        long v = strtol(part, &end, 10);
        if (errno || *end || part[0] < '0' || part[0] > '9' || v > INT32_MAX)
            return -1;
        *partition = (int32_t)v;
    }
    *job_id = s2 + 1;
    for (size_t i = 0; i < cb->n_prov; i++) {
        if (strlen(cb->prov[i].name) == plen && memcmp(cb->prov[i].name, p, plen) == 0)
            return (int)i;
    }
    return -1;
}

static uint64_t hash_str(uint64_t h, const char *s)
{
    for (; s && *s; s++)
        h = (h ^ (unsigned char)*s) * 0x100000001b3ULL;
    return (h ^ 0xffu) * 0x100000001b3ULL;
}

enum cb_queued { CB_QUEUED, CB_DUPLICATE, CB_FULL };

/* Queue it unless its key was seen or the queue is full (then it is not
 * remembered). On CB_DUPLICATE / CB_FULL it stays the caller's. */
static enum cb_queued enqueue(struct callbacks *cb, uint64_t key, struct cb_item *it)
{
    pthread_mutex_lock(&cb->mu);
    for (size_t i = 0; i < cb->seen_n; i++) {
        if (cb->seen[i] == key) {
            pthread_mutex_unlock(&cb->mu);
            return CB_DUPLICATE;
        }
    }
    if (cb->queued >= CB_MAX_QUEUED) {
        pthread_mutex_unlock(&cb->mu);
        return CB_FULL;
    }
    cb->seen[cb->seen_next] = key;
    cb->seen_next = (cb->seen_next + 1) % CB_SEEN;
    if (cb->seen_n < CB_SEEN)
        cb->seen_n++;
    if (cb->tail)
        cb->tail->next = it;
    else
        cb->head = it;
    cb->tail = it;
    cb->queued++;
    pthread_mutex_unlock(&cb->mu);
    uv_async_send(&cb->async);
    return CB_QUEUED;
}

static const char *header(struct MHD_Connection *c, const char *name)
{
    return MHD_lookup_connection_value(c, MHD_HEADER_KIND, name);
}

static const char *or_empty(const char *s)
{
    return s ? s : "";
}

/* The verdict's answer, or 0 when it passes. */
static unsigned refusal(struct callbacks *cb, const char *pname, enum webhook_verdict v,
                        const char **text)
{
    switch (v) {
    case WEBHOOK_OK:
        return 0;
    case WEBHOOK_STALE:
        metrics_callback(cb->m, pname, METRICS_CB_STALE);
        *text = "timestamp outside the tolerance\n";
        return MHD_HTTP_BAD_REQUEST;
    case WEBHOOK_MISSING:
    case WEBHOOK_BAD_SIG:
    default:
        metrics_callback(cb->m, pname, METRICS_CB_BAD_SIGNATURE);
        *text = "bad or missing signature\n";
        return MHD_HTTP_UNAUTHORIZED;
    }
}

/* Verify and read the body of provider i into it->ev, and its dedupe key.
 * 0 when it passes, else the HTTP status to answer with (text set). */
static unsigned check(struct callbacks *cb, size_t i, struct MHD_Connection *c, struct cb_req *rq,
                      struct cb_item *it, uint64_t *key, const char **text)
{
    const char *pname = cb->prov[i].name, *body = rq->body ? rq->body : "";
    struct cbtopic_event *ev = &it->ev;
    struct webhook_event we;
    int64_t now_s = sy_wall_ms() / 1000;
    unsigned code;
    const struct prov_cb_desc *d = &cb->prov[i].desc->cb;
    const struct webhook_key *k = cb->prov[i].key;
    struct prov_cb_req req = { .id = d->id_header ? header(c, d->id_header) : NULL,
                               .ts = d->ts_header ? header(c, d->ts_header) : NULL,
                               .sig = d->sig_header ? header(c, d->sig_header) : NULL,
                               .body = body,
                               .body_len = rq->len };
    const char *id = req.id, *ts = req.ts, *sig = req.sig;
    *key = hash_str(0xcbf29ce484222325ULL, pname);
    ev->is_signed = k != NULL;
    if (d->signs_body) {
        /* The signature covers the raw bytes: check it before any parse. */
        enum webhook_verdict v = k ? d->verify(k, &req, now_s, cb->tolerance_s)
                                   : webhook_check_time(ts, now_s, cb->tolerance_s);
        if ((code = refusal(cb, pname, v, text)) != 0)
            return code;
        if (d->peek(body, rq->len, &we) != SY_OK)
            goto unreadable;
        *key = hash_str(*key, id);
        if (ev->is_signed) {
            ev->body_trusted = 1;
            snprintf(ev->wh_id, sizeof ev->wh_id, "%s", id);
            snprintf(ev->wh_ts, sizeof ev->wh_ts, "%s", ts);
            if (strlen(sig) < sizeof ev->wh_sig)
                snprintf(ev->wh_sig, sizeof ev->wh_sig, "%s", sig);
        } else {
            *key = hash_str(hash_str(*key, we.task_id), we.state);
        }
    } else {
        /* The signature covers the task id: read it from the body first. */
        if (d->peek(body, rq->len, &we) != SY_OK)
            goto unreadable;
        req.task_id = we.task_id;
        enum webhook_verdict v = k ? d->verify(k, &req, now_s, cb->tolerance_s)
                                   : webhook_check_time(ts, now_s, cb->tolerance_s);
        if ((code = refusal(cb, pname, v, text)) != 0)
            return code;
        *key = hash_str(hash_str(hash_str(*key, we.task_id), or_empty(ts)), or_empty(sig));
    }
    snprintf(ev->task_id, sizeof ev->task_id, "%s", we.task_id);
    return 0;
unreadable:
    metrics_callback(cb->m, pname, METRICS_CB_INVALID);
    *text = "unreadable callback body\n";
    return MHD_HTTP_BAD_REQUEST;
}

/* The whole body is in: verify, dedupe, queue, answer. */
static enum MHD_Result handle(struct callbacks *cb, struct MHD_Connection *c, const char *url,
                              struct cb_req *rq)
{
    int32_t partition;
    const char *job_id, *text = "";
    int i = parse_path(cb, url, &partition, &job_id);
    if (i < 0) /* checked on the first call already */
        return answer(c, MHD_HTTP_NOT_FOUND, "not found\n");
    const char *pname = cb->prov[i].name;
    struct cb_item *it = calloc(1, sizeof *it);
    if (!it || !(it->ev.job_id = strdup(job_id))) {
        free(it);
        return answer(c, MHD_HTTP_SERVICE_UNAVAILABLE, "out of memory\n");
    }
    uint64_t key;
    unsigned code = check(cb, (size_t)i, c, rq, it, &key, &text);
    if (code == 0) {
        snprintf(it->ev.provider, sizeof it->ev.provider, "%s", pname);
        it->ev.desc = cb->prov[i].desc;
        it->ev.partition = partition;
        if (it->ev.body_trusted && rq->body) {
            it->ev.body = rq->body; /* taken over */
            it->ev.body_len = rq->len;
            rq->body = NULL;
        } else if (!(it->ev.body = strdup(""))) {
            code = MHD_HTTP_SERVICE_UNAVAILABLE;
            text = "out of memory\n";
        }
    }
    if (code == 0) {
        switch (enqueue(cb, key, it)) {
        case CB_QUEUED:
            metrics_callback(cb->m, pname, METRICS_CB_ACCEPTED);
            return answer(c, MHD_HTTP_OK, "accepted\n");
        case CB_DUPLICATE:
            metrics_callback(cb->m, pname, METRICS_CB_DUPLICATE);
            code = MHD_HTTP_OK;
            text = "duplicate\n";
            break;
        case CB_FULL:
            metrics_callback(cb->m, pname, METRICS_CB_BUSY);
            code = MHD_HTTP_SERVICE_UNAVAILABLE;
            text = "busy, send again later\n";
            break;
        }
    }
    cbtopic_event_cleanup(&it->ev);
    free(it);
    return answer(c, code, text);
}

/* Content-Length as a number; -1 when absent, -2 when not a number. */
static long long content_length(struct MHD_Connection *c)
{
    const char *v = header(c, MHD_HTTP_HEADER_CONTENT_LENGTH);
    if (!v)
        return -1;
    if (*v < '0' || *v > '9')
        return -2;
    char *end;
    errno = 0;
    long long n = strtoll(v, &end, 10);
    return errno || *end ? -2 : n;
}

/* The first call: only the headers are read. Refuse what can be refused
 * now (404 / 405 / 413 / 503), before any body byte; else reserve room. */
static enum MHD_Result first_call(struct callbacks *cb, struct MHD_Connection *c, const char *url,
                                  const char *method, struct cb_req *rq)
{
    int32_t partition;
    const char *job_id;
    int i = parse_path(cb, url, &partition, &job_id);
    rq->refused = 1;
    if (i < 0)
        return answer(c, MHD_HTTP_NOT_FOUND, "not found\n");
    if (strcmp(method, MHD_HTTP_METHOD_POST) != 0)
        return answer(c, MHD_HTTP_METHOD_NOT_ALLOWED, "POST only\n");
    long long cl = content_length(c);
    if (cl > CB_MAX_BODY || cl == -2) {
        metrics_callback(cb->m, cb->prov[i].name, METRICS_CB_INVALID);
        return answer(c, cl == -2 ? MHD_HTTP_BAD_REQUEST : MHD_HTTP_CONTENT_TOO_LARGE,
                      cl == -2 ? "bad Content-Length\n" : "body too large\n");
    }
    size_t want = cl > 0 ? (size_t)cl : 0;
    if (cb->buffered + want > CB_MAX_BUFFERED) {
        metrics_callback(cb->m, cb->prov[i].name, METRICS_CB_BUSY);
        return answer(c, MHD_HTTP_SERVICE_UNAVAILABLE, "busy, send again later\n");
    }
    rq->refused = 0;
    rq->reserved = want;
    cb->buffered += want;
    return MHD_YES;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *c, const char *url,
                                  const char *method, const char *version, const char *upload,
                                  size_t *upload_size, void **state)
{
    (void)version;
    struct callbacks *cb = cls;
    struct cb_req *rq = *state;
    if (!rq) {
        rq = calloc(1, sizeof *rq);
        *state = rq;
        return rq ? first_call(cb, c, url, method, rq) : MHD_NO;
    }
    if (*upload_size) {
        size_t n = *upload_size;
        *upload_size = 0;
        if (rq->refused)
            return MHD_YES; /* a response is queued; nothing is kept */
        /* Over the cap or the budget (a body without Content-Length, or longer
         * than it said): close, as a response cannot be queued mid-body. */
        if (rq->len + n > CB_MAX_BODY)
            return MHD_NO;
        if (rq->len + n > rq->reserved) {
            size_t more = rq->len + n - rq->reserved;
            if (cb->buffered + more > CB_MAX_BUFFERED)
                return MHD_NO;
            cb->buffered += more;
            rq->reserved += more;
        }
        size_t first = rq->reserved > 4096 ? rq->reserved + 1 : 4096;
        return sy_append(&rq->body, &rq->len, &rq->cap, upload, n, first) == SY_OK ? MHD_YES
                                                                                   : MHD_NO;
    }
    if (rq->refused)
        return MHD_YES;
    return handle(cb, c, url, rq);
}

static void on_completed(void *cls, struct MHD_Connection *c, void **state,
                         enum MHD_RequestTerminationCode toe)
{
    (void)c;
    (void)toe;
    struct callbacks *cb = cls;
    struct cb_req *rq = *state;
    if (rq) {
        cb->buffered -= rq->reserved;
        free(rq->body);
        free(rq);
        *state = NULL;
    }
}

/* MHD's own messages, as JSON log lines: at most CB_LOG_LINES per
 * CB_LOG_WINDOW_MS (a flood of refused connections logs a count). */
static void on_mhd_log(void *cls, const char *fmt, va_list ap)
{
    struct callbacks *cb = cls;
    int64_t now = sy_now_ms();
    unsigned long suppressed = 0;
    pthread_mutex_lock(&cb->log_mu);
    if (now - cb->log_window_ms >= CB_LOG_WINDOW_MS) {
        suppressed = cb->log_suppressed;
        cb->log_window_ms = now;
        cb->log_lines = 0;
        cb->log_suppressed = 0;
    }
    int emit = cb->log_lines < CB_LOG_LINES;
    if (emit)
        cb->log_lines++;
    else
        cb->log_suppressed++;
    pthread_mutex_unlock(&cb->log_mu);
    if (suppressed)
        LOG_WARN(NULL, "callbacks http: %lu more messages suppressed", suppressed);
    if (!emit || !log_enabled(LOG_LVL_WARN))
        return;
    char line[512];
    vsnprintf(line, sizeof line, fmt, ap);
    line[strcspn(line, "\r\n")] = '\0';
    LOG_WARN(NULL, "callbacks http: %s", line);
}

/* ---- the loop side ---- */

static void drain(struct callbacks *cb, int deliver)
{
    pthread_mutex_lock(&cb->mu);
    struct cb_item *it = cb->head;
    cb->head = cb->tail = NULL;
    cb->queued = 0;
    pthread_mutex_unlock(&cb->mu);
    while (it) {
        struct cb_item *next = it->next;
        if (deliver && !cb->closing)
            cb->fn(cb->ud, &it->ev);
        cbtopic_event_cleanup(&it->ev);
        free(it);
        it = next;
    }
}

static void on_async(uv_async_t *a)
{
    drain(a->data, 1);
}

static void free_cb(struct callbacks *cb)
{
    for (size_t t = 0; t < CB_MAX_TYPES; t++)
        webhook_key_cleanup(&cb->keys[t]);
    pthread_mutex_destroy(&cb->mu);
    pthread_mutex_destroy(&cb->log_mu);
    free(cb);
}

static void on_closed(uv_handle_t *h)
{
    struct callbacks *cb = h->data;
    drain(cb, 0);
    free_cb(cb);
}

struct callbacks *callbacks_start(uv_loop_t *uv, const struct conf *c, struct metrics *m,
                                  callbacks_event_fn fn, void *ud, char *err, size_t errlen)
{
    struct callbacks *cb = calloc(1, sizeof *cb);
    if (!cb) {
        snprintf(err, errlen, "callbacks: out of memory");
        return NULL;
    }
    pthread_mutex_init(&cb->mu, NULL);
    pthread_mutex_init(&cb->log_mu, NULL);
    cb->m = m;
    cb->fn = fn;
    cb->ud = ud;
    cb->tolerance_s = c->callbacks.tolerance_s;
    /* Every type's key, configured providers of it or not, so a bad secret
     * is reported either way. */
    char sigs[256] = "";
    size_t used = 0;
    for (size_t t = 0; t < CB_MAX_TYPES && prov_at(t); t++) {
        const struct prov_cb_desc *d = &prov_at(t)->cb;
        const char *secret = *(char *const *)((const char *)&c->callbacks + d->secret_off);
        if (secret && d->key_init(&cb->keys[t], secret) != SY_OK) {
            if (d->bad_secret)
                snprintf(err, errlen, "callbacks.%s: %s %s", d->secret_env_key,
                         *(char *const *)((const char *)&c->callbacks + d->secret_env_off),
                         d->bad_secret);
            else
                snprintf(err, errlen, "callbacks: out of memory");
            free_cb(cb);
            return NULL;
        }
        int n = snprintf(sigs + used, sizeof sigs - used, "%s%s signatures %s", t ? ", " : "",
                         prov_at(t)->label, cb->keys[t].data ? "required" : "not checked");
        used = n > 0 && (size_t)n < sizeof sigs - used ? used + (size_t)n : used;
    }
    for (size_t i = 0; i < c->n_providers && i < CB_MAX_PROVIDERS; i++) {
        snprintf(cb->prov[i].name, sizeof cb->prov[i].name, "%s", c->providers[i].name);
        cb->prov[i].desc = prov_at((size_t)c->providers[i].type - 1);
        size_t t = (size_t)c->providers[i].type - 1;
        cb->prov[i].key = t < CB_MAX_TYPES && cb->keys[t].data ? &cb->keys[t] : NULL;
        cb->n_prov++;
    }
    const struct httpd_opts ho = {
        .what = "callbacks",
        .listen = c->callbacks.listen,
        .on_request = on_request,
        .ud = cb,
        .on_completed = on_completed,
        .logger = (MHD_LogCallback)on_mhd_log,
        .max_connections = (unsigned)c->callbacks.max_connections,
        .max_per_ip = (unsigned)c->callbacks.max_connections_per_ip,
        .timeout_s = 15,
    };
    cb->daemon = httpd_start(&ho, err, errlen);
    if (!cb->daemon) {
        free_cb(cb);
        return NULL;
    }
    uv_async_init(uv, &cb->async, on_async);
    cb->async.data = cb;
    LOG_INFO(NULL, "callbacks: listening on %s for %s/cb/...; %s", c->callbacks.listen,
             c->callbacks.public_url, sigs);
    return cb;
}

void callbacks_close(struct callbacks *cb)
{
    if (!cb || cb->closing)
        return;
    cb->closing = 1;
    MHD_stop_daemon(cb->daemon);
    cb->daemon = NULL;
    uv_close((uv_handle_t *)&cb->async, on_closed);
}

int callbacks_complete(struct engine *e, const struct cbtopic_event *ev)
{
    struct log_ctx lc = { .job = ev->job_id, .provider = ev->provider, .task = ev->task_id };
    if (!ev->body_trusted) {
        int rc = job_callback(e, ev->provider, ev->task_id, ev->job_id, NULL);
        if (rc != SY_OK)
            LOG_DEBUG(&lc, "callback dropped: no such task awaited here, or its polls are used up");
        return rc;
    }
    struct prov_result res;
    prov_result_init(&res);
    ev->desc->cb.parse(ev->body, ev->body_len, &res);
    int rc = job_callback(e, ev->provider, ev->task_id, ev->job_id, &res);
    if (rc != SY_OK)
        LOG_DEBUG(&lc, "callback dropped: %s",
                  res.outcome == PROV_PENDING ? "not a terminal event"
                                              : "no such task in flight here");
    prov_result_cleanup(&res);
    return rc;
}

int callbacks_handoff(const struct callbacks *cb, struct engine *e, const char *data, size_t len)
{
    struct cbtopic_event ev;
    if (cbtopic_envelope_decode(data, len, &ev) != SY_OK)
        return SY_ERR;
    size_t i = 0;
    while (i < cb->n_prov && strcmp(cb->prov[i].name, ev.provider) != 0)
        i++;
    if (i == cb->n_prov) {
        cbtopic_event_cleanup(&ev);
        return SY_ERR;
    }
    ev.desc = cb->prov[i].desc;
    /* Only a signature over the body (Replicate's), checked again here,
     * makes the body count. */
    const struct prov_cb_desc *d = &ev.desc->cb;
    struct prov_cb_req req = { .id = ev.wh_id,
                               .ts = ev.wh_ts,
                               .sig = ev.wh_sig,
                               .task_id = ev.task_id,
                               .body = ev.body,
                               .body_len = ev.body_len };
    ev.body_trusted =
            d->signs_body && cb->prov[i].key && ev.body_len > 0 &&
            d->verify(cb->prov[i].key, &req, sy_wall_ms() / 1000, cb->tolerance_s) == WEBHOOK_OK;
    ev.is_signed = ev.body_trusted;
    int rc = callbacks_complete(e, &ev);
    cbtopic_event_cleanup(&ev);
    return rc;
}
