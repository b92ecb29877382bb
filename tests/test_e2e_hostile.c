/* test_e2e_hostile.c — the Kafka worker against poison and hostile input on
 * a real broker ($SY_KAFKA_BROKERS) with fakeprov: a partition's committed
 * offset always reaches the end (H-1), a worker paused at max_in_flight that
 * loses and regains its partition resumes (H-2), near-1 MB values with big
 * metadata stay within a stated peak RSS (H-3), and 200+ generated bad
 * messages among valid jobs (issue 11 point 3).
 *
 * Every test uses its own topics and group; one partition each, so "the
 * committed offset reaches the end" is about every message. The worker runs
 * with a small ASan quarantine so that VmHWM measures what it keeps. Tests
 * run one at a time (main at the bottom). */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <criterion/criterion.h>
#include <json-c/json.h>

#include "kafkatest.h"
#include "worker/metrics.h"
#include "sytest.h"

struct seen;

struct hw {
    struct fakeprov fp;
    char dir[256], group[128], in[128], out[128], dlq[128];
    struct kt_topics t;
    struct kt_producer *prod;
    pid_t pid;
    int port;          /* metrics, 0 = off */
    struct seen *s;    /* what was produced and what came back */
    struct kt_dr *drs; /* where each message landed */
};

static void hw_init_dlq(struct hw *h, const char *tag, const char *gen_ms, long dlq_max_bytes)
{
    memset(h, 0, sizeof *h);
    kt_brokers();
    const char *args[] = { "--gen-ms", gen_ms, "--threads", "2", NULL };
    fp_start(&h->fp, args);
    sy_tmpdir(h->dir, sizeof h->dir);
    char base[100];
    kt_unique(base, sizeof base, tag);
    snprintf(h->group, sizeof h->group, "%s-group", base);
    snprintf(h->in, sizeof h->in, "%s-in", base);
    snprintf(h->out, sizeof h->out, "%s-out", base);
    snprintf(h->dlq, sizeof h->dlq, "%s-dlq", base);
    h->t = (struct kt_topics){ .group = h->group, .input = h->in, .output = h->out, .dlq = h->dlq };
    kt_create_topic(h->in, 1,
                    0); /* the broker's default max.message.bytes (1,048,588) everywhere */
    kt_create_topic(h->out, 1, 0);
    kt_create_topic(h->dlq, 1, dlq_max_bytes);
    h->prod = kt_producer_new();
    fprintf(stderr, "%s: topics %s-*, logs in %s\n", tag, base, h->dir);
}

/* Start the worker; metrics on a free port when metrics is set. */
static void hw_worker(struct hw *h, const char *worker_extra, const char *props, int metrics)
{
    char conf[400], log[400];
    snprintf(conf, sizeof conf, "%s/w.conf", h->dir);
    snprintf(log, sizeof log, "%s/w.log", h->dir);
    kt_write_config(&h->fp, conf, &h->t, worker_extra, "", props);
    if (metrics) {
        h->port = sy_free_port();
        FILE *rf = fopen(conf, "r");
        cr_assert_not_null(rf);
        static char text[16384];
        size_t tn = fread(text, 1, sizeof text - 1, rf);
        fclose(rf);
        text[tn] = '\0';
        const char *key = "metrics_listen = \"\";";
        char *at = strstr(text, key);
        cr_assert_not_null(at);
        FILE *f = fopen(conf, "w");
        cr_assert_not_null(f);
        fprintf(f, "%.*smetrics_listen = \"127.0.0.1:%d\";%s", (int)(at - text), text, h->port,
                at + strlen(key));
        fclose(f);
    }
    /* A small quarantine: VmHWM then shows what the worker keeps, not what ASan holds back. */
    const char *asan = getenv("ASAN_OPTIONS");
    char opts[512];
    snprintf(opts, sizeof opts, "%s%squarantine_size_mb=8", asan ? asan : "",
             asan && asan[0] ? ":" : "");
    setenv("ASAN_OPTIONS", opts, 1);
    h->pid = kt_worker_start(conf, log);
    if (asan)
        setenv("ASAN_OPTIONS", asan, 1);
    else
        unsetenv("ASAN_OPTIONS");
}

/* VmHWM of pid in KiB (the worker must still run). */
static long vm_hwm_kb(pid_t pid)
{
    char path[64], line[256];
    snprintf(path, sizeof path, "/proc/%ld/status", (long)pid);
    FILE *f = fopen(path, "r");
    cr_assert_not_null(f, "worker %ld is gone", (long)pid);
    long kb = -1;
    while (fgets(line, sizeof line, f))
        if (sscanf(line, "VmHWM: %ld kB", &kb) == 1)
            break;
    fclose(f);
    return kb;
}

/* Wait until the group's committed offset of partition 0 is the end of the
 * input; returns the last committed value seen. */
static int64_t wait_committed_end(const struct hw *h, int timeout_s)
{
    int64_t end, c = -1;
    kt_end_offsets(h->in, 1, &end);
    int64_t stop = kt_now_ms() + (int64_t)timeout_s * 1000;
    while (kt_now_ms() < stop) {
        kt_committed(h->group, h->in, 1, &c);
        if (c == end)
            break;
        kt_sleep_ms(300);
    }
    cr_assert_eq(c, end, "committed offset %lld, end of input %lld after %d s; logs in %s",
                 (long long)c, (long long)end, timeout_s, h->dir);
    return c;
}

/* ---- results and DLQ records ---- */

#define MAX_MSGS 512

struct seen {
    int64_t offset[MAX_MSGS]; /* input offset of message i */
    char *id[MAX_MSGS];       /* its id when a result may carry it, else NULL */
    int valid[MAX_MSGS];
    int dlq[MAX_MSGS];    /* DLQ records for it with a reason */
    int ok[MAX_MSGS];     /* succeeded results */
    int failed[MAX_MSGS]; /* failed results with an error class */
    int n;
    long unmatched;
};

static int by_offset(struct seen *s, int64_t off)
{
    for (int i = 0; i < s->n; i++)
        if (s->offset[i] == off)
            return i;
    return -1;
}

static void on_dlq(void *ud, const rd_kafka_message_t *m)
{
    struct seen *s = ud;
    char off[32], reason[512];
    int i = kt_header(m, "switchyard-source-offset", off, sizeof off)
                    ? by_offset(s, strtoll(off, NULL, 10))
                    : -1;
    if (i < 0 || !kt_header(m, "switchyard-error", reason, sizeof reason) || !reason[0]) {
        s->unmatched++;
        return;
    }
    s->dlq[i]++;
}

static void on_result(void *ud, const rd_kafka_message_t *m)
{
    struct seen *s = ud;
    json_tokener *tok = json_tokener_new();
    json_object *o = m->payload ? json_tokener_parse_ex(tok, m->payload, (int)m->len) : NULL;
    json_tokener_free(tok);
    cr_assert_not_null(o, "a result is not JSON");
    const char *id = sy_str(o, "id");
    int done = 0;
    for (int i = 0; i < s->n && !done; i++) {
        if (!s->id[i] || strcmp(s->id[i], id) != 0)
            continue;
        if (strcmp(sy_str(o, "status"), "succeeded") == 0)
            s->ok[i]++;
        else if (sy_error_class(o)[0])
            s->failed[i]++;
        done = 1;
    }
    if (!done)
        s->unmatched++;
    json_object_put(o);
}

/* Produce one message (flushed later) and remember it. */
static void put_msg(struct hw *h, struct seen *s, struct kt_dr *drs, const char *key, size_t klen,
                    const char *val, size_t vlen, const char *result_id, int valid)
{
    cr_assert_lt(s->n, MAX_MSGS);
    int i = s->n++;
    s->id[i] = result_id ? strdup(result_id) : NULL;
    s->valid[i] = valid;
    kt_produce(h->prod, h->in, 0, key, klen, val, vlen, NULL, &drs[i]);
}

static void seen_offsets(struct seen *s, const struct kt_dr *drs)
{
    for (int i = 0; i < s->n; i++)
        s->offset[i] = drs[i].offset;
}

static void seen_free(struct seen *s)
{
    for (int i = 0; i < s->n; i++)
        free(s->id[i]);
}

/* Fakeprov, topics (the DLQ's max.message.bytes dlq_max when > 0), a worker
 * in its group, empty tallies. */
static void hw_start(struct hw *h, const char *tag, const char *gen_ms, long dlq_max,
                     const char *worker_extra, const char *props, int metrics)
{
    hw_init_dlq(h, tag, gen_ms, dlq_max);
    hw_worker(h, worker_extra, props, metrics);
    kt_wait_group(h->group, 1, 1, 30000);
    h->s = calloc(1, sizeof *h->s);
    h->drs = calloc(MAX_MSGS, sizeof *h->drs);
    cr_assert(h->s && h->drs);
}

/* Everything is produced: wait for its delivery reports, note the offsets. */
static void hw_sent(struct hw *h)
{
    kt_producer_flush(h->prod, 30000);
    seen_offsets(h->s, h->drs);
}

static void hw_free(struct hw *h)
{
    if (h->pid > 0) {
        kill(h->pid, SIGKILL);
        waitpid(h->pid, NULL, 0);
    }
    kt_producer_free(h->prod);
    if (h->s)
        seen_free(h->s);
    free(h->s);
    free(h->drs);
    cr_assert_eq(fp_stop(&h->fp), 0);
}

/* Read results and DLQ records until every valid message succeeded and every
 * invalid one is accounted for, or timeout_s passes. */
static void wait_accounted(struct seen *s, const char *out, const char *dlq, int timeout_s)
{
    struct kt_reader *rr = kt_reader_new(out), *dr = kt_reader_new(dlq);
    int64_t end = kt_now_ms() + (int64_t)timeout_s * 1000;
    for (;;) {
        size_t got = kt_reader_drain(rr, on_result, s, 1000) + kt_reader_drain(dr, on_dlq, s, 1000);
        int missing = 0;
        for (int i = 0; i < s->n; i++)
            missing += s->valid[i] ? !s->ok[i] : !(s->dlq[i] || s->failed[i]);
        if (!missing || kt_now_ms() > end)
            break;
        if (!got)
            kt_sleep_ms(200);
    }
    kt_reader_free(rr);
    kt_reader_free(dr);
}

static void assert_accounted(const struct seen *s, const char *dir)
{
    for (int i = 0; i < s->n; i++) {
        if (s->valid[i])
            cr_assert_eq(s->ok[i], 1,
                         "valid message %d (%s, offset %lld): %d succeeded results; logs in %s", i,
                         s->id[i], (long long)s->offset[i], s->ok[i], dir);
        else
            cr_assert(
                    s->dlq[i] || s->failed[i],
                    "bad message %d (offset %lld): neither dead-lettered nor a failed result; logs in %s",
                    i, (long long)s->offset[i], dir);
    }
}

static void put_valid(struct hw *h, struct seen *s, struct kt_dr *drs, int k, const char *marker)
{
    char id[32], val[160];
    snprintf(id, sizeof id, "ok-%d", k);
    int n = snprintf(val, sizeof val,
                     "{\"id\":\"%s\",\"prompt\":\"room %d%s\",\"providers\":[\"%s\"]}", id, k,
                     marker, k % 2 ? "kie" : "replicate");
    put_msg(h, s, drs, id, strlen(id), val, (size_t)n, id, 1);
}

/* H-1: an invalid job whose id (and key) is ~400 KB among valid jobs on one
 * partition. Before the fix its failed result (id three times over, > 1 MB)
 * was refused by the broker and the partition's commits froze at it. */
Test(hostile, oversized_id_offset_moves_on, .timeout = 60)
{
    struct hw h;
    hw_start(&h, "bigid", "100", 0, "", "", 0);
    struct seen *s = h.s;
    struct kt_dr *drs = h.drs;
    for (int k = 0; k < 5; k++)
        put_valid(&h, s, drs, k, "");
    size_t idlen = 400 * 1000;
    char *key = malloc(idlen), *val = malloc(idlen + 64);
    cr_assert(key && val);
    memset(key, 'a', idlen);
    int n = snprintf(val, 16, "{\"id\":\"");
    memcpy(val + n, key, idlen);
    memcpy(val + n + idlen, "\"}", 2);
    put_msg(&h, s, drs, key, idlen, val, (size_t)n + idlen + 2, NULL, 0);
    free(key);
    free(val);
    for (int k = 5; k < 10; k++)
        put_valid(&h, s, drs, k, "");
    hw_sent(&h);
    wait_accounted(s, h.out, h.dlq, 30);
    assert_accounted(s, h.dir);
    wait_committed_end(&h, 15);
    hw_free(&h);
}

/* H-1, full producer queue: with room for 2 messages in librdkafka's queue,
 * 40 quick jobs keep hitting __QUEUE_FULL. Each such result waits on a timer
 * (consumption paused) and goes out later: every job succeeds and the
 * committed offset reaches the end. Before the fix a full queue failed the
 * result for good and pinned the partition. */
Test(hostile, queue_full_retried, .timeout = 60)
{
    struct hw h;
    hw_start(&h, "qfull", "20", 0, "", "queue_buffering_max_messages = \"2\";", 0);
    for (int k = 0; k < 40; k++)
        put_valid(&h, h.s, h.drs, k, "");
    hw_sent(&h);
    wait_accounted(h.s, h.out, h.dlq, 30);
    assert_accounted(h.s, h.dir);
    wait_committed_end(&h, 15);
    hw_free(&h);
}

/* H-1, permanent delivery error: the DLQ topic takes at most 100,000 bytes
 * and an invalid 300 KB message cannot be dead-lettered even cut down. It is
 * abandoned (error line, switchyard_publish_abandoned_total) and its offset
 * still moves on; its failed result goes out. Before the fix the DLQ copy's
 * MSG_SIZE_TOO_LARGE pinned the partition. */
Test(hostile, dlq_refused_offset_moves_on, .timeout = 60)
{
    struct hw h;
    hw_start(&h, "dlqrefused", "100", 100000, "", "", 1);
    struct seen *s = h.s;
    struct kt_dr *drs = h.drs;
    size_t n = 300 * 1000;
    char *val = malloc(n);
    cr_assert_not_null(val);
    for (int k = 0; k < 3; k++)
        put_valid(&h, s, drs, k, "");
    memset(val, 'p', n);
    int head = snprintf(val, 64, "{\"id\":\"bad-0\",\"prompt\":\"");
    val[head] = 'p';
    memcpy(val + n - 2, "\"}", 2);
    put_msg(&h, s, drs, "bad-0", 5, val, n, "bad-0", 0);
    free(val);
    for (int k = 3; k < 6; k++)
        put_valid(&h, s, drs, k, "");
    hw_sent(&h);
    wait_accounted(s, h.out, h.dlq, 30);
    assert_accounted(s, h.dir);
    cr_assert_eq(s->failed[3], 1, "the invalid message got %d failed results", s->failed[3]);
    wait_committed_end(&h, 15);
    const char *want =
            "switchyard_publish_abandoned_total{kind=\"dlq\",reason=\"MSG_SIZE_TOO_LARGE\"} 1";
    char *page = sy_metrics_wait(h.port, want, 5000);
    cr_assert_not_null(strstr(page, want), "no abandoned DLQ copy counted:\n%s", page);
    free(page);
    hw_free(&h);
}

/* H-2: a worker paused at max_in_flight (3 slow jobs) is stopped past its
 * session timeout, so the group drops it and it loses the partition with
 * every job still running (nothing awaiting a delivery report); after
 * SIGCONT it gets the partition back. Before the fix it stayed paused for
 * good: no job after the first three ever ran. /healthz answers throughout;
 * it is 200 at the end. */
Test(hostile, revoke_while_paused_resumes, .timeout = 60)
{
    struct hw h;
    hw_start(&h, "paused", "100", 0, "max_in_flight = 3;",
             "session_timeout_ms = \"6000\"; heartbeat_interval_ms = \"1000\";", 1);
    struct seen *s = h.s;
    struct kt_dr *drs = h.drs;
    for (int k = 0; k < 3; k++)
        put_valid(&h, s, drs, k, " [gen:12000]");
    for (int k = 3; k < 9; k++)
        put_valid(&h, s, drs, k, "");
    hw_sent(&h);
    kt_sleep_ms(2000); /* the three slow jobs started; the worker is paused */
    char *page = sy_metrics_wait(h.port, "switchyard_consumer_paused 1", 5000);
    cr_assert_not_null(strstr(page, "switchyard_consumer_paused 1"),
                       "the worker is not paused:\n%s", page);
    free(page);
    cr_assert_eq(kill(h.pid, SIGSTOP), 0);
    kt_sleep_ms(9000); /* > session.timeout.ms: the group drops the member */
    cr_assert_eq(kill(h.pid, SIGCONT), 0);
    wait_accounted(s, h.out, h.dlq, 40);
    char *hz0 = NULL;
    long c0 = sy_http_get(h.port, "/healthz", &hz0);
    int stuck = 0;
    for (int i = 0; i < s->n; i++)
        stuck |= !s->ok[i];
    /* A worker that stayed paused with nothing in flight must say so. */
    if (stuck)
        cr_expect(c0 == 503 && hz0 && strstr(hz0, "paused with nothing in flight"),
                  "jobs are missing and /healthz says %ld %s", c0, hz0 ? hz0 : "");
    fprintf(stderr, "revoke_while_paused_resumes: /healthz %ld %s", c0, hz0 ? hz0 : "\n");
    free(hz0);
    assert_accounted(s, h.dir);
    wait_committed_end(&h, 10);
    char *body = NULL;
    long hz = sy_http_get(h.port, "/healthz", &body);
    cr_assert_eq(hz, 200, "/healthz %ld after every job finished: %s", hz, body ? body : "");
    free(body);
    hw_free(&h);
}

/* A ~1 MB value: {"id":ID,"prompt":"x","metadata":{"a":[0,0,...]}} of about len bytes. */
static size_t metadata_bomb(char *buf, size_t len, const char *id)
{
    size_t n = (size_t)snprintf(buf, len, "{\"id\":\"%s\",\"prompt\":\"x\",\"metadata\":{\"a\":[0",
                                id);
    while (n + 8 < len) {
        memcpy(buf + n, ",0", 2);
        n += 2;
    }
    memcpy(buf + n, "]}}", 3);
    return n + 3;
}

#define RSS_BOUND_MB                                                                               \
    200 /* ASan build, 8 MB quarantine: ~100 MB measured; the metadata trees kept whole took ~700 MB */

/* H-3: twelve ~1 MB values of metadata (half a million JSON numbers each)
 * at max_in_flight = 50. Peak RSS stays under RSS_BOUND_MB; every one is
 * dead-lettered or answered; the committed offset reaches the end. */
Test(hostile, metadata_values_memory_bounded, .timeout = 60)
{
    struct hw h;
    hw_start(&h, "bigmeta", "300", 0, "max_in_flight = 50;", "", 0);
    struct seen *s = h.s;
    struct kt_dr *drs = h.drs;
    size_t cap = 1000 * 1000;
    char *val = malloc(cap);
    cr_assert_not_null(val);
    put_valid(&h, s, drs, 0, "");
    for (int k = 0; k < 12; k++) {
        char id[32];
        snprintf(id, sizeof id, "meta-%d", k);
        size_t n = metadata_bomb(val, cap, id);
        put_msg(&h, s, drs, id, strlen(id), val, n, id, 0);
    }
    put_valid(&h, s, drs, 1, "");
    free(val);
    hw_sent(&h);
    wait_accounted(s, h.out, h.dlq, 40);
    long hwm = vm_hwm_kb(h.pid);
    fprintf(stderr, "metadata_values_memory_bounded: worker VmHWM %ld MB (bound %d MB)\n",
            hwm / 1024, RSS_BOUND_MB);
    assert_accounted(s, h.dir);
    wait_committed_end(&h, 15);
    cr_assert_lt(hwm, RSS_BOUND_MB * 1024L, "worker peak RSS %ld MB over %d MB", hwm / 1024,
                 RSS_BOUND_MB);
    hw_free(&h);
}

/* ---- issue 11 point 3: generated hostile input ---- */

static uint64_t rng_next(uint64_t *st)
{
    *st ^= *st << 13;
    *st ^= *st >> 7;
    *st ^= *st << 17;
    return *st;
}

enum bad_kind {
    B_RANDOM,
    B_DEEP,
    B_HUGE_NUM,
    B_NONFINITE,
    B_NUL_ESCAPE,
    B_BAD_UTF8,
    B_BIG_ID,
    B_META_BOMB,
    B_KEY_NOT_ID,
    B_NEAR_LIMIT,
    B_KINDS
};

/* Message k of kind into buf (cap bytes); sets key/klen (into kbuf) and
 * *result_id (a failed result may carry it, or NULL). Returns the length. */
static size_t make_bad(enum bad_kind kind, int k, uint64_t *rng, char *buf, size_t cap, char *kbuf,
                       size_t kcap, size_t *klen, const char **result_id)
{
    size_t n = 0;
    *result_id = NULL;
    snprintf(kbuf, kcap, "bad-%d", k);
    *klen = strlen(kbuf);
    switch (kind) {
    case B_RANDOM:
        n = 1 + rng_next(rng) % 4000;
        for (size_t i = 0; i < n; i++)
            buf[i] = (char)(rng_next(rng) & 0xff);
        break;
    case B_DEEP: {
        size_t d = 40 + rng_next(rng) % 20000;
        n = (size_t)snprintf(buf, cap, "{\"id\":\"%s\",\"prompt\":\"x\",\"metadata\":", kbuf);
        for (size_t i = 0; i < d; i++)
            buf[n++] = '[';
        for (size_t i = 0; i < d; i++)
            buf[n++] = ']';
        buf[n++] = '}';
        break;
    }
    case B_HUGE_NUM:
        n = (size_t)snprintf(buf, cap, "{\"id\":\"%s\",\"prompt\":\"x\",\"deadline_s\":%s}", kbuf,
                             k % 2 ? "1e400" : "123456789012345678901234567890");
        *result_id = kbuf;
        break;
    case B_NONFINITE:
        n = (size_t)snprintf(buf, cap, "{\"id\":\"%s\",\"prompt\":\"x\",\"deadline_s\":%s}", kbuf,
                             k % 3 == 0   ? "NaN"
                             : k % 3 == 1 ? "Infinity"
                                          : "-Infinity");
        break;
    case B_NUL_ESCAPE:
        n = (size_t)snprintf(buf, cap, "{\"id\":\"%s\",\"prompt\":\"a\\u0000b\"}", kbuf);
        break;
    case B_BAD_UTF8:
        n = (size_t)snprintf(buf, cap,
                             "{\"id\":\"%s\",\"prompt\":\"caf\xc3\x28 \xed\xa0\x80 \xff\"}", kbuf);
        break;
    case B_BIG_ID: {
        size_t idn = 300 + rng_next(rng) % 300000;
        memset(kbuf, 'i', idn < kcap ? idn : kcap);
        *klen = idn < kcap ? idn : kcap;
        n = (size_t)snprintf(buf, cap, "{\"id\":\"");
        memcpy(buf + n, kbuf, *klen);
        n += *klen;
        n += (size_t)snprintf(buf + n, cap - n, "\",\"prompt\":\"x\"}");
        break;
    }
    case B_META_BOMB:
        n = metadata_bomb(buf, 20000 + rng_next(rng) % 200000, kbuf);
        break;
    case B_KEY_NOT_ID:
        n = (size_t)snprintf(buf, cap, "{\"id\":\"ok-%d\",\"prompt\":\"x\"}", 100000 + k);
        break;
    case B_NEAR_LIMIT:
        n = 1040000 - rng_next(rng) % 2000;
        memset(buf, 'v', n);
        memcpy(buf, "{\"id\":\"", 7);
        memcpy(buf + 7, kbuf, *klen);
        memcpy(buf + 7 + *klen, "\",\"prompt\":\"", 12);
        memcpy(buf + n - 2, "\"}", 2);
        break;
    default:
        break;
    }
    return n;
}

#define HOSTILE_PER_KIND 21
#define HOSTILE_VALID 40
#define HOSTILE_RSS_MB                                                                             \
    150 /* ASan build, 8 MB quarantine: ~60 MB measured; ~220 MB before the metadata caps */

/* 210 bad messages of ten kinds among 40 valid jobs on one partition: every
 * valid job succeeds, every bad message is dead-lettered or gets a failed
 * result, the committed offset reaches the end, the same worker process
 * survives and its peak RSS stays under HOSTILE_RSS_MB. */
Test(hostile, generated_bad_input, .timeout = 60)
{
    struct hw h;
    hw_start(&h, "hostile", "50", 0, "", "", 0);
    struct seen *s = h.s;
    struct kt_dr *drs = h.drs;
    size_t cap = 1100 * 1000, kcap = 310 * 1000;
    char *buf = malloc(cap), *kbuf = malloc(kcap);
    cr_assert(buf && kbuf);
    uint64_t rng = 0x9e3779b97f4a7c15ULL;
    int v = 0, total_bad = HOSTILE_PER_KIND * B_KINDS;
    for (int k = 0; k < total_bad; k++) {
        if (k % 5 == 0 && v < HOSTILE_VALID)
            put_valid(&h, s, drs, v++, "");
        size_t klen = 0;
        const char *rid = NULL;
        size_t n =
                make_bad((enum bad_kind)(k % B_KINDS), k, &rng, buf, cap, kbuf, kcap, &klen, &rid);
        put_msg(&h, s, drs, kbuf, klen, buf, n, rid, 0);
        if (k % 20 == 19)
            kt_producer_flush(h.prod, 30000);
    }
    while (v < HOSTILE_VALID)
        put_valid(&h, s, drs, v++, "");
    hw_sent(&h);
    free(buf);
    free(kbuf);
    wait_accounted(s, h.out, h.dlq, 40);
    int status;
    cr_assert_eq(kt_worker_exited(h.pid, &status), 0, "the worker exited (status %d); logs in %s",
                 status, h.dir);
    long hwm = vm_hwm_kb(h.pid);
    fprintf(stderr, "generated_bad_input: %d bad + %d valid; worker VmHWM %ld MB (bound %d MB)\n",
            total_bad, HOSTILE_VALID, hwm / 1024, HOSTILE_RSS_MB);
    assert_accounted(s, h.dir);
    wait_committed_end(&h, 15);
    cr_assert_eq(kt_worker_exited(h.pid, &status), 0, "the worker exited (status %d); logs in %s",
                 status, h.dir);
    cr_assert_lt(hwm, HOSTILE_RSS_MB * 1024L, "worker peak RSS %ld MB over %d MB", hwm / 1024,
                 HOSTILE_RSS_MB);
    hw_free(&h);
}

/* Readiness rule (pure): paused with nothing in flight is not ready. */
Test(hostile, readiness_paused_idle_is_unready)
{
    cr_assert_null(metrics_kafka_unready(1, 0, 0, 1, 0, 0));
    cr_assert_null(metrics_kafka_unready(1, 0, 0, 1, 1, 3));
    cr_assert_str_eq(metrics_kafka_unready(1, 0, 0, 1, 1, 0),
                     "consumption paused with nothing in flight");
    cr_assert_not_null(metrics_kafka_unready(1, 0, 0, 0, 0, 0));
    cr_assert_not_null(metrics_kafka_unready(0, 0, 0, 0, 0, 0));
    cr_assert_not_null(metrics_kafka_unready(1, 1, 0, 1, 0, 0));
}

/* One broker shared with other files: one test at a time. */
int main(int argc, char *argv[])
{
    return kt_run_serial(argc, argv);
}
