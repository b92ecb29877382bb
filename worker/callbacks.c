/* callbacks.c — the callback listener (its own thread) and its handoff to
 * the loop.
 *
 * Threads: libmicrohttpd's single internal thread runs on_request: it reads
 * only what callbacks_start() copied (provider names and types, the keys)
 * and the dedupe ring and queue under `mu`. The loop thread runs on_async,
 * which empties the queue and calls the owner's fn for each event. Nothing
 * else is shared.
 *
 * Dedupe: a ring of the last CB_SEEN 64-bit hashes of (provider, Replicate
 * webhook-id or KIE taskId + state). A duplicate is answered 200 (so the
 * provider stops retrying) and not queued. An event the loop cannot place
 * (the create reply not read yet, or the job gone) is dropped there; the
 * job's safety poll covers it.
 *
 * Order of checks: path (404), method (405), size (413), body readable with
 * a task id (400), signature present and valid when a key is configured
 * (401), timestamp within ± tolerance_s (400; checked first inside the
 * verify functions), duplicate (200), accepted (200). */
#include "callbacks.h"

#include <errno.h>
#include <json-c/json.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <microhttpd.h>

#include "providers/provider.h"
#include "providers/webhook.h"
#include "worker/dispatch.h"
#include "worker/job.h"
#include "worker/log.h"
#include "worker/metrics.h"
#include "worker/sy.h"
#include "worker/tcplisten.h"

#define CB_MAX_BODY (1024 * 1024)
#define CB_MAX_PROVIDERS 16
#define CB_SEEN 8192

struct cb_item {
    struct cb_item *next;
    struct callbacks_event ev;
};

struct cb_req {
    char *body;
    size_t len, cap;
    int too_big;
};

struct callbacks {
    struct {
        char name[65];
        enum conf_provider_type type;
    } prov[CB_MAX_PROVIDERS];
    size_t n_prov;
    char *kie_key;             /* NULL = KIE callbacks unsigned */
    struct webhook_key rep_key; /* data NULL = Replicate webhooks unsigned */
    int tolerance_s;
    struct metrics *m;
    callbacks_event_fn fn;
    void *ud;

    struct MHD_Daemon *daemon;
    uv_async_t async;
    int closing;

    pthread_mutex_t mu; /* guards what follows */
    struct cb_item *head, *tail;
    uint64_t seen[CB_SEEN];
    size_t seen_next, seen_n;
};

void callbacks_event_cleanup(struct callbacks_event *ev)
{
    free(ev->job_id);
    free(ev->body);
    ev->job_id = NULL;
    ev->body = NULL;
}

/* ---- the listener thread ---- */

static enum MHD_Result answer(struct MHD_Connection *c, unsigned code, const char *text)
{
    struct MHD_Response *r = MHD_create_response_from_buffer(strlen(text), (void *)text, MHD_RESPMEM_PERSISTENT);
    if (!r)
        return MHD_NO;
    MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, "text/plain; charset=utf-8");
    enum MHD_Result rc = MHD_queue_response(c, code, r);
    MHD_destroy_response(r);
    return rc;
}

/* /cb/<provider>/<partition|b>/<job id>: the provider's index, or -1. The job
 * id is the rest of the path (libmicrohttpd has already unescaped it). */
static int parse_path(const struct callbacks *cb, const char *url, int32_t *partition, const char **job_id)
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
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 0x100000001b3ULL;
    return (h ^ 0xffu) * 0x100000001b3ULL;
}

/* Queue ev unless its key was seen: 1 queued, 0 duplicate (ev then cleaned). */
static int enqueue(struct callbacks *cb, uint64_t key, struct cb_item *it)
{
    pthread_mutex_lock(&cb->mu);
    for (size_t i = 0; i < cb->seen_n; i++) {
        if (cb->seen[i] == key) {
            pthread_mutex_unlock(&cb->mu);
            return 0;
        }
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
    pthread_mutex_unlock(&cb->mu);
    uv_async_send(&cb->async);
    return 1;
}

static const char *header(struct MHD_Connection *c, const char *name)
{
    return MHD_lookup_connection_value(c, MHD_HEADER_KIND, name);
}

/* The signature verdict for provider i (keys configured or not). */
static enum webhook_verdict verify(const struct callbacks *cb, size_t i, struct MHD_Connection *c,
                                   const struct webhook_event *we, const struct cb_req *rq)
{
    int64_t now_s = sy_wall_ms() / 1000;
    if (cb->prov[i].type == CONF_PROV_KIE) {
        const char *ts = header(c, "X-Webhook-Timestamp");
        if (!cb->kie_key)
            return webhook_check_time(ts, now_s, cb->tolerance_s);
        return webhook_kie_verify(cb->kie_key, we->task_id, ts, header(c, "X-Webhook-Signature"), now_s,
                                  cb->tolerance_s);
    }
    const char *ts = header(c, "webhook-timestamp");
    if (!cb->rep_key.data)
        return webhook_check_time(ts, now_s, cb->tolerance_s);
    return webhook_replicate_verify(&cb->rep_key, header(c, "webhook-id"), ts, header(c, "webhook-signature"),
                                    rq->body ? rq->body : "", rq->len, now_s, cb->tolerance_s);
}

static enum MHD_Result handle(struct callbacks *cb, struct MHD_Connection *c, const char *url, const char *method,
                              struct cb_req *rq)
{
    int32_t partition;
    const char *job_id;
    int i = parse_path(cb, url, &partition, &job_id);
    if (i < 0)
        return answer(c, MHD_HTTP_NOT_FOUND, "not found\n");
    const char *pname = cb->prov[i].name;
    if (strcmp(method, "POST") != 0)
        return answer(c, MHD_HTTP_METHOD_NOT_ALLOWED, "POST only\n");
    if (rq->too_big) {
        metrics_callback(cb->m, pname, METRICS_CB_INVALID);
        return answer(c, 413, "body too large\n");
    }
    struct webhook_event we;
    if (webhook_peek(cb->prov[i].type, rq->body ? rq->body : "", rq->len, &we) != SY_OK) {
        metrics_callback(cb->m, pname, METRICS_CB_INVALID);
        return answer(c, MHD_HTTP_BAD_REQUEST, "unreadable callback body\n");
    }
    switch (verify(cb, (size_t)i, c, &we, rq)) {
    case WEBHOOK_OK:
        break;
    case WEBHOOK_STALE:
        metrics_callback(cb->m, pname, METRICS_CB_STALE);
        return answer(c, MHD_HTTP_BAD_REQUEST, "timestamp outside the tolerance\n");
    case WEBHOOK_MISSING:
    case WEBHOOK_BAD_SIG:
    default:
        metrics_callback(cb->m, pname, METRICS_CB_BAD_SIGNATURE);
        return answer(c, MHD_HTTP_UNAUTHORIZED, "bad or missing signature\n");
    }
    /* Replicate keeps webhook-id across retries of one event; KIE has taskId + state. */
    const char *wid = cb->prov[i].type == CONF_PROV_REPLICATE ? header(c, "webhook-id") : NULL;
    uint64_t key = hash_str(0xcbf29ce484222325ULL, pname);
    if (wid && *wid) {
        key = hash_str(key, wid);
    } else {
        key = hash_str(key, we.task_id);
        key = hash_str(key, we.state);
    }
    struct cb_item *it = calloc(1, sizeof *it);
    if (!it || !(it->ev.job_id = strdup(job_id))) {
        free(it);
        return answer(c, MHD_HTTP_SERVICE_UNAVAILABLE, "out of memory\n");
    }
    snprintf(it->ev.provider, sizeof it->ev.provider, "%s", pname);
    snprintf(it->ev.task_id, sizeof it->ev.task_id, "%s", we.task_id);
    it->ev.partition = partition;
    it->ev.body = rq->body ? rq->body : strdup("");
    it->ev.body_len = rq->len;
    rq->body = NULL;
    if (!enqueue(cb, key, it)) {
        callbacks_event_cleanup(&it->ev);
        free(it);
        metrics_callback(cb->m, pname, METRICS_CB_DUPLICATE);
        return answer(c, MHD_HTTP_OK, "duplicate\n");
    }
    metrics_callback(cb->m, pname, METRICS_CB_ACCEPTED);
    return answer(c, MHD_HTTP_OK, "accepted\n");
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *c, const char *url, const char *method,
                                  const char *version, const char *upload, size_t *upload_size, void **state)
{
    (void)version;
    struct cb_req *rq = *state;
    if (!rq) {
        rq = calloc(1, sizeof *rq);
        *state = rq;
        return rq ? MHD_YES : MHD_NO;
    }
    if (*upload_size) {
        size_t n = *upload_size;
        *upload_size = 0;
        if (rq->too_big || rq->len + n > CB_MAX_BODY) {
            rq->too_big = 1;
            return MHD_YES;
        }
        return sy_append(&rq->body, &rq->len, &rq->cap, upload, n, 4096) == SY_OK ? MHD_YES : MHD_NO;
    }
    return handle(cls, c, url, method, rq);
}

static void on_completed(void *cls, struct MHD_Connection *c, void **state, enum MHD_RequestTerminationCode toe)
{
    (void)cls;
    (void)c;
    (void)toe;
    struct cb_req *rq = *state;
    if (rq) {
        free(rq->body);
        free(rq);
        *state = NULL;
    }
}

/* ---- the loop side ---- */

static void drain(struct callbacks *cb, int deliver)
{
    pthread_mutex_lock(&cb->mu);
    struct cb_item *it = cb->head;
    cb->head = cb->tail = NULL;
    pthread_mutex_unlock(&cb->mu);
    while (it) {
        struct cb_item *next = it->next;
        if (deliver && !cb->closing)
            cb->fn(cb->ud, &it->ev);
        callbacks_event_cleanup(&it->ev);
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
    if (cb->kie_key) {
        explicit_bzero(cb->kie_key, strlen(cb->kie_key));
        free(cb->kie_key);
    }
    webhook_key_cleanup(&cb->rep_key);
    pthread_mutex_destroy(&cb->mu);
    free(cb);
}

static void on_closed(uv_handle_t *h)
{
    struct callbacks *cb = h->data;
    drain(cb, 0);
    free_cb(cb);
}

struct callbacks *callbacks_start(uv_loop_t *uv, const struct conf *c, struct metrics *m, callbacks_event_fn fn,
                                  void *ud, char *err, size_t errlen)
{
    struct callbacks *cb = calloc(1, sizeof *cb);
    if (!cb) {
        snprintf(err, errlen, "callbacks: out of memory");
        return NULL;
    }
    pthread_mutex_init(&cb->mu, NULL);
    cb->m = m;
    cb->fn = fn;
    cb->ud = ud;
    cb->tolerance_s = c->callbacks.tolerance_s;
    for (size_t i = 0; i < c->n_providers && i < CB_MAX_PROVIDERS; i++) {
        snprintf(cb->prov[i].name, sizeof cb->prov[i].name, "%s", c->providers[i].name);
        cb->prov[i].type = c->providers[i].type;
        cb->n_prov++;
    }
    if (c->callbacks.kie_hmac_key && !(cb->kie_key = strdup(c->callbacks.kie_hmac_key))) {
        snprintf(err, errlen, "callbacks: out of memory");
        free_cb(cb);
        return NULL;
    }
    if (c->callbacks.webhook_secret && webhook_key_init(&cb->rep_key, c->callbacks.webhook_secret) != SY_OK) {
        snprintf(err, errlen, "callbacks.webhook_secret_env: %s does not hold a valid whsec_<base64> secret",
                 c->callbacks.webhook_secret_env);
        free_cb(cb);
        return NULL;
    }
    int v6 = 0;
    int fd = tcplisten_open("callbacks", c->callbacks.listen, &v6, err, errlen);
    if (fd < 0) {
        free_cb(cb);
        return NULL;
    }
    unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_ERROR_LOG | (v6 ? MHD_USE_IPv6 : 0);
    cb->daemon = MHD_start_daemon(flags, 0, NULL, NULL, on_request, cb, MHD_OPTION_LISTEN_SOCKET, fd,
                                  MHD_OPTION_CONNECTION_LIMIT, (unsigned)512, MHD_OPTION_CONNECTION_TIMEOUT,
                                  (unsigned)15, MHD_OPTION_NOTIFY_COMPLETED, on_completed, cb, MHD_OPTION_END);
    if (!cb->daemon) {
        close(fd);
        snprintf(err, errlen, "callbacks: cannot start the HTTP listener on %s", c->callbacks.listen);
        free_cb(cb);
        return NULL;
    }
    uv_async_init(uv, &cb->async, on_async);
    cb->async.data = cb;
    LOG_INFO(NULL, "callbacks: listening on %s for %s/cb/...; KIE signatures %s, Replicate signatures %s",
             c->callbacks.listen, c->callbacks.public_url, cb->kie_key ? "required" : "not checked",
             cb->rep_key.data ? "required" : "not checked");
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

int callbacks_complete(struct engine *e, const struct callbacks_event *ev)
{
    const struct conf_provider *p = conf_provider_by_name(dispatch_conf(e->d), ev->provider);
    struct log_ctx lc = { .job = ev->job_id, .provider = ev->provider, .task = ev->task_id };
    if (!p) {
        LOG_DEBUG(&lc, "callback dropped: provider no longer configured");
        return SY_DECLINED;
    }
    struct prov_result res;
    prov_result_init(&res);
    webhook_parse(p->type, ev->body, ev->body_len, &res);
    int rc = job_callback(e, ev->provider, ev->task_id, ev->job_id, &res);
    if (rc != SY_OK)
        LOG_DEBUG(&lc, "callback dropped: %s", res.outcome == PROV_PENDING ? "not a terminal event"
                                                                          : "no such task in flight here");
    prov_result_cleanup(&res);
    return rc;
}

char *callbacks_envelope(const struct callbacks_event *ev, size_t *len)
{
    struct json_object *o = json_object_new_object();
    json_object_object_add(o, "provider", json_object_new_string(ev->provider));
    json_object_object_add(o, "job", json_object_new_string(ev->job_id));
    json_object_object_add(o, "task_id", json_object_new_string(ev->task_id));
    json_object_object_add(o, "partition", json_object_new_int(ev->partition));
    json_object_object_add(o, "event", json_object_new_string_len(ev->body, (int)ev->body_len));
    size_t n = 0;
    const char *s = json_object_to_json_string_length(o, JSON_C_TO_STRING_PLAIN, &n);
    char *out = s ? strndup(s, n) : NULL;
    *len = out ? n : 0;
    json_object_put(o);
    return out;
}

int callbacks_envelope_parse(const char *data, size_t len, struct callbacks_event *ev)
{
    memset(ev, 0, sizeof *ev);
    struct json_object *o = prov_json_parse(data, len), *body = NULL;
    const char *prov = prov_json_str(o, "provider"), *job = prov_json_str(o, "job"), *task = prov_json_str(o, "task_id");
    long part = -1;
    int ok = prov && job && task && json_object_object_get_ex(o, "event", &body) &&
             json_object_is_type(body, json_type_string) &&
             strlen(json_object_get_string(body)) == (size_t)json_object_get_string_len(body) && /* no NUL */
             strlen(prov) < sizeof ev->provider &&
             strlen(task) < sizeof ev->task_id;
    if (ok) {
        prov_json_int(o, "partition", &part);
        snprintf(ev->provider, sizeof ev->provider, "%s", prov);
        snprintf(ev->task_id, sizeof ev->task_id, "%s", task);
        ev->partition = (int32_t)part;
        ev->job_id = strdup(job);
        ev->body_len = (size_t)json_object_get_string_len(body);
        ev->body = strndup(json_object_get_string(body), ev->body_len);
        ok = ev->job_id && ev->body;
    }
    json_object_put(o);
    if (!ok)
        callbacks_event_cleanup(ev);
    return ok ? SY_OK : SY_ERR;
}
