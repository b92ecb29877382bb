/* test_e2e_ledger.c — crash-safe jobs (the task ledger, kafka.ledger_topic)
 * end to end: a real broker ($SY_KAFKA_BROKERS), real `switchyard -c`
 * workers, fakeprov with generation times of several seconds so tasks are
 * really in flight when a worker dies, stops or loses its partitions.
 *
 * What counts is fakeprov's create count (/_stats): a job whose task was
 * created once must not be created again by the next owner. Each test makes
 * its own topics and group; the tests run one at a time (main() below). */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <criterion/criterion.h>
#include <json-c/json.h>

#include "conf/config.h"
#include "queue/ledger.h"
#include "queue/ledgerk.h"
#include "kafkatest.h"
#include "sytest.h"
#include "core/sy.h"

#define MAX_W 6
#define HMAC_KEY "ledger-test-hmac-key"
#define WHSEC "whsec_cmVwbGljYXRlLXRlc3Qta2V5LTAxMjM0NTY3ODlhYmM="

struct world {
    struct fakeprov fp;
    char dir[256], group[128], in[128], out[128], dlq[128], ledger[160];
    struct kt_topics t;
    int partitions;
    struct kt_producer *prod;
    pid_t pids[MAX_W];
    int n_pids;
    json_object *results; /* id -> array of results */
    struct kt_reader *reader;
};

static void world_init(struct world *w, const char *tag, int partitions, const char *const *fp_args)
{
    memset(w, 0, sizeof *w);
    kt_brokers();
    fp_start(&w->fp, fp_args);
    sy_tmpdir(w->dir, sizeof w->dir);
    char base[100];
    kt_unique(base, sizeof base, tag);
    snprintf(w->group, sizeof w->group, "%s-group", base);
    snprintf(w->in, sizeof w->in, "%s-in", base);
    snprintf(w->out, sizeof w->out, "%s-out", base);
    snprintf(w->dlq, sizeof w->dlq, "%s-dlq", base);
    snprintf(w->ledger, sizeof w->ledger, "%s-in.ledger", base);
    w->t = (struct kt_topics){ .group = w->group, .input = w->in, .output = w->out, .dlq = w->dlq };
    w->partitions = partitions;
    kt_create_topic(w->in, partitions, 0);
    kt_create_topic(w->out, partitions, 0);
    kt_create_topic(w->dlq, 1, 0);
    w->prod = kt_producer_new();
    w->results = json_object_new_object();
    fprintf(stderr, "%s: topics %s-*, logs in %s\n", tag, base, w->dir);
}

/* dir/NAME.conf: kt_write_config plus kafka_extra inside the kafka group and
 * callbacks (a listener on cb_port > 0). */
static void world_conf(struct world *w, const char *name, const char *worker_extra,
                       const char *kafka_extra, int cb_port, char *conf, size_t cap)
{
    char kp[256];
    snprintf(conf, cap, "%s/%s.conf", w->dir, name);
    snprintf(kp, sizeof kp,
             "client_id = \"%s\"; session_timeout_ms = \"6000\"; heartbeat_interval_ms = \"1000\";",
             name);
    kt_write_config(&w->fp, conf, &w->t, worker_extra, "", kp);
    FILE *f = fopen(conf, "r");
    cr_assert_not_null(f);
    char text[8192];
    size_t n = fread(text, 1, sizeof text - 1, f);
    fclose(f);
    text[n] = '\0';
    char *ml = worker_extra && strstr(worker_extra, "metrics_listen")
                       ? strstr(text, "metrics_listen = \"\";")
                       : NULL;
    if (ml) /* kt_write_config turns /metrics off; worker_extra sets it again */
        memset(ml, ' ', strlen("metrics_listen = \"\";"));
    char *k = strstr(text, "kafka = { ");
    cr_assert_not_null(k);
    f = fopen(conf, "w");
    cr_assert_not_null(f);
    fprintf(f, "%.*skafka = { %s %s", (int)(k - text), text, kafka_extra ? kafka_extra : "",
            k + 10);
    if (cb_port > 0) {
        setenv("SYTEST_CB_HMAC", HMAC_KEY, 1);
        setenv("SYTEST_CB_WHSEC", WHSEC, 1);
        fprintf(f,
                "callbacks = { listen = \"127.0.0.1:%d\"; public_url = \"http://127.0.0.1:%d\";\n"
                "  kie_hmac_key_env = \"SYTEST_CB_HMAC\"; webhook_secret_env = \"SYTEST_CB_WHSEC\";\n"
                "  safety_poll_s = 600; };\n",
                cb_port, cb_port);
    }
    fclose(f);
}

static pid_t world_worker(struct world *w, const char *name, const char *worker_extra,
                          const char *kafka_extra, int cb_port)
{
    char conf[400], log[400];
    world_conf(w, name, worker_extra, kafka_extra, cb_port, conf, sizeof conf);
    snprintf(log, sizeof log, "%s/%s.log", w->dir, name);
    pid_t pid = kt_worker_start(conf, log);
    cr_assert_lt(w->n_pids, MAX_W);
    w->pids[w->n_pids++] = pid;
    return pid;
}

static void world_forget(struct world *w, pid_t pid)
{
    for (int i = 0; i < w->n_pids; i++)
        if (w->pids[i] == pid)
            w->pids[i] = 0;
}

/* job-i to partition i % partitions; provider kie for odd i, replicate for even. */
static void produce_jobs(struct world *w, int from, int to)
{
    for (int i = from; i < to; i++) {
        char id[32], val[256];
        snprintf(id, sizeof id, "job-%d", i);
        snprintf(val, sizeof val, "{\"id\":\"%s\",\"prompt\":\"room %d\",\"providers\":[\"%s\"]}",
                 id, i, i % 2 ? "kie" : "replicate");
        kt_produce(w->prod, w->in, i % w->partitions, id, strlen(id), val, strlen(val), NULL, NULL);
    }
    kt_producer_flush(w->prod, 30000);
}

static void on_result(void *ud, const rd_kafka_message_t *m)
{
    struct world *w = ud;
    json_tokener *tok = json_tokener_new();
    json_object *o = m->payload ? json_tokener_parse_ex(tok, m->payload, (int)m->len) : NULL;
    json_tokener_free(tok);
    cr_assert_not_null(o, "a result is not JSON");
    const char *id = sy_str(o, "id");
    json_object *arr;
    if (!json_object_object_get_ex(w->results, id, &arr)) {
        arr = json_object_new_array();
        json_object_object_add(w->results, id, arr);
    }
    json_object_array_add(arr, o);
}

static int distinct(const struct world *w)
{
    return json_object_object_length(w->results);
}

static long dups(const struct world *w)
{
    long d = 0;
    json_object_object_foreach(w->results, k, v)
    {
        (void)k;
        d += (long)json_object_array_length(v) - 1;
    }
    return d;
}

/* Read results until want distinct ids have one (asserts within timeout_s). */
static void wait_results(struct world *w, int want, int timeout_s)
{
    if (!w->reader)
        w->reader = kt_reader_new(w->out);
    int64_t end = kt_now_ms() + (int64_t)timeout_s * 1000;
    while (distinct(w) < want && kt_now_ms() < end)
        if (kt_reader_drain(w->reader, on_result, w, 2000) == 0)
            kt_sleep_ms(200);
    cr_assert_geq(distinct(w), want, "%d of %d jobs have a result after %d s; logs in %s",
                  distinct(w), want, timeout_s, w->dir);
}

/* The first result of id (borrowed), asserted present. */
static json_object *result_of(const struct world *w, const char *id)
{
    json_object *arr;
    cr_assert(json_object_object_get_ex(w->results, id, &arr), "no result for %s", id);
    return json_object_array_get_idx(arr, 0);
}

static long creates(const struct world *w)
{
    return fp_stat(&w->fp, "kie.creates") + fp_stat(&w->fp, "replicate.creates");
}

/* Wait until fakeprov saw n creates (every job's task exists). */
static void wait_creates(const struct world *w, long n, int timeout_s)
{
    int64_t end = kt_now_ms() + (int64_t)timeout_s * 1000;
    while (creates(w) < n && kt_now_ms() < end)
        kt_sleep_ms(50);
    cr_assert_geq(creates(w), n, "only %ld of %ld creates", creates(w), n);
}

/* Lines of dir/NAME.log containing needle. */
static int log_count(const struct world *w, const char *name, const char *needle)
{
    char path[400], line[4096];
    snprintf(path, sizeof path, "%s/%s.log", w->dir, name);
    FILE *f = fopen(path, "r");
    if (!f)
        return 0;
    int n = 0;
    while (fgets(line, sizeof line, f))
        n += strstr(line, needle) != NULL;
    fclose(f);
    return n;
}

static void world_stop(struct world *w)
{
    for (int i = 0; i < w->n_pids; i++) {
        if (w->pids[i] <= 0)
            continue;
        long ms = 0;
        int rc = kt_worker_stop(w->pids[i], 30, &ms);
        cr_assert_eq(rc, 0, "worker %ld exited %d after SIGTERM; logs in %s", (long)w->pids[i], rc,
                     w->dir);
        w->pids[i] = 0;
    }
}

static void world_free(struct world *w)
{
    for (int i = 0; i < w->n_pids; i++)
        if (w->pids[i] > 0) {
            kill(w->pids[i], SIGKILL);
            waitpid(w->pids[i], NULL, 0);
        }
    if (w->reader)
        kt_reader_free(w->reader);
    json_object_put(w->results);
    kt_producer_free(w->prod);
    cr_assert_eq(fp_stop(&w->fp), 0);
}

/* Every job job-0..n-1 has a succeeded result. */
static void assert_all_succeeded(const struct world *w, int n)
{
    for (int i = 0; i < n; i++) {
        char id[32];
        snprintf(id, sizeof id, "job-%d", i);
        json_object *r = result_of(w, id);
        cr_assert_str_eq(sy_str(r, "status"), "succeeded", "%s: %s", id,
                         json_object_to_json_string(r));
    }
}

/* The ledger topic made as a worker would (compacted, co-partitioned), so a
 * test can write records before any worker runs. */
static void ensure_ledger(struct world *w)
{
    char conf[400], err[512] = "";
    world_conf(w, "ensure", "", "", 0, conf, sizeof conf);
    struct conf *c = conf_load(conf, err, sizeof err);
    cr_assert_not_null(c, "%s", err);
    cr_assert_eq(ledgerk_ensure(c, err, sizeof err), SY_OK, "%s", err);
    conf_free(c);
}

static void write_record(struct world *w, int32_t p, const char *id, const struct ledger_rec *r)
{
    size_t len = 0;
    char *v = ledger_encode(r, &len);
    cr_assert_not_null(v);
    kt_produce(w->prod, w->ledger, p, id, strlen(id), v, len, NULL, NULL);
    kt_producer_flush(w->prod, 10000);
    free(v);
}

static const char *gen_args(const char *ms)
{
    static char buf[16];
    snprintf(buf, sizeof buf, "%s", ms);
    return buf;
}

/* kill -9 of a worker while every task is in flight, a replacement started
 * at once: the next owners resume the dead worker's tasks. Extra creates can
 * only come from creates whose `created` record was not acknowledged before
 * the kill (the ack window, milliseconds). */
Test(ledger, kill9_resumes_tasks, .timeout = 90)
{
    const int N = 48;
    struct world w;
    const char *args[] = { "--gen-ms", gen_args("6000"), NULL };
    world_init(&w, "lkill", 4, args);
    world_worker(&w, "w1", "log_level = \"debug\";", "", 0);
    pid_t victim = world_worker(&w, "w2", "log_level = \"debug\";", "", 0);
    kt_wait_group(w.group, 2, 4, 60000);
    produce_jobs(&w, 0, N);
    wait_creates(&w, N, 20);
    kt_sleep_ms(300); /* a little past the ack window */
    cr_assert_eq(kill(victim, SIGKILL), 0);
    waitpid(victim, NULL, 0);
    world_forget(&w, victim);
    world_worker(&w, "w3", "", "", 0);
    wait_results(&w, N, 60);
    world_stop(&w);
    kt_reader_drain(w.reader, on_result, &w, 3000);
    assert_all_succeeded(&w, N);
    long extra = creates(&w) - N;
    int resumed = log_count(&w, "w1", "resumed the task") + log_count(&w, "w3", "resumed the task");
    fprintf(stderr,
            "kill9_resumes_tasks: %d jobs, %ld provider creates (%ld extra), %d tasks resumed, %ld "
            "duplicate results\n",
            N, creates(&w), extra, resumed, dups(&w));
    cr_assert_geq(resumed, 1, "no task was resumed: the kill did not hit work in flight");
    cr_assert_leq(extra, 2, "%ld extra creates after a kill -9 (ack window bound 2)", extra);
    world_free(&w);
}

/* Adding a worker moves partitions with tasks in flight: zero extra creates
 * (the revoke flushes the ledger before the partitions go). */
Test(ledger, rebalance_zero_extra_creates, .timeout = 90)
{
    const int N = 40;
    struct world w;
    const char *args[] = { "--gen-ms", gen_args("5000"), NULL };
    world_init(&w, "lrebal", 6, args);
    world_worker(&w, "w1", "", "", 0);
    kt_wait_group(w.group, 1, 6, 60000);
    produce_jobs(&w, 0, N);
    wait_creates(&w, N, 20);
    world_worker(&w, "w2", "", "", 0);
    kt_wait_group(w.group, 2, 6, 30000);
    wait_results(&w, N, 60);
    world_stop(&w);
    kt_reader_drain(w.reader, on_result, &w, 3000);
    assert_all_succeeded(&w, N);
    int resumed = log_count(&w, "w2", "resumed the task");
    fprintf(stderr,
            "rebalance_zero_extra_creates: %ld creates for %d jobs, %d resumed by the new worker, %ld "
            "duplicate results\n",
            creates(&w), N, resumed, dups(&w));
    cr_assert_geq(resumed, 1,
                  "the new worker resumed nothing: no task was in flight on the moved partitions");
    cr_assert_eq(creates(&w), N, "extra creates on a rebalance");
    world_free(&w);
}

/* SIGTERM with a grace shorter than a generation, then a new worker: zero
 * extra creates (ledger records are flushed before leaving the group). */
Test(ledger, sigterm_short_grace_zero_extra_creates, .timeout = 90)
{
    const int N = 30;
    struct world w;
    const char *args[] = { "--gen-ms", gen_args("6000"), NULL };
    world_init(&w, "lterm", 3, args);
    pid_t a = world_worker(&w, "w1", "shutdown_grace_s = 1;", "", 0);
    kt_wait_group(w.group, 1, 3, 60000);
    produce_jobs(&w, 0, N);
    wait_creates(&w, N, 20);
    long ms = 0;
    cr_assert_eq(kt_worker_stop(a, 20, &ms), 0);
    world_forget(&w, a);
    world_worker(&w, "w2", "", "", 0);
    wait_results(&w, N, 60);
    world_stop(&w);
    kt_reader_drain(w.reader, on_result, &w, 3000);
    assert_all_succeeded(&w, N);
    int resumed = log_count(&w, "w2", "resumed the task");
    fprintf(stderr, "sigterm_short_grace: stopped in %ld ms; %ld creates for %d jobs; %d resumed\n",
            ms, creates(&w), N, resumed);
    cr_assert_eq(resumed, N, "every job was in flight at the stop and is resumed");
    cr_assert_eq(creates(&w), N, "extra creates after a graceful stop");
    world_free(&w);
}

/* A job whose `done` record exists but whose offset was never committed is
 * neither run nor published again; its neighbours run. */
Test(ledger, done_record_skips_job, .timeout = 60)
{
    struct world w;
    const char *args[] = { "--gen-ms", gen_args("300"), NULL };
    world_init(&w, "ldone", 1, args);
    ensure_ledger(&w);
    struct ledger_rec d = { .state = LEDGER_DONE, .offset = 1 };
    snprintf(d.status, sizeof d.status, "succeeded");
    write_record(&w, 0, "job-1", &d);
    /* The same id at another offset (enqueued again later) is a new job. */
    struct ledger_rec other = d;
    other.offset = 7;
    write_record(&w, 0, "job-2", &other);
    /* An invalid message keyed by its own id, dead-lettered (and answered) by
     * an earlier owner: not dead-lettered or answered again. */
    struct ledger_rec bad = { .state = LEDGER_DONE, .offset = 3 };
    snprintf(bad.status, sizeof bad.status, "failed");
    write_record(&w, 0, "bad-3", &bad);
    produce_jobs(&w, 0, 3); /* offsets 0, 1, 2 */
    kt_produce(w.prod, w.in, 0, "bad-3", 5, "{\"id\":\"bad-3\"}", 14, NULL,
               NULL); /* offset 3: no prompt */
    kt_producer_flush(w.prod, 30000);
    world_worker(&w, "w1", "", "", 0);
    wait_results(&w, 2, 40);
    kt_sleep_ms(1500);
    world_stop(&w);
    kt_reader_drain(w.reader, on_result, &w, 3000);
    cr_assert_str_eq(sy_str(result_of(&w, "job-0"), "status"), "succeeded");
    cr_assert_str_eq(sy_str(result_of(&w, "job-2"), "status"), "succeeded");
    json_object *arr;
    cr_assert_not(json_object_object_get_ex(w.results, "job-1", &arr), "job-1 was published again");
    cr_assert_eq(creates(&w), 2, "job-1 was run again (%ld creates)", creates(&w));
    cr_assert_not(json_object_object_get_ex(w.results, "bad-3", &arr), "bad-3 was answered again");
    cr_assert_eq(log_count(&w, "w1", "dead-lettered:"), 0, "bad-3 was dead-lettered again");
    cr_assert_eq(log_count(&w, "w1", "done already"), 2);
    int64_t c[1];
    kt_committed(w.group, w.in, 1, c);
    cr_assert_eq(c[0], 4, "the skipped offsets are committed");
    world_free(&w);
}

/* A task created by hand, then named by a `created` record: id or NULL. */
static char *make_task(struct world *w, int kie)
{
    json_object *o =
            kie ? fp_post_json_auth(&w->fp, "/api/v1/jobs/createTask",
                                    "{\"model\":\"google/nano-banana\",\"input\":{\"prompt\":\"x\","
                                    "\"output_format\":\"png\"}}",
                                    "test-kie-key")
                : fp_post_json_auth(&w->fp, "/v1/models/google/nano-banana/predictions",
                                    "{\"input\":{\"prompt\":\"x\",\"output_format\":\"png\"}}",
                                    "test-replicate-key");
    cr_assert_not_null(o, "creating a task by hand failed");
    json_object *data = o, *id;
    if (kie)
        cr_assert(json_object_object_get_ex(o, "data", &data));
    cr_assert(json_object_object_get_ex(data, kie ? "taskId" : "id", &id));
    char *s = strdup(json_object_get_string(id));
    json_object_put(o);
    return s;
}

static void write_created(struct world *w, int32_t p, const char *id, int64_t offset,
                          const char *provider, const char *task, int64_t age_ms)
{
    struct ledger_rec r = {
        .state = LEDGER_CREATED, .offset = offset, .created_ms = sy_wall_ms() - age_ms, .attempt = 1
    };
    snprintf(r.provider, sizeof r.provider, "%s", provider);
    snprintf(r.task_id, sizeof r.task_id, "%s", task);
    snprintf(r.worker, sizeof r.worker, "deadhost:1");
    write_record(w, p, id, &r);
}

/* A resumed KIE task and a resumed Replicate prediction finish with their
 * own results; tasks the provider does not know are created again. */
Test(ledger, resume_and_recreate, .timeout = 60)
{
    struct world w;
    const char *args[] = { "--gen-ms", gen_args("1500"), NULL };
    world_init(&w, "lres", 1, args);
    ensure_ledger(&w);
    char *kt = make_task(&w, 1), *rt = make_task(&w, 0);
    /* produce_jobs: job-0 replicate, job-1 kie, job-2 replicate, job-3 kie; offsets = index. */
    write_created(&w, 0, "job-0", 0, "replicate", rt, 200);
    write_created(&w, 0, "job-1", 1, "kie", kt, 200);
    write_created(&w, 0, "job-2", 2, "replicate", "pred_never_made", 60000);
    write_created(&w, 0, "job-3", 3, "kie", "task_never_made", 60000);
    produce_jobs(&w, 0, 4);
    int mport = sy_free_port();
    char we[80];
    snprintf(we, sizeof we, "metrics_listen = \"127.0.0.1:%d\";", mport);
    world_worker(&w, "w1", we, "", 0);
    wait_results(&w, 4, 40);
    /* every count below is made before the last result goes out */
    char *page = sy_metrics_wait(mport, "switchyard_ledger_tasks_resumed_total 4\n", 5000);
    const char *want[] = { "switchyard_ledger_tasks_resumed_total 4\n",
                           "switchyard_ledger_tasks_recreated_total 2\n",
                           "switchyard_ledger_jobs_skipped_done_total 0\n",
                           "switchyard_ledger_read_timeouts_total 0\n",
                           "switchyard_ledger_write_errors_total 0\n",
                           "switchyard_ledger_takeover_seconds_count 1\n",
                           "switchyard_ledger_created_window_seconds_count 2\n" };
    for (size_t i = 0; i < sizeof want / sizeof want[0]; i++)
        cr_assert(strstr(page, want[i]), "/metrics lacks %s", want[i]);
    cr_assert(strstr(page, "switchyard_ledger_write_latency_seconds_count "),
              "no write latency histogram");
    free(page);
    world_stop(&w);
    assert_all_succeeded(&w, 4);
    cr_assert_str_eq(sy_str(result_of(&w, "job-0"), "provider_task_id"), rt);
    cr_assert_str_eq(sy_str(result_of(&w, "job-1"), "provider_task_id"), kt);
    for (int i = 0; i < 2; i++) {
        char id[16];
        snprintf(id, sizeof id, "job-%d", i);
        json_object *r = result_of(&w, id);
        cr_assert_eq(sy_attempts_with(r, "outcome", "resumed"), 1, "%s",
                     json_object_to_json_string(r));
        cr_assert_eq(sy_attempts_matching(r, "message", "deadhost:1"), 1,
                     "the previous worker is named");
    }
    for (int i = 2; i < 4; i++) {
        char id[16];
        snprintf(id, sizeof id, "job-%d", i);
        json_object *r = result_of(&w, id);
        cr_assert_eq(sy_attempts_with(r, "outcome", "task_unknown"), 1, "%s",
                     json_object_to_json_string(r));
        cr_assert_str_neq(sy_str(r, "provider_task_id"),
                          i == 2 ? "pred_never_made" : "task_never_made");
    }
    cr_assert_eq(fp_stat(&w.fp, "kie.creates"), 2, "one by hand, one re-created");
    cr_assert_eq(fp_stat(&w.fp, "replicate.creates"), 2, "one by hand, one re-created");
    free(kt);
    free(rt);
    world_free(&w);
}

/* Callbacks on: a worker dies with KIE tasks in flight; its replacement
 * (same listener address) resumes them and their callbacks finish them
 * (the safety poll is 600 s: only a callback can end them in time). */
Test(ledger, callback_after_takeover, .timeout = 90)
{
    const int N = 6;
    struct world w;
    const char *args[] = { "--gen-ms",
                           gen_args("12000"),
                           "--kie-hmac-key",
                           HMAC_KEY,
                           "--replicate-webhook-secret",
                           WHSEC,
                           NULL };
    world_init(&w, "lcb", 2, args);
    int port = sy_free_port();
    pid_t a = world_worker(&w, "w1", "", "", port);
    kt_wait_group(w.group, 1, 2, 60000);
    for (int i = 0; i < N; i++) { /* KIE only */
        char id[32], val[200];
        snprintf(id, sizeof id, "job-%d", i);
        snprintf(val, sizeof val, "{\"id\":\"%s\",\"prompt\":\"cb %d\",\"providers\":[\"kie\"]}",
                 id, i);
        kt_produce(w.prod, w.in, i % 2, id, strlen(id), val, strlen(val), NULL, NULL);
    }
    kt_producer_flush(w.prod, 10000);
    wait_creates(&w, N, 20);
    kt_sleep_ms(300);
    cr_assert_eq(kill(a, SIGKILL), 0);
    waitpid(a, NULL, 0);
    world_forget(&w, a);
    world_worker(&w, "w2", "", "", port);
    wait_results(&w, N, 60);
    world_stop(&w);
    assert_all_succeeded(&w, N);
    cr_assert_eq(log_count(&w, "w2", "resumed the task"), N);
    cr_assert_eq(creates(&w), N, "extra creates");
    world_free(&w);
}

/* The ledger topic refused by the broker (an invalid name): every job still
 * finishes, at-least-once, with the write errors counted and warned about. */
Test(ledger, unavailable_ledger_never_stalls, .timeout = 60)
{
    const int N = 20;
    struct world w;
    const char *args[] = { "--gen-ms", gen_args("300"), NULL };
    world_init(&w, "lbad", 2, args);
    world_worker(&w, "w1", "", "ledger_topic = \"bad topic!\"; ledger_read_timeout_ms = 1000;", 0);
    kt_wait_group(w.group, 1, 2, 60000);
    produce_jobs(&w, 0, N);
    wait_results(&w, N, 40);
    world_stop(&w);
    assert_all_succeeded(&w, N);
    cr_assert_geq(log_count(&w, "w1", "was not written"), 1, "no write warning");
    cr_assert_eq(log_count(&w, "w1", "takeover: partition"), 2);
    world_free(&w);
}

/* A file's text (caller frees). */
static char *slurp(const char *path)
{
    FILE *f = fopen(path, "r");
    cr_assert_not_null(f, "%s", path);
    char *buf = calloc(1, 65536);
    cr_assert_not_null(buf);
    size_t n = fread(buf, 1, 65535, f);
    buf[n] = '\0';
    fclose(f);
    return buf;
}

/* An existing ledger topic with too few partitions or without compaction:
 * --check-config says so (exit 2) and a worker refuses to start (exit 1). */
Test(ledger, misconfigured_topic_refused, .timeout = 60)
{
    struct world w;
    const char *args[] = { NULL };
    world_init(&w, "lcfg", 2, args);
    char few[200], loose[200];
    snprintf(few, sizeof few, "%s.few", w.in);
    snprintf(loose, sizeof loose, "%s.loose", w.in);
    kt_create_topic(few, 1, 0);
    kt_create_topic(loose, 2, 0); /* cleanup.policy=delete */
    struct {
        const char *topic, *needle;
    } cases[] = { { few, "has 1 partitions" }, { loose, "cleanup.policy=delete" } };
    for (int i = 0; i < 2; i++) {
        char conf[400], extra[300], out[420], errp[420];
        snprintf(extra, sizeof extra, "ledger_topic = \"%s\";", cases[i].topic);
        world_conf(&w, i ? "loose" : "few", "", extra, 0, conf, sizeof conf);
        snprintf(out, sizeof out, "%s.out", conf);
        snprintf(errp, sizeof errp, "%s.err", conf);
        const char *check[] = { "-c", conf, "--check-config", NULL };
        cr_assert_eq(sy_wait(sy_spawn_cmd(check, out, errp), 30), 2, "--check-config accepted %s",
                     cases[i].topic);
        char *e = slurp(errp);
        cr_assert(strstr(e, cases[i].needle) && strstr(e, "kafka.ledger_topic"),
                  "--check-config said: %s", e);
        free(e);
        const char *run[] = { "-c", conf, NULL };
        cr_assert_eq(sy_wait(sy_spawn_cmd(run, out, errp), 40), 1, "a worker started on %s",
                     cases[i].topic);
        e = slurp(errp);
        cr_assert(strstr(e, cases[i].needle), "the worker said: %s", e);
        free(e);
    }
    /* The default (missing) ledger topic passes the check. */
    char conf[400], out[420], errp[420];
    world_conf(&w, "good", "", "", 0, conf, sizeof conf);
    snprintf(out, sizeof out, "%s.out", conf);
    snprintf(errp, sizeof errp, "%s.err", conf);
    const char *check[] = { "-c", conf, "--check-config", NULL };
    cr_assert_eq(sy_wait(sy_spawn_cmd(check, out, errp), 30), 0);
    world_free(&w);
}

/* One broker shared with the other e2e files: one test at a time. */
int main(int argc, char *argv[])
{
    return kt_run_serial(argc, argv);
}
