/* rltest.h — what test_ratelimit.c and test_ratelimit_window.c share: the
 * KIE- and Replicate-shaped limits, the loader's shipped ones, and drivers
 * that ask a limiter at hand-moved times. Header-only, like testutil.h. */
#ifndef TESTS_RLTEST_H
#define TESTS_RLTEST_H

#include <criterion/criterion.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "conf/config.h"
#include "providers/ratelimit.h"
#include "testrng.h"

#define T_END 1000000 /* simulated ms of the long-run and property tests */

#define CREATE RATELIMIT_CREATE
#define POLL RATELIMIT_POLL

/* Fixed numbers for the exact-arithmetic tests: KIE's shape (a window
 * of 18 per 10 s over a 1.8/s bucket) and Replicate's (no window). They are
 * NOT the shipped defaults (those come from the loader: shipped()). */
static inline struct conf_rate_limit kie_conf(void)
{
    return (struct conf_rate_limit){ .create_per_s = 1.8,
                                     .create_burst = 18,
                                     .create_window_max = 18,
                                     .create_window_s = 10,
                                     .poll_per_s = 8,
                                     .poll_burst = 8,
                                     .max_in_flight = 500,
                                     .scope = "worker" };
}

static inline struct conf_rate_limit rep_conf(void)
{
    return (struct conf_rate_limit){ .create_per_s = 9,
                                     .create_burst = 20,
                                     .create_window_max = 0,
                                     .create_window_s = 10,
                                     .poll_per_s = 45,
                                     .poll_burst = 50,
                                     .max_in_flight = 500,
                                     .scope = "worker" };
}

/* The shipped rate limits of a provider type, read through the loader from a
 * provider group that sets none: what `switchyard` runs with by default. */
static inline struct conf_rate_limit shipped(const char *type)
{
    char text[512], err[512] = "";
    struct conf_rate_limit rl;
    struct conf *c;

    setenv("SY_T_RL_KEY", "rl-test-key", 1);
    snprintf(
            text, sizeof text,
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

static inline struct ratelimit *new_rl(struct conf_rate_limit c, int64_t now)
{
    struct ratelimit *r = ratelimit_new(&c, now);

    cr_assert_not_null(r);
    return r;
}

static inline void pass_n(struct ratelimit *r, enum ratelimit_kind k, int n, int64_t now)
{
    for (int i = 0; i < n; i++)
        cr_assert_eq(ratelimit_acquire(r, k, now), 0, "request %d at %lld refused", i,
                     (long long)now);
}

/* Asserts that kind is refused at now with exactly `wait`, refused with 1 at
 * now + wait - 1, and passes at now + wait. */
static inline void expect_wait(struct ratelimit *r, enum ratelimit_kind k, int64_t now,
                               int64_t wait)
{
    int64_t w = ratelimit_acquire(r, k, now);

    cr_assert_eq(w, wait, "at %lld: wait %lld, expected %lld", (long long)now, (long long)w,
                 (long long)wait);
    if (wait > 1)
        cr_assert_eq(ratelimit_acquire(r, k, now + wait - 1), 1);
    cr_assert_eq(ratelimit_acquire(r, k, now + wait), 0);
}

/* Asks as often as allowed in [from, to); returns how many passed. */
static inline long greedy(struct ratelimit *r, enum ratelimit_kind k, int64_t from, int64_t to)
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

static inline int64_t rnd(uint64_t *s, int64_t n)
{
    return (int64_t)(testrng_xorshift64(s) % (uint64_t)n);
}

#endif
