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
#include "worker/engine.h"
#include "worker/loop.h"

struct dispatch;
struct metrics;
struct prov_result;
struct taskmap;

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

/* A task created for this job earlier, by another worker (the task ledger). */
struct job_resume {
    const char *provider, *task_id, *worker; /* borrowed for the call */
    int64_t created_wall_ms;                 /* Unix ms: when its create went out */
    int attempt;                             /* creates sent for the job by then */
};

/* Resume r's task instead of creating one: the job polls it at once (then
 * on its provider's plan, counted from the create time; with callbacks on it
 * awaits the callback with the safety poll) and its attempts show the
 * resume. A provider that no longer knows the task (404, or KIE's
 * "recordInfo is null" for a task that is not brand new) gets the job created
 * anew on it (metrics: switchyard_ledger_tasks_recreated_total). Call right
 * after job_start(). SY_OK; SY_DECLINED when r's provider is not one the job
 * may use (it then runs as new). */
int job_resume(struct job *j, const struct job_resume *r);

/* A callback for (provider, task_id) of job job_id. res NULL: a trigger
 * only; the job polls the task at once with its key (at most a few times
 * per task; a poll in flight is followed by another). res non-NULL: a body
 * whose signature covers it, parsed into res (borrowed; its urls may be
 * taken); a terminal one completes the job like a terminal status reply,
 * except that a reported auth / credit failure never trips the breaker.
 * SY_OK when it acted; SY_DECLINED when no such task is awaited (finished,
 * moved on, other job), res is not terminal, or the trigger cap is reached.
 * Loop thread. */
int job_callback(struct engine *e, const char *provider, const char *task_id, const char *job_id,
                 struct prov_result *res);

/* Stop a job without a result (shutdown, lost partition): cancels its
 * request and timer; cb is not called. */
void job_abort(struct job *j);

/* Build the failed result line for a job that never started: invalid input,
 * or no memory to start it.
 * Caller frees. id may be NULL. Like every result line, at most
 * kafka.max_result_bytes of the active config (codec_result_json_max). */
char *job_rejected_json(const struct engine *e, const char *id, long line, const char *reason);

#endif
