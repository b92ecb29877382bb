/* retry_budget.h — per-provider retry budget and retry backoff
 * (docs/architecture.md §Provider policies). Pure: no I/O, no clock, no
 * globals; time comes in as now_ms (monotonic ms; a time earlier than one
 * already seen counts as the latest seen), randomness as a caller-owned rng
 * state. Every call is safe from a loop callback.
 *
 * Budget: over a sliding 10 s window kept in 1 s buckets (the current second
 * and the 9 before it), retries <= budget_ratio x first-try requests +
 * budget_min_per_s x 10, so an outage cannot turn into a retry storm. */
#ifndef PROVIDERS_RETRY_BUDGET_H
#define PROVIDERS_RETRY_BUDGET_H

#include <stdint.h>

#include "conf/config.h"

#define BUDGET_WINDOW_S 10

struct budget; /* one per provider */

/* An empty budget; c is copied. Returns NULL if out of memory; caller frees
 * with budget_free(). */
struct budget *budget_new(const struct conf_retry *c);
/* NULL is a no-op. */
void budget_free(struct budget *b);
/* Reload: takes the new settings (copied); the counts in the window stay. */
void budget_configure(struct budget *b, const struct conf_retry *c);

/* A first-try request (not a retry) was sent: it earns budget_ratio of a retry. */
void budget_on_request(struct budget *b, int64_t now_ms);
/* May one retry go now? SY_OK (and it is spent) or SY_DECLINED. */
int budget_try_retry(struct budget *b, int64_t now_ms);
/* Retries still allowed right now, >= 0 (for the metrics gauge; may be
 * fractional: a retry goes when the balance is >= 1). */
double budget_balance(struct budget *b, int64_t now_ms);

/* Backoff before retry number `attempt` (1 = first retry; < 1 counts as 1):
 * full jitter, uniform in [0, min(backoff_max_ms, backoff_base_ms x
 * 2^(attempt-1))], never overflowing. rng is the caller's state (any value,
 * 0 included), advanced by each call; c is borrowed for the call. */
int64_t budget_backoff_ms(const struct conf_retry *c, int attempt, uint64_t *rng);

#endif
