/* job.h — one job's walk through providers: create → poll → succeeded/failed.
 *
 * A job owns its spec, one libuv timer (poll delays, rate-limit waits) and at
 * most one HTTP request at a time. Every failed step is recorded in the
 * result's attempts with its class. When the job ends its result JSON is
 * handed to the done callback; the job then frees itself. */
#ifndef WORKER_JOB_H
#define WORKER_JOB_H

#include <stddef.h>
#include <stdint.h>

#include "conf/config.h"
#include "queue/codec.h"
#include "worker/loop.h"

struct dispatch;
struct metrics;

/* Shared by every job of a process. Filled by the caller; jobs borrow it. */
struct engine {
    struct loop *loop;
    struct dispatch *d;      /* active config and per-provider policy states */
    char worker_id[128];     /* "host:pid" */
    size_t in_flight;        /* jobs started and not yet done */
    uint64_t succeeded, failed;
    struct metrics *m;       /* counters for /metrics; NULL = none */
};

struct job;

/* Called once per job with its result line (borrowed for the call). ok is 1
 * for "succeeded". The job is freed after the callback returns. */
typedef void (*job_done_fn)(void *ud, const char *job_id, int ok, const char *result_json);

/* Start spec (ownership taken). line is the input line number (batch) or -1;
 * enqueued_ms is when the job was read (monotonic), for timings.queued_ms.
 * Returns the job; it finishes through cb, never synchronously. */
struct job *job_start(struct engine *e, struct codec_job *spec, long line, int64_t enqueued_ms,
                      job_done_fn cb, void *ud);

/* Stop a job without a result (shutdown, lost partition): cancels its
 * request and timer; cb is not called. */
void job_abort(struct job *j);

/* Build the result line for a job that never started (invalid input).
 * Caller frees. id may be NULL. */
char *job_invalid_result(const struct engine *e, const char *id, long line, const char *reason);

#endif
