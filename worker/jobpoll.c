/* jobpoll.c — a job's poll phase: the poll gate (the provider's poll
 * limiter), reading a task's status (from a status reply or a verified
 * callback), when to poll next (pollsched.h) and what a finished task
 * teaches the poll plan. A failed poll *request* polls again and never
 * re-creates the task; what a failed status means is jobpolicy.c's. */
#include <stddef.h>
#include <assert.h>
#include <stdio.h>

#include "worker/job_int.h"
#include "worker/jobpolicy.h"
#include "core/sy.h"

/* The provider's list of jobs waiting for their first poll (moved by
 * jobpoll_observe_done while a plan is young). */
void jobpoll_unlist(struct job *j)
{
    if (j->fp.listed)
        pollsched_unlist(&j->ps->first_polls, &j->fp);
}

void jobpoll_list(struct job *j)
{
    pollsched_list(&j->ps->first_polls, &j->fp);
}

/* The poll plan of the job's provider model (looked up once per provider,
 * in job_try_provider); NULL = use the fixed settings. */
struct pollplan *jobpoll_plan(struct job *j)
{
    return pollsched_plan(j->ps, j->prov, j->spec->model, j->spec->op == CODEC_OP_EDIT);
}

/* The one decision of when to poll next: after the create (first = 1) and
 * after each poll that saw the task still running. */
int64_t jobpoll_delay_ms(const struct job *j, int first)
{
    return pollsched_delay_ms(j->plan, &j->prov->poll, j->e->callback_base != NULL,
                              j->e->safety_poll_ms, sy_now_ms() - j->poll_t0_ms, first);
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
        job_arm(w, pollplan_next_ms(r->pp, r->now - w->poll_t0_ms, 1));
}

/* The reply that just arrived says the task is finished (either way): it
 * ended after the last poll that saw it pending and before now — exactly
 * when the reply says how long it ran. While the plan is young, the first
 * polls it planned for tasks still waiting on them move with it. */
void jobpoll_observe_done(struct job *j, const struct prov_result *res)
{
    if (!pollsched_observe_done(j->plan, j->pending_ms, sy_now_ms() - j->poll_t0_ms,
                                res->duration_ms))
        return;
    struct replan r = { .pp = j->plan, .now = sy_now_ms() };
    pollsched_each(j->ps->first_polls, replan_one, &r);
}

/* A task's status, from a status reply or (from_callback) a verified
 * callback body: finish, fail over or wait again. r stays the caller's to
 * clean up (job_succeed() takes its urls). */
void jobpoll_result(struct job *j, struct prov_result *r, int64_t now, int from_callback)
{
    struct prov_result res = *r; /* a shallow copy: the code below reads it as before */
    if (j->resumed && jobresume_gone(j, &res, now))
        return;
    switch (res.outcome) {
    case PROV_SUCCEEDED:
        jobpoll_observe_done(j, r);
        job_succeed(j, r);
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
            jobreq_cancel(j);
            job_provider_failed(j, &res, "timeout");
        } else {
            job_arm(j, j->cb_poll_due ? 0 : jobpoll_delay_ms(j, 0));
            j->cb_poll_due = 0;
        }
        break;
    case PROV_FAILED:
        switch (jobpolicy_after_poll(&res, &j->not_ready, &j->poll_errors,
                                     j->prov->not_ready_tolerance)) {
        case JP_POLL_TASK_FAILED:
            /* The provider ran the task and it failed: its health counts. */
            jobpoll_observe_done(j, &res);
            breaker_record(j->ps->br, jobpolicy_task_failed_outcome(&res, from_callback), now);
            job_provider_failed(j, &res, prov_class_name(res.cls));
            break;
        case JP_POLL_GIVE_UP:
            job_provider_failed(j, &res, prov_class_name(res.cls));
            break;
        case JP_POLL_AGAIN:
            job_arm(j, jobpoll_delay_ms(j, 0));
            break;
        case JP_POLL_LIMITED:
            job_add_attempt(j, prov_class_name(res.cls), res.http_status, res.code, res.message,
                            now - j->step_start_ms);
            ratelimit_on_429(j->ps->rl, RATELIMIT_POLL, res.retry_after_ms, now);
            job_arm(j, 0); /* the limiter holds the next poll back */
            break;
        case JP_POLL_RETRY:
            job_add_attempt(j, prov_class_name(res.cls), res.http_status, res.code, res.message,
                            now - j->step_start_ms);
            job_arm(j, JOB_POLL_RETRY_MS);
            break;
        }
        break;
    }
}

static void on_poll_reply(void *ud, const struct loop_response *resp)
{
    struct job *j = ud;
    struct prov_result res;
    jobreq_read_reply(j, resp, j->ops->parse_poll, &res);
    int64_t now = sy_now_ms();
    if (res.outcome != PROV_FAILED)
        ratelimit_on_success(j->ps->rl, RATELIMIT_POLL, now);
    jobpoll_result(j, &res, now, 0);
    prov_result_cleanup(&res);
}

void jobpoll_gate(struct job *j)
{
    int64_t wait = ratelimit_acquire(j->ps->rl, RATELIMIT_POLL, sy_now_ms());
    if (wait > 0) {
        j->ps->rate_limit_waits++;
        job_arm(j, wait);
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
        job_provider_failed(j, &res, "invalid_reply");
        return;
    }
    struct loop_send s = jobreq_send_opts(j, 0);
    j->step_start_ms = sy_now_ms();
    j->ps->requests++;
    assert(!j->req); /* one request per job */
    j->req = loop_http(j->e->loop, &req, &s, on_poll_reply, j);
    if (!j->req)
        job_arm(j, JOB_POLL_RETRY_MS);
}
