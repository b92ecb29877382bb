/* kafka_common.h — librdkafka setup shared by the consumer and the producer:
 * config from struct conf, the log bridge, and the fd that wakes the libuv
 * loop when a librdkafka queue has something for us. */
#ifndef QUEUE_KAFKA_COMMON_H
#define QUEUE_KAFKA_COMMON_H

#include <stddef.h>

#include <librdkafka/rdkafka.h>
#include <uv.h>

#include "conf/config.h"

/* A new rd_kafka_conf_t with bootstrap.servers, the log bridge and every
 * kafka.properties entry, then the (name, value) pairs of `fixed` (NULL
 * terminated) applied on top. NULL with err on a bad property. Caller owns it
 * until rd_kafka_new takes it. */
rd_kafka_conf_t *kafka_conf_new(const struct conf *c, const char *const *fixed, char *err, size_t errlen);

/* Apply the (name, value) pairs of `soft` (NULL terminated) that
 * kafka.properties does not set: defaults an operator may override. A value
 * librdkafka refuses is skipped (the librdkafka default stays). */
void kafka_conf_soft(rd_kafka_conf_t *kc, const struct conf *c, const char *const *soft);

/* Wakes the loop when queue q turns non-empty (rd_kafka_queue_io_event_enable
 * over a pipe watched by a uv_poll). on_ready runs on the loop thread. */
struct kafka_wake;
typedef void (*kafka_wake_fn)(void *ud);
struct kafka_wake *kafka_wake_new(uv_loop_t *uv, rd_kafka_queue_t *q, kafka_wake_fn on_ready, void *ud,
                                  char *err, size_t errlen);
/* Stop watching, disable the io event, close the pipe (async) and free. Does
 * not destroy q. */
void kafka_wake_free(struct kafka_wake *w);

/* A consumer's last act: commit what is stored, then leave the group
 * (rd_kafka_consumer_close, which may run the rebalance callback). Returns
 * the commit's error; "nothing to commit" counts as none. A commit the
 * coordinator refuses for a moment (moving, loading, timed out) is tried
 * again, up to 10 times 300 ms apart. Blocks for at most that. */
rd_kafka_resp_err_t kafka_commit_and_close(rd_kafka_t *rk);

/* Add (add = 1, reading from offset) or remove partition p of topic in the
 * assignment of a consumer assigned by hand. SY_OK, or SY_ERR with err. */
int kafka_assign_one(rd_kafka_t *rk, const char *topic, int32_t p, int64_t offset, int add, char *err,
                     size_t errlen);

/* rd_kafka_new(type, kc): takes kc (destroyed on failure); NULL with err
 * ("<what>: why"). */
rd_kafka_t *kafka_client_new(rd_kafka_type_t type, rd_kafka_conf_t *kc, const char *what, char *err, size_t errlen);

/* ---- topics: startup only (each blocks up to ~20 s) ---- */

/* Partition count of topic from metadata; 0 = missing or unknown. */
int kafka_topic_partitions(rd_kafka_t *rk, const char *topic, int timeout_ms);
/* CreateTopics name with partitions and topic configs (NULL-terminated
 * name/value pairs; may be NULL), the broker's default replication. SY_OK,
 * also when it exists already; SY_ERR with err ("<what> <name>: why"). */
int kafka_topic_create(rd_kafka_t *rk, const char *what, const char *name, int partitions,
                       const char *const *configs, char *err, size_t errlen);
/* The value of topic config key (DescribeConfigs) into out. SY_OK or SY_ERR
 * with err. */
int kafka_topic_config(rd_kafka_t *rk, const char *name, const char *key, char *out, size_t cap, char *err,
                       size_t errlen);

#endif
