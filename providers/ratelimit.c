/* ratelimit.c — per-provider rate limiter: a token bucket per request kind, a
 * sliding window over create timestamps, 429 blocks with AIMD factors, and the
 * in-flight task cap. Pure: time only comes in as now_ms.
 *
 * Invariants:
 * - r->now never decreases: every entry point clamps now_ms to it first, so a
 *   clock going backwards means no time passed. Waits are returned relative to
 *   the caller's now_ms, so a caller with a lagging clock still retries at the
 *   right moment.
 * - Buckets count in nano-tokens (1 token = TOKEN) with an integer rate per ms,
 *   so refills and waits are exact integers, never off by a float ulp. Before a
 *   bucket's rate or capacity changes it is refilled up to r->now at the old
 *   rate.
 * - The window ring holds the newest (at most create_window_max) create
 *   timestamps, oldest first and non-decreasing. A create passes only if fewer
 *   than window_limit (<= create_window_max) of them lie in (now - W, now], so
 *   no window of W ms ever holds more than create_window_max creates, whatever
 *   the bucket settings, factor or share.
 * - Every effective limit is at least 1 per window / 1 token of capacity and a
 *   rate of at least 1 nano-token per ms.
 *
 * Trade-offs: the AIMD factor scales the refill rate and the window limit, not
 * the burst; instead a 429 empties the bucket of its kind, so what comes after
 * the block is what refilled at the cut rate. Only the first 429 of a block
 * cuts the factor: the others are replies to requests already on the wire.
 */
#include "providers/ratelimit.h"

#include <math.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "core/sy.h"

#define TOKEN 1000000000LL                    /* nano-tokens per token */
#define RATE_MAX 1000000000000LL              /* nano-tokens per ms: 1e6 tokens/s */
#define CAP_MAX (1000000000LL * TOKEN / 1000) /* 1e6 tokens */
#define FACTOR_MIN 0.05
#define FACTOR_STEP 0.1
#define RECOVER_MS 1000
#define BLOCK_MIN_MS 1000
#define SHARE_MIN 0.001

struct bucket {
    int64_t tokens; /* nano-tokens, 0..cap */
    int64_t cap;    /* nano-tokens, >= TOKEN */
    int64_t rate;   /* nano-tokens per ms, >= 1 */
    int64_t last;   /* time of the last refill */
};

struct lane {
    struct bucket b;
    double per_s;          /* configured rate */
    int burst;             /* configured burst */
    double factor;         /* AIMD factor, FACTOR_MIN..1 */
    int64_t blocked_until; /* nothing of this kind passes before */
    int64_t recover_from;  /* no additive step before this + RECOVER_MS */
    uint64_t waits;
};

struct ratelimit {
    struct lane lane[2]; /* indexed by enum ratelimit_kind */
    double share;        /* effective share, 1 unless scope is "fleet" */
    int64_t now;         /* latest time seen */

    int window_max;   /* configured; 0 = no window */
    int window_limit; /* effective, 1..window_max */
    int64_t window_ms;
    int64_t *ring; /* window_max slots */
    int ring_head, ring_n;

    int max_in_flight; /* <= 0 = no cap */
    int in_flight;
    uint64_t n429;
};

static int64_t advance(struct ratelimit *r, int64_t now_ms)
{
    if (now_ms > r->now)
        r->now = now_ms;
    return r->now;
}

static int64_t ceil_div(int64_t a, int64_t b)
{
    return a / b + (a % b != 0);
}

static void bucket_refill(struct bucket *b, int64_t now)
{
    if (now > b->last && b->tokens < b->cap) {
        int64_t room = b->cap - b->tokens;
        int64_t elapsed = now - b->last;

        if (elapsed >= ceil_div(room, b->rate))
            b->tokens = b->cap;
        else
            b->tokens += elapsed * b->rate;
    }
    if (now > b->last)
        b->last = now;
}

static int64_t clamp_ll(double x, int64_t lo, int64_t hi)
{
    if (!(x >= (double)lo)) /* also NaN */
        return lo;
    if (x >= (double)hi)
        return hi;
    return llround(x);
}

/* Recomputes the bucket's rate and capacity from settings, factor and share.
 * The bucket must have been refilled up to r->now. */
static void lane_retune(struct ratelimit *r, struct lane *l)
{
    double cap = l->burst * r->share;

    l->b.rate = clamp_ll(l->per_s * l->factor * r->share * (TOKEN / 1000), 1, RATE_MAX);
    l->b.cap = clamp_ll((cap < 1 ? 1 : cap) * TOKEN, TOKEN, CAP_MAX);
    if (l->b.tokens > l->b.cap)
        l->b.tokens = l->b.cap;
}

static void window_retune(struct ratelimit *r)
{
    /* The epsilon keeps 18 * (1/3.0) from flooring to 5. */
    double lim = floor(r->window_max * r->lane[RATELIMIT_CREATE].factor * r->share + 1e-9);

    r->window_limit = lim < 1 ? 1 : (lim > r->window_max ? r->window_max : (int)lim);
}

static int64_t ring_at(const struct ratelimit *r, int i)
{
    return r->ring[(r->ring_head + i) % r->window_max];
}

static void ring_push(struct ratelimit *r, int64_t t)
{
    if (r->ring_n < r->window_max) {
        r->ring[(r->ring_head + r->ring_n) % r->window_max] = t;
        r->ring_n++;
    } else {
        r->ring[r->ring_head] = t;
        r->ring_head = (r->ring_head + 1) % r->window_max;
    }
}

/* Index of the first ring entry inside (now - W, now]. */
static int ring_first_in_window(const struct ratelimit *r, int64_t now)
{
    int lo = 0, hi = r->ring_n;

    while (lo < hi) {
        int mid = lo + (hi - lo) / 2;

        if (ring_at(r, mid) > now - r->window_ms)
            hi = mid;
        else
            lo = mid + 1;
    }
    return lo;
}

/* Time at which the window admits one more create (<= now if it does now). */
static int64_t window_ready(const struct ratelimit *r, int64_t now)
{
    int first, count;

    if (r->window_max <= 0)
        return now;
    first = ring_first_in_window(r, now);
    count = r->ring_n - first;
    if (count < r->window_limit)
        return now;
    /* count - limit + 1 of them must leave; entry t leaves at t + W. */
    return ring_at(r, first + count - r->window_limit) + r->window_ms;
}

/* Copies the settings; resizes the ring keeping its newest entries. Returns
 * SY_ERR (nothing changed) if out of memory. */
static int apply_conf(struct ratelimit *r, const struct conf_rate_limit *c, double share)
{
    int wmax = c->create_window_max > 0 ? c->create_window_max : 0;

    if (wmax != r->window_max) {
        int64_t *ring = NULL;
        int keep = 0;

        if (wmax > 0) {
            ring = calloc((size_t)wmax, sizeof *ring);
            if (!ring)
                return SY_ERR;
            keep = r->ring_n < wmax ? r->ring_n : wmax;
            for (int i = 0; i < keep; i++)
                ring[i] = ring_at(r, r->ring_n - keep + i);
        }
        free(r->ring);
        r->ring = ring;
        r->ring_head = 0;
        r->ring_n = keep;
        r->window_max = wmax;
    }
    r->window_ms = (int64_t)(c->create_window_s > 0 ? c->create_window_s : 1) * 1000;

    if (!c->scope || strcmp(c->scope, "fleet") != 0 || isnan(share))
        share = 1;
    r->share = share < SHARE_MIN ? SHARE_MIN : (share > 1 ? 1 : share);

    r->lane[RATELIMIT_CREATE].per_s = c->create_per_s;
    r->lane[RATELIMIT_CREATE].burst = c->create_burst;
    r->lane[RATELIMIT_POLL].per_s = c->poll_per_s;
    r->lane[RATELIMIT_POLL].burst = c->poll_burst;
    r->max_in_flight = c->max_in_flight;

    for (int k = 0; k < 2; k++)
        lane_retune(r, &r->lane[k]);
    window_retune(r);
    return SY_OK;
}

struct ratelimit *ratelimit_new(const struct conf_rate_limit *c, int64_t now_ms)
{
    struct ratelimit *r;

    if (!c)
        return NULL;
    r = calloc(1, sizeof *r);
    if (!r)
        return NULL;
    r->now = now_ms;
    for (int k = 0; k < 2; k++) {
        r->lane[k].factor = 1;
        r->lane[k].blocked_until = now_ms;
        r->lane[k].recover_from = now_ms;
        r->lane[k].b.last = now_ms;
    }
    if (apply_conf(r, c, 1) != SY_OK) {
        free(r);
        return NULL;
    }
    for (int k = 0; k < 2; k++)
        r->lane[k].b.tokens = r->lane[k].b.cap;
    return r;
}

void ratelimit_free(struct ratelimit *r)
{
    if (!r)
        return;
    free(r->ring);
    free(r);
}

int ratelimit_configure(struct ratelimit *r, const struct conf_rate_limit *c, double share,
                        int64_t now_ms)
{
    int64_t now = advance(r, now_ms);

    for (int k = 0; k < 2; k++)
        bucket_refill(&r->lane[k].b, now);
    return apply_conf(r, c, share);
}

int64_t ratelimit_acquire(struct ratelimit *r, enum ratelimit_kind kind, int64_t now_ms)
{
    int64_t now = advance(r, now_ms);
    struct lane *l = &r->lane[kind];
    int64_t ready = now;

    if (l->blocked_until > ready)
        ready = l->blocked_until;
    bucket_refill(&l->b, now);
    if (l->b.tokens < TOKEN) {
        int64_t t = now + ceil_div(TOKEN - l->b.tokens, l->b.rate);

        if (t > ready)
            ready = t;
    }
    if (kind == RATELIMIT_CREATE) {
        int64_t t = window_ready(r, now);

        if (t > ready)
            ready = t;
    }
    if (ready > now) {
        l->waits++;
        return ready - now_ms;
    }
    l->b.tokens -= TOKEN;
    if (kind == RATELIMIT_CREATE && r->window_max > 0)
        ring_push(r, now);
    return 0;
}

int ratelimit_task_start(struct ratelimit *r)
{
    if (r->max_in_flight > 0 && r->in_flight >= r->max_in_flight)
        return SY_AGAIN;
    r->in_flight++;
    return SY_OK;
}

void ratelimit_task_end(struct ratelimit *r)
{
    if (r->in_flight > 0)
        r->in_flight--;
}

void ratelimit_on_429(struct ratelimit *r, enum ratelimit_kind kind, int64_t retry_after_ms,
                      int64_t now_ms)
{
    int64_t now = advance(r, now_ms);
    struct lane *l = &r->lane[kind];
    int64_t floor_ms = kind == RATELIMIT_CREATE && r->window_max > 0 ? r->window_ms : BLOCK_MIN_MS;
    int64_t wait = retry_after_ms > floor_ms ? retry_after_ms : floor_ms;
    int64_t until = wait > INT64_MAX - now ? INT64_MAX : now + wait;

    r->n429++;
    if (now >= l->blocked_until) { /* a new episode: cut the rate once */
        bucket_refill(&l->b, now);
        l->b.tokens = 0;
        l->factor *= 0.5;
        if (l->factor < FACTOR_MIN)
            l->factor = FACTOR_MIN;
        lane_retune(r, l);
        if (kind == RATELIMIT_CREATE)
            window_retune(r);
    }
    if (until > l->blocked_until)
        l->blocked_until = until;
    l->recover_from = l->blocked_until;
}

void ratelimit_on_success(struct ratelimit *r, enum ratelimit_kind kind, int64_t now_ms)
{
    int64_t now = advance(r, now_ms);
    struct lane *l = &r->lane[kind];

    if (l->factor >= 1 || now - l->recover_from < RECOVER_MS)
        return;
    bucket_refill(&l->b, now);
    l->factor += FACTOR_STEP;
    if (l->factor > 1 - 1e-9)
        l->factor = 1;
    l->recover_from = now;
    lane_retune(r, l);
    if (kind == RATELIMIT_CREATE)
        window_retune(r);
}

void ratelimit_get_stats(const struct ratelimit *r, struct ratelimit_stats *out)
{
    out->create_factor = r->lane[RATELIMIT_CREATE].factor;
    out->poll_factor = r->lane[RATELIMIT_POLL].factor;
    out->in_flight = r->in_flight;
    out->create_waits = r->lane[RATELIMIT_CREATE].waits;
    out->poll_waits = r->lane[RATELIMIT_POLL].waits;
    out->rate_limited_429 = r->n429;
}
