/* test_attempts.c — the attempt log: bounded, the newest decision kept in
 * the last slot, fields truncated to the codec's sizes; the result line of a
 * job refused before it ran. */
#include "worker/attempts.h"

#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "testutil.h"

Test(attempts, bounded_keeps_the_newest_last)
{
    struct attempts a = { 0 };
    cr_assert_null(attempts_last(&a));
    char msg[32];
    for (int i = 0; i < ATTEMPTS_MAX + 10; i++) {
        snprintf(msg, sizeof msg, "try %d", i);
        attempts_add(&a, "kie", NULL, "create", "transport", 0, NULL, msg, i);
    }
    cr_assert_eq(a.n, (size_t)ATTEMPTS_MAX);
    cr_assert_str_eq(a.v[0].message, "try 0");
    cr_assert_str_eq(a.v[ATTEMPTS_MAX - 2].message, "try 30");
    cr_assert_str_eq(attempts_last(&a)->message, "try 41", "the newest decision");
    cr_assert_eq(attempts_last(&a)->elapsed_ms, 41);
    cr_assert_str_eq(attempts_last(&a)->task_id, "", "NULL is \"\"");
    char buf[400];
    attempts_exhausted_message(&a, buf, sizeof buf);
    cr_assert_str_eq(buf, "every provider failed; last: kie: try 41");
    attempts_cleanup(&a);
    cr_assert_eq(a.n, 0);
    attempts_exhausted_message(&a, buf, sizeof buf);
    cr_assert_str_eq(buf, "every provider failed; last: none");
    assert_no_leaks();
}

Test(attempts, long_fields_are_cut)
{
    struct attempts a = { 0 };
    char big[600];
    memset(big, 'x', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    attempts_add(&a, big, big, "poll", big, 503, big, big, 7);
    const struct codec_attempt *l = attempts_last(&a);
    cr_assert_eq(strlen(l->provider), sizeof l->provider - 1);
    cr_assert_eq(strlen(l->message), sizeof l->message - 1);
    cr_assert_str_eq(l->phase, "poll");
    cr_assert_eq(l->http_status, 503);
    attempts_cleanup(&a);
    assert_no_leaks();
}

Test(attempts, rejected_json)
{
    char *json = attempts_rejected_json("host:1", "job-1", 7, "out of memory", 0);
    cr_assert_not_null(json);
    cr_assert_not_null(strstr(json, "\"invalid_input\""), "%s", json);
    cr_assert_not_null(strstr(json, "\"out of memory\""), "%s", json);
    cr_assert_not_null(strstr(json, "\"job-1\""), "%s", json);
    free(json);
    assert_no_leaks();
}
