/* breaker.h — per-provider circuit breaker (docs/architecture.md §Provider policies).
 * Pure: no I/O, no clock, no globals; time comes in as now_ms (a monotonic
 * clock in ms). Every call is safe from a loop callback.
 *
 *   closed    --failure rate over the last `window` outcomes >= failure_rate,
 *               with >= min_calls outcomes, or one TRIP-->           open
 *   open      --open_s after opening-->                              half_open
 *   half_open --half_open_probes successes-->                        closed (empty window)
 *   half_open --a probe fails or trips-->                            open (fresh cool-down)
 *
 * How a finished request counts (breaker_classify):
 *
 *   | request                                                   | outcome |
 *   | --------------------------------------------------------- | ------- |
 *   | succeeded                                                 | SUCCESS |
 *   | kind AUTH (401), NO_CREDIT (402)                          | TRIP    |
 *   | kind INVALID_INPUT, RATE_LIMITED, NOT_READY, NOT_FOUND    | IGNORE  |
 *   | kind UNAVAILABLE (5xx, transport, timeout), TASK_FAILED   | FAILURE |
 *   | kind NONE, class TRANSPORT, TIMEOUT, INVALID_REPLY,       | FAILURE |
 *   |   TASK_FAILED, HTTP, PROVIDER (unexplained error)         |         |
 *   | kind NONE, class NONE (nothing known)                     | IGNORE  |
 *
 * The kind decides when it is set: a task that failed because of its own
 * input (class TASK_FAILED, kind INVALID_INPUT) is the job's fault. */
#ifndef PROVIDERS_BREAKER_H
#define PROVIDERS_BREAKER_H

#include <stdint.h>

#include "conf/config.h"
#include "providers/provider.h"

enum breaker_state { BREAKER_CLOSED, BREAKER_OPEN, BREAKER_HALF_OPEN };

enum breaker_outcome {
    BREAKER_SUCCESS,
    BREAKER_FAILURE,
    BREAKER_IGNORE, /* not the provider's health: changes nothing */
    BREAKER_TRIP,   /* open at once: bad key, no credit */
};

struct breaker; /* one per provider */

/* A closed breaker with an empty window; c is copied. Returns NULL if out of
 * memory; caller frees with breaker_free(). */
struct breaker *breaker_new(const struct conf_breaker *c);
/* NULL is a no-op. */
void breaker_free(struct breaker *b);
/* Reload: takes the new settings (copied) and keeps the state; the window is
 * resized keeping the newest outcomes. A new open_s applies to the current
 * cool-down. If the larger window cannot be allocated the old one is kept, so
 * the window is at most its old size. Never opens or closes by itself. */
void breaker_configure(struct breaker *b, const struct conf_breaker *c);

/* May a request go to this provider now? SY_OK (in half-open this takes one
 * of the half_open_probes probe slots) or SY_DECLINED (open and cooling down,
 * or half-open with every probe slot taken). Moves open → half-open when
 * open_s has passed since opening. */
int breaker_allow(struct breaker *b, int64_t now_ms);
/* Records the outcome of a request that breaker_allow() let through. Closed:
 * pushes it into the window and opens at the threshold; TRIP opens at once.
 * Half-open: a failure or trip re-opens; half_open_probes successes close.
 * IGNORE changes nothing but frees a half-open probe slot. Outcomes that
 * arrive while open, or while half-open with no probe out, come from requests
 * let through before the breaker opened and are dropped. */
void breaker_record(struct breaker *b, enum breaker_outcome o, int64_t now_ms);
/* The state at now_ms (this too moves open → half-open when due). */
enum breaker_state breaker_state(struct breaker *b, int64_t now_ms);
/* "closed" | "open" | "half_open" (static strings). */
const char *breaker_state_name(enum breaker_state s);

/* How a finished request counts; see the table above. succeeded != 0 wins
 * over cls/kind. */
enum breaker_outcome breaker_classify(int succeeded, enum prov_class cls, enum prov_kind kind);

struct breaker_stats {
    enum breaker_state state;
    int calls, failures; /* outcomes / failures now in the window */
    uint64_t opened;     /* times it opened (trips and re-opens included) */
    uint64_t rejected;   /* breaker_allow() calls declined */
};
/* Fills *out (caller-owned) with the state at now_ms and the counters. */
void breaker_get_stats(struct breaker *b, int64_t now_ms, struct breaker_stats *out);

#endif
