/* test_retry_budget.c — the retry budget and backoff (providers/retry_budget).
 * Pure: an integer clock, no sleeping. The random test drives the budget with
 * a fixed-seed PRNG and checks every decision and balance against a
 * brute-force model (plain per-second arrays), and checks from a plain
 * event log that no retry ever went beyond the formula. */
#include "providers/retry_budget.h"

#include <criterion/criterion.h>
#include <limits.h>
#include <math.h>
#include <stdlib.h>

#include "testrng.h"
#include "core/sy.h"

#include "testutil.h"

#define T0 5000000 /* an arbitrary start on the monotonic clock, on a second boundary */

static struct budget *new_budget(double ratio, double min_per_s)
{
    struct conf_retry c = {
        .max_attempts = 4,
        .backoff_base_ms = 500,
        .backoff_max_ms = 30000,
        .budget_ratio = ratio,
        .budget_min_per_s = min_per_s,
    };
    struct budget *b = budget_new(&c);

    cr_assert_not_null(b);
    return b;
}

/* Spends retries at now until one is declined; returns how many went. */
static int drain(struct budget *b, int64_t now)
{
    int n = 0;

    while (budget_try_retry(b, now) == SY_OK) {
        n++;
        cr_assert_lt(n, 1000000, "budget never runs out");
    }
    return n;
}

static void requests(struct budget *b, int n, int64_t now)
{
    for (int i = 0; i < n; i++)
        budget_on_request(b, now);
}

#define assert_balance(b, now, want)                                                               \
    cr_assert_float_eq(budget_balance(b, now), (want), 1e-9, "balance %g, want %g",                \
                       budget_balance(b, now), (double)(want))

/* ---- the budget ------------------------------------------------------------- */

Test(budget, reserve_alone)
{
    struct budget *b = new_budget(0, 1.0);

    assert_balance(b, T0, 10);
    cr_assert_eq(drain(b, T0), 10);
    assert_balance(b, T0, 0);
    cr_assert_eq(budget_try_retry(b, T0 + 500), SY_DECLINED);
    budget_free(b);

    b = new_budget(0, 0.45); /* 4.5 → 4 whole retries, 0.5 left */
    cr_assert_eq(drain(b, T0), 4);
    assert_balance(b, T0, 0.5);
    budget_free(b);

    b = new_budget(0, 0); /* no reserve, no ratio: never */
    cr_assert_eq(budget_try_retry(b, T0), SY_DECLINED);
    assert_balance(b, T0, 0);
    budget_free(b);
    budget_free(NULL);
    assert_no_leaks();
}

Test(budget, ratio_earns)
{
    struct budget *b = new_budget(0.25, 0);

    requests(b, 3, T0);
    assert_balance(b, T0, 0.75);
    cr_assert_eq(budget_try_retry(b, T0), SY_DECLINED);
    budget_on_request(b, T0 + 100);
    assert_balance(b, T0 + 100, 1.0);
    cr_assert_eq(budget_try_retry(b, T0 + 100), SY_OK);
    cr_assert_eq(budget_try_retry(b, T0 + 100), SY_DECLINED);
    requests(b, 400, T0 + 200);
    cr_assert_eq(drain(b, T0 + 200), 100);
    budget_free(b);

    /* Ratio and reserve add up: 0.2 x 50 + 1.0 x 10 = 20. */
    b = new_budget(0.2, 1.0);
    requests(b, 50, T0);
    assert_balance(b, T0, 20);
    cr_assert_eq(drain(b, T0), 20);
    budget_free(b);
    assert_no_leaks();
}

Test(budget, window_slides_and_forgets)
{
    struct budget *b = new_budget(0, 1.0);

    /* Spent in second 0 of the window; still spent through second 9. */
    cr_assert_eq(drain(b, T0), 10);
    cr_assert_eq(budget_try_retry(b, T0 + 9999), SY_DECLINED);
    /* Second 10: second 0 has left the window. */
    assert_balance(b, T0 + 10000, 10);
    cr_assert_eq(drain(b, T0 + 10000), 10);
    budget_free(b);

    /* Spread out: one retry per second frees one retry per second. */
    b = new_budget(0, 0.5); /* 5 per window */
    for (int s = 0; s < 5; s++)
        cr_assert_eq(budget_try_retry(b, T0 + s * 1000 + 999), SY_OK, "second %d", s);
    for (int s = 5; s < 10; s++)
        cr_assert_eq(budget_try_retry(b, T0 + s * 1000), SY_DECLINED, "second %d", s);
    for (int s = 10; s < 15; s++) {
        cr_assert_eq(budget_try_retry(b, T0 + s * 1000), SY_OK, "second %d", s);
        cr_assert_eq(budget_try_retry(b, T0 + s * 1000 + 999), SY_DECLINED, "second %d", s);
    }
    budget_free(b);

    /* Requests are forgotten the same way. */
    b = new_budget(1.0, 0);
    requests(b, 5, T0);
    requests(b, 3, T0 + 4000);
    assert_balance(b, T0 + 9999, 8);
    assert_balance(b, T0 + 10000, 3);
    assert_balance(b, T0 + 13999, 3);
    assert_balance(b, T0 + 14000, 0);
    cr_assert_eq(budget_try_retry(b, T0 + 14000), SY_DECLINED);
    /* A long gap forgets everything at once (ring reuse after many laps). */
    requests(b, 7, T0 + 20000);
    assert_balance(b, T0 + 20000 + 3600 * 1000, 0);
    budget_free(b);
    assert_no_leaks();
}

Test(budget, clock_going_back_counts_as_latest)
{
    struct budget *b = new_budget(1.0, 0);

    requests(b, 4, T0 + 12000);
    requests(b, 2, T0); /* earlier than seen: counted in second 12 */
    assert_balance(b, T0, 6);
    assert_balance(b, T0 + 21999, 6);
    assert_balance(b, T0 + 22000, 0);
    budget_free(b);

    /* Negative clock values work too (floor to whole seconds). */
    b = new_budget(1.0, 0);
    requests(b, 2, -1500);
    requests(b, 1, -1);
    assert_balance(b, -1, 3);
    assert_balance(b, 7999, 3); /* second 7: seconds -2 .. 7 */
    assert_balance(b, 8000, 1); /* second -2 out */
    assert_balance(b, 9000, 0); /* second -1 out */
    budget_free(b);
    assert_no_leaks();
}

Test(budget, configure_keeps_counts)
{
    struct budget *b = new_budget(0, 1.0);
    struct conf_retry c = {
        .max_attempts = 4,
        .backoff_base_ms = 500,
        .backoff_max_ms = 30000,
        .budget_ratio = 0.5,
        .budget_min_per_s = 2.0,
    };

    requests(b, 10, T0);
    cr_assert_eq(drain(b, T0), 10);
    budget_configure(b, &c); /* 0.5 x 10 + 20 = 25, 10 spent */
    assert_balance(b, T0, 15);
    cr_assert_eq(drain(b, T0), 15);
    c.budget_ratio = 0;
    c.budget_min_per_s = 1.0;
    budget_configure(b, &c); /* lowered below what is spent: 0, not negative */
    assert_balance(b, T0, 0);
    cr_assert_eq(budget_try_retry(b, T0), SY_DECLINED);
    assert_balance(b, T0 + 10000, 10);
    budget_free(b);
    assert_no_leaks();
}

/* ---- random simulation against a brute-force model -------------------------- */

#define SIM_SECONDS 4000
#define LOG_MAX 1000000

enum ev_type { EV_REQUEST, EV_GRANT, EV_DECLINE };
struct event {
    int64_t now;
    enum ev_type type;
};

Test(budget, random_simulation_never_exceeds_formula, .timeout = 120)
{
    uint64_t seed = 0xD1B54A32D192ED03ULL;
    static const double ratios[] = { 0, 0.1, 0.2, 0.25, 1.0 / 3, 0.5, 1.0 };
    static const double mins[] = { 0, 0.1, 0.5, 1.0, 2.5 };
    uint32_t *req = calloc(SIM_SECONDS, sizeof *req), *ret = calloc(SIM_SECONDS, sizeof *ret);
    struct event *log = calloc(LOG_MAX, sizeof *log);

    cr_assert(req && ret && log);
    for (int round = 0; round < 35; round++) {
        double ratio = ratios[round % 7], min = mins[round / 7];
        struct budget *b = new_budget(ratio, min);
        int64_t now = 0;
        long granted = 0, declined = 0;
        int nlog = 0;

        for (int i = 0; i < SIM_SECONDS; i++)
            req[i] = ret[i] = 0;
        /* Bursty traffic: quiet stretches, storms of requests, storms of retries. */
        while (now < (int64_t)(SIM_SECONDS - 1) * 1000) {
            uint64_t r = testrng_xorshift64(&seed);
            now += (int64_t)(r % 32 == 0 ? testrng_xorshift64(&seed) % 5000
                                         : testrng_xorshift64(&seed) % 40);
            if (now >= (int64_t)SIM_SECONDS * 1000)
                break;
            int sec = (int)(now / 1000);
            uint64_t from = sec >= 9 ? (uint64_t)sec - 9 : 0, wreq = 0, wret = 0;
            for (uint64_t s = from; s <= (uint64_t)sec; s++) {
                wreq += req[s];
                wret += ret[s];
            }
            double allowed = ratio * (double)wreq + min * 10;
            int phase = (int)((now / 20000) % 3); /* 0 mostly requests, 1 mixed, 2 mostly retries */
            int is_retry = (int)(testrng_xorshift64(&seed) % 10) < (phase == 0   ? 1
                                                                    : phase == 1 ? 5
                                                                                 : 9);

            if (is_retry) {
                int want = allowed - (double)wret >= 1.0;
                int got = budget_try_retry(b, now);
                cr_assert_eq(got, want ? SY_OK : SY_DECLINED, "round %d at %lld: %llu req %llu ret",
                             round, (long long)now, (unsigned long long)wreq,
                             (unsigned long long)wret);
                if (got == SY_OK) {
                    ret[sec]++;
                    wret++;
                    granted++;
                    /* The bound itself, straight from the formula. */
                    cr_assert_leq((double)wret, allowed + 1e-9, "round %d at %lld", round,
                                  (long long)now);
                } else {
                    declined++;
                }
                cr_assert_lt(nlog, LOG_MAX);
                log[nlog++] = (struct event){ now, got == SY_OK ? EV_GRANT : EV_DECLINE };
            } else {
                cr_assert_lt(nlog, LOG_MAX);
                log[nlog++] = (struct event){ now, EV_REQUEST };
                budget_on_request(b, now);
                req[sec]++;
                wreq++;
                allowed = ratio * (double)wreq + min * 10;
            }
            double bal = allowed - (double)wret;
            cr_assert_float_eq(budget_balance(b, now), bal > 0 ? bal : 0, 1e-9, "round %d at %lld",
                               round, (long long)now);
        }
        /* Again from the event log alone: when each retry went, the retries
         * of the last 10 s (it included) were within the formula. (Later, as
         * requests leave the window, the retries they paid for may outlive
         * them: the bound holds when a retry is granted.) */
        for (int i = 0; i < nlog; i++) {
            if (log[i].type != EV_GRANT)
                continue;
            int64_t sec = log[i].now / 1000;
            uint64_t wreq = 0, wret = 0;
            for (int j = i; j >= 0 && log[j].now / 1000 > sec - 10; j--) {
                wreq += log[j].type == EV_REQUEST;
                wret += log[j].type == EV_GRANT;
            }
            cr_assert_leq((double)wret, ratio * (double)wreq + min * 10 + 1e-9, "round %d event %d",
                          round, i);
        }
        cr_assert_gt(declined, 0, "round %d never hit the limit", round);
        if (ratio > 0 || min > 0)
            cr_assert_gt(granted, 0, "round %d", round);
        budget_free(b);
    }
    free(req);
    free(ret);
    free(log);
    assert_no_leaks();
}

/* ---- backoff ----------------------------------------------------------------- */

static const struct conf_retry bo = {
    .max_attempts = 4,
    .backoff_base_ms = 100,
    .backoff_max_ms = 30000,
    .budget_ratio = 0.2,
    .budget_min_per_s = 1,
};

static int64_t cap_of(const struct conf_retry *c, int attempt)
{
    int64_t cap = c->backoff_base_ms;

    for (int i = 1; i < attempt && cap < c->backoff_max_ms; i++)
        cap *= 2;
    return cap < c->backoff_max_ms ? cap : c->backoff_max_ms;
}

Test(backoff, bounds_for_attempts_1_to_20)
{
    uint64_t rng = 42;

    for (int a = 1; a <= 20; a++) {
        int64_t cap = cap_of(&bo, a), lo = INT64_MAX, hi = -1;
        for (int i = 0; i < 20000; i++) {
            int64_t d = budget_backoff_ms(&bo, a, &rng);
            cr_assert(d >= 0 && d <= cap, "attempt %d: %lld not in [0, %lld]", a, (long long)d,
                      (long long)cap);
            lo = d < lo ? d : lo;
            hi = d > hi ? d : hi;
        }
        /* Full jitter: the whole range is used. */
        cr_assert_leq(lo, cap / 100, "attempt %d: min %lld", a, (long long)lo);
        cr_assert_geq(hi, cap - cap / 100, "attempt %d: max %lld of %lld", a, (long long)hi,
                      (long long)cap);
    }
    cr_assert_eq(cap_of(&bo, 1), 100);
    cr_assert_eq(cap_of(&bo, 9), 25600);
    cr_assert_eq(cap_of(&bo, 10), 30000);
    assert_no_leaks();
}

Test(backoff, tiny_cap_hits_both_ends)
{
    struct conf_retry c = bo;
    uint64_t rng = 7;
    int seen[2] = { 0, 0 };

    c.backoff_base_ms = c.backoff_max_ms = 1;
    for (int i = 0; i < 1000; i++) {
        int64_t d = budget_backoff_ms(&c, 1 + i % 5, &rng);
        cr_assert(d == 0 || d == 1, "%lld", (long long)d);
        seen[d]++;
    }
    cr_assert(seen[0] > 400 && seen[1] > 400, "%d zeros, %d ones", seen[0], seen[1]);
    assert_no_leaks();
}

Test(backoff, no_overflow_at_large_attempts)
{
    struct conf_retry c = bo;
    static const int attempts[] = { 0,  -1, INT_MIN, 30, 31,   32,          33,
                                    62, 63, 64,      65, 1000, INT_MAX - 1, INT_MAX };
    uint64_t rng = 1;

    c.backoff_base_ms = INT_MAX;
    c.backoff_max_ms = INT_MAX;
    for (size_t i = 0; i < sizeof attempts / sizeof attempts[0]; i++)
        for (int k = 0; k < 1000; k++) {
            int64_t d = budget_backoff_ms(&c, attempts[i], &rng);
            cr_assert(d >= 0 && d <= INT_MAX, "attempt %d: %lld", attempts[i], (long long)d);
        }
    /* Small base, huge attempt: the cap, never a wrapped shift. */
    c = bo;
    int64_t hi = 0;
    for (int k = 0; k < 5000; k++) {
        int64_t d = budget_backoff_ms(&c, INT_MAX, &rng);
        cr_assert(d >= 0 && d <= c.backoff_max_ms, "%lld", (long long)d);
        hi = d > hi ? d : hi;
    }
    cr_assert_gt(hi, c.backoff_max_ms / 2);
    /* attempt < 1 counts as the first retry. */
    for (int k = 0; k < 1000; k++) {
        cr_assert_leq(budget_backoff_ms(&c, 0, &rng), c.backoff_base_ms);
        cr_assert_leq(budget_backoff_ms(&c, -7, &rng), c.backoff_base_ms);
    }
    assert_no_leaks();
}

Test(backoff, mean_near_half_the_cap)
{
    uint64_t rng = 0xABCDEF;

    for (int a = 1; a <= 12; a += 3) {
        int64_t cap = cap_of(&bo, a);
        double sum = 0;
        int n = 200000;
        for (int i = 0; i < n; i++)
            sum += (double)budget_backoff_ms(&bo, a, &rng);
        double mean = sum / n;
        /* sd of U[0, cap] is cap/sqrt(12); the mean's is that / sqrt(n) ≈ cap/1549. */
        cr_assert(fabs(mean - cap / 2.0) < cap * 0.005, "attempt %d: mean %g, cap %lld", a, mean,
                  (long long)cap);
    }
    assert_no_leaks();
}

Test(backoff, deterministic_for_a_fixed_seed)
{
    uint64_t a = 12345, b = 12345, c = 12346, z1 = 0, z2 = 0;
    int differ = 0, zero_varies = 0;
    int64_t prev = -1;

    for (int i = 0; i < 1000; i++) {
        int64_t x = budget_backoff_ms(&bo, 1 + i % 20, &a);
        cr_assert_eq(x, budget_backoff_ms(&bo, 1 + i % 20, &b), "draw %d", i);
        differ += x != budget_backoff_ms(&bo, 1 + i % 20, &c);
        int64_t z = budget_backoff_ms(&bo, 10, &z1);
        cr_assert_eq(z, budget_backoff_ms(&bo, 10, &z2));
        zero_varies += prev >= 0 && z != prev;
        prev = z;
    }
    cr_assert_eq(a, b);
    cr_assert_gt(differ, 900, "another seed gives another sequence");
    cr_assert_gt(zero_varies, 900, "seed 0 is a valid state");
    assert_no_leaks();
}
