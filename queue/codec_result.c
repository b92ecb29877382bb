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

#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>


/* The line is written straight into a growing buffer (core/jsonw), in the
 * documented key order, as json-c would print it (JSON_C_TO_STRING_PLAIN |
 * JSON_C_TO_STRING_NOSLASHESCAPE): a json-c tree per result cost about as
 * much as the rest of the job's own work (BENCH.md, issue 12). */

/* A JSON string from s (at most max bytes, up to its NUL), with invalid
 * UTF-8 replaced by U+FFFD; or null when s is NULL (or empty, if
 * empty_is_null). */
static void put_str_or_null(struct jsonw *o, const char *s, size_t max, int empty_is_null)
{
    if (!s || (empty_is_null && s[0] == '\0'))
        JSONW_LIT(o, "null");
    else
        jsonw_str_utf8(o, s, max);
}

/* Keys and the punctuation around them go out as one literal each (KEY(o,
 * ",\"name\":")): the line is about twenty of them. */
#define KEY(o, lit) JSONW_LIT(o, lit)

/* What a bounded result left out, in the order it is given up. */
enum { DROP_MESSAGES = 1, DROP_ATTEMPTS = 2, DROP_METADATA = 4 };

static void put_attempt(struct jsonw *o, const struct codec_attempt *a, unsigned drop)
{
    KEY(o, "{\"provider\":");
    jsonw_str_utf8(o, a->provider, sizeof a->provider);
    KEY(o, ",\"task_id\":");
    put_str_or_null(o, a->task_id, sizeof a->task_id, 1);
    KEY(o, ",\"phase\":");
    jsonw_str_utf8(o, a->phase, sizeof a->phase);
    KEY(o, ",\"outcome\":");
    jsonw_str_utf8(o, a->outcome, sizeof a->outcome);
    KEY(o, ",\"http_status\":");
    if (a->http_status != 0)
        jsonw_i64(o, a->http_status);
    else
        JSONW_LIT(o, "null");
    KEY(o, ",\"code\":");
    put_str_or_null(o, a->code, sizeof a->code, 1);
    KEY(o, ",\"message\":");
    if (drop & DROP_MESSAGES)
        JSONW_LIT(o, "null");
    else
        put_str_or_null(o, a->message, sizeof a->message, 1);
    KEY(o, ",\"elapsed_ms\":");
    jsonw_i64(o, a->elapsed_ms);
    JSONW_LIT(o, "}");
}

/* About how long r's line is, without measuring each string: a guess close
 * enough that the buffer is allocated once for a usual line (a longer one
 * grows as usual). */
static size_t size_guess(const struct codec_result *r, unsigned drop)
{
    size_t n = 320 + 128 * r->n_result_urls;
    if (!(drop & DROP_ATTEMPTS))
        n += 224 * r->n_attempts;
    if (r->metadata && !(drop & DROP_METADATA))
        n += r->metadata_len;
    return n;
}

static char *encode(const struct codec_result *r, unsigned drop, size_t *len)
{
    struct jsonw o = { 0 };

    jsonw_reserve(&o, size_guess(r, drop));
    KEY(&o, "{\"id\":");
    put_str_or_null(&o, r->id, SIZE_MAX, 0);
    if (r->succeeded)
        KEY(&o, ",\"status\":\"succeeded\",\"result_urls\":[");
    else
        KEY(&o, ",\"status\":\"failed\",\"result_urls\":[");
    for (size_t i = 0; i < r->n_result_urls; i++) {
        if (i > 0)
            JSONW_LIT(&o, ",");
        jsonw_str_utf8(&o, !r->result_urls[i] ? "" : r->result_urls[i], SIZE_MAX);
    }
    KEY(&o, "],\"provider\":");
    put_str_or_null(&o, r->provider, SIZE_MAX, 0);
    KEY(&o, ",\"provider_task_id\":");
    put_str_or_null(&o, r->provider_task_id, SIZE_MAX, 0);
    KEY(&o, ",\"attempts\":[");
    for (size_t i = 0; !(drop & DROP_ATTEMPTS) && i < r->n_attempts; i++) {
        if (i > 0)
            JSONW_LIT(&o, ",");
        put_attempt(&o, &r->attempts[i], drop);
    }
    if (!r->succeeded) {
        KEY(&o, "],\"error\":{\"class\":");
        put_str_or_null(&o, r->error_class, SIZE_MAX, 0);
        KEY(&o, ",\"message\":");
        put_str_or_null(&o, r->error_message, SIZE_MAX, 0);
        JSONW_LIT(&o, "}");
    } else {
        KEY(&o, "],\"error\":null");
    }
    if (r->line >= 0) {
        KEY(&o, ",\"line\":");
        jsonw_i64(&o, r->line);
    }
    KEY(&o, ",\"timings\":{\"queued_ms\":");
    jsonw_i64(&o, r->queued_ms);
    KEY(&o, ",\"total_ms\":");
    jsonw_i64(&o, r->total_ms);
    KEY(&o, "},\"worker\":");
    put_str_or_null(&o, r->worker, SIZE_MAX, 0);
    KEY(&o, ",\"metadata\":");
    if (r->metadata && !(drop & DROP_METADATA))
        jsonw_raw(&o, r->metadata,
                  r->metadata_len); /* trusted: a codec_job's, re-serialized at parse */
    else
        JSONW_LIT(&o, "null");
    if (drop != 0) { /* "truncated": the largest part given up first */
        const char *sep = "";
        KEY(&o, ",\"truncated\":[");
        if ((drop & DROP_MESSAGES) && !(drop & DROP_ATTEMPTS)) {
            JSONW_LIT(&o, "\"attempt_messages\"");
            sep = ",";
        }
        if (drop & DROP_ATTEMPTS) {
            jsonw_lit(&o, sep);
            JSONW_LIT(&o, "\"attempts\"");
            sep = ",";
        }
        if (drop & DROP_METADATA) {
            jsonw_lit(&o, sep);
            JSONW_LIT(&o, "\"metadata\"");
        }
        JSONW_LIT(&o, "]");
    }
    JSONW_LIT(&o, "}");
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
