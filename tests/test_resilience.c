/* test_resilience.c — the provider policies end to end: `switchyard run`
 * against fakeprov over loopback, with outages, 401s, a 429 storm and a
 * SIGHUP priority swap. Each scenario asserts counts, never timings. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <criterion/criterion.h>

#include "sytest.h"

static int count_where(json_object *res, const char *key, const char *value)
{
    int n = 0;
    for (size_t i = 0; i < json_object_array_length(res); i++)
        n += strcmp(sy_str(json_object_array_get_idx(res, i), key), value) == 0;
    return n;
}

/* KIE answers 500 to everything for a while, Replicate is fine: the breaker
 * opens within min_calls, jobs move to Replicate, KIE gets only what the
 * breaker and budget let through; once KIE recovers the breaker closes and
 * KIE takes traffic again. */
Test(resilience, outage_breaker_moves_jobs_and_recovers, .timeout = 180)
{
    struct fakeprov fp;
    const char *args[] = { "--gen-ms", "300", NULL };
    fp_start(&fp, args);
    struct sy_run r;
    /* ~10 jobs/s for ~36 s: 5 in flight, 300 ms generation, fast polls. */
    sy_prepare(
            &r, &fp, "max_in_flight = 5;",
            "poll = { mode = \"fixed\"; first_ms = 300; interval_ms = 100; max_s = 60; };"
            " breaker = { window = 20; min_calls = 10; failure_rate = 0.5; open_s = 3; half_open_probes = 1; };"
            " retry = { max_attempts = 2; backoff_base_ms = 50; backoff_max_ms = 200; budget_ratio = 0.1;"
            " budget_min_per_s = 0.2; };",
            400, "{\"id\":\"o-%d\",\"prompt\":\"a sunroom\"}");
    cr_assert_eq(
            fp_post(&fp, "/_control", "{\"provider\":\"kie\",\"fault\":\"http500\",\"rate\":1.0}"),
            200);
    long kie_before = fp_stat(&fp, "kie.creates");
    pid_t pid = sy_spawn_batch(r.conf, r.jobs, r.out);
    sy_sleep_ms(20000);
    long kie_outage = fp_stat(&fp, "kie.creates") - kie_before;
    long rep_outage = fp_stat(&fp, "replicate.tasks_created");
    cr_assert_eq(fp_post(&fp, "/_control", "{\"provider\":\"kie\",\"fault\":\"none\"}"), 200);
    long kie_tasks_at_recovery = fp_stat(&fp, "kie.tasks_created");
    cr_assert_eq(sy_wait(pid, 120), 0);
    long kie_after = fp_stat(&fp, "kie.tasks_created") - kie_tasks_at_recovery;
    fprintf(stderr,
            "outage: KIE got %ld creates in 20 s of outage, Replicate ran %ld tasks; KIE ran %ld after\n",
            kie_outage, rep_outage, kie_after);

    json_object *res = sy_read_results(r.out);
    cr_assert_eq(json_object_array_length(res), 400);
    cr_assert_eq(count_where(res, "status", "succeeded"), 400, "a job was lost to the outage");
    /* ~200 jobs ran during the outage; without a breaker each would have
     * hit KIE twice (max_attempts 2). The breaker opened after 10 calls; then
     * one probe every 3 s, plus what the retry budget let through. */
    cr_assert_geq(kie_outage, 10);
    cr_assert_leq(kie_outage, 10 + 7 + 2 * 7 + 10, "KIE got %ld creates during the outage",
                  kie_outage);
    cr_assert_geq(rep_outage, 100, "jobs did not move to Replicate (%ld)", rep_outage);
    int skipped = 0;
    for (size_t i = 0; i < json_object_array_length(res); i++)
        skipped += sy_attempts_matching(json_object_array_get_idx(res, i), "message",
                                        "circuit breaker open") > 0;
    cr_assert_gt(skipped, 50, "the breaker never turned jobs away (%d)", skipped);
    /* Recovery: a probe succeeded, the breaker closed, KIE (priority 1) is
     * first again. */
    cr_assert_geq(kie_after, 20, "KIE took only %ld tasks after recovering", kie_after);
    json_object_put(res);
    cr_assert_eq(fp_stop(&fp), 0);
}

/* A 401 from KIE opens its breaker at once: KIE sees a handful of requests,
 * not one per job; jobs go to Replicate; KIE-only jobs fail fast with
 * provider_auth. */
Test(resilience, unauthorized_opens_breaker_at_once, .timeout = 90)
{
    struct fakeprov fp;
    const char *args[] = { "--gen-ms", "100", "--kie-key", "a-different-key", NULL };
    fp_start(&fp, args);
    struct sy_run r;
    sy_prepare(&r, &fp, "max_in_flight = 10;", "breaker = { open_s = 60; };", 100,
               "{\"id\":\"a-%d\",\"prompt\":\"a porch\"}");
    cr_assert_eq(sy_run_batch(r.conf, r.jobs, r.out, 60), 0);
    json_object *res = sy_read_results(r.out);
    cr_assert_eq(count_where(res, "status", "succeeded"), 100);
    cr_assert_eq(count_where(res, "provider", "replicate"), 100);
    long kie = fp_stat(&fp, "kie.creates");
    /* Up to max_in_flight creates can be on the wire before the first 401
     * comes back; after it, none. */
    cr_assert_leq(kie, 10, "KIE got %ld creates after answering 401", kie);
    json_object_put(res);

    struct sy_run r2;
    sy_prepare(&r2, &fp, "max_in_flight = 10;", "breaker = { open_s = 60; };", 30,
               "{\"id\":\"k-%d\",\"prompt\":\"a porch\",\"providers\":[\"kie\"]}");
    long before = fp_stat(&fp, "kie.creates");
    cr_assert_eq(sy_run_batch(r2.conf, r2.jobs, r2.out, 60), 0);
    res = sy_read_results(r2.out);
    for (size_t i = 0; i < 30; i++)
        cr_assert_str_eq(sy_error_class(json_object_array_get_idx(res, i)), "provider_auth");
    cr_assert_leq(fp_stat(&fp, "kie.creates") - before, 10, "no retry storm on a bad key");
    json_object_put(res);
    cr_assert_eq(fp_stop(&fp), 0);
}

/* A 429 storm: the fake enforces 20 creates per 10 s while the client is
 * configured far above it. Every job still succeeds; the client honours the
 * 429s (waits a full window, halves its rate) instead of hammering. */
Test(resilience, storm_of_429s_loses_nothing, .timeout = 180)
{
    struct fakeprov fp;
    const char *args[] = { "--gen-ms", "100", "--kie-window-limit", "20", "--kie-window-s",
                           "10",       NULL };
    fp_start(&fp, args);
    struct sy_run r;
    sy_prepare(
            &r, &fp, "",
            "rate_limit = { create_per_s = 10.0; create_burst = 30; create_window_max = 0; poll_per_s = 100.0;"
            " poll_burst = 100; max_in_flight = 1000; };",
            80, "{\"id\":\"s-%d\",\"prompt\":\"a loft\",\"providers\":[\"kie\"]}");
    cr_assert_eq(sy_run_batch(r.conf, r.jobs, r.out, 150), 0);
    json_object *res = sy_read_results(r.out);
    cr_assert_eq(count_where(res, "status", "succeeded"), 80, "a job failed because of 429s");
    long sent = fp_stat(&fp, "kie.creates"), limited = fp_stat(&fp, "kie.rate_limited");
    long accepted = fp_stat(&fp, "kie.tasks_created");
    fprintf(stderr, "429 storm: %ld creates sent, %ld accepted, %ld answered 429\n", sent, accepted,
            limited);
    cr_assert_eq(accepted, 80);
    cr_assert_leq(fp_stat(&fp, "kie.max_creates_in_window"), 20);
    /* A client retrying at once would send hundreds of 429s in the ~35 s this
     * takes; this one sends its first burst, then stays near the limit. */
    cr_assert_leq(limited, 30 + 20, "%ld requests answered 429", limited);
    json_object_put(res);
    cr_assert_eq(fp_stop(&fp), 0);
}

/* SIGHUP swapping the priority: jobs started after the reload go to the new
 * first provider; jobs in flight finish where they are. */
Test(resilience, sighup_swaps_priority, .timeout = 90)
{
    struct fakeprov fp;
    const char *args[] = { "--gen-ms", "3000", NULL };
    fp_start(&fp, args);
    struct sy_run r;
    sy_prepare(&r, &fp, "max_in_flight = 10;",
               "poll = { mode = \"fixed\"; first_ms = 3000; interval_ms = 200; max_s = 60; };", 20,
               "{\"id\":\"h-%d\",\"prompt\":\"a nook\"}");
    pid_t pid = sy_spawn_batch(r.conf, r.jobs, r.out);
    sy_sleep_ms(1000); /* the first 10 jobs are on KIE, generating */
    /* Same file, priorities swapped. */
    char *text = NULL;
    size_t cap = 0;
    FILE *f = fopen(r.conf, "r");
    cr_assert_not_null(f);
    ssize_t n = getdelim(&text, &cap, '\0', f);
    fclose(f);
    cr_assert_gt(n, 0);
    char *p1 = strstr(text, "priority = 1;"), *p2 = strstr(text, "priority = 2;");
    cr_assert(p1 && p2);
    p1[11] = '2';
    p2[11] = '1';
    f = fopen(r.conf, "w");
    fputs(text, f);
    fclose(f);
    free(text);
    cr_assert_eq(kill(pid, SIGHUP), 0);
    cr_assert_eq(sy_wait(pid, 60), 0);
    json_object *res = sy_read_results(r.out);
    cr_assert_eq(count_where(res, "status", "succeeded"), 20);
    /* Lines 1-10 started before the reload, 11-20 after. */
    for (int i = 0; i < 20; i++) {
        char id[16];
        snprintf(id, sizeof id, "h-%d", i);
        json_object *j = sy_find(res, id);
        cr_assert_str_eq(sy_str(j, "provider"), i < 10 ? "kie" : "replicate", "%s ran on %s", id,
                         sy_str(j, "provider"));
        cr_assert_eq(sy_attempts_matching(j, "outcome", "succeeded"), 1,
                     "%s moved after the reload", id);
    }
    json_object_put(res);
    cr_assert_eq(fp_stop(&fp), 0);
}

/* An invalid file on SIGHUP is refused; the running config stays. */
Test(resilience, sighup_with_a_broken_file_keeps_running, .timeout = 60)
{
    struct fakeprov fp;
    const char *args[] = { "--gen-ms", "2000", NULL };
    fp_start(&fp, args);
    struct sy_run r;
    sy_prepare(&r, &fp, "max_in_flight = 5;",
               "poll = { mode = \"fixed\"; first_ms = 2000; interval_ms = 200; max_s = 60; };", 10,
               "{\"id\":\"b-%d\",\"prompt\":\"a hall\"}");
    pid_t pid = sy_spawn_batch(r.conf, r.jobs, r.out);
    sy_sleep_ms(700);
    FILE *f = fopen(r.conf, "a");
    fputs("\nthis is not libconfig = = ;\n", f);
    fclose(f);
    cr_assert_eq(kill(pid, SIGHUP), 0);
    cr_assert_eq(sy_wait(pid, 60), 0);
    json_object *res = sy_read_results(r.out);
    cr_assert_eq(count_where(res, "status", "succeeded"), 10);
    cr_assert_eq(count_where(res, "provider", "kie"), 10, "the running config (KIE first) stayed");
    json_object_put(res);
    cr_assert_eq(fp_stop(&fp), 0);
}

/* 30 jobs at once against a KIE limited to 1 create/s (burst 1, no window):
 * each waiting job sees "next slot in under a second" and may lose it to
 * another, again and again. What moves a job on is its whole time at the
 * gate (over 3 s), so most go to Replicate instead of queueing ~30 s at
 * KIE. */
Test(resilience, a_crowded_limiter_spills_over, .timeout = 90)
{
    struct fakeprov fp;
    const char *args[] = { "--gen-ms", "300", NULL };
    fp_start(&fp, args);
    struct sy_run r;
    sy_prepare(&r, &fp, "", "", 30, "{\"id\":\"c-%d\",\"prompt\":\"a pantry\"}");
    FILE *f = fopen(r.conf, "w");
    cr_assert_not_null(f);
    fprintf(f,
            "providers = (\n"
            "  { name = \"kie\"; type = \"kie\"; priority = 1; base_url = \"http://127.0.0.1:%d\";\n"
            "    api_key_env = \"SYTEST_KIE_KEY\"; poll = { mode = \"fixed\"; first_ms = 100; interval_ms = 100; };\n"
            "    rate_limit = { create_per_s = 1.0; create_burst = 1; create_window_max = 0; }; },\n"
            "  { name = \"replicate\"; type = \"replicate\"; priority = 2; base_url = \"http://127.0.0.1:%d\";\n"
            "    api_key_env = \"SYTEST_REPLICATE_KEY\"; poll = { mode = \"fixed\"; first_ms = 100; interval_ms = 100; }; }\n"
            ");\n"
            "worker = { metrics_listen = \"\"; log_level = \"warn\"; };\n",
            fp.port, fp.port);
    fclose(f);
    cr_assert_eq(sy_run_batch(r.conf, r.jobs, r.out, 60), 0);
    json_object *res = sy_read_results(r.out);
    cr_assert_eq(json_object_array_length(res), 30);
    cr_assert_eq(count_where(res, "status", "succeeded"), 30);
    int kie = count_where(res, "provider", "kie"), rep = count_where(res, "provider", "replicate");
    /* ~3 s at 1/s plus the burst: a handful on KIE, the rest moved on. */
    cr_assert_leq(kie, 8, "%d jobs queued at KIE's limiter instead of moving on", kie);
    cr_assert_eq(kie + rep, 30);
    int moved = 0;
    for (size_t i = 0; i < json_object_array_length(res); i++)
        moved += sy_attempts_matching(json_object_array_get_idx(res, i), "message",
                                      "rate limited: no create slot after");
    cr_assert_geq(moved, 1, "no job says it moved on after waiting at the gate");
    json_object_put(res);
    cr_assert_eq(fp_stop(&fp), 0);
}
