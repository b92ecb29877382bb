/* test_metrics_render.c — the Prometheus page (worker/metrics) in process:
 * record events, take a snapshot, render, read the text. No request is made:
 * the only socket is the listener metrics_start() binds on an ephemeral
 * loopback port, because metrics_start() is what takes the snapshot. The
 * process-level tests (test_metrics.c) scrape a running worker instead. */
#include "worker/metrics.h"

#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conf/config.h"
#include "testutil.h"
#include "worker/dispatch.h"
#include "worker/engine.h"
#include "core/sy.h"

/* The value of the sample line `series value` (series with its labels, if
 * any) in page; fails the test when absent or listed twice. */
static double sample(const char *page, const char *series)
{
    char key[256];
    snprintf(key, sizeof key, "\n%s ", series);
    const char *at = strstr(page, key);
    cr_assert_not_null(at, "no sample %s in:\n%s", series, page);
    cr_assert_null(strstr(at + 1, key), "sample %s listed twice", series);
    return strtod(at + strlen(key), NULL);
}

/* Every line is a HELP, a TYPE or a sample `name[{labels}] number`; every
 * sample's family was typed before it, and no family is typed twice. */
static void assert_exposition_format(const char *page)
{
    char typed[128][96];
    size_t n_typed = 0;
    const char *line = page;
    cr_assert(page[0] != '\0' && page[strlen(page) - 1] == '\n');
    while (*line) {
        const char *end = strchr(line, '\n');
        cr_assert_not_null(end);
        char buf[512];
        size_t len = (size_t)(end - line);
        cr_assert_lt(len, sizeof buf);
        memcpy(buf, line, len);
        buf[len] = '\0';
        if (strncmp(buf, "# TYPE ", 7) == 0) {
            char name[96], type[32];
            cr_assert_eq(sscanf(buf + 7, "%95s %31s", name, type), 2, "bad TYPE line: %s", buf);
            cr_assert(strcmp(type, "counter") == 0 || strcmp(type, "gauge") == 0 ||
                              strcmp(type, "histogram") == 0,
                      "type %s", type);
            for (size_t i = 0; i < n_typed; i++)
                cr_assert_str_neq(typed[i], name, "%s typed twice", name);
            cr_assert_lt(n_typed, 128);
            snprintf(typed[n_typed++], sizeof typed[0], "%s", name);
        } else if (strncmp(buf, "# HELP ", 7) != 0) {
            size_t nl = strcspn(buf, "{ ");
            cr_assert(nl > 0 && buf[nl] != '\0', "bad sample line: %s", buf);
            const char *value = strrchr(buf, ' ');
            char *stop;
            strtod(value + 1, &stop);
            cr_assert(*stop == '\0' && stop != value + 1, "bad value in: %s", buf);
            int found = 0;
            for (size_t i = 0; i < n_typed && !found; i++) {
                size_t tl = strlen(typed[i]);
                found = strncmp(buf, typed[i], tl) == 0 &&
                        (nl == tl || (strncmp(buf + tl, "_bucket", 7) == 0 && nl == tl + 7) ||
                         (strncmp(buf + tl, "_sum", 4) == 0 && nl == tl + 4) ||
                         (strncmp(buf + tl, "_count", 6) == 0 && nl == tl + 6));
            }
            cr_assert(found, "sample before its TYPE: %s", buf);
        }
        line = end + 1;
    }
}

struct kafka_view {
    int calls;
    const struct engine *e; /* its gauges first, as the engine's collector does */
};

static void collect_kafka(void *ud, struct metrics *m)
{
    struct kafka_view *kv = ud;
    kv->calls++;
    if (kv->e)
        engine_collect(kv->e, m, sy_now_ms());
    metrics_partition(m, 3, 2, 41, 0.5);
    metrics_partition(m, 0, 0, -1, 0);
    metrics_kafka_flow(m, 1, 4096, 2);
    metrics_ready(m, 0, "consumption paused with nothing in flight");
}

static struct dispatch *one_kie_provider(void)
{
    char err[512] = "";
    setenv("SY_T_MR_KEY", "mr-key", 1);
    struct conf *c = conf_load_string(
            "providers = ( { name = \"kie\"; type = \"kie\"; priority = 1; "
            "base_url = \"http://127.0.0.1:9\"; api_key_env = \"SY_T_MR_KEY\"; } );\n",
            "mr.conf", err, sizeof err);
    cr_assert_not_null(c, "%s", err);
    struct dispatch *d = dispatch_new(c, sy_now_ms());
    cr_assert_not_null(d);
    return d;
}

/* Before a snapshot the page renders zeros: it shows the last snapshot, not
 * the live counters (which belong to the loop thread). */
Test(metrics_render, shows_the_snapshot_not_live_counters)
{
    struct metrics *m = metrics_new();
    cr_assert_not_null(m);
    metrics_consumed(m);
    metrics_job_done(m, 1, NULL, 0.2);
    char *page = metrics_render(m);
    cr_assert_not_null(page);
    assert_exposition_format(page);
    cr_assert_eq(sample(page, "switchyard_jobs_consumed_total"), 0);
    cr_assert_eq(sample(page, "switchyard_jobs_succeeded_total"), 0);
    cr_assert_null(strstr(page, "switchyard_partition_in_flight"),
                   "no Kafka section in batch mode");
    /* callback counters are shared with the listener thread: live */
    metrics_callback_forwarded(m);
    free(page);
    page = metrics_render(m);
    cr_assert_eq(sample(page, "switchyard_callbacks_forwarded_total"), 1);
    free(page);
    metrics_free(m);
    assert_no_leaks();
}

Test(metrics_render, every_recorded_event_reaches_the_page)
{
    uv_loop_t uv;
    cr_assert_eq(uv_loop_init(&uv), 0);
    struct metrics *m = metrics_new();
    cr_assert_not_null(m);
    struct engine e = { .d = one_kie_provider(), .in_flight = 7, .m = m };
    struct kafka_view kv = { 0 };

    for (int i = 0; i < 4; i++)
        metrics_consumed(m);
    metrics_job_done(m, 1, NULL, 0.3);
    metrics_job_done(m, 1, NULL, 45);
    metrics_job_done(m, 0, "provider", 2);
    metrics_job_done(m, 0, "invalid_input", -1); /* never started: not timed */
    metrics_dead_lettered(m);
    metrics_request(m, "kie", METRICS_CREATE, 200, 0.02);
    metrics_request(m, "kie", METRICS_CREATE, 429, 0.004);
    metrics_request(m, "kie", METRICS_POLL, METRICS_ST_TIMEOUT, 30);
    metrics_request(m, "kie", METRICS_CANCEL, METRICS_ST_TRANSPORT, 0.001);
    metrics_ledger(m, METRICS_LEDGER_RESUMED);
    metrics_ledger_observe(m, METRICS_LEDGER_WRITE_LATENCY, 0.01);
    metrics_publish_abandoned(m, "dlq", "MSG_SIZE_TOO_LARGE");
    metrics_callback(m, "kie", METRICS_CB_ACCEPTED);
    metrics_callback(m, "kie", METRICS_CB_BAD_SIGNATURE);
    metrics_callback_handed_in(m);
    metrics_callback_handoff_dropped(m, 1);

    /* a poll plan whose model name would break its label: quotes become _ */
    cr_assert_not_null(dispatch_pollplan(dispatch_pstate(e.d, "kie"), "acme/\"x\"-1"));

    char err[256] = "";
    kv.e = &e;
    struct metrics_source src = { .collect = collect_kafka, .ud = &kv };
    cr_assert_eq(metrics_start(m, &uv, "127.0.0.1:0", &src, err, sizeof err), SY_OK, "%s", err);
    cr_assert_eq(kv.calls, 1, "metrics_start takes the first snapshot");
    char *page = metrics_render(m);
    cr_assert_not_null(page);
    assert_exposition_format(page);

    cr_assert_eq(sample(page, "switchyard_jobs_consumed_total"), 4);
    cr_assert_eq(sample(page, "switchyard_jobs_succeeded_total"), 2);
    cr_assert_eq(sample(page, "switchyard_jobs_failed_total{class=\"provider\"}"), 1);
    cr_assert_eq(sample(page, "switchyard_jobs_failed_total{class=\"invalid_input\"}"), 1);
    cr_assert_eq(sample(page, "switchyard_jobs_dead_lettered_total"), 1);
    cr_assert_eq(sample(page, "switchyard_jobs_in_flight"), 7);
    /* histogram: cumulative buckets, +Inf = count, the untimed job left out */
    cr_assert_eq(sample(page, "switchyard_job_duration_seconds_bucket{le=\"0.25\"}"), 0);
    cr_assert_eq(sample(page, "switchyard_job_duration_seconds_bucket{le=\"0.5\"}"), 1);
    cr_assert_eq(sample(page, "switchyard_job_duration_seconds_bucket{le=\"2.5\"}"), 2);
    cr_assert_eq(sample(page, "switchyard_job_duration_seconds_bucket{le=\"30\"}"), 2);
    cr_assert_eq(sample(page, "switchyard_job_duration_seconds_bucket{le=\"60\"}"), 3);
    cr_assert_eq(sample(page, "switchyard_job_duration_seconds_bucket{le=\"+Inf\"}"), 3);
    cr_assert_eq(sample(page, "switchyard_job_duration_seconds_count"), 3);
    cr_assert_float_eq(sample(page, "switchyard_job_duration_seconds_sum"), 47.3, 1e-9);

    const char *rq = "switchyard_provider_requests_total{provider=\"kie\",endpoint=";
    char series[256];
    snprintf(series, sizeof series, "%s\"create\",status=\"200\"}", rq);
    cr_assert_eq(sample(page, series), 1);
    snprintf(series, sizeof series, "%s\"create\",status=\"429\"}", rq);
    cr_assert_eq(sample(page, series), 1);
    snprintf(series, sizeof series, "%s\"poll\",status=\"timeout\"}", rq);
    cr_assert_eq(sample(page, series), 1);
    snprintf(series, sizeof series, "%s\"cancel\",status=\"transport\"}", rq);
    cr_assert_eq(sample(page, series), 1);
    cr_assert_eq(
            sample(page,
                   "switchyard_provider_request_duration_seconds_count{provider=\"kie\",endpoint=\"create\"}"),
            2);
    cr_assert_eq(
            sample(page,
                   "switchyard_provider_request_duration_seconds_bucket{provider=\"kie\",endpoint=\"create\",le=\"0.005\"}"),
            1);

    /* gauges collected from the engine's provider states */
    cr_assert_eq(sample(page, "switchyard_provider_breaker_state{provider=\"kie\"}"), 0);
    cr_assert_eq(sample(page, "switchyard_provider_rate_limited_total{provider=\"kie\"}"), 0);
    cr_assert_gt(sample(page, "switchyard_provider_retry_budget_balance{provider=\"kie\"}"), 0);
    /* the default KIE prior: a median of 25 s (conf/config.c) */
    cr_assert_float_eq(
            sample(page,
                   "switchyard_poll_expected_seconds{provider=\"kie\",model=\"acme/_x_-1\",quantile=\"0.5\"}"),
            25, 0.001);
    cr_assert_gt(
            sample(page,
                   "switchyard_poll_expected_seconds{provider=\"kie\",model=\"acme/_x_-1\",quantile=\"0.95\"}"),
            25);

    /* the Kafka section, from the collect callback */
    cr_assert_eq(sample(page, "switchyard_partition_in_flight{partition=\"3\"}"), 2);
    cr_assert_eq(sample(page, "switchyard_partition_committed_offset{partition=\"3\"}"), 41);
    cr_assert_eq(sample(page, "switchyard_partition_committed_offset{partition=\"0\"}"), -1);
    cr_assert_float_eq(sample(page, "switchyard_partition_commit_stall_seconds{partition=\"3\"}"),
                       0.5, 1e-9);
    cr_assert_eq(sample(page, "switchyard_consumer_paused"), 1);
    cr_assert_eq(sample(page, "switchyard_in_flight_bytes"), 4096);
    cr_assert_eq(sample(page, "switchyard_publish_retry_waiting"), 2);
    cr_assert_eq(
            sample(page,
                   "switchyard_publish_abandoned_total{kind=\"dlq\",reason=\"MSG_SIZE_TOO_LARGE\"}"),
            1);
    cr_assert_eq(sample(page, "switchyard_ready"), 0);
    cr_assert_eq(sample(page, "switchyard_ledger_tasks_resumed_total"), 1);

    /* callbacks */
    cr_assert_eq(
            sample(page,
                   "switchyard_callbacks_received_total{provider=\"kie\",result=\"accepted\"}"),
            1);
    cr_assert_eq(
            sample(page,
                   "switchyard_callbacks_received_total{provider=\"kie\",result=\"bad_signature\"}"),
            1);
    cr_assert_eq(
            sample(page,
                   "switchyard_callbacks_received_total{provider=\"kie\",result=\"duplicate\"}"),
            0);
    cr_assert_eq(sample(page, "switchyard_callbacks_handed_in_total"), 1);
    cr_assert_eq(sample(page, "switchyard_callbacks_handoff_dropped_total{reason=\"unsigned\"}"),
                 1);
    cr_assert_eq(sample(page, "switchyard_callbacks_handoff_dropped_total{reason=\"budget\"}"), 0);
    free(page);

    metrics_stop(m);
    cr_assert_eq(uv_run(&uv, UV_RUN_DEFAULT), 0);
    cr_assert_eq(uv_loop_close(&uv), 0, "a handle left open on the loop");
    metrics_free(m);
    dispatch_free(e.d);
    assert_no_leaks();
}
