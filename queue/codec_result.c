/* codec_result.c — encode one result line (docs/architecture.md §Messages).
 * Pure: no I/O, no clock, no globals.
 *
 * Encoding writes the line directly in the documented key order. Strings coming
 * from providers may be cut mid-character (fixed-size attempt buffers), so
 * every string is made valid UTF-8 (bad bytes become U+FFFD) before it is
 * written: a result line must always be parseable downstream. A job's
 * metadata is spliced in verbatim as the text the decoder kept.
 */
#include "queue/codec.h"
#include "core/jsonw.h"
#include "core/utf8.h"

#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>


/* The line is written straight into a growing buffer (core/jsonw), in the
 * documented key order, as json-c would print it (JSON_C_TO_STRING_PLAIN |
 * JSON_C_TO_STRING_NOSLASHESCAPE): a json-c tree per result cost about as
 * much as the rest of the job's own work (BENCH.md, issue 12). */

/* A JSON string from n bytes of s, with invalid UTF-8 replaced by U+FFFD and
 * anything after a NUL dropped. */
static void put_str(struct jsonw *o, const char *s, size_t n)
{
    static const char repl[] = "\xEF\xBF\xBD";
    const unsigned char *u = (const unsigned char *)s;
    size_t i = 0, from = 0;

    n = strnlen(s, n);
    jsonw_raw(o, "\"", 1);
    while (i < n) {
        size_t k = utf8_seq(u + i, n - i);
        if (k == 0) {
            jsonw_escaped(o, s + from, i - from, 0);
            jsonw_raw(o, repl, 3);
            from = ++i;
        } else {
            i += k;
        }
    }
    jsonw_escaped(o, s + from, n - from, 0);
    jsonw_raw(o, "\"", 1);
}

/* JSON string, or null when s is NULL (or empty, if empty_is_null). */
static void put_str_or_null(struct jsonw *o, const char *s, size_t max, int empty_is_null)
{
    if (!s || (empty_is_null && s[0] == '\0'))
        jsonw_raw(o, "null", 4);
    else
        put_str(o, s, max);
}

/* ,"key": (or {"key": for the first key of an object: first says which). */
static void put_key(struct jsonw *o, const char *key, int first)
{
    jsonw_raw(o, first ? "{\"" : ",\"", 2);
    jsonw_lit(o, key);
    jsonw_raw(o, "\":", 2);
}

/* What a bounded result left out, in the order it is given up. */
enum { DROP_MESSAGES = 1, DROP_ATTEMPTS = 2, DROP_METADATA = 4 };

static void put_attempt(struct jsonw *o, const struct codec_attempt *a, unsigned drop)
{
    put_key(o, "provider", 1);
    put_str(o, a->provider, sizeof a->provider);
    put_key(o, "task_id", 0);
    put_str_or_null(o, a->task_id, sizeof a->task_id, 1);
    put_key(o, "phase", 0);
    put_str(o, a->phase, sizeof a->phase);
    put_key(o, "outcome", 0);
    put_str(o, a->outcome, sizeof a->outcome);
    put_key(o, "http_status", 0);
    if (a->http_status != 0)
        jsonw_i64(o, a->http_status);
    else
        jsonw_raw(o, "null", 4);
    put_key(o, "code", 0);
    put_str_or_null(o, a->code, sizeof a->code, 1);
    put_key(o, "message", 0);
    if (drop & DROP_MESSAGES)
        jsonw_raw(o, "null", 4);
    else
        put_str_or_null(o, a->message, sizeof a->message, 1);
    put_key(o, "elapsed_ms", 0);
    jsonw_i64(o, a->elapsed_ms);
    jsonw_raw(o, "}", 1);
}

static char *encode(const struct codec_result *r, unsigned drop, size_t *len)
{
    struct jsonw o = { 0 };

    put_key(&o, "id", 1);
    put_str_or_null(&o, r->id, SIZE_MAX, 0);
    put_key(&o, "status", 0);
    jsonw_lit(&o, r->succeeded ? "\"succeeded\"" : "\"failed\"");
    put_key(&o, "result_urls", 0);
    jsonw_raw(&o, "[", 1);
    for (size_t i = 0; i < r->n_result_urls; i++) {
        const char *u = !r->result_urls[i] ? "" : r->result_urls[i];
        if (i > 0)
            jsonw_raw(&o, ",", 1);
        put_str(&o, u, strlen(u));
    }
    jsonw_raw(&o, "]", 1);
    put_key(&o, "provider", 0);
    put_str_or_null(&o, r->provider, SIZE_MAX, 0);
    put_key(&o, "provider_task_id", 0);
    put_str_or_null(&o, r->provider_task_id, SIZE_MAX, 0);
    put_key(&o, "attempts", 0);
    jsonw_raw(&o, "[", 1);
    for (size_t i = 0; !(drop & DROP_ATTEMPTS) && i < r->n_attempts; i++) {
        if (i > 0)
            jsonw_raw(&o, ",", 1);
        put_attempt(&o, &r->attempts[i], drop);
    }
    jsonw_raw(&o, "]", 1);
    put_key(&o, "error", 0);
    if (!r->succeeded) {
        put_key(&o, "class", 1);
        put_str_or_null(&o, r->error_class, SIZE_MAX, 0);
        put_key(&o, "message", 0);
        put_str_or_null(&o, r->error_message, SIZE_MAX, 0);
        jsonw_raw(&o, "}", 1);
    } else {
        jsonw_raw(&o, "null", 4);
    }
    if (r->line >= 0) {
        put_key(&o, "line", 0);
        jsonw_i64(&o, r->line);
    }
    put_key(&o, "timings", 0);
    put_key(&o, "queued_ms", 1);
    jsonw_i64(&o, r->queued_ms);
    put_key(&o, "total_ms", 0);
    jsonw_i64(&o, r->total_ms);
    jsonw_raw(&o, "}", 1);
    put_key(&o, "worker", 0);
    put_str_or_null(&o, r->worker, SIZE_MAX, 0);
    put_key(&o, "metadata", 0);
    if (r->metadata && !(drop & DROP_METADATA))
        jsonw_raw(&o, r->metadata,
                  r->metadata_len); /* trusted: a codec_job's, re-serialized at parse */
    else
        jsonw_raw(&o, "null", 4);
    if (drop != 0) { /* "truncated": the largest part given up first */
        int n = 0;
        put_key(&o, "truncated", 0);
        jsonw_raw(&o, "[", 1);
        if ((drop & DROP_MESSAGES) && !(drop & DROP_ATTEMPTS))
            jsonw_lit(&o, n++ ? ",\"attempt_messages\"" : "\"attempt_messages\"");
        if (drop & DROP_ATTEMPTS)
            jsonw_lit(&o, n++ ? ",\"attempts\"" : "\"attempts\"");
        if (drop & DROP_METADATA)
            jsonw_lit(&o, n++ ? ",\"metadata\"" : "\"metadata\"");
        jsonw_raw(&o, "]", 1);
    }
    jsonw_raw(&o, "}", 1);
    if (o.failed) {
        free(o.buf);
        return NULL;
    }
    *len = o.len;
    return o.buf;
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
    static const unsigned steps[] = { DROP_MESSAGES, DROP_ATTEMPTS, DROP_METADATA };
    char why[96];
    size_t len = 0, full;
    unsigned drop = 0;
    char *out;

    if (!r)
        return NULL;
    out = encode(r, 0, &len);
    if (!out || max == 0 || len <= max)
        return out;
    full = len;
    free(out);
    for (size_t i = 0; i < sizeof steps / sizeof steps[0]; i++) {
        if (!drops_something(r, steps[i]))
            continue;
        drop |= steps[i];
        out = encode(r, drop, &len);
        if (!out || len <= max)
            return out;
        free(out);
    }
    /* Even the bare result is too big (huge URLs or error text): say so. */
    snprintf(why, sizeof why, "result of %zu bytes is over the %zu-byte limit", full, max);
    struct codec_result m = {
        .id = r->id,
        .succeeded = 0,
        .error_class = "result_too_large",
        .error_message = why,
        .line = r->line,
        .queued_ms = r->queued_ms,
        .total_ms = r->total_ms,
        .worker = r->worker,
    };
    out = encode(&m, 0, &len);
    if (out && len > max) {
        free(out);
        return NULL;
    }
    return out;
}
