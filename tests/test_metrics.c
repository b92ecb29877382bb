/* test_metrics.c — /metrics and /healthz of `switchyard run` against fakeprov:
 * the page is parsed by an independent parser (Python prometheus_client) and
 * its values are checked against the results file and fakeprov's /_stats.
 * The Kafka-mode tests check the per-partition gauges and /healthz against
 * a real broker. No timing is asserted. */
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <criterion/criterion.h>

#include "kafkatest.h"
#include "sytest.h"

/* sy_write_config disables metrics: point them at listen instead. */
static void set_listen(const char *conf, const char *listen)
{
    FILE *f = fopen(conf, "r");
    cr_assert_not_null(f);
    char text[16384];
    size_t n = fread(text, 1, sizeof text - 1, f);
    fclose(f);
    text[n] = '\0';
    const char *key = "metrics_listen = \"\";";
    char *at = strstr(text, key);
    cr_assert_not_null(at, "config has no metrics_listen");
    f = fopen(conf, "w");
    fprintf(f, "%.*smetrics_listen = \"%s\";%s", (int)(at - text), text, listen, at + strlen(key));
    fclose(f);
}

/* Parse a page with prometheus_client's parser: an array of
 * [name, {labels}, value] per sample, or NULL when it does not parse. */
static json_object *parse_page(const char *dir, const char *page)
{
    char pf[400], jf[400], cmd[1600];
    snprintf(pf, sizeof pf, "%s/page.txt", dir);
    snprintf(jf, sizeof jf, "%s/page.json", dir);
    FILE *f = fopen(pf, "w");
    cr_assert_not_null(f);
    fputs(page, f);
    fclose(f);
    const char *py = access("/usr/bin/python3", X_OK) == 0 ? "/usr/bin/python3" : "python3";
    snprintf(
            cmd, sizeof cmd,
            "%s -c 'import sys, json\n"
            "from prometheus_client.parser import text_string_to_metric_families as parse\n"
            "out = [[s.name, s.labels, s.value] for fam in parse(open(sys.argv[1]).read()) for s in fam.samples]\n"
            "json.dump(out, open(sys.argv[2], \"w\"))' %s %s",
            py, pf, jf);
    int rc = system(cmd);
    cr_assert_eq(
            rc, 0,
            "prometheus_client could not parse the page (%s; is python3-prometheus-client installed?)",
            pf);
    return json_object_from_file(jf);
}

/* Sum of the samples named name whose labels include every "k=v" of want
 * (comma-separated, "" = any); *n gets how many matched. */
static double sample(json_object *s, const char *name, const char *want, int *n)
{
    double sum = 0;
    int k = 0;
    for (size_t i = 0; i < json_object_array_length(s); i++) {
        json_object *row = json_object_array_get_idx(s, i);
        if (strcmp(json_object_get_string(json_object_array_get_idx(row, 0)), name) != 0)
            continue;
        json_object *labels = json_object_array_get_idx(row, 1);
        char w[256];
        snprintf(w, sizeof w, "%s", want);
        int ok = 1;
        char *save = NULL;
        for (char *kv = strtok_r(w, ",", &save); kv && ok; kv = strtok_r(NULL, ",", &save)) {
            char *eq = strchr(kv, '=');
            *eq = '\0';
            json_object *v;
            ok = json_object_object_get_ex(labels, kv, &v) &&
                 strcmp(json_object_get_string(v), eq + 1) == 0;
        }
        if (ok) {
            sum += json_object_get_double(json_object_array_get_idx(row, 2));
            k++;
        }
    }
    if (n)
        *n = k;
    return sum;
}

static double one(json_object *s, const char *name, const char *want)
{
    int n = 0;
    double v = sample(s, name, want, &n);
    cr_assert_gt(n, 0, "no sample %s{%s}", name, want);
    return v;
}

#define N_OK 20
#define N_FALLBACK 5
#define N_REJECTED 2
#define N_INVALID 3
#define N_LINES (N_OK + N_FALLBACK + N_REJECTED + N_INVALID + 1)

/* 31 lines: plain jobs, KIE 500s that fall back to Replicate, jobs KIE
 * rejects, invalid lines and one slow job that keeps the process alive
 * after the rest have finished. */
Test(metrics, batch_run_page_matches_results, .timeout = 120)
{
    struct fakeprov fp;
    const char *args[] = { "--gen-ms", "1500", NULL };
    fp_start(&fp, args);
    struct sy_run run;
    sy_prepare(&run, &fp, "", "retry = { max_attempts = 1; };", 0, NULL);
    int port = sy_free_port();
    char listen[64];
    snprintf(listen, sizeof listen, "127.0.0.1:%d", port);
    set_listen(run.conf, listen);
    FILE *f = fopen(run.jobs, "w");
    for (int i = 0; i < N_OK; i++)
        fprintf(f, "{\"id\":\"ok-%d\",\"prompt\":\"a room %d\"}\n", i, i);
    for (int i = 0; i < N_FALLBACK; i++)
        fprintf(f, "{\"id\":\"fb-%d\",\"prompt\":\"a hall [fault@kie:http500]\"}\n", i);
    for (int i = 0; i < N_REJECTED; i++)
        fprintf(f, "{\"id\":\"rj-%d\",\"prompt\":\"a shed [fault:422]\",\"providers\":[\"kie\"]}\n",
                i);
    fprintf(f, "not json\n{\"id\":\"bad-1\"}\n{\"prompt\":\"no id\"}\n");
    fprintf(f,
            "{\"id\":\"slow\",\"prompt\":\"a slow attic [gen:8000]\",\"providers\":[\"replicate\"]}\n");
    fclose(f);

    pid_t pid = sy_spawn_batch(run.conf, run.jobs, run.out);
    long hz = 0;
    for (int i = 0; i < 100 && hz != 200; i++) {
        hz = sy_http_get(port, "/healthz", NULL);
        if (hz != 200)
            sy_sleep_ms(50);
    }
    cr_assert_eq(hz, 200, "/healthz never answered 200");
    cr_assert_eq(sy_http_get(port, "/nothing-here", NULL), 404);

    /* Mid-run: jobs are in flight (every job takes >= 1.5 s at fakeprov). */
    double max_in_flight = 0;
    for (int i = 0; i < 40 && max_in_flight == 0; i++) {
        char *page = NULL;
        cr_assert_eq(sy_http_get(port, "/metrics", &page), 200);
        json_object *s = parse_page(run.dir, page);
        cr_assert_not_null(s);
        max_in_flight = one(s, "switchyard_jobs_in_flight", "");
        json_object_put(s);
        free(page);
        if (max_in_flight == 0)
            sy_sleep_ms(100);
    }
    cr_assert_gt(max_in_flight, 0, "switchyard_jobs_in_flight never above 0 mid-run");

    /* Near the end: everything but the slow job has its result. */
    const double done_target = N_LINES - 1;
    char *page = NULL;
    json_object *s = NULL;
    for (int i = 0; i < 300; i++) {
        free(page);
        json_object_put(s);
        page = NULL;
        cr_assert_eq(sy_http_get(port, "/metrics", &page), 200);
        s = parse_page(run.dir, page);
        cr_assert_not_null(s);
        int n = 0;
        double done = one(s, "switchyard_jobs_succeeded_total", "") +
                      sample(s, "switchyard_jobs_failed_total", "", &n);
        if (done >= done_target)
            break;
        sy_sleep_ms(100);
    }
    cr_assert_eq(sy_http_get(port, "/healthz", NULL), 200);
    long fp_kie_creates = fp_stat(&fp, "kie.creates"),
         fp_rep_creates = fp_stat(&fp, "replicate.creates");
    long fp_kie_polls = fp_stat(&fp, "kie.polls"), fp_rep_polls = fp_stat(&fp, "replicate.polls");
    cr_assert_eq(sy_wait(pid, 60), 0);

    json_object *res = sy_read_results(run.out);
    cr_assert_eq(json_object_array_length(res), (size_t)N_LINES);
    int ok = 0, failed = 0, rejected = 0, invalid = 0;
    for (size_t i = 0; i < json_object_array_length(res); i++) {
        json_object *r = json_object_array_get_idx(res, i);
        if (strcmp(sy_str(r, "id"), "slow") == 0)
            continue; /* still running at the scrape */
        if (strcmp(sy_str(r, "status"), "succeeded") == 0)
            ok++;
        else
            failed++;
        rejected += strcmp(sy_error_class(r), "rejected") == 0;
        invalid += strcmp(sy_error_class(r), "invalid_input") == 0;
    }
    cr_assert_eq(ok, N_OK + N_FALLBACK);
    cr_assert_eq(rejected, N_REJECTED);
    cr_assert_eq(invalid, N_INVALID);

    cr_assert_eq(one(s, "switchyard_jobs_consumed_total", ""), N_LINES);
    cr_assert_eq(one(s, "switchyard_jobs_succeeded_total", ""), ok);
    cr_assert_eq(sample(s, "switchyard_jobs_failed_total", "", NULL), failed);
    cr_assert_eq(one(s, "switchyard_jobs_failed_total", "class=rejected"), rejected);
    cr_assert_eq(one(s, "switchyard_jobs_failed_total", "class=invalid_input"), invalid);
    cr_assert_eq(one(s, "switchyard_jobs_dead_lettered_total", ""), 0);
    cr_assert_eq(one(s, "switchyard_jobs_in_flight", ""), 1, "only the slow job is left");
    /* Invalid lines never start: only jobs that ran are timed. */
    cr_assert_eq(one(s, "switchyard_job_duration_seconds_count", ""), ok + rejected);
    cr_assert_eq(one(s, "switchyard_job_duration_seconds_bucket", "le=+Inf"), ok + rejected);

    /* Creates all ended before the scrape: exact. Polls: the slow job may
     * have one in flight at fakeprov, plus a snapshot's lag (250 ms). */
    double kie_c =
            sample(s, "switchyard_provider_requests_total", "provider=kie,endpoint=create", NULL);
    double rep_c = sample(s, "switchyard_provider_requests_total",
                          "provider=replicate,endpoint=create", NULL);
    cr_assert_eq(kie_c, fp_kie_creates, "kie creates: metrics %g, fakeprov %ld", kie_c,
                 fp_kie_creates);
    cr_assert_eq(rep_c, fp_rep_creates, "replicate creates: metrics %g, fakeprov %ld", rep_c,
                 fp_rep_creates);
    cr_assert_eq(kie_c, N_OK + N_FALLBACK + N_REJECTED,
                 "one create each on KIE (max_attempts = 1)");
    cr_assert_eq(rep_c, N_FALLBACK + 1, "the fallbacks and the slow job");
    /* KIE's 500 fault is an HTTP 500; its 422 comes as HTTP 200 with code 422 in the body. */
    cr_assert_eq(
            one(s, "switchyard_provider_requests_total", "provider=kie,endpoint=create,status=500"),
            N_FALLBACK);
    double kie_p =
            sample(s, "switchyard_provider_requests_total", "provider=kie,endpoint=poll", NULL);
    double rep_p = sample(s, "switchyard_provider_requests_total",
                          "provider=replicate,endpoint=poll", NULL);
    cr_assert_eq(kie_p, fp_kie_polls, "kie polls: metrics %g, fakeprov %ld", kie_p, fp_kie_polls);
    cr_assert(rep_p <= fp_rep_polls && rep_p >= fp_rep_polls - 4,
              "replicate polls: metrics %g, fakeprov %ld", rep_p, fp_rep_polls);
    cr_assert_eq(one(s, "switchyard_provider_request_duration_seconds_count",
                     "provider=kie,endpoint=create"),
                 kie_c);

    /* Policies: nothing tripped, nothing rate limited. */
    cr_assert_eq(one(s, "switchyard_provider_breaker_state", "provider=kie"), 0);
    cr_assert_eq(one(s, "switchyard_provider_breaker_state", "provider=replicate"), 0);
    cr_assert_eq(one(s, "switchyard_provider_rate_limited_total", "provider=kie"), 0);
    cr_assert_gt(one(s, "switchyard_provider_retry_budget_balance", "provider=kie"), 0);
    one(s, "switchyard_provider_rate_limit_waits_total", "provider=replicate");
    /* Batch mode: no partitions. */
    int n = 0;
    sample(s, "switchyard_partition_in_flight", "", &n);
    cr_assert_eq(n, 0);
    cr_assert(strstr(page, "# TYPE switchyard_provider_request_duration_seconds histogram"));

    free(page);
    json_object_put(s);
    json_object_put(res);
    cr_assert_eq(fp_stop(&fp), 0);
}

/* A taken port is a startup error naming the address and what to do about
 * it: exit 1, no results. */
Test(metrics, bind_failure_is_a_startup_error, .timeout = 60)
{
    struct fakeprov fp;
    fp_start(&fp, NULL);
    struct sy_run run;
    sy_prepare(&run, &fp, "", "", 1, "{\"id\":\"j-%d\",\"prompt\":\"a room\"}");
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
    socklen_t len = sizeof a;
    cr_assert_eq(bind(fd, (struct sockaddr *)&a, sizeof a), 0);
    cr_assert_eq(listen(fd, 1), 0);
    getsockname(fd, (struct sockaddr *)&a, &len);
    char listen_addr[64], errpath[400];
    snprintf(listen_addr, sizeof listen_addr, "127.0.0.1:%d", ntohs(a.sin_port));
    set_listen(run.conf, listen_addr);
    snprintf(errpath, sizeof errpath, "%s/stderr.txt", run.dir);
    pid_t pid = fork();
    cr_assert(pid >= 0);
    if (pid == 0) {
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        int efd = open(errpath, O_WRONLY | O_CREAT | O_TRUNC, 0644);
        dup2(efd, 2);
        execl(SY_SWITCHYARD_BIN, SY_SWITCHYARD_BIN, "run", "-c", run.conf, "--jobs", run.jobs,
              "--out", run.out, (char *)NULL);
        _exit(127);
    }
    cr_assert_eq(sy_wait(pid, 30), 1);
    close(fd);
    FILE *f = fopen(errpath, "r");
    char text[4096] = "";
    size_t n = fread(text, 1, sizeof text - 1, f);
    text[n] = '\0';
    fclose(f);
    cr_assert(strstr(text, listen_addr), "stderr does not name %s: %s", listen_addr, text);
    /* issue 14: a second worker with the same config is the usual cause: say what to do */
    cr_assert(strstr(text, "--workers N") && strstr(text, "worker.metrics_listen"),
              "stderr does not say what to do (--workers N, another metrics_listen): %s", text);
    cr_assert_eq(fp_stat(&fp, "kie.creates"), 0, "no job may run");
    cr_assert_eq(fp_stop(&fp), 0);
}

/* ---- Kafka mode: partitions, dead letters, group membership ---- */

#define KP 3      /* input partitions */
#define K_OK 24   /* valid jobs, 8 per partition */
#define K_SLOW KP /* one slow job per partition, in flight at the mid-run scrape */

/* A test's temporary folder and fresh Kafka names (topics TAG-…-in/out/dlq). */
struct knames {
    char dir[256], group[128], in[128], out[128], dlq[128];
    struct kt_topics t;
};

static void knames_init(struct knames *k, const char *tag)
{
    char base[100];
    kt_brokers();
    sy_tmpdir(k->dir, sizeof k->dir);
    kt_unique(base, sizeof base, tag);
    snprintf(k->group, sizeof k->group, "%s-group", base);
    snprintf(k->in, sizeof k->in, "%s-in", base);
    snprintf(k->out, sizeof k->out, "%s-out", base);
    snprintf(k->dlq, sizeof k->dlq, "%s-dlq", base);
    k->t = (struct kt_topics){ .group = k->group, .input = k->in, .output = k->out, .dlq = k->dlq };
}

/* A scrape, parsed; asserts 200. */
static json_object *scrape(const char *dir, int port)
{
    char *page = NULL;
    cr_assert_eq(sy_http_get(port, "/metrics", &page), 200);
    json_object *s = parse_page(dir, page);
    free(page);
    cr_assert_not_null(s);
    return s;
}

/* A partition's gauge, or -1 while the page has none for it. */
static double part_value(json_object *s, const char *name, int p)
{
    char want[32];
    snprintf(want, sizeof want, "partition=%d", p);
    int n = 0;
    double v = sample(s, name, want, &n);
    return n ? v : -1;
}

static double part_gauge(json_object *s, const char *name, int p)
{
    double v = part_value(s, name, p);
    cr_assert_geq(v, 0, "no %s for partition %d", name, p);
    return v;
}

/* Issue 14: every metric name the Grafana dashboard and the alert rules use is
 * on the live page at port (tests/check_metric_names.py lists the missing). */
static void assert_dashboard_names(const char *dir, int port)
{
    char *page = NULL;
    cr_assert_eq(sy_http_get(port, "/metrics", &page), 200);
    char pf[400], cmd[2400];
    snprintf(pf, sizeof pf, "%s/names-page.txt", dir);
    FILE *f = fopen(pf, "w");
    cr_assert_not_null(f);
    fputs(page, f);
    fclose(f);
    free(page);
    const char *py = access("/usr/bin/python3", X_OK) == 0 ? "/usr/bin/python3" : "python3";
    snprintf(cmd, sizeof cmd,
             "%s %s/tests/check_metric_names.py %s %s/contrib/grafana/switchyard.json "
             "%s/contrib/prometheus/alerts.yml",
             py, SY_SOURCE_DIR, pf, SY_SOURCE_DIR, SY_SOURCE_DIR);
    cr_assert_eq(
            system(cmd), 0,
            "the dashboard or the alert rules use a metric name the worker does not export (page: %s)",
            pf);
}

/* One worker on a 3-partition topic: the per-partition in-flight gauges add
 * up to the jobs in flight mid-run; at the end each partition's committed
 * offset is the end of the input, messages that cannot be decoded count as
 * dead-lettered, /healthz is 200 while the worker is in the group, and the
 * page has every name the dashboard and the alert rules use. */
Test(metrics, kafka_worker_partitions_and_health, .timeout = 180)
{
    struct knames k;
    knames_init(&k, "metrics");
    const char *dir = k.dir, *group = k.group, *in = k.in;
    struct fakeprov fp;
    const char *fargs[] = { "--gen-ms", "300", NULL };
    fp_start(&fp, fargs);
    char conf[400], log[400];
    kt_create_topic(in, KP, 0);
    kt_create_topic(k.out, KP, 0);
    kt_create_topic(k.dlq, 1, 0);
    snprintf(conf, sizeof conf, "%s/w.conf", dir);
    snprintf(log, sizeof log, "%s/w.log", dir);
    kt_write_config(&fp, conf, &k.t, "", "", "");
    int port = sy_free_port();
    char listen[64];
    snprintf(listen, sizeof listen, "127.0.0.1:%d", port);
    set_listen(conf, listen);
    pid_t pid = kt_worker_start(conf, log);
    kt_wait_group(group, 1, KP, 60000);
    long hz = 0;
    for (int i = 0; i < 100 && hz != 200; i++) {
        hz = sy_http_get(port, "/healthz", NULL);
        if (hz != 200)
            sy_sleep_ms(100);
    }
    cr_assert_eq(hz, 200, "/healthz not 200 with the worker in the group; logs in %s", log);

    /* Per partition: 8 quick jobs, one slow job, and on partition 0 two
     * messages that cannot run (not JSON; an id but no prompt). */
    struct kt_producer *prod = kt_producer_new();
    for (int i = 0; i < K_OK; i++) {
        char id[32], val[128];
        snprintf(id, sizeof id, "q-%d", i);
        snprintf(val, sizeof val, "{\"id\":\"%s\",\"prompt\":\"room %d\"}", id, i);
        kt_produce(prod, in, i % KP, id, strlen(id), val, strlen(val), NULL, NULL);
    }
    for (int p = 0; p < K_SLOW; p++) {
        char id[32], val[160];
        snprintf(id, sizeof id, "slow-%d", p);
        snprintf(val, sizeof val,
                 "{\"id\":\"%s\",\"prompt\":\"slow attic [gen:12000]\",\"providers\":[\"kie\"]}",
                 id);
        kt_produce(prod, in, p, id, strlen(id), val, strlen(val), NULL, NULL);
    }
    kt_produce(prod, in, 0, "junk", 4, "not json", 8, NULL, NULL);
    kt_produce(prod, in, 0, "bad-1", 5, "{\"id\":\"bad-1\"}", 14, NULL, NULL);
    kt_producer_flush(prod, 30000);
    kt_producer_free(prod);
    const int total = K_OK + K_SLOW + 2;

    /* Mid-run: the quick jobs are done, the slow ones in flight, one per partition. */
    json_object *s = NULL;
    for (int i = 0; i < 100; i++) {
        json_object_put(s);
        s = scrape(dir, port);
        int settled = one(s, "switchyard_jobs_succeeded_total", "") >= K_OK;
        for (int p = 0; p < KP; p++) /* results acked, offsets stored */
            settled &= part_value(s, "switchyard_partition_committed_offset", p) >= K_OK / KP;
        if (settled)
            break;
        sy_sleep_ms(50);
    }
    cr_assert_eq(one(s, "switchyard_jobs_succeeded_total", ""), K_OK,
                 "quick jobs not done; logs in %s", log);
    double in_flight = one(s, "switchyard_jobs_in_flight", "");
    cr_assert_eq(in_flight, K_SLOW, "jobs in flight: %g", in_flight);
    double sum = 0;
    for (int p = 0; p < KP; p++) {
        double n = part_gauge(s, "switchyard_partition_in_flight", p);
        cr_assert_eq(n, 1, "partition %d: %g in flight, expected its slow job", p, n);
        sum += n;
    }
    cr_assert_eq(sum, in_flight);
    /* Each slow job is the lowest unfinished offset of its partition: the
     * committed offset stops right before it. */
    for (int p = 0; p < KP; p++)
        cr_assert_eq(part_gauge(s, "switchyard_partition_committed_offset", p), K_OK / KP,
                     "partition %d commits past its unfinished slow job", p);
    json_object_put(s);

    /* The end: everything finished, every offset committed. */
    int64_t end[KP];
    kt_end_offsets(in, KP, end);
    s = NULL;
    for (int i = 0; i < 200; i++) {
        json_object_put(s);
        s = scrape(dir, port);
        int done = 1;
        for (int p = 0; p < KP; p++)
            done &= part_value(s, "switchyard_partition_committed_offset", p) == (double)end[p];
        if (done && one(s, "switchyard_jobs_in_flight", "") == 0)
            break;
        sy_sleep_ms(100);
    }
    for (int p = 0; p < KP; p++) {
        cr_assert_eq(part_gauge(s, "switchyard_partition_committed_offset", p), (double)end[p],
                     "partition %d: committed offset gauge vs end of input %lld", p,
                     (long long)end[p]);
        cr_assert_eq(part_gauge(s, "switchyard_partition_in_flight", p), 0);
    }
    cr_assert_eq(one(s, "switchyard_jobs_consumed_total", ""), total);
    cr_assert_eq(one(s, "switchyard_jobs_succeeded_total", ""), K_OK + K_SLOW);
    cr_assert_eq(one(s, "switchyard_jobs_dead_lettered_total", ""), 2);
    /* bad-1 has a readable id, so it also gets a failed invalid_input result. */
    cr_assert_eq(one(s, "switchyard_jobs_failed_total", "class=invalid_input"), 1);
    cr_assert_eq(sy_http_get(port, "/healthz", NULL), 200);
    json_object_put(s);
    assert_dashboard_names(dir, port);
    cr_assert_eq(kt_worker_stop(pid, 30, NULL), 0, "worker exit; logs in %s", log);
    cr_assert_eq(fp_stop(&fp), 0);
}

/* A worker whose broker does not answer is alive but not in the group:
 * /healthz says 503 with the reason, /metrics still answers. */
Test(metrics, kafka_healthz_503_outside_the_group, .timeout = 60)
{
    struct knames k;
    knames_init(&k, "healthz");
    struct fakeprov fp;
    fp_start(&fp, NULL);
    char conf[400], log[400], listen[64], dead[64];
    snprintf(conf, sizeof conf, "%s/w.conf", k.dir);
    snprintf(log, sizeof log, "%s/w.log", k.dir);
    kt_write_config(&fp, conf, &k.t, "", "", "");
    int port = sy_free_port();
    snprintf(listen, sizeof listen, "127.0.0.1:%d", port);
    set_listen(conf, listen);
    /* point the worker at a loopback port nobody listens on */
    snprintf(dead, sizeof dead, "127.0.0.1:%d", sy_free_port());
    FILE *f = fopen(conf, "r");
    char text[16384];
    size_t n = fread(text, 1, sizeof text - 1, f);
    fclose(f);
    text[n] = '\0';
    char *at = strstr(text, kt_brokers());
    cr_assert_not_null(at);
    f = fopen(conf, "w");
    fprintf(f, "%.*s%s%s", (int)(at - text), text, dead, at + strlen(kt_brokers()));
    fclose(f);
    pid_t pid = kt_worker_start(conf, log);

    long hz = 0;
    for (int i = 0; i < 100 && hz == 0; i++) { /* until the listener answers */
        sy_sleep_ms(50);
        hz = sy_http_get(port, "/healthz", NULL);
    }
    for (int i = 0; i < 10; i++) { /* and then, for 2 s, always 503 */
        char *body = NULL;
        hz = sy_http_get(port, "/healthz", &body);
        cr_assert_eq(hz, 503, "/healthz %ld without a broker; logs in %s", hz, log);
        /* "consumer not started" while it sets up, then "consumer not in the group" */
        cr_assert(body && (strstr(body, "not in the group") || strstr(body, "not started")),
                  "503 reason: %s", body ? body : "(none)");
        free(body);
        sy_sleep_ms(200);
    }
    json_object *s = scrape(k.dir, port);
    cr_assert_eq(one(s, "switchyard_jobs_in_flight", ""), 0);
    json_object_put(s);
    kill(pid, SIGKILL); /* no broker to leave the group with */
    waitpid(pid, NULL, 0);
    cr_assert_eq(fp_stop(&fp), 0);
}

/* Issue 14: a second worker started on the same host with the same config
 * fails on the metrics port, and its error says what to do instead. */
Test(metrics, kafka_second_worker_same_config_says_what_to_do, .timeout = 60)
{
    struct knames k;
    knames_init(&k, "twice");
    struct fakeprov fp;
    fp_start(&fp, NULL);
    char conf[400], log1[400], log2[400], listen[64];
    snprintf(conf, sizeof conf, "%s/w.conf", k.dir);
    snprintf(log1, sizeof log1, "%s/w1.log", k.dir);
    snprintf(log2, sizeof log2, "%s/w2.log", k.dir);
    kt_write_config(&fp, conf, &k.t, "", "", "");
    int port = sy_free_port();
    snprintf(listen, sizeof listen, "127.0.0.1:%d", port);
    set_listen(conf, listen);
    pid_t first = kt_worker_start(conf, log1);
    long hz = 0;
    for (int i = 0; i < 200 && hz == 0; i++) { /* until the first one's listener answers */
        sy_sleep_ms(50);
        hz = sy_http_get(port, "/healthz", NULL);
    }
    cr_assert_neq(hz, 0, "the first worker's /healthz never answered; logs in %s", log1);

    pid_t second = kt_worker_start(conf, log2);
    int rc = sy_wait(second, 30);
    cr_assert(rc != 0, "the second worker did not fail; logs in %s", log2);
    FILE *f = fopen(log2, "r");
    cr_assert_not_null(f);
    char text[8192] = "";
    size_t n = fread(text, 1, sizeof text - 1, f);
    text[n] = '\0';
    fclose(f);
    cr_assert(strstr(text, listen) && strstr(text, "Address already in use"),
              "error does not name %s: %s", listen, text);
    cr_assert(strstr(text, "--workers N") && strstr(text, "worker.metrics_listen"),
              "error does not say what to do (--workers N, another metrics_listen): %s", text);
    cr_assert_eq(sy_http_get(port, "/healthz", NULL) != 0, 1, "the first worker stopped serving");
    kt_worker_stop(first, 30, NULL);
    cr_assert_eq(fp_stop(&fp), 0);
}
