/* codec_result.c — encode one result line (docs/architecture.md §Messages).
 * Pure: no I/O, no clock, no globals.
 *
 * Encoding builds a json-c tree in the documented key order. Strings coming
 * from providers may be cut mid-character (fixed-size attempt buffers), so
 * every string is made valid UTF-8 (bad bytes become U+FFFD) before it is
 * written: a result line must always be parseable downstream. A job's
 * metadata is spliced in verbatim as the text the decoder kept.
 */
#include "queue/codec.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/printbuf.h>

/* A JSON string from n bytes of s, with invalid UTF-8 replaced by U+FFFD and
 * anything after a NUL dropped. Returns NULL on OOM. */
static json_object *str_n(const char *s, size_t n)
{
    static const char repl[] = "\xEF\xBF\xBD";
    const unsigned char *u = (const unsigned char *)s;
    char *tmp;
    size_t i = 0, o = 0;
    json_object *out;

    n = strnlen(s, n);
    while (i < n && codec_utf8_seq(u + i, n - i) != 0)
        i += codec_utf8_seq(u + i, n - i);
    if (i == n)
        return json_object_new_string_len(s, (int)n);
    tmp = malloc(n * 3 + 1);
    if (tmp == NULL)
        return NULL;
    for (i = 0; i < n;) {
        size_t k = codec_utf8_seq(u + i, n - i);
        if (k == 0) {
            memcpy(tmp + o, repl, 3);
            o += 3;
            i++;
        } else {
            memcpy(tmp + o, s + i, k);
            o += k;
            i += k;
        }
    }
    out = json_object_new_string_len(tmp, (int)o);
    free(tmp);
    return out;
}

/* JSON string, or null when s is NULL (or empty, if empty_is_null). */
static json_object *str_or_null(const char *s, size_t max, int empty_is_null)
{
    if (s == NULL || (empty_is_null && s[0] == '\0'))
        return NULL;
    return str_n(s, max);
}

/* Adds key → v, where NULL means JSON null. want says a value was expected,
 * so a NULL v is then a failed allocation. Returns 0 or -1. */
static int put(json_object *obj, const char *key, json_object *v, int want)
{
    if (want && v == NULL)
        return -1;
    if (json_object_object_add(obj, key, v) != 0) {
        json_object_put(v);
        return -1;
    }
    return 0;
}

/* Writes a node's string as it is, unquoted: the JSON text it holds. */
static int raw_serializer(json_object *o, struct printbuf *pb, int level, int flags)
{
    (void)level;
    (void)flags;
    return printbuf_memappend(pb, json_object_get_string(o), json_object_get_string_len(o));
}

/* A node that serializes as the n bytes of JSON text s (trusted: a
 * codec_job's metadata, validated and re-serialized at parse). */
static json_object *raw_json(const char *s, size_t n)
{
    json_object *o;

    if (n > (size_t)INT32_MAX)
        return NULL;
    o = json_object_new_string_len(s, (int)n);
    if (o != NULL)
        json_object_set_serializer(o, raw_serializer, NULL, NULL);
    return o;
}

/* What a bounded result left out, in the order it is given up. */
enum { DROP_MESSAGES = 1, DROP_ATTEMPTS = 2, DROP_METADATA = 4 };

static json_object *attempt_json(const struct codec_attempt *a, unsigned drop)
{
    json_object *o = json_object_new_object();
    int rc = 0;

    if (o == NULL)
        return NULL;
    rc |= put(o, "provider", str_n(a->provider, sizeof a->provider), 1);
    rc |= put(o, "task_id", str_or_null(a->task_id, sizeof a->task_id, 1), a->task_id[0] != '\0');
    rc |= put(o, "phase", str_n(a->phase, sizeof a->phase), 1);
    rc |= put(o, "outcome", str_n(a->outcome, sizeof a->outcome), 1);
    rc |= put(o, "http_status", a->http_status != 0 ? json_object_new_int64(a->http_status) : NULL,
              a->http_status != 0);
    rc |= put(o, "code", str_or_null(a->code, sizeof a->code, 1), a->code[0] != '\0');
    if (drop & DROP_MESSAGES)
        rc |= put(o, "message", NULL, 0);
    else
        rc |= put(o, "message", str_or_null(a->message, sizeof a->message, 1), a->message[0] != '\0');
    rc |= put(o, "elapsed_ms", json_object_new_int64(a->elapsed_ms), 1);
    if (rc != 0) {
        json_object_put(o);
        return NULL;
    }
    return o;
}

static int add_body(json_object *root, const struct codec_result *r, unsigned drop)
{
    json_object *urls = json_object_new_array();
    json_object *atts;

    if (put(root, "result_urls", urls, 1) != 0)
        return -1;
    for (size_t i = 0; i < r->n_result_urls; i++) {
        const char *u = r->result_urls[i] == NULL ? "" : r->result_urls[i];
        json_object *s = str_n(u, strlen(u));
        if (s == NULL || json_object_array_add(urls, s) != 0) {
            json_object_put(s);
            return -1;
        }
    }
    atts = json_object_new_array();
    if (put(root, "provider", str_or_null(r->provider, SIZE_MAX, 0), r->provider != NULL) != 0 ||
        put(root, "provider_task_id", str_or_null(r->provider_task_id, SIZE_MAX, 0),
            r->provider_task_id != NULL) != 0 ||
        put(root, "attempts", atts, 1) != 0)
        return -1;
    for (size_t i = 0; !(drop & DROP_ATTEMPTS) && i < r->n_attempts; i++) {
        json_object *a = attempt_json(&r->attempts[i], drop);
        if (a == NULL || json_object_array_add(atts, a) != 0) {
            json_object_put(a);
            return -1;
        }
    }
    return 0;
}

static int add_tail(json_object *root, const struct codec_result *r, unsigned drop)
{
    json_object *e = NULL, *t;

    if (!r->succeeded) {
        e = json_object_new_object();
        if (put(root, "error", e, 1) != 0 ||
            put(e, "class", str_or_null(r->error_class, SIZE_MAX, 0), r->error_class != NULL) != 0 ||
            put(e, "message", str_or_null(r->error_message, SIZE_MAX, 0), r->error_message != NULL) != 0)
            return -1;
    } else if (put(root, "error", NULL, 0) != 0) {
        return -1;
    }
    if (r->line >= 0 && put(root, "line", json_object_new_int64(r->line), 1) != 0)
        return -1;
    t = json_object_new_object();
    if (put(root, "timings", t, 1) != 0 || put(t, "queued_ms", json_object_new_int64(r->queued_ms), 1) != 0 ||
        put(t, "total_ms", json_object_new_int64(r->total_ms), 1) != 0)
        return -1;
    if (put(root, "worker", str_or_null(r->worker, SIZE_MAX, 0), r->worker != NULL) != 0)
        return -1;
    if (drop & DROP_METADATA)
        return put(root, "metadata", NULL, 0);
    return put(root, "metadata", r->metadata != NULL ? raw_json(r->metadata, r->metadata_len) : NULL,
               r->metadata != NULL);
}

/* "truncated": the largest part given up first; absent when nothing was. */
static int add_truncated(json_object *root, unsigned drop)
{
    json_object *t;

    if (drop == 0)
        return 0;
    t = json_object_new_array();
    if (put(root, "truncated", t, 1) != 0)
        return -1;
    if ((drop & DROP_MESSAGES) && !(drop & DROP_ATTEMPTS) &&
        json_object_array_add(t, json_object_new_string("attempt_messages")) != 0)
        return -1;
    if ((drop & DROP_ATTEMPTS) && json_object_array_add(t, json_object_new_string("attempts")) != 0)
        return -1;
    if ((drop & DROP_METADATA) && json_object_array_add(t, json_object_new_string("metadata")) != 0)
        return -1;
    return 0;
}

static char *encode(const struct codec_result *r, unsigned drop, size_t *len)
{
    json_object *root;
    const char *s;
    char *out = NULL;

    root = json_object_new_object();
    if (root == NULL)
        return NULL;
    if (put(root, "id", str_or_null(r->id, SIZE_MAX, 0), r->id != NULL) == 0 &&
        put(root, "status", json_object_new_string(r->succeeded ? "succeeded" : "failed"), 1) == 0 &&
        add_body(root, r, drop) == 0 && add_tail(root, r, drop) == 0 && add_truncated(root, drop) == 0) {
        s = json_object_to_json_string_length(root, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE, len);
        if (s != NULL)
            out = strndup(s, *len);
    }
    json_object_put(root);
    return out;
}

char *codec_result_json(const struct codec_result *r)
{
    return codec_result_json_max(r, 0);
}

/* Whether giving up part `step` changes r's line (a step that drops
 * nothing is skipped, so "truncated" lists only what was really left out). */
static int drops_something(const struct codec_result *r, unsigned step)
{
    switch (step) {
    case DROP_MESSAGES:
        for (size_t i = 0; i < r->n_attempts; i++)
            if (r->attempts[i].message[0] != '\0')
                return 1;
        return 0;
    case DROP_ATTEMPTS:
        return r->n_attempts > 0;
    default:
        return r->metadata != NULL;
    }
}

char *codec_result_json_max(const struct codec_result *r, size_t max)
{
    static const unsigned steps[] = {DROP_MESSAGES, DROP_ATTEMPTS, DROP_METADATA};
    char why[96];
    size_t len = 0, full;
    unsigned drop = 0;
    char *out;

    if (r == NULL)
        return NULL;
    out = encode(r, 0, &len);
    if (out == NULL || max == 0 || len <= max)
        return out;
    full = len;
    free(out);
    for (size_t i = 0; i < sizeof steps / sizeof steps[0]; i++) {
        if (!drops_something(r, steps[i]))
            continue;
        drop |= steps[i];
        out = encode(r, drop, &len);
        if (out == NULL || len <= max)
            return out;
        free(out);
    }
    /* Even the bare result is too big (huge URLs or error text): say so. */
    snprintf(why, sizeof why, "result of %zu bytes is over the %zu-byte limit", full, max);
    struct codec_result m = {
        .id = r->id, .succeeded = 0, .error_class = "result_too_large", .error_message = why,
        .line = r->line, .queued_ms = r->queued_ms, .total_ms = r->total_ms, .worker = r->worker,
    };
    out = encode(&m, 0, &len);
    if (out != NULL && len > max) {
        free(out);
        return NULL;
    }
    return out;
}
