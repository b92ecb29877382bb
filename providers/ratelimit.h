/* ratelimit.h — per-provider request limiter (docs/architecture.md §Provider policies;
 * docs/providers.md §KIE rate limit, §Replicate rate limits). Pure: no I/O, no
 * clock, no globals, no sleeping; the caller passes a monotonic `now_ms` to
 * every call, and every call is safe from a loop callback. A clock that goes
 * backwards is treated as no time passing. One limiter per provider (per API
 * key) per worker. */
#ifndef PROVIDERS_RATELIMIT_H
#define PROVIDERS_RATELIMIT_H

#include <stdint.h>

#include "conf/config.h"

enum ratelimit_kind {
    RATELIMIT_CREATE, /* task creation */
    RATELIMIT_POLL,   /* every other request: status, cancel, download link */
};

struct ratelimit;

/* A limiter for the settings in c (copied; c is not kept) with a full bucket of
 * each kind, share 1 and factors 1. Returns NULL if c is NULL or out of memory;
 * caller frees with ratelimit_free(). */
struct ratelimit *ratelimit_new(const struct conf_rate_limit *c, int64_t now_ms);
/* Frees the limiter. NULL is a no-op. */
void ratelimit_free(struct ratelimit *r);

/* New settings (reload) and/or fleet share: this worker's fraction of the key's
 * limit, 0 < share <= 1 (out of range is clamped to [0.001, 1]; ignored and
 * taken as 1 unless c->scope is "fleet"). Keeps window timestamps (the newest
 * create_window_max of them), tokens (clamped to the new burst), 429 blocks,
 * factors, in-flight count and stats. Returns SY_OK, or SY_ERR (out of memory,
 * nothing changed). */
int ratelimit_configure(struct ratelimit *r, const struct conf_rate_limit *c, double share,
                        int64_t now_ms);

/* May one request of kind go now? Returns 0: yes, and it is counted (token
 * taken, create timestamp recorded). Returns > 0: no, nothing is counted, and
 * asking again that many ms later passes unless the state changes meanwhile. */
int64_t ratelimit_acquire(struct ratelimit *r, enum ratelimit_kind kind, int64_t now_ms);

/* The cap on tasks in flight (created, not yet finished). task_start returns
 * SY_OK and counts one, or SY_AGAIN at max_in_flight (<= 0 means no cap).
 * task_end releases one (never below 0). */
int ratelimit_task_start(struct ratelimit *r);
void ratelimit_task_end(struct ratelimit *r);

/* The provider answered 429 to a request of kind. Nothing of that kind passes
 * before now + max(retry_after_ms, floor): floor is one create window for a
 * windowed create limit (KIE drops what is over, with no hint), else 1000 ms;
 * retry_after_ms < 0 = no hint. The bucket of kind is emptied and its factor
 * halved (not below 0.05) — once per block: 429s that arrive while a block of
 * that kind is already running (replies to requests sent before it) only extend
 * the block. */
void ratelimit_on_429(struct ratelimit *r, enum ratelimit_kind kind, int64_t retry_after_ms,
                      int64_t now_ms);

/* A request of kind succeeded. Additive recovery: once 1000 ms have passed
 * since the end of the last 429 block of kind (or the last step), the factor of
 * kind rises by 0.1, up to 1. So recovery takes at most 10 s per halving. */
void ratelimit_on_success(struct ratelimit *r, enum ratelimit_kind kind, int64_t now_ms);

/* For metrics. Factors in [0.05, 1]; waits = acquires refused so far per kind;
 * rate_limited_429 = ratelimit_on_429() calls so far. */
struct ratelimit_stats {
    double create_factor, poll_factor;
    int in_flight;
    uint64_t create_waits, poll_waits, rate_limited_429;
};
void ratelimit_get_stats(const struct ratelimit *r, struct ratelimit_stats *out);

#endif
