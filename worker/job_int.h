/* job_int.h — the job's insides, shared by the files of one module: job.c
 * (lifecycle, timer, the create phase, failing over), jobpoll.c (the poll
 * phase), jobreq.c (how its requests are sent and read, the cancel, the
 * callback URL) and jobresume.c (resuming another worker's task, the
 * callbacks' entry). Not for use
 * outside them; job.h is the interface. Everything here runs on the loop
 * thread. */
#ifndef WORKER_JOB_INT_H
#define WORKER_JOB_INT_H

#include <stddef.h>
#include <stdint.h>

#include "providers/provider.h"
#include "worker/attempts.h"
#include "worker/dispatch.h"
#include "worker/job.h"
#include "core/log.h"
#include "worker/loop.h"
#include "worker/pollsched.h"

#define JOB_MAX_CB_POLLS                                                                           \
    4 /* polls a task's callbacks may bring forward; later ones wait for the safety poll */

enum job_phase { PHASE_CREATE, PHASE_POLL };

struct job {
    struct engine *e;
    struct codec_job *spec;
    struct conf_ref *cref; /* the config this job started with */
    long line;
    int64_t enqueued_ms, start_ms, deadline_ms;

    uint32_t order
            [DISPATCH_MAX_PROVIDERS]; /* indices into the config's providers (a job is held per job in flight) */
    size_t n_order, cur;
    const struct conf_provider *prov;
    const struct prov_ops *ops;
    struct pstate *ps;
    struct pollplan *plan; /* the provider model's poll plan (lives in ps); NULL = fixed settings */

    enum job_phase phase;
    char *task_id;
    int64_t step_start_ms;   /* when the current create/poll request began */
    int64_t gate_since_ms;   /* when the job reached the current provider's gate */
    int64_t task_created_ms; /* when the provider accepted the task */
    int64_t poll_t0_ms;      /* when the accepted create was sent: time 0 of the poll plan */
    int64_t pending_ms;      /* plan time of the last poll that saw the task pending; -1 = none */
    int tries;               /* creates sent to the current provider */
    int holding_slot;        /* counted in the provider's in-flight cap */
    int breaker_pending;     /* a breaker permission awaits its record */
    int held; /* the create in flight is held open (Prefer: wait), counted in ps->held */
    struct pollsched_entry fp; /* on ps->first_polls: its first poll is planned, not sent yet */
    int not_ready, poll_errors;
    int cb_polls;    /* polls brought forward by callbacks for the current task */
    int cb_poll_due; /* a callback came while a poll was in flight: poll again at once */
    enum prov_kind last_kind;
    int deadline_hit;

    struct loop_req *req;
    uv_timer_t timer;
    struct attempts att;

    char **urls;
    size_t n_urls;
    job_done_fn cb;
    void *ud;
    int finished;
    int32_t partition; /* for the callback URL; -1 = batch */
    int creates;       /* creates sent for the job, over every provider (ledger "attempt") */
    int resumed; /* polling a task another worker created; not yet confirmed by its provider */
    struct job_resume_copy {
        char provider[64], task_id[256], worker[128];
        int64_t created_wall_ms;
        int attempt;
    } * resume; /* set by job_resume(), used at start */
};

/* ---- job.c ---- */

/* job=, provider=, task= for log lines (borrowed from j). */
struct log_ctx job_log_ctx(const struct job *j);
/* Record an attempt of the current provider and phase. */
void job_add_attempt(struct job *j, const char *outcome, long http_status, const char *code,
                     const char *message, int64_t elapsed_ms);
/* Arm the job's timer (again); a delay past the deadline fires at the deadline. */
void job_arm(struct job *j, int64_t delay_ms);
/* Gate the create on provider j->cur, or finish failed when none is left. */
void job_try_provider(struct job *j);
/* Forget the current task (its callback no longer finds this job). */
void job_drop_task(struct job *j);
/* The task's callback finds this job from now on (out of memory: logged; the safety poll carries on). */
void job_track_task(struct job *j);
/* The job succeeded with res (its urls and task id are taken): finish it. */
void job_succeed(struct job *j, struct prov_result *res);
/* A create failed, or the task failed: retry here after a backoff, or move on. */
void job_provider_failed(struct job *j, const struct prov_result *res, const char *outcome);

/* ---- jobpoll.c ---- */

/* Gate the next poll on the provider's poll limiter, then send it. */
void jobpoll_gate(struct job *j);
/* A task's status, from a status reply or (from_callback) a verified callback
 * body: finish, fail over or wait again. r stays the caller's (its urls may be taken). */
void jobpoll_result(struct job *j, struct prov_result *r, int64_t now, int from_callback);
/* The delay before the next poll: after the create (first = 1) or a poll that saw the task running. */
int64_t jobpoll_delay_ms(const struct job *j, int first);
/* A reply says the task finished: teach the plan; a young plan moves the first polls it planned. */
void jobpoll_observe_done(struct job *j, const struct prov_result *res);
/* The poll plan of the job's provider model; NULL = the fixed settings. */
struct pollplan *jobpoll_plan(struct job *j);
/* On / off the provider's first-poll list (off: a no-op when not on it). */
void jobpoll_list(struct job *j);
void jobpoll_unlist(struct job *j);

/* ---- jobreq.c ---- */

/* How requests to the job's provider are sent: the provider's request
 * timeout, cut to what is left before the deadline unless whole_timeout. */
struct loop_send jobreq_send_opts(const struct job *j, int whole_timeout);
/* Best effort: tell the provider to stop the job's task (may outlive the job). */
void jobreq_cancel(struct job *j);
/* The reply to the job's request, parsed into res (a transport failure
 * becomes a failed result) and counted in metrics; j->req is cleared. */
void jobreq_read_reply(struct job *j, const struct loop_response *resp,
                       void (*parse)(const struct prov_reply *, struct prov_result *),
                       struct prov_result *res);
/* The task's callback URL, or NULL when callbacks are off (or out of
 * memory: the job then polls). Caller frees. */
char *jobreq_callback_url(const struct job *j);

/* ---- jobresume.c ---- */

/* Take over the task of j->resume: poll it now, then as if this worker had created it. */
void jobresume_start(struct job *j);
/* A resumed task's first answers: does its provider still know it? If not,
 * the job is created anew on the same provider (returns 1). */
int jobresume_gone(struct job *j, const struct prov_result *res, int64_t now);

#endif
