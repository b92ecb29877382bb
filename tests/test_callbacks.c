/* test_callbacks.c — provider callbacks instead of polls, end to end.
 *
 * Batch mode against fakeprov delivering signed callbacks: jobs finish with
 * no Replicate poll and one KIE poll per KIE callback (a KIE callback only
 * triggers a poll; the safety poll is set far beyond the test), forged and stale
 * callbacks are refused and do not complete a job, a duplicate delivery
 * gives no second result. Kafka mode: two workers, every callback delivered
 * to worker B, jobs of A's partitions completed through the callback topic. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <criterion/criterion.h>

#include "kafkatest.h"
#include "providers/webhook.h"
#include "sytest.h"
#include "worker/callbacks.h"
#include "worker/taskmap.h"
#include "core/sy.h"

#define HMAC_KEY "cb-test-hmac-key"
#define WHSEC "whsec_cmVwbGljYXRlLXRlc3Qta2V5LTAxMjM0NTY3ODlhYmM="

static const char *fp_args_signed[] = {
    "--gen-ms", "400", "--kie-hmac-key", HMAC_KEY, "--replicate-webhook-secret", WHSEC, NULL
};

/* The handoff envelope carries the event, not the request: no headers. */
Test(callbacks, envelope_round_trip)
{
    const char body[] =
            "{\"id\":\"p1\",\"status\":\"succeeded\",\"output\":\"https://x/\\u00e9.png\"}";
    struct cbtopic_event ev = { .provider = "replicate",
                                .partition = 3,
                                .job_id = strdup("job/1 ü"),
                                .task_id = "p1",
                                .body = strdup(body),
                                .body_len = strlen(body) };
    size_t len = 0;
    char *env = cbtopic_envelope_encode(&ev, &len);
    cr_assert_not_null(env);
    cr_assert_eq(strlen(env), len);
    struct cbtopic_event back;
    cr_assert_eq(cbtopic_envelope_decode(env, len, &back), SY_OK);
    cr_assert_str_eq(back.provider, "replicate");
    cr_assert_eq(back.partition, 3);
    cr_assert_str_eq(back.job_id, "job/1 ü");
    cr_assert_str_eq(back.task_id, "p1");
    cr_assert_eq(back.body_len, strlen(body));
    cr_assert_str_eq(back.body, body);
    struct cbtopic_event bad;
    cr_assert_eq(cbtopic_envelope_decode("{\"provider\":\"kie\",\"job\":\"j\"}", 28, &bad), SY_ERR);
    cr_assert_null(bad.job_id);
    cbtopic_event_cleanup(&back);
    cbtopic_event_cleanup(&ev);
    free(env);
}

Test(callbacks, taskmap)
{
    struct taskmap *m = taskmap_new();
    int a, b;
    char id[32];
    for (int i = 0; i < 2000; i++) {
        snprintf(id, sizeof id, "t%d", i);
        cr_assert_eq(taskmap_put(m, i % 2 ? "kie" : "replicate", id, &a), SY_OK);
    }
    cr_assert_eq(taskmap_size(m), 2000);
    cr_assert_eq(taskmap_get(m, "kie", "t1"), &a);
    cr_assert_null(taskmap_get(m, "replicate", "t1"), "keyed by provider too");
    taskmap_del(m, "kie", "t1", &b);
    cr_assert_eq(taskmap_get(m, "kie", "t1"), &a, "only the owner's value is removed");
    taskmap_del(m, "kie", "t1", &a);
    cr_assert_null(taskmap_get(m, "kie", "t1"));
    cr_assert_eq(taskmap_size(m), 1999);
    taskmap_free(m);
}

/* Append a callbacks group listening on port, with public_url at url_port. */
static void add_callbacks(const char *conf, int port, int url_port, const char *extra)
{
    setenv("SYTEST_CB_HMAC", HMAC_KEY, 1);
    setenv("SYTEST_CB_WHSEC", WHSEC, 1);
    FILE *f = fopen(conf, "a");
    cr_assert_not_null(f);
    fprintf(f,
            "callbacks = { listen = \"127.0.0.1:%d\"; public_url = \"http://127.0.0.1:%d\";\n"
            "  kie_hmac_key_env = \"SYTEST_CB_HMAC\"; webhook_secret_env = \"SYTEST_CB_WHSEC\";\n"
            "  safety_poll_s = 600; %s };\n",
            port, url_port, extra ? extra : "");
    fclose(f);
}

static int count_succeeded(json_object *res, int n, const char *prefix, const struct fakeprov *fp)
{
    int ok = 0;
    char want[128];
    snprintf(want, sizeof want, "http://127.0.0.1:%d/files/", fp->port);
    for (int i = 0; i < n; i++) {
        char id[32];
        snprintf(id, sizeof id, "%s%d", prefix, i);
        json_object *r = sy_find(res, id);
        cr_assert_not_null(r, "no result for %s", id);
        json_object *urls = NULL;
        if (strcmp(sy_str(r, "status"), "succeeded") == 0 &&
            json_object_object_get_ex(r, "result_urls", &urls) &&
            json_object_array_length(urls) == 1 &&
            strncmp(json_object_get_string(json_object_array_get_idx(urls, 0)), want,
                    strlen(want)) == 0)
            ok++;
    }
    return ok;
}

/* Every job completes from its callback: no Replicate status request; a KIE
 * callback (its body is not signed) is a trigger, answered by exactly one
 * status request with the job's own key. */
Test(callbacks, batch_zero_polls, .timeout = 90)
{
    struct fakeprov fp;
    fp_start(&fp, fp_args_signed);
    struct sy_run run;
    const int N = 40;
    sy_prepare(
            &run, &fp, "", "", N,
            "{\"id\":\"z-%d\",\"prompt\":\"a lighthouse\",\"providers\":[\"kie\",\"replicate\"]}");
    /* Half the jobs on each provider: rewrite odd lines to prefer replicate. */
    FILE *f = fopen(run.jobs, "w");
    for (int i = 0; i < N; i++)
        fprintf(f, "{\"id\":\"z-%d\",\"prompt\":\"a lighthouse %d\",\"providers\":[\"%s\"]}\n", i,
                i, i % 2 ? "replicate" : "kie");
    fclose(f);
    int port = sy_free_port();
    add_callbacks(run.conf, port, port, NULL);
    cr_assert_eq(sy_run_batch(run.conf, run.jobs, run.out, 60), 0);
    json_object *res = sy_read_results(run.out);
    cr_assert_eq(json_object_array_length(res), (size_t)N);
    cr_assert_eq(count_succeeded(res, N, "z-", &fp), N);
    json_object_put(res);
    cr_assert_eq(fp_stat(&fp, "kie.polls"), N / 2, "one poll per KIE callback");
    cr_assert_eq(fp_stat(&fp, "replicate.polls"), 0, "Replicate was polled");
    cr_assert_eq(fp_stat(&fp, "callbacks_sent"), N);
    cr_assert_eq(fp_stat(&fp, "callbacks_failed"), 0);
    cr_assert_eq(fp_stop(&fp), 0);
}

/* Replace the first `from` in file conf with `to` (sy_write_config's fixed
 * worker settings cannot be given twice). */
static void replace_in_config(const char *conf, const char *from, const char *to)
{
    char text[8192];
    FILE *f = fopen(conf, "r");
    cr_assert_not_null(f);
    size_t n = fread(text, 1, sizeof text - 1, f);
    fclose(f);
    text[n] = '\0';
    char *p = strstr(text, from);
    cr_assert_not_null(p, "%s: no \"%s\"", conf, from);
    size_t fl = strlen(from), tl = strlen(to);
    cr_assert_lt(n - fl + tl, sizeof text);
    memmove(p + tl, p + fl, strlen(p + fl) + 1);
    memcpy(p, to, tl);
    f = fopen(conf, "w");
    fputs(text, f);
    fclose(f);
}

/* The value of one sample line of a /metrics page, or -1. */
static long sample(const char *page, const char *series)
{
    const char *p = page;
    size_t n = strlen(series);
    while ((p = strstr(p, series)) != NULL) {
        if ((p == page || p[-1] == '\n') && p[n] == ' ')
            return atol(p + n + 1);
        p += n;
    }
    return -1;
}

/* The task id from the worker's debug log line (JSON) "task created" of job. */
static int task_from_log(const char *log, const char *job, char *out, size_t cap)
{
    FILE *f = fopen(log, "r");
    if (!f)
        return 0;
    char line[2048], needle[96];
    snprintf(needle, sizeof needle, "\"job\":\"%s\"", job);
    int found = 0;
    while (!found && fgets(line, sizeof line, f)) {
        char *t = strstr(line, "\"task\":\"");
        if (strstr(line, "task created") && strstr(line, needle) && t) {
            t += 8;
            size_t n = strcspn(t, "\"");
            if (n < cap) {
                memcpy(out, t, n);
                out[n] = '\0';
                found = 1;
            }
        }
    }
    fclose(f);
    return found;
}

static long post_kie(int port, const char *job, const char *task, long long ts, const char *sig)
{
    char path[128], body[512], h1[64], h2[128];
    snprintf(path, sizeof path, "/cb/kie/b/%s", job);
    snprintf(body, sizeof body,
             "{\"code\":200,\"msg\":\"ok\",\"data\":{\"taskId\":\"%s\",\"state\":\"success\","
             "\"resultJson\":\"{\\\"resultUrls\\\":[\\\"https://evil.example/x.png\\\"]}\"}}",
             task);
    if (!sig) /* unsigned: no headers (a NULL %s is undefined behaviour) */
        return sy_http_post(port, path, body, NULL);
    snprintf(h1, sizeof h1, "X-Webhook-Timestamp: %lld", ts);
    snprintf(h2, sizeof h2, "X-Webhook-Signature: %s", sig);
    const char *hdrs[] = { h1, h2, NULL };
    return sy_http_post(port, path, body, hdrs);
}

/* Run run's jobs in batch mode with callbacks on *port, /metrics on *mport
 * and a debug log at log (its "task created" lines name the task ids). */
static pid_t spawn_watched(const struct sy_run *run, int *port, int *mport, char *log,
                           size_t logcap)
{
    char mlisten[64];
    *mport = sy_free_port();
    snprintf(mlisten, sizeof mlisten, "metrics_listen = \"127.0.0.1:%d\"", *mport);
    replace_in_config(run->conf, "log_level = \"warn\"", "log_level = \"debug\"");
    replace_in_config(run->conf, "metrics_listen = \"\"", mlisten);
    *port = sy_free_port();
    add_callbacks(run->conf, *port, *port, NULL);
    snprintf(log, logcap, "%s/err.log", run->dir);
    const char *argv[] = { "run", "-c", run->conf, "--jobs", run->jobs, "--out", run->out, NULL };
    return sy_spawn_cmd(argv, NULL, log);
}

/* Forged, unsigned, stale and misdirected callbacks are refused (401, 401,
 * 400, 404) while the job waits, and none of them completes it: the job
 * ends with fakeprov's own result once the real callback comes. */
Test(callbacks, refuses_forged_and_stale, .timeout = 90)
{
    struct fakeprov fp;
    const char *args[] = { "--gen-ms",
                           "500",
                           "--kie-hmac-key",
                           HMAC_KEY,
                           "--replicate-webhook-secret",
                           WHSEC,
                           "--callback-delay-ms",
                           "4000",
                           NULL };
    fp_start(&fp, args);
    struct sy_run run;
    sy_prepare(&run, &fp, "", "", 1, "{\"id\":\"f-%d\",\"prompt\":\"p\",\"providers\":[\"kie\"]}");
    int port, mport;
    char log[320];
    pid_t pid = spawn_watched(&run, &port, &mport, log, sizeof log);
    char task[128] = "";
    for (int i = 0; i < 300 && !task_from_log(log, "f-0", task, sizeof task); i++)
        sy_sleep_ms(20);
    cr_assert(task[0], "no \"task created\" line in %s", log);

    long long now = (long long)(sy_wall_ms() / 1000);
    char msg[256], good_old[64];
    cr_assert_eq(
            post_kie(port, "f-0", task, now, "bm90IGEgc2lnbmF0dXJlIGF0IGFsbCBidXQgYmFzZTY0IQ=="),
            401, "forged");
    cr_assert_eq(post_kie(port, "f-0", task, now, NULL), 401, "unsigned");
    snprintf(msg, sizeof msg, "%s.%lld", task, now - 3600);
    cr_assert_eq(
            webhook_sign(HMAC_KEY, strlen(HMAC_KEY), msg, strlen(msg), good_old, sizeof good_old),
            SY_OK);
    cr_assert_eq(post_kie(port, "f-0", task, now - 3600, good_old), 400,
                 "stale, though correctly signed");
    cr_assert_eq(sy_http_post(port, "/cb/nobody/b/f-0", "{}", NULL), 404);
    cr_assert_eq(sy_http_post(port, "/other", "{}", NULL), 404);
    cr_assert_eq(sy_http_post(port, "/cb/kie/b/f-0", "not json", NULL), 400);
    char rts[64];
    snprintf(rts, sizeof rts, "webhook-timestamp: %lld", now);
    const char *rep_forged[] = { "webhook-id: msg_x", rts, "webhook-signature: v1,AAAA", NULL };
    cr_assert_eq(sy_http_post(port, "/cb/replicate/b/f-0",
                              "{\"id\":\"p\",\"status\":\"succeeded\",\"output\":\"x\"}",
                              rep_forged),
                 401, "forged Replicate webhook");
    sy_sleep_ms(300);
    int st;
    cr_assert_eq(waitpid(pid, &st, WNOHANG), 0, "a refused callback completed the job");
    char *page = sy_metrics_wait(
            mport,
            "switchyard_callbacks_received_total{provider=\"kie\",result=\"bad_signature\"} 2",
            5000);
    cr_assert_eq(
            sample(page,
                   "switchyard_callbacks_received_total{provider=\"kie\",result=\"bad_signature\"}"),
            2);
    cr_assert_eq(
            sample(page, "switchyard_callbacks_received_total{provider=\"kie\",result=\"stale\"}"),
            1);
    cr_assert_eq(sample(page,
                        "switchyard_callbacks_received_total{provider=\"kie\",result=\"invalid\"}"),
                 1);
    cr_assert_eq(
            sample(page,
                   "switchyard_callbacks_received_total{provider=\"kie\",result=\"accepted\"}"),
            0);
    cr_assert_eq(
            sample(page,
                   "switchyard_callbacks_received_total{provider=\"replicate\",result=\"bad_signature\"}"),
            1);
    free(page);

    cr_assert_eq(sy_wait(pid, 60), 0);
    json_object *res = sy_read_results(run.out);
    cr_assert_eq(json_object_array_length(res), 1);
    cr_assert_eq(count_succeeded(res, 1, "f-", &fp), 1,
                 "the result is fakeprov's, not the forged URL");
    json_object_put(res);
    cr_assert_eq(fp_stat(&fp, "kie.polls"), 1, "only the real callback made the job poll");
    cr_assert_eq(fp_stat(&fp, "callbacks_sent"), 1);
    /* No secret in the (debug) log or the result. */
    FILE *lf = fopen(log, "r");
    char text[65536];
    size_t n = fread(text, 1, sizeof text - 1, lf);
    fclose(lf);
    text[n] = '\0';
    cr_assert(strstr(text, "\"task created\"") != NULL, "the log was read");
    cr_assert_null(strstr(text, HMAC_KEY), "KIE HMAC key in the log");
    cr_assert_null(strstr(text, WHSEC + 6), "webhook secret in the log");
    cr_assert_eq(fp_stop(&fp), 0);
}

/* Every callback delivered twice (both answered 200): one result per job. */
Test(callbacks, duplicate_gives_one_result, .timeout = 90)
{
    struct fakeprov fp;
    const char *args[] = {
        "--gen-ms",       "300", "--kie-hmac-key", HMAC_KEY, "--replicate-webhook-secret", WHSEC,
        "--callback-dup", NULL
    };
    fp_start(&fp, args);
    struct sy_run run;
    const int N = 10;
    sy_prepare(&run, &fp, "", "", 0, NULL);
    FILE *f = fopen(run.jobs, "w");
    for (int i = 0; i < N; i++)
        fprintf(f, "{\"id\":\"d-%d\",\"prompt\":\"p %d\",\"providers\":[\"%s\"]}\n", i, i,
                i % 2 ? "replicate" : "kie");
    /* An id that needs escaping in the callback URL. */
    fprintf(f, "{\"id\":\"d-x/\u00fc %%2F?#\",\"prompt\":\"p\",\"providers\":[\"replicate\"]}\n");
    /* A long last job keeps the worker up while the duplicates arrive. */
    fprintf(f, "{\"id\":\"d-long\",\"prompt\":\"[gen:4000] p\",\"providers\":[\"kie\"]}\n");
    fclose(f);
    int port = sy_free_port();
    add_callbacks(run.conf, port, port, NULL);
    cr_assert_eq(sy_run_batch(run.conf, run.jobs, run.out, 60), 0);
    json_object *res = sy_read_results(run.out);
    cr_assert_eq(json_object_array_length(res), (size_t)N + 2, "one line per job");
    cr_assert_eq(count_succeeded(res, N, "d-", &fp), N);
    json_object *odd = sy_find(res, "d-x/\u00fc %2F?#");
    cr_assert_not_null(odd);
    cr_assert_str_eq(sy_str(odd, "status"), "succeeded");
    json_object_put(res);
    /* Both copies of each short job's callback were accepted (200). */
    cr_assert_geq(fp_stat(&fp, "callbacks_sent"), 2 * N);
    cr_assert_eq(fp_stat(&fp, "replicate.polls"), 0);
    cr_assert_eq(fp_stat(&fp, "kie.polls"), N / 2 + 1, "one poll per KIE job (d-long included)");
    cr_assert_eq(fp_stop(&fp), 0);
}

/* No callback ever comes: the slow safety poll still finishes the job. */
Test(callbacks, safety_poll_covers_a_lost_callback, .timeout = 60)
{
    struct fakeprov fp;
    const char *args[] = { "--gen-ms", "300", "--callback-drop", NULL };
    fp_start(&fp, args);
    struct sy_run run;
    sy_prepare(&run, &fp, "", "", 2, "{\"id\":\"s-%d\",\"prompt\":\"p\",\"providers\":[\"kie\"]}");
    int port = sy_free_port();
    FILE *f = fopen(run.conf, "a");
    fprintf(f,
            "callbacks = { listen = \"127.0.0.1:%d\"; public_url = \"http://127.0.0.1:%d\"; safety_poll_s = 2; };\n",
            port, port);
    fclose(f);
    cr_assert_eq(sy_run_batch(run.conf, run.jobs, run.out, 30), 0);
    json_object *res = sy_read_results(run.out);
    cr_assert_eq(count_succeeded(res, 2, "s-", &fp), 2);
    json_object_put(res);
    long polls = fp_stat(&fp, "kie.polls");
    cr_assert(polls >= 2 && polls <= 4, "one slow poll per job, got %ld", polls);
    cr_assert_eq(fp_stop(&fp), 0);
}

/* ---- Kafka: callbacks handed between workers ---- */

struct kres {
    int n, distinct, ok;
    int *count;
    char workers[2][96];
    int n_workers;
};

static void on_kresult(void *ud, const rd_kafka_message_t *m)
{
    struct kres *t = ud;
    json_tokener *tok = json_tokener_new();
    json_object *o = m->payload ? json_tokener_parse_ex(tok, m->payload, (int)m->len) : NULL;
    json_tokener_free(tok);
    const char *id = o ? sy_str(o, "id") : "";
    int i = strncmp(id, "job-", 4) == 0 ? atoi(id + 4) : -1;
    if (i >= 0 && i < t->n) {
        if (!t->count[i]++) {
            t->distinct++;
            t->ok += strcmp(sy_str(o, "status"), "succeeded") == 0;
        }
        const char *w = sy_str(o, "worker");
        int known = 0;
        for (int k = 0; k < t->n_workers; k++)
            known |= strcmp(t->workers[k], w) == 0;
        if (!known && t->n_workers < 2)
            snprintf(t->workers[t->n_workers++], sizeof t->workers[0], "%s", w);
    }
    json_object_put(o);
}

/* The counts in a worker's last "callbacks: N handed to other workers, M
 * handed in" log line; 0 when absent. */
static int handoff_counts(const char *log, long *out, long *in)
{
    FILE *f = fopen(log, "r");
    if (!f)
        return 0;
    char line[2048];
    int found = 0;
    while (fgets(line, sizeof line, f)) {
        const char *p = strstr(line, "callbacks: ");
        if (p && strstr(p, "handed to other workers") &&
            sscanf(p, "callbacks: %ld handed to other workers, %ld", out, in) == 2)
            found = 1;
    }
    fclose(f);
    return found;
}

/* Two workers in one group on 4 partitions; every callback URL points at
 * worker B. All jobs succeed with no Replicate poll and one KIE poll per KIE
 * job (its callback's trigger), so the jobs of A's partitions were completed
 * through the callback topic: B forwarded, A handed in. */
Test(callbacks, kafka_handoff_between_workers, .timeout = 240)
{
    const int N = 40, P = 4;
    kt_brokers();
    struct fakeprov fp;
    const char *args[] = { "--gen-ms",
                           "400",
                           "--kie-hmac-key",
                           HMAC_KEY,
                           "--replicate-webhook-secret",
                           WHSEC,
                           "--threads",
                           "2",
                           NULL };
    fp_start(&fp, args);
    char dir[256], base[100], group[128], in[128], out[128], dlq[128];
    sy_tmpdir(dir, sizeof dir);
    kt_unique(base, sizeof base, "cb");
    snprintf(group, sizeof group, "%s-group", base);
    snprintf(in, sizeof in, "%s-in", base);
    snprintf(out, sizeof out, "%s-out", base);
    snprintf(dlq, sizeof dlq, "%s-dlq", base);
    kt_create_topic(in, P, 0);
    kt_create_topic(out, P, 0);
    kt_create_topic(dlq, 1, 0);
    struct kt_topics topics = { .group = group, .input = in, .output = out, .dlq = dlq };
    int port_a = sy_free_port(), port_b = sy_free_port();
    char conf_a[320], conf_b[320], log_a[320], log_b[320];
    snprintf(conf_a, sizeof conf_a, "%s/a.conf", dir);
    snprintf(conf_b, sizeof conf_b, "%s/b.conf", dir);
    snprintf(log_a, sizeof log_a, "%s/a.log", dir);
    snprintf(log_b, sizeof log_b, "%s/b.log", dir);
    kt_write_config(&fp, conf_a, &topics, "log_level = \"debug\";", "", "client_id = \"a\";");
    kt_write_config(&fp, conf_b, &topics, "log_level = \"debug\";", "", "client_id = \"b\";");
    add_callbacks(conf_a, port_a, port_b, NULL);
    add_callbacks(conf_b, port_b, port_b, NULL);
    fprintf(stderr, "kafka_handoff: topics %s-*, logs in %s\n", base, dir);
    pid_t a = kt_worker_start(conf_a, log_a);
    pid_t b = kt_worker_start(conf_b, log_b);
    kt_wait_group(group, 2, P, 90000);

    struct kt_producer *prod = kt_producer_new();
    for (int i = 0; i < N; i++) {
        char id[32], val[256];
        snprintf(id, sizeof id, "job-%d", i);
        snprintf(val, sizeof val, "{\"id\":\"%s\",\"prompt\":\"room %d\",\"providers\":[\"%s\"]}",
                 id, i, i % 2 ? "kie" : "replicate");
        kt_produce(prod, in, i % P, id, strlen(id), val, strlen(val), NULL, NULL);
    }
    kt_producer_flush(prod, 60000);
    struct kres t = { .n = N, .count = calloc((size_t)N, sizeof(int)) };
    struct kt_reader *r = kt_reader_new(out);
    int64_t end = kt_now_ms() + 90000;
    while (t.distinct < N && kt_now_ms() < end) {
        if (kt_reader_drain(r, on_kresult, &t, 3000) == 0)
            kt_sleep_ms(200);
    }
    cr_assert_eq(t.distinct, N, "only %d of %d jobs have a result; logs in %s", t.distinct, N, dir);
    cr_assert_eq(t.ok, N, "%d of %d succeeded; logs in %s", t.ok, N, dir);
    cr_assert_eq(t.n_workers, 2, "results from %d workers (want both)", t.n_workers);
    cr_assert_eq(fp_stat(&fp, "replicate.polls"), 0, "polled; logs in %s", dir);
    cr_assert_eq(fp_stat(&fp, "kie.polls"), N / 2, "one poll per KIE callback; logs in %s", dir);
    cr_assert_eq(fp_stat(&fp, "callbacks_sent"), N);

    cr_assert_eq(kt_worker_stop(a, 30, NULL), 0, "worker A exit; logs in %s", dir);
    cr_assert_eq(kt_worker_stop(b, 30, NULL), 0, "worker B exit; logs in %s", dir);
    long a_out = -1, a_in = -1, b_out = -1, b_in = -1;
    cr_assert(handoff_counts(log_a, &a_out, &a_in), "no callbacks summary in %s", log_a);
    cr_assert(handoff_counts(log_b, &b_out, &b_in), "no callbacks summary in %s", log_b);
    cr_assert_eq(a_out, 0, "A received no callbacks, so it forwarded none");
    cr_assert_gt(b_out, 0, "B forwarded the callbacks of A's partitions");
    cr_assert_eq(a_in, b_out, "A completed every job B handed over (A %ld, B %ld)", a_in, b_out);
    cr_assert_eq(b_in, 0);
    kt_reader_free(r);
    kt_producer_free(prod);
    free(t.count);
    cr_assert_eq(fp_stop(&fp), 0);
}

static long post_kie_body(int port, const char *job, const char *task, const char *data)
{
    char path[128], body[512], h1[64], h2[128], msg[256], sig[64];
    long long ts = (long long)(sy_wall_ms() / 1000);
    snprintf(path, sizeof path, "/cb/kie/b/%s", job);
    snprintf(body, sizeof body, "{\"code\":200,\"msg\":\"ok\",\"data\":{\"taskId\":\"%s\",%s}}",
             task, data);
    snprintf(msg, sizeof msg, "%s.%lld", task, ts);
    cr_assert_eq(webhook_sign(HMAC_KEY, strlen(HMAC_KEY), msg, strlen(msg), sig, sizeof sig),
                 SY_OK);
    snprintf(h1, sizeof h1, "X-Webhook-Timestamp: %lld", ts);
    snprintf(h2, sizeof h2, "X-Webhook-Signature: %s", sig);
    const char *hdrs[] = { h1, h2, NULL };
    return sy_http_post(port, path, body, hdrs);
}

/* KIE signs only taskId and timestamp, so whoever saw one signature can
 * post any body with it. Such bodies are accepted (the signature is good)
 * but only make the job poll: a forged success with someone else's URL
 * does not become the result, and a forged "failCode 401" neither fails the
 * job nor opens KIE's breaker. */
Test(callbacks, forged_kie_body_is_only_a_trigger, .timeout = 90)
{
    struct fakeprov fp;
    const char *args[] = { "--gen-ms",
                           "500",
                           "--kie-hmac-key",
                           HMAC_KEY,
                           "--replicate-webhook-secret",
                           WHSEC,
                           "--callback-delay-ms",
                           "3000",
                           NULL };
    fp_start(&fp, args);
    struct sy_run run;
    sy_prepare(&run, &fp, "", "", 2, "{\"id\":\"g-%d\",\"prompt\":\"p\",\"providers\":[\"kie\"]}");
    FILE *jf = fopen(run.jobs, "a"); /* a long job keeps the worker (and /metrics) up */
    cr_assert_not_null(jf);
    fputs("{\"id\":\"g-long\",\"prompt\":\"[gen:4000] p\",\"providers\":[\"kie\"]}\n", jf);
    fclose(jf);
    int port, mport;
    char log[320];
    pid_t pid = spawn_watched(&run, &port, &mport, log, sizeof log);
    char t0[128] = "", t1[128] = "";
    for (int i = 0; i < 300 && !(task_from_log(log, "g-0", t0, sizeof t0) &&
                                 task_from_log(log, "g-1", t1, sizeof t1));
         i++)
        sy_sleep_ms(20);
    cr_assert(t0[0] && t1[0], "no \"task created\" lines in %s", log);
    cr_assert_eq(
            post_kie_body(
                    port, "g-0", t0,
                    "\"state\":\"success\",\"resultJson\":\"{\\\"resultUrls\\\":[\\\"https://evil.example/x.png\\\"]}\""),
            200);
    cr_assert_eq(post_kie_body(port, "g-1", t1,
                               "\"state\":\"fail\",\"failCode\":\"401\",\"failMsg\":\"bad key\""),
                 200);
    /* Give a tripped breaker time to show on /metrics (snapshots every 250 ms). */
    sy_sleep_ms(800);
    char *page = NULL;
    cr_assert_eq(sy_http_get(mport, "/metrics", &page), 200);
    long bs = sample(page, "switchyard_provider_breaker_state{provider=\"kie\"}");
    free(page);
    cr_assert_eq(bs, 0, "KIE's breaker is %ld after a forged callback (0 = closed)", bs);
    cr_assert_eq(sy_wait(pid, 60), 0);
    json_object *res = sy_read_results(run.out);
    cr_assert_eq(json_object_array_length(res), 3);
    cr_assert_eq(count_succeeded(res, 2, "g-", &fp), 2, "a forged body became a result");
    json_object_put(res);
    cr_assert_eq(fp_stop(&fp), 0);
}
