/* test_e2e_malformed.c — malformed Kafka input end to end: real broker
 * ($SY_KAFKA_BROKERS), a real `switchyard -c` worker, fakeprov as both
 * providers. Every malformed record lands in the DLQ once, verbatim, and the
 * worker keeps serving. Split from test_e2e_kafka.c (same world, e2eworld.h);
 * it shares the one broker, so it runs its tests one at a time too and, like
 * every Kafka test, after the broker-freeze test (tests/CMakeLists.txt). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <criterion/criterion.h>
#include <json-c/json.h>

#include "e2eworld.h"
#include "kafkatest.h"
#include "sytest.h"

/* ---- malformed input ---- */

struct bad_input {
    const char *name;
    char *key; /* NULL = null key */
    size_t klen;
    char *val; /* NULL = null value */
    size_t vlen;
    const char *result_id; /* a failed invalid_input result must carry this id; NULL = no result */
    int with_headers;
    struct kt_dr dr;
    int seen; /* DLQ records for it */
};

struct corpus {
    struct bad_input v[48];
    int n;
};

static struct bad_input *add_bad(struct corpus *c, const char *name, const char *key,
                                 const void *val, size_t vlen, const char *result_id)
{
    cr_assert_lt(c->n, 48);
    struct bad_input *b = &c->v[c->n++];
    memset(b, 0, sizeof *b);
    b->name = name;
    if (key) {
        b->key = strdup(key);
        b->klen = strlen(key);
    }
    if (val) {
        b->val = malloc(vlen + 1);
        cr_assert_not_null(b->val);
        memcpy(b->val, val, vlen);
        b->val[vlen] = '\0';
        b->vlen = vlen;
    }
    b->result_id = result_id;
    return b;
}

static struct bad_input *add_bad_str(struct corpus *c, const char *name, const char *key,
                                     const char *val, const char *result_id)
{
    return add_bad(c, name, key, val, strlen(val), result_id);
}

#define BIG_VALUE (2 * 1024 * 1024)
#define DLQ_CUT (900 * 1024) /* what kworker.c keeps of a value the DLQ topic refuses */

static void build_corpus(struct corpus *c)
{
    c->n = 0;
    add_bad_str(c, "not JSON", "m-01", "hello world", NULL)->with_headers = 1;
    add_bad_str(c, "prompt of the wrong type", "m-02", "{\"id\":\"m-02\",\"prompt\":42}", "m-02");
    add_bad_str(c, "missing id", "m-03", "{\"prompt\":\"a room\"}", NULL);
    add_bad_str(c, "missing prompt", "m-04", "{\"id\":\"m-04\"}", "m-04");
    add_bad_str(c, "edit without images", "m-05",
                "{\"id\":\"m-05\",\"operation\":\"edit\",\"prompt\":\"x\"}", "m-05");
    {
        char *big = malloc(BIG_VALUE);
        cr_assert_not_null(big);
        const char *head = "{\"id\":\"m-06\",\"prompt\":\"";
        memset(big, 'a', BIG_VALUE);
        memcpy(big, head, strlen(head));
        memcpy(big + BIG_VALUE - 2, "\"}", 2);
        add_bad(c, "2 MiB value", "m-06", big, BIG_VALUE, NULL);
        free(big);
    }
    add_bad_str(c, "invalid UTF-8", "m-07", "{\"id\":\"m-07\",\"prompt\":\"caf\xc3\x28 \xff\"}",
                NULL);
    add_bad_str(c, "unknown operation", "m-08",
                "{\"id\":\"m-08\",\"operation\":\"upscale\",\"prompt\":\"x\"}", "m-08");
    {
        const int depth = 10000;
        size_t cap = 64 + 2 * (size_t)depth;
        char *deep = malloc(cap);
        cr_assert_not_null(deep);
        size_t n = (size_t)snprintf(deep, cap, "{\"id\":\"m-09\",\"prompt\":\"x\",\"metadata\":");
        memset(deep + n, '[', (size_t)depth);
        n += (size_t)depth;
        memset(deep + n, ']', (size_t)depth);
        n += (size_t)depth;
        deep[n++] = '}';
        add_bad(c, "10,000-deep nesting", "m-09", deep, n, NULL);
        free(deep);
    }
    add_bad(c, "empty value", "m-10", "", 0, NULL);
    add_bad(c, "null value (tombstone)", "m-11", NULL, 0, NULL);
    /* No failed result when the key is not the id: the message does not own that id. */
    add_bad_str(c, "null key", NULL, "{\"id\":\"m-12\",\"prompt\":\"x\"}", NULL);
    add_bad_str(c, "key is not the id", "not-m-13", "{\"id\":\"m-13\",\"prompt\":\"x\"}", NULL);
    add_bad_str(c, "NaN", "m-14", "{\"id\":\"m-14\",\"prompt\":\"x\",\"deadline_s\":NaN}", "m-14");
    add_bad_str(c, "trailing garbage", "m-15", "{\"id\":\"m-15\",\"prompt\":\"x\"} garbage", NULL);
    add_bad_str(c, "deadline 1e300", "m-16",
                "{\"id\":\"m-16\",\"prompt\":\"x\",\"deadline_s\":1e300}", "m-16");
    add_bad_str(c, "deadline past int64", "m-17",
                "{\"id\":\"m-17\",\"prompt\":\"x\",\"deadline_s\":99999999999999999999999}",
                "m-17");
    add_bad_str(c, "array instead of object", "m-18", "[{\"id\":\"m-18\",\"prompt\":\"x\"}]", NULL);
    add_bad_str(c, "id of the wrong type", "m-19", "{\"id\":19,\"prompt\":\"x\"}", NULL);
    add_bad(c, "NUL byte", "m-20", "{\"id\":\"m-20\",\"prompt\":\"a\0b\"}", 27, NULL);
    add_bad_str(c, "unknown key", "m-21", "{\"id\":\"m-21\",\"prompt\":\"x\",\"colour\":\"red\"}",
                "m-21");
    add_bad_str(c, "blank prompt", "m-22", "{\"id\":\"m-22\",\"prompt\":\"   \"}", "m-22");
    add_bad_str(c, "unknown output format", "m-23",
                "{\"id\":\"m-23\",\"prompt\":\"x\",\"output_format\":\"gif\"}", "m-23");
    add_bad_str(c, "JSON null", "m-24", "null", NULL);
    add_bad_str(c, "JSON string", "m-25", "\"just a string\"", NULL);
    add_bad_str(c, "cut short", "m-26", "{\"id\":\"m-26\",\"prompt\":\"x\"", NULL);
    add_bad_str(c, "negative deadline", "m-27",
                "{\"id\":\"m-27\",\"prompt\":\"x\",\"deadline_s\":-5}", "m-27");
    add_bad_str(c, "whitespace only", "m-28", " \n\t ", NULL);
    add_bad_str(
            c, "image_urls not an array", "m-29",
            "{\"id\":\"m-29\",\"operation\":\"edit\",\"prompt\":\"x\",\"image_urls\":\"http://a/b.png\"}",
            "m-29");
    {
        size_t plen = 20001;
        char *v = malloc(plen + 64);
        cr_assert_not_null(v);
        size_t n = (size_t)snprintf(v, 64, "{\"id\":\"m-30\",\"prompt\":\"");
        memset(v + n, 'p', plen);
        n += plen;
        memcpy(v + n, "\"}", 2);
        add_bad(c, "prompt over 20,000 characters", "m-30", v, n + 2, "m-30");
        free(v);
    }
    add_bad_str(c, "single quotes", "m-31", "{'id':'m-31','prompt':'x'}", NULL);
}

static void corpus_free(struct corpus *c)
{
    for (int i = 0; i < c->n; i++) {
        free(c->v[i].key);
        free(c->v[i].val);
    }
}

struct dlq_check {
    struct corpus *c;
    const char *input_topic;
    long records, unmatched, bad;
    char first_bad[300];
};

static void dlq_bad(struct dlq_check *d, const char *name, const char *what)
{
    if (!d->bad++)
        snprintf(d->first_bad, sizeof d->first_bad, "%s: %s", name, what);
}

static void on_dlq(void *ud, const rd_kafka_message_t *m)
{
    struct dlq_check *d = ud;
    d->records++;
    char part[32], off[32], topic[256], reason[512], trunc[32], custom[64];
    if (!kt_header(m, "switchyard-source-partition", part, sizeof part) ||
        !kt_header(m, "switchyard-source-offset", off, sizeof off)) {
        d->unmatched++;
        return;
    }
    struct bad_input *b = NULL;
    for (int i = 0; i < d->c->n && !b; i++) {
        struct bad_input *x = &d->c->v[i];
        if (x->dr.partition == atoi(part) && x->dr.offset == strtoll(off, NULL, 10))
            b = x;
    }
    if (!b) {
        d->unmatched++;
        return;
    }
    b->seen++;
    if (!kt_header(m, "switchyard-error", reason, sizeof reason) || !reason[0])
        dlq_bad(d, b->name, "no switchyard-error header");
    if (!kt_header(m, "switchyard-source-topic", topic, sizeof topic) ||
        strcmp(topic, d->input_topic) != 0)
        dlq_bad(d, b->name, "wrong switchyard-source-topic");
    if ((b->key == NULL) != (m->key == NULL) ||
        (b->key && (m->key_len != b->klen || memcmp(m->key, b->key, b->klen) != 0)))
        dlq_bad(d, b->name, "key differs from the original");
    size_t want = b->vlen;
    if (b->vlen == BIG_VALUE) {
        /* The DLQ topic keeps the broker's 1 MB default, so the worker re-sends a cut copy. */
        char num[32];
        snprintf(num, sizeof num, "%d", BIG_VALUE);
        if (!kt_header(m, "switchyard-truncated-from", trunc, sizeof trunc) ||
            strcmp(trunc, num) != 0)
            dlq_bad(d, b->name, "no switchyard-truncated-from header with the original size");
        want = DLQ_CUT;
    }
    if (m->len != want || (want && (!m->payload || memcmp(m->payload, b->val, want) != 0)))
        dlq_bad(d, b->name, "value bytes differ from the original");
    if (b->with_headers &&
        (!kt_header(m, "x-test", custom, sizeof custom) || strcmp(custom, "keep-me") != 0))
        dlq_bad(d, b->name, "the original headers were not kept");
    if (b->with_headers && !kt_header(m, "traceparent", custom, sizeof custom))
        dlq_bad(d, b->name, "the original traceparent header was not kept");
    fprintf(stderr, "  dlq: %-32s -> %s\n", b->name, reason);
}

/* Results of the malformed test: every result object, for lookups by id. */
static void on_result_collect(void *ud, const rd_kafka_message_t *m)
{
    json_object *arr = ud;
    json_tokener *tok = json_tokener_new();
    json_object *o = m->payload ? json_tokener_parse_ex(tok, m->payload, (int)m->len) : NULL;
    json_tokener_free(tok);
    cr_assert_not_null(o, "a result is not JSON");
    json_object_array_add(arr, o);
}

static int count_id(json_object *arr, const char *id, const char *status, const char *error_class)
{
    int n = 0;
    for (size_t i = 0; i < json_object_array_length(arr); i++) {
        json_object *o = json_object_array_get_idx(arr, i);
        if (strcmp(sy_str(o, "id"), id) != 0)
            continue;
        if (status && strcmp(sy_str(o, "status"), status) != 0)
            continue;
        if (error_class && strcmp(sy_error_class(o), error_class) != 0)
            continue;
        n++;
    }
    return n;
}

/* 31 malformed inputs between 10 valid jobs: each malformed one lands in the
 * DLQ once, verbatim (the 2 MiB one as the documented cut copy), with its
 * reason and source coordinates; readable ids also get a failed
 * invalid_input result; valid jobs succeed, and a job sent after the corpus
 * still succeeds; SIGTERM exits 0. */
Test(e2e, malformed_corpus_to_dlq, .timeout = 120)
{
    const int N_VALID = 11; /* job-0..9 among the corpus, job-10 after it */
    struct world w;
    world_init(&w, "dlq", 3, N_VALID, "100", 4L * 1024 * 1024);
    pid_t a = world_worker(&w, "w1", "", "");
    kt_wait_group(w.group, 1, 3, 60000);
    struct corpus *c = calloc(1, sizeof *c);
    cr_assert_not_null(c);
    build_corpus(c);
    cr_assert_geq(c->n, 20);
    const char *hdrs[] = { "x-test", "keep-me", "traceparent",
                           "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01", NULL };
    for (int i = 0; i < c->n; i++) {
        struct bad_input *b = &c->v[i];
        kt_produce(w.prod, w.in, i % 3, b->key, b->klen, b->val, b->vlen,
                   b->with_headers ? hdrs : NULL, &b->dr);
        if (i % 3 == 0 && i / 3 < 10) {
            char id[32], val[128];
            int k = i / 3;
            snprintf(id, sizeof id, "job-%d", k);
            snprintf(val, sizeof val, "{\"id\":\"%s\",\"prompt\":\"room %d\"}", id, k);
            kt_produce(w.prod, w.in, (i + 1) % 3, id, strlen(id), val, strlen(val), NULL,
                       &w.drs[k]);
        }
    }
    kt_producer_flush(w.prod, 60000);

    struct dlq_check d = { .c = c, .input_topic = w.in };
    struct kt_reader *dr = kt_reader_new(w.dlq);
    int64_t end = kt_now_ms() + 60000;
    while (d.records < c->n && kt_now_ms() < end)
        if (kt_reader_drain(dr, on_dlq, &d, 2000) == 0)
            kt_sleep_ms(200);
    for (int i = 0; i < c->n; i++)
        cr_expect_eq(c->v[i].seen, 1, "%s: %d DLQ records (want 1)", c->v[i].name, c->v[i].seen);
    cr_assert_eq(d.bad, 0, "%ld DLQ records are wrong; first: %s", d.bad, d.first_bad);
    cr_assert_eq(d.unmatched, 0, "%ld DLQ records match no malformed input", d.unmatched);

    /* The worker still serves: one more valid job after the corpus. */
    world_produce_jobs(&w, 10, 11, 0, "");
    struct kt_reader *rr = kt_reader_new(w.out);
    json_object *res = json_object_new_array();
    int expect_failed = 0;
    for (int i = 0; i < c->n; i++)
        expect_failed += c->v[i].result_id != NULL;
    end = kt_now_ms() + 60000;
    while (kt_now_ms() < end) {
        if (kt_reader_drain(rr, on_result_collect, res, 2000) == 0)
            kt_sleep_ms(200);
        int have = 0;
        for (int k = 0; k < N_VALID; k++) {
            char id[32];
            snprintf(id, sizeof id, "job-%d", k);
            have += count_id(res, id, NULL, NULL) > 0;
        }
        if (have == N_VALID && (int)json_object_array_length(res) >= N_VALID + expect_failed)
            break;
    }
    int rc = kt_worker_stop(a, 30, NULL);
    w.pids[0] = 0;
    cr_assert_eq(rc, 0, "worker exited %d after SIGTERM; logs in %s", rc, w.dir);
    kt_reader_drain(rr, on_result_collect, res, 5000);
    kt_reader_drain(dr, on_dlq, &d, 5000);
    cr_assert_eq(d.records, c->n, "%ld DLQ records for %d malformed inputs", d.records, c->n);
    for (int k = 0; k < N_VALID; k++) {
        char id[32];
        snprintf(id, sizeof id, "job-%d", k);
        cr_assert_eq(count_id(res, id, "succeeded", NULL), 1, "%s: no (single) succeeded result",
                     id);
    }
    for (int i = 0; i < c->n; i++) {
        const struct bad_input *b = &c->v[i];
        if (b->result_id)
            cr_assert_eq(count_id(res, b->result_id, "failed", "invalid_input"), 1,
                         "%s: want one failed invalid_input result for %s", b->name, b->result_id);
    }
    cr_assert_eq(json_object_array_length(res), (size_t)(N_VALID + expect_failed),
                 "%zu results; want %d succeeded + %d invalid_input", json_object_array_length(res),
                 N_VALID, expect_failed);
    world_assert_committed(&w);
    fprintf(stderr,
            "malformed_corpus_to_dlq: %d malformed -> %ld DLQ records, %d invalid_input results; %d valid "
            "jobs succeeded\n",
            c->n, d.records, expect_failed, N_VALID);
    json_object_put(res);
    kt_reader_free(rr);
    kt_reader_free(dr);
    corpus_free(c);
    free(c);
    world_free(&w);
}

/* The Kafka e2e files share one broker: one test at a time. */
int main(int argc, char *argv[])
{
    return kt_run_serial(argc, argv);
}
