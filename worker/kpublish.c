/* kpublish.c — what the Kafka worker produces for an input message: its
 * result and, for an invalid message, a DLQ copy.
 *
 * Invariant: every kout ends, and with it its input offset is finished. A
 * send or delivery error is classified (producer_classify):
 * - transient (full local queue, timeouts, transport, leader changes): the
 *   kout is parked with a copy of its message and sent again from a timer
 *   with exponential backoff; consumption pauses while anything is parked;
 *   the warnings are rate-limited. While anything is parked, new messages
 *   queue behind it, and a retry that finds the queue full puts back what
 *   was due after it, so parked messages go out first and in order;
 * - permanent (size, record, authorization; unknown errors after
 *   KP_UNKNOWN_TRIES attempts): a result is replaced by a minimal failed
 *   result (id, status, error class "result_too_large" or "publish_failed");
 *   a DLQ copy by a cut copy (value cut to KP_DLQ_CUT, a big key and big
 *   original headers dropped); when that fails too, the message is abandoned:
 *   an error line and switchyard_publish_abandoned_total{kind,reason}.
 * Only shutdown (closing) and a revoked partition end a kout without storing
 * its offset. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "queue/codec.h"
#include "queue/producer.h"
#include "worker/kworker_int.h"
#include "core/log.h"
#include "worker/metrics.h"
#include "core/sy.h"

#define KP_DLQ_CUT                                                                                 \
    (900 * 1024)             /* a DLQ copy the producer or broker refuses is re-sent cut to this */
#define KP_DLQ_MAX_KEY 4096  /* a cut copy drops a longer key */
#define KP_DLQ_MAX_HDRS 4096 /* ... and the original headers when they are larger together */
#define KP_UNKNOWN_TRIES 5   /* an unclassified error is retried this often, then permanent */
#define KP_BACKOFF_MS 200    /* first retry after a transient error, doubling ... */
#define KP_BACKOFF_MAX_MS 30000 /* ... up to this */
#define KP_FULL_BACKOFF_MS 50   /* first retry after a full local queue, doubling ... */
#define KP_FULL_BACKOFF_MAX_MS 500
#define KP_LOG_EVERY_MS 10000 /* at most one retry warning per this */

static const char *kind_name(enum kout_kind k)
{
    return k == KOUT_DLQ ? "dlq" : "result";
}

static int64_t backoff_ms(int attempts, int queue_full)
{
    int64_t base = queue_full ? KP_FULL_BACKOFF_MS : KP_BACKOFF_MS;
    int64_t cap = queue_full ? KP_FULL_BACKOFF_MAX_MS : KP_BACKOFF_MAX_MS;
    int shift = attempts > 10 ? 10 : attempts;
    int64_t d = base << shift;
    return d > cap ? cap : d;
}

static void drop_copy(struct kout *o)
{
    free(o->topic);
    free(o->key);
    free(o->val);
    if (o->hdrs)
        rd_kafka_headers_destroy(o->hdrs);
    o->topic = NULL;
    o->key = o->val = NULL;
    o->hdrs = NULL;
}

/* The kout ended (delivered, given up, or dropped). */
static void out_free(struct kout *o)
{
    struct kmsg *m = o->m;
    m->w->bytes -= o->held;
    drop_copy(o);
    free(o);
    kmsg_release(m);
}

static struct kout *out_new(struct kmsg *m, enum kout_kind kind, size_t held)
{
    struct kout *o = calloc(1, sizeof *o);
    if (!o)
        kworker_oom("a result or DLQ message");
    o->m = m;
    o->kind = kind;
    o->held = held;
    m->w->bytes += held;
    kmsg_hold(m);
    return o;
}

static void *memdup0(const void *p, size_t n)
{
    char *d = malloc(n + 1);
    if (!d)
        kworker_oom("a message to send again");
    if (n)
        memcpy(d, p, n);
    d[n] = '\0';
    return d;
}

static void log_retry(struct kworker *w, const struct kout *o, const char *topic, const char *err,
                      int64_t delay)
{
    int64_t now = sy_now_ms();
    if (w->retry_log_ms && now - w->retry_log_ms < KP_LOG_EVERY_MS) {
        w->retry_quiet++;
        return;
    }
    const struct kmsg *m = o->m;
    struct log_ctx lc = {
        .job = m->id, .has_offset = 1, .partition = m->partition, .offset = m->offset
    };
    LOG_WARN(
            &lc,
            "sending to %s failed: %s; again in %lld ms (attempt %d; %zu waiting; %lu such warnings not logged)",
            topic, err, (long long)delay, o->attempts, w->n_parked, w->retry_quiet);
    w->retry_log_ms = now;
    w->retry_quiet = 0;
}

static void on_retry(uv_timer_t *t);

static void arm_retry(struct kworker *w)
{
    if (!w->parked) {
        uv_timer_stop(&w->retry);
        return;
    }
    int64_t d = w->parked->due_ms - sy_now_ms();
    uv_timer_start(&w->retry, on_retry, d > 0 ? (uint64_t)d : 0, 0);
}

/* Put o on the parked list in due order (o owns its copy already). */
static void link_parked(struct kworker *w, struct kout *o)
{
    struct kout **pp = &w->parked;
    while (*pp && (*pp)->due_ms <= o->due_ms)
        pp = &(*pp)->next;
    o->next = *pp;
    *pp = o;
    w->n_parked++;
}

/* Park o for a resend: copy topic, key and value (they may be o's own
 * buffers), take hdrs. err NULL: o queues behind what is parked (no backoff,
 * no warning). */
static void park(struct kout *o, const char *topic, const void *key, size_t klen, const void *val,
                 size_t vlen, rd_kafka_headers_t *hdrs, int queue_full, const char *err)
{
    struct kworker *w = o->m->w;
    char *t = memdup0(topic, strlen(topic));
    void *k = key ? memdup0(key, klen) : NULL;
    void *v = val ? memdup0(val, vlen) : NULL;
    if (hdrs != o->hdrs && o->hdrs)
        rd_kafka_headers_destroy(o->hdrs);
    o->hdrs = hdrs;
    free(o->topic);
    free(o->key);
    free(o->val);
    o->topic = t;
    o->key = k;
    o->val = v;
    o->klen = klen;
    o->vlen = vlen;
    if (err) {
        int64_t delay = backoff_ms(o->attempts, queue_full);
        o->attempts++;
        o->due_ms = sy_now_ms() + delay;
        link_parked(w, o);
        log_retry(w, o, topic, err, delay);
    } else {
        struct kout *last = w->parked;
        while (last && last->next)
            last = last->next;
        o->due_ms = last ? last->due_ms : sy_now_ms();
        link_parked(w, o);
    }
    arm_retry(w);
    kworker_flow(w);
}

static void fallback(struct kout *o, rd_kafka_resp_err_t code, const char *err, const char *topic,
                     const void *key, size_t klen, const void *val, size_t vlen,
                     rd_kafka_headers_t *hdrs);

/* Send (key, value and topic are copied; hdrs is taken). Never fails: what
 * cannot go now is parked or falls back. */
static void out_send(struct kout *o, const char *topic, const void *key, size_t klen,
                     const void *val, size_t vlen, rd_kafka_headers_t *hdrs)
{
    struct kworker *w = o->m->w;
    if (w->parked && o->attempts == 0 && !o->truncated && !o->minimal) {
        park(o, topic, key, klen, val, vlen, hdrs, 0, NULL);
        return;
    }
    char err[256] = "";
    int rc = producer_send(w->producer, topic, key, klen, val, vlen, hdrs, o, err, sizeof err);
    if (rc == SY_OK) {
        if (hdrs == o->hdrs)
            o->hdrs = NULL; /* taken by librdkafka */
        return;
    }
    rd_kafka_resp_err_t code = producer_last_error(w->producer);
    enum producer_errkind k = rc == SY_AGAIN ? PRODUCER_TRANSIENT : producer_classify(code);
    if (rc == SY_AGAIN)
        snprintf(err, sizeof err, "producer queue full");
    if (k == PRODUCER_TRANSIENT || (k == PRODUCER_UNKNOWN && o->attempts < KP_UNKNOWN_TRIES))
        park(o, topic, key, klen, val, vlen, hdrs, rc == SY_AGAIN, err);
    else
        fallback(o, code, err, topic, key, klen, val, vlen, hdrs);
}

/* Last resort: the message is not published; its offset still moves on. */
static void abandon(struct kout *o, rd_kafka_resp_err_t code, const char *err, const char *topic)
{
    struct kworker *w = o->m->w;
    struct kmsg *m = o->m;
    struct log_ctx lc = {
        .job = m->id, .has_offset = 1, .partition = m->partition, .offset = m->offset
    };
    LOG_ERROR(&lc, "abandoned the %s message for %s after a permanent error: %s",
              kind_name(o->kind), topic, err);
    metrics_publish_abandoned(w->e.m, kind_name(o->kind), rd_kafka_err2name(code));
    w->abandoned++;
    w->lost++;
    out_free(o);
}

static int size_error(rd_kafka_resp_err_t code)
{
    return code == RD_KAFKA_RESP_ERR_MSG_SIZE_TOO_LARGE ||
           code == RD_KAFKA_RESP_ERR_RECORD_LIST_TOO_LARGE ||
           code == RD_KAFKA_RESP_ERR_INVALID_MSG_SIZE;
}

static rd_kafka_headers_t *result_headers(const struct kmsg *m)
{
    rd_kafka_headers_t *h = rd_kafka_headers_new(2);
    if (m->id)
        rd_kafka_header_add(h, "switchyard-job-id", -1, m->id, -1);
    if (m->traceparent)
        rd_kafka_header_add(h, "traceparent", -1, m->traceparent, -1);
    return h;
}

/* The DLQ copy's cut-down form: value cut to KP_DLQ_CUT, a big key and big
 * original headers dropped (the switchyard-* ones stay). */
static void send_cut_copy(struct kout *o, const char *topic, const void *key, size_t klen,
                          const void *val, size_t vlen, rd_kafka_headers_t *hdrs)
{
    size_t orig_hdr_bytes = 0, n_orig = 0;
    const char *name;
    const void *hv;
    size_t hs;
    for (size_t i = 0;
         hdrs && rd_kafka_header_get_all(hdrs, i, &name, &hv, &hs) == RD_KAFKA_RESP_ERR_NO_ERROR;
         i++) {
        if (strncmp(name, "switchyard-", 11) != 0) {
            orig_hdr_bytes += strlen(name) + hs;
            n_orig++;
        }
    }
    int keep_hdrs = orig_hdr_bytes <= KP_DLQ_MAX_HDRS;
    rd_kafka_headers_t *h = rd_kafka_headers_new(8);
    for (size_t i = 0;
         hdrs && rd_kafka_header_get_all(hdrs, i, &name, &hv, &hs) == RD_KAFKA_RESP_ERR_NO_ERROR;
         i++)
        if (keep_hdrs || strncmp(name, "switchyard-", 11) == 0)
            rd_kafka_header_add(h, name, -1, hv, (ssize_t)hs);
    char num[32];
    if (vlen > KP_DLQ_CUT) {
        snprintf(num, sizeof num, "%zu", vlen);
        rd_kafka_header_add(h, "switchyard-truncated-from", -1, num, -1);
        vlen = KP_DLQ_CUT;
    }
    if (key && klen > KP_DLQ_MAX_KEY) {
        snprintf(num, sizeof num, "%zu", klen);
        rd_kafka_header_add(h, "switchyard-key-dropped", -1, num, -1);
        key = NULL;
        klen = 0;
    }
    if (!keep_hdrs) {
        snprintf(num, sizeof num, "%zu", n_orig);
        rd_kafka_header_add(h, "switchyard-headers-dropped", -1, num, -1);
    }
    /* hdrs may be o's own; key and val stay valid until out_send copied them. */
    rd_kafka_headers_t *old = hdrs;
    if (old == o->hdrs)
        o->hdrs = NULL;
    o->truncated = 1;
    out_send(o, topic, key, klen, val, vlen, h);
    if (old)
        rd_kafka_headers_destroy(old);
}

static void fallback(struct kout *o, rd_kafka_resp_err_t code, const char *err, const char *topic,
                     const void *key, size_t klen, const void *val, size_t vlen,
                     rd_kafka_headers_t *hdrs)
{
    struct kmsg *m = o->m;
    struct kworker *w = m->w;
    o->attempts = 0;
    if (o->kind == KOUT_DLQ && !o->truncated) {
        struct log_ctx lc = {
            .job = m->id, .has_offset = 1, .partition = m->partition, .offset = m->offset
        };
        LOG_WARN(&lc, "DLQ copy refused (%s): sending a cut copy", err);
        send_cut_copy(o, topic, key, klen, val, vlen, hdrs);
        return;
    }
    if (hdrs) {
        if (hdrs == o->hdrs)
            o->hdrs = NULL;
        rd_kafka_headers_destroy(hdrs);
    }
    if (o->kind == KOUT_RESULT && !o->minimal && m->id) {
        char msg[300];
        snprintf(msg, sizeof msg, "the result could not be published: %s", err);
        struct codec_result r = {
            .id = m->id,
            .error_class = size_error(code) ? "result_too_large" : "publish_failed",
            .error_message = msg,
            .line = -1,
            .worker = w->e.worker_id,
        };
        char *json = codec_result_json(&r);
        if (!json)
            kworker_oom("a minimal result");
        struct log_ctx lc = {
            .job = m->id, .has_offset = 1, .partition = m->partition, .offset = m->offset
        };
        LOG_WARN(&lc, "result refused (%s): publishing a minimal failed result", err);
        o->minimal = 1;
        out_send(o, w->conf->kafka.output_topic, m->id, strlen(m->id), json, strlen(json),
                 result_headers(m));
        free(json);
        return;
    }
    abandon(o, code, err, topic);
}

static void on_retry(uv_timer_t *t)
{
    struct kworker *w = t->data;
    int64_t now = sy_now_ms();
    struct kout *due = NULL, **tail = &due;
    while (w->parked && w->parked->due_ms <= now) {
        struct kout *o = w->parked;
        w->parked = o->next;
        w->n_parked--;
        o->next = NULL;
        *tail = o;
        tail = &o->next;
    }
    while (due) {
        struct kout *o = due;
        due = o->next;
        o->next = NULL;
        if (o->m->dropped || w->closing) {
            out_free(o);
            continue;
        }
        char err[256] = "";
        int rc = producer_send(w->producer, o->topic, o->key, o->klen, o->val, o->vlen, o->hdrs, o,
                               err, sizeof err);
        if (rc == SY_OK) {
            o->hdrs = NULL;
            drop_copy(o);
            continue;
        }
        rd_kafka_resp_err_t code = producer_last_error(w->producer);
        enum producer_errkind k = rc == SY_AGAIN ? PRODUCER_TRANSIENT : producer_classify(code);
        if (k == PRODUCER_TRANSIENT || (k == PRODUCER_UNKNOWN && o->attempts < KP_UNKNOWN_TRIES)) {
            int64_t delay = backoff_ms(o->attempts, rc == SY_AGAIN);
            o->attempts++;
            o->due_ms = now + delay;
            link_parked(w, o);
            log_retry(w, o, o->topic, rc == SY_AGAIN ? "producer queue full" : err, delay);
            if (rc == SY_AGAIN) {
                /* The queue is full: what was due after o waits with it, in order. */
                while (due) {
                    struct kout *r = due;
                    due = r->next;
                    r->next = NULL;
                    r->due_ms = o->due_ms;
                    link_parked(w, r);
                }
            }
            continue;
        }
        /* fallback copies what it sends; o's old copy goes after it. */
        char *topic = o->topic, *key = o->key, *val = o->val;
        rd_kafka_headers_t *h = o->hdrs;
        o->topic = NULL;
        o->key = o->val = NULL;
        o->hdrs = NULL;
        fallback(o, code, err, topic, key, o->klen, val, o->vlen, h);
        free(topic);
        free(key);
        free(val);
    }
    arm_retry(w);
    kworker_flow(w);
}

void kpub_init(struct kworker *w)
{
    uv_timer_init(&w->uv, &w->retry);
    w->retry.data = w;
}

void kpub_result(struct kmsg *m, const char *json)
{
    const char *id = m->id ? m->id : "";
    size_t len = strlen(json);
    struct kout *o = out_new(m, KOUT_RESULT, len + strlen(id));
    out_send(o, m->w->conf->kafka.output_topic, id, strlen(id), json, len, result_headers(m));
}

void kpub_dead_letter(struct kmsg *m, const rd_kafka_message_t *msg, const char *reason)
{
    struct kworker *w = m->w;
    rd_kafka_headers_t *orig = NULL;
    rd_kafka_headers_t *h = NULL;
    if (rd_kafka_message_headers(msg, &orig) == RD_KAFKA_RESP_ERR_NO_ERROR && orig)
        h = rd_kafka_headers_copy(orig);
    else
        h = rd_kafka_headers_new(4);
    char num[32];
    rd_kafka_header_add(h, "switchyard-error", -1, reason, -1);
    rd_kafka_header_add(h, "switchyard-source-topic", -1, rd_kafka_topic_name(msg->rkt), -1);
    snprintf(num, sizeof num, "%d", (int)msg->partition);
    rd_kafka_header_add(h, "switchyard-source-partition", -1, num, -1);
    snprintf(num, sizeof num, "%lld", (long long)msg->offset);
    rd_kafka_header_add(h, "switchyard-source-offset", -1, num, -1);
    rd_kafka_header_add(h, "switchyard-worker", -1, w->e.worker_id, -1);
    struct kout *o = out_new(m, KOUT_DLQ, msg->len + msg->key_len);
    out_send(o, w->conf->kafka.dlq_topic, msg->key, msg->key_len, msg->payload, msg->len, h);
    w->dead_lettered++;
    metrics_dead_lettered(w->e.m);
    struct log_ctx lc = {
        .job = m->id, .has_offset = 1, .partition = m->partition, .offset = m->offset
    };
    LOG_WARN(&lc, "dead-lettered: %s", reason);
    /* Tell whoever waits for this id, when the message owns one. */
    if (m->id) {
        char *json = engine_reject(&w->e, m->id, -1, reason);
        if (!json)
            kworker_oom("a failed result");
        kpub_result(m, json);
        free(json);
    }
}

void kpub_delivered(struct kworker *w, struct kout *o, int ok, rd_kafka_resp_err_t code,
                    const char *err, const rd_kafka_message_t *msg)
{
    struct kmsg *m = o->m;
    if (ok || w->closing || m->dropped) {
        if (!ok && !m->dropped) {
            m->failed = 1; /* shutdown purged it: not stored, redone by the next owner */
            w->lost++;
        }
        out_free(o);
        return;
    }
    const char *topic = rd_kafka_topic_name(msg->rkt);
    rd_kafka_headers_t *orig = NULL, *h = NULL;
    if (rd_kafka_message_headers(msg, &orig) == RD_KAFKA_RESP_ERR_NO_ERROR && orig)
        h = rd_kafka_headers_copy(orig);
    enum producer_errkind k = producer_classify(code);
    if (k == PRODUCER_TRANSIENT || (k == PRODUCER_UNKNOWN && o->attempts < KP_UNKNOWN_TRIES))
        park(o, topic, msg->key, msg->key_len, msg->payload, msg->len, h, 0, err);
    else
        fallback(o, code, err, topic, msg->key, msg->key_len, msg->payload, msg->len, h);
}

void kpub_close(struct kworker *w)
{
    while (w->parked) {
        struct kout *o = w->parked;
        w->parked = o->next;
        w->n_parked--;
        if (!o->m->dropped) {
            o->m->failed = 1;
            w->lost++;
        }
        out_free(o);
    }
    uv_timer_stop(&w->retry);
    uv_close((uv_handle_t *)&w->retry, NULL);
}
