/* job.h — one job's walk through providers: create → poll → succeeded/failed.
 *
 * A job owns its spec, one libuv timer (poll delays, rate-limit waits) and at
 * most one HTTP request at a time. Every failed step is recorded in the
 * result's attempts with its class. When the job ends its result JSON (at
 * most kafka.max_result_bytes of its config) is handed to the done callback;
 * the job then frees itself. */
#ifndef WORKER_JOB_H
#define WORKER_JOB_H

#include <stddef.h>
#include <stdint.h>

#include "conf/config.h"
#include "queue/codec.h"
#include "worker/loop.h"

struct dispatch;
struct metrics;
struct prov_result;
struct taskmap;

/* Shared by every job of a process. Filled by the caller; jobs borrow it. */
struct engine {
    struct loop *loop;
    struct dispatch *d;      /* active config and per-provider policy states */
    char worker_id[128];     /* "host:pid" */
    size_t in_flight;        /* jobs started and not yet done */
    uint64_t succeeded, failed;
    struct metrics *m;       /* counters for /metrics; NULL = none */
    /* Callbacks (all unset = off): tasks maps (provider, task id) to the job
     * awaiting it; callback_base is callbacks.public_url; while a callback
     * is awaited the job polls only every safety_poll_ms. */
    struct taskmap *tasks;
    const char *callback_base;
    int64_t safety_poll_ms;
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

/* The input partition the job came from (Kafka mode; -1, the default, in
 * batch mode): it goes into the job's callback URL. Call right after
 * job_start(). */
void job_set_partition(struct job *j, int32_t partition);

/* A verified callback for (provider, task_id) of job job_id, parsed into res
 * (borrowed; its urls may be taken). A terminal one (succeeded, or the task
 * failed) completes the job the way a terminal status reply does. SY_OK when
 * it did; SY_DECLINED when no such task is awaited (finished, moved on, other
 * job) or res is not terminal. Loop thread. */
int job_callback(struct engine *e, const char *provider, const char *task_id, const char *job_id,
                 struct prov_result *res);

/* Stop a job without a result (shutdown, lost partition): cancels its
 * request and timer; cb is not called. */
void job_abort(struct job *j);

/* Build the result line for a job that never started (invalid input).
 * Caller frees. id may be NULL. Like every result line, at most
 * kafka.max_result_bytes of the active config (codec_result_json_max). */
char *job_invalid_result(const struct engine *e, const char *id, long line, const char *reason);

#endif
