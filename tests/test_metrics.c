/* test_metrics.c — /metrics and /healthz of `switchyard run` against fakeprov:
 * the page is parsed by an independent parser (Python prometheus_client) and
 * its values are checked against the results file and fakeprov's /_stats.
 * No timing is asserted. */
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
    snprintf(cmd, sizeof cmd,
             "%s -c 'import sys, json\n"
             "from prometheus_client.parser import text_string_to_metric_families as parse\n"
             "out = [[s.name, s.labels, s.value] for fam in parse(open(sys.argv[1]).read()) for s in fam.samples]\n"
             "json.dump(out, open(sys.argv[2], \"w\"))' %s %s",
             py, pf, jf);
    int rc = system(cmd);
    cr_assert_eq(rc, 0, "prometheus_client could not parse the page (%s; is python3-prometheus-client installed?)",
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
            ok = json_object_object_get_ex(labels, kv, &v) && strcmp(json_object_get_string(v), eq + 1) == 0;
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
        fprintf(f, "{\"id\":\"rj-%d\",\"prompt\":\"a shed [fault:422]\",\"providers\":[\"kie\"]}\n", i);
    fprintf(f, "not json\n{\"id\":\"bad-1\"}\n{\"prompt\":\"no id\"}\n");
    fprintf(f, "{\"id\":\"slow\",\"prompt\":\"a slow attic [gen:8000]\",\"providers\":[\"replicate\"]}\n");
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
        double done = one(s, "switchyard_jobs_succeeded_total", "") + sample(s, "switchyard_jobs_failed_total", "", &n);
        if (done >= done_target)
            break;
        sy_sleep_ms(100);
    }
    cr_assert_eq(sy_http_get(port, "/healthz", NULL), 200);
    long fp_kie_creates = fp_stat(&fp, "kie.creates"), fp_rep_creates = fp_stat(&fp, "replicate.creates");
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
    double kie_c = sample(s, "switchyard_provider_requests_total", "provider=kie,endpoint=create", NULL);
    double rep_c = sample(s, "switchyard_provider_requests_total", "provider=replicate,endpoint=create", NULL);
    cr_assert_eq(kie_c, fp_kie_creates, "kie creates: metrics %g, fakeprov %ld", kie_c, fp_kie_creates);
    cr_assert_eq(rep_c, fp_rep_creates, "replicate creates: metrics %g, fakeprov %ld", rep_c, fp_rep_creates);
    cr_assert_eq(kie_c, N_OK + N_FALLBACK + N_REJECTED, "one create each on KIE (max_attempts = 1)");
    cr_assert_eq(rep_c, N_FALLBACK + 1, "the fallbacks and the slow job");
    /* KIE's 500 fault is an HTTP 500; its 422 comes as HTTP 200 with code 422 in the body. */
    cr_assert_eq(one(s, "switchyard_provider_requests_total", "provider=kie,endpoint=create,status=500"), N_FALLBACK);
    double kie_p = sample(s, "switchyard_provider_requests_total", "provider=kie,endpoint=poll", NULL);
    double rep_p = sample(s, "switchyard_provider_requests_total", "provider=replicate,endpoint=poll", NULL);
    cr_assert_eq(kie_p, fp_kie_polls, "kie polls: metrics %g, fakeprov %ld", kie_p, fp_kie_polls);
    cr_assert(rep_p <= fp_rep_polls && rep_p >= fp_rep_polls - 4, "replicate polls: metrics %g, fakeprov %ld",
              rep_p, fp_rep_polls);
    cr_assert_eq(one(s, "switchyard_provider_request_duration_seconds_count", "provider=kie,endpoint=create"), kie_c);

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

/* A taken port is a startup error naming the address: exit 1, no results. */
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
        execl(SY_SWITCHYARD_BIN, SY_SWITCHYARD_BIN, "run", "-c", run.conf, "--jobs", run.jobs, "--out", run.out,
              (char *)NULL);
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
    cr_assert_eq(fp_stat(&fp, "kie.creates"), 0, "no job may run");
    cr_assert_eq(fp_stop(&fp), 0);
}
