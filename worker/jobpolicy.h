/* jobpolicy.h — what a job does next: the create gate, retry here or move
 * on, which failure the job's error blames, may a create be held open.
 * Pure: no uv, no curl, no clock, no logging. The provider's policy objects
 * (limiter, breaker, budget in struct pstate) and now_ms come in as
 * arguments; the job's own state as plain values. job.c carries out the
 * verdicts (timers, requests, attempts). Every call is safe from a loop
 * callback. */
#ifndef WORKER_JOBPOLICY_H
#define WORKER_JOBPOLICY_H

#include <stddef.h>
#include <stdint.h>

#include "conf/config.h"
#include "providers/breaker.h"
#include "providers/provider.h"

struct budget;
struct pstate;

#define JOB_MAX_POLL_ERRORS 5 /* failed status requests in a row before giving the task up */
#define JOB_POLL_RETRY_MS 1000
#define JOB_SLOT_WAIT_MS 250 /* re-check of a full in-flight cap */
#define JOB_MOVE_ON_MS 3000  /* a first create that would wait longer moves on, when it can */
/* Creates held open by Prefer: wait may take at most 1/JOB_HELD_SHARE of a
 * provider's connections; past that a create goes out without the hold (and
 * is polled), so held replies never starve polls and other creates. */
#define JOB_HELD_SHARE 2
/* A resumed KIE task answered "recordInfo is null" (which KIE also says for
 * a moment after a create): past this age it is taken as unknown. */
#define JOB_RESUME_NULL_MS 5000

enum jp_gate {
    JP_GO,   /* send the create now */
    JP_WAIT, /* ask the gate again after wait_ms */
    JP_SKIP, /* move on to the next provider; why says so in the attempts */
};

/* The job as the create gate sees it. */
struct jp_job {
    int holding_slot;      /* in/out: counted in the provider's in-flight cap */
    int tries;             /* creates already sent to this provider */
    int has_later;         /* a provider after this one has its breaker not open */
    int64_t gate_since_ms; /* when the job reached this provider's gate */
};

struct jp_verdict {
    enum jp_gate gate;
    int64_t wait_ms;      /* JP_WAIT */
    enum prov_kind blame; /* JP_SKIP: the job's last kind becomes this; PROV_K_NONE = unchanged */
    char why[96];         /* JP_SKIP: the attempt's message */
};

/* The create gate of ps for job jj at now_ms. Asks, in order: breaker state,
 * the in-flight cap (taking a slot: jj->holding_slot), the create rate limit,
 * the breaker's permission. JP_GO: a token and a breaker permission are taken
 * (answer it with exactly one breaker_record) and a first try is counted in
 * the retry budget. Counts ps->skipped_open and ps->rate_limit_waits. */
struct jp_verdict jobpolicy_gate(struct pstate *ps, struct jp_job *jj, int64_t now_ms);

/* The kind a failure leaves on the job (its error.class if it is the last):
 * a task that ran and failed is a task failure unless its code blames the
 * key, the credit or the input. */
enum prov_kind jobpolicy_blame(const struct prov_result *r);

/* error.class for a job whose last failure had kind k (after every provider
 * was tried): provider_auth, no_credit, rejected, task_failed, exhausted. */
const char *jobpolicy_error_class(enum prov_kind k);

enum jp_next { JP_RETRY_SAME, JP_NEXT_PROVIDER };

/* A create or the task failed (not a 429): create again on this provider
 * after *backoff_ms, or move on. A retry needs a fixable kind, tries <
 * retry->max_attempts and a retry from bud (taken); a failed task prefers a
 * later provider when there is one. rng: the backoff jitter source. */
enum jp_next jobpolicy_after_failure(const struct prov_result *r, int has_later, int tries,
                                     const struct conf_retry *retry, struct budget *bud,
                                     uint64_t *rng, int64_t now_ms, int64_t *backoff_ms);

enum jp_poll {
    JP_POLL_TASK_FAILED, /* the task ran and failed: record it in the breaker, then as a failure */
    JP_POLL_GIVE_UP,     /* a failure of this provider (retry here or move on) */
    JP_POLL_AGAIN,       /* not visible yet: poll on the plan */
    JP_POLL_LIMITED,     /* 429: record it, tell the limiter, poll when it allows */
    JP_POLL_RETRY, /* a failed status request: record it, poll again after JOB_POLL_RETRY_MS */
};

/* A status reply (or callback) with outcome PROV_FAILED. Counts *not_ready
 * (not-ready replies) and *poll_errors (failed status requests) as it goes. */
enum jp_poll jobpolicy_after_poll(const struct prov_result *r, int *not_ready, int *poll_errors,
                                  int not_ready_tolerance);

/* How a failed task counts in the breaker. A callback never opens it at once
 * (bad key, no credit): only a status reply, which our key fetched, may. */
enum breaker_outcome jobpolicy_task_failed_outcome(const struct prov_result *r, int from_callback);

/* Has a task still pending at age_ms run past poll.max_s? */
int jobpolicy_poll_expired(int64_t age_ms, int max_s);

/* Is a resumed task (created age_ms ago) unknown to its provider, by this
 * reply? A 404, or "not ready" past JOB_RESUME_NULL_MS or the tolerance. */
int jobpolicy_resume_unknown(const struct prov_result *r, int64_t age_ms, int not_ready,
                             int not_ready_tolerance);

/* May a create be held open (Prefer: wait of wait_s > 0)? Only while the held
 * creates (held) stay within 1/JOB_HELD_SHARE of the provider's connections
 * (prov_conns, cut to the loop's per-host cap host_cap); at least one. */
int jobpolicy_may_hold(int wait_s, int prov_conns, int host_cap, int held);

#endif
