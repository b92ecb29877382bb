/* cbtopic.c — the callback topic: creation (Admin API) and the reader.
 *
 * The reader is a KafkaConsumer that never subscribes: partitions are added
 * and removed with rd_kafka_incremental_assign/unassign as the input
 * assignment changes. Its consumer queue wakes the loop through kafka_wake,
 * and a 100 ms timer serves it as well (the wake-up is edge-triggered).
 *
 * Handoffs are produced by a producer of the topic's own (not the results'
 * one), whose local queue is capped at CBT_MAX_MESSAGES / CBT_MAX_KBYTES:
 * a callback flood can never take queue space from results, and what is
 * over the cap is dropped (the job's safety poll covers it) with one
 * warning per CBT_WARN_MS. Its delivery reports are served by the same
 * timer. */
#include "cbtopic.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "kafka_conf.h"
#include "kafka_wake.h"
#include "core/log.h"
#include "core/sy.h"
#include "providers/prov_util.h"

#define CBT_BATCH 500
#define CBT_RETENTION_MS "7200000" /* 2 h, for a topic this creates */
#define CBT_MAX_MESSAGES "1000"    /* handoffs queued in the producer at most ... */
#define CBT_MAX_KBYTES "16384"     /* ... and their bytes (16 MiB) */
#define CBT_WARN_MS 10000
#define CBT_FLUSH_MS 2000

struct cbtopic {
    rd_kafka_t *rk;
    rd_kafka_queue_t *q;
    struct kafka_wake *wake;
    uv_timer_t tick;
    cbtopic_msg_fn fn;
    void *ud;
    char *topic;
    rd_kafka_t *prk;               /* the handoff producer */
    int64_t warned_ms;             /* last over-budget / failed-delivery warning */
    unsigned long dropped, failed; /* since that warning */
};

int cbtopic_ensure(const struct conf *c, char *err, size_t errlen)
{
    /* A callback older than this is for a task long given up (poll.max_s). */
    static const char *const retention[] = { "retention.ms", CBT_RETENTION_MS, NULL };
    rd_kafka_conf_t *kc = kafka_conf_new(c, NULL, err, errlen);
    rd_kafka_t *rk =
            kc ? kafka_client_new(RD_KAFKA_PRODUCER, kc, "kafka admin", err, errlen) : NULL;
    if (!rk)
        return -1;
    int want = kafka_topic_partitions(rk, c->kafka.input_topic, 5000);
    int have = -1;
    const struct kafka_topic_spec spec = {
        .name = c->kafka.callback_topic,
        .partitions = want,
        .replication = -1,
        .configs = retention,
    };
    if (want <= 0) {
        snprintf(err, errlen, "callback topic: cannot read the partition count of input topic %s",
                 c->kafka.input_topic);
    } else if (kafka_topic_create(rk, "callback topic", &spec, NULL, err, errlen) == SY_OK) {
        /* Metadata can lag the creation for a moment. */
        for (int i = 0;
             i < 50 && (have = kafka_topic_partitions(rk, c->kafka.callback_topic, 5000)) <= 0; i++)
            rd_kafka_poll(rk, 100);
        if (have <= 0) {
            snprintf(err, errlen, "callback topic %s: not visible after creation",
                     c->kafka.callback_topic);
            have = -1;
        } else if (have < want) {
            LOG_WARN(
                    NULL,
                    "callback topic %s has %d partitions, input %s has %d: callbacks for input partitions >= %d"
                    " cannot be handed over (their jobs fall back to the safety poll)",
                    c->kafka.callback_topic, have, c->kafka.input_topic, want, have);
        }
    }
    rd_kafka_destroy(rk);
    return have;
}

static void serve(struct cbtopic *t)
{
    rd_kafka_poll(t->prk, 0); /* handoff delivery reports */
    for (int i = 0; i < CBT_BATCH; i++) {
        rd_kafka_message_t *m = rd_kafka_consumer_poll(t->rk, 0);
        if (!m)
            return;
        if (m->err) {
            if (m->err != RD_KAFKA_RESP_ERR__PARTITION_EOF)
                LOG_WARN(NULL, "callback topic: %s", rd_kafka_message_errstr(m));
        } else {
            t->fn(t->ud, m);
        }
        rd_kafka_message_destroy(m);
    }
}

static void on_ready(void *ud)
{
    serve(ud);
}

static void on_tick(uv_timer_t *h)
{
    serve(h->data);
}

/* A warning at most once per CBT_WARN_MS, with what was dropped or lost since. */
static void warn_dropped(struct cbtopic *t)
{
    int64_t now = sy_now_ms();
    if (now - t->warned_ms < CBT_WARN_MS)
        return;
    t->warned_ms = now;
    LOG_WARN(
            NULL,
            "callback topic %s: %lu handoffs dropped over the budget, %lu not delivered (their jobs' "
            "safety polls cover them)",
            t->topic, t->dropped, t->failed);
    t->dropped = t->failed = 0;
}

static void on_handoff_dr(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque)
{
    (void)rk;
    struct cbtopic *t = opaque;
    if (m->err) {
        t->failed++;
        warn_dropped(t);
    }
}

static rd_kafka_t *handoff_producer(const struct conf *c, struct cbtopic *t, char *err,
                                    size_t errlen)
{
    const char *fixed[] = {
        "queue.buffering.max.messages",
        CBT_MAX_MESSAGES,
        "queue.buffering.max.kbytes",
        CBT_MAX_KBYTES,
        "enable.idempotence",
        "false",
        "acks",
        "1",
        "linger.ms",
        "5",
        NULL,
    };
    rd_kafka_conf_t *kc = kafka_conf_new(c, fixed, err, errlen);
    if (!kc)
        return NULL;
    rd_kafka_conf_set_dr_msg_cb(kc, on_handoff_dr);
    rd_kafka_conf_set_opaque(kc, t);
    return kafka_client_new(RD_KAFKA_PRODUCER, kc, "callback topic producer", err, errlen);
}

int cbtopic_send(struct cbtopic *t, int32_t p, const void *key, size_t klen, const void *val,
                 size_t vlen, char *err, size_t errlen)
{
    rd_kafka_resp_err_t e =
            rd_kafka_producev(t->prk, RD_KAFKA_V_TOPIC(t->topic), RD_KAFKA_V_PARTITION(p),
                              RD_KAFKA_V_KEY(key, klen), RD_KAFKA_V_VALUE((void *)val, vlen),
                              RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_END);
    if (e == RD_KAFKA_RESP_ERR_NO_ERROR)
        return SY_OK;
    if (e == RD_KAFKA_RESP_ERR__QUEUE_FULL) {
        t->dropped++;
        warn_dropped(t);
        return SY_AGAIN;
    }
    snprintf(err, errlen, "%s", rd_kafka_err2str(e));
    return SY_ERR;
}

struct cbtopic *cbtopic_new(uv_loop_t *uv, const struct conf *c, cbtopic_msg_fn fn, void *ud,
                            char *err, size_t errlen)
{
    char group[512];
    snprintf(group, sizeof group, "%s.callbacks", c->kafka.group);
    const char *fixed[] = {
        "group.id",
        group,
        "enable.auto.commit",
        "true",
        "enable.auto.offset.store",
        "true",
        "auto.offset.reset",
        "earliest",
        "enable.partition.eof",
        "false",
        NULL,
    };
    rd_kafka_conf_t *kc = kafka_conf_new(c, fixed, err, errlen);
    if (!kc)
        return NULL;
    struct cbtopic *t = calloc(1, sizeof *t);
    if (t)
        t->topic = strdup(c->kafka.callback_topic);
    if (!t || !t->topic) {
        snprintf(err, errlen, "callback topic consumer: out of memory");
        rd_kafka_conf_destroy(kc);
        free(t);
        return NULL;
    }
    t->rk = kafka_client_new(RD_KAFKA_CONSUMER, kc, "callback topic consumer", err, errlen);
    if (!t->rk || !(t->prk = handoff_producer(c, t, err, errlen))) {
        if (t->rk)
            rd_kafka_destroy(t->rk);
        free(t->topic);
        free(t);
        return NULL;
    }
    t->fn = fn;
    t->ud = ud;
    rd_kafka_poll_set_consumer(t->rk);
    t->q = rd_kafka_queue_get_consumer(t->rk);
    t->wake = kafka_wake_new(uv, t->q, on_ready, t, err, errlen);
    uv_timer_init(uv, &t->tick);
    t->tick.data = t;
    uv_timer_start(&t->tick, on_tick, 100, 100);
    return t;
}

static void change(struct cbtopic *t, int32_t p, int add)
{
    char e[256];
    if (!t)
        return;
    if (kafka_assign_one(t->rk, t->topic, p, RD_KAFKA_OFFSET_STORED, add, e, sizeof e) != SY_OK)
        LOG_WARN(NULL, "callback topic %s: %s partition %d: %s", t->topic,
                 add ? "assign" : "unassign", (int)p, e);
    else
        LOG_DEBUG(NULL, "callback topic %s: %s partition %d", t->topic, add ? "reading" : "left",
                  (int)p);
}

void cbtopic_assign(struct cbtopic *t, int32_t p)
{
    change(t, p, 1);
}

void cbtopic_unassign(struct cbtopic *t, int32_t p)
{
    change(t, p, 0);
}

static void on_tick_closed(uv_handle_t *h)
{
    struct cbtopic *t = h->data;
    rd_kafka_queue_destroy(t->q);
    rd_kafka_destroy(t->rk);
    rd_kafka_destroy(t->prk);
    free(t->topic);
    free(t);
}

void cbtopic_close(struct cbtopic *t)
{
    if (!t)
        return;
    kafka_wake_free(t->wake);
    uv_timer_stop(&t->tick);
    if (rd_kafka_flush(t->prk, CBT_FLUSH_MS) != RD_KAFKA_RESP_ERR_NO_ERROR)
        LOG_DEBUG(NULL, "callback topic: %d handoffs not delivered at shutdown",
                  rd_kafka_outq_len(t->prk));
    rd_kafka_resp_err_t e = kafka_commit_and_close(t->rk);
    if (e != RD_KAFKA_RESP_ERR_NO_ERROR)
        LOG_DEBUG(NULL, "callback topic final commit: %s", rd_kafka_err2str(e));
    uv_close((uv_handle_t *)&t->tick, on_tick_closed);
}

/* ---- the envelope: the callback topic's message ---- */

void cbtopic_event_cleanup(struct cbtopic_event *ev)
{
    free(ev->job_id);
    free(ev->body);
    ev->job_id = NULL;
    ev->body = NULL;
}

static void add_str(struct json_object *o, const char *key, const char *v)
{
    if (v && *v)
        json_object_object_add(o, key, json_object_new_string(v));
}

/* The envelope with or without the body; NULL on out of memory. */
static char *envelope(const struct cbtopic_event *ev, int with_body, size_t *len)
{
    struct json_object *o = json_object_new_object();
    json_object_object_add(o, "provider", json_object_new_string(ev->provider));
    json_object_object_add(o, "job", json_object_new_string(ev->job_id));
    json_object_object_add(o, "task_id", json_object_new_string(ev->task_id));
    json_object_object_add(o, "partition", json_object_new_int(ev->partition));
    if (with_body) {
        json_object_object_add(o, "event", json_object_new_string_len(ev->body, (int)ev->body_len));
        add_str(o, "wh_id", ev->wh_id);
        add_str(o, "wh_ts", ev->wh_ts);
        add_str(o, "wh_sig", ev->wh_sig);
    } else {
        json_object_object_add(o, "event", json_object_new_string(""));
    }
    size_t n = 0;
    const char *s = json_object_to_json_string_length(
            o, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE, &n);
    char *out = s ? strndup(s, n) : NULL;
    *len = out ? n : 0;
    json_object_put(o);
    return out;
}

char *cbtopic_envelope_encode(const struct cbtopic_event *ev, size_t *len)
{
    int with_body = ev->body && ev->body_len > 0 && ev->body_len < CBTOPIC_MAX_ENVELOPE;
    char *out = envelope(ev, with_body, len);
    if (out && with_body && *len > CBTOPIC_MAX_ENVELOPE) {
        /* Escaping grew it past the cap: the owner polls instead. */
        free(out);
        out = envelope(ev, 0, len);
    }
    return out;
}

/* String member key of o when it holds no NUL; NULL otherwise (*present
 * says whether the member exists at all). */
static const char *plain_str(struct json_object *o, const char *key, int *present)
{
    struct json_object *v = NULL;
    *present = json_object_object_get_ex(o, key, &v);
    if (!*present || !json_object_is_type(v, json_type_string))
        return NULL;
    const char *s = json_object_get_string(v);
    /* json-c keeps \u0000 inside a string: strlen would disagree with the length. */
    return strlen(s) == (size_t)json_object_get_string_len(v) ? s : NULL;
}

/* Copy member key of o into buf (cap bytes): 1 when it fits, or is absent
 * and optional; 0 otherwise. */
static int copy_str(struct json_object *o, const char *key, int required, char *buf, size_t cap)
{
    int present;
    const char *v = plain_str(o, key, &present);
    buf[0] = '\0';
    if (!present)
        return !required;
    if (!v || strlen(v) >= cap)
        return 0;
    snprintf(buf, cap, "%s", v);
    return 1;
}

int cbtopic_envelope_decode(const char *data, size_t len, struct cbtopic_event *ev)
{
    memset(ev, 0, sizeof *ev);
    if (len > CBTOPIC_MAX_ENVELOPE)
        return SY_ERR;
    struct json_object *o = prov_json_parse(data, len);
    int present;
    const char *job = o ? plain_str(o, "job", &present) : NULL;
    const char *body = o ? plain_str(o, "event", &present) : NULL;
    long part = -1;
    int ok = job && body && copy_str(o, "provider", 1, ev->provider, sizeof ev->provider) &&
             copy_str(o, "task_id", 1, ev->task_id, sizeof ev->task_id) &&
             copy_str(o, "wh_id", 0, ev->wh_id, sizeof ev->wh_id) &&
             copy_str(o, "wh_ts", 0, ev->wh_ts, sizeof ev->wh_ts) &&
             copy_str(o, "wh_sig", 0, ev->wh_sig, sizeof ev->wh_sig) &&
             prov_json_int(o, "partition", &part) == 1 && part >= -1 && part <= INT32_MAX;
    if (ok) {
        ev->partition = (int32_t)part;
        ev->body_len = strlen(body);
        ev->job_id = strdup(job);
        ev->body = strdup(body);
        ok = ev->job_id && ev->body;
    }
    json_object_put(o);
    if (!ok)
        cbtopic_event_cleanup(ev);
    return ok ? SY_OK : SY_ERR;
}
