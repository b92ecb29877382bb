/* test_polling.c — adaptive vs fixed polling end to end: `switchyard run`
 * against fakeprov, counting the status requests fakeprov receives per task
 * (its /_stats and /_detect). Counts, not times: the assertions hold however
 * slow the machine is. */
#include <stdio.h>
#include <string.h>

#include <criterion/criterion.h>

#include "sytest.h"

#define N_JOBS 30
#define JOB_FMT "{\"id\":\"p-%d\",\"prompt\":\"a room\",\"providers\":[\"kie\"]}\n"

struct outcome {
    long polls, detected;
    double polls_per_task;
};

/* N_JOBS KIE jobs of 20 s each with the given poll group; all must succeed. */
static struct outcome run_mode(const char *poll)
{
    struct fakeprov fp;
    const char *args[] = { "--gen-ms", "20000", "--gen-dist", "fixed", NULL };
    fp_start(&fp, args);
    struct sy_run r;
    sy_prepare(&r, &fp, "", poll, N_JOBS, JOB_FMT);
    cr_assert_eq(sy_run_batch(r.conf, r.jobs, r.out, 150), 0);
    json_object *res = sy_read_results(r.out);
    cr_assert_eq(json_object_array_length(res), (size_t)N_JOBS);
    for (size_t i = 0; i < json_object_array_length(res); i++)
        cr_assert_str_eq(sy_str(json_object_array_get_idx(res, i), "status"), "succeeded");
    json_object_put(res);
    struct outcome o = { .polls = fp_stat(&fp, "kie.polls") };
    json_object *d = fp_get_json(&fp, "/_detect");
    cr_assert_not_null(d);
    json_object *v;
    cr_assert(json_object_object_get_ex(d, "tasks", &v));
    o.detected = (long)json_object_get_int64(v);
    cr_assert(json_object_object_get_ex(d, "polls_per_task", &v));
    o.polls_per_task = json_object_get_double(v);
    json_object_put(d);
    cr_assert_eq(fp_stop(&fp), 0);
    return o;
}

/* Fixed 3 s polling of a 20 s task: polls at 3, 6, ..., 21 s — 7 per task,
 * as before adaptive polling existed. */
Test(polling, fixed_mode_polls_on_its_interval, .timeout = 150)
{
    struct outcome o = run_mode(
            "poll = { mode = \"fixed\"; first_ms = 3000; interval_ms = 3000; max_s = 120; };");
    fprintf(stderr, "fixed: %ld polls for %d jobs (%.2f per task seen)\n", o.polls, N_JOBS,
            o.polls_per_task);
    cr_assert_eq(o.detected, N_JOBS);
    cr_assert_geq(o.polls, 6 * N_JOBS);
    cr_assert_leq(o.polls, 8 * N_JOBS);
    cr_assert_float_eq(o.polls_per_task, (double)o.polls / N_JOBS, 1e-6);
}

/* Adaptive with the default KIE prior (median 25 s) on the same jobs: the
 * first poll waits for the bulk of the prior instead of going every 3 s, so
 * a job needs clearly fewer polls than fixed 3 s polling's 7. */
Test(polling, adaptive_mode_polls_less, .timeout = 150)
{
    struct outcome o = run_mode("poll = { mode = \"adaptive\"; max_s = 120; };");
    fprintf(stderr, "adaptive: %ld polls for %d jobs (%.2f per task seen)\n", o.polls, N_JOBS,
            o.polls_per_task);
    cr_assert_eq(o.detected, N_JOBS);
    cr_assert_leq(o.polls, 5 * N_JOBS - 5, "%ld polls for %d jobs", o.polls, N_JOBS);
    cr_assert_geq(o.polls, N_JOBS);
}
