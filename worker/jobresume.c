/* jobresume.c — a job that takes over a task another worker created (the
 * task ledger: poll it at once, create it anew when its provider no longer
 * knows it), and the entry point of the provider callbacks (a trigger polls
 * now; a verified terminal body completes the job). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "worker/job_int.h"
#include "worker/jobpolicy.h"
#include "worker/metrics.h"
#include "core/sy.h"
#include "worker/taskmap.h"

/* A resumed task's first answers: does its provider still know it? If
 * not, the job is created anew on the same provider (returns 1). */
int jobresume_gone(struct job *j, const struct prov_result *res, int64_t now)
{
    if (!jobpolicy_resume_unknown(res, now - j->task_created_ms, j->not_ready,
                                  j->prov->not_ready_tolerance)) {
        if (res->outcome != PROV_FAILED || res->kind != PROV_K_NOT_READY)
            j->resumed = 0; /* the provider answered for it: an ordinary task from now on */
        return 0;
    }
    struct log_ctx lc = job_log_ctx(j);
    LOG_INFO(&lc, "resumed task unknown to the provider (%s): creating it again", res->message);
    job_add_attempt(j, "task_unknown", res->http_status, res->code, res->message,
                    now - j->step_start_ms);
    metrics_ledger(j->e->m, METRICS_LEDGER_RECREATED);
    j->resumed = 0;
    job_drop_task(j);
    j->phase = PHASE_CREATE;
    j->not_ready = 0;
    j->poll_errors = 0;
    job_arm(j, 0);
    return 1;
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
void jobresume_start(struct job *j)
{
    struct job_resume_copy *r = j->resume;
    j->cur = order_index(j, r->provider);
    if (j->cur >= j->n_order) { /* the config changed since job_resume() */
        j->cur = 0;
        job_try_provider(j);
        return;
    }
    j->prov = &j->cref->c->providers[j->order[j->cur]];
    j->ops = prov_lookup(j->prov->type);
    j->ps = dispatch_pstate(j->e->d, j->prov->name);
    j->plan = jobpoll_plan(j);
    j->gate_since_ms = sy_now_ms();
    j->task_id = strdup(r->task_id);
    if (!j->ops || !j->ps || !j->task_id) {
        free(j->task_id);
        j->task_id = NULL;
        job_try_provider(j);
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
    job_add_attempt(j, "resumed", 0, NULL, msg, 0);
    job_track_task(j);
    struct log_ctx lc = job_log_ctx(j);
    LOG_INFO(&lc, "%s", msg);
    job_arm(j, 0); /* its callback may have gone to the dead worker: ask now */
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
        jobpoll_unlist(j);
        job_arm(j, 0);
        return SY_OK;
    }
    if (res->outcome != PROV_SUCCEEDED &&
        !(res->outcome == PROV_FAILED && res->cls == PROV_C_TASK_FAILED))
        return SY_DECLINED; /* not terminal: the safety poll carries on */
    if (j->req) {
        loop_cancel(j->req); /* a safety poll in flight: its answer is not needed */
        j->req = NULL;
    }
    uv_timer_stop(&j->timer);
    jobpoll_result(j, res, sy_now_ms(), 1);
    return SY_OK;
}
