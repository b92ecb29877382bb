/* e2eworld.h — a Kafka end-to-end test's world, shared by test_e2e_kafka.c
 * and test_e2e_malformed.c: fakeprov, unique topics and group, a producer
 * of jobs "job-N", and the `switchyard -c` workers it started. */
#ifndef TESTS_E2EWORLD_H
#define TESTS_E2EWORLD_H

#include <sys/types.h>

#include "kafkatest.h"
#include "sytest.h"

#define WORLD_MAX_WORKERS 8

struct world {
    struct fakeprov fp;
    char dir[256];
    char group[128], in[128], out[128], dlq[128];
    struct kt_topics t;
    int partitions;
    struct kt_producer *prod;
    struct kt_dr *drs;
    int n_jobs;
    pid_t pids[WORLD_MAX_WORKERS];
    int n_pids;
};

/* fakeprov (--gen-ms gen_ms), a temp dir, topics TAG-*-in (partitions,
 * in_max_bytes: max.message.bytes, 0 = the broker's), -out and -dlq, a group,
 * a producer, and delivery reports for n_jobs jobs. */
void world_init(struct world *w, const char *tag, int partitions, int n_jobs, const char *gen_ms,
                long in_max_bytes);

/* Config dir/NAME.conf with client.id NAME, then a worker logging to dir/NAME.log. */
pid_t world_worker(struct world *w, const char *name, const char *worker_extra, const char *props);

/* Jobs [from, to) to partition i % partitions, alternating providers; a job
 * whose index is a multiple of slow_every (> 0) gets the prompt marker slow. */
void world_produce_jobs(struct world *w, int from, int to, int slow_every, const char *slow);

/* SIGTERM every worker still running; each must exit 0 within timeout_s. */
void world_stop_workers(struct world *w, int timeout_s);

/* SIGKILL the workers left, free the producer, stop fakeprov (must exit 0). */
void world_free(struct world *w);

/* After a clean shutdown every input offset is committed. */
void world_assert_committed(const struct world *w);

#endif
