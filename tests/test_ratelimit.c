/* test_ratelimit.c — the per-provider rate limiter (providers/ratelimit).
 * Pure: the clock is an integer the tests move by hand; nothing sleeps. The
 * property tests drive a million simulated ms with a fixed-seed PRNG and check
 * every window of create_window_s by brute force over a per-ms histogram.
 *
 * The KIE window, end to end. KIE drops creates over 20 in any sliding 10 s,
 * counted when they ARRIVE; the limiter counts when it lets one SEND, and an
 * arrival comes later than its send (loop-iteration time, connection setup,
 * a busy start). The shipped default (18 per 11 s) keeps a 1 s margin for
 * that skew: any 10 s window of arrivals holds only sends from an 11 s window
 * of sends. tests/test_ratewindow.c (`scripts/test.sh --long`, ~10 min) ran
 * 1,000 KIE jobs with the default config through the real worker against
 * fakeprov enforcing 20 per 10 s: no 429, peak <= 20 in a window. Its parts
 * are covered in seconds: window_property_kie_shipped_defaults and
 * kie_arrivals_* below (the loader's real defaults, the window math, every
 * 10 s window of arrivals under skews up to 1 s, exact worst case included),
 * and test_ratewindow's short run (40 jobs, ~25 s: the real stack's skew and
 * fakeprov's window counter across the start burst and two window edges). */
#include "providers/ratelimit.h"

#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conf/config.h"
#include "testrng.h"
#include "testutil.h"
#include "core/sy.h"

#define CREATE RATELIMIT_CREATE
#define POLL RATELIMIT_POLL

/* Fixed numbers for the exact-arithmetic tests below: KIE's shape (a window
 * of 18 per 10 s over a 1.8/s bucket) and Replicate's (no window). They are
 * NOT the shipped defaults (those come from the loader: shipped()). */
static struct conf_rate_limit kie_conf(void)
{
    return (struct conf_rate_limit){ .create_per_s = 1.8, .create_burst = 18, .create_window_max = 18,
                                     .create_window_s = 10, .poll_per_s = 8, .poll_burst = 8,
                                     .max_in_flight = 500, .scope = "worker" };
}

static struct conf_rate_limit rep_conf(void)
{
    return (struct conf_rate_limit){ .create_per_s = 9, .create_burst = 20, .create_window_max = 0,
                                     .create_window_s = 10, .poll_per_s = 45, .poll_burst = 50,
                                     .max_in_flight = 500, .scope = "worker" };
}

/* The shipped rate limits of a provider type, read through the loader from a
 * provider group that sets none: what `switchyard` runs with by default. */
static struct conf_rate_limit shipped(const char *type)
{
    char text[512], err[512] = "";
    struct conf_rate_limit rl;
    struct conf *c;

    setenv("SY_T_RL_KEY", "rl-test-key", 1);
    snprintf(text, sizeof text,
             "providers = ( { name = \"p\"; type = \"%s\"; priority = 1; base_url = \"http://127.0.0.1:9\"; "
             "api_key_env = \"SY_T_RL_KEY\"; } );\n",
             type);
    c = conf_load_string(text, "rl.conf", err, sizeof err);
    cr_assert_not_null(c, "the loader refused a minimal %s provider: %s", type, err);
    cr_assert_eq(c->n_providers, 1);
    rl = c->providers[0].rate_limit;
    cr_assert_str_eq(rl.scope, "worker");
    rl.scope = "worker"; /* c's string is freed below */
    conf_free(c);
    return rl;
}

static struct ratelimit *new_rl(struct conf_rate_limit c, int64_t now)
{
    struct ratelimit *r = ratelimit_new(&c, now);

    cr_assert_not_null(r);
    return r;
}

static void pass_n(struct ratelimit *r, enum ratelimit_kind k, int n, int64_t now)
{
    for (int i = 0; i < n; i++)
        cr_assert_eq(ratelimit_acquire(r, k, now), 0, "request %d at %lld refused", i, (long long)now);
}

/* Asserts that kind is refused at now with exactly `wait`, refused with 1 at
 * now + wait - 1, and passes at now + wait. */
static void expect_wait(struct ratelimit *r, enum ratelimit_kind k, int64_t now, int64_t wait)
{
    int64_t w = ratelimit_acquire(r, k, now);

    cr_assert_eq(w, wait, "at %lld: wait %lld, expected %lld", (long long)now, (long long)w, (long long)wait);
    if (wait > 1)
        cr_assert_eq(ratelimit_acquire(r, k, now + wait - 1), 1);
    cr_assert_eq(ratelimit_acquire(r, k, now + wait), 0);
}

/* Asks as often as allowed in [from, to); returns how many passed. */
static long greedy(struct ratelimit *r, enum ratelimit_kind k, int64_t from, int64_t to)
{
    long n = 0;

    for (int64_t t = from; t < to;) {
        int64_t w = ratelimit_acquire(r, k, t);

        if (w == 0)
            n++;
        else
            t += w;
    }
    return n;
}

static int64_t rnd(uint64_t *s, int64_t n)
{
    return (int64_t)(testrng_xorshift64(s) % (uint64_t)n);
}

/* ---- token buckets ---- */

Test(ratelimit, create_burst_then_exact_refill)
{
    struct ratelimit *r = new_rl(rep_conf(), 1000);

    pass_n(r, CREATE, 20, 1000);
    expect_wait(r, CREATE, 1000, 112); /* 1 token / 9 per s = 111.1 ms */
    /* 8e6 nano-tokens left over from 112 ms at 9/s: (1e9 - 8e6) / 9e6 = 110.2 */
    expect_wait(r, CREATE, 1112, 111);
    /* A long idle fills the bucket to its burst, no further. */
    pass_n(r, CREATE, 20, 100000);
    cr_assert_eq(ratelimit_acquire(r, CREATE, 100000), 112);
    ratelimit_free(r);
    assert_no_leaks();
}

Test(ratelimit, poll_burst_then_exact_refill)
{
    struct ratelimit *r = new_rl(kie_conf(), 0);

    pass_n(r, POLL, 8, 0);
    expect_wait(r, POLL, 0, 125);
    expect_wait(r, POLL, 125, 125);
    pass_n(r, POLL, 1, 375);                  /* 125 more ms: exactly one token */
    cr_assert_eq(ratelimit_acquire(r, POLL, 375), 125);
    /* Polls and creates do not share a bucket. */
    pass_n(r, CREATE, 18, 375);
    ratelimit_free(r);
    assert_no_leaks();
}

/* ---- sliding window ---- */

Test(ratelimit, kie_window_exact)
{
    struct ratelimit *r = new_rl(kie_conf(), 0);

    pass_n(r, CREATE, 18, 0);
    /* The bucket would pass again at 556 ms; the window says 10 s. */
    expect_wait(r, CREATE, 0, 10000);
    /* (0, 10000] now holds one create, (10000 - 10000, ...] dropped all 18 at 0. */
    pass_n(r, CREATE, 17, 10000);
    cr_assert_eq(ratelimit_acquire(r, CREATE, 10000), 10000);
    ratelimit_free(r);
    assert_no_leaks();
}

Test(ratelimit, window_slides_over_timestamps)
{
    struct conf_rate_limit c = kie_conf();
    struct ratelimit *r;

    c.create_per_s = 1000; /* the bucket never binds here */
    c.create_burst = 1000;
    c.create_window_max = 3;
    r = new_rl(c, 0);
    pass_n(r, CREATE, 1, 0);
    pass_n(r, CREATE, 1, 4000);
    pass_n(r, CREATE, 1, 7000);
    expect_wait(r, CREATE, 8000, 2000); /* the create at 0 leaves at 10000 */
    expect_wait(r, CREATE, 10000, 4000); /* then 4000 leaves at 14000 */
    cr_assert_eq(ratelimit_acquire(r, CREATE, 14000), 3000);
    ratelimit_free(r);
    assert_no_leaks();
}

Test(ratelimit, window_binds_whatever_the_burst)
{
    struct conf_rate_limit c = kie_conf();
    struct ratelimit *r;

    c.create_per_s = 100;
    c.create_burst = 100;
    r = new_rl(c, 5);
    pass_n(r, CREATE, 18, 5);
    expect_wait(r, CREATE, 5, 10000);
    ratelimit_free(r);
    assert_no_leaks();
}

/* Drives one requester over [0, T_END) at random moments, always retrying at
 * the returned wait (which must then pass), optionally with random 429s,
 * successes and share changes in between; then checks every window of W ms
 * by brute force. Returns the number of creates. */
#define T_END 1000000
static long drive_window(struct conf_rate_limit c, uint64_t seed, bool chaos, int64_t max_gap)
{
    int *hist = calloc(T_END, sizeof *hist);
    struct ratelimit *r = new_rl(c, 0);
    const double shares[] = { 1, 0.5, 1.0 / 3, 0.1, 0.001 };
    int64_t w_ms = (int64_t)c.create_window_s * 1000, t = 0;
    long total = 0, in_win = 0;

    cr_assert_not_null(hist);
    for (;;) {
        int64_t w;

        t += rnd(&seed, 4) == 0 ? 0 : rnd(&seed, max_gap);
        w = ratelimit_acquire(r, CREATE, t);
        if (w > 0) {
            t += w;
            w = ratelimit_acquire(r, CREATE, t);
            cr_assert_eq(w, 0, "retry at %lld after the returned wait refused: %lld", (long long)t, (long long)w);
        }
        if (t >= T_END)
            break;
        hist[t]++;
        total++;
        if (chaos) {
            int64_t dice = rnd(&seed, 100);

            if (dice < 3)
                ratelimit_on_429(r, CREATE, rnd(&seed, 3) == 0 ? -1 : rnd(&seed, 20000), t);
            else if (dice < 60)
                ratelimit_on_success(r, CREATE, t);
            else if (dice < 62)
                cr_assert_eq(ratelimit_configure(r, &c, shares[rnd(&seed, 5)], t), SY_OK);
        }
    }
    for (int64_t e = 0; e < T_END; e++) {
        in_win += hist[e];
        if (e - w_ms >= 0)
            in_win -= hist[e - w_ms];
        cr_assert_leq(in_win, c.create_window_max, "window (%lld, %lld] holds %ld creates",
                      (long long)(e - w_ms), (long long)e, in_win);
    }
    ratelimit_free(r);
    free(hist);
    return total;
}

Test(ratelimit, window_property_kie_shipped_defaults)
{
    long n = drive_window(shipped("kie"), 0x9e3779b97f4a7c15ULL, false, 3000);

    cr_assert_gt(n, 800);
    cr_assert_gt(drive_window(shipped("kie"), 99, false, 1), 1500); /* a queue that never runs dry */
    assert_no_leaks();
}

/* ---- what the provider sees: arrivals, later than our sends ---- */

#define KIE_LIMIT 20       /* KIE: creates in any sliding 10 s, counted on arrival */
#define KIE_WINDOW_MS 10000
#define SKEW_MS 1000       /* send-to-arrival delay the defaults are built for */

/* One requester's sends over [0, T_END) (max_gap 0: a queue that always has
 * a job waiting, as in a batch of 1,000; else at random moments), each retried
 * at the returned wait. *out gets the send times, ascending (caller frees). */
static long drive_sends(struct conf_rate_limit c, uint64_t seed, int64_t max_gap, int64_t **out)
{
    struct ratelimit *r = new_rl(c, 0);
    long n = 0, cap = 4096;
    int64_t *ts = malloc((size_t)cap * sizeof *ts), t = 0;

    cr_assert_not_null(ts);
    for (;;) {
        int64_t w;

        if (max_gap > 0)
            t += rnd(&seed, 4) == 0 ? 0 : rnd(&seed, max_gap);
        w = ratelimit_acquire(r, CREATE, t);
        if (w > 0) {
            t += w;
            cr_assert_eq(ratelimit_acquire(r, CREATE, t), 0);
        }
        if (t >= T_END)
            break;
        if (n == cap) {
            cap *= 2;
            ts = realloc(ts, (size_t)cap * sizeof *ts);
            cr_assert_not_null(ts);
        }
        ts[n++] = t;
    }
    ratelimit_free(r);
    *out = ts;
    return n;
}

/* The most sends in any window (t - len_ms, t]: two pointers over sorted times. */
static long max_in_window(const int64_t *ts, long n, int64_t len_ms)
{
    long best = 0;

    for (long lo = 0, hi = 0; hi < n; hi++) {
        while (ts[hi] - ts[lo] >= len_ms)
            lo++;
        if (hi - lo + 1 > best)
            best = hi - lo + 1;
    }
    return best;
}

enum skew { SKEW_NONE, SKEW_UNIFORM, SKEW_EDGES, NSKEW };

/* Delay of the send at t, in [0, SKEW_MS]. SKEW_EDGES is the case the 11 s
 * default exists for: sends in every other window of the limiter's length
 * arrive a full SKEW_MS late (a busy start, a slow connect), the others at
 * once, so the bursts on either side of a window edge move closer. */
static int64_t skew_of(enum skew k, int64_t t, int64_t win_ms, uint64_t *seed)
{
    switch (k) {
    case SKEW_UNIFORM:
        return rnd(seed, SKEW_MS + 1);
    case SKEW_EDGES:
        return (t / win_ms) % 2 == 0 ? SKEW_MS : 0;
    default:
        return 0;
    }
}

/* The most arrivals in any KIE window (t - 10 s, t] under skew k, by brute
 * force over a per-ms histogram of arrival times. */
static long max_arrivals(const int64_t *ts, long n, enum skew k, int64_t win_ms, uint64_t seed)
{
    const int64_t len = T_END + SKEW_MS + 1;
    int *hist = calloc((size_t)len, sizeof *hist);
    long best = 0, in_win = 0;

    cr_assert_not_null(hist);
    for (long i = 0; i < n; i++) {
        int64_t d = skew_of(k, ts[i], win_ms, &seed);

        cr_assert(d >= 0 && d <= SKEW_MS);
        hist[ts[i] + d]++;
    }
    for (int64_t e = 0; e < len; e++) {
        in_win += hist[e];
        if (e - KIE_WINDOW_MS >= 0)
            in_win -= hist[e - KIE_WINDOW_MS];
        if (in_win > best)
            best = in_win;
    }
    free(hist);
    return best;
}

/* The shipped KIE defaults never put more than 20 creates into one of KIE's
 * 10 s windows, for any send-to-arrival delay up to SKEW_MS: checked for
 * concrete skews, and for the worst case (an arrival window of 10 s can only
 * hold sends from a window of 10 s + SKEW_MS, whatever each delay is). */
Test(ratelimit, kie_arrivals_shipped_defaults_within_kies_window)
{
    const struct conf_rate_limit c = shipped("kie");
    const int64_t gaps[] = { 0, 500, 3000 };

    for (size_t g = 0; g < sizeof gaps / sizeof gaps[0]; g++) {
        int64_t *ts;
        long n = drive_sends(c, 0x5eedULL + g, gaps[g], &ts);
        long worst = max_in_window(ts, n, KIE_WINDOW_MS + SKEW_MS);

        cr_assert_gt(n, 800, "gap %lld: only %ld creates", (long long)gaps[g], n);
        cr_assert_leq(worst, KIE_LIMIT, "gap %lld: %ld sends fit in one 10 s window of arrivals", (long long)gaps[g],
                      worst);
        for (int k = 0; k < NSKEW; k++) {
            long peak = max_arrivals(ts, n, (enum skew)k, (int64_t)c.create_window_s * 1000, 7 + (uint64_t)k);

            cr_assert_leq(peak, KIE_LIMIT, "gap %lld, skew %d: %ld arrivals in a 10 s window", (long long)gaps[g],
                          k, peak);
            cr_assert_geq(peak, c.create_window_max - 2, "gap %lld, skew %d: peak %ld, the test drove too little",
                          (long long)gaps[g], k, peak);
        }
        free(ts);
    }
    assert_no_leaks();
}

/* The checker above can fail: a 10 s window of 18 (the default before it
 * became 11 s, which drew 429s on loopback) holds KIE's limit when arrivals
 * come at once, and breaks it as soon as sends near a window edge are late. */
Test(ratelimit, kie_arrivals_a_10s_window_breaks_under_skew)
{
    struct conf_rate_limit c = kie_conf(); /* 18 per 10 s */
    int64_t *ts;
    long n = drive_sends(c, 0x5eedULL, 0, &ts);

    cr_assert_leq(max_arrivals(ts, n, SKEW_NONE, 10000, 1), KIE_LIMIT);
    cr_assert_gt(max_arrivals(ts, n, SKEW_EDGES, 10000, 1), KIE_LIMIT);
    cr_assert_gt(max_in_window(ts, n, KIE_WINDOW_MS + SKEW_MS), KIE_LIMIT);
    free(ts);
    assert_no_leaks();
}

/* Replicate publishes 600 creates and 3000 other requests per minute: the
 * shipped defaults stay under both in any 60 s, from a full bucket on. */
Test(ratelimit, replicate_shipped_defaults_within_published_limits)
{
    const struct conf_rate_limit c = shipped("replicate");
    struct ratelimit *r = new_rl(c, 0);
    int64_t *ts;
    long n = drive_sends(c, 3, 0, &ts), polls = 0, cap = 65536;
    int64_t *ps = malloc((size_t)cap * sizeof *ps);

    cr_assert_leq(max_in_window(ts, n, 60000), 600);
    cr_assert_gt(max_in_window(ts, n, 60000), 500);
    cr_assert_not_null(ps);
    for (int64_t t = 0; t < 200000 && polls < cap;) {
        int64_t w = ratelimit_acquire(r, POLL, t);

        if (w == 0)
            ps[polls++] = t;
        else
            t += w;
    }
    cr_assert_leq(max_in_window(ps, polls, 60000), 3000);
    cr_assert_gt(max_in_window(ps, polls, 60000), 2500);
    free(ps);
    free(ts);
    ratelimit_free(r);
    assert_no_leaks();
}

Test(ratelimit, window_property_burst_above_window)
{
    struct conf_rate_limit c = kie_conf();
    long n;

    c.create_per_s = 40;
    c.create_burst = 200;
    n = drive_window(c, 12345, false, 500);
    cr_assert_gt(n, 1700); /* the window, not the bucket, is what binds */
    c.create_window_max = 5;
    c.create_window_s = 3;
    n = drive_window(c, 777, false, 200);
    cr_assert_gt(n, 1600);
    assert_no_leaks();
}

Test(ratelimit, window_property_with_429s_and_share_changes)
{
    struct conf_rate_limit c = kie_conf();

    c.scope = "fleet";
    c.create_per_s = 40;
    c.create_burst = 200;
    cr_assert_gt(drive_window(c, 42, true, 2000), 100);
    cr_assert_gt(drive_window(kie_conf(), 4242, true, 2000), 100);
    cr_assert_gt(drive_window(shipped("kie"), 4343, true, 2000), 100);
    assert_no_leaks();
}

/* ---- long-run rates and fleet share ---- */

Test(ratelimit, long_run_rate_converges)
{
    struct ratelimit *r = new_rl(rep_conf(), 0);
    long n = greedy(r, CREATE, 0, T_END);

    /* burst 20 at 0, then 9/s for 1000 s */
    cr_assert(n >= 9000 && n <= 9021, "replicate creates: %ld", n);
    n = greedy(r, POLL, T_END, 2 * T_END);
    cr_assert(n >= 45000 && n <= 45051, "replicate polls: %ld", n);
    ratelimit_free(r);

    r = new_rl(kie_conf(), 0);
    n = greedy(r, CREATE, 0, T_END);
    cr_assert(n >= 1800 && n <= 1818, "kie creates: %ld", n);
    ratelimit_free(r);
    assert_no_leaks();
}

Test(ratelimit, fleet_share_scales_throughput)
{
    struct conf_rate_limit c = rep_conf();
    struct ratelimit *r;
    long n;

    c.scope = "fleet";
    r = new_rl(c, 0);
    cr_assert_eq(ratelimit_configure(r, &c, 1.0 / 3, 0), SY_OK);
    n = greedy(r, CREATE, 0, T_END);
    cr_assert(n >= 3000 && n <= 3007, "a third of 9/s over 1000 s: %ld", n);
    n = greedy(r, POLL, T_END, 2 * T_END);
    cr_assert(n >= 15000 && n <= 15017, "a third of 45/s over 1000 s: %ld", n);
    ratelimit_free(r);

    c = kie_conf();
    c.scope = "fleet";
    r = new_rl(c, 0);
    cr_assert_eq(ratelimit_configure(r, &c, 1.0 / 3, 0), SY_OK);
    pass_n(r, CREATE, 6, 0); /* burst 18/3, window 18/3 */
    cr_assert_gt(ratelimit_acquire(r, CREATE, 0), 0);
    n = greedy(r, CREATE, 0, T_END);
    cr_assert(n >= 594 && n <= 600, "a third of 1.8/s over 1000 s: %ld", n);
    ratelimit_free(r);
    assert_no_leaks();
}

Test(ratelimit, share_ignored_for_worker_scope)
{
    struct conf_rate_limit c = rep_conf();
    struct ratelimit *r = new_rl(c, 0);

    cr_assert_eq(ratelimit_configure(r, &c, 0.25, 0), SY_OK);
    pass_n(r, CREATE, 20, 0);
    cr_assert_eq(ratelimit_acquire(r, CREATE, 0), 112);
    ratelimit_free(r);
    assert_no_leaks();
}

Test(ratelimit, tiny_share_never_zero)
{
    struct conf_rate_limit c = kie_conf();
    struct ratelimit *r;

    c.scope = "fleet";
    r = new_rl(c, 0);
    for (int i = 0; i < 3; i++) {
        const double bad[] = { 0.0001, 0, -1 };

        cr_assert_eq(ratelimit_configure(r, &c, bad[i], 0), SY_OK);
    }
    /* clamped to 0.001: one create, then 1 token at 0.0018/s */
    pass_n(r, CREATE, 1, 0);
    expect_wait(r, CREATE, 0, 555556);
    pass_n(r, POLL, 1, 555556);
    expect_wait(r, POLL, 555556, 125000);
    /* NaN counts as a full share */
    cr_assert_eq(ratelimit_configure(r, &c, NAN, 1000000), SY_OK);
    pass_n(r, CREATE, 18, 1010000);
    cr_assert_eq(ratelimit_acquire(r, CREATE, 1010000), 10000);
    ratelimit_free(r);
    assert_no_leaks();
}

/* ---- 429 ---- */

Test(ratelimit, kie_429_blocks_a_full_window)
{
    struct ratelimit *r = new_rl(kie_conf(), 0);

    pass_n(r, CREATE, 1, 0);
    ratelimit_on_429(r, CREATE, -1, 100);
    expect_wait(r, CREATE, 100, 10000);
    /* polls are not blocked by a create 429 */
    pass_n(r, POLL, 8, 100);
    ratelimit_free(r);

    r = new_rl(kie_conf(), 0);
    ratelimit_on_429(r, CREATE, 2000, 0); /* a hint below the floor */
    cr_assert_eq(ratelimit_acquire(r, CREATE, 0), 10000);
    ratelimit_free(r);

    r = new_rl(kie_conf(), 0);
    ratelimit_on_429(r, CREATE, 15000, 0); /* a hint above it */
    expect_wait(r, CREATE, 0, 15000);
    ratelimit_free(r);
    assert_no_leaks();
}

Test(ratelimit, unwindowed_429_honours_hint_with_1s_floor)
{
    struct ratelimit *r = new_rl(rep_conf(), 0);

    ratelimit_on_429(r, CREATE, -1, 0);
    expect_wait(r, CREATE, 0, 1000);
    ratelimit_on_429(r, POLL, 5000, 2000);
    expect_wait(r, POLL, 2000, 5000);
    ratelimit_on_429(r, POLL, 200, 8000);
    expect_wait(r, POLL, 8000, 1000);
    ratelimit_free(r);
    assert_no_leaks();
}

Test(ratelimit, 429_empties_bucket_and_halves_rate)
{
    struct ratelimit *r = new_rl(rep_conf(), 0);

    ratelimit_on_429(r, CREATE, -1, 0);
    /* 1000 ms blocked at 4.5/s: 4.5 tokens at the end of the block */
    pass_n(r, CREATE, 4, 1000);
    expect_wait(r, CREATE, 1000, 112); /* 0.5 token at 4.5/s = 111.1 ms */
    ratelimit_free(r);

    r = new_rl(kie_conf(), 0);
    ratelimit_on_429(r, CREATE, -1, 0);
    /* factor 0.5: window 9 per 10 s, bucket 0.9/s (9 tokens after 10 s) */
    pass_n(r, CREATE, 9, 10000);
    cr_assert_eq(ratelimit_acquire(r, CREATE, 10000), 10000);
    ratelimit_free(r);
    assert_no_leaks();
}

Test(ratelimit, multiplicative_decrease_once_per_block)
{
    struct ratelimit *r = new_rl(rep_conf(), 0);
    struct ratelimit_stats s;
    const double want[] = { 0.5, 0.25, 0.125, 0.0625, 0.05, 0.05 };

    for (int i = 0; i < 6; i++) {
        int64_t t = (int64_t)i * 2000;

        ratelimit_on_429(r, CREATE, -1, t);
        ratelimit_on_429(r, CREATE, -1, t + 10); /* same episode: no further cut */
        ratelimit_get_stats(r, &s);
        cr_assert_float_eq(s.create_factor, want[i], 1e-12, "step %d: %g", i, s.create_factor);
    }
    ratelimit_get_stats(r, &s);
    cr_assert_float_eq(s.poll_factor, 1.0, 1e-12);
    cr_assert_eq(s.rate_limited_429, 12);
    ratelimit_free(r);

    /* the second 429 of an episode still extends the block */
    r = new_rl(rep_conf(), 0);
    ratelimit_on_429(r, POLL, -1, 0);
    ratelimit_on_429(r, POLL, -1, 500);
    expect_wait(r, POLL, 1000, 500);
    ratelimit_get_stats(r, &s);
    cr_assert_float_eq(s.poll_factor, 0.5, 1e-12);
    ratelimit_free(r);
    assert_no_leaks();
}

Test(ratelimit, additive_recovery)
{
    struct ratelimit *r = new_rl(kie_conf(), 0);
    struct ratelimit_stats s;

    ratelimit_on_429(r, POLL, -1, 0); /* 0.5, blocked until 1000 */
    ratelimit_on_429(r, POLL, -1, 1000); /* 0.25, blocked until 2000 */
    ratelimit_on_success(r, POLL, 1500); /* inside the block */
    ratelimit_on_success(r, POLL, 2999); /* < 1 s after it */
    ratelimit_get_stats(r, &s);
    cr_assert_float_eq(s.poll_factor, 0.25, 1e-12);
    ratelimit_on_success(r, POLL, 3000);
    ratelimit_on_success(r, POLL, 3500); /* at most one step a second */
    ratelimit_get_stats(r, &s);
    cr_assert_float_eq(s.poll_factor, 0.35, 1e-12);
    for (int64_t t = 4000; t <= 20000; t += 1000)
        ratelimit_on_success(r, POLL, t);
    ratelimit_get_stats(r, &s);
    cr_assert_float_eq(s.poll_factor, 1.0, 1e-12);
    cr_assert_float_eq(s.create_factor, 1.0, 1e-12);

    /* the recovered rate is the configured one again: 8/s */
    pass_n(r, POLL, 8, 100000);
    expect_wait(r, POLL, 100000, 125);
    ratelimit_free(r);
    assert_no_leaks();
}

Test(ratelimit, create_recovery_restores_window)
{
    struct ratelimit *r = new_rl(kie_conf(), 0);

    ratelimit_on_429(r, CREATE, -1, 0); /* window 9, blocked until 10000 */
    for (int64_t t = 11000; t <= 16000; t += 1000)
        ratelimit_on_success(r, CREATE, t); /* 0.5 + 5 * 0.1 = 1 */
    pass_n(r, CREATE, 18, 30000);
    cr_assert_eq(ratelimit_acquire(r, CREATE, 30000), 10000);
    ratelimit_free(r);
    assert_no_leaks();
}

/* ---- reconfigure ---- */

Test(ratelimit, reconfigure_keeps_history)
{
    struct conf_rate_limit c = kie_conf();
    struct ratelimit *r;
    struct ratelimit_stats s;

    c.create_per_s = 100;
    c.create_burst = 100;
    r = new_rl(c, 0);
    pass_n(r, CREATE, 18, 0);
    ratelimit_on_429(r, POLL, 3000, 0);
    cr_assert_eq(ratelimit_configure(r, &c, 1, 100), SY_OK);
    cr_assert_eq(ratelimit_acquire(r, CREATE, 100), 9900); /* timestamps kept */
    cr_assert_eq(ratelimit_acquire(r, POLL, 100), 2900);   /* block kept */
    ratelimit_get_stats(r, &s);
    cr_assert_float_eq(s.poll_factor, 0.5, 1e-12); /* factor kept */

    c.create_window_max = 20; /* a larger window: two more fit */
    cr_assert_eq(ratelimit_configure(r, &c, 1, 200), SY_OK);
    pass_n(r, CREATE, 2, 200);
    cr_assert_eq(ratelimit_acquire(r, CREATE, 200), 9800);

    c.create_window_max = 10; /* smaller: the newest 10 stay (8 at 0, 2 at 200) */
    cr_assert_eq(ratelimit_configure(r, &c, 1, 300), SY_OK);
    cr_assert_eq(ratelimit_acquire(r, CREATE, 300), 9700);

    c.create_window_max = 0; /* no window: only the bucket (full again at 100/s) */
    cr_assert_eq(ratelimit_configure(r, &c, 1, 300), SY_OK);
    pass_n(r, CREATE, 100, 300);
    cr_assert_eq(ratelimit_acquire(r, CREATE, 300), 10);

    c.create_burst = 5; /* tokens clamp to the new burst */
    cr_assert_eq(ratelimit_configure(r, &c, 1, 100000), SY_OK);
    pass_n(r, CREATE, 5, 100000);
    cr_assert_eq(ratelimit_acquire(r, CREATE, 100000), 10);
    ratelimit_get_stats(r, &s);
    cr_assert_eq(s.create_waits, 5);
    cr_assert_eq(s.poll_waits, 1);
    ratelimit_free(r);
    assert_no_leaks();
}

Test(ratelimit, reconfigure_refills_at_old_rate)
{
    struct conf_rate_limit c = rep_conf();
    struct ratelimit *r = new_rl(c, 0);

    pass_n(r, CREATE, 20, 0);
    c.create_per_s = 1; /* 900 ms at 9/s already earned 8.1 tokens */
    cr_assert_eq(ratelimit_configure(r, &c, 1, 900), SY_OK);
    pass_n(r, CREATE, 8, 900);
    expect_wait(r, CREATE, 900, 900); /* 0.1 left, 0.9 at 1/s */
    ratelimit_free(r);
    assert_no_leaks();
}

/* ---- in flight, clock, stats ---- */

Test(ratelimit, in_flight_cap)
{
    struct conf_rate_limit c = rep_conf();
    struct ratelimit *r;
    struct ratelimit_stats s;

    c.max_in_flight = 3;
    r = new_rl(c, 0);
    for (int i = 0; i < 3; i++)
        cr_assert_eq(ratelimit_task_start(r), SY_OK);
    cr_assert_eq(ratelimit_task_start(r), SY_AGAIN);
    ratelimit_task_end(r);
    cr_assert_eq(ratelimit_task_start(r), SY_OK);
    c.max_in_flight = 2; /* lowered on reload: refuse until below it */
    cr_assert_eq(ratelimit_configure(r, &c, 1, 0), SY_OK);
    ratelimit_get_stats(r, &s);
    cr_assert_eq(s.in_flight, 3);
    ratelimit_task_end(r);
    cr_assert_eq(ratelimit_task_start(r), SY_AGAIN);
    ratelimit_task_end(r);
    cr_assert_eq(ratelimit_task_start(r), SY_OK);
    for (int i = 0; i < 5; i++)
        ratelimit_task_end(r);
    ratelimit_get_stats(r, &s);
    cr_assert_eq(s.in_flight, 0); /* never below 0 */
    ratelimit_free(r);
    assert_no_leaks();
}

Test(ratelimit, time_going_backwards)
{
    struct ratelimit *r = new_rl(rep_conf(), 1000);

    pass_n(r, CREATE, 20, 1000);
    /* No time passes before 1000; the wait counts from the caller's clock. */
    cr_assert_eq(ratelimit_acquire(r, CREATE, 500), 612);
    cr_assert_eq(ratelimit_acquire(r, CREATE, -5000), 6112);
    cr_assert_eq(ratelimit_acquire(r, CREATE, 1111), 1);
    cr_assert_eq(ratelimit_acquire(r, CREATE, 1112), 0);
    ratelimit_free(r);

    r = new_rl(kie_conf(), 10000);
    pass_n(r, CREATE, 18, 10000);
    cr_assert_eq(ratelimit_acquire(r, CREATE, 4000), 16000);
    ratelimit_on_429(r, POLL, -1, 0); /* block from 10000, not from 0 */
    cr_assert_eq(ratelimit_acquire(r, POLL, 10999), 1);
    ratelimit_on_success(r, POLL, 0);
    cr_assert_eq(ratelimit_acquire(r, CREATE, 20000), 0);
    ratelimit_free(r);
    assert_no_leaks();
}

Test(ratelimit, stats)
{
    struct ratelimit *r = new_rl(kie_conf(), 0);
    struct ratelimit_stats s;

    ratelimit_get_stats(r, &s);
    cr_assert_float_eq(s.create_factor, 1.0, 1e-12);
    cr_assert_float_eq(s.poll_factor, 1.0, 1e-12);
    cr_assert_eq(s.in_flight, 0);
    cr_assert_eq(s.create_waits + s.poll_waits + s.rate_limited_429, 0);

    pass_n(r, CREATE, 18, 0);
    pass_n(r, POLL, 8, 0);
    for (int i = 0; i < 3; i++)
        cr_assert_gt(ratelimit_acquire(r, CREATE, 1), 0);
    cr_assert_gt(ratelimit_acquire(r, POLL, 1), 0);
    cr_assert_eq(ratelimit_task_start(r), SY_OK);
    ratelimit_on_429(r, POLL, -1, 2);
    ratelimit_get_stats(r, &s);
    cr_assert_eq(s.create_waits, 3);
    cr_assert_eq(s.poll_waits, 1);
    cr_assert_eq(s.rate_limited_429, 1);
    cr_assert_eq(s.in_flight, 1);
    cr_assert_float_eq(s.poll_factor, 0.5, 1e-12);
    cr_assert_float_eq(s.create_factor, 1.0, 1e-12);
    ratelimit_free(r);
    assert_no_leaks();
}

Test(ratelimit, new_and_free_edge_cases)
{
    struct conf_rate_limit c = kie_conf();

    cr_assert_null(ratelimit_new(NULL, 0));
    ratelimit_free(NULL);
    c.scope = NULL; /* no scope: as "worker" */
    ratelimit_free(new_rl(c, 0));
    assert_no_leaks();
}
