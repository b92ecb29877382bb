/* test_ratelimit.c — the per-provider rate limiter (providers/ratelimit).
 * Pure: the clock is an integer the tests move by hand; nothing sleeps.
 * Token buckets, the window's exact arithmetic, long-run rates and the fleet
 * share, 429s, reconfiguring, the in-flight cap and stats. The property tests
 * (a million simulated ms, every window checked by brute force) and KIE's
 * window seen on arrival are test_ratelimit_window.c's. */
#include "providers/ratelimit.h"

#include <criterion/criterion.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conf/config.h"
#include "rltest.h"
#include "testrng.h"
#include "testutil.h"
#include "core/sy.h"

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
    pass_n(r, POLL, 1, 375); /* 125 more ms: exactly one token */
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
    expect_wait(r, CREATE, 8000, 2000);  /* the create at 0 leaves at 10000 */
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

    ratelimit_on_429(r, POLL, -1, 0);    /* 0.5, blocked until 1000 */
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
