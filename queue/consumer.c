/* consumer.c — librdkafka KafkaConsumer glued to the loop.
 *
 * The main queue is forwarded to the consumer queue (rd_kafka_poll_set_consumer)
 * so messages, rebalances, logs and errors all arrive on one queue, which
 * wakes the loop through kafka_wake. Each wake serves a bounded batch (500
 * messages, 4 MiB of values and keys, or 50 ms, whichever comes first); a
 * 50 ms timer keeps serving the queue, which both drains what a batch left
 * and keeps the member alive while the partitions are paused. While the
 * owner's window is full the consumer is throttled (no message taken, the
 * partitions not paused); see consumer.h.
 *
 * Prefetch is bounded by soft defaults (8 MiB queued per partition, 8 MiB
 * per fetch) that kafka.properties may override. */
#include "consumer.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kafka_conf.h"
#include "kafka_wake.h"
#include "core/sy.h"
#include "core/log.h"

#define CONSUMER_BATCH 500
#define CONSUMER_BATCH_BYTES (4 * 1024 * 1024)
#define CONSUMER_BATCH_MS 50
#define CONSUMER_THROTTLE_MS 1000 /* throttled this long: pause (see consumer_throttle) */

struct consumer {
    rd_kafka_t *rk;
    rd_kafka_queue_t *q;
    struct kafka_wake *wake;
    uv_timer_t tick;
    struct consumer_cbs cbs;
    char *topic;
    int paused;
    int throttled;
    int64_t throttled_ms; /* since when */
    int in_group;
    int topic_partitions;
    rd_kafka_topic_partition_list_t *assigned;
    rd_kafka_topic_partition_list_t *held; /* paused on their own (consumer_hold) */
};

static void apply_pause(struct consumer *k, rd_kafka_topic_partition_list_t *parts)
{
    if (parts->cnt == 0)
        return;
    if (k->paused) {
        rd_kafka_pause_partitions(k->rk, parts);
        return;
    }
    /* A global resume never resumes a held partition. */
    rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(parts->cnt);
    for (int i = 0; i < parts->cnt; i++)
        if (!rd_kafka_topic_partition_list_find(k->held, parts->elems[i].topic,
                                                parts->elems[i].partition))
            rd_kafka_topic_partition_list_add(l, parts->elems[i].topic, parts->elems[i].partition);
    if (l->cnt > 0)
        rd_kafka_resume_partitions(k->rk, l);
    rd_kafka_topic_partition_list_destroy(l);
}

static void pause_one(struct consumer *k, int32_t p, int pause)
{
    rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(1);
    rd_kafka_topic_partition_list_add(l, k->topic, p);
    if (pause)
        rd_kafka_pause_partitions(k->rk, l);
    else
        rd_kafka_resume_partitions(k->rk, l);
    rd_kafka_topic_partition_list_destroy(l);
}

void consumer_hold(struct consumer *k, int32_t p)
{
    if (!rd_kafka_topic_partition_list_find(k->held, k->topic, p))
        rd_kafka_topic_partition_list_add(k->held, k->topic, p);
    pause_one(k, p, 1);
}

void consumer_release(struct consumer *k, int32_t p)
{
    if (!rd_kafka_topic_partition_list_del(k->held, k->topic, p))
        return;
    if (!k->paused && rd_kafka_topic_partition_list_find(k->assigned, k->topic, p))
        pause_one(k, p, 0);
}

static void on_commit(rd_kafka_t *rk, rd_kafka_resp_err_t err,
                      rd_kafka_topic_partition_list_t *offs, void *opaque)
{
    (void)rk;
    struct consumer *k = opaque;
    if (err != RD_KAFKA_RESP_ERR_NO_ERROR || !offs || !k->cbs.on_committed)
        return;
    for (int i = 0; i < offs->cnt; i++)
        if (offs->elems[i].err == RD_KAFKA_RESP_ERR_NO_ERROR && offs->elems[i].offset >= 0 &&
            strcmp(offs->elems[i].topic, k->topic) == 0)
            k->cbs.on_committed(k->cbs.ud, offs->elems[i].partition, offs->elems[i].offset);
}

static void on_rebalance(rd_kafka_t *rk, rd_kafka_resp_err_t err,
                         rd_kafka_topic_partition_list_t *parts, void *opaque)
{
    struct consumer *k = opaque;
    int cooperative = strcmp(rd_kafka_rebalance_protocol(rk), "COOPERATIVE") == 0;
    if (err == RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS) {
        if (cooperative)
            rd_kafka_incremental_assign(rk, parts);
        else
            rd_kafka_assign(rk, parts);
        for (int i = 0; i < parts->cnt; i++) {
            rd_kafka_topic_partition_list_add(k->assigned, parts->elems[i].topic,
                                              parts->elems[i].partition);
            k->cbs.on_assign(k->cbs.ud, parts->elems[i].partition);
        }
        k->in_group = 1;
        if (k->paused)
            apply_pause(k, parts);
        LOG_INFO(NULL, "assigned %d partitions (%d total)", parts->cnt, k->assigned->cnt);
    } else {
        for (int i = 0; i < parts->cnt; i++) {
            k->cbs.on_revoke(k->cbs.ud, parts->elems[i].partition);
            rd_kafka_topic_partition_list_del(k->assigned, parts->elems[i].topic,
                                              parts->elems[i].partition);
            rd_kafka_topic_partition_list_del(k->held, parts->elems[i].topic,
                                              parts->elems[i].partition);
        }
        /* Send what on_revoke stored before the partitions go. */
        rd_kafka_commit(rk, NULL, 1);
        if (cooperative)
            rd_kafka_incremental_unassign(rk, parts);
        else
            rd_kafka_assign(rk, NULL);
        if (err == RD_KAFKA_RESP_ERR__REVOKE_PARTITIONS)
            LOG_INFO(NULL, "revoked %d partitions (%d left)", parts->cnt, k->assigned->cnt);
        else
            LOG_WARN(NULL, "rebalance error %s: gave up %d partitions", rd_kafka_err2name(err),
                     parts->cnt);
    }
    if (k->cbs.on_rebalanced)
        k->cbs.on_rebalanced(k->cbs.ud);
}

int consumer_topic_partitions(struct consumer *k)
{
    if (k->topic_partitions > 0)
        return k->topic_partitions;
    rd_kafka_topic_t *t = rd_kafka_topic_new(k->rk, k->topic, NULL);
    const struct rd_kafka_metadata *md = NULL;
    if (t && rd_kafka_metadata(k->rk, 0, t, &md, 2000) == RD_KAFKA_RESP_ERR_NO_ERROR) {
        if (md->topic_cnt == 1 && md->topics[0].err == RD_KAFKA_RESP_ERR_NO_ERROR)
            k->topic_partitions = md->topics[0].partition_cnt;
        rd_kafka_metadata_destroy(md);
    }
    if (t)
        rd_kafka_topic_destroy(t);
    return k->topic_partitions;
}

static void on_error(rd_kafka_t *rk, int err, const char *reason, void *opaque)
{
    (void)rk;
    (void)opaque;
    LOG_WARN(NULL, "kafka consumer: %s: %s", rd_kafka_err2name((rd_kafka_resp_err_t)err), reason);
}

static void serve(struct consumer *k)
{
    size_t bytes = 0;
    int64_t end = sy_now_ms() + CONSUMER_BATCH_MS;
    for (int i = 0; i < CONSUMER_BATCH && bytes < CONSUMER_BATCH_BYTES; i++) {
        if (i > 0 && sy_now_ms() >= end)
            return;
        if (k->throttled && !k->paused)
            return; /* paused, the queue holds no message to hand out: serve its events */
        rd_kafka_message_t *m = rd_kafka_consumer_poll(k->rk, 0);
        if (!m)
            return;
        if (m->err) {
            if (m->err != RD_KAFKA_RESP_ERR__PARTITION_EOF)
                LOG_WARN(NULL, "kafka consume: %s", rd_kafka_message_errstr(m));
        } else {
            bytes += m->len + m->key_len;
            k->cbs.on_message(k->cbs.ud, m);
        }
        rd_kafka_message_destroy(m);
    }
}

static void on_ready(void *ud)
{
    serve(ud);
}

static void on_tick(uv_timer_t *t)
{
    struct consumer *k = t->data;
    if (k->throttled && !k->paused && sy_now_ms() - k->throttled_ms >= CONSUMER_THROTTLE_MS) {
        LOG_DEBUG(NULL, "throttled for %d ms: pausing", CONSUMER_THROTTLE_MS);
        consumer_pause(k);
    }
    serve(k);
}

struct consumer *consumer_new(uv_loop_t *uv, const struct conf *c, const struct consumer_cbs *cbs,
                              char *err, size_t errlen)
{
    const char *fixed[] = {
        "group.id",
        c->kafka.group,
        "partition.assignment.strategy",
        "cooperative-sticky",
        "enable.auto.offset.store",
        "false",
        "enable.auto.commit",
        "true",
        "enable.partition.eof",
        "false",
        NULL,
    };
    /* Defaults an operator may override in kafka.properties. */
    static const char *const soft[] = {
        "auto.offset.reset",
        "earliest",
        "auto.commit.interval.ms",
        "1000",
        "session.timeout.ms",
        "10000",
        "heartbeat.interval.ms",
        "2000",
        "queued.max.messages.kbytes",
        "8192", /* librdkafka: 64 MiB per partition */
        "fetch.max.bytes",
        "8388608", /* librdkafka: 50 MiB */
        NULL,
    };
    rd_kafka_conf_t *kc = kafka_conf_new(c, fixed, err, errlen);
    if (!kc)
        return NULL;
    kafka_conf_soft(kc, c, soft);
    struct consumer *k = calloc(1, sizeof *k);
    if (!k) {
        rd_kafka_conf_destroy(kc);
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    k->cbs = *cbs;
    k->topic = strdup(c->kafka.input_topic);
    k->assigned = rd_kafka_topic_partition_list_new(16);
    k->held = rd_kafka_topic_partition_list_new(16);
    rd_kafka_conf_set_rebalance_cb(kc, on_rebalance);
    rd_kafka_conf_set_offset_commit_cb(kc, on_commit);
    rd_kafka_conf_set_error_cb(kc, on_error);
    rd_kafka_conf_set_opaque(kc, k);
    k->rk = kafka_client_new(RD_KAFKA_CONSUMER, kc, "kafka consumer", err, errlen);
    if (!k->rk) {
        rd_kafka_topic_partition_list_destroy(k->assigned);
        rd_kafka_topic_partition_list_destroy(k->held);
        free(k->topic);
        free(k);
        return NULL;
    }
    rd_kafka_poll_set_consumer(k->rk);
    k->q = rd_kafka_queue_get_consumer(k->rk);
    rd_kafka_topic_partition_list_t *sub = rd_kafka_topic_partition_list_new(1);
    rd_kafka_topic_partition_list_add(sub, k->topic, RD_KAFKA_PARTITION_UA);
    rd_kafka_resp_err_t se = rd_kafka_subscribe(k->rk, sub);
    rd_kafka_topic_partition_list_destroy(sub);
    if (se != RD_KAFKA_RESP_ERR_NO_ERROR) {
        snprintf(err, errlen, "subscribe %s: %s", k->topic, rd_kafka_err2str(se));
        rd_kafka_queue_destroy(k->q);
        rd_kafka_destroy(k->rk);
        rd_kafka_topic_partition_list_destroy(k->assigned);
        rd_kafka_topic_partition_list_destroy(k->held);
        free(k->topic);
        free(k);
        return NULL;
    }
    k->wake = kafka_wake_new(uv, k->q, on_ready, k, err, errlen);
    uv_timer_init(uv, &k->tick);
    k->tick.data = k;
    uv_timer_start(&k->tick, on_tick, 50, 50);
    return k;
}

void consumer_pause(struct consumer *k)
{
    if (k->paused)
        return;
    k->paused = 1;
    apply_pause(k, k->assigned);
}

void consumer_resume(struct consumer *k)
{
    if (!k->paused)
        return;
    k->paused = 0;
    apply_pause(k, k->assigned);
}

int consumer_paused(const struct consumer *k)
{
    return k->paused;
}

void consumer_throttle(struct consumer *k, int on)
{
    if (on && !k->throttled) {
        k->throttled = 1;
        k->throttled_ms = sy_now_ms();
    } else if (!on && k->throttled) {
        k->throttled = 0;
        uv_timer_start(&k->tick, on_tick, 0, 50); /* serve at once, from the loop */
    }
}

int consumer_store(struct consumer *k, int32_t partition, int64_t next)
{
    rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(1);
    rd_kafka_topic_partition_list_add(l, k->topic, partition)->offset = next;
    rd_kafka_resp_err_t e = rd_kafka_offsets_store(k->rk, l);
    int ok = e == RD_KAFKA_RESP_ERR_NO_ERROR && l->elems[0].err == RD_KAFKA_RESP_ERR_NO_ERROR;
    rd_kafka_topic_partition_list_destroy(l);
    return ok ? SY_OK : SY_ERR;
}

size_t consumer_assigned(const struct consumer *k)
{
    return (size_t)k->assigned->cnt;
}

int consumer_in_group(const struct consumer *k)
{
    return k->in_group && rd_kafka_assignment_lost(k->rk) == 0;
}

static void on_tick_closed(uv_handle_t *h)
{
    struct consumer *k = h->data;
    rd_kafka_queue_destroy(k->q);
    rd_kafka_destroy(k->rk);
    rd_kafka_topic_partition_list_destroy(k->assigned);
    rd_kafka_topic_partition_list_destroy(k->held);
    free(k->topic);
    free(k);
}

void consumer_close(struct consumer *k)
{
    if (!k)
        return;
    kafka_wake_free(k->wake);
    uv_timer_stop(&k->tick);
    /* Leaving the group runs the revoke callback for what is still assigned. */
    rd_kafka_resp_err_t e = kafka_commit_and_close(k->rk);
    if (e != RD_KAFKA_RESP_ERR_NO_ERROR)
        LOG_WARN(NULL, "final commit: %s", rd_kafka_err2str(e));
    uv_close((uv_handle_t *)&k->tick, on_tick_closed);
}
