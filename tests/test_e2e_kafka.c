/* test_e2e_kafka.c — the Kafka worker end to end: real broker
 * ($SY_KAFKA_BROKERS, started by scripts/test.sh), real `switchyard -c`
 * processes, fakeprov as both providers.
 *
 * Each test makes its own topics and group (unique names), produces jobs with
 * known ids ("job-N") to known partitions, and reads the output topic from the
 * beginning with a group-less reader, counting results per id (the world:
 * e2eworld.h; malformed input: test_e2e_malformed.c). The tests share
 * one broker and the last one freezes it, so this file runs its tests one at a
 * time whatever -j it is given (see main() at the bottom). */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <criterion/criterion.h>
#include <json-c/json.h>

#include "e2eworld.h"
#include "kafkatest.h"
#include "sytest.h"

/* ---- result tally ---- */

struct tally {
    int n;             /* jobs job-0 .. job-(n-1) */
    int *count;        /* results per job */
    int *ok;           /* "succeeded" results per job */
    int64_t *first_ts; /* Kafka timestamp of its first result */
    uint8_t *wmask;    /* bit w: worker slot w published a result for it */
    char workers[WORLD_MAX_WORKERS][96];
    long per_worker[WORLD_MAX_WORKERS];
    int n_workers;
    long total, stray, bad, distinct;
    char first_bad[256];
};

static void tally_init(struct tally *t, int n)
{
    memset(t, 0, sizeof *t);
    t->n = n;
    t->count = calloc((size_t)n, sizeof *t->count);
    t->ok = calloc((size_t)n, sizeof *t->ok);
    t->first_ts = calloc((size_t)n, sizeof *t->first_ts);
    t->wmask = calloc((size_t)n, sizeof *t->wmask);
    cr_assert(t->count && t->ok && t->first_ts && t->wmask);
}

static void tally_free(struct tally *t)
{
    free(t->count);
    free(t->ok);
    free(t->first_ts);
    free(t->wmask);
}

static int worker_slot(struct tally *t, const char *w)
{
    for (int i = 0; i < t->n_workers; i++)
        if (strcmp(t->workers[i], w) == 0)
            return i;
    if (t->n_workers == WORLD_MAX_WORKERS)
        return WORLD_MAX_WORKERS - 1;
    snprintf(t->workers[t->n_workers], sizeof t->workers[0], "%s", w);
    return t->n_workers++;
}

/* The slot of the worker with this pid, or -1. */
static int slot_of_pid(const struct tally *t, pid_t pid)
{
    char suffix[32];
    snprintf(suffix, sizeof suffix, ":%ld", (long)pid);
    size_t sl = strlen(suffix);
    for (int i = 0; i < t->n_workers; i++) {
        size_t l = strlen(t->workers[i]);
        if (l > sl && strcmp(t->workers[i] + l - sl, suffix) == 0)
            return i;
    }
    return -1;
}

/* "job-N" -> N, or -1. */
static int job_index(const char *id, int n)
{
    if (strncmp(id, "job-", 4) != 0 || !id[4])
        return -1;
    char *end;
    long v = strtol(id + 4, &end, 10);
    return *end || v < 0 || v >= n ? -1 : (int)v;
}

static void note_bad(struct tally *t, const char *what, const rd_kafka_message_t *m)
{
    if (!t->bad++)
        snprintf(t->first_bad, sizeof t->first_bad, "%s at %d/%lld", what, (int)m->partition,
                 (long long)m->offset);
}

static void on_result(void *ud, const rd_kafka_message_t *m)
{
    struct tally *t = ud;
    t->total++;
    json_tokener *tok = json_tokener_new();
    json_object *o = m->payload ? json_tokener_parse_ex(tok, m->payload, (int)m->len) : NULL;
    json_tokener_free(tok);
    if (!o || !json_object_is_type(o, json_type_object)) {
        note_bad(t, "result is not a JSON object", m);
        json_object_put(o);
        return;
    }
    const char *id = sy_str(o, "id");
    char hdr[300];
    if (!m->key || m->key_len != strlen(id) || memcmp(m->key, id, m->key_len) != 0)
        note_bad(t, "result key is not the job id", m);
    else if (!kt_header(m, "switchyard-job-id", hdr, sizeof hdr) || strcmp(hdr, id) != 0)
        note_bad(t, "switchyard-job-id header is not the job id", m);
    int i = job_index(id, t->n);
    if (i < 0) {
        t->stray++;
        json_object_put(o);
        return;
    }
    if (!t->count[i]++) {
        t->distinct++;
        rd_kafka_timestamp_type_t tt;
        t->first_ts[i] = rd_kafka_message_timestamp(m, &tt);
    }
    t->ok[i] += strcmp(sy_str(o, "status"), "succeeded") == 0;
    int w = worker_slot(t, sy_str(o, "worker"));
    t->wmask[i] |= (uint8_t)(1u << w);
    t->per_worker[w]++;
    json_object_put(o);
}

static long tally_dups(const struct tally *t)
{
    long d = 0;
    for (int i = 0; i < t->n; i++)
        d += t->count[i] > 1 ? t->count[i] - 1 : 0;
    return d;
}

/* Read results until `want` jobs have one, or timeout_s passes. Returns the
 * number of jobs with a result. */
#define STALL_S                                                                                    \
    45 /* no new result for this long: stop waiting (covers a session timeout and a rebalance) */

/* Read results until `want` jobs have one, timeout_s passes, or nothing new
 * arrives for STALL_S. Returns the number of jobs with a result. */
static long wait_results(struct kt_reader *r, struct tally *t, long want, int timeout_s)
{
    int64_t now = kt_now_ms(), end = now + (int64_t)timeout_s * 1000, progress = now;
    while (t->distinct < want && now < end && now - progress < STALL_S * 1000) {
        long before = t->distinct;
        if (kt_reader_drain(r, on_result, t, 3000) == 0)
            kt_sleep_ms(200);
        now = kt_now_ms();
        if (t->distinct != before)
            progress = now;
    }
    return t->distinct;
}

/* Every job succeeded; no stray or malformed result. */
static void assert_all_succeeded(const struct tally *t, const char *test)
{
    int missing = -1, failed = -1;
    long n_missing = 0, n_failed = 0;
    for (int i = 0; i < t->n; i++) {
        if (!t->count[i] && !n_missing++)
            missing = i;
        if (t->count[i] && !t->ok[i] && !n_failed++)
            failed = i;
    }
    cr_assert_eq(n_missing, 0, "%s: %ld of %d jobs have no result (first: job-%d)", test, n_missing,
                 t->n, missing);
    cr_assert_eq(n_failed, 0, "%s: %ld jobs have no succeeded result (first: job-%d)", test,
                 n_failed, failed);
    cr_assert_eq(t->stray, 0, "%s: %ld results for ids never enqueued", test, t->stray);
    cr_assert_eq(t->bad, 0, "%s: %ld malformed results; first: %s", test, t->bad, t->first_bad);
}

static int64_t wall_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* On a shortfall: which jobs have no result, by input partition, and what
 * the group committed, to tell a stuck partition from a stuck job. */
static void report_missing(const struct world *w, const struct tally *t)
{
    long miss[64] = { 0 };
    int first[64];
    for (int p = 0; p < 64; p++)
        first[p] = -1;
    for (int i = 0; i < t->n && i < w->n_jobs; i++) {
        int p = w->drs[i].partition;
        if (!t->count[i] && p >= 0 && p < 64 && !miss[p]++)
            first[p] = i;
    }
    int64_t c[64] = { 0 };
    kt_committed(w->group, w->in, w->partitions < 64 ? w->partitions : 64, c);
    for (int p = 0; p < w->partitions && p < 64; p++)
        if (miss[p])
            fprintf(stderr,
                    "  partition %d: %ld jobs without a result (first job-%d at offset %lld); committed %lld\n",
                    p, miss[p], first[p], first[p] >= 0 ? (long long)w->drs[first[p]].offset : -1LL,
                    (long long)c[p]);
    fprintf(stderr,
            "  fakeprov: kie tasks_created %ld active %ld, replicate tasks_created %ld active %ld\n",
            fp_stat(&w->fp, "kie.tasks_created"), fp_stat(&w->fp, "kie.tasks_active"),
            fp_stat(&w->fp, "replicate.tasks_created"), fp_stat(&w->fp, "replicate.tasks_active"));
}

/* Wait for every job's result; on a shortfall report it and fail. */
static void expect_all_results(const struct world *w, struct kt_reader *r, struct tally *t,
                               int timeout_s, const char *when)
{
    long got = wait_results(r, t, t->n, timeout_s);
    if (got != t->n)
        report_missing(w, t);
    cr_assert_eq(got, t->n, "only %ld of %d jobs have a result %s (waited %d s); logs in %s", got,
                 t->n, when, timeout_s, w->dir);
}

/* ---- the tests ---- */

/* 10,000 short jobs over 12 partitions and 3 workers: every id succeeds,
 * nothing stray; SIGTERM: each exits 0 and everything is committed. */
Test(e2e, scale_three_workers, .timeout = 240)
{
    const int N = 10000;
    struct world w;
    world_init(&w, "scale", 12, N, "50", 0);
    int64_t t0 = kt_now_ms();
    world_worker(&w, "w1", "", "");
    world_worker(&w, "w2", "", "");
    world_worker(&w, "w3", "", "");
    kt_wait_group(w.group, 3, 12, 90000);
    int64_t t_group = kt_now_ms();
    world_produce_jobs(&w, 0, N, 0, "");
    struct kt_reader *r = kt_reader_new(w.out);
    struct tally t;
    tally_init(&t, N);
    expect_all_results(&w, r, &t, 150, "");
    int64_t t_done = kt_now_ms();
    world_stop_workers(&w, 30);
    kt_reader_drain(r, on_result, &t, 10000); /* whatever was still on its way */
    assert_all_succeeded(&t, "scale");
    cr_assert_eq(t.n_workers, 3, "%d distinct workers published results", t.n_workers);
    world_assert_committed(&w);
    fprintf(stderr,
            "scale_three_workers: %d jobs, %ld results, %ld duplicates; group ready in %lld ms, jobs done "
            "%lld ms later (%.0f jobs/s); per worker %ld/%ld/%ld\n",
            N, t.total, tally_dups(&t), (long long)(t_group - t0), (long long)(t_done - t_group),
            N * 1000.0 / (double)(t_done - t_group + 1), t.per_worker[0], t.per_worker[1],
            t.per_worker[2]);
    tally_free(&t);
    kt_reader_free(r);
    world_free(&w);
}

/* kill -9 one of three workers mid-run: the other two take its partitions
 * after the session timeout and every job still gets a result. Duplicates
 * are only jobs the dead worker had published at or above its partitions'
 * committed offsets, and at most its max_in_flight plus what it finished in
 * the last auto-commit intervals before the kill. */
Test(e2e, kill9_one_of_three, .timeout = 180)
{
    const int N = 3000, MAX_IN_FLIGHT = 40;
    struct world w;
    world_init(&w, "kill9", 12, N, "200", 0);
    const char *props = "session_timeout_ms = \"6000\"; heartbeat_interval_ms = \"1000\";";
    char we[64];
    snprintf(we, sizeof we, "max_in_flight = %d;", MAX_IN_FLIGHT);
    world_worker(&w, "w1", we, props);
    pid_t victim = world_worker(&w, "w2", we, props);
    world_worker(&w, "w3", we, props);
    kt_wait_group(w.group, 3, 12, 90000);
    world_produce_jobs(&w, 0, N, 0, "");
    struct kt_reader *r = kt_reader_new(w.out);
    struct tally t;
    tally_init(&t, N);
    wait_results(r, &t, N / 5, 60);
    int64_t kill_wall = wall_ms();
    cr_assert_eq(kill(victim, SIGKILL), 0);
    waitpid(victim, NULL, 0);
    w.pids[1] = 0;
    int64_t t_kill = kt_now_ms();
    /* Nobody commits for the victim's partitions until the session times out. */
    int64_t committed[12];
    kt_committed(w.group, w.in, 12, committed);
    long at_kill = t.distinct;
    expect_all_results(&w, r, &t, 120, "after the kill");
    int64_t t_done = kt_now_ms();
    world_stop_workers(&w, 30);
    kt_reader_drain(r, on_result, &t, 10000);
    assert_all_succeeded(&t, "kill9");
    int vs = slot_of_pid(&t, victim);
    cr_assert_geq(vs, 0, "the killed worker published nothing before the kill");
    long redo = 0, recent = 0;
    for (int i = 0; i < N; i++) {
        if (!(t.wmask[i] & (1u << vs)))
            continue;
        if (w.drs[i].offset >= committed[w.drs[i].partition])
            redo++;
        if (t.first_ts[i] >= kill_wall - 3000)
            recent++;
    }
    long dups = tally_dups(&t);
    fprintf(stderr,
            "kill9_one_of_three: %ld duplicates; the killed worker had published %ld results at or above "
            "the committed offsets (%ld in its last 3 s; max_in_flight %d); %ld of %d results at the "
            "kill, all done %lld ms after it\n",
            dups, redo, recent, MAX_IN_FLIGHT, at_kill, N, (long long)(t_done - t_kill));
    cr_assert_leq(
            dups, redo,
            "%ld duplicates, but only %ld jobs the dead worker had published were uncommitted",
            dups, redo);
    cr_assert_leq(dups, MAX_IN_FLIGHT + recent,
                  "%ld duplicates > max_in_flight %d + %ld results of its last 3 s", dups,
                  MAX_IN_FLIGHT, recent);
    tally_free(&t);
    kt_reader_free(r);
    world_free(&w);
}

/* SIGTERM with jobs in flight: the worker exits 0 within its grace (+ slack);
 * a few 8 s jobs cannot finish in the 4 s grace and are redone by a worker
 * restarted on the same group, so every job ends with a result. */
Test(e2e, sigterm_mid_run, .timeout = 150)
{
    const int N = 400, GRACE_S = 4;
    struct world w;
    world_init(&w, "sigterm", 4, N, "2000", 0);
    char we[96];
    snprintf(we, sizeof we, "max_in_flight = 100; shutdown_grace_s = %d;", GRACE_S);
    pid_t a = world_worker(&w, "w1", we, "");
    kt_wait_group(w.group, 1, 4, 60000);
    world_produce_jobs(&w, 0, N, 40, " [gen:8000]");
    struct kt_reader *r = kt_reader_new(w.out);
    struct tally t;
    tally_init(&t, N);
    wait_results(r, &t, 60, 60);
    long before = t.distinct;
    long ms = 0;
    int rc = kt_worker_stop(a, GRACE_S + 20, &ms);
    w.pids[0] = 0;
    cr_assert_eq(rc, 0, "worker exited %d after SIGTERM; logs in %s", rc, w.dir);
    cr_assert_leq(ms, (GRACE_S + 10) * 1000L, "worker took %ld ms to stop (grace %d s)", ms,
                  GRACE_S);
    kt_reader_drain(r, on_result, &t, 5000);
    long after_stop = t.distinct;
    cr_assert_lt(after_stop, N,
                 "every job finished before the stop: the test did not stop it mid-run");
    world_worker(&w, "w2", we, "");
    expect_all_results(&w, r, &t, 90, "after the restart");
    world_stop_workers(&w, 30);
    kt_reader_drain(r, on_result, &t, 5000);
    assert_all_succeeded(&t, "sigterm");
    world_assert_committed(&w);
    /* Only jobs finished before the stop can repeat: a clean stop loses nothing
     * and redoes at most what sat above a partition's lowest unfinished offset. */
    cr_assert_leq(tally_dups(&t), after_stop,
                  "%ld duplicates, but only %ld jobs had finished before the stop", tally_dups(&t),
                  after_stop);
    fprintf(stderr,
            "sigterm_mid_run: stopped in %ld ms (grace %d s) with %ld of %d results (%ld at the signal); "
            "%ld duplicates after the restart\n",
            ms, GRACE_S, after_stop, N, before, tally_dups(&t));
    tally_free(&t);
    kt_reader_free(r);
    world_free(&w);
}

/* A second worker joining mid-run takes partitions (its results appear) and
 * nothing is lost. */
Test(e2e, join_mid_run, .timeout = 180)
{
    const int N = 3000;
    struct world w;
    world_init(&w, "join", 12, N, "200", 0);
    world_worker(&w, "w1", "max_in_flight = 40;", "");
    kt_wait_group(w.group, 1, 12, 60000);
    world_produce_jobs(&w, 0, N, 0, "");
    struct kt_reader *r = kt_reader_new(w.out);
    struct tally t;
    tally_init(&t, N);
    wait_results(r, &t, N / 10, 60);
    long at_join = t.distinct;
    pid_t b = world_worker(&w, "w2", "max_in_flight = 40;", "");
    expect_all_results(&w, r, &t, 120, "after the join");
    world_stop_workers(&w, 30);
    kt_reader_drain(r, on_result, &t, 5000);
    assert_all_succeeded(&t, "join");
    cr_assert_eq(t.n_workers, 2, "%d distinct workers published results", t.n_workers);
    int bs = slot_of_pid(&t, b);
    cr_assert_geq(bs, 0, "the joining worker published nothing");
    world_assert_committed(&w);
    fprintf(stderr,
            "join_mid_run: second worker joined at %ld of %d results and published %ld; %ld duplicates\n",
            at_join, N, t.per_worker[bs], tally_dups(&t));
    tally_free(&t);
    kt_reader_free(r);
    world_free(&w);
}

/* ---- broker outage (last: it freezes the shared broker) ---- */

/* The pid of the broker scripts/kafka.sh runs, asserting it is the one at
 * $SY_KAFKA_BROKERS. */
static pid_t broker_pid(void)
{
    FILE *p = popen(SY_SOURCE_DIR "/scripts/kafka.sh status 2>/dev/null", "r");
    cr_assert_not_null(p);
    char line[512] = "";
    char *got = fgets(line, sizeof line, p);
    pclose(p);
    char addr[128];
    long pid = 0;
    cr_assert(got && sscanf(line, "running %127s (pid %ld", addr, &pid) == 2,
              "scripts/kafka.sh status: \"%s\": the broker must be the one scripts/kafka.sh runs",
              line);
    cr_assert_str_eq(addr, kt_brokers(), "scripts/kafka.sh runs %s but SY_KAFKA_BROKERS is %s",
                     addr, kt_brokers());
    return (pid_t)pid;
}

/* The broker goes away for 15 s mid-run; the workers recover and every job
 * gets a result.
 *
 * scripts/kafka.sh start wipes the data directory ("fresh data on every
 * start"), so a stop/start would lose every topic and the committed offsets.
 * The outage is therefore a SIGSTOP/SIGCONT of the broker JVM: clients see
 * request timeouts and a silent coordinator, the same as a broker that died
 * and came back with its log intact. A detached child sends the SIGCONT even
 * if this test process dies. */
Test(e2e, z_broker_restart, .timeout = 240)
{
    const int N = 2000, OUTAGE_S = 15;
    pid_t broker = broker_pid();
    struct world w;
    world_init(&w, "outage", 6, N, "200", 0);
    world_worker(&w, "w1", "max_in_flight = 50;", "");
    world_worker(&w, "w2", "max_in_flight = 50;", "");
    kt_wait_group(w.group, 2, 6, 60000);
    world_produce_jobs(&w, 0, N, 0, "");
    struct kt_reader *r = kt_reader_new(w.out);
    struct tally t;
    tally_init(&t, N);
    wait_results(r, &t, N / 6, 60);
    long at_stop = t.distinct;

    pid_t thaw = fork();
    cr_assert(thaw >= 0);
    if (thaw == 0) {
        setsid(); /* not killed with the test */
        kt_sleep_ms(OUTAGE_S * 1000L);
        kill(broker, SIGCONT);
        _exit(0);
    }
    cr_assert_eq(kill(broker, SIGSTOP), 0, "cannot stop broker pid %ld", (long)broker);
    int64_t t_stop = kt_now_ms();
    waitpid(thaw, NULL, 0);
    kill(broker, SIGCONT);
    int64_t t_cont = kt_now_ms();
    for (int i = 0; i < w.n_pids; i++) {
        int st;
        cr_assert(!kt_worker_exited(w.pids[i], &st),
                  "worker %ld died during the outage (status %d); logs in %s", (long)w.pids[i], st,
                  w.dir);
    }
    expect_all_results(&w, r, &t, 150, "after the broker came back");
    int64_t t_done = kt_now_ms();
    world_stop_workers(&w, 40);
    kt_reader_drain(r, on_result, &t, 10000);
    assert_all_succeeded(&t, "outage");
    world_assert_committed(&w);
    fprintf(stderr,
            "z_broker_restart: broker frozen %lld ms at %ld of %d results; all done %lld ms after it "
            "resumed; %ld duplicates\n",
            (long long)(t_cont - t_stop), at_stop, N, (long long)(t_done - t_cont), tally_dups(&t));
    tally_free(&t);
    kt_reader_free(r);
    world_free(&w);
}

/* These tests share one broker and the last one freezes it: run them one at
 * a time, whatever -j CTest passes (sy_test registers every file with -j2). */
int main(int argc, char *argv[])
{
    return kt_run_serial(argc, argv);
}
