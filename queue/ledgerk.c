/* ledgerk.c — the ledger topic, its writer and its takeover reader.
 *
 * Admin and metadata requests go through a consumer-type handle with
 * allow.auto.create.topics=false: asking a broker that auto-creates topics
 * about a missing ledger topic must never create it uncompacted.
 *
 * The writer's local queue is capped (LK_MAX_MESSAGES): a ledger that cannot
 * keep up drops records (reported as failed writes), it never blocks or
 * grows without bound. Both queues wake the loop through kafka_wake and are
 * served by a 50 ms timer too (the wake-up is edge-triggered). */
#include "ledgerk.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <librdkafka/rdkafka.h>

#include "kafka_conf.h"
#include "kafka_wake.h"
#include "core/log.h"
#include "core/sy.h"

#define LK_BATCH 1000
#define LK_MAX_MESSAGES "100000"
#define LK_MSG_TIMEOUT_MS "30000"
#define LK_META_MS 5000
#define LK_CHECK_MS 3000

struct ledgerk {
    rd_kafka_t *prk;      /* writer */
    rd_kafka_queue_t *pq; /* its main queue (delivery reports) */
    struct kafka_wake *pwake;
    rd_kafka_t *rk; /* reader */
    rd_kafka_queue_t *q;
    struct kafka_wake *wake;
    uv_timer_t tick;
    struct ledgerk_cbs cbs;
    char *topic;
    size_t outstanding;
};

static rd_kafka_t *admin_handle(const struct conf *c, int timeout_ms, char *err, size_t errlen)
{
    char ms[16];
    snprintf(ms, sizeof ms, "%d", timeout_ms);
    const char *fixed[] = { "allow.auto.create.topics", "false", "socket.timeout.ms", ms, NULL };
    rd_kafka_conf_t *kc = kafka_conf_new(c, fixed, err, errlen);
    return kc ? kafka_client_new(RD_KAFKA_CONSUMER, kc, "kafka admin", err, errlen) : NULL;
}

/* An existing ledger topic: enough partitions, compacted. */
static int check_existing(rd_kafka_t *rk, const struct conf *c, int want, int have, char *err,
                          size_t errlen)
{
    const char *t = c->kafka.ledger_topic;
    if (have < want) {
        snprintf(
                err, errlen,
                "kafka.ledger_topic %s has %d partitions, the input topic %s has %d: the ledger must "
                "have at least as many (add partitions, or name another topic)",
                t, have, c->kafka.input_topic, want);
        return SY_ERR;
    }
    char policy[128] = "", e[256] = "";
    if (kafka_topic_config(rk, t, "cleanup.policy", policy, sizeof policy, e, sizeof e) != SY_OK) {
        snprintf(err, errlen, "kafka.ledger_topic %s: cannot read its cleanup.policy: %s", t, e);
        return SY_AGAIN;
    }
    if (!strstr(policy, "compact")) {
        snprintf(
                err, errlen,
                "kafka.ledger_topic %s has cleanup.policy=%s: it must be compacted "
                "(kafka-configs --alter --add-config cleanup.policy=compact, or name another topic)",
                t, policy);
        return SY_ERR;
    }
    return SY_OK;
}

int ledgerk_ensure(const struct conf *c, char *err, size_t errlen)
{
    static const char *const configs[] = {
        "cleanup.policy", "compact", "min.compaction.lag.ms", "0", "segment.ms", "3600000", NULL
    };
    rd_kafka_t *rk = admin_handle(c, LK_META_MS, err, errlen);
    if (!rk)
        return SY_AGAIN;
    int rc = SY_AGAIN;
    int want = kafka_topic_partitions(rk, c->kafka.input_topic, LK_META_MS);
    int have = kafka_topic_partitions(rk, c->kafka.ledger_topic, LK_META_MS);
    const struct kafka_topic_spec spec = {
        .name = c->kafka.ledger_topic,
        .partitions = want,
        .replication = -1,
        .configs = configs,
    };
    if (want <= 0) {
        snprintf(err, errlen,
                 "kafka.ledger_topic: cannot read the partition count of input topic %s",
                 c->kafka.input_topic);
    } else if (have > 0) {
        rc = check_existing(rk, c, want, have, err, errlen);
    } else if (kafka_topic_create(rk, "kafka.ledger_topic", &spec, NULL, err, errlen) == SY_OK) {
        for (int i = 0;
             i < 50 && (have = kafka_topic_partitions(rk, c->kafka.ledger_topic, LK_META_MS)) <= 0;
             i++)
            rd_kafka_poll(rk, 100);
        if (have <= 0)
            snprintf(err, errlen, "kafka.ledger_topic %s: not visible after creation",
                     c->kafka.ledger_topic);
        else
            rc = check_existing(rk, c, want, have, err,
                                errlen); /* a racing creator may have made it otherwise */
    }
    rd_kafka_destroy(rk);
    return rc;
}

int ledgerk_check(const struct conf *c, char *err, size_t errlen)
{
    rd_kafka_t *rk = admin_handle(c, LK_CHECK_MS, err, errlen);
    if (!rk)
        return SY_AGAIN;
    int rc = SY_AGAIN;
    const struct rd_kafka_metadata *md = NULL;
    /* Any answer at all: the broker is reachable. */
    if (rd_kafka_metadata(rk, 0, NULL, &md, LK_CHECK_MS) == RD_KAFKA_RESP_ERR_NO_ERROR) {
        rd_kafka_metadata_destroy(md);
        int want = kafka_topic_partitions(rk, c->kafka.input_topic, LK_CHECK_MS);
        int have = kafka_topic_partitions(rk, c->kafka.ledger_topic, LK_CHECK_MS);
        rc = want > 0 && have > 0 ? check_existing(rk, c, want, have, err, errlen) : SY_OK;
    } else {
        snprintf(err, errlen, "broker %s did not answer", c->kafka.brokers);
    }
    rd_kafka_destroy(rk);
    return rc;
}

static void on_dr(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque)
{
    (void)rk;
    struct ledgerk *lk = opaque;
    lk->outstanding--;
    int64_t us = rd_kafka_message_latency(m);
    lk->cbs.on_ack(lk->cbs.ud, (int)(intptr_t)m->_private, m->err == RD_KAFKA_RESP_ERR_NO_ERROR,
                   rd_kafka_err2str(m->err), us > 0 ? (double)us / 1e6 : 0);
}

static void serve(struct ledgerk *lk)
{
    for (int i = 0; i < 64 && rd_kafka_poll(lk->prk, 0) > 0; i++)
        ;
    for (int i = 0; i < LK_BATCH; i++) {
        rd_kafka_message_t *m = rd_kafka_consumer_poll(lk->rk, 0);
        if (!m)
            return;
        if (m->err == RD_KAFKA_RESP_ERR__PARTITION_EOF)
            lk->cbs.on_eof(lk->cbs.ud, m->partition);
        else if (m->err)
            LOG_DEBUG(NULL, "ledger topic: %s", rd_kafka_message_errstr(m));
        else
            lk->cbs.on_record(lk->cbs.ud, m->partition, m->key, m->key_len, m->payload, m->len);
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

/* linger.ms 20. librdkafka 2.0.2's idempotent producer keeps one request in
 * flight per partition (it compares the partition's in-flight *messages*
 * with the 5-request limit), and while a ready batch waits for that request
 * its broker thread polls with a zero timeout. At 5 ms the three records a
 * job became a request per partition every few ms and a spinning thread:
 * with 20 ms (and results at 10), one worker's jobs/s rose by 44-77 % and
 * the broker's CPU fell by half or more (BENCH.md, "Fifth pass"). Nothing
 * waits for these acks in steady state; a crash loses at most the last
 * ~20 ms of records, whose jobs then run again (at-least-once). Revoke and
 * shutdown flush at once (ledgerk_flush), they never wait out the linger. */
static rd_kafka_t *writer(const struct conf *c, struct ledgerk *lk, char *err, size_t errlen)
{
    const char *fixed[] = {
        "enable.idempotence",           "true",          "acks", "all", "linger.ms", "20",
        "queue.buffering.max.messages", LK_MAX_MESSAGES, NULL,
    };
    static const char *const soft[] = { "message.timeout.ms", LK_MSG_TIMEOUT_MS, NULL };
    rd_kafka_conf_t *kc = kafka_conf_new(c, fixed, err, errlen);
    if (!kc)
        return NULL;
    kafka_conf_soft(kc, c, soft);
    rd_kafka_conf_set_dr_msg_cb(kc, on_dr);
    rd_kafka_conf_set_opaque(kc, lk);
    return kafka_client_new(RD_KAFKA_PRODUCER, kc, "ledger producer", err, errlen);
}

static rd_kafka_t *reader(const struct conf *c, char *err, size_t errlen)
{
    char group[512];
    snprintf(group, sizeof group, "%s.ledger", c->kafka.group);
    const char *fixed[] = {
        "group.id",
        group, /* never joined, never committed: assign() only */
        "enable.auto.commit",
        "false",
        "enable.auto.offset.store",
        "false",
        "auto.offset.reset",
        "earliest",
        "enable.partition.eof",
        "true",
        "allow.auto.create.topics",
        "false",
        "fetch.wait.max.ms",
        "10", /* the end of a partition is what a takeover waits for */
        NULL,
    };
    rd_kafka_conf_t *kc = kafka_conf_new(c, fixed, err, errlen);
    return kc ? kafka_client_new(RD_KAFKA_CONSUMER, kc, "ledger reader", err, errlen) : NULL;
}

struct ledgerk *ledgerk_new(uv_loop_t *uv, const struct conf *c, const struct ledgerk_cbs *cbs,
                            char *err, size_t errlen)
{
    struct ledgerk *lk = calloc(1, sizeof *lk);
    if (!lk || !(lk->topic = strdup(c->kafka.ledger_topic))) {
        free(lk);
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    lk->cbs = *cbs;
    lk->prk = writer(c, lk, err, errlen);
    lk->rk = lk->prk ? reader(c, err, errlen) : NULL;
    if (!lk->rk) {
        if (lk->prk)
            rd_kafka_destroy(lk->prk);
        free(lk->topic);
        free(lk);
        return NULL;
    }
    /* Startup only: learn the topic's leaders now. Otherwise the first write
     * and the first takeover wait for librdkafka's 1 s topic scan. */
    int n = kafka_topic_partitions(lk->prk, lk->topic, LK_META_MS);
    if (n > 0)
        kafka_topic_partitions(lk->rk, lk->topic, LK_META_MS);
    rd_kafka_poll_set_consumer(lk->rk);
    lk->q = rd_kafka_queue_get_consumer(lk->rk);
    lk->pq = rd_kafka_queue_get_main(lk->prk);
    lk->wake = kafka_wake_new(uv, lk->q, on_ready, lk, err, errlen);
    lk->pwake = kafka_wake_new(uv, lk->pq, on_ready, lk, err, errlen);
    uv_timer_init(uv, &lk->tick);
    lk->tick.data = lk;
    uv_timer_start(&lk->tick, on_tick, 50, 50);
    return lk;
}

int ledgerk_write(struct ledgerk *lk, int32_t p, const char *id, const void *val, size_t vlen,
                  int tag, char *err, size_t errlen)
{
    rd_kafka_resp_err_t e = rd_kafka_producev(
            lk->prk, RD_KAFKA_V_TOPIC(lk->topic), RD_KAFKA_V_PARTITION(p),
            RD_KAFKA_V_KEY(id, strlen(id)), RD_KAFKA_V_VALUE((void *)val, val ? vlen : 0),
            RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_OPAQUE((void *)(intptr_t)tag),
            RD_KAFKA_V_END);
    if (e != RD_KAFKA_RESP_ERR_NO_ERROR) {
        snprintf(err, errlen, "%s", rd_kafka_err2str(e));
        return SY_ERR;
    }
    lk->outstanding++;
    return SY_OK;
}

size_t ledgerk_outstanding(const struct ledgerk *lk)
{
    return lk ? lk->outstanding : 0;
}

int ledgerk_flush(struct ledgerk *lk, int timeout_ms)
{
    if (!lk)
        return 0;
    /* rd_kafka_flush sends what linger.ms holds back at once and serves
     * the delivery reports (on_dr) until none is outstanding or timeout_ms
     * passes. */
    if (lk->outstanding > 0)
        rd_kafka_flush(lk->prk, timeout_ms);
    return (int)lk->outstanding;
}

static void change(struct ledgerk *lk, int32_t p, int add)
{
    char e[256];
    if (lk && kafka_assign_one(lk->rk, lk->topic, p, RD_KAFKA_OFFSET_BEGINNING, add, e, sizeof e) !=
                      SY_OK)
        LOG_DEBUG(NULL, "ledger topic %s: %s partition %d: %s", lk->topic,
                  add ? "read" : "stop reading", (int)p, e);
}

void ledgerk_read(struct ledgerk *lk, int32_t p)
{
    change(lk, p, 1);
}

void ledgerk_stop_read(struct ledgerk *lk, int32_t p)
{
    change(lk, p, 0);
}

static void on_tick_closed(uv_handle_t *h)
{
    struct ledgerk *lk = h->data;
    rd_kafka_queue_destroy(lk->q);
    rd_kafka_queue_destroy(lk->pq);
    rd_kafka_consumer_close(lk->rk);
    rd_kafka_destroy(lk->rk);
    rd_kafka_destroy(lk->prk);
    free(lk->topic);
    free(lk);
}

void ledgerk_close(struct ledgerk *lk, int timeout_ms)
{
    if (!lk)
        return;
    int left = ledgerk_flush(lk, timeout_ms);
    if (left > 0) {
        LOG_WARN(NULL, "ledger topic %s: %d records not acknowledged at shutdown", lk->topic, left);
        rd_kafka_purge(lk->prk, RD_KAFKA_PURGE_F_QUEUE | RD_KAFKA_PURGE_F_INFLIGHT);
        for (int i = 0; i < 100 && lk->outstanding > 0; i++)
            rd_kafka_poll(lk->prk, 10);
    }
    kafka_wake_free(lk->wake);
    kafka_wake_free(lk->pwake);
    uv_timer_stop(&lk->tick);
    uv_close((uv_handle_t *)&lk->tick, on_tick_closed);
}
