/* pollplan.h — when to poll a provider task next.
 *
 * One pollplan per (provider, provider model). Pure: no clock, no I/O, no
 * globals; times are milliseconds since the task was created (the create
 * request was sent). Every call is safe from a loop callback.
 *
 * Adaptive mode keeps a streaming estimate of the generation-time
 * distribution — a lognormal fitted to forgetting-weighted moments of ln T,
 * backed by a log-spaced histogram for shapes the fit misses, both seeded
 * from a lognormal prior — and derives from it a schedule of poll instants
 * that minimises the expected number of polls per task while the expected
 * delay between completion and detection stays at poll.max_lag_ms: poll
 * rate λ(t) ∝ sqrt(hazard(t)), polls where ∫λ crosses an integer, gaps
 * clamped to [min_interval_ms, max_interval_ms], and the rate scaled so the
 * discrete schedule's expected lag is max_lag_ms. Fixed mode is the plain
 * first_ms / interval_ms rule. */
#ifndef PROVIDERS_POLLPLAN_H
#define PROVIDERS_POLLPLAN_H

#include <stddef.h>
#include <stdint.h>

#include "conf/config.h"

struct pollplan;

/* A plan seeded from cfg's prior (cfg copied). NULL on out of memory;
 * free with pollplan_free(). */
struct pollplan *pollplan_new(const struct conf_poll *cfg);
/* NULL is a no-op. */
void pollplan_free(struct pollplan *pp);

/* Reload: take cfg (copied) for every later decision. The learned estimate
 * stays, unless the prior (expect_median_ms / expect_sigma) changed: then
 * the estimate restarts from the new prior. */
void pollplan_configure(struct pollplan *pp, const struct conf_poll *cfg);

/* A task was seen finished (succeeded or failed): its generation time lies
 * in (lo_ms, hi_ms] — lo = when the last poll that saw it pending was sent
 * (0 if none), hi = when the reply saying "done" arrived. A completion in
 * the create reply (sync mode) is (0, t]. An interval narrower than 2 % of
 * hi counts as its midpoint; a wider one enters by one EM step (the fit by
 * the moments of ln T truncated to the interval, the histogram by the
 * estimate's mass inside it). The prior counts as 2 observations; older
 * observations fade by (1 - 1/150) each. */
void pollplan_observe(struct pollplan *pp, int64_t lo_ms, int64_t hi_ms);

/* The same task, when the provider reported how long it ran (reported_ms:
 * its own completion minus creation time): observed exactly, at reported_ms
 * clamped into [lo_ms, hi_ms]. The provider's clock starts when it received
 * the create, ours when we sent it; the clamp absorbs what the provider's
 * number says is impossible, the rest of that offset (the create's one-way
 * latency) is not added. */
void pollplan_observe_reported(struct pollplan *pp, int64_t lo_ms, int64_t hi_ms,
                               int64_t reported_ms);

/* Delay in ms from now to the next poll of a task created elapsed_ms ago;
 * first = 1 right after the create, 0 after a poll that saw it pending.
 * Adaptive: the next scheduled instant after elapsed_ms, clamped to
 * [min_interval_ms, max_interval_ms]; past the schedule, max_interval_ms.
 * Fixed: first_ms, then interval_ms. The schedule is rebuilt lazily, at
 * most once per 8 observations, so a call is a binary search. */
int64_t pollplan_next_ms(struct pollplan *pp, int64_t elapsed_ms, int first);

/* The q-quantile (0 < q < 1) of the estimated generation time, in ms (the
 * planning density as of the last schedule rebuild, without stragglers). */
double pollplan_quantile(const struct pollplan *pp, double q);

/* The current adaptive schedule: up to cap instants (ms after creation,
 * ascending) into out; returns how many there are in all. */
size_t pollplan_schedule(struct pollplan *pp, int64_t *out, size_t cap);

/* Expected polls per task and expected detection lag (ms) of the current
 * adaptive schedule, over the current estimate (as the planner sees them). */
void pollplan_expect(struct pollplan *pp, double *polls, double *lag_ms);

/* Expected polls and lag (ms) of an arbitrary ascending schedule over the
 * current estimate; after its last instant, polls every max_interval_ms. */
void pollplan_evaluate(const struct pollplan *pp, const int64_t *sched, size_t n, double *polls,
                       double *lag_ms);

/* Observations recorded so far (for logs and tests). */
uint64_t pollplan_observations(const struct pollplan *pp);

#endif
