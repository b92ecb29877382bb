/* retry_budget.c — per-provider retry budget and backoff with full jitter.
 * Pure: no I/O, no clock, no globals.
 *
 * The window is BUDGET_WINDOW_S one-second buckets in a ring indexed by
 * second mod BUDGET_WINDOW_S. Invariants:
 *   - a bucket counts only while its second is in (latest - WINDOW, latest];
 *     a bucket holding an older second is stale and is reset before reuse;
 *   - latest never decreases (an earlier now_ms is read as latest);
 *   - a retry is granted only when retries + 1 <= ratio x requests +
 *     min_per_s x WINDOW over the live buckets, so the granted retries in any
 *     window never exceed that bound as computed when the last one went.
 * Trade-off: 1 s buckets make the window slide in whole seconds: a request
 * earns budget for between 9 and 10 s. */
#include "providers/retry_budget.h"

#include <stdlib.h>

#include "core/sy.h"

struct bucket {
    int64_t sec; /* which second it holds */
    uint32_t requests, retries;
};

struct budget {
    struct conf_retry c;
    int64_t latest; /* newest second seen */
    int seen;       /* latest is valid */
    struct bucket b[BUDGET_WINDOW_S];
};

struct budget *budget_new(const struct conf_retry *c)
{
    struct budget *b = calloc(1, sizeof *b);

    if (!b)
        return NULL;
    b->c = *c;
    return b;
}

void budget_free(struct budget *b)
{
    free(b);
}

void budget_configure(struct budget *b, const struct conf_retry *c)
{
    b->c = *c;
}

static int64_t floor_div(int64_t a, int64_t d)
{
    int64_t q = a / d;

    return (a % d != 0 && (a < 0) != (d < 0)) ? q - 1 : q;
}

/* The bucket for now_ms's second (clamped to latest), reset when stale. */
static struct bucket *current(struct budget *b, int64_t now_ms)
{
    int64_t sec = floor_div(now_ms, 1000);

    if (!b->seen || sec > b->latest) {
        b->latest = sec;
        b->seen = 1;
    }
    sec = b->latest;
    int64_t i = sec % BUDGET_WINDOW_S;
    struct bucket *k = &b->b[i < 0 ? i + BUDGET_WINDOW_S : i];
    if (k->sec != sec) {
        k->sec = sec;
        k->requests = k->retries = 0;
    }
    return k;
}

/* Allowed retries minus retries spent, over the live buckets (may be < 0
 * after a reload lowered the limits). */
static double headroom(struct budget *b, int64_t now_ms)
{
    current(b, now_ms);
    uint64_t req = 0, ret = 0;
    for (int i = 0; i < BUDGET_WINDOW_S; i++) {
        const struct bucket *k = &b->b[i];
        if (k->sec > b->latest - BUDGET_WINDOW_S && k->sec <= b->latest) {
            req += k->requests;
            ret += k->retries;
        }
    }
    double allowed = b->c.budget_ratio * (double)req + b->c.budget_min_per_s * BUDGET_WINDOW_S;
    return allowed - (double)ret;
}

void budget_on_request(struct budget *b, int64_t now_ms)
{
    struct bucket *k = current(b, now_ms);

    if (k->requests < UINT32_MAX)
        k->requests++;
}

int budget_try_retry(struct budget *b, int64_t now_ms)
{
    if (!(headroom(b, now_ms) >= 1.0))
        return SY_DECLINED;
    current(b, now_ms)->retries++;
    return SY_OK;
}

double budget_balance(struct budget *b, int64_t now_ms)
{
    double h = headroom(b, now_ms);

    return h > 0 ? h : 0;
}

/* splitmix64: good output from any state, 0 included. */
static uint64_t splitmix64(uint64_t *s)
{
    uint64_t z = (*s += 0x9E3779B97F4A7C15ULL);

    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    return z ^ (z >> 31);
}

/* Uniform in [0, n) without modulo bias (rejection of the short top range). */
static uint64_t uniform_below(uint64_t *rng, uint64_t n)
{
    uint64_t limit = UINT64_MAX - UINT64_MAX % n; /* a multiple of n */

    for (;;) {
        uint64_t r = splitmix64(rng);
        if (r < limit)
            return r % n;
    }
}

int64_t budget_backoff_ms(const struct conf_retry *c, int attempt, uint64_t *rng)
{
    int64_t base = c->backoff_base_ms > 0 ? c->backoff_base_ms : 0;
    int64_t max = c->backoff_max_ms > 0 ? c->backoff_max_ms : 0;
    int shift = attempt > 1 ? attempt - 1 : 0;
    /* base < 2^31, so base << shift fits in int64 for shift <= 31, and any
     * larger shift is past every int cap anyway. */
    int64_t cap = shift > 31 ? max : base << shift;

    if (cap > max)
        cap = max;
    return (int64_t)uniform_below(rng, (uint64_t)cap + 1);
}
