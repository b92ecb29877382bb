/* test_ratewindow.c — 1,000 KIE-only jobs against a fake that enforces
 * KIE's real limit (20 creates in any sliding 10 s, dropping what is over),
 * with the DEFAULT config: not a single 429. It takes about ten minutes of
 * mostly idle waiting (18 creates per 11 s is the default's safety margin), so
 * it is its own CTest test and runs beside the others. */
#include <stdio.h>
#include <string.h>

#include <criterion/criterion.h>

#include "sytest.h"

Test(ratewindow, default_config_never_gets_429, .timeout = 900)
{
    struct fakeprov fp;
    const char *args[] = { "--gen-ms", "200", "--kie-window-limit", "20", "--kie-window-s", "10", NULL };
    fp_start(&fp, args);
    const int N = 1000;
    struct sy_run run;
    /* The provider defaults, untouched: the literal rate_limit group below
     * only stops the test helper from opening the limits, it sets nothing. */
    sy_prepare(&run, &fp, "", "rate_limit = { };", N,
               "{\"id\":\"w-%d\",\"prompt\":\"a gallery\",\"providers\":[\"kie\"]}");
    cr_assert_eq(sy_run_batch(run.conf, run.jobs, run.out, 850), 0);
    json_object *res = sy_read_results(run.out);
    cr_assert_eq(json_object_array_length(res), (size_t)N);
    int ok = 0;
    for (int i = 0; i < N; i++)
        ok += strcmp(sy_str(json_object_array_get_idx(res, i), "status"), "succeeded") == 0;
    long limited = fp_stat(&fp, "kie.rate_limited"), peak = fp_stat(&fp, "kie.max_creates_in_window");
    fprintf(stderr, "ratewindow: %d/%d succeeded, %ld answered 429, peak %ld creates in a 10 s window\n", ok, N,
            limited, peak);
    cr_assert_eq(ok, N);
    cr_assert_eq(limited, 0, "%ld creates were answered 429", limited);
    cr_assert_leq(peak, 20);
    json_object_put(res);
    cr_assert_eq(fp_stop(&fp), 0);
}
