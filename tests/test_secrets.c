/* test_secrets.c — API keys never leave the process except in the
 * Authorization header sent to the provider.
 *
 * fakeprov expects two distinctive keys; switchyard gets them through the
 * environment and runs jobs that succeed, hit every fault kind fakeprov can
 * inject (create and poll), and are invalid. Everything the worker writes —
 * debug logs (stderr), batch results, Kafka results and DLQ records (keys,
 * values and header values), config-error messages — is captured and must
 * not contain either key, any 8-character piece of one, "Bearer " or
 * "Authorization". Logs must also be JSON lines with ts, level and msg.
 *
 * The Kafka test needs $SY_KAFKA_BROKERS (scripts/test.sh sets it). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include <criterion/criterion.h>
#include <json-c/json.h>

#include "kafkatest.h"
#include "sytest.h"

#define KIE_KEY "sk-kie-SECRET-5f1c9e"
#define REP_KEY "r8_SECRET_ab12cd"
#define PIECE 8 /* any run of this many characters of a key is a leak */

static const char *const fp_args[] = { "--kie-key", KIE_KEY,    "--replicate-key",
                                       REP_KEY,     "--gen-ms", "300",
                                       "--hang-ms", "2500",     NULL };

/* Breaker and retry budget out of the way: every fault reaches a provider. */
#define PROV_EXTRA                                                                                    \
    "breaker = { window = 1000; min_calls = 1000; failure_rate = 1.0; }; retry = { max_attempts = 3;" \
    " backoff_base_ms = 100; backoff_max_ms = 400; budget_ratio = 1.0; budget_min_per_s = 100.0; };"

/* ---- captured bytes ---- */

struct sbuf {
    char *p;
    size_t n, cap;
};

/* Room for n more bytes and a NUL. */
static void sb_reserve(struct sbuf *b, size_t n)
{
    if (b->n + n + 2 <= b->cap)
        return;
    size_t cap = (b->n + n + 2) * 2;
    char *np = realloc(b->p, cap);
    cr_assert_not_null(np);
    b->p = np;
    b->cap = cap;
}

static void sb_add(struct sbuf *b, const void *d, size_t n)
{
    sb_reserve(b, n);
    if (n)
        memcpy(b->p + b->n, d, n);
    b->n += n;
    b->p[b->n++] = '\n'; /* keep pieces apart: no false match across them */
    b->p[b->n] = '\0';
}

static void sb_file(struct sbuf *b, const char *path)
{
    FILE *f = fopen(path, "r");
    cr_assert_not_null(f, "%s: %s", path, strerror(errno));
    char chunk[65536];
    size_t n;
    while ((n = fread(chunk, 1, sizeof chunk, f)) > 0) {
        sb_reserve(b, n);
        memcpy(b->p + b->n, chunk, n);
        b->n += n;
        b->p[b->n] = '\0';
    }
    fclose(f);
}

/* First offset of needle (nlen bytes) in hay, or -1; icase: ASCII case-insensitive. */
static long find(const char *hay, size_t n, const char *needle, size_t nlen, int icase)
{
    for (size_t i = 0; i + nlen <= n; i++)
        if (icase ? strncasecmp(hay + i, needle, nlen) == 0 : memcmp(hay + i, needle, nlen) == 0)
            return (long)i;
    return -1;
}

/* Fails with the offending bytes' surroundings (printable). */
static void leak(const char *what, const struct sbuf *b, long at, const char *found)
{
    char ctx[161];
    size_t from = at > 60 ? (size_t)at - 60 : 0, k = 0;
    for (size_t i = from; i < b->n && k < sizeof ctx - 1; i++)
        ctx[k++] = b->p[i] >= 0x20 && b->p[i] < 0x7f ? b->p[i] : '.';
    ctx[k] = '\0';
    cr_assert_fail("%s contains \"%s\" at byte %ld: ...%s...", what, found, at, ctx);
}

/* The first forbidden string found in b (a key piece is copied to piece),
 * with its offset in *at; NULL when b is clean. */
static const char *first_leak(const struct sbuf *b, long *at, char piece[PIECE + 1])
{
    static const char *const keys[] = { KIE_KEY, REP_KEY };
    for (size_t k = 0; k < 2; k++) {
        size_t len = strlen(keys[k]);
        for (size_t i = 0; i + PIECE <= len; i++) {
            if ((*at = find(b->p, b->n, keys[k] + i, PIECE, 0)) >= 0) {
                memcpy(piece, keys[k] + i, PIECE);
                piece[PIECE] = '\0';
                return piece;
            }
        }
    }
    /* "Bearer " exactly: librdkafka's feature list says "SASL_OAUTHBEARER ";
     * the header name in any case, as HTTP/2 writes it lowercased. */
    if ((*at = find(b->p, b->n, "Bearer ", 7, 0)) >= 0)
        return "Bearer ";
    if ((*at = find(b->p, b->n, "Authorization", 13, 0)) >= 0)
        return "Authorization";
    if ((*at = find(b->p, b->n, "authorization:", 14, 1)) >= 0)
        return "authorization:";
    return NULL;
}

static void assert_clean(const char *what, const struct sbuf *b)
{
    long at;
    char piece[PIECE + 1];
    const char *found = first_leak(b, &at, piece);
    if (found)
        leak(what, b, at, found);
}

/* Every line is a JSON object with string ts, level and msg; returns the
 * number of lines. */
static int assert_json_lines(const char *what, const struct sbuf *b)
{
    int lines = 0;
    const char *p = b->p, *end = b->p + b->n;
    while (p < end) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        size_t len = nl ? (size_t)(nl - p) : (size_t)(end - p);
        if (len > 0) {
            lines++;
            json_tokener *tok = json_tokener_new();
            json_object *o = json_tokener_parse_ex(tok, p, (int)len);
            int complete = json_tokener_get_error(tok) == json_tokener_success &&
                           (size_t)json_tokener_get_parse_end(tok) == len;
            json_tokener_free(tok);
            int ok = o && complete && json_object_is_type(o, json_type_object);
            const char *keys[] = { "ts", "level", "msg" };
            for (int k = 0; ok && k < 3; k++) {
                json_object *v;
                ok = json_object_object_get_ex(o, keys[k], &v) &&
                     json_object_is_type(v, json_type_string);
            }
            json_object_put(o);
            if (!ok)
                cr_assert_fail("%s line %d is not a JSON object with ts, level, msg: %.*s", what,
                               lines, (int)(len > 300 ? 300 : len), p);
        }
        p += len + 1;
    }
    return lines;
}

static void sb_free(struct sbuf *b)
{
    free(b->p);
    memset(b, 0, sizeof *b);
}

static void use_secret_keys(void)
{
    /* after sy_prepare / kt_write_config, which set the default test keys */
    setenv("SYTEST_KIE_KEY", KIE_KEY, 1);
    setenv("SYTEST_REPLICATE_KEY", REP_KEY, 1);
}

/* The detector itself: it must see a key cut anywhere, and nothing in
 * ordinary log text. */
Test(secrets, detector_self_check)
{
    static const char *const dirty[] = { "x" KIE_KEY "y", "...SECRET-5f1...", "id=r8_SECRET_ab",
                                         "ECRET_ab12cd",  "Authorization: x", "authorization: x",
                                         "Bearer abc" };
    static const char *const clean[] = { "SASL_OAUTHBEARER CRC32C", "sk-kie-", "SECRET", "r8_SECR",
                                         "{\"msg\":\"provider_auth\"}" };
    long at;
    char piece[PIECE + 1];
    for (size_t i = 0; i < sizeof dirty / sizeof *dirty; i++) {
        struct sbuf b = { 0 };
        sb_add(&b, dirty[i], strlen(dirty[i]));
        cr_expect_not_null(first_leak(&b, &at, piece), "missed a leak in \"%s\"", dirty[i]);
        sb_free(&b);
    }
    for (size_t i = 0; i < sizeof clean / sizeof *clean; i++) {
        struct sbuf b = { 0 };
        sb_add(&b, clean[i], strlen(clean[i]));
        cr_expect_null(first_leak(&b, &at, piece), "false alarm on \"%s\"", clean[i]);
        sb_free(&b);
    }
}

/* ---- the jobs ---- */

static const char *const create_faults[] = { "422",       "455",  "http500",     "http502",
                                             "http503",   "429",  "429-noretry", "malformed",
                                             "truncated", "hang", "fail" };
static const char *const poll_faults[] = { "422",       "http500", "malformed",
                                           "truncated", "hang",    "fail" };
static const char *const auth_faults[] = { "401", "402" };
#define N_OF(a) (sizeof(a) / sizeof *(a))

static void job(FILE *f, const char *prefix, const char *kind, const char *fault,
                const char *marker, const char *extra)
{
    fprintf(f, "{\"id\":\"%s%s-%s\",\"prompt\":\"A room [%s:%s]\",\"deadline_s\":12%s}\n", prefix,
            kind, fault, marker, fault, extra);
}

/* Writes one job per line to f: successes, then (auth = 0) every create
 * fault on any provider, on KIE only (Replicate takes over) and on
 * Replicate, and every poll fault on each provider; or (auth = 1) the
 * credential faults, which take a provider out of service for every job and
 * so get a run of their own. Returns the number of jobs. */
static int write_jobs(FILE *f, const char *prefix, int auth)
{
    static const char *const rep = ",\"providers\":[\"replicate\"]";
    int n = 0;
    for (int i = 0; i < 4; i++, n++)
        fprintf(f, "{\"id\":\"%sok-%d\",\"prompt\":\"A calm room %d\"%s}\n", prefix, i, i,
                i % 2 ? rep : "");
    const char *const *cf = auth ? auth_faults : create_faults;
    size_t ncf = auth ? N_OF(auth_faults) : N_OF(create_faults);
    for (size_t i = 0; i < ncf; i++, n += 3) {
        job(f, prefix, "c", cf[i], "fault", "");
        job(f, prefix, "k", cf[i], "fault@kie", "");
        job(f, prefix, "r", cf[i], "fault@replicate", rep);
    }
    const char *const *pf = auth ? auth_faults : poll_faults;
    size_t npf = auth ? N_OF(auth_faults) : N_OF(poll_faults);
    for (size_t i = 0; i < npf; i++, n += 2) {
        job(f, prefix, "p", pf[i], "pollfault", "");
        job(f, prefix, "pr", pf[i], "pollfault", rep);
    }
    return n;
}

/* ---- (a) batch mode with debug logging ---- */

/* One `switchyard run -v` over the jobs of write_jobs(auth) plus the
 * invalid-jobs fixture and a cut last line; checks its stderr and results. */
static void batch_run(const struct fakeprov *fp, int auth)
{
    struct sy_run r;
    /* -v gives debug logs */
    sy_prepare(&r, fp, "request_timeout_ms = 1500;", PROV_EXTRA, 0, NULL);
    use_secret_keys();
    FILE *f = fopen(r.jobs, "w");
    cr_assert_not_null(f);
    int valid = write_jobs(f, "", auth);
    FILE *inv = fopen(SY_FIXTURES "/jobs/invalid.jsonl", "r");
    cr_assert_not_null(inv);
    char line[4096];
    int invalid = 0;
    while (fgets(line, sizeof line, inv)) {
        fputs(line, f);
        invalid++;
    }
    fclose(inv);
    fputs("\n{\"id\":\"trunc\",\"prompt\":\"half a li", f); /* and a last line with no newline */
    fclose(f);

    char log[320];
    snprintf(log, sizeof log, "%s/stderr.log", r.dir);
    const char *args[] = { "run", "-v", "-c", r.conf, "--jobs", r.jobs, "--out", r.out, NULL };
    int rc = sy_wait(sy_spawn_cmd(args, NULL, log), 90);
    cr_assert_eq(rc, 0, "switchyard run exited %d; logs in %s", rc, log);

    json_object *res = sy_read_results(r.out);
    int succeeded = 0;
    for (size_t i = 0; i < json_object_array_length(res); i++)
        succeeded += strcmp(sy_str(json_object_array_get_idx(res, i), "status"), "succeeded") == 0;
    cr_assert_geq((int)json_object_array_length(res), valid, "%zu results for %d valid jobs",
                  json_object_array_length(res), valid);
    cr_assert_geq(succeeded, 4, "only %d jobs succeeded", succeeded);
    json_object_put(res);

    struct sbuf logs = { 0 }, out = { 0 };
    sb_file(&logs, log);
    sb_file(&out, r.out);
    int lines = assert_json_lines("stderr", &logs);
    cr_assert_gt(lines, valid, "only %d log lines at debug level for %d jobs", lines, valid);
    assert_clean("stderr (debug logs)", &logs);
    /* curl's diagnostics go through the logger at debug level: the request
     * lines are there, and the credential header only as a redaction. */
    static const char curl_req[] = "\"msg\":\"curl > POST ",
                      curl_red[] = "curl > [credential header redacted]";
    cr_assert_geq(find(logs.p, logs.n, curl_req, strlen(curl_req), 0), 0,
                  "no curl request line in %s", log);
    cr_assert_geq(find(logs.p, logs.n, curl_red, strlen(curl_red), 0), 0,
                  "no redacted credential header in %s", log);
    assert_clean("results file", &out);
    cr_log_info(
            "batch%s: %d valid + %d invalid lines, %d succeeded, %d log lines, %zu result bytes: no key",
            auth ? " (auth faults)" : "", valid, invalid, succeeded, lines, out.n);
    sb_free(&logs);
    sb_free(&out);
}

Test(secrets, batch_debug_logs_and_results, .timeout = 150)
{
    struct fakeprov fp;
    fp_start(&fp, fp_args);
    batch_run(&fp, 0);
    batch_run(&fp, 1);
    cr_assert_eq(fp_stop(&fp), 0);
}

/* ---- (b) Kafka worker: results, DLQ, headers ---- */

struct capture {
    struct sbuf bytes;
    long records;
};

static void on_record(void *ud, const rd_kafka_message_t *m)
{
    struct capture *c = ud;
    c->records++;
    sb_add(&c->bytes, m->key, m->key ? m->key_len : 0);
    sb_add(&c->bytes, m->payload, m->payload ? m->len : 0);
    rd_kafka_headers_t *hdrs = NULL;
    if (rd_kafka_message_headers(m, &hdrs) != RD_KAFKA_RESP_ERR_NO_ERROR || !hdrs)
        return;
    const char *name;
    const void *val;
    size_t size;
    for (size_t i = 0;
         rd_kafka_header_get_all(hdrs, i, &name, &val, &size) == RD_KAFKA_RESP_ERR_NO_ERROR; i++) {
        sb_add(&c->bytes, name, strlen(name));
        sb_add(&c->bytes, val, val ? size : 0);
    }
}

Test(secrets, kafka_worker_results_dlq_logs, .timeout = 180)
{
    struct fakeprov fp;
    fp_start(&fp, fp_args);
    char dir[256], conf[320], log[320], group[96], in[96], outt[96], dlq[96];
    sy_tmpdir(dir, sizeof dir);
    snprintf(conf, sizeof conf, "%s/k.conf", dir);
    snprintf(log, sizeof log, "%s/worker.log", dir);
    kt_unique(group, sizeof group, "sec-g");
    kt_unique(in, sizeof in, "sec-in");
    kt_unique(outt, sizeof outt, "sec-out");
    kt_unique(dlq, sizeof dlq, "sec-dlq");
    kt_create_topic(in, 2, 0);
    kt_create_topic(outt, 1, 0);
    kt_create_topic(dlq, 1, 0);
    struct kt_topics t = { .group = group, .input = in, .output = outt, .dlq = dlq };
    /* librdkafka's own debug output goes through the same logger: turn some on. */
    kt_write_config(&fp, conf, &t,
                    "log_level = \"debug\"; request_timeout_ms = 1500; shutdown_grace_s = 5;",
                    PROV_EXTRA, "debug = \"generic,broker,topic,msg\";");
    use_secret_keys();
    pid_t w = kt_worker_start(conf, log);
    kt_wait_group(group, 1, 2, 60000);

    /* good and faulty jobs, written as JSONL then produced line by line */
    char jobs[320];
    snprintf(jobs, sizeof jobs, "%s/jobs.jsonl", dir);
    FILE *f = fopen(jobs, "w");
    cr_assert_not_null(f);
    int valid = write_jobs(f, "kf-", 0);
    valid += write_jobs(f, "kfa-", 1);
    fclose(f);
    struct kt_producer *p = kt_producer_new();
    const char *hdrs[] = { "x-test", "keep-me", "traceparent",
                           "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01", NULL };
    f = fopen(jobs, "r");
    char line[1024];
    int i = 0;
    while (fgets(line, sizeof line, f)) {
        line[strcspn(line, "\n")] = '\0';
        json_object *o = json_tokener_parse(line);
        const char *id = sy_str(o, "id");
        kt_produce(p, in, i++ % 2, id, strlen(id), line, strlen(line), hdrs, NULL);
        json_object_put(o);
    }
    fclose(f);
    /* malformed messages: 2 whose key is their valid id (they also get a failed result; a key that
     * does not match, or no key, gets none: the id is not the message's to answer for) */
    struct {
        const char *key, *val;
    } bad[] = {
        { "m-notjson", "not json at all" },
        { "m-noprompt", "{\"id\":\"m-noprompt\"}" },
        { "m-badfmt", "{\"id\":\"m-badfmt\",\"prompt\":\"x\",\"output_format\":\"webp\"}" },
        { "other-key", "{\"id\":\"m-keymismatch\",\"prompt\":\"x\"}" },
        { NULL, "{\"id\":\"m-nokey\",\"prompt\":\"x\"}" },
        { "m-empty", "" },
        { "m-array", "[\"m-array\",\"a room\"]" },
    };
    int n_bad = (int)(sizeof bad / sizeof *bad);
    for (int k = 0; k < n_bad; k++)
        kt_produce(p, in, k % 2, bad[k].key, bad[k].key ? strlen(bad[k].key) : 0, bad[k].val,
                   strlen(bad[k].val), k % 2 ? hdrs : NULL, NULL);
    kt_producer_flush(p, 30000);
    kt_producer_free(p);

    struct capture res = { 0 }, dl = { 0 };
    struct kt_reader *rr = kt_reader_new(outt), *dr = kt_reader_new(dlq);
    int64_t end = kt_now_ms() + 90000;
    while (kt_now_ms() < end && (res.records < valid + 2 || dl.records < n_bad)) {
        size_t got = kt_reader_drain(rr, on_record, &res, 2000) +
                     kt_reader_drain(dr, on_record, &dl, 2000);
        if (got == 0)
            kt_sleep_ms(300);
    }
    int rc = kt_worker_stop(w, 30, NULL);
    kt_reader_drain(rr, on_record, &res, 3000);
    kt_reader_drain(dr, on_record, &dl, 3000);
    kt_reader_free(rr);
    kt_reader_free(dr);
    cr_assert_eq(rc, 0, "worker exited %d after SIGTERM; log %s", rc, log);
    cr_assert_geq(res.records, valid + 2,
                  "%ld results for %d valid jobs + 2 invalid ones keyed by their id", res.records,
                  valid);
    cr_assert_geq(dl.records, n_bad, "%ld DLQ records for %d malformed messages", dl.records,
                  n_bad);

    struct sbuf logs = { 0 };
    sb_file(&logs, log);
    int lines = assert_json_lines("worker stderr", &logs);
    assert_clean("worker stderr (debug logs)", &logs);
    assert_clean("results topic (keys, values, headers)", &res.bytes);
    assert_clean("DLQ topic (keys, values, headers)", &dl.bytes);
    cr_log_info("kafka: %ld results, %ld DLQ records, %d log lines: no key", res.records,
                dl.records, lines);
    sb_free(&logs);
    sb_free(&res.bytes);
    sb_free(&dl.bytes);
    cr_assert_eq(fp_stop(&fp), 0);
}

/* ---- config errors while the key is in the environment ---- */

Test(secrets, config_errors_near_the_key, .timeout = 30)
{
    static const char *const broken[] = {
        "    base_url = \"http://127.0.0.1:1\"; api_key_env = \"SYTEST_KIE_KEY\" oops; }\n",
        "    base_url = \"http://127.0.0.1:1\"; api_key_env = SYTEST_KIE_KEY; }\n",
        "    base_url = \"http://127.0.0.1:1\"; api_key_env = 42; }\n",
        "    base_url = \"http://127.0.0.1:1\"; api_key_env = \"SYTEST_KIE_KEY\"; api_key = \"x\"; }\n",
        "    base_url = \"http://127.0.0.1:1\"; api_key_env = \"SYTEST_KIE_KEY\"; priority = 2; }\n",
        "    base_url = \"not a url\"; api_key_env = \"SYTEST_KIE_KEY\"; }\n",
        "    base_url = \"http://127.0.0.1:1\"; api_key_env = \"\"; }\n",
    };
    use_secret_keys();
    char dir[256];
    sy_tmpdir(dir, sizeof dir);
    for (size_t k = 0; k < sizeof broken / sizeof *broken; k++) {
        char conf[320], out[320], err[320];
        snprintf(conf, sizeof conf, "%s/bad%zu.conf", dir, k);
        snprintf(out, sizeof out, "%s/bad%zu.out", dir, k);
        snprintf(err, sizeof err, "%s/bad%zu.err", dir, k);
        FILE *f = fopen(conf, "w");
        cr_assert_not_null(f);
        fprintf(f, "providers = (\n  { name = \"kie\"; type = \"kie\"; priority = 1;\n%s);\n",
                broken[k]);
        fclose(f);
        const char *args[] = { "-c", conf, "--check-config", NULL };
        int rc = sy_wait(sy_spawn_cmd(args, out, err), 20);
        struct sbuf b = { 0 };
        sb_file(&b, out);
        sb_file(&b, err);
        cr_assert_eq(rc, 2, "%s: exit %d (want 2): %s", conf, rc, b.p ? b.p : "");
        cr_assert(b.p && strncmp(b.p, conf, strlen(conf)) == 0 && b.p[strlen(conf)] == ':',
                  "%s: message does not start with the file name: %s", conf, b.p ? b.p : "");
        assert_clean(conf, &b);
        sb_free(&b);
    }
}
