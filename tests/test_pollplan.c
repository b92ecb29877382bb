/* test_pollplan.c — the adaptive poll planner (providers/pollplan.c): warm
 * start, learning from interval-censored observations, the lag target, the
 * clamps, forgetting, and fixed mode. Pure: no clock, no sockets; tasks are
 * simulated by drawing a generation time and walking the planner's delays. */
#include <math.h>
#include <stdio.h>

#include <criterion/criterion.h>

#include "providers/pollplan.h"
#include "testrng.h"

static struct conf_poll adaptive(int median_ms, double sigma)
{
    struct conf_poll c = { .first_ms = 5000,
                           .interval_ms = 3000,
                           .max_s = 900,
                           .mode = CONF_POLL_ADAPTIVE,
                           .max_lag_ms = 1000,
                           .expect_median_ms = median_ms,
                           .expect_sigma = sigma,
                           .min_interval_ms = 500,
                           .max_interval_ms = 30000 };
    return c;
}

static double unif(uint64_t *s)
{
    return (double)(testrng_xorshift64(s) >> 11) / 9007199254740992.0;
}

/* A lognormal draw (Box–Muller), ms. */
static double lognormal(uint64_t *s, double median, double sigma)
{
    double u1 = unif(s), u2 = unif(s);
    if (u1 < 1e-12)
        u1 = 1e-12;
    return median * exp(sigma * sqrt(-2.0 * log(u1)) * cos(2.0 * M_PI * u2));
}

struct sim {
    double polls, lag_ms;
    int n;
};

/* Poll one task of generation time gen_ms the way job.c does; record the
 * observation; add its polls and detection lag to out. */
static void run_task(struct pollplan *pp, double gen_ms, int reported, struct sim *out)
{
    int64_t t = 0, lo = 0;
    int first = 1, polls = 0;
    for (int guard = 0; guard < 10000; guard++) {
        t += pollplan_next_ms(pp, t, first);
        first = 0;
        polls++;
        if ((double)t >= gen_ms)
            break;
        lo = t;
    }
    if (reported)
        pollplan_observe_reported(pp, lo, t, (int64_t)gen_ms);
    else
        pollplan_observe(pp, lo, t);
    out->polls += polls;
    out->lag_ms += (double)t - gen_ms;
    out->n++;
}

/* n tasks one after another, observed as intervals (the provider reports
 * no generation time). */
static struct sim run_tasks(struct pollplan *pp, uint64_t *rng, int n, double median, double sigma)
{
    struct sim s = { 0 };
    for (int i = 0; i < n; i++)
        run_task(pp, lognormal(rng, median, sigma), 0, &s);
    s.polls /= s.n;
    s.lag_ms /= s.n;
    return s;
}

Test(pollplan, warm_start_first_poll_near_the_prior)
{
    struct conf_poll c = adaptive(25000, 0.35);
    struct pollplan *pp = pollplan_new(&c);
    cr_assert_not_null(pp);
    int64_t first = pollplan_next_ms(pp, 0, 1);
    /* Before any observation the schedule comes from the prior alone: the
     * first poll is inside the prior's bulk, not at 5 s or 3 s. */
    cr_assert(first > 12000 && first < 25000, "first poll at %lld ms", (long long)first);
    cr_assert_float_eq(pollplan_quantile(pp, 0.5), 25000, 1500);
    c = adaptive(15000, 0.35);
    struct pollplan *pr = pollplan_new(&c);
    int64_t first_r = pollplan_next_ms(pr, 0, 1);
    cr_assert(first_r < first - 3000, "a 15 s prior polls first at %lld, a 25 s one at %lld",
              (long long)first_r, (long long)first);
    pollplan_free(pp);
    pollplan_free(pr);
}

Test(pollplan, learns_a_different_distribution)
{
    struct conf_poll c = adaptive(25000, 0.35);
    struct pollplan *pp = pollplan_new(&c);
    uint64_t rng = 0x1234567;
    int64_t before = pollplan_next_ms(pp, 0, 1);
    struct sim s = run_tasks(pp, &rng, 400, 10000, 0.11);
    double med = pollplan_quantile(pp, 0.5), p95 = pollplan_quantile(pp, 0.95);
    int64_t after = pollplan_next_ms(pp, 0, 1);
    fprintf(stderr,
            "learn 25s prior -> 10s truth: median %.0f p95 %.0f, first poll %lld -> %lld, %.2f polls\n",
            med, p95, (long long)before, (long long)after, s.polls);
    cr_assert_float_eq(med, 10000, 700);
    cr_assert(p95 > 10500 && p95 < 14000, "p95 %.0f", p95);
    cr_assert(after > 7000 && after < 11000, "first poll %lld", (long long)after);
    pollplan_free(pp);
}

/* The discrete schedule's expected lag, computed over the estimate the
 * planner learned, stays within max_lag; and the simulated lag over the
 * real draws is close to it. Polls per task: the target is <= 3 for a
 * 20-30 s distribution (sigma 0.11). */
Test(pollplan, expected_lag_within_target)
{
    const double sigmas[] = { 0.11, 0.3 };
    for (int i = 0; i < 2; i++) {
        struct conf_poll c = adaptive(25000, 0.35);
        struct pollplan *pp = pollplan_new(&c);
        uint64_t rng = 0xabcdef + (uint64_t)i;
        run_tasks(pp, &rng, 300, 25000, sigmas[i]);
        double np, lag;
        pollplan_expect(pp, &np, &lag);
        struct sim s = run_tasks(pp, &rng, 600, 25000, sigmas[i]);
        fprintf(stderr,
                "sigma %.2f: planner expects %.2f polls, lag %.0f ms; simulated %.2f polls, lag %.0f ms\n",
                sigmas[i], np, lag, s.polls, s.lag_ms);
        cr_assert_leq(lag, 1000.0 * 1.001);
        cr_assert_geq(lag, 900.0, "the planner spends less lag than allowed: %.0f", lag);
        cr_assert_lt(s.lag_ms, 1150.0);
        if (i == 0)
            cr_assert_lt(s.polls, 3.3);
        pollplan_free(pp);
    }
}

Test(pollplan, gaps_grow_in_the_tail_and_respect_the_clamps)
{
    struct conf_poll c = adaptive(25000, 0.35);
    c.min_interval_ms = 700;
    c.max_interval_ms = 9000;
    struct pollplan *pp = pollplan_new(&c);
    int64_t s[64];
    size_t n = pollplan_schedule(pp, s, 64);
    cr_assert_gt(n, 6u);
    double med = pollplan_quantile(pp, 0.5);
    int64_t prev = 0, gap_at_median = 0, last_gap = 0;
    for (size_t i = 0; i < n && i < 64; i++) {
        int64_t g = s[i] - prev;
        cr_assert_geq(g, 700, "gap %lld before poll %zu", (long long)g, i);
        cr_assert_leq(g, 9000, "gap %lld before poll %zu", (long long)g, i);
        if (prev < med && s[i] >= med)
            gap_at_median = g;
        last_gap = g;
        prev = s[i];
    }
    /* Dense around the bulk, sparse in the tail. */
    cr_assert_gt(last_gap, gap_at_median, "gap at median %lld, last gap %lld",
                 (long long)gap_at_median, (long long)last_gap);
    /* Past the schedule: max_interval; any delay is within the clamps. */
    cr_assert_eq(pollplan_next_ms(pp, s[n - 1] + 1, 0), 9000);
    for (int64_t e = 0; e < 200000; e += 777) {
        int64_t d = pollplan_next_ms(pp, e, 0);
        cr_assert(d >= 700 && d <= 9000, "delay %lld at %lld", (long long)d, (long long)e);
    }
    /* A tight max_interval also caps the wait before the bulk. */
    cr_assert_leq(pollplan_next_ms(pp, 0, 1), 9000);
    pollplan_free(pp);
}

Test(pollplan, forgets_old_observations)
{
    struct conf_poll c = adaptive(25000, 0.35);
    struct pollplan *pp = pollplan_new(&c);
    uint64_t rng = 42;
    run_tasks(pp, &rng, 500, 25000, 0.11);
    cr_assert_float_eq(pollplan_quantile(pp, 0.5), 25000, 1000);
    /* The provider slows down to 40 s: after a few memory lengths the
     * estimate follows, whatever 500 tasks said before. */
    run_tasks(pp, &rng, 600, 40000, 0.11);
    double med = pollplan_quantile(pp, 0.5);
    fprintf(stderr, "drift 25 s -> 40 s: median now %.0f ms\n", med);
    cr_assert_float_eq(med, 40000, 2000);
    double np, lag;
    pollplan_expect(pp, &np, &lag);
    cr_assert_leq(lag, 1001.0);
    pollplan_free(pp);
}

Test(pollplan, sync_completions_and_odd_intervals)
{
    struct conf_poll c = adaptive(25000, 0.35);
    struct pollplan *pp = pollplan_new(&c);
    for (int i = 0; i < 300; i++)
        pollplan_observe(pp, 0, 3000);               /* answered in the create reply after 3 s */
    cr_assert_lt(pollplan_quantile(pp, 0.95), 3400); /* 3 s, to within its bin (10 %) */
    pollplan_observe(pp, 5000, 5000);                /* empty interval */
    pollplan_observe(pp, -10, 20);                   /* before creation */
    pollplan_observe(pp, 7200000, 9000000);          /* past the histogram */
    cr_assert_eq(pollplan_observations(pp), 303u);
    int64_t d = pollplan_next_ms(pp, 0, 1);
    cr_assert(d >= 500 && d <= 3000, "first delay %lld", (long long)d);
    pollplan_free(pp);
}

Test(pollplan, fixed_mode_and_reload)
{
    struct conf_poll c = adaptive(25000, 0.35);
    c.mode = CONF_POLL_FIXED;
    c.first_ms = 4000;
    c.interval_ms = 1500;
    struct pollplan *pp = pollplan_new(&c);
    cr_assert_eq(pollplan_next_ms(pp, 0, 1), 4000);
    cr_assert_eq(pollplan_next_ms(pp, 4000, 0), 1500);
    cr_assert_eq(pollplan_next_ms(pp, 50000, 0), 1500);
    uint64_t rng = 7;
    run_tasks(pp, &rng, 200, 12000, 0.11); /* fixed mode still learns */
    cr_assert_float_eq(pollplan_quantile(pp, 0.5), 12000, 800);
    struct conf_poll a = adaptive(25000, 0.35); /* same prior: the estimate stays */
    pollplan_configure(pp, &a);
    int64_t first = pollplan_next_ms(pp, 0, 1);
    cr_assert(first > 8000 && first < 12500, "first poll %lld", (long long)first);
    a.expect_median_ms = 60000; /* a new prior restarts the estimate */
    pollplan_configure(pp, &a);
    cr_assert_float_eq(pollplan_quantile(pp, 0.5), 60000, 4000);
    pollplan_free(pp);
}

/* The planner's floor: with the true distribution as the prior (sigma 0.11,
 * 90 % within 20-30 s) and nothing learned, the schedule needs at most 3
 * polls for a 1 s mean lag. After 300 tasks whose generation time the
 * provider reported, learned from a wide prior (0.35), the learned schedule
 * judged over the true distribution is within 10 % of that floor. */
Test(pollplan, known_distribution_floor_and_learning_reaches_it)
{
    struct conf_poll c = adaptive(25000, 0.11);
    struct pollplan *truth = pollplan_new(&c);
    double np0, lag0;
    pollplan_expect(truth, &np0, &lag0);
    fprintf(stderr, "known sigma 0.11: %.2f polls, lag %.0f ms\n", np0, lag0);
    cr_assert_leq(np0, 3.0);
    cr_assert_leq(lag0, 1001.0);
    c = adaptive(25000, 0.35);
    struct pollplan *pp = pollplan_new(&c);
    uint64_t rng = 99;
    struct sim s = { 0 };
    for (int i = 0; i < 300; i++)
        run_task(pp, lognormal(&rng, 25000, 0.11), 1, &s);
    int64_t sched[64];
    size_t n = pollplan_schedule(pp, sched, 64);
    double np, lag;
    pollplan_evaluate(truth, sched, n < 64 ? n : 64, &np, &lag);
    fprintf(stderr,
            "learned from 300 reported times: %.2f polls, lag %.0f ms over the truth; median %.0f p95 %.0f\n",
            np, lag, pollplan_quantile(pp, 0.5), pollplan_quantile(pp, 0.95));
    cr_assert_leq(np, 1.1 * np0);
    cr_assert_leq(lag, 1100.0);
    cr_assert_float_eq(pollplan_quantile(pp, 0.95), 25000 * exp(1.645 * 0.11), 800);
    pollplan_free(pp);
    pollplan_free(truth);
}

/* Tasks in flight together, as in production: 4 arrive per second, each
 * polled on the schedule as it is at that moment, which is rebuilt while
 * the task runs (every 8 results). A rebuilt schedule shifted by a few
 * hundred ms must not cost a task an extra poll right after the one it
 * just had. */
Test(pollplan, concurrent_tasks_on_a_moving_schedule)
{
    enum { N = 400 };
    struct conf_poll c = adaptive(25000, 0.35);
    struct pollplan *pp = pollplan_new(&c);
    static double gen[N], next[N], lo[N];
    static int polls[N], done[N];
    uint64_t rng = 2024;
    for (int i = 0; i < N; i++) {
        gen[i] = lognormal(&rng, 25000, 0.11);
        next[i] = i * 250.0; /* created; polls[i] = -1: its first delay is not planned yet */
        polls[i] = -1;
    }
    double steady_polls = 0, steady_lag = 0;
    int steady = 0, left = N;
    for (int guard = 0; left > 0 && guard < 100 * N; guard++) {
        int b = -1;
        for (int i = 0; i < N; i++)
            if (!done[i] && (b < 0 || next[i] < next[b]))
                b = i;
        double el = next[b] - b * 250.0;
        if (polls[b]++ < 0) {
            next[b] += (double)pollplan_next_ms(pp, 0, 1);
        } else if (el >= gen[b]) {
            pollplan_observe_reported(pp, (int64_t)lo[b], (int64_t)el, (int64_t)gen[b]);
            done[b] = 1;
            left--;
            if (b >= 200) { /* created after 50 s: the estimate is warm */
                steady_polls += polls[b];
                steady_lag += el - gen[b];
                steady++;
            }
        } else {
            lo[b] = el;
            next[b] += (double)pollplan_next_ms(pp, (int64_t)el, 0);
        }
    }
    cr_assert_eq(left, 0);
    fprintf(stderr, "concurrent, tasks 200-400: %.2f polls, lag %.0f ms\n", steady_polls / steady,
            steady_lag / steady);
    cr_assert_lt(steady_polls / steady, 3.3);
    cr_assert_lt(steady_lag / steady, 1150.0);
    pollplan_free(pp);
}

/* Two modes (half the tasks 10 s, half 40 s): a single lognormal would
 * spread the polls over 5-80 s; the histogram takes over the planning
 * density, which keeps both the polls and the planner's own lag honest. */
Test(pollplan, two_modes_plan_from_the_histogram)
{
    struct conf_poll c = adaptive(25000, 0.35);
    struct pollplan *pp = pollplan_new(&c);
    uint64_t rng = 5;
    struct sim s = { 0 };
    for (int i = 0; i < 400; i++)
        run_task(pp, lognormal(&rng, i % 2 ? 10000 : 40000, 0.05), 1, &s);
    double np, lag;
    pollplan_expect(pp, &np, &lag);
    s = (struct sim){ 0 };
    for (int i = 0; i < 600; i++)
        run_task(pp, lognormal(&rng, i % 2 ? 10000 : 40000, 0.05), 1, &s);
    s.polls /= s.n;
    s.lag_ms /= s.n;
    fprintf(stderr,
            "two modes: planner expects %.2f polls, lag %.0f ms; simulated %.2f polls, lag %.0f ms\n",
            np, lag, s.polls, s.lag_ms);
    cr_assert_lt(s.polls, 8.0); /* a lognormal fit to both modes: ~40 polls, 12 s lag */
    cr_assert_lt(s.lag_ms, 1250.0);
    pollplan_free(pp);
}
