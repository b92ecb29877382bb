/* kafka_conf.h — librdkafka setup without libuv, shared by the worker's
 * clients (queue/consumer, producer, cbtopic, ledgerk), switchyard-enqueue
 * and the Kafka test helpers: config building, client creation, topic admin
 * and the consumer's last commit. The loop wake-up is queue/kafka_wake.h. */
#ifndef QUEUE_KAFKA_CONF_H
#define QUEUE_KAFKA_CONF_H

#include <stddef.h>
#include <stdint.h>

#include <librdkafka/rdkafka.h>

#include "conf/config.h"

/* ---- configuration ---- */

/* A new rd_kafka_conf_t: bootstrap.servers = brokers, then the n props in
 * order, then the (name, value) pairs of `fixed` (NULL terminated; may be
 * NULL), each overriding what came before. NULL with err on a refused
 * property (as kafka_conf_set). Caller owns the conf until rd_kafka_new
 * takes it. No log callback: librdkafka's default. */
rd_kafka_conf_t *kafka_conf_build(const char *brokers, const struct conf_kv *props, size_t n,
                                  const char *const *fixed, char *err, size_t errlen);

/* kafka_conf_build from c->kafka (brokers, kafka.properties) plus `fixed`,
 * with librdkafka's log routed through core/log. Same ownership and errors. */
rd_kafka_conf_t *kafka_conf_new(const struct conf *c, const char *const *fixed, char *err,
                                size_t errlen);

/* Set one property. SY_OK, or SY_ERR with err "kafka property NAME: why";
 * the value never appears (it may be a secret): librdkafka's quote of it is
 * shown as ***. */
int kafka_conf_set(rd_kafka_conf_t *kc, const char *name, const char *value, char *err,
                   size_t errlen);

/* kafka_conf_set for each (name, value) pair of `pairs` (NULL terminated;
 * may be NULL); stops at the first refusal. SY_OK or SY_ERR with err. */
int kafka_conf_set_pairs(rd_kafka_conf_t *kc, const char *const *pairs, char *err, size_t errlen);

/* Apply the (name, value) pairs of `soft` (NULL terminated) that
 * kafka.properties does not set: defaults an operator may override. A value
 * librdkafka refuses is skipped (the librdkafka default stays). */
void kafka_conf_soft(rd_kafka_conf_t *kc, const struct conf *c, const char *const *soft);

/* rd_kafka_new(type, kc): takes kc (destroyed on failure); NULL with err
 * ("<what>: why"). */
rd_kafka_t *kafka_client_new(rd_kafka_type_t type, rd_kafka_conf_t *kc, const char *what, char *err,
                             size_t errlen);

/* ---- consumers ---- */

/* A consumer's last act: commit what is stored, then leave the group
 * (rd_kafka_consumer_close, which may run the rebalance callback). Returns
 * the commit's error; "nothing to commit" counts as none. A commit the
 * coordinator refuses for a moment (moving, loading, timed out) is tried
 * again, up to 10 times 300 ms apart. Blocks for at most that. */
rd_kafka_resp_err_t kafka_commit_and_close(rd_kafka_t *rk);

/* Add (add = 1, reading from offset) or remove partition p of topic in the
 * assignment of a consumer assigned by hand. SY_OK, or SY_ERR with err. */
int kafka_assign_one(rd_kafka_t *rk, const char *topic, int32_t p, int64_t offset, int add,
                     char *err, size_t errlen);

/* ---- topics: startup only (each blocks up to ~20 s) ---- */

/* Partition count of topic from metadata; 0 = missing or unknown. Also
 * warms the client: it learns the topic's leaders now. */
int kafka_topic_partitions(rd_kafka_t *rk, const char *topic, int timeout_ms);

struct kafka_topic_spec {
    const char *name;
    int partitions;
    int replication;            /* -1: the broker's default */
    const char *const *configs; /* NULL-terminated name/value pairs; may be NULL */
};
/* CreateTopics for t. SY_OK when created or when it exists already
 * (*existed, if not NULL, tells which: the existing topic is left as it is);
 * SY_ERR with err ("<what> <name>: why"). */
int kafka_topic_create(rd_kafka_t *rk, const char *what, const struct kafka_topic_spec *t,
                       int *existed, char *err, size_t errlen);

/* The value of topic config key (DescribeConfigs) into out. SY_OK or SY_ERR
 * with err. */
int kafka_topic_config(rd_kafka_t *rk, const char *name, const char *key, char *out, size_t cap,
                       char *err, size_t errlen);

#endif
