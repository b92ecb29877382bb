/* test_breaker.c — the per-provider circuit breaker (providers/breaker).
 * Pure: an integer clock, no sleeping. Each test walks the breaker through
 * one transition and asserts the state and counters at every step; the
 * random test compares it with a brute-force model after every call. */
#include "providers/breaker.h"
#include "providers/prov_util.h"

#include <criterion/criterion.h>
#include <criterion/parameterized.h>
#include <stdlib.h>

#include "testrng.h"
#include "core/sy.h"

#include "testutil.h"

#define T0 1000000 /* an arbitrary start on the monotonic clock, ms */

static const struct conf_breaker dflt = {
    .window = 10,
    .min_calls = 5,
    .failure_rate = 0.5,
    .open_s = 30,
    .half_open_probes = 3,
};

static struct breaker *new_breaker(const struct conf_breaker *c)
{
    struct breaker *b = breaker_new(c);

    cr_assert_not_null(b);
    return b;
}

/* One request through a closed breaker: allowed, then its outcome recorded. */
static void call(struct breaker *b, enum breaker_outcome o, int64_t now)
{
    cr_assert_eq(breaker_allow(b, now), SY_OK, "allow at %lld", (long long)now);
    breaker_record(b, o, now);
}

static void calls(struct breaker *b, enum breaker_outcome o, int n, int64_t now)
{
    for (int i = 0; i < n; i++)
        call(b, o, now);
}

static struct breaker_stats stats(struct breaker *b, int64_t now)
{
    struct breaker_stats s;

    breaker_get_stats(b, now, &s);
    return s;
}

static void assert_state(struct breaker *b, int64_t now, enum breaker_state want)
{
    enum breaker_state got = breaker_state(b, now);

    cr_assert_eq(got, want, "at %lld: %s, want %s", (long long)now, breaker_state_name(got),
                 breaker_state_name(want));
}

/* Opens a default breaker with a TRIP at `at`. */
static struct breaker *opened_at(int64_t at)
{
    struct breaker *b = new_breaker(&dflt);

    call(b, BREAKER_TRIP, at);
    assert_state(b, at, BREAKER_OPEN);
    return b;
}

/* ---- closed ------------------------------------------------------------------ */

Test(breaker, starts_closed)
{
    struct breaker *b = new_breaker(&dflt);

    assert_state(b, T0, BREAKER_CLOSED);
    struct breaker_stats s = stats(b, T0);
    cr_assert_eq(s.state, BREAKER_CLOSED);
    cr_assert_eq(s.calls, 0);
    cr_assert_eq(s.failures, 0);
    cr_assert_eq(s.opened, 0);
    cr_assert_eq(s.rejected, 0);
    for (int i = 0; i < 1000; i++)
        cr_assert_eq(breaker_allow(b, T0 + i), SY_OK);
    cr_assert_str_eq(breaker_state_name(BREAKER_CLOSED), "closed");
    cr_assert_str_eq(breaker_state_name(BREAKER_OPEN), "open");
    cr_assert_str_eq(breaker_state_name(BREAKER_HALF_OPEN), "half_open");
    breaker_free(b);
    breaker_free(NULL);
    assert_no_leaks();
}

Test(breaker, below_min_calls_stays_closed)
{
    struct breaker *b = new_breaker(&dflt);

    for (int i = 0; i < dflt.min_calls - 1; i++) {
        call(b, BREAKER_FAILURE, T0);
        assert_state(b, T0, BREAKER_CLOSED); /* 100 % failures, too few calls */
    }
    cr_assert_eq(stats(b, T0).failures, dflt.min_calls - 1);
    call(b, BREAKER_FAILURE, T0);
    assert_state(b, T0, BREAKER_OPEN);
    cr_assert_eq(stats(b, T0).opened, 1);
    breaker_free(b);
    assert_no_leaks();
}

Test(breaker, opens_exactly_at_threshold)
{
    struct conf_breaker c = dflt;
    c.min_calls = 4;
    struct breaker *b = new_breaker(&c);

    calls(b, BREAKER_SUCCESS, 3, T0);
    call(b, BREAKER_FAILURE, T0); /* 1/4 */
    call(b, BREAKER_FAILURE, T0); /* 2/5 */
    assert_state(b, T0, BREAKER_CLOSED);
    call(b, BREAKER_FAILURE, T0); /* 3/6 = 0.5 */
    assert_state(b, T0, BREAKER_OPEN);
    breaker_free(b);

    /* A rate that is not a power of two: 2/10 < 0.3 stays, 3/10 opens. */
    c = dflt;
    c.min_calls = 10;
    c.failure_rate = 0.3;
    b = new_breaker(&c);
    calls(b, BREAKER_SUCCESS, 8, T0);
    calls(b, BREAKER_FAILURE, 2, T0);
    assert_state(b, T0, BREAKER_CLOSED);
    call(b, BREAKER_SUCCESS, T0); /* oldest success out: 2/10 */
    assert_state(b, T0, BREAKER_CLOSED);
    call(b, BREAKER_FAILURE, T0); /* 3/10 */
    assert_state(b, T0, BREAKER_OPEN);
    breaker_free(b);

    /* failure_rate 1: only an all-failure window opens. */
    c = dflt;
    c.failure_rate = 1.0;
    b = new_breaker(&c);
    call(b, BREAKER_SUCCESS, T0);
    calls(b, BREAKER_FAILURE, 9, T0);
    assert_state(b, T0, BREAKER_CLOSED);
    call(b, BREAKER_FAILURE, T0);
    assert_state(b, T0, BREAKER_OPEN);
    breaker_free(b);
    assert_no_leaks();
}

Test(breaker, rolling_window_forgets)
{
    struct conf_breaker c = dflt;
    c.min_calls = 10;
    struct breaker *b = new_breaker(&c);

    calls(b, BREAKER_FAILURE, 4, T0);
    calls(b, BREAKER_SUCCESS, 6, T0);
    cr_assert_eq(stats(b, T0).calls, 10);
    cr_assert_eq(stats(b, T0).failures, 4);
    calls(b, BREAKER_SUCCESS, 4, T0); /* the 4 failures fall out */
    cr_assert_eq(stats(b, T0).calls, 10);
    cr_assert_eq(stats(b, T0).failures, 0);
    calls(b, BREAKER_FAILURE, 4, T0); /* 4/10, not 8/18 */
    assert_state(b, T0, BREAKER_CLOSED);
    call(b, BREAKER_FAILURE, T0); /* 5/10 */
    assert_state(b, T0, BREAKER_OPEN);
    breaker_free(b);

    /* Alternating F, S: the window never holds more than 5/10 failures. */
    c.failure_rate = 0.6;
    b = new_breaker(&c);
    for (int i = 0; i < 1000; i++)
        call(b, i % 2 ? BREAKER_SUCCESS : BREAKER_FAILURE, T0 + i);
    assert_state(b, T0 + 1000, BREAKER_CLOSED);
    cr_assert_eq(stats(b, T0).failures, 5);
    breaker_free(b);
    assert_no_leaks();
}

Test(breaker, ignore_never_counts)
{
    struct breaker *b = new_breaker(&dflt);

    calls(b, BREAKER_IGNORE, 1000, T0);
    assert_state(b, T0, BREAKER_CLOSED);
    cr_assert_eq(stats(b, T0).calls, 0);
    cr_assert_eq(stats(b, T0).failures, 0);
    /* Interleaved with failures, IGNORE neither dilutes nor adds. */
    for (int i = 0; i < dflt.min_calls - 1; i++) {
        call(b, BREAKER_FAILURE, T0);
        calls(b, BREAKER_IGNORE, 50, T0);
    }
    cr_assert_eq(stats(b, T0).calls, dflt.min_calls - 1);
    assert_state(b, T0, BREAKER_CLOSED);
    call(b, BREAKER_FAILURE, T0);
    assert_state(b, T0, BREAKER_OPEN);
    /* While open, IGNORE (from a request let through earlier) changes nothing. */
    breaker_record(b, BREAKER_IGNORE, T0 + 1);
    assert_state(b, T0 + 1, BREAKER_OPEN);
    cr_assert_eq(breaker_allow(b, T0 + 29999), SY_DECLINED);
    assert_state(b, T0 + 30000, BREAKER_HALF_OPEN);
    breaker_free(b);
    assert_no_leaks();
}

Test(breaker, trip_opens_at_once_from_closed)
{
    struct breaker *b = new_breaker(&dflt);

    calls(b, BREAKER_SUCCESS, 9, T0);
    call(b, BREAKER_TRIP, T0 + 5); /* 0 failures in the window, one trip */
    assert_state(b, T0 + 5, BREAKER_OPEN);
    cr_assert_eq(breaker_allow(b, T0 + 5), SY_DECLINED);
    cr_assert_eq(breaker_allow(b, T0 + 5 + 29999), SY_DECLINED);
    cr_assert_eq(breaker_allow(b, T0 + 5 + 30000), SY_OK);
    assert_state(b, T0 + 5 + 30000, BREAKER_HALF_OPEN);
    /* Also on the very first call, below min_calls. */
    breaker_free(b);
    b = new_breaker(&dflt);
    call(b, BREAKER_TRIP, T0);
    assert_state(b, T0, BREAKER_OPEN);
    breaker_free(b);
    assert_no_leaks();
}

/* ---- open ------------------------------------------------------------------ */

Test(breaker, open_rejects_for_open_s_then_half_open)
{
    struct breaker *b = opened_at(T0);
    uint64_t n = 0;

    for (int64_t t = T0; t < T0 + 30000; t += 250) {
        cr_assert_eq(breaker_allow(b, t), SY_DECLINED, "at +%lld", (long long)(t - T0));
        n++;
    }
    cr_assert_eq(breaker_allow(b, T0 + 29999), SY_DECLINED);
    n++;
    assert_state(b, T0 + 29999, BREAKER_OPEN);
    struct breaker_stats s = stats(b, T0 + 29999);
    cr_assert_eq(s.rejected, n);
    cr_assert_eq(s.opened, 1);
    cr_assert_eq(s.state, BREAKER_OPEN);
    assert_state(b, T0 + 30000, BREAKER_HALF_OPEN);
    cr_assert_eq(stats(b, T0 + 30000).state, BREAKER_HALF_OPEN);
    cr_assert_eq(breaker_allow(b, T0 + 30000), SY_OK);
    breaker_free(b);
    assert_no_leaks();
}

Test(breaker, outcomes_while_open_are_dropped)
{
    struct breaker *b = new_breaker(&dflt);

    /* Ten requests go out while closed; the first five fail and open it. */
    for (int i = 0; i < 10; i++)
        cr_assert_eq(breaker_allow(b, T0), SY_OK);
    for (int i = 0; i < 5; i++)
        breaker_record(b, BREAKER_FAILURE, T0 + 10);
    assert_state(b, T0 + 10, BREAKER_OPEN);
    /* The late ones neither extend the cool-down nor close it. */
    breaker_record(b, BREAKER_FAILURE, T0 + 20000);
    breaker_record(b, BREAKER_TRIP, T0 + 20000);
    breaker_record(b, BREAKER_SUCCESS, T0 + 20000);
    cr_assert_eq(stats(b, T0 + 20000).opened, 1);
    assert_state(b, T0 + 10 + 30000, BREAKER_HALF_OPEN);
    /* Half-open with no probe out: a straggler is not a probe. */
    breaker_record(b, BREAKER_FAILURE, T0 + 40010);
    breaker_record(b, BREAKER_SUCCESS, T0 + 40010);
    assert_state(b, T0 + 40010, BREAKER_HALF_OPEN);
    cr_assert_eq(stats(b, T0 + 40010).opened, 1);
    for (int i = 0; i < dflt.half_open_probes; i++)
        cr_assert_eq(breaker_allow(b, T0 + 40010), SY_OK);
    breaker_free(b);
    assert_no_leaks();
}

/* ---- half-open -------------------------------------------------------------- */

Test(breaker, half_open_allows_exactly_probes)
{
    for (int probes = 1; probes <= 5; probes++) {
        struct conf_breaker c = dflt;
        c.half_open_probes = probes;
        struct breaker *b = new_breaker(&c);
        call(b, BREAKER_TRIP, T0);
        int64_t t = T0 + 30000;

        for (int i = 0; i < probes; i++)
            cr_assert_eq(breaker_allow(b, t), SY_OK, "probe %d of %d", i + 1, probes);
        uint64_t before = stats(b, t).rejected;
        for (int i = 0; i < 10; i++)
            cr_assert_eq(breaker_allow(b, t + i), SY_DECLINED);
        cr_assert_eq(stats(b, t).rejected, before + 10);
        assert_state(b, t + 100000, BREAKER_HALF_OPEN); /* no timeout out of half-open */
        /* IGNORE hands its slot back; a success keeps its slot. */
        breaker_record(b, BREAKER_IGNORE, t);
        cr_assert_eq(breaker_allow(b, t), SY_OK);
        cr_assert_eq(breaker_allow(b, t), SY_DECLINED);
        if (probes > 1) {
            breaker_record(b, BREAKER_SUCCESS, t);
            assert_state(b, t, BREAKER_HALF_OPEN);
            cr_assert_eq(breaker_allow(b, t), SY_DECLINED);
        }
        breaker_free(b);
    }
    assert_no_leaks();
}

Test(breaker, probe_successes_close_with_empty_window)
{
    struct breaker *b = new_breaker(&dflt);

    calls(b, BREAKER_FAILURE, 5, T0);
    assert_state(b, T0, BREAKER_OPEN);
    int64_t t = T0 + 30000;
    for (int i = 0; i < 3; i++)
        cr_assert_eq(breaker_allow(b, t), SY_OK);
    breaker_record(b, BREAKER_SUCCESS, t + 1);
    breaker_record(b, BREAKER_SUCCESS, t + 2);
    assert_state(b, t + 2, BREAKER_HALF_OPEN);
    breaker_record(b, BREAKER_SUCCESS, t + 3);
    assert_state(b, t + 3, BREAKER_CLOSED);
    struct breaker_stats s = stats(b, t + 3);
    cr_assert_eq(s.calls, 0);
    cr_assert_eq(s.failures, 0);
    cr_assert_eq(s.opened, 1);
    /* The window starts over: min_calls again before it can open. */
    calls(b, BREAKER_FAILURE, 4, t + 4);
    assert_state(b, t + 4, BREAKER_CLOSED);
    call(b, BREAKER_FAILURE, t + 5);
    assert_state(b, t + 5, BREAKER_OPEN);
    cr_assert_eq(stats(b, t + 5).opened, 2);
    breaker_free(b);
    assert_no_leaks();
}

Test(breaker, probe_failure_reopens_with_fresh_cooldown)
{
    struct breaker *b = opened_at(T0);
    int64_t t = T0 + 30000;

    cr_assert_eq(breaker_allow(b, t), SY_OK);
    cr_assert_eq(breaker_allow(b, t), SY_OK);
    breaker_record(b, BREAKER_SUCCESS, t + 100);
    breaker_record(b, BREAKER_FAILURE, t + 500);
    assert_state(b, t + 500, BREAKER_OPEN);
    cr_assert_eq(stats(b, t + 500).opened, 2);
    cr_assert_eq(breaker_allow(b, t + 500 + 29999), SY_DECLINED);
    assert_state(b, t + 500 + 29999, BREAKER_OPEN);
    assert_state(b, t + 500 + 30000, BREAKER_HALF_OPEN);
    /* A fresh half-open period: all probe slots free again. */
    for (int i = 0; i < 3; i++)
        cr_assert_eq(breaker_allow(b, t + 500 + 30000), SY_OK);
    cr_assert_eq(breaker_allow(b, t + 500 + 30000), SY_DECLINED);
    breaker_free(b);
    assert_no_leaks();
}

Test(breaker, trip_from_half_open)
{
    struct breaker *b = opened_at(T0);
    int64_t t = T0 + 30000;

    cr_assert_eq(breaker_allow(b, t), SY_OK);
    breaker_record(b, BREAKER_TRIP, t + 7);
    assert_state(b, t + 7, BREAKER_OPEN);
    cr_assert_eq(stats(b, t + 7).opened, 2);
    assert_state(b, t + 7 + 29999, BREAKER_OPEN);
    assert_state(b, t + 7 + 30000, BREAKER_HALF_OPEN);
    breaker_free(b);
    assert_no_leaks();
}

/* ---- reload ----------------------------------------------------------------- */

Test(breaker, configure_keeps_state)
{
    struct conf_breaker c = dflt;
    struct breaker *b = opened_at(T0);

    c.open_s = 10; /* applies to the current cool-down */
    c.window = 3;
    breaker_configure(b, &c);
    assert_state(b, T0 + 9999, BREAKER_OPEN);
    assert_state(b, T0 + 10000, BREAKER_HALF_OPEN);
    cr_assert_eq(breaker_allow(b, T0 + 10000), SY_OK);
    c.half_open_probes = 1;
    breaker_configure(b, &c);
    assert_state(b, T0 + 10000, BREAKER_HALF_OPEN);
    cr_assert_eq(breaker_allow(b, T0 + 10000), SY_DECLINED);
    breaker_record(b, BREAKER_SUCCESS, T0 + 10001);
    assert_state(b, T0 + 10001, BREAKER_CLOSED);
    cr_assert_eq(stats(b, T0 + 10001).opened, 1);
    breaker_free(b);

    /* Closed: shrinking keeps the newest outcomes, growing keeps them all. */
    c = dflt;
    c.min_calls = 10;
    b = new_breaker(&c);
    calls(b, BREAKER_SUCCESS, 4, T0);
    calls(b, BREAKER_FAILURE, 3, T0);
    calls(b, BREAKER_SUCCESS, 1, T0); /* oldest → newest: SSSS FFF S */
    c.window = 4;
    c.min_calls = 4;
    c.failure_rate = 0.9;
    breaker_configure(b, &c);
    assert_state(b, T0, BREAKER_CLOSED); /* a reload never opens by itself */
    cr_assert_eq(stats(b, T0).calls, 4);
    cr_assert_eq(stats(b, T0).failures, 3);
    c.window = 20;
    c.min_calls = 6;
    c.failure_rate = 0.55;
    breaker_configure(b, &c);
    cr_assert_eq(stats(b, T0).calls, 4);
    cr_assert_eq(stats(b, T0).failures, 3);
    call(b, BREAKER_SUCCESS, T0); /* 3/5: too few calls */
    assert_state(b, T0, BREAKER_CLOSED);
    calls(b, BREAKER_SUCCESS, 15, T0); /* FFF + 17 S */
    assert_state(b, T0, BREAKER_CLOSED);
    cr_assert_eq(stats(b, T0).calls, 20);
    cr_assert_eq(stats(b, T0).failures, 3);
    calls(b, BREAKER_FAILURE, 3, T0); /* the three old failures fall out */
    cr_assert_eq(stats(b, T0).failures, 3);
    calls(b, BREAKER_FAILURE, 7, T0); /* 10/20 */
    assert_state(b, T0, BREAKER_CLOSED);
    call(b, BREAKER_FAILURE, T0); /* 11/20 = 0.55 */
    assert_state(b, T0, BREAKER_OPEN);
    breaker_free(b);

    /* Shrink then grow again within the old buffer: nothing stale comes back. */
    c = dflt;
    c.min_calls = 10;
    b = new_breaker(&c);
    calls(b, BREAKER_FAILURE, 4, T0);
    calls(b, BREAKER_SUCCESS, 2, T0);
    c.window = 2;
    c.min_calls = 2;
    breaker_configure(b, &c);
    cr_assert_eq(stats(b, T0).calls, 2);
    cr_assert_eq(stats(b, T0).failures, 0);
    c.window = 10;
    breaker_configure(b, &c);
    cr_assert_eq(stats(b, T0).calls, 2);
    cr_assert_eq(stats(b, T0).failures, 0);
    calls(b, BREAKER_SUCCESS, 20, T0);
    cr_assert_eq(stats(b, T0).calls, 10);
    cr_assert_eq(stats(b, T0).failures, 0);
    breaker_free(b);
    assert_no_leaks();
}

/* ---- random walk against a brute-force model ------------------------------ */

/* The model keeps every closed-state outcome ever recorded (since the last
 * close) and counts the window by a linear scan. */
struct model {
    struct conf_breaker c;
    enum breaker_state st;
    unsigned char hist[200000];
    int n;
    int64_t opened_ms;
    int out, ok;
};

static void model_open(struct model *m, int64_t now)
{
    m->st = BREAKER_OPEN;
    m->opened_ms = now;
    m->out = m->ok = 0;
}

static void model_tick(struct model *m, int64_t now)
{
    if (m->st == BREAKER_OPEN && now >= m->opened_ms + (int64_t)m->c.open_s * 1000) {
        m->st = BREAKER_HALF_OPEN;
        m->out = m->ok = 0;
    }
}

Test(breaker, random_walk_matches_model, .timeout = 60)
{
    uint64_t seed = 0x9E3779B97F4A7C15ULL;
    struct model *m = calloc(1, sizeof *m);

    cr_assert_not_null(m);
    for (int round = 0; round < 20; round++) {
        m->c = (struct conf_breaker){
            .window = 1 + (int)(testrng_xorshift64(&seed) % 30),
            .open_s = 1 + (int)(testrng_xorshift64(&seed) % 5),
            .half_open_probes = 1 + (int)(testrng_xorshift64(&seed) % 4),
            .failure_rate = (double)(1 + testrng_xorshift64(&seed) % 10) / 10,
        };
        m->c.min_calls = 1 + (int)(testrng_xorshift64(&seed) % (uint64_t)m->c.window);
        m->st = BREAKER_CLOSED;
        m->n = 0;
        m->out = m->ok = 0;
        struct breaker *b = new_breaker(&m->c);
        int64_t now = T0;
        int pending = 0; /* allowed, not yet recorded */

        for (int step = 0; step < 8000; step++) {
            now += (int64_t)(testrng_xorshift64(&seed) % 700);
            model_tick(m, now);
            if (pending == 0 || testrng_xorshift64(&seed) % 2) {
                int ok = m->st == BREAKER_CLOSED ||
                         (m->st == BREAKER_HALF_OPEN && m->out + m->ok < m->c.half_open_probes);
                cr_assert_eq(breaker_allow(b, now), ok ? SY_OK : SY_DECLINED, "round %d step %d",
                             round, step);
                if (ok) {
                    pending++;
                    if (m->st == BREAKER_HALF_OPEN)
                        m->out++;
                }
            } else {
                enum breaker_outcome o = (enum breaker_outcome)(testrng_xorshift64(&seed) % 4);
                if (o == BREAKER_TRIP && testrng_xorshift64(&seed) % 8)
                    o = BREAKER_SUCCESS; /* trips are rare */
                pending--;
                breaker_record(b, o, now);
                if (m->st == BREAKER_CLOSED && o == BREAKER_TRIP) {
                    model_open(m, now);
                } else if (m->st == BREAKER_CLOSED && o != BREAKER_IGNORE) {
                    m->hist[m->n++] = o == BREAKER_FAILURE;
                    int from = m->n > m->c.window ? m->n - m->c.window : 0, f = 0;
                    for (int i = from; i < m->n; i++)
                        f += m->hist[i];
                    if (m->n - from >= m->c.min_calls &&
                        (double)f / (m->n - from) >= m->c.failure_rate)
                        model_open(m, now);
                } else if (m->st == BREAKER_HALF_OPEN && m->out > 0) {
                    m->out--;
                    if (o == BREAKER_SUCCESS && ++m->ok >= m->c.half_open_probes) {
                        m->st = BREAKER_CLOSED;
                        m->n = 0;
                        m->ok = 0;
                    } else if (o == BREAKER_FAILURE || o == BREAKER_TRIP) {
                        model_open(m, now);
                    }
                }
            }
            cr_assert_eq(breaker_state(b, now), m->st, "round %d step %d", round, step);
            if (m->st == BREAKER_CLOSED) {
                int from = m->n > m->c.window ? m->n - m->c.window : 0, f = 0;
                for (int i = from; i < m->n; i++)
                    f += m->hist[i];
                struct breaker_stats s = stats(b, now);
                cr_assert_eq(s.calls, m->n - from);
                cr_assert_eq(s.failures, f);
            }
        }
        breaker_free(b);
    }
    free(m);
    assert_no_leaks();
}

/* ---- classification ----------------------------------------------------------- */

#define N_CLS (PROV_C_INVALID_REPLY + 1)
#define N_KIND (PROV_K_TASK_FAILED + 1)

/* Written out by hand from the table in breaker.h: want[kind][class]. */
static const enum breaker_outcome want_failed[N_KIND][N_CLS] = {
#define F BREAKER_FAILURE
#define I BREAKER_IGNORE
#define X BREAKER_TRIP
    /*                         NONE TRANSP TIMEOUT HTTP PROVIDER TASK_FAILED INVALID_REPLY */
    [PROV_K_NONE] = { I, F, F, F, F, F, F },
    [PROV_K_AUTH] = { X, X, X, X, X, X, X },
    [PROV_K_NO_CREDIT] = { X, X, X, X, X, X, X },
    [PROV_K_RATE_LIMITED] = { I, I, I, I, I, I, I },
    [PROV_K_INVALID_INPUT] = { I, I, I, I, I, I, I },
    [PROV_K_NOT_FOUND] = { I, I, I, I, I, I, I },
    [PROV_K_NOT_READY] = { I, I, I, I, I, I, I },
    [PROV_K_UNAVAILABLE] = { F, F, F, F, F, F, F },
    [PROV_K_TASK_FAILED] = { F, F, F, F, F, F, F },
#undef F
#undef I
#undef X
};

struct cls_case {
    int succeeded;
    enum prov_class cls;
    enum prov_kind kind;
    enum breaker_outcome want;
};

ParameterizedTestParameters(breaker, classify_every_combination)
{
    size_t n = 2 * N_CLS * N_KIND, i = 0;
    struct cls_case *cases = cr_malloc(n * sizeof *cases);

    cr_assert_not_null(cases);
    for (int s = 0; s < 2; s++)
        for (int k = 0; k < N_KIND; k++)
            for (int c = 0; c < N_CLS; c++)
                cases[i++] = (struct cls_case){
                    .succeeded = s,
                    .cls = (enum prov_class)c,
                    .kind = (enum prov_kind)k,
                    .want = s ? BREAKER_SUCCESS : want_failed[k][c],
                };
    return cr_make_param_array(struct cls_case, cases, n);
}

ParameterizedTest(struct cls_case *t, breaker, classify_every_combination)
{
    cr_assert_eq(breaker_classify(t->succeeded, t->cls, t->kind), t->want,
                 "succeeded=%d class=%s kind=%d", t->succeeded, prov_class_name(t->cls),
                 (int)t->kind);
    assert_no_leaks();
}

Test(breaker, classify_named_cases)
{
    /* The cases docs/architecture.md §Provider policies names, as the providers report them. */
    cr_assert_eq(breaker_classify(1, PROV_C_NONE, PROV_K_NONE), BREAKER_SUCCESS);
    cr_assert_eq(breaker_classify(0, PROV_C_TRANSPORT, PROV_K_UNAVAILABLE), BREAKER_FAILURE);
    cr_assert_eq(breaker_classify(0, PROV_C_TIMEOUT, PROV_K_UNAVAILABLE), BREAKER_FAILURE);
    cr_assert_eq(breaker_classify(0, PROV_C_HTTP, prov_kind_from_status(503)), BREAKER_FAILURE);
    cr_assert_eq(breaker_classify(0, PROV_C_HTTP, prov_kind_from_status(500)), BREAKER_FAILURE);
    cr_assert_eq(breaker_classify(0, PROV_C_INVALID_REPLY, PROV_K_UNAVAILABLE), BREAKER_FAILURE);
    cr_assert_eq(breaker_classify(0, PROV_C_TASK_FAILED, PROV_K_TASK_FAILED), BREAKER_FAILURE);
    cr_assert_eq(breaker_classify(0, PROV_C_HTTP, prov_kind_from_status(401)), BREAKER_TRIP);
    cr_assert_eq(breaker_classify(0, PROV_C_PROVIDER, prov_kind_from_status(402)), BREAKER_TRIP);
    cr_assert_eq(breaker_classify(0, PROV_C_HTTP, prov_kind_from_status(400)), BREAKER_IGNORE);
    cr_assert_eq(breaker_classify(0, PROV_C_HTTP, prov_kind_from_status(422)), BREAKER_IGNORE);
    cr_assert_eq(breaker_classify(0, PROV_C_HTTP, prov_kind_from_status(429)), BREAKER_IGNORE);
    cr_assert_eq(breaker_classify(0, PROV_C_HTTP, prov_kind_from_status(404)), BREAKER_IGNORE);
    cr_assert_eq(breaker_classify(0, PROV_C_PROVIDER, PROV_K_NOT_READY), BREAKER_IGNORE);
    /* A task that failed on its own input (content policy) is the job's fault. */
    cr_assert_eq(breaker_classify(0, PROV_C_TASK_FAILED, PROV_K_INVALID_INPUT), BREAKER_IGNORE);
    assert_no_leaks();
}
