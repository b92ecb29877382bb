/* jsonstrict.c — the codec's strict JSON reading (docs/architecture.md §Messages).
 * Pure: no I/O, no clock, no globals.
 *
 * Stricter than json-c. Before json-c sees the bytes a single pass over the
 * raw input rejects what json-c lets through or would silently alter: invalid
 * UTF-8 (overlongs, surrogates, > U+10FFFF), NUL bytes, raw control characters
 * and \u0000 escapes inside strings (json-c keys are C strings, so a NUL would
 * truncate them), single-quoted strings and comments. json-c then parses
 * exactly len bytes in strict mode with a depth limit. NaN/Infinity, which
 * json-c accepts but would write back out as invalid JSON, are rejected by
 * jsonstrict_check_finite() on the caller's walk.
 */
#include "queue/jsonstrict.h"
#include "core/jread.h"
#include "core/utf8.h"

#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

void jsonstrict_seterr(char *err, size_t errlen, const char *fmt, ...)
{
    va_list ap;

    if (!err || errlen == 0)
        return;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
}

/* The raw-byte pass described at the top. Returns 0 or -1 with err set. */
static int scan_raw(const char *buf, size_t len, char *err, size_t errlen)
{
    const unsigned char *s = (const unsigned char *)buf;
    int in_string = 0;
    size_t i = 0;

    while (i < len) {
        unsigned char c = s[i];
        size_t n;

        if (c == 0) {
            jsonstrict_seterr(err, errlen, "invalid JSON: NUL byte at offset %zu", i);
            return -1;
        }
        if (c >= 0x80) {
            n = utf8_seq(s + i, len - i);
            if (n == 0) {
                jsonstrict_seterr(err, errlen, "invalid UTF-8 at offset %zu", i);
                return -1;
            }
            i += n;
            continue;
        }
        if (!in_string) {
            if (c == '"') {
                in_string = 1;
            } else if (c == '\'') {
                jsonstrict_seterr(err, errlen, "invalid JSON: single quote at offset %zu", i);
                return -1;
            } else if (c == '/') {
                jsonstrict_seterr(err, errlen, "invalid JSON: comment at offset %zu", i);
                return -1;
            }
            i++;
            continue;
        }
        if (c < 0x20) {
            jsonstrict_seterr(err, errlen,
                              "invalid JSON: control character in string at offset %zu", i);
            return -1;
        }
        if (c == '"') {
            in_string = 0;
        } else if (c == '\\' && i + 1 < len) {
            if (s[i + 1] == 'u' && i + 5 < len && memcmp(s + i + 2, "0000", 4) == 0) {
                jsonstrict_seterr(err, errlen,
                                  "invalid JSON: NUL (\\u0000) in string at offset %zu", i);
                return -1;
            }
            i++; /* skip the escaped character; a bad one is json-c's to report */
        }
        i++;
    }
    return 0;
}

int jsonstrict_check_finite(json_object *v, const char *field, char *err, size_t errlen)
{
    switch (json_object_get_type(v)) {
    case json_type_double:
        if (!isfinite(json_object_get_double(v))) {
            jsonstrict_seterr(err, errlen, "%s: numbers must be finite", field);
            return -1;
        }
        return 0;
    case json_type_array:
        for (size_t i = 0; i < json_object_array_length(v); i++)
            if (jsonstrict_check_finite(json_object_array_get_idx(v, i), field, err, errlen) != 0)
                return -1;
        return 0;
    case json_type_object: {
        json_object_object_foreach(v, key, val)
        {
            (void)key;
            if (jsonstrict_check_finite(val, field, err, errlen) != 0)
                return -1;
        }
        return 0;
    }
    default:
        return 0;
    }
}

static int is_space(char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v';
}

/* After a failed strict parse: was the input one complete value followed by
 * something else? If so *end is where the value stopped. Error path only. */
static int has_trailing(const char *buf, size_t len, int depth, size_t *end)
{
    json_tokener *tok = json_tokener_new_ex(depth);
    json_object *v;
    int trailing = 0;

    if (!tok)
        return 0;
    json_tokener_set_flags(tok, JSON_TOKENER_STRICT | JSON_TOKENER_ALLOW_TRAILING_CHARS |
                                        JSON_TOKENER_VALIDATE_UTF8);
    v = json_tokener_parse_ex(tok, buf, (int)len);
    if (v && json_tokener_get_parse_end(tok) < len) {
        trailing = 1;
        *end = json_tokener_get_parse_end(tok);
    }
    json_object_put(v);
    json_tokener_free(tok);
    return trailing;
}

json_object *jsonstrict_parse(const char *buf, size_t len, int depth, char *err, size_t errlen)
{
    json_tokener *tok;
    json_object *v;
    enum json_tokener_error e;
    size_t i = 0, base = 0;

    while (i < len && is_space(buf[i]))
        i++;
    if (i == len) {
        jsonstrict_seterr(err, errlen, "invalid JSON: empty input");
        return NULL;
    }
    if (len > (size_t)INT32_MAX) {
        jsonstrict_seterr(err, errlen, "invalid JSON: input too large");
        return NULL;
    }
    if (scan_raw(buf, len, err, errlen) != 0)
        return NULL;
    tok = json_tokener_new_ex(depth);
    if (!tok) {
        jsonstrict_seterr(err, errlen, "out of memory");
        return NULL;
    }
    json_tokener_set_flags(tok, JSON_TOKENER_STRICT | JSON_TOKENER_VALIDATE_UTF8);
    v = json_tokener_parse_ex(tok, buf, (int)len);
    e = json_tokener_get_error(tok);
    if (!v && e == json_tokener_continue) {
        /* A bare number or literal needs a terminator to be complete; an
         * unfinished object or array turns into "unexpected end of data". */
        v = json_tokener_parse_ex(tok, "", 1);
        e = json_tokener_get_error(tok);
        base = len; /* parse_end now counts from the terminator */
    }
    if (!v || e != json_tokener_success) {
        size_t end = base + json_tokener_get_parse_end(tok);
        if (e == json_tokener_error_depth)
            jsonstrict_seterr(err, errlen, "invalid JSON: nested deeper than %d levels", depth);
        else if (has_trailing(buf, len, depth, &end))
            jsonstrict_seterr(err, errlen,
                              "invalid JSON: trailing data after the value at offset %zu", end);
        else if (e == json_tokener_success) /* the literal null: parsed, but no value */
            jsonstrict_seterr(err, errlen, "must be a JSON object, not null");
        else
            jsonstrict_seterr(err, errlen, "invalid JSON: %s at offset %zu",
                              json_tokener_error_desc(e), end);
        json_object_put(v);
        v = NULL;
    }
    json_tokener_free(tok);
    return v;
}

/* What jread accepts but the tree-based reader did not, or read otherwise:
 * a \u0000 escape (json-c keys are C strings), and a value nested deeper
 * than json-c's tokener allows (max_depth levels: every value at
 * most max_depth - 1 containers down). v is an accepted document. */
int jsonstrict_needs_tree(const struct jread_val *v, int max_depth)
{
    const char *p = v->p, *end = v->p + v->n;
    int depth = 0;

    while (p < end) {
        char c = *p++;
        if (c == '"') {
            while (*p != '"') {
                if (*p == '\\') {
                    if (p[1] == 'u' && memcmp(p + 2, "0000", 4) == 0)
                        return 1;
                    p++;
                }
                p++;
            }
            p++;
        } else if (c == '[' || c == '{') {
            if (++depth >= max_depth) {
                while (p < end && is_space(*p))
                    p++;
                if (*p != ']' && *p != '}')
                    return 1;
            }
        } else if (c == ']' || c == '}') {
            depth--;
        }
    }
    return 0;
}

/* Resets every double in v to json-c's default form ("2." → "2.0"). */
void jsonstrict_plain_doubles(json_object *v)
{
    switch (json_object_get_type(v)) {
    case json_type_double:
        json_object_set_serializer(v, NULL, NULL, NULL);
        break;
    case json_type_array:
        for (size_t i = 0; i < json_object_array_length(v); i++)
            jsonstrict_plain_doubles(json_object_array_get_idx(v, i));
        break;
    case json_type_object: {
        json_object_object_foreach(v, key, val)
        {
            (void)key;
            jsonstrict_plain_doubles(val);
        }
        break;
    }
    default:
        break;
    }
}
