/* producer.c — librdkafka producer glued to the loop.
 *
 * Delivery reports are read from the producer's main queue, which wakes the
 * loop through kafka_wake; a 100 ms timer serves it too, as a safety net for
 * the edge-triggered wake-up. The report callback hands each message's
 * opaque back to the owner, which frees what it handed over.
 *
 * message.max.bytes is a soft default of 1,000,000 (under the broker's and a
 * topic's default max.message.bytes of 1,048,588): a message the broker
 * would refuse fails at once in producev, where the caller can fall back. */
#include "producer.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kafka_conf.h"
#include "kafka_wake.h"
#include "core/sy.h"
#include "core/log.h"

struct producer {
    rd_kafka_t *rk;
    rd_kafka_queue_t *mainq;
    struct kafka_wake *wake;
    uv_timer_t tick;
    producer_dr_fn dr;
    producer_fatal_fn fatal;
    void *ud;
    size_t outstanding;
    int fatal_seen;
    rd_kafka_resp_err_t last_err;
};

static void on_dr(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque)
{
    (void)rk;
    struct producer *p = opaque;
    p->outstanding--;
    p->dr(p->ud, m->_private, m->err == RD_KAFKA_RESP_ERR_NO_ERROR, m->err,
          rd_kafka_err2str(m->err), m);
}

static void on_error(rd_kafka_t *rk, int err, const char *reason, void *opaque)
{
    struct producer *p = opaque;
    char buf[512];
    if (err == RD_KAFKA_RESP_ERR__FATAL) {
        rd_kafka_fatal_error(rk, buf, sizeof buf);
        if (!p->fatal_seen) {
            p->fatal_seen = 1;
            if (p->fatal)
                p->fatal(p->ud, buf);
        }
        return;
    }
    LOG_WARN(NULL, "kafka producer: %s: %s", rd_kafka_err2name((rd_kafka_resp_err_t)err), reason);
}

void producer_serve(struct producer *p)
{
    /* Bounded: a burst of reports cannot starve the rest of the loop; the
     * tick picks up what is left. */
    for (int i = 0; i < 64 && rd_kafka_poll(p->rk, 0) > 0; i++)
        ;
}

static void on_ready(void *ud)
{
    producer_serve(ud);
}

static void on_tick(uv_timer_t *t)
{
    producer_serve(t->data);
}

/* linger.ms 10 unless kafka.properties says otherwise. librdkafka 2.0.2's
 * idempotent producer keeps one request in flight per partition, and while a
 * ready batch waits for it the broker thread polls with a zero timeout. At
 * 5 ms, under load, that was a request per partition every few ms and a
 * spinning thread; 10 ms gave one worker (ledger on) 11-28 % more jobs/s and
 * the broker less CPU. The price: a lone result reaches its client up to
 * 10 ms later (BENCH.md, "Fifth pass"). Shutdown does not wait it out
 * (producer_flush). */
struct producer *producer_new(uv_loop_t *uv, const struct conf *c, producer_dr_fn dr,
                              producer_fatal_fn fatal, void *ud, char *err, size_t errlen)
{
    static const char *const fixed[] = {
        "enable.idempotence", "true", "acks", "all", NULL,
    };
    static const char *const soft[] = {
        "message.max.bytes",
        "1000000",
        "linger.ms",
        "10", /* see producer_new's comment */
        NULL,
    };
    rd_kafka_conf_t *kc = kafka_conf_new(c, fixed, err, errlen);
    if (!kc)
        return NULL;
    kafka_conf_soft(kc, c, soft);
    struct producer *p = calloc(1, sizeof *p);
    if (!p) {
        rd_kafka_conf_destroy(kc);
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    p->dr = dr;
    p->fatal = fatal;
    p->ud = ud;
    rd_kafka_conf_set_dr_msg_cb(kc, on_dr);
    rd_kafka_conf_set_error_cb(kc, on_error);
    rd_kafka_conf_set_opaque(kc, p);
    p->rk = kafka_client_new(RD_KAFKA_PRODUCER, kc, "kafka producer", err, errlen);
    if (!p->rk) {
        free(p);
        return NULL;
    }
    p->mainq = rd_kafka_queue_get_main(p->rk);
    p->wake = kafka_wake_new(uv, p->mainq, on_ready, p, err, errlen);
    if (!p->wake) {
        rd_kafka_queue_destroy(p->mainq);
        rd_kafka_destroy(p->rk);
        free(p);
        return NULL;
    }
    uv_timer_init(uv, &p->tick);
    p->tick.data = p;
    uv_timer_start(&p->tick, on_tick, 100, 100);
    return p;
}

int producer_warm(struct producer *p, const char *topic, int timeout_ms)
{
    return topic && topic[0] ? kafka_topic_partitions(p->rk, topic, timeout_ms) : 0;
}

int producer_send(struct producer *p, const char *topic, const void *key, size_t klen,
                  const void *val, size_t vlen, rd_kafka_headers_t *hdrs, void *opaque, char *err,
                  size_t errlen)
{
    return producer_send_to(p, topic, RD_KAFKA_PARTITION_UA, key, klen, val, vlen, hdrs, opaque,
                            err, errlen);
}

int producer_send_to(struct producer *p, const char *topic, int32_t partition, const void *key,
                     size_t klen, const void *val, size_t vlen, rd_kafka_headers_t *hdrs,
                     void *opaque, char *err, size_t errlen)
{
    rd_kafka_resp_err_t e;
    if (hdrs) {
        e = rd_kafka_producev(p->rk, RD_KAFKA_V_TOPIC(topic), RD_KAFKA_V_PARTITION(partition),
                              RD_KAFKA_V_KEY(key, klen), RD_KAFKA_V_VALUE((void *)val, vlen),
                              RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_HEADERS(hdrs),
                              RD_KAFKA_V_OPAQUE(opaque), RD_KAFKA_V_END);
    } else {
        e = rd_kafka_producev(p->rk, RD_KAFKA_V_TOPIC(topic), RD_KAFKA_V_PARTITION(partition),
                              RD_KAFKA_V_KEY(key, klen), RD_KAFKA_V_VALUE((void *)val, vlen),
                              RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_OPAQUE(opaque),
                              RD_KAFKA_V_END);
    }
    p->last_err = e;
    if (e == RD_KAFKA_RESP_ERR_NO_ERROR) {
        p->outstanding++;
        return SY_OK;
    }
    if (e == RD_KAFKA_RESP_ERR__QUEUE_FULL)
        return SY_AGAIN;
    snprintf(err, errlen, "produce to %s: %s", topic, rd_kafka_err2str(e));
    return SY_ERR;
}

rd_kafka_resp_err_t producer_last_error(const struct producer *p)
{
    return p->last_err;
}

enum producer_errkind producer_classify(rd_kafka_resp_err_t e)
{
    switch (e) {
    case RD_KAFKA_RESP_ERR__QUEUE_FULL:
    case RD_KAFKA_RESP_ERR__MSG_TIMED_OUT:
    case RD_KAFKA_RESP_ERR__TIMED_OUT:
    case RD_KAFKA_RESP_ERR__TRANSPORT:
    case RD_KAFKA_RESP_ERR__ALL_BROKERS_DOWN:
    case RD_KAFKA_RESP_ERR__RESOLVE:
    case RD_KAFKA_RESP_ERR__UNKNOWN_PARTITION:
    case RD_KAFKA_RESP_ERR__WAIT_COORD:
    case RD_KAFKA_RESP_ERR_LEADER_NOT_AVAILABLE:
    case RD_KAFKA_RESP_ERR_NOT_LEADER_FOR_PARTITION:
    case RD_KAFKA_RESP_ERR_REQUEST_TIMED_OUT:
    case RD_KAFKA_RESP_ERR_BROKER_NOT_AVAILABLE:
    case RD_KAFKA_RESP_ERR_REPLICA_NOT_AVAILABLE:
    case RD_KAFKA_RESP_ERR_NETWORK_EXCEPTION:
    case RD_KAFKA_RESP_ERR_NOT_ENOUGH_REPLICAS:
    case RD_KAFKA_RESP_ERR_NOT_ENOUGH_REPLICAS_AFTER_APPEND:
    case RD_KAFKA_RESP_ERR_KAFKA_STORAGE_ERROR:
    case RD_KAFKA_RESP_ERR_NOT_CONTROLLER:
    case RD_KAFKA_RESP_ERR_FENCED_LEADER_EPOCH:
    case RD_KAFKA_RESP_ERR_UNKNOWN_LEADER_EPOCH:
    case RD_KAFKA_RESP_ERR_PREFERRED_LEADER_NOT_AVAILABLE:
    case RD_KAFKA_RESP_ERR_THROTTLING_QUOTA_EXCEEDED:
    case RD_KAFKA_RESP_ERR_COORDINATOR_LOAD_IN_PROGRESS:
    case RD_KAFKA_RESP_ERR_COORDINATOR_NOT_AVAILABLE:
    case RD_KAFKA_RESP_ERR_OUT_OF_ORDER_SEQUENCE_NUMBER:
        return PRODUCER_TRANSIENT;
    case RD_KAFKA_RESP_ERR_MSG_SIZE_TOO_LARGE:
    case RD_KAFKA_RESP_ERR_INVALID_MSG_SIZE:
    case RD_KAFKA_RESP_ERR_INVALID_RECORD:
    case RD_KAFKA_RESP_ERR_RECORD_LIST_TOO_LARGE:
    case RD_KAFKA_RESP_ERR_TOPIC_AUTHORIZATION_FAILED:
    case RD_KAFKA_RESP_ERR_CLUSTER_AUTHORIZATION_FAILED:
    case RD_KAFKA_RESP_ERR_TOPIC_EXCEPTION:
    case RD_KAFKA_RESP_ERR_INVALID_REQUIRED_ACKS:
    case RD_KAFKA_RESP_ERR_INVALID_TIMESTAMP:
    case RD_KAFKA_RESP_ERR_UNSUPPORTED_FOR_MESSAGE_FORMAT:
    case RD_KAFKA_RESP_ERR_UNSUPPORTED_VERSION:
    case RD_KAFKA_RESP_ERR_POLICY_VIOLATION:
    case RD_KAFKA_RESP_ERR__INVALID_ARG:
    case RD_KAFKA_RESP_ERR__BAD_MSG:
        return PRODUCER_PERMANENT;
    default:
        return PRODUCER_UNKNOWN;
    }
}

size_t producer_outstanding(const struct producer *p)
{
    return p->outstanding;
}

int producer_flush(struct producer *p, int timeout_ms)
{
    /* rd_kafka_flush sends what linger.ms holds back at once and serves
     * the delivery reports until none is outstanding or timeout_ms passes. */
    if (p->outstanding > 0)
        rd_kafka_flush(p->rk, timeout_ms);
    int lost = (int)p->outstanding;
    if (lost > 0) {
        /* Give up on the rest: their reports arrive as failures, so owners
         * free what they handed over. */
        rd_kafka_purge(p->rk, RD_KAFKA_PURGE_F_QUEUE | RD_KAFKA_PURGE_F_INFLIGHT);
        for (int i = 0; i < 100 && p->outstanding > 0; i++)
            rd_kafka_poll(p->rk, 10);
    }
    return lost;
}

static void on_tick_closed(uv_handle_t *h)
{
    struct producer *p = h->data;
    rd_kafka_queue_destroy(p->mainq);
    rd_kafka_destroy(p->rk);
    free(p);
}

void producer_free(struct producer *p)
{
    if (!p)
        return;
    kafka_wake_free(p->wake);
    uv_timer_stop(&p->tick);
    uv_close((uv_handle_t *)&p->tick, on_tick_closed);
}
