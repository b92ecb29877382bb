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
 * The poll phase (POLL GATE, POLL, WAIT) is jobpoll.c's; how long WAIT
 * lasts is pollsched.c's: the provider model's poll plan (adaptive, learned
 * from the tasks seen finished, or fixed).
 *
 * Every decision (the GATE, retry here or move on, what a failure blames,
 * what a failed poll means, may a create be held open) is jobpolicy.c's;
 * this file carries them out with the timer, requests, attempts and metrics.
 * How requests are sent and read is jobreq.c's; resuming another worker's
 * task and the callbacks' entry are jobresume.c's (job_int.h joins them).
 *
 * Invariants: at most one request and one armed timer per job; the deadline
 * bounds every timer and request; a failed poll *request* polls again and
 * never re-creates the task; a provider's task slot is held from its first
 * create until the job leaves that provider; every breaker permission is
 * answered by exactly one record. The job frees itself only from its timer's
 * close callback, so no callback can run on a freed job. */
#include "job_int.h"

#include <assert.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conf/template.h"
#include "queue/tmplapply.h"
#include "core/sy.h"
#include "worker/jobpolicy.h"
#include "worker/metrics.h"
#include "worker/taskmap.h"

static void gate_create(struct job *j);

struct log_ctx job_log_ctx(const struct job *j)
{
    struct log_ctx c = { .job = j->spec->id,
                         .provider = j->prov ? j->prov->name : NULL,
                         .task = j->task_id };
    return c;
}

void job_add_attempt(struct job *j, const char *outcome, long http_status, const char *code,
                     const char *message, int64_t elapsed_ms)
{
    attempts_add(&j->att, j->prov ? j->prov->name : "", j->task_id,
                 j->phase == PHASE_POLL ? "poll" : "create", outcome, http_status, code, message,
                 elapsed_ms);
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
    conf_ref_put(j->cref);
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

static void leave_provider(struct job *j)
{
    if (!j->ps)
        return;
    drop_hold(j);
    jobpoll_unlist(j);
    if (j->breaker_pending) {
        breaker_record(j->ps->br, BREAKER_IGNORE, sy_now_ms());
        j->breaker_pending = 0;
    }
    if (j->holding_slot) {
        ratelimit_task_end(j->ps->rl);
        j->holding_slot = 0;
    }
}

void job_track_task(struct job *j)
{
    if (j->e->tasks && taskmap_put(j->e->tasks, j->prov->name, j->task_id, j) != SY_OK) {
        struct log_ctx lc = job_log_ctx(j);
        LOG_WARN(&lc, "out of memory: the task's callback will not find it (the safety poll will)");
    }
}

/* Forget the current task (its callback no longer finds this job). */
void job_drop_task(struct job *j)
{
    if (j->task_id && j->e->tasks)
        taskmap_del(j->e->tasks, j->prov->name, j->task_id, j);
    free(j->task_id);
    j->task_id = NULL;
}

static void release(struct job *j)
{
    j->finished = 1;
    job_drop_task(j);
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

static void fail_deadline(struct job *j)
{
    char msg[128];
    snprintf(msg, sizeof msg, "deadline of %lld s passed",
             (long long)((j->deadline_ms - j->enqueued_ms) / 1000));
    job_add_attempt(j, "deadline", 0, NULL, msg,
                    j->step_start_ms ? sy_now_ms() - j->step_start_ms : 0);
    if (j->phase == PHASE_POLL)
        jobreq_cancel(j);
    finish(j, 0, "deadline", msg);
}

static void on_timer(uv_timer_t *t);

/* Arm the job's timer (again); a delay past the deadline fires at the deadline. */
void job_arm(struct job *j, int64_t delay_ms)
{
    int64_t left = remaining_ms(j);
    j->deadline_hit = delay_ms > left;
    if (j->deadline_hit)
        delay_ms = left;
    uv_timer_start(&j->timer, on_timer, (uint64_t)(delay_ms > 0 ? delay_ms : 0), 0);
}

static void on_timer(uv_timer_t *t)
{
    struct job *j = t->data;
    jobpoll_unlist(j);
    if (j->deadline_hit || remaining_ms(j) == 0) {
        fail_deadline(j);
        return;
    }
    if (j->phase == PHASE_CREATE)
        gate_create(j);
    else
        jobpoll_gate(j);
}

static void next_provider(struct job *j)
{
    leave_provider(j);
    job_drop_task(j);
    j->cur++;
    job_try_provider(j);
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

void job_succeed(struct job *j, struct prov_result *res)
{
    j->urls = res->urls;
    j->n_urls = res->n_urls;
    res->urls = NULL;
    res->n_urls = 0;
    if (res->task_id && !j->task_id) {
        j->task_id = res->task_id;
        res->task_id = NULL;
    }
    job_add_attempt(j, "succeeded", res->http_status, NULL, NULL, sy_now_ms() - j->task_created_ms);
    finish(j, 1, NULL, NULL);
}


/* A create failed, or the task failed: retry here, or move on. */
void job_provider_failed(struct job *j, const struct prov_result *res, const char *outcome)
{
    struct log_ctx lc = job_log_ctx(j);
    LOG_DEBUG(&lc, "%s %s failed: %s (%s)", j->phase == PHASE_POLL ? "poll" : "create", outcome,
              res->message, res->code);
    job_add_attempt(j, outcome, res->http_status, res->code, res->message,
                    sy_now_ms() - j->step_start_ms);
    j->last_kind = jobpolicy_blame(res);
    int later = res->cls == PROV_C_TASK_FAILED && has_later(j); /* only a task failure asks */
    int64_t backoff = 0;
    if (jobpolicy_after_failure(res, later, j->tries, &j->prov->retry, j->ps->bud,
                                dispatch_rng(j->e->d), sy_now_ms(), &backoff) == JP_NEXT_PROVIDER) {
        next_provider(j);
        return;
    }
    job_drop_task(j);
    jobpoll_unlist(j);
    j->phase = PHASE_CREATE;
    job_arm(j, backoff);
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

/* The create reply named a task: tell the ledger (crash-safe jobs). */
static void note_created(struct job *j, const char *task_id)
{
    if (j->e->task_created && j->cb)
        j->e->task_created(j->ud, j->prov->name, task_id,
                           sy_wall_ms() - (sy_now_ms() - j->step_start_ms), j->creates);
}

static void on_create_reply(void *ud, const struct loop_response *resp)
{
    struct job *j = ud;
    struct prov_result res;
    int was_held = j->held;
    drop_hold(j);
    jobreq_read_reply(j, resp, j->ops->parse_create, &res);
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
        jobpoll_observe_done(j, &res);
        job_succeed(j, &res);
        break;
    case PROV_CREATED:
    case PROV_PENDING:
        ratelimit_on_success(j->ps->rl, RATELIMIT_CREATE, now);
        if (!res.task_id) {
            res.outcome = PROV_FAILED;
            res.cls = PROV_C_INVALID_REPLY;
            res.kind = PROV_K_UNAVAILABLE;
            snprintf(res.message, sizeof res.message, "create reply has no task id");
            job_provider_failed(j, &res, "invalid_reply");
            break;
        }
        j->task_id = res.task_id;
        res.task_id = NULL;
        note_created(j, j->task_id);
        job_track_task(j);
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
        job_arm(j, jobpoll_delay_ms(j, !was_held));
        if (!was_held && !j->e->callback_base && j->prov->poll.mode == CONF_POLL_ADAPTIVE &&
            j->plan)
            jobpoll_list(j);
        break;
    case PROV_FAILED:
        if (res.kind == PROV_K_RATE_LIMITED) {
            /* Over the provider's limit: slow down and send it again later;
             * a 429 never fails or drops a job (the deadline bounds it). */
            job_add_attempt(j, prov_class_name(res.cls), res.http_status, res.code, res.message,
                            now - j->step_start_ms);
            ratelimit_on_429(j->ps->rl, RATELIMIT_CREATE, res.retry_after_ms, now);
            j->tries--;
            job_arm(j, 0);
        } else {
            job_provider_failed(j, &res, prov_class_name(res.cls));
        }
        break;
    }
    prov_result_cleanup(&res);
}

/* May this create be held open (Prefer: wait)? */
static int may_hold(const struct job *j)
{
    return jobpolicy_may_hold(j->prov->wait_s, j->prov->max_connections,
                              j->cref->c->worker.max_host_connections, j->ps->held);
}

static void send_create(struct job *j)
{
    const struct codec_job *s = j->spec;
    char *cb_url = jobreq_callback_url(j);
    struct prov_task_spec spec = {
        .op = s->op == CODEC_OP_EDIT ? CONF_OP_EDIT : CONF_OP_GENERATE,
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
        job_add_attempt(j, "rejected", 0, NULL, err[0] ? err : "provider cannot run this job", 0);
        j->last_kind = PROV_K_INVALID_INPUT;
        next_provider(j);
        return;
    }
    struct loop_send ls = jobreq_send_opts(j, 0);
    int hold = req.hold_s > 0;
    j->step_start_ms = sy_now_ms();
    j->ps->requests++;
    assert(!j->req); /* one request per job */
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
        job_provider_failed(j, &res, "transport");
    }
}

static void skip(struct job *j, const char *why)
{
    job_add_attempt(j, "skipped", 0, NULL, why, 0);
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
    struct jp_job jj = { .holding_slot = j->holding_slot,
                         .tries = j->tries,
                         .has_later = has_later(j),
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
        job_arm(j, v.wait_ms);
        return;
    case JP_GO:
        break;
    }
    j->breaker_pending = 1;
    j->tries++;
    j->creates++;
    send_create(j);
}

void job_try_provider(struct job *j)
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
    j->plan = jobpoll_plan(j);
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
        jobresume_start(j);
        return;
    }
    job_try_provider(j);
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
    size_t order[DISPATCH_MAX_PROVIDERS];
    j->n_order = dispatch_order(c, (const char *const *)spec->providers, spec->n_providers, order,
                                DISPATCH_MAX_PROVIDERS);
    for (size_t k = 0; k < j->n_order; k++)
        j->order[k] = (uint32_t)order[k]; /* an index into c->providers: far below 2^32 */
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

void job_abort(struct job *j)
{
    if (j->finished)
        return;
    j->e->in_flight--;
    release(j);
}

char *job_rejected_json(const struct engine *e, const char *id, long line, const char *reason)
{
    return attempts_rejected_json(e->worker_id, id, line, reason,
                                  e->d ? (size_t)dispatch_conf(e->d)->kafka.max_result_bytes : 0);
}
