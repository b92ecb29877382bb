/* kworker.h — the Kafka worker: consume jobs, run them on the engine,
 * publish results (or dead-letter records), store offsets when published.
 *
 * Delivery: an input offset is stored for commit only after every message
 * produced for it (the result, or the DLQ record and its failed result) is
 * acknowledged by the broker; commits follow the per-partition offset
 * tracker, so they never pass an unfinished job. At-least-once. */
#ifndef WORKER_KWORKER_H
#define WORKER_KWORKER_H

#include "conf/config.h"

/* Takes ownership of c (SIGHUP replaces it with a fresh load of the same
 * file: providers, limits, breakers, budgets, poll settings, model maps).
 * Run until SIGTERM/SIGINT (then: stop consuming, let in-flight jobs finish
 * for up to worker.shutdown_grace_s, flush, commit, leave the group).
 * SY_OK on a clean stop; SY_ERR when results were lost, setup failed or a
 * libuv handle was left open at exit (err filled). */
int kworker_run(struct conf *c, char *err, size_t errlen);

#endif
