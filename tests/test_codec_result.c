/* test_codec_result.c — result encoding (queue/codec_result.c): key order,
 * escaping, sanitizing, the size bound. Pure: no sockets, no sleeping. */
#include <criterion/criterion.h>
#include <criterion/parameterized.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/utf8.h"
#include "queue/codec.h"
#include "tests/testrng.h"

/* ---- helpers ------------------------------------------------------------ */

/* Strict parse of a result line; fails the test if it is not valid JSON. */
static json_object *parse_strict(const char *s)
{
    json_tokener *tok = json_tokener_new();
    json_object *o;

    json_tokener_set_flags(tok, JSON_TOKENER_STRICT | JSON_TOKENER_VALIDATE_UTF8);
    o = json_tokener_parse_ex(tok, s, (int)strlen(s));
    cr_assert_not_null(o, "result is not valid JSON: %s (%s)", s,
                       json_tokener_error_desc(json_tokener_get_error(tok)));
    json_tokener_free(tok);
    return o;
}

static json_object *get(json_object *o, const char *key)
{
    json_object *v = NULL;

    cr_assert(json_object_object_get_ex(o, key, &v), "key %s missing", key);
    return v;
}

static void expect_str(json_object *o, const char *key, const char *want)
{
    json_object *v = get(o, key);

    if (want == NULL) {
        cr_assert_null(v, "%s should be null", key);
        return;
    }
    cr_assert(json_object_is_type(v, json_type_string), "%s should be a string", key);
    cr_assert_eq((size_t)json_object_get_string_len(v), strlen(want), "%s length", key);
    cr_assert_str_eq(json_object_get_string(v), want, "%s", key);
}

static void expect_int(json_object *o, const char *key, int64_t want)
{
    json_object *v = get(o, key);

    cr_assert(json_object_is_type(v, json_type_int), "%s should be an integer", key);
    cr_assert_eq(json_object_get_int64(v), want, "%s", key);
}

/* Keys of o, in order, must be exactly want (NULL-terminated). */
static void expect_keys(json_object *o, const char *const *want)
{
    size_t i = 0;

    json_object_object_foreach(o, key, val)
    {
        (void)val;
        cr_assert_not_null(want[i], "unexpected extra key %s", key);
        cr_assert_str_eq(key, want[i], "key #%zu", i);
        i++;
    }
    cr_assert_null(want[i], "missing key %s", want[i]);
}

/* ---- results ------------------------------------------------------------ */

static const char *const result_keys[] = {
    "id",      "status", "result_urls", "provider", "provider_task_id", "attempts", "error",
    "timings", "worker", "metadata",    NULL,
};
static const char *const result_keys_line[] = {
    "id",    "status", "result_urls", "provider", "provider_task_id", "attempts",
    "error", "line",   "timings",     "worker",   "metadata",         NULL,
};
static const char *const attempt_keys[] = {
    "provider", "task_id", "phase", "outcome", "http_status", "code", "message", "elapsed_ms", NULL,
};

static void fill_attempt(struct codec_attempt *a, const char *prov, const char *task,
                         const char *phase, const char *outcome, long http, const char *code,
                         const char *msg, int64_t ms)
{
    memset(a, 0, sizeof *a);
    snprintf(a->provider, sizeof a->provider, "%s", prov);
    snprintf(a->task_id, sizeof a->task_id, "%s", task);
    snprintf(a->phase, sizeof a->phase, "%s", phase);
    snprintf(a->outcome, sizeof a->outcome, "%s", outcome);
    a->http_status = http;
    snprintf(a->code, sizeof a->code, "%s", code);
    snprintf(a->message, sizeof a->message, "%s", msg);
    a->elapsed_ms = ms;
}

Test(codec, result_success_round_trip)
{
    const char *urls[] = { "https://cdn.example.com/out/a.png",
                           "https://cdn.example.com/out/b.png" };
    struct codec_attempt att[2];
    const char *meta_text = "{\"chat_id\":123,\"thread\":\"t/1\"}";
    json_object *meta = json_tokener_parse(meta_text);
    struct codec_result r = {
        .id = "job-42",
        .succeeded = 1,
        .result_urls = urls,
        .n_result_urls = 2,
        .provider = "kie",
        .provider_task_id = "b254d74d",
        .attempts = att,
        .n_attempts = 2,
        .line = -1,
        .queued_ms = 3,
        .total_ms = 24190,
        .worker = "host-a:4242",
        .metadata = meta_text,
        .metadata_len = strlen(meta_text),
    };

    fill_attempt(&att[0], "replicate", "", "create", "http_status", 503, "", "Service Unavailable",
                 120);
    fill_attempt(&att[1], "kie", "b254d74d", "poll", "succeeded", 200, "200", "success", 24130);
    char *s = codec_result_json(&r);
    cr_assert_not_null(s);
    cr_assert_null(strchr(s, '\n'), "must be one line");
    cr_assert_null(strstr(s, "\\/"), "slashes must not be escaped: %s", s);
    cr_assert_not_null(strstr(s, "https://cdn.example.com/out/a.png"));

    json_object *o = parse_strict(s);
    expect_keys(o, result_keys);
    expect_str(o, "id", "job-42");
    expect_str(o, "status", "succeeded");
    json_object *ru = get(o, "result_urls");
    cr_assert_eq(json_object_array_length(ru), 2);
    cr_assert_str_eq(json_object_get_string(json_object_array_get_idx(ru, 1)), urls[1]);
    expect_str(o, "provider", "kie");
    expect_str(o, "provider_task_id", "b254d74d");
    json_object *as = get(o, "attempts");
    cr_assert_eq(json_object_array_length(as), 2);
    json_object *a0 = json_object_array_get_idx(as, 0), *a1 = json_object_array_get_idx(as, 1);
    expect_keys(a0, attempt_keys);
    expect_str(a0, "provider", "replicate");
    expect_str(a0, "task_id", NULL);
    expect_str(a0, "phase", "create");
    expect_str(a0, "outcome", "http_status");
    expect_int(a0, "http_status", 503);
    expect_str(a0, "code", NULL);
    expect_str(a0, "message", "Service Unavailable");
    expect_int(a0, "elapsed_ms", 120);
    expect_str(a1, "task_id", "b254d74d");
    expect_str(a1, "outcome", "succeeded");
    expect_int(a1, "http_status", 200);
    expect_str(a1, "code", "200");
    expect_int(a1, "elapsed_ms", 24130);
    cr_assert_null(get(o, "error"));
    json_object *t = get(o, "timings");
    expect_int(t, "queued_ms", 3);
    expect_int(t, "total_ms", 24190);
    expect_str(o, "worker", "host-a:4242");
    cr_assert(json_object_equal(get(o, "metadata"), meta));

    json_object_put(o);
    free(s);
    json_object_put(meta);
}

Test(codec, result_failure_escaping_and_line)
{
    const char *msg =
            "bad \"prompt\"\nline2\ttab \\ back caf\xc3\xa9 \xe6\x97\xa5\xe6\x9c\xac \xf0\x9f\x8c\xbf \x01";
    struct codec_attempt att[1];
    struct codec_result r = {
        .id = "id \"quoted\"\n",
        .succeeded = 0,
        .attempts = att,
        .n_attempts = 1,
        .error_class = "invalid_input",
        .error_message = msg,
        .line = 0,
        .queued_ms = 0,
        .total_ms = 1,
        .worker = "h:1",
    };

    fill_attempt(&att[0], "kie", "", "create", "rejected", 0, "", msg, 0);
    char *s = codec_result_json(&r);
    cr_assert_not_null(s);
    cr_assert_null(strchr(s, '\n'));
    json_object *o = parse_strict(s);
    expect_keys(o, result_keys_line);
    expect_str(o, "id", "id \"quoted\"\n");
    expect_str(o, "status", "failed");
    cr_assert_eq(json_object_array_length(get(o, "result_urls")), 0);
    cr_assert_null(get(o, "provider"));
    cr_assert_null(get(o, "provider_task_id"));
    json_object *a0 = json_object_array_get_idx(get(o, "attempts"), 0);
    cr_assert_null(get(a0, "http_status"));
    cr_assert_null(get(a0, "task_id"));
    expect_str(a0, "message", msg);
    json_object *e = get(o, "error");
    const char *const error_keys[] = { "class", "message", NULL };
    expect_keys(e, error_keys);
    expect_str(e, "class", "invalid_input");
    expect_str(e, "message", msg);
    expect_int(o, "line", 0);
    cr_assert_null(get(o, "metadata"));
    json_object_put(o);
    free(s);
}

Test(codec, result_sanitizes_attempt_strings)
{
    struct codec_attempt a;
    struct codec_result r = { .id = "x",
                              .succeeded = 0,
                              .attempts = &a,
                              .n_attempts = 1,
                              .error_class = "exhausted",
                              .error_message = "all providers failed",
                              .line = -1 };

    /* A provider message cut mid-character, then a full buffer with no NUL. */
    fill_attempt(&a, "kie", "t1", "poll", "task_failed", 200, "501", "", 5);
    memset(a.message, 'm', sizeof a.message);
    memcpy(a.message + sizeof a.message - 2, "\xe6\x97", 2);
    memset(a.code, 'c', sizeof a.code);
    a.code[3] = '\xff';
    char *s = codec_result_json(&r);
    cr_assert_not_null(s);
    json_object *o = parse_strict(s); /* strict + UTF-8 validation */
    json_object *a0 = json_object_array_get_idx(get(o, "attempts"), 0);
    const char *m = json_object_get_string(get(a0, "message"));
    cr_assert_eq(strlen(m), sizeof a.message - 2 + 2 * 3, "two U+FFFD replace the cut bytes");
    cr_assert_str_eq(m + sizeof a.message - 2, "\xef\xbf\xbd\xef\xbf\xbd");
    const char *c = json_object_get_string(get(a0, "code"));
    cr_assert_eq(strlen(c), sizeof a.code - 1 + 3);
    cr_assert_null(get(o, "worker"));
    cr_assert_null(get(o, "metadata"));
    json_object_put(o);
    free(s);
}

Test(codec, job_metadata_flows_into_result)
{
    const char *in =
            "{\"id\":\"m1\",\"prompt\":\"p\",\"metadata\":{\"chat_id\":42,\"note\":\"a/b \\\"c\\\"\"}}";
    char err[128];
    struct codec_job *j = codec_job_parse(in, strlen(in), NULL, err, sizeof err);

    cr_assert_not_null(j, "%s", err);
    struct codec_result r = { .id = j->id,
                              .succeeded = 1,
                              .line = 7,
                              .metadata = j->metadata,
                              .metadata_len = j->metadata_len };
    char *s = codec_result_json(&r);
    codec_job_free(j); /* the string must not depend on the job */
    cr_assert_not_null(s);
    cr_assert_not_null(strstr(s, "\"metadata\":{\"chat_id\":42,\"note\":\"a/b \\\"c\\\"\"}"), "%s",
                       s);
    cr_assert_not_null(strstr(s, "\"line\":7,"), "%s", s);
    cr_assert_not_null(strstr(s, "\"result_urls\":[],"), "%s", s);
    cr_assert_not_null(strstr(s, "\"attempts\":[],"), "%s", s);
    free(s);
}

/* ---- bounded results ---------------------------------------------------- */

/* A succeeded result with 32 long attempt messages and ~10 KB of metadata. */
struct bigres {
    struct codec_attempt att[32];
    const char *urls[2];
    char meta[10240];
    struct codec_result r;
};

static void big_result(struct bigres *b)
{
    memset(b, 0, sizeof *b);
    for (size_t i = 0; i < 32; i++) {
        fill_attempt(&b->att[i], "kie", "t1", "create", "http_status", 503, "", "", 10);
        memset(b->att[i].message, 'm', sizeof b->att[i].message - 1);
    }
    b->urls[0] = "https://cdn.example.com/a.png";
    b->urls[1] = "https://cdn.example.com/b.png";
    memcpy(b->meta, "{\"k\":\"", 6);
    memset(b->meta + 6, 'x', sizeof b->meta - 9);
    memcpy(b->meta + sizeof b->meta - 3, "\"}", 3);
    struct codec_result r = {
        .id = "big-1",
        .succeeded = 1,
        .result_urls = b->urls,
        .n_result_urls = 2,
        .provider = "kie",
        .provider_task_id = "t1",
        .attempts = b->att,
        .n_attempts = 32,
        .line = -1,
        .queued_ms = 1,
        .total_ms = 2,
        .worker = "h:1",
        .metadata = b->meta,
        .metadata_len = strlen(b->meta),
    };
    b->r = r;
}

/* Checks the bound and the "truncated" list (NULL = key absent); returns
 * the parsed line and its length. */
static json_object *bounded(const struct codec_result *r, size_t max, const char *const *truncated,
                            size_t *len)
{
    char *s = codec_result_json_max(r, max);
    cr_assert_not_null(s, "max %zu", max);
    *len = strlen(s);
    if (max > 0)
        cr_assert_leq(*len, max);
    json_object *o = parse_strict(s);
    free(s);
    json_object *t = NULL;
    if (truncated == NULL) {
        cr_assert_not(json_object_object_get_ex(o, "truncated", &t), "unexpected truncated");
        return o;
    }
    t = get(o, "truncated");
    size_t n = 0;
    while (truncated[n] != NULL) {
        cr_assert_str_eq(json_object_get_string(json_object_array_get_idx(t, n)), truncated[n]);
        n++;
    }
    cr_assert_eq(json_object_array_length(t), n);
    return o;
}

static void expect_success_kept(json_object *o)
{
    expect_str(o, "id", "big-1");
    expect_str(o, "status", "succeeded");
    expect_str(o, "provider", "kie");
    cr_assert_eq(json_object_array_length(get(o, "result_urls")), 2);
    cr_assert_null(get(o, "error"));
}

Test(codec, result_bound_drops_in_steps)
{
    static const char *const msgs[] = { "attempt_messages", NULL };
    static const char *const atts[] = { "attempts", NULL };
    static const char *const both[] = { "attempts", "metadata", NULL };
    static struct bigres b;
    size_t full, l1, l2, l3, l4;

    big_result(&b);
    char *plain = codec_result_json(&b.r);
    json_object *o = bounded(&b.r, 0, NULL, &full);
    cr_assert_eq(full, strlen(plain));
    json_object_put(o);
    o = bounded(&b.r, full, NULL, &l1); /* exactly at the bound: unchanged */
    cr_assert_eq(l1, full);
    json_object_put(o);
    free(plain);

    o = bounded(&b.r, full - 1, msgs, &l1);
    expect_success_kept(o);
    json_object *a0 = json_object_array_get_idx(get(o, "attempts"), 0);
    cr_assert_eq(json_object_array_length(get(o, "attempts")), 32);
    cr_assert_null(get(a0, "message"));
    expect_int(a0, "http_status", 503);
    cr_assert_not_null(get(o, "metadata"));
    json_object_put(o);

    o = bounded(&b.r, l1 - 1, atts, &l2);
    expect_success_kept(o);
    cr_assert_eq(json_object_array_length(get(o, "attempts")), 0);
    cr_assert_eq(strlen(json_object_get_string(get(get(o, "metadata"), "k"))), sizeof b.meta - 9);
    json_object_put(o);

    o = bounded(&b.r, l2 - 1, both, &l3);
    expect_success_kept(o);
    cr_assert_null(get(o, "metadata"));
    cr_assert_eq(json_object_array_length(get(o, "attempts")), 0);
    json_object_put(o);

    /* Nothing left to drop: a failed result that says why. */
    o = bounded(&b.r, l3 - 1, NULL, &l4);
    expect_str(o, "id", "big-1");
    expect_str(o, "status", "failed");
    expect_str(get(o, "error"), "class", "result_too_large");
    cr_assert_eq(json_object_array_length(get(o, "result_urls")), 0);
    cr_assert_null(get(o, "provider"));
    cr_assert_null(get(o, "metadata"));
    json_object_put(o);

    /* Below even that: no line at all. */
    cr_assert_null(codec_result_json_max(&b.r, l4 - 1));
}

/* Steps with nothing to drop are not taken, nor listed. */
Test(codec, result_bound_skips_empty_steps)
{
    static const char *const meta_only[] = { "metadata", NULL };
    static struct bigres b;
    size_t len;

    big_result(&b);
    b.r.n_attempts = 0;
    json_object *o = bounded(&b.r, 4096, meta_only, &len);
    expect_success_kept(o);
    json_object_put(o);
}

/* The minimal result of the longest valid id fits CODEC_MIN_RESULT_BYTES,
 * whatever the ids' escaping costs. */
Test(codec, result_minimal_fits_min_bound)
{
    static struct bigres b;
    char id[CODEC_MAX_ID + 1], worker[128], url[8192];
    const char *urls[1] = { url };
    size_t len;

    big_result(&b);
    memset(id, '"', CODEC_MAX_ID);
    id[CODEC_MAX_ID] = '\0';
    memset(worker, '\\', sizeof worker - 1);
    worker[sizeof worker - 1] = '\0';
    memset(url, 'u', sizeof url - 1);
    url[sizeof url - 1] = '\0';
    b.r.id = id;
    b.r.worker = worker;
    b.r.result_urls = urls;
    b.r.n_result_urls = 1;
    json_object *o = bounded(&b.r, CODEC_MIN_RESULT_BYTES, NULL, &len);
    expect_str(o, "id", id);
    expect_str(get(o, "error"), "class", "result_too_large");
    json_object_put(o);
}

/* ---- byte for byte against json-c ---------------------------------------- */

/* A random string of up to max bytes into s (NUL-terminated only when
 * shorter than max), biased to what the writer can get wrong: escapes,
 * '/', valid and invalid UTF-8 (cut, overlong, surrogate, stray bytes),
 * and runs of plain ASCII long enough for the eight-byte steps. */
static void rand_bytes(uint64_t *rng, char *s, size_t max)
{
    /* clang-format off */
    static const char *const pieces[] = {
        "\"", "\\", "/", "\b", "\f", "\n", "\r", "\t", "\x01", "\x1f", "\x7f", "\x80", "\xbf",
        "\xc3\xa9", "\xe2\x82\xac", "\xf0\x9f\x8c\xbf", "\xc3", "\xe2\x82", "\xf0\x9f\x8c",
        "\xc0\xaf", "\xed\xa0\x80", "\xf4\x90\x80\x80", "\xff", "\xfe", "abcdefgh",
        "0123456789abcdefXYZ",
    };
    /* clang-format on */
    size_t n = testrng_xorshift64(rng) % (max + 1), i = 0;
    while (i < n) {
        uint64_t r = testrng_xorshift64(rng);
        const char *p = pieces[r % (sizeof pieces / sizeof pieces[0])];
        size_t k = strlen(p);
        if (r % 7 == 0) {
            s[i++] = (char)('a' + (r >> 8) % 26);
            continue;
        }
        if (k > n - i)
            k = n - i;
        memcpy(s + i, p, k);
        i += k;
    }
    if (n < max)
        s[n] = '\0';
    if (n > 2 && testrng_xorshift64(rng) % 8 == 0)
        s[n / 2] = '\0'; /* a NUL cuts the string there */
}

/* What the result line must carry for s: up to its NUL or max bytes, each
 * byte outside a valid sequence as U+FFFD. */
static json_object *ref_str(const char *s, size_t max)
{
    static char out[4096];
    size_t n = strnlen(s, max), o = 0;
    for (size_t i = 0; i < n;) {
        size_t k = utf8_seq((const unsigned char *)s + i, n - i);
        if (k == 0) {
            memcpy(out + o, "\xef\xbf\xbd", 3);
            o += 3;
            i++;
        } else {
            memcpy(out + o, s + i, k);
            o += k;
            i += k;
        }
    }
    return json_object_new_string_len(out, (int)o);
}

static json_object *ref_str_or_null(const char *s, size_t max, int empty_is_null)
{
    return !s || (empty_is_null && s[0] == '\0') ? NULL : ref_str(s, max);
}

static json_object *ref_line(const struct codec_result *r)
{
    json_object *o = json_object_new_object(), *urls = json_object_new_array();
    json_object *atts = json_object_new_array(), *t = json_object_new_object();
    json_object_object_add(o, "id", ref_str_or_null(r->id, SIZE_MAX, 0));
    json_object_object_add(o, "status",
                           json_object_new_string(r->succeeded ? "succeeded" : "failed"));
    for (size_t i = 0; i < r->n_result_urls; i++)
        json_object_array_add(urls, ref_str(r->result_urls[i] ? r->result_urls[i] : "", SIZE_MAX));
    json_object_object_add(o, "result_urls", urls);
    json_object_object_add(o, "provider", ref_str_or_null(r->provider, SIZE_MAX, 0));
    json_object_object_add(o, "provider_task_id",
                           ref_str_or_null(r->provider_task_id, SIZE_MAX, 0));
    for (size_t i = 0; i < r->n_attempts; i++) {
        const struct codec_attempt *a = &r->attempts[i];
        json_object *ja = json_object_new_object();
        json_object_object_add(ja, "provider", ref_str(a->provider, sizeof a->provider));
        json_object_object_add(ja, "task_id", ref_str_or_null(a->task_id, sizeof a->task_id, 1));
        json_object_object_add(ja, "phase", ref_str(a->phase, sizeof a->phase));
        json_object_object_add(ja, "outcome", ref_str(a->outcome, sizeof a->outcome));
        json_object_object_add(ja, "http_status",
                               a->http_status ? json_object_new_int64(a->http_status) : NULL);
        json_object_object_add(ja, "code", ref_str_or_null(a->code, sizeof a->code, 1));
        json_object_object_add(ja, "message", ref_str_or_null(a->message, sizeof a->message, 1));
        json_object_object_add(ja, "elapsed_ms", json_object_new_int64(a->elapsed_ms));
        json_object_array_add(atts, ja);
    }
    json_object_object_add(o, "attempts", atts);
    json_object *e = NULL;
    if (!r->succeeded) {
        e = json_object_new_object();
        json_object_object_add(e, "class", ref_str_or_null(r->error_class, SIZE_MAX, 0));
        json_object_object_add(e, "message", ref_str_or_null(r->error_message, SIZE_MAX, 0));
    }
    json_object_object_add(o, "error", e);
    if (r->line >= 0)
        json_object_object_add(o, "line", json_object_new_int64(r->line));
    json_object_object_add(t, "queued_ms", json_object_new_int64(r->queued_ms));
    json_object_object_add(t, "total_ms", json_object_new_int64(r->total_ms));
    json_object_object_add(o, "timings", t);
    json_object_object_add(o, "worker", ref_str_or_null(r->worker, SIZE_MAX, 0));
    json_object_object_add(o, "metadata", r->metadata ? json_tokener_parse(r->metadata) : NULL);
    return o;
}

/* Random results, every string random bytes (attempt fields filled to the
 * brim with no NUL too), each line compared with what json-c prints for
 * the tree of the same values. */
Test(codec, result_bytes_as_json_c_prints_them)
{
    static const int64_t ints[] = { 0, 1, -1, 9, 10, 12345, INT64_MAX, INT64_MIN };
    static char id[300], prov[40], task[200], cls[40], msg[600], worker[80], url[3][200];
    static struct codec_attempt att[3];
    static const char meta[] = "{\"chat_id\":42,\"note\":\"a/b \\\"c\\\" \\u0001\"}";
    uint64_t rng = 0x2545f4914f6cdd1dULL;
    for (int round = 0; round < 3000; round++) {
        rand_bytes(&rng, id, sizeof id - 1);
        rand_bytes(&rng, prov, sizeof prov - 1);
        rand_bytes(&rng, task, sizeof task - 1);
        rand_bytes(&rng, cls, sizeof cls - 1);
        rand_bytes(&rng, msg, sizeof msg - 1);
        rand_bytes(&rng, worker, sizeof worker - 1);
        const char *urls[3];
        for (size_t i = 0; i < 3; i++) {
            rand_bytes(&rng, url[i], sizeof url[i] - 1);
            urls[i] = i == 1 && round % 5 == 0 ? NULL : url[i];
        }
        for (size_t i = 0; i < 3; i++) {
            struct codec_attempt *a = &att[i];
            rand_bytes(&rng, a->provider, sizeof a->provider);
            rand_bytes(&rng, a->task_id, sizeof a->task_id);
            rand_bytes(&rng, a->outcome, sizeof a->outcome);
            rand_bytes(&rng, a->phase, sizeof a->phase);
            rand_bytes(&rng, a->code, sizeof a->code);
            rand_bytes(&rng, a->message, sizeof a->message);
            if (round % 4 == 0)
                a->task_id[0] = '\0';
            a->http_status = (long)ints[testrng_xorshift64(&rng) % 6];
            a->elapsed_ms = ints[testrng_xorshift64(&rng) % 8];
        }
        uint64_t r = testrng_xorshift64(&rng);
        struct codec_result res = {
            .id = r % 11 == 0 ? NULL : id,
            .succeeded = (int)(r & 1),
            .result_urls = urls,
            .n_result_urls = (r >> 1) % 4,
            .provider = r % 13 == 0 ? NULL : prov,
            .provider_task_id = r % 3 == 0 ? NULL : task,
            .attempts = att,
            .n_attempts = (r >> 3) % 4,
            .error_class = r % 17 == 0 ? NULL : cls,
            .error_message = msg,
            .line = (r >> 5) % 3 == 0 ? -1 : (long)((r >> 8) % 100000),
            .queued_ms = ints[(r >> 20) % 8],
            .total_ms = ints[(r >> 24) % 8],
            .worker = r % 7 == 0 ? NULL : worker,
            .metadata = r % 2 ? meta : NULL, /* as json-c printed it (the decoder's) */
            .metadata_len = r % 2 ? strlen(meta) : 0,
        };
        char *s = codec_result_json(&res);
        cr_assert_not_null(s);
        json_object *want = ref_line(&res);
        cr_assert_str_eq(s,
                         json_object_to_json_string_ext(
                                 want, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE),
                         "round %d", round);
        json_object_put(want);
        free(s);
    }
}
