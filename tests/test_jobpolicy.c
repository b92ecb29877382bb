/* test_jobpolicy.c — a job's decisions without a loop: the create gate,
 * retry here or move on, what a failed poll means, blame and error.class,
 * may a create be held open, is a resumed task unknown. Tables of
 * situations → verdicts over simulated time; no socket, no timer, no sleep.
 * The provider state comes from dispatch_new() over a loaded config. */
#include "worker/jobpolicy.h"

#include <criterion/criterion.h>
#include <criterion/parameterized.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "providers/ratelimit.h"
#include "providers/retry_budget.h"
#include "testutil.h"
#include "worker/dispatch.h"
#include "core/sy.h"

#define T0 1000000 /* simulated ms: the clock is a number the test moves */
#define OPEN_S 30

static void set_env(void)
{
    setenv("SY_T_KIE_KEY", "kie-test-key", 1);
}

TestSuite(jobpolicy, .init = set_env);

/* One create per second, burst 1, no window; one task in flight at most; the
 * breaker opens for OPEN_S and lets one probe through. */
static struct dispatch *load(void)
{
    const char *text =
            "providers = ( { name = \"kie\"; type = \"kie\"; priority = 1; base_url = \"https://api.kie.ai\";"
            " api_key_env = \"SY_T_KIE_KEY\";"
            " rate_limit = { create_per_s = 1.0; create_burst = 1; create_window_max = 0; max_in_flight = 1; };"
            " breaker = { open_s = 30; half_open_probes = 1; }; } );\n";
    char err[512] = "";
    struct conf *c = conf_load_string(text, "t.conf", err, sizeof err);
    cr_assert_not_null(c, "%s", err);
    struct dispatch *d = dispatch_new(c, T0);
    cr_assert_not_null(d);
    return d;
}

enum brk { BRK_CLOSED, BRK_OPEN, BRK_PROBES_TAKEN };
enum lim { LIM_FREE, LIM_TOKEN_USED /* next token in 1000 ms */, LIM_429 /* blocked 5000 ms */ };

/* Strings as arrays: Criterion runs each row in a new process, where a
 * pointer into the parent's image may not be valid. */
struct gate_case {
    char name[80];
    /* situation */
    enum brk breaker;
    enum prov_kind trip_kind; /* why the breaker last tripped */
    int cap_full;             /* another task holds the one in-flight slot */
    int holding;              /* the job holds its slot already */
    enum lim limiter;
    int64_t waited_ms; /* time already spent at this gate */
    int tries, later;
    /* verdict */
    enum jp_gate gate;
    int64_t wait_ms;      /* JP_WAIT */
    char why[64];         /* JP_SKIP: a substring of the reason */
    enum prov_kind blame; /* JP_SKIP */
    int holding_after;
    int counted_wait; /* ps->rate_limit_waits goes up by one */
};

ParameterizedTestParameters(jobpolicy, gate)
{
    static struct gate_case cases[] = {
        { .name = "all clear: go", .gate = JP_GO, .holding_after = 1 },
        { .name = "all clear on a retry: go",
          .tries = 2,
          .holding = 1,
          .gate = JP_GO,
          .holding_after = 1 },
        { .name = "open breaker skips",
          .breaker = BRK_OPEN,
          .gate = JP_SKIP,
          .why = "circuit breaker open" },
        { .name = "open breaker skips even as the last provider",
          .breaker = BRK_OPEN,
          .later = 0,
          .gate = JP_SKIP,
          .why = "circuit breaker open" },
        { .name = "opened by a 401: blames the key",
          .breaker = BRK_OPEN,
          .trip_kind = PROV_K_AUTH,
          .gate = JP_SKIP,
          .why = "refused the API key (401)",
          .blame = PROV_K_AUTH },
        { .name = "opened by a 402: blames the credit",
          .breaker = BRK_OPEN,
          .trip_kind = PROV_K_NO_CREDIT,
          .gate = JP_SKIP,
          .why = "no credit left (402)",
          .blame = PROV_K_NO_CREDIT },
        { .name = "open breaker before a full cap",
          .breaker = BRK_OPEN,
          .cap_full = 1,
          .later = 1,
          .gate = JP_SKIP,
          .why = "circuit breaker open" },
        { .name = "full cap, a later provider: skip",
          .cap_full = 1,
          .later = 1,
          .gate = JP_SKIP,
          .why = "rate_limit.max_in_flight reached" },
        { .name = "full cap, last provider: wait for a slot",
          .cap_full = 1,
          .gate = JP_WAIT,
          .wait_ms = JOB_SLOT_WAIT_MS,
          .counted_wait = 1 },
        { .name = "full cap but the job holds its slot: go",
          .cap_full = 1,
          .holding = 1,
          .gate = JP_GO,
          .holding_after = 1 },
        { .name = "short limiter wait: wait",
          .limiter = LIM_TOKEN_USED,
          .later = 1,
          .gate = JP_WAIT,
          .wait_ms = 1000,
          .holding_after = 1,
          .counted_wait = 1 },
        { .name = "short wait after a long stay, a later provider: move on",
          .limiter = LIM_TOKEN_USED,
          .waited_ms = 2500,
          .later = 1,
          .gate = JP_SKIP,
          .why = "no create slot after 2500 ms",
          .holding_after = 1,
          .counted_wait = 1 },
        { .name = "stay up to the move-on time: wait",
          .limiter = LIM_TOKEN_USED,
          .waited_ms = 2000,
          .later = 1,
          .gate = JP_WAIT,
          .wait_ms = 1000,
          .holding_after = 1,
          .counted_wait = 1 },
        { .name = "long stay, last provider: wait",
          .limiter = LIM_TOKEN_USED,
          .waited_ms = 2500,
          .gate = JP_WAIT,
          .wait_ms = 1000,
          .holding_after = 1,
          .counted_wait = 1 },
        { .name = "long stay on a retry: wait (a retry stays)",
          .limiter = LIM_TOKEN_USED,
          .waited_ms = 2500,
          .tries = 1,
          .holding = 1,
          .later = 1,
          .gate = JP_WAIT,
          .wait_ms = 1000,
          .holding_after = 1,
          .counted_wait = 1 },
        { .name = "429 block, a later provider: move on",
          .limiter = LIM_429,
          .later = 1,
          .gate = JP_SKIP,
          .why = "next create slot in 5000 ms",
          .holding_after = 1,
          .counted_wait = 1 },
        { .name = "429 block, last provider: wait it out",
          .limiter = LIM_429,
          .gate = JP_WAIT,
          .wait_ms = 5000,
          .holding_after = 1,
          .counted_wait = 1 },
        { .name = "half-open, probe taken, a later provider: skip",
          .breaker = BRK_PROBES_TAKEN,
          .later = 1,
          .gate = JP_SKIP,
          .why = "half-open, probes in use",
          .holding_after = 1 },
        { .name = "half-open, probe taken, last provider: wait",
          .breaker = BRK_PROBES_TAKEN,
          .gate = JP_WAIT,
          .wait_ms = JOB_POLL_RETRY_MS,
          .holding_after = 1 },
    };
    return cr_make_param_array(struct gate_case, cases, sizeof cases / sizeof cases[0]);
}

ParameterizedTest(struct gate_case *t, jobpolicy, gate)
{
    struct dispatch *d = load();
    struct pstate *ps = dispatch_pstate(d, "kie");
    cr_assert_not_null(ps);
    int64_t now = T0;
    if (t->breaker != BRK_CLOSED) {
        cr_assert_eq(breaker_allow(ps->br, now), SY_OK);
        breaker_record(ps->br, BREAKER_TRIP, now);
        ps->trip_kind = t->trip_kind;
        if (t->breaker == BRK_PROBES_TAKEN) {
            now += OPEN_S * 1000;
            cr_assert_eq(breaker_allow(ps->br, now), SY_OK, "the one probe");
        }
    }
    if (t->cap_full)
        cr_assert_eq(ratelimit_task_start(ps->rl), SY_OK, "the other task's slot");
    if (t->limiter == LIM_TOKEN_USED)
        cr_assert_eq(ratelimit_acquire(ps->rl, RATELIMIT_CREATE, now), 0);
    else if (t->limiter == LIM_429)
        ratelimit_on_429(ps->rl, RATELIMIT_CREATE, 5000, now);
    uint64_t skipped0 = ps->skipped_open, waits0 = ps->rate_limit_waits;

    struct jp_job jj = { .holding_slot = t->holding,
                         .tries = t->tries,
                         .has_later = t->later,
                         .gate_since_ms = now - t->waited_ms };
    struct jp_verdict v = jobpolicy_gate(ps, &jj, now);

    cr_assert_eq(v.gate, t->gate, "%s: gate %d, want %d (why \"%s\")", t->name, (int)v.gate,
                 (int)t->gate, v.why);
    if (t->gate == JP_WAIT)
        cr_assert_eq(v.wait_ms, t->wait_ms, "%s: wait %lld, want %lld", t->name,
                     (long long)v.wait_ms, (long long)t->wait_ms);
    if (t->gate == JP_SKIP) {
        cr_assert_not_null(strstr(v.why, t->why), "%s: why \"%s\", want \"%s\"", t->name, v.why,
                           t->why);
        cr_assert_eq(v.blame, t->blame, "%s: blame %d", t->name, (int)v.blame);
    }
    cr_assert_eq(jj.holding_slot, t->holding_after, "%s: holding_slot %d", t->name,
                 jj.holding_slot);
    cr_assert_eq(ps->skipped_open - skipped0, t->breaker == BRK_OPEN ? 1u : 0u, "%s: skipped_open",
                 t->name);
    cr_assert_eq(ps->rate_limit_waits - waits0, (uint64_t)t->counted_wait, "%s: rate_limit_waits",
                 t->name);
    dispatch_free(d);
    assert_no_leaks();
}

/* A go takes the create token: the next job right behind it waits. */
Test(jobpolicy, go_takes_the_token_and_the_slot)
{
    struct dispatch *d = load();
    struct pstate *ps = dispatch_pstate(d, "kie");
    struct jp_job a = { .gate_since_ms = T0 }, b = { .gate_since_ms = T0 };
    cr_assert_eq(jobpolicy_gate(ps, &a, T0).gate, JP_GO);
    struct jp_verdict v = jobpolicy_gate(ps, &b, T0);
    cr_assert_eq(v.gate, JP_WAIT, "the cap of 1 is a's");
    cr_assert_eq(v.wait_ms, JOB_SLOT_WAIT_MS);
    ratelimit_task_end(ps->rl); /* a's task ends */
    v = jobpolicy_gate(ps, &b, T0);
    cr_assert_eq(v.gate, JP_WAIT, "a slot, but the token is a's");
    cr_assert_eq(v.wait_ms, 1000);
    cr_assert_eq(b.holding_slot, 1);
    cr_assert_eq(jobpolicy_gate(ps, &b, T0 + 1000).gate, JP_GO);
    dispatch_free(d);
    assert_no_leaks();
}

struct fail_case {
    char name[80];
    enum prov_class cls;
    enum prov_kind kind;
    int later, tries, budget_empty;
    enum jp_next want;
};

ParameterizedTestParameters(jobpolicy, after_failure)
{
    static struct fail_case cases[] = {
        { "5xx, tries left: retry here", PROV_C_HTTP, PROV_K_UNAVAILABLE, 1, 1, 0, JP_RETRY_SAME },
        { "transport, tries left: retry here", PROV_C_TRANSPORT, PROV_K_UNAVAILABLE, 0, 3, 0,
          JP_RETRY_SAME },
        { "5xx, max_attempts reached: move on", PROV_C_HTTP, PROV_K_UNAVAILABLE, 1, 4, 0,
          JP_NEXT_PROVIDER },
        { "5xx, retry budget spent: move on", PROV_C_HTTP, PROV_K_UNAVAILABLE, 1, 1, 1,
          JP_NEXT_PROVIDER },
        { "401: move on", PROV_C_HTTP, PROV_K_AUTH, 0, 1, 0, JP_NEXT_PROVIDER },
        { "402: move on", PROV_C_HTTP, PROV_K_NO_CREDIT, 0, 1, 0, JP_NEXT_PROVIDER },
        { "rejected input: move on", PROV_C_HTTP, PROV_K_INVALID_INPUT, 0, 1, 0, JP_NEXT_PROVIDER },
        { "task not found: move on", PROV_C_HTTP, PROV_K_NOT_FOUND, 0, 1, 0, JP_NEXT_PROVIDER },
        { "task failed, a later provider: prefer it", PROV_C_TASK_FAILED, PROV_K_UNAVAILABLE, 1, 1,
          0, JP_NEXT_PROVIDER },
        { "task failed, last provider: retry here", PROV_C_TASK_FAILED, PROV_K_UNAVAILABLE, 0, 1, 0,
          JP_RETRY_SAME },
    };
    return cr_make_param_array(struct fail_case, cases, sizeof cases / sizeof cases[0]);
}

ParameterizedTest(struct fail_case *t, jobpolicy, after_failure)
{
    struct conf_retry rc = { .max_attempts = 4,
                             .backoff_base_ms = 100,
                             .backoff_max_ms = 800,
                             .budget_ratio = 0.2,
                             .budget_min_per_s = t->budget_empty ? 0.0 : 1.0 };
    struct budget *bud = budget_new(&rc);
    cr_assert_not_null(bud);
    struct prov_result r;
    prov_result_init(&r);
    r.outcome = PROV_FAILED;
    r.cls = t->cls;
    r.kind = t->kind;
    uint64_t rng = 42;
    int64_t backoff = -1;
    enum jp_next n = jobpolicy_after_failure(&r, t->later, t->tries, &rc, bud, &rng, T0, &backoff);
    cr_assert_eq(n, t->want, "%s: %d", t->name, (int)n);
    if (n == JP_RETRY_SAME) {
        /* Full jitter over base * 2^(tries-1), capped. */
        int64_t cap = 100LL << (t->tries - 1);
        cr_assert(backoff >= 0 && backoff <= (cap < 800 ? cap : 800), "%s: backoff %lld", t->name,
                  (long long)backoff);
    }
    budget_free(bud);
    assert_no_leaks();
}

struct poll_case {
    char name[80];
    enum prov_class cls;
    enum prov_kind kind;
    int not_ready, poll_errors, tolerance;
    enum jp_poll want;
    int not_ready_after, poll_errors_after;
};

ParameterizedTestParameters(jobpolicy, after_poll)
{
    static struct poll_case cases[] = {
        { "task failed", PROV_C_TASK_FAILED, PROV_K_UNAVAILABLE, 0, 0, 3, JP_POLL_TASK_FAILED, 0,
          0 },
        { "task failed on its input", PROV_C_TASK_FAILED, PROV_K_INVALID_INPUT, 0, 0, 3,
          JP_POLL_TASK_FAILED, 0, 0 },
        { "not ready, within tolerance", PROV_C_PROVIDER, PROV_K_NOT_READY, 2, 0, 3, JP_POLL_AGAIN,
          3, 0 },
        { "not ready, past tolerance", PROV_C_PROVIDER, PROV_K_NOT_READY, 3, 0, 3, JP_POLL_GIVE_UP,
          4, 0 },
        { "429 on a poll", PROV_C_HTTP, PROV_K_RATE_LIMITED, 0, 5, 3, JP_POLL_LIMITED, 0, 5 },
        { "401 on a poll", PROV_C_HTTP, PROV_K_AUTH, 0, 0, 3, JP_POLL_GIVE_UP, 0, 0 },
        { "402 on a poll", PROV_C_HTTP, PROV_K_NO_CREDIT, 0, 0, 3, JP_POLL_GIVE_UP, 0, 0 },
        { "404 on a poll", PROV_C_HTTP, PROV_K_NOT_FOUND, 0, 0, 3, JP_POLL_GIVE_UP, 0, 0 },
        { "5xx: poll again", PROV_C_HTTP, PROV_K_UNAVAILABLE, 0, 0, 3, JP_POLL_RETRY, 0, 1 },
        { "transport, 5th in a row: poll again", PROV_C_TRANSPORT, PROV_K_UNAVAILABLE, 0, 4, 3,
          JP_POLL_RETRY, 0, JOB_MAX_POLL_ERRORS },
        { "timeout, 6th in a row: give up", PROV_C_TIMEOUT, PROV_K_UNAVAILABLE, 0,
          JOB_MAX_POLL_ERRORS, 3, JP_POLL_GIVE_UP, 0, JOB_MAX_POLL_ERRORS + 1 },
    };
    return cr_make_param_array(struct poll_case, cases, sizeof cases / sizeof cases[0]);
}

ParameterizedTest(struct poll_case *t, jobpolicy, after_poll)
{
    struct prov_result r;
    prov_result_init(&r);
    r.outcome = PROV_FAILED;
    r.cls = t->cls;
    r.kind = t->kind;
    int nr = t->not_ready, pe = t->poll_errors;
    enum jp_poll p = jobpolicy_after_poll(&r, &nr, &pe, t->tolerance);
    cr_assert_eq(p, t->want, "%s: %d", t->name, (int)p);
    cr_assert_eq(nr, t->not_ready_after, "%s: not_ready %d", t->name, nr);
    cr_assert_eq(pe, t->poll_errors_after, "%s: poll_errors %d", t->name, pe);
}

Test(jobpolicy, blame_and_error_class)
{
    static const struct {
        enum prov_class cls;
        enum prov_kind kind;
        const char *cls_name;
    } rows[] = {
        { PROV_C_HTTP, PROV_K_AUTH, "provider_auth" },
        { PROV_C_HTTP, PROV_K_NO_CREDIT, "no_credit" },
        { PROV_C_HTTP, PROV_K_INVALID_INPUT, "rejected" },
        { PROV_C_HTTP, PROV_K_UNAVAILABLE, "exhausted" },
        { PROV_C_TIMEOUT, PROV_K_UNAVAILABLE, "exhausted" },
        { PROV_C_TASK_FAILED, PROV_K_UNAVAILABLE, "task_failed" },
        { PROV_C_TASK_FAILED, PROV_K_NONE, "task_failed" },
        { PROV_C_TASK_FAILED, PROV_K_AUTH, "provider_auth" },     /* the code blames the key */
        { PROV_C_TASK_FAILED, PROV_K_NO_CREDIT, "no_credit" },    /* ... the credit */
        { PROV_C_TASK_FAILED, PROV_K_INVALID_INPUT, "rejected" }, /* ... the input */
    };
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
        struct prov_result r;
        prov_result_init(&r);
        r.outcome = PROV_FAILED;
        r.cls = rows[i].cls;
        r.kind = rows[i].kind;
        cr_assert_str_eq(jobpolicy_error_class(jobpolicy_blame(&r)), rows[i].cls_name, "row %zu",
                         i);
    }
    cr_assert_str_eq(jobpolicy_error_class(PROV_K_NONE), "exhausted", "nothing known");
}

/* A callback's word never opens the breaker at once; a status reply may. */
Test(jobpolicy, task_failed_breaker_outcome)
{
    struct prov_result r;
    prov_result_init(&r);
    r.outcome = PROV_FAILED;
    r.cls = PROV_C_TASK_FAILED;
    r.kind = PROV_K_AUTH;
    cr_assert_eq(jobpolicy_task_failed_outcome(&r, 0), BREAKER_TRIP);
    cr_assert_eq(jobpolicy_task_failed_outcome(&r, 1), BREAKER_FAILURE);
    r.kind = PROV_K_UNAVAILABLE;
    cr_assert_eq(jobpolicy_task_failed_outcome(&r, 0), BREAKER_FAILURE);
    cr_assert_eq(jobpolicy_task_failed_outcome(&r, 1), BREAKER_FAILURE);
    r.kind = PROV_K_INVALID_INPUT;
    cr_assert_eq(jobpolicy_task_failed_outcome(&r, 1), BREAKER_IGNORE, "the job's own input");
}

Test(jobpolicy, may_hold)
{
    /* wait_s, provider conns, host cap, held → may */
    static const int rows[][5] = {
        { 0, 8, 8, 0, 0 },                      /* Prefer: wait off */
        { 30, 8, 8, 3, 1 },                     /* 4 of 8 may be held */
        { 30, 8, 8, 4, 0 }, { 30, 8, 4, 1, 1 }, /* the loop's per-host cap cuts the provider's */
        { 30, 8, 4, 2, 0 }, { 30, 1, 8, 0, 1 }, /* at least one */
        { 30, 1, 8, 1, 0 },
    };
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++)
        cr_assert_eq(jobpolicy_may_hold(rows[i][0], rows[i][1], rows[i][2], rows[i][3]), rows[i][4],
                     "row %zu", i);
}

Test(jobpolicy, poll_expired_and_resume_unknown)
{
    cr_assert_not(jobpolicy_poll_expired(600000, 600));
    cr_assert(jobpolicy_poll_expired(600001, 600));

    struct prov_result r;
    prov_result_init(&r);
    r.outcome = PROV_FAILED;
    r.kind = PROV_K_NOT_FOUND;
    cr_assert(jobpolicy_resume_unknown(&r, 0, 0, 3), "404: gone");
    r.kind = PROV_K_NOT_READY;
    cr_assert_not(jobpolicy_resume_unknown(&r, JOB_RESUME_NULL_MS, 0, 3), "null while brand new");
    cr_assert(jobpolicy_resume_unknown(&r, JOB_RESUME_NULL_MS + 1, 0, 3), "null when old");
    cr_assert(jobpolicy_resume_unknown(&r, 0, 3, 3), "null past the tolerance");
    r.kind = PROV_K_UNAVAILABLE;
    cr_assert_not(jobpolicy_resume_unknown(&r, 60000, 9, 3), "a 5xx says nothing");
    r.outcome = PROV_PENDING;
    r.kind = PROV_K_NOT_FOUND;
    cr_assert_not(jobpolicy_resume_unknown(&r, 60000, 9, 3), "pending: it knows the task");
}
