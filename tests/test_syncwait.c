/* test_syncwait.c — Replicate sync mode (Prefer: wait) against fakeprov:
 * a prediction that finishes within wait_s needs no poll; one that does not
 * falls back to polling without a second create; held creates never take
 * more than half of the connections, so they cannot starve other requests.
 * Counts only, no timing. */
#include <stdio.h>
#include <string.h>

#include <criterion/criterion.h>

#include "sytest.h"

/* The phase of the result's successful attempt ("create" = held reply). */
static const char *success_phase(json_object *r)
{
    json_object *atts;
    cr_assert(json_object_object_get_ex(r, "attempts", &atts));
    for (size_t i = 0; i < json_object_array_length(atts); i++) {
        json_object *a = json_object_array_get_idx(atts, i);
        if (strcmp(sy_str(a, "outcome"), "succeeded") == 0)
            return sy_str(a, "phase");
    }
    return "";
}

/* Runs r; every result must have succeeded; counts held ("create") and
 * polled successes, for results whose id starts with prefix. */
static void count_phases(const struct sy_run *r, int n, const char *prefix, int *held, int *polled)
{
    json_object *res = sy_read_results(r->out);
    cr_assert_eq(json_object_array_length(res), (size_t)n, "%zu results for %d jobs",
                 json_object_array_length(res), n);
    *held = *polled = 0;
    for (size_t i = 0; i < json_object_array_length(res); i++) {
        json_object *o = json_object_array_get_idx(res, i);
        cr_assert_str_eq(sy_str(o, "status"), "succeeded", "%s: %s", sy_str(o, "id"),
                         json_object_to_json_string(o));
        if (strncmp(sy_str(o, "id"), prefix, strlen(prefix)) != 0)
            continue;
        const char *ph = success_phase(o);
        *held += strcmp(ph, "create") == 0;
        *polled += strcmp(ph, "poll") == 0;
    }
    json_object_put(res);
}

/* n Replicate-only jobs "r-N" with generation gen_ms and wait_s; fp is
 * left running for the caller's checks. */
static void run_replicate(struct fakeprov *fp, const char *gen_ms, const char *wait, int n,
                          int *held, int *polled)
{
    const char *args[] = { "--gen-ms", gen_ms, NULL };
    fp_start(fp, args);
    struct sy_run r;
    sy_prepare(&r, fp, "", wait, n,
               "{\"id\":\"r-%d\",\"prompt\":\"a loft\",\"providers\":[\"replicate\"]}");
    cr_assert_eq(sy_run_batch(r.conf, r.jobs, r.out, 40), 0);
    count_phases(&r, n, "r-", held, polled);
}

Test(syncwait, finished_within_wait_needs_no_poll, .timeout = 60)
{
    struct fakeprov fp;
    int held, polled;
    run_replicate(&fp, "800", "wait_s = 10;", 20, &held, &polled);
    cr_assert_eq(held, 20, "%d of 20 finished in the held create reply", held);
    cr_assert_eq(fp_stat(&fp, "replicate.polls"), 0, "sync mode polled");
    cr_assert_eq(fp_stat(&fp, "replicate.creates"), 20);
    cr_assert_eq(fp_stop(&fp), 0);
}

Test(syncwait, unfinished_hold_falls_back_to_polling, .timeout = 60)
{
    struct fakeprov fp;
    int held, polled;
    run_replicate(&fp, "3000", "wait_s = 1;", 6, &held, &polled);
    cr_assert_eq(polled, 6, "%d of 6 completed by a poll after the 1 s hold", polled);
    cr_assert_gt(fp_stat(&fp, "replicate.polls"), 0);
    cr_assert_eq(fp_stat(&fp, "replicate.creates"), 6,
                 "an unfinished hold must not create the task again");
    cr_assert_eq(fp_stop(&fp), 0);
}

/* 8 connections: at most 4 creates are held; the other Replicate creates go
 * out unheld and are polled, and the KIE jobs beside them all run. */
Test(syncwait, holds_take_at_most_half_the_connections, .timeout = 90)
{
    struct fakeprov fp;
    const char *args[] = { "--gen-ms", "500", NULL };
    fp_start(&fp, args);
    struct sy_run r;
    sy_prepare(&r, &fp, "max_host_connections = 8; request_timeout_ms = 20000;", "wait_s = 20;", 0,
               NULL);
    FILE *f = fopen(r.jobs, "w");
    cr_assert_not_null(f);
    for (int i = 0; i < 12; i++)
        fprintf(f,
                "{\"id\":\"h-%d\",\"prompt\":\"a den [gen:4000]\",\"providers\":[\"replicate\"]}\n",
                i);
    for (int i = 0; i < 12; i++)
        fprintf(f, "{\"id\":\"k-%d\",\"prompt\":\"a nook\",\"providers\":[\"kie\"]}\n", i);
    fclose(f);
    cr_assert_eq(sy_run_batch(r.conf, r.jobs, r.out, 60), 0);
    int held, polled;
    count_phases(&r, 24, "h-", &held, &polled);
    cr_assert_eq(held, 4, "%d creates held with 8 connections (cap 4)", held);
    cr_assert_eq(polled, 8);
    cr_assert_eq(fp_stat(&fp, "replicate.creates"), 12);
    cr_assert_eq(fp_stop(&fp), 0);
}
