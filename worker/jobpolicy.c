/* jobpolicy.c — a job's decisions (see jobpolicy.h). Pure over the
 * provider's policy objects and now_ms; job.c carries the verdicts out.
 *
 * The create gate asks, in order: breaker state, the provider's in-flight
 * task cap, the create rate limit (token bucket + sliding window), and the
 * breaker's permission (a half-open probe slot). A wait longer than
 * JOB_MOVE_ON_MS on the first try moves the job to the next provider when
 * there is one. */
#include "jobpolicy.h"

#include <stdio.h>

#include "providers/ratelimit.h"
#include "providers/retry_budget.h"
#include "worker/dispatch.h"
#include "core/sy.h"

static struct jp_verdict skip(const char *why)
{
    struct jp_verdict v = { .gate = JP_SKIP, .blame = PROV_K_NONE };
    snprintf(v.why, sizeof v.why, "%s", why);
    return v;
}

static struct jp_verdict wait_for(int64_t ms)
{
    struct jp_verdict v = { .gate = JP_WAIT, .wait_ms = ms, .blame = PROV_K_NONE };
    return v;
}

struct jp_verdict jobpolicy_gate(struct pstate *ps, struct jp_job *jj, int64_t now_ms)
{
    if (breaker_state(ps->br, now_ms) == BREAKER_OPEN) {
        ps->skipped_open++;
        if (ps->trip_kind == PROV_K_NONE)
            return skip("circuit breaker open");
        /* Opened by a bad key or no credit: say so in the job's error. */
        struct jp_verdict v =
                skip(ps->trip_kind == PROV_K_AUTH
                             ? "circuit breaker open: the provider refused the API key (401)"
                             : "circuit breaker open: no credit left (402)");
        v.blame = ps->trip_kind;
        return v;
    }
    if (!jj->holding_slot) {
        if (ratelimit_task_start(ps->rl) != SY_OK) {
            if (jj->has_later)
                return skip("rate_limit.max_in_flight reached");
            ps->rate_limit_waits++;
            return wait_for(JOB_SLOT_WAIT_MS);
        }
        jj->holding_slot = 1;
    }
    int64_t w = ratelimit_acquire(ps->rl, RATELIMIT_CREATE, now_ms);
    if (w > 0) {
        ps->rate_limit_waits++;
        /* Many jobs wait on one limiter: each may see a short wait and lose
         * the token to another, again and again. What counts is the whole
         * time at this gate, not the next wait alone. */
        int64_t waited = now_ms - jj->gate_since_ms;
        if ((w > JOB_MOVE_ON_MS || waited + w > JOB_MOVE_ON_MS) && jj->tries == 0 &&
            jj->has_later) {
            struct jp_verdict v = skip("");
            if (w > JOB_MOVE_ON_MS)
                snprintf(v.why, sizeof v.why, "rate limited: next create slot in %lld ms",
                         (long long)w);
            else
                snprintf(v.why, sizeof v.why, "rate limited: no create slot after %lld ms",
                         (long long)waited);
            return v;
        }
        return wait_for(w);
    }
    if (breaker_allow(ps->br, now_ms) != SY_OK) {
        /* Half-open with every probe slot taken. */
        if (jj->has_later)
            return skip("circuit breaker half-open, probes in use");
        return wait_for(JOB_POLL_RETRY_MS);
    }
    if (jj->tries == 0)
        budget_on_request(ps->bud, now_ms);
    struct jp_verdict v = { .gate = JP_GO, .blame = PROV_K_NONE };
    return v;
}

enum prov_kind jobpolicy_blame(const struct prov_result *r)
{
    if (r->cls == PROV_C_TASK_FAILED && r->kind != PROV_K_AUTH && r->kind != PROV_K_NO_CREDIT &&
        r->kind != PROV_K_INVALID_INPUT)
        return PROV_K_TASK_FAILED;
    return r->kind;
}

const char *jobpolicy_error_class(enum prov_kind k)
{
    switch (k) {
    case PROV_K_AUTH:
        return "provider_auth";
    case PROV_K_NO_CREDIT:
        return "no_credit";
    case PROV_K_INVALID_INPUT:
        return "rejected";
    case PROV_K_TASK_FAILED:
        return "task_failed";
    default:
        return "exhausted";
    }
}

enum jp_next jobpolicy_after_failure(const struct prov_result *r, int has_later, int tries,
                                     const struct conf_retry *retry, struct budget *bud,
                                     uint64_t *rng, int64_t now_ms, int64_t *backoff_ms)
{
    int fixable_here = r->kind != PROV_K_AUTH && r->kind != PROV_K_NO_CREDIT &&
                       r->kind != PROV_K_INVALID_INPUT && r->kind != PROV_K_NOT_FOUND;
    /* A task failure may be the prompt's luck on this provider: prefer another. */
    if (r->cls == PROV_C_TASK_FAILED && has_later)
        fixable_here = 0;
    if (!fixable_here || tries >= retry->max_attempts || budget_try_retry(bud, now_ms) != SY_OK)
        return JP_NEXT_PROVIDER;
    *backoff_ms = budget_backoff_ms(retry, tries, rng);
    return JP_RETRY_SAME;
}

enum jp_poll jobpolicy_after_poll(const struct prov_result *r, int *not_ready, int *poll_errors,
                                  int not_ready_tolerance)
{
    if (r->cls == PROV_C_TASK_FAILED)
        return JP_POLL_TASK_FAILED;
    if (r->kind == PROV_K_NOT_READY)
        return ++*not_ready > not_ready_tolerance ? JP_POLL_GIVE_UP : JP_POLL_AGAIN;
    if (r->kind == PROV_K_RATE_LIMITED)
        return JP_POLL_LIMITED;
    if (r->kind == PROV_K_AUTH || r->kind == PROV_K_NO_CREDIT || r->kind == PROV_K_NOT_FOUND)
        return JP_POLL_GIVE_UP;
    /* A failed status request: poll again, never re-create. */
    return ++*poll_errors > JOB_MAX_POLL_ERRORS ? JP_POLL_GIVE_UP : JP_POLL_RETRY;
}

enum breaker_outcome jobpolicy_task_failed_outcome(const struct prov_result *r, int from_callback)
{
    enum breaker_outcome o = breaker_classify(0, r->cls, r->kind);
    return from_callback && o == BREAKER_TRIP ? BREAKER_FAILURE : o;
}

int jobpolicy_poll_expired(int64_t age_ms, int max_s)
{
    return age_ms > (int64_t)max_s * 1000;
}

int jobpolicy_resume_unknown(const struct prov_result *r, int64_t age_ms, int not_ready,
                             int not_ready_tolerance)
{
    if (r->outcome != PROV_FAILED)
        return 0;
    return r->kind == PROV_K_NOT_FOUND ||
           (r->kind == PROV_K_NOT_READY &&
            (age_ms > JOB_RESUME_NULL_MS || not_ready >= not_ready_tolerance));
}

int jobpolicy_may_hold(int wait_s, int prov_conns, int host_cap, int held)
{
    int conns = prov_conns > host_cap ? host_cap : prov_conns;
    int cap = conns / JOB_HELD_SHARE;
    return wait_s > 0 && held < (cap > 0 ? cap : 1);
}
