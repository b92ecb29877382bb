/* kafkatest.h — librdkafka helpers for the end-to-end tests: the broker
 * address, unique names, topics (admin API), a producer that records where
 * each message landed, a reader that consumes a whole topic without a group,
 * committed offsets and group membership, a config writer with a kafka group,
 * and switchyard worker processes (killed with the test: PR_SET_PDEATHSIG).
 * Every helper asserts (Criterion) instead of returning errors. Only for the
 * test process, never from a callback. */
#ifndef TESTS_KAFKATEST_H
#define TESTS_KAFKATEST_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include <librdkafka/rdkafka.h>

#include "sytest.h"

/* $SY_KAFKA_BROKERS; the test fails (not skips) when it is unset. */
const char *kt_brokers(void);

/* "e2e-TAG-PID-N-SECS": unique per process, call and run. */
void kt_unique(char *out, size_t cap, const char *tag);

/* Create a topic with `partitions` partitions; max_message_bytes > 0 sets the
 * topic's max.message.bytes. Waits until its metadata shows every partition
 * with a leader. */
void kt_create_topic(const char *name, int partitions, long max_message_bytes);

/* ---- producing ---- */

/* Where one produced message landed; filled by its delivery report. */
struct kt_dr {
    int32_t partition;
    int64_t offset;
    rd_kafka_resp_err_t err;
    int done;
};

struct kt_producer;

/* An idempotent acks=all producer allowed 8 MiB messages. Free with kt_producer_free(). */
struct kt_producer *kt_producer_new(void);
/* Queue one message (key/val may be NULL; partition RD_KAFKA_PARTITION_UA for
 * the partitioner). headers: NULL or "name", "value", ..., NULL. dr (may be
 * NULL) is borrowed until kt_producer_flush() returns. */
void kt_produce(struct kt_producer *p, const char *topic, int32_t partition, const void *key,
                size_t klen, const void *val, size_t vlen, const char *const *headers,
                struct kt_dr *dr);
/* Wait for every delivery report (asserts within timeout_ms, and that none failed). */
void kt_producer_flush(struct kt_producer *p, int timeout_ms);
void kt_producer_free(struct kt_producer *p);

/* ---- reading ---- */

struct kt_reader;

/* Called for each record; msg is borrowed for the call. */
typedef void (*kt_record_fn)(void *ud, const rd_kafka_message_t *msg);

/* A group-less consumer assigned every partition of topic from the beginning. */
struct kt_reader *kt_reader_new(const char *topic);
/* Deliver every record up to the partitions' current high watermarks (asked
 * now) to fn; returns how many were delivered. Gives up after timeout_ms
 * (returns what it read by then). Later calls continue where this one stopped. */
size_t kt_reader_drain(struct kt_reader *r, kt_record_fn fn, void *ud, int timeout_ms);
void kt_reader_free(struct kt_reader *r);

/* A header's value as a NUL-terminated copy in buf (truncated to cap), or NULL
 * when msg has no such header. */
const char *kt_header(const rd_kafka_message_t *msg, const char *name, char *buf, size_t cap);

/* ---- group state ---- */

/* Committed offset of group on topic/partition for each of n partitions into
 * out (-1 = none). */
void kt_committed(const char *group, const char *topic, int n, int64_t *out);

/* High watermark (end offset) of each of n partitions of topic into out. */
void kt_end_offsets(const char *topic, int n, int64_t *out);

struct kt_member {
    char client_id[128];
    uint64_t partitions; /* bit p set: partition p (< 64) of the group's topic assigned */
    int n_partitions;
};

/* Describe group: fills up to cap members, returns the member count, or -1
 * when the describe failed. *stable is set when the group is Stable. */
int kt_group_members(const char *group, struct kt_member *out, int cap, int *stable);
/* Wait until group is Stable with exactly n members, each with at least one
 * partition, together holding `partitions`. Asserts within timeout_ms. */
void kt_wait_group(const char *group, int n, int partitions, int timeout_ms);

/* ---- config and worker processes ---- */

struct kt_topics {
    const char *group, *input, *output, *dlq;
};

/* Write a worker config for fakeprov fp with a kafka group (like
 * sy_write_config, plus provider limits well above what a test needs).
 * worker_extra goes inside `worker`, prov_extra inside each provider,
 * kafka_props inside `kafka.properties` (each may be ""). */
void kt_write_config(const struct fakeprov *fp, const char *path, const struct kt_topics *t,
                     const char *worker_extra, const char *prov_extra, const char *kafka_props);

/* Start `switchyard -c conf` with stderr appended to log (stdout to
 * /dev/null); it gets SIGKILL when the test process dies. */
pid_t kt_worker_start(const char *conf, const char *log);
/* SIGTERM pid and wait up to timeout_s (then SIGKILL). Returns the exit
 * status (-1 for a signal or the timeout); *elapsed_ms (may be NULL) gets
 * the time from the signal to the exit. */
int kt_worker_stop(pid_t pid, int timeout_s, long *elapsed_ms);
/* Reap pid if it has exited: 1 and *status, else 0. */
int kt_worker_exited(pid_t pid, int *status);

/* Monotonic milliseconds. */
int64_t kt_now_ms(void);
void kt_sleep_ms(long ms);

/* A test file's main() for e2e files that share the one broker: runs their
 * tests one at a time, whatever -j CTest passes. Returns the exit status. */
int kt_run_serial(int argc, char *argv[]);

#endif
