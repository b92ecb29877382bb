/* job.c — the job state machine, with the provider policies wired in.
 *
 *   START → [provider i] GATE ─ok─► CREATE ──created──► WAIT ─► POLL GATE ─► POLL ─pending─► WAIT …
 *                         │           │                                       │
 *                         │           ├─succeeded (sync reply)────────────────┴─succeeded──► DONE ok
 *                         │           ├─429: the limiter blocks; back to GATE (never fails the job)
 *                         │           ├─retryable: backoff (full jitter) and GATE again, while
 *                         │           │  tries < retry.max_attempts and the retry budget allows
 *                         │           └─otherwise: record the attempt, provider i+1
 *                         └─breaker open / slow limiter with another provider left: skip to i+1
 *   no provider left → DONE failed (error.class from the last failure)
 *
 * How long WAIT lasts is poll_delay_ms(): the provider model's poll plan
 * (adaptive, learned from the tasks seen finished, or fixed).
 *
 * Every decision (the GATE, retry here or move on, what a failure blames,
 * may a create be held open) is jobpolicy.c's; this file carries them out
 * with timers, requests, attempts and metrics.
 *
 * Invariants: at most one request and one armed timer per job; the deadline
 * bounds every timer and request; a failed poll *request* polls again and
 * never re-creates the task; a provider's task slot is held from its first
 * create until the job leaves that provider; every breaker permission is
 * answered by exactly one record. The job frees itself only from its timer's
 * close callback, so no callback can run on a freed job. */
#include "job.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conf/template.h"
#include "providers/provider.h"
#include "sy.h"
#include "worker/attempts.h"
#include "worker/dispatch.h"
#include "worker/jobpolicy.h"
#include "worker/log.h"
#include "worker/metrics.h"
#include "worker/pollsched.h"
#include "worker/taskmap.h"

#define JOB_MAX_CB_POLLS 4     /* polls a task's callbacks may bring forward; later ones wait for the safety poll */

enum job_phase { PHASE_CREATE, PHASE_POLL };

struct job {
    struct engine *e;
    struct codec_job *spec;
    struct conf_ref *cref; /* the config this job started with */
    long line;
    int64_t enqueued_ms, start_ms, deadline_ms;

    size_t order[DISPATCH_MAX_PROVIDERS];
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
    int held;                /* the create in flight is held open (Prefer: wait), counted in ps->held */
    struct pollsched_entry fp; /* on ps->first_polls: its first poll is planned, not sent yet */
    int not_ready, poll_errors;
    int cb_polls;            /* polls brought forward by callbacks for the current task */
    int cb_poll_due;         /* a callback came while a poll was in flight: poll again at once */
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
    int resumed;       /* polling a task another worker created; not yet confirmed by its provider */
    struct job_resume_copy {
        char provider[64], task_id[256], worker[128];
        int64_t created_wall_ms;
        int attempt;
    } *resume;         /* set by job_resume(), used at start */
};

static void try_provider(struct job *j);
static void gate_create(struct job *j);
static void gate_poll(struct job *j);

static struct log_ctx job_log_ctx(const struct job *j)
{
    struct log_ctx c = { .job = j->spec->id, .provider = j->prov ? j->prov->name : NULL, .task = j->task_id };
    return c;
}

static void add_attempt(struct job *j, const char *outcome, long http_status, const char *code,
                        const char *message, int64_t elapsed_ms)
{
    attempts_add(&j->att, j->prov ? j->prov->name : "", j->task_id, j->phase == PHASE_POLL ? "poll" : "create",
                 outcome, http_status, code, message, elapsed_ms);
}

static void free_job(uv_handle_t *h)
{
    struct job *j = h->data;
    free(j->resume);
    codec_job_free(j->spec);
    attempts_cleanup(&j->att);
    free(j->task_id);
    for (size_t i = 0; i < j->n_urls; i++)
        free(j->urls[i]);
    free(j->urls);
    dispatch_conf_put(j->cref);
    free(j);
}

/* The job leaves its current provider: give back its slot and permission. */
static void drop_hold(struct job *j)
{
    if (j->held) {
        j->ps->held--;
        j->held = 0;
    }
}

static void first_poll_unlist(struct job *j);

static void leave_provider(struct job *j)
{
    if (!j->ps)
        return;
    drop_hold(j);
    first_poll_unlist(j);
    if (j->breaker_pending) {
        breaker_record(j->ps->br, BREAKER_IGNORE, sy_now_ms());
        j->breaker_pending = 0;
    }
    if (j->holding_slot) {
        ratelimit_task_end(j->ps->rl);
        j->holding_slot = 0;
    }
}

/* Forget the current task (its callback no longer finds this job). */
static void drop_task(struct job *j)
{
    if (j->task_id && j->e->tasks)
        taskmap_del(j->e->tasks, j->prov->name, j->task_id, j);
    free(j->task_id);
    j->task_id = NULL;
}

static void release(struct job *j)
{
    j->finished = 1;
    drop_task(j);
    if (j->req) {
        loop_cancel(j->req);
        j->req = NULL;
    }
    leave_provider(j);
    uv_timer_stop(&j->timer);
    uv_close((uv_handle_t *)&j->timer, free_job);
}

static void finish(struct job *j, int ok, const char *error_class, const char *error_message)
{
    int64_t now = sy_now_ms();
    struct codec_result r = {
        .id = j->spec->id,
        .succeeded = ok,
        .result_urls = (const char *const *)j->urls,
        .n_result_urls = j->n_urls,
        .provider = ok && j->prov ? j->prov->name : NULL,
        .provider_task_id = ok ? j->task_id : NULL,
        .attempts = j->att.v,
        .n_attempts = j->att.n,
        .error_class = ok ? NULL : error_class,
        .error_message = ok ? NULL : error_message,
        .line = j->line,
        .queued_ms = j->start_ms - j->enqueued_ms,
        .total_ms = now - j->enqueued_ms,
        .worker = j->e->worker_id,
        .metadata = j->spec->metadata,
        .metadata_len = j->spec->metadata_len,
    };
    char *json = codec_result_json_max(&r, (size_t)j->cref->c->kafka.max_result_bytes);
    if (ok)
        j->e->succeeded++;
    else
        j->e->failed++;
    metrics_job_done(j->e->m, ok, error_class, (double)(now - j->enqueued_ms) / 1000.0);
    j->e->in_flight--; /* before the callback: it may check for the last job */
    struct log_ctx lc = job_log_ctx(j);
    if (ok)
        LOG_DEBUG(&lc, "job succeeded in %lld ms", (long long)(now - j->start_ms));
    else
        LOG_INFO(&lc, "job failed: %s: %s", error_class, error_message ? error_message : "");
    j->finished = 1;
    if (j->cb)
        j->cb(j->ud, j->spec->id, ok, json ? json : "{}");
    free(json);
    release(j);
}

/* Milliseconds left before the deadline (>= 0). */
static int64_t remaining_ms(const struct job *j)
{
    int64_t left = j->deadline_ms - sy_now_ms();
    return left > 0 ? left : 0;
}

/* How requests to the job's provider are sent: the provider's request
 * timeout, cut to what is left before the deadline unless whole_timeout. */
static struct loop_send send_opts(const struct job *j, int whole_timeout)
{
    long t = j->prov->request_timeout_ms;
    int64_t left = j->deadline_ms - sy_now_ms();
    if (!whole_timeout && left < t)
        t = left > 0 ? (long)left : 1;
    struct loop_send s = { .bearer = j->prov->api_key, .proxy = j->prov->proxy,
                           .connect_timeout_ms = j->prov->connect_timeout_ms, .total_timeout_ms = t };
    return s;
}

/* The status label of a finished request, for metrics. */
static long metrics_status(const struct loop_response *resp)
{
    if (resp->failure == PROV_C_TIMEOUT)
        return METRICS_ST_TIMEOUT;
    if (resp->failure != PROV_C_NONE || resp->reply.http_status <= 0)
        return METRICS_ST_TRANSPORT;
    return resp->reply.http_status;
}

/* ud: the provider's pstate (lives as long as the process's dispatch). */
static void cancel_done(void *ud, const struct loop_response *resp)
{
    struct pstate *ps = ud;
    metrics_request(ps->metrics, ps->name, METRICS_CANCEL, metrics_status(resp), (double)resp->elapsed_ms / 1000.0);
}

/* Best effort: tell the provider to stop a task we give up on. */
static void cancel_task(struct job *j)
{
    if (!j->ops || !j->ops->build_cancel || !j->task_id)
        return;
    struct prov_request req = { 0 };
    if (j->ops->build_cancel(j->prov, j->task_id, &req) != SY_OK) {
        prov_request_cleanup(&req);
        return;
    }
    struct loop_send s = send_opts(j, 1); /* a cancel may outlive the deadline */
    j->ps->metrics = j->e->m;
    loop_http(j->e->loop, &req, &s, cancel_done, j->ps);
}

static void fail_deadline(struct job *j)
{
    char msg[128];
    snprintf(msg, sizeof msg, "deadline of %lld s passed", (long long)((j->deadline_ms - j->enqueued_ms) / 1000));
    add_attempt(j, "deadline", 0, NULL, msg, j->step_start_ms ? sy_now_ms() - j->step_start_ms : 0);
    if (j->phase == PHASE_POLL)
        cancel_task(j);
    finish(j, 0, "deadline", msg);
}

static void on_timer(uv_timer_t *t);

/* Arm the job's timer (again); a delay past the deadline fires at the deadline. */
static void arm(struct job *j, int64_t delay_ms)
{
    int64_t left = remaining_ms(j);
    j->deadline_hit = delay_ms > left;
    if (j->deadline_hit)
        delay_ms = left;
    uv_timer_start(&j->timer, on_timer, (uint64_t)(delay_ms > 0 ? delay_ms : 0), 0);
}

/* The provider's list of jobs waiting for their first poll (see
 * replan_first_polls). */
static void first_poll_unlist(struct job *j)
{
    if (j->fp.listed)
        pollsched_unlist(&j->ps->first_polls, &j->fp);
}

static void first_poll_list(struct job *j)
{
    pollsched_list(&j->ps->first_polls, &j->fp);
}

static void on_timer(uv_timer_t *t)
{
    struct job *j = t->data;
    first_poll_unlist(j);
    if (j->deadline_hit || remaining_ms(j) == 0) {
        fail_deadline(j);
        return;
    }
    if (j->phase == PHASE_CREATE)
        gate_create(j);
    else
        gate_poll(j);
}

static void next_provider(struct job *j)
{
    leave_provider(j);
    drop_task(j);
    j->cur++;
    try_provider(j);
}

/* Is a provider after the current one worth moving to (breaker not open)? */
static int has_later(struct job *j)
{
    int64_t now = sy_now_ms();
    for (size_t k = j->cur + 1; k < j->n_order; k++) {
        const struct conf_provider *p = &j->cref->c->providers[j->order[k]];
        struct pstate *s = dispatch_pstate(j->e->d, p->name);
        if (s && breaker_state(s->br, now) != BREAKER_OPEN)
            return 1;
    }
    return 0;
}

static void succeed(struct job *j, struct prov_result *res)
{
    j->urls = res->urls;
    j->n_urls = res->n_urls;
    res->urls = NULL;
    res->n_urls = 0;
    if (res->task_id && !j->task_id) {
        j->task_id = res->task_id;
        res->task_id = NULL;
    }
    add_attempt(j, "succeeded", res->http_status, NULL, NULL, sy_now_ms() - j->task_created_ms);
    finish(j, 1, NULL, NULL);
}


/* A create failed, or the task failed: retry here, or move on. */
static void provider_failed(struct job *j, const struct prov_result *res, const char *outcome)
{
    struct log_ctx lc = job_log_ctx(j);
    LOG_DEBUG(&lc, "%s %s failed: %s (%s)", j->phase == PHASE_POLL ? "poll" : "create", outcome, res->message,
              res->code);
    add_attempt(j, outcome, res->http_status, res->code, res->message, sy_now_ms() - j->step_start_ms);
    j->last_kind = jobpolicy_blame(res);
    int later = res->cls == PROV_C_TASK_FAILED && has_later(j); /* only a task failure asks */
    int64_t backoff = 0;
    if (jobpolicy_after_failure(res, later, j->tries, &j->prov->retry, j->ps->bud, dispatch_rng(j->e->d),
                                sy_now_ms(), &backoff) == JP_NEXT_PROVIDER) {
        next_provider(j);
        return;
    }
    drop_task(j);
    first_poll_unlist(j);
    j->phase = PHASE_CREATE;
    arm(j, backoff);
}

/* Record the breaker outcome of a reply to a permitted create. */
static void breaker_answer(struct job *j, const struct prov_result *res)
{
    if (!j->breaker_pending)
        return;
    j->breaker_pending = 0;
    enum breaker_outcome o = breaker_classify(res->outcome != PROV_FAILED, res->cls, res->kind);
    breaker_record(j->ps->br, o, sy_now_ms());
    if (o == BREAKER_TRIP)
        j->ps->trip_kind = res->kind;
    else if (o == BREAKER_SUCCESS)
        j->ps->trip_kind = PROV_K_NONE;
}

/* The reply to the job's request, parsed (a transport failure becomes a
 * failed result); the job has no request in flight any more. */
static void read_reply(struct job *j, const struct loop_response *resp,
                       void (*parse)(const struct prov_reply *, struct prov_result *), struct prov_result *res)
{
    j->req = NULL;
    metrics_request(j->e->m, j->ps->name, j->phase == PHASE_POLL ? METRICS_POLL : METRICS_CREATE,
                    metrics_status(resp), (double)resp->elapsed_ms / 1000.0);
    prov_result_init(res);
    if (resp->failure == PROV_C_NONE) {
        parse(&resp->reply, res);
        return;
    }
    res->cls = resp->failure;
    res->kind = PROV_K_UNAVAILABLE;
    res->outcome = PROV_FAILED;
    snprintf(res->message, sizeof res->message, "%s", resp->error);
}

/* The poll plan of the job's provider model (looked up once per provider,
 * in try_provider); NULL = use the fixed settings. */
static struct pollplan *job_plan(struct job *j)
{
    return pollsched_plan(j->ps, j->prov, j->spec->model, j->spec->op == CODEC_OP_EDIT);
}

/* The one decision of when to poll next: after the create (first = 1) and
 * after each poll that saw the task still running. */
static int64_t poll_delay_ms(const struct job *j, int first)
{
    return pollsched_delay_ms(j->plan, &j->prov->poll, j->e->callback_base != NULL, j->e->safety_poll_ms,
                              sy_now_ms() - j->poll_t0_ms, first);
}

struct replan {
    struct pollplan *pp;
    int64_t now;
};

static void replan_one(struct pollsched_entry *e, void *ud)
{
    const struct replan *r = ud;
    struct job *w = (struct job *)(void *)((char *)e - offsetof(struct job, fp));
    if (w->plan == r->pp)
        arm(w, pollplan_next_ms(r->pp, r->now - w->poll_t0_ms, 1));
}

/* The reply that just arrived says the task is finished (either way): it
 * ended after the last poll that saw it pending and before now — exactly
 * when the reply says how long it ran. While the plan is young, the first
 * polls it planned for tasks still waiting on them move with it. */
static void observe_done(struct job *j, const struct prov_result *res)
{
    if (!pollsched_observe_done(j->plan, j->pending_ms, sy_now_ms() - j->poll_t0_ms, res->duration_ms))
        return;
    struct replan r = { .pp = j->plan, .now = sy_now_ms() };
    pollsched_each(j->ps->first_polls, replan_one, &r);
}

/* A resumed task's first answers: does its provider still know it? If
 * not, the job is created anew on the same provider (returns 1). */
static int resume_gone(struct job *j, const struct prov_result *res, int64_t now)
{
    if (!jobpolicy_resume_unknown(res, now - j->task_created_ms, j->not_ready, j->prov->not_ready_tolerance)) {
        if (res->outcome != PROV_FAILED || res->kind != PROV_K_NOT_READY)
            j->resumed = 0; /* the provider answered for it: an ordinary task from now on */
        return 0;
    }
    struct log_ctx lc = job_log_ctx(j);
    LOG_INFO(&lc, "resumed task unknown to the provider (%s): creating it again", res->message);
    add_attempt(j, "task_unknown", res->http_status, res->code, res->message, now - j->step_start_ms);
    metrics_ledger(j->e->m, METRICS_LEDGER_RECREATED);
    j->resumed = 0;
    drop_task(j);
    j->phase = PHASE_CREATE;
    j->not_ready = 0;
    j->poll_errors = 0;
    arm(j, 0);
    return 1;
}

/* A task's status, from a status reply or (from_callback) a verified
 * callback body: finish, fail over or wait again. r stays the caller's to
 * clean up (succeed() takes its urls). */
static void poll_result(struct job *j, struct prov_result *r, int64_t now, int from_callback)
{
    struct prov_result res = *r; /* a shallow copy: the code below reads it as before */
    if (j->resumed && resume_gone(j, &res, now))
        return;
    switch (res.outcome) {
    case PROV_SUCCEEDED:
        observe_done(j, r);
        succeed(j, r);
        break;
    case PROV_CREATED:
    case PROV_PENDING:
        j->poll_errors = 0;
        j->pending_ms = j->step_start_ms - j->poll_t0_ms;
        if (jobpolicy_poll_expired(now - j->task_created_ms, j->prov->poll.max_s)) {
            res.cls = PROV_C_TIMEOUT;
            res.kind = PROV_K_UNAVAILABLE;
            snprintf(res.message, sizeof res.message, "task not finished after poll.max_s = %d s",
                     j->prov->poll.max_s);
            cancel_task(j);
            provider_failed(j, &res, "timeout");
        } else {
            arm(j, j->cb_poll_due ? 0 : poll_delay_ms(j, 0));
            j->cb_poll_due = 0;
        }
        break;
    case PROV_FAILED:
        switch (jobpolicy_after_poll(&res, &j->not_ready, &j->poll_errors, j->prov->not_ready_tolerance)) {
        case JP_POLL_TASK_FAILED:
            /* The provider ran the task and it failed: its health counts. */
            observe_done(j, &res);
            breaker_record(j->ps->br, jobpolicy_task_failed_outcome(&res, from_callback), now);
            provider_failed(j, &res, prov_class_name(res.cls));
            break;
        case JP_POLL_GIVE_UP:
            provider_failed(j, &res, prov_class_name(res.cls));
            break;
        case JP_POLL_AGAIN:
            arm(j, poll_delay_ms(j, 0));
            break;
        case JP_POLL_LIMITED:
            add_attempt(j, prov_class_name(res.cls), res.http_status, res.code, res.message, now - j->step_start_ms);
            ratelimit_on_429(j->ps->rl, RATELIMIT_POLL, res.retry_after_ms, now);
            arm(j, 0); /* the limiter holds the next poll back */
            break;
        case JP_POLL_RETRY:
            add_attempt(j, prov_class_name(res.cls), res.http_status, res.code, res.message, now - j->step_start_ms);
            arm(j, JOB_POLL_RETRY_MS);
            break;
        }
        break;
    }
}

static void on_poll_reply(void *ud, const struct loop_response *resp)
{
    struct job *j = ud;
    struct prov_result res;
    read_reply(j, resp, j->ops->parse_poll, &res);
    int64_t now = sy_now_ms();
    if (res.outcome != PROV_FAILED)
        ratelimit_on_success(j->ps->rl, RATELIMIT_POLL, now);
    poll_result(j, &res, now, 0);
    prov_result_cleanup(&res);
}

static void gate_poll(struct job *j)
{
    int64_t wait = ratelimit_acquire(j->ps->rl, RATELIMIT_POLL, sy_now_ms());
    if (wait > 0) {
        j->ps->rate_limit_waits++;
        arm(j, wait);
        return;
    }
    struct prov_request req = { 0 };
    if (j->ops->build_poll(j->prov, j->task_id, &req) != SY_OK) {
        prov_request_cleanup(&req);
        struct prov_result res;
        prov_result_init(&res);
        res.cls = PROV_C_INVALID_REPLY;
        res.kind = PROV_K_UNAVAILABLE;
        snprintf(res.message, sizeof res.message, "cannot build a status request for the task id");
        provider_failed(j, &res, "invalid_reply");
        return;
    }
    struct loop_send s = send_opts(j, 0);
    j->step_start_ms = sy_now_ms();
    j->ps->requests++;
    j->req = loop_http(j->e->loop, &req, &s, on_poll_reply, j);
    if (!j->req)
        arm(j, JOB_POLL_RETRY_MS);
}

/* The create reply named a task: tell the ledger (crash-safe jobs). */
static void note_created(struct job *j, const char *task_id)
{
    if (j->e->task_created && j->cb)
        j->e->task_created(j->ud, j->prov->name, task_id, sy_wall_ms() - (sy_now_ms() - j->step_start_ms),
                           j->creates);
}

static void on_create_reply(void *ud, const struct loop_response *resp)
{
    struct job *j = ud;
    struct prov_result res;
    int was_held = j->held;
    drop_hold(j);
    read_reply(j, resp, j->ops->parse_create, &res);
    breaker_answer(j, &res);
    int64_t now = sy_now_ms();
    switch (res.outcome) {
    case PROV_SUCCEEDED:
        ratelimit_on_success(j->ps->rl, RATELIMIT_CREATE, now);
        if (res.task_id)
            note_created(j, res.task_id);
        j->task_created_ms = j->step_start_ms;
        j->poll_t0_ms = j->step_start_ms;
        j->pending_ms = -1;
        observe_done(j, &res);
        succeed(j, &res);
        break;
    case PROV_CREATED:
    case PROV_PENDING:
        ratelimit_on_success(j->ps->rl, RATELIMIT_CREATE, now);
        if (!res.task_id) {
            res.outcome = PROV_FAILED;
            res.cls = PROV_C_INVALID_REPLY;
            res.kind = PROV_K_UNAVAILABLE;
            snprintf(res.message, sizeof res.message, "create reply has no task id");
            provider_failed(j, &res, "invalid_reply");
            break;
        }
        j->task_id = res.task_id;
        res.task_id = NULL;
        note_created(j, j->task_id);
        if (j->e->tasks && taskmap_put(j->e->tasks, j->prov->name, j->task_id, j) != SY_OK) {
            struct log_ctx lc = job_log_ctx(j);
            LOG_WARN(&lc, "out of memory: the task's callback will not find it (the safety poll will)");
        }
        j->task_created_ms = j->step_start_ms; /* the task exists since the create went out */
        j->poll_t0_ms = j->step_start_ms;
        /* A held reply (Prefer: wait) that is not finished: it was pending just now. */
        j->pending_ms = was_held ? now - j->poll_t0_ms : -1;
        j->phase = PHASE_POLL;
        j->not_ready = 0;
        j->poll_errors = 0;
        j->cb_polls = 0;
        j->cb_poll_due = 0;
        {
            struct log_ctx lc = job_log_ctx(j);
            LOG_DEBUG(&lc, "task created");
        }
        /* After a held reply the task has run for wait_s already: no first-poll delay. */
        arm(j, poll_delay_ms(j, !was_held));
        if (!was_held && !j->e->callback_base && j->prov->poll.mode == CONF_POLL_ADAPTIVE && j->plan)
            first_poll_list(j);
        break;
    case PROV_FAILED:
        if (res.kind == PROV_K_RATE_LIMITED) {
            /* Over the provider's limit: slow down and send it again later;
             * a 429 never fails or drops a job (the deadline bounds it). */
            add_attempt(j, prov_class_name(res.cls), res.http_status, res.code, res.message, now - j->step_start_ms);
            ratelimit_on_429(j->ps->rl, RATELIMIT_CREATE, res.retry_after_ms, now);
            j->tries--;
            arm(j, 0);
        } else {
            provider_failed(j, &res, prov_class_name(res.cls));
        }
        break;
    }
    prov_result_cleanup(&res);
}

/* May this create be held open (Prefer: wait)? */
static int may_hold(const struct job *j)
{
    return jobpolicy_may_hold(j->prov->wait_s, j->prov->max_connections, j->cref->c->worker.max_host_connections,
                              j->ps->held);
}

/* {callbacks.public_url}/cb/<provider>/<partition or "b">/<job id, escaped>,
 * or NULL when callbacks are off (or out of memory: then the job polls). */
static char *callback_url(const struct job *j)
{
    if (!j->e->callback_base)
        return NULL;
    char part[16] = "b", *url = NULL;
    if (j->partition >= 0)
        snprintf(part, sizeof part, "%d", (int)j->partition);
    char *id = prov_url_escape(j->spec->id);
    if (id && asprintf(&url, "%s/cb/%s/%s/%s", j->e->callback_base, j->prov->name, part, id) < 0)
        url = NULL;
    free(id);
    return url;
}

static void send_create(struct job *j)
{
    const struct codec_job *s = j->spec;
    char *cb_url = callback_url(j);
    struct prov_task_spec spec = {
        .edit = s->op == CODEC_OP_EDIT,
        .prompt = s->prompt,
        .image_urls = (const char *const *)s->image_urls,
        .n_image_urls = s->n_image_urls,
        .output_format = s->output_format,
        .aspect_ratio = s->aspect_ratio,
        .model = s->model,
        .callback_url = cb_url,
        .no_wait = !may_hold(j),
    };
    struct prov_request req = { 0 };
    char err[256] = "";
    int built = j->ops->build_create(j->prov, &spec, &req, err, sizeof err);
    free(cb_url);
    if (built != SY_OK) {
        prov_request_cleanup(&req);
        /* Not a call to the provider: give its permission back unused. */
        breaker_record(j->ps->br, BREAKER_IGNORE, sy_now_ms());
        j->breaker_pending = 0;
        add_attempt(j, "rejected", 0, NULL, err[0] ? err : "provider cannot run this job", 0);
        j->last_kind = PROV_K_INVALID_INPUT;
        next_provider(j);
        return;
    }
    struct loop_send ls = send_opts(j, 0);
    int hold = req.hold_s > 0;
    j->step_start_ms = sy_now_ms();
    j->ps->requests++;
    j->req = loop_http(j->e->loop, &req, &ls, on_create_reply, j);
    if (j->req && hold) {
        j->held = 1;
        j->ps->held++;
    }
    if (!j->req) {
        struct prov_result res;
        prov_result_init(&res);
        res.cls = PROV_C_TRANSPORT;
        res.kind = PROV_K_UNAVAILABLE;
        snprintf(res.message, sizeof res.message, "could not start the HTTP request");
        breaker_answer(j, &res);
        provider_failed(j, &res, "transport");
    }
}

static void skip(struct job *j, const char *why)
{
    add_attempt(j, "skipped", 0, NULL, why, 0);
    if (j->last_kind == PROV_K_NONE)
        j->last_kind = PROV_K_UNAVAILABLE;
    next_provider(j);
}

static void gate_create(struct job *j)
{
    int64_t now = sy_now_ms();
    if (remaining_ms(j) == 0) {
        fail_deadline(j);
        return;
    }
    struct jp_job jj = { .holding_slot = j->holding_slot, .tries = j->tries, .has_later = has_later(j),
                         .gate_since_ms = j->gate_since_ms };
    struct jp_verdict v = jobpolicy_gate(j->ps, &jj, now);
    j->holding_slot = jj.holding_slot;
    switch (v.gate) {
    case JP_SKIP:
        if (v.blame != PROV_K_NONE)
            j->last_kind = v.blame;
        skip(j, v.why);
        return;
    case JP_WAIT:
        arm(j, v.wait_ms);
        return;
    case JP_GO:
        break;
    }
    j->breaker_pending = 1;
    j->tries++;
    j->creates++;
    send_create(j);
}

static void try_provider(struct job *j)
{
    if (j->cur >= j->n_order) {
        char msg[400];
        const char *cls = jobpolicy_error_class(j->last_kind);
        attempts_exhausted_message(&j->att, msg, sizeof msg);
        finish(j, 0, cls, msg);
        return;
    }
    j->prov = &j->cref->c->providers[j->order[j->cur]];
    j->ops = prov_lookup(j->prov->type);
    j->ps = dispatch_pstate(j->e->d, j->prov->name);
    j->plan = job_plan(j);
    j->phase = PHASE_CREATE;
    j->tries = 0;
    j->gate_since_ms = sy_now_ms();
    gate_create(j);
}

/* A template job gets its prompt (and maybe its operation) from the config
 * it started with. Returns 0, or -1 after finishing the job as invalid input. */
static int render_template(struct job *j)
{
    char why[512];
    if (tmpl_apply(j->cref->c, j->spec, why, sizeof why) == SY_OK)
        return 0;
    finish(j, 0, "invalid_input", why);
    return -1;
}

/* The provider index (in the job's order) named name, or n_order. */
static size_t order_index(const struct job *j, const char *name)
{
    for (size_t k = 0; k < j->n_order; k++)
        if (strcmp(j->cref->c->providers[j->order[k]].name, name) == 0)
            return k;
    return j->n_order;
}

/* Take over the task of j->resume: poll it now, then as if this worker had
 * created it at its create time. */
static void start_resumed(struct job *j)
{
    struct job_resume_copy *r = j->resume;
    j->cur = order_index(j, r->provider);
    if (j->cur >= j->n_order) { /* the config changed since job_resume() */
        j->cur = 0;
        try_provider(j);
        return;
    }
    j->prov = &j->cref->c->providers[j->order[j->cur]];
    j->ops = prov_lookup(j->prov->type);
    j->ps = dispatch_pstate(j->e->d, j->prov->name);
    j->plan = job_plan(j);
    j->gate_since_ms = sy_now_ms();
    j->task_id = strdup(r->task_id);
    if (!j->ops || !j->ps || !j->task_id) {
        free(j->task_id);
        j->task_id = NULL;
        try_provider(j);
        return;
    }
    if (ratelimit_task_start(j->ps->rl) == SY_OK)
        j->holding_slot = 1; /* the task counts against the cap; if full, it runs beside it */
    int64_t now = sy_now_ms(), age = sy_wall_ms() - r->created_wall_ms;
    if (age < 0)
        age = 0;
    j->task_created_ms = now - age;
    j->poll_t0_ms = j->task_created_ms;
    j->step_start_ms = now;
    j->pending_ms = -1;
    j->phase = PHASE_POLL;
    j->tries = 1; /* the create was this provider's first try */
    j->creates = r->attempt > 0 ? r->attempt : 1;
    j->resumed = 1;
    char msg[300];
    snprintf(msg, sizeof msg, "resumed the task created by worker %s (create #%d, %lld ms ago)",
             r->worker[0] ? r->worker : "?", r->attempt, (long long)age);
    add_attempt(j, "resumed", 0, NULL, msg, 0);
    if (j->e->tasks && taskmap_put(j->e->tasks, j->prov->name, j->task_id, j) != SY_OK) {
        struct log_ctx lc = job_log_ctx(j);
        LOG_WARN(&lc, "out of memory: the task's callback will not find it (the safety poll will)");
    }
    struct log_ctx lc = job_log_ctx(j);
    LOG_INFO(&lc, "%s", msg);
    arm(j, 0); /* its callback may have gone to the dead worker: ask now */
}

static void on_start(uv_timer_t *t)
{
    struct job *j = t->data;
    if (render_template(j) != 0)
        return;
    if (j->n_order == 0) {
        finish(j, 0, "invalid_input", "providers: none of the job's providers is configured");
        return;
    }
    if (j->resume) {
        start_resumed(j);
        return;
    }
    try_provider(j);
}

struct job *job_start(struct engine *e, struct codec_job *spec, long line, int64_t enqueued_ms,
                      job_done_fn cb, void *ud)
{
    struct job *j = calloc(1, sizeof *j);
    if (!j)
        return NULL;
    j->e = e;
    j->spec = spec;
    j->line = line;
    j->cb = cb;
    j->ud = ud;
    j->cref = dispatch_conf_get(e->d);
    const struct conf *c = j->cref->c;
    j->enqueued_ms = enqueued_ms;
    j->start_ms = sy_now_ms();
    int deadline_s = dispatch_deadline_s(c, spec->deadline_s);
    j->deadline_ms = enqueued_ms + (int64_t)deadline_s * 1000;
    j->n_order = dispatch_order(c, (const char *const *)spec->providers, spec->n_providers, j->order,
                                DISPATCH_MAX_PROVIDERS);
    j->last_kind = PROV_K_NONE;
    j->partition = -1;
    uv_timer_init(loop_uv(e->loop), &j->timer);
    j->timer.data = j;
    e->in_flight++;
    /* Start from the loop, never synchronously, so the caller's state is settled. */
    uv_timer_start(&j->timer, on_start, 0, 0);
    return j;
}

void job_set_partition(struct job *j, int32_t partition)
{
    j->partition = partition;
}

int job_resume(struct job *j, const struct job_resume *r)
{
    if (!r->provider || !r->task_id || !r->task_id[0] || order_index(j, r->provider) >= j->n_order)
        return SY_DECLINED;
    struct job_resume_copy *c = calloc(1, sizeof *c);
    if (!c)
        return SY_DECLINED;
    snprintf(c->provider, sizeof c->provider, "%s", r->provider);
    snprintf(c->task_id, sizeof c->task_id, "%s", r->task_id);
    snprintf(c->worker, sizeof c->worker, "%s", r->worker ? r->worker : "");
    c->created_wall_ms = r->created_wall_ms;
    c->attempt = r->attempt;
    free(j->resume);
    j->resume = c;
    return SY_OK;
}

int job_callback(struct engine *e, const char *provider, const char *task_id, const char *job_id,
                 struct prov_result *res)
{
    struct job *j = e->tasks ? taskmap_get(e->tasks, provider, task_id) : NULL;
    if (!j || j->finished || j->phase != PHASE_POLL || (job_id && strcmp(job_id, j->spec->id) != 0))
        return SY_DECLINED;
    if (!res) {
        /* Poll now, with our key: the answer is the provider's, not the caller's. */
        if (j->cb_polls >= JOB_MAX_CB_POLLS)
            return SY_DECLINED;
        j->cb_polls++;
        if (j->req) {
            j->cb_poll_due = 1; /* the reply in flight may predate the event */
            return SY_OK;
        }
        first_poll_unlist(j);
        arm(j, 0);
        return SY_OK;
    }
    if (res->outcome != PROV_SUCCEEDED && !(res->outcome == PROV_FAILED && res->cls == PROV_C_TASK_FAILED))
        return SY_DECLINED; /* not terminal: the safety poll carries on */
    if (j->req) {
        loop_cancel(j->req); /* a safety poll in flight: its answer is not needed */
        j->req = NULL;
    }
    uv_timer_stop(&j->timer);
    poll_result(j, res, sy_now_ms(), 1);
    return SY_OK;
}

void job_abort(struct job *j)
{
    if (j->finished)
        return;
    j->e->in_flight--;
    release(j);
}

char *job_invalid_result(const struct engine *e, const char *id, long line, const char *reason)
{
    return attempts_rejected_json(e->worker_id, id, line, reason,
                                  e->d ? (size_t)dispatch_conf(e->d)->kafka.max_result_bytes : 0);
}
