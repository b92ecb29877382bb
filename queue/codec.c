/* codec.c — decode and validate one job value (docs/architecture.md §Messages);
 * the result line is codec_result.c's. Pure: no I/O, no clock, no globals.
 *
 * Decoding is deliberately stricter than json-c. Before json-c sees the bytes
 * a single pass over the raw input rejects what json-c lets through or would
 * silently alter: invalid UTF-8 (overlongs, surrogates, > U+10FFFF), NUL bytes,
 * raw control characters and \u0000 escapes inside strings (json-c keys are C
 * strings, so a NUL would truncate them), single-quoted strings and comments.
 * json-c then parses exactly len bytes in strict mode with a depth limit, and a
 * walk of the tree rejects NaN/Infinity, which json-c accepts but would write
 * back out as invalid JSON. Every error names the field it is about.
 *
 * A job's metadata is kept as compact text only (bounded in bytes and
 * values) and is spliced verbatim into the result: no json-c tree of it
 * outlives a parse.
 */
#include "queue/codec.h"
#include "queue/utf8.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define MAX_NAME 128 /* model, template, var-free names */
#define MAX_PROVIDER_NAME 63

__attribute__((format(printf, 3, 4))) static void seterr(char *err, size_t errlen, const char *fmt, ...)
{
    va_list ap;

    if (err == NULL || errlen == 0)
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
            seterr(err, errlen, "invalid JSON: NUL byte at offset %zu", i);
            return -1;
        }
        if (c >= 0x80) {
            n = utf8_seq(s + i, len - i);
            if (n == 0) {
                seterr(err, errlen, "invalid UTF-8 at offset %zu", i);
                return -1;
            }
            i += n;
            continue;
        }
        if (!in_string) {
            if (c == '"') {
                in_string = 1;
            } else if (c == '\'') {
                seterr(err, errlen, "invalid JSON: single quote at offset %zu", i);
                return -1;
            } else if (c == '/') {
                seterr(err, errlen, "invalid JSON: comment at offset %zu", i);
                return -1;
            }
            i++;
            continue;
        }
        if (c < 0x20) {
            seterr(err, errlen, "invalid JSON: control character in string at offset %zu", i);
            return -1;
        }
        if (c == '"') {
            in_string = 0;
        } else if (c == '\\' && i + 1 < len) {
            if (s[i + 1] == 'u' && i + 5 < len && memcmp(s + i + 2, "0000", 4) == 0) {
                seterr(err, errlen, "invalid JSON: NUL (\\u0000) in string at offset %zu", i);
                return -1;
            }
            i++; /* skip the escaped character; a bad one is json-c's to report */
        }
        i++;
    }
    return 0;
}

/* Rejects NaN and infinities anywhere in the tree. */
static int check_finite(json_object *v, const char *field, char *err, size_t errlen)
{
    switch (json_object_get_type(v)) {
    case json_type_double:
        if (!isfinite(json_object_get_double(v))) {
            seterr(err, errlen, "%s: numbers must be finite", field);
            return -1;
        }
        return 0;
    case json_type_array:
        for (size_t i = 0; i < json_object_array_length(v); i++)
            if (check_finite(json_object_array_get_idx(v, i), field, err, errlen) != 0)
                return -1;
        return 0;
    case json_type_object: {
        json_object_object_foreach(v, key, val)
        {
            (void)key;
            if (check_finite(val, field, err, errlen) != 0)
                return -1;
        }
        return 0;
    }
    default:
        return 0;
    }
}

/* ---- field helpers ------------------------------------------------------ */

static int has_control(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f)
            return 1;
    return 0;
}

static int is_space(char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v';
}

/* An optional field's value; NULL when absent or JSON null. */
static json_object *field(json_object *obj, const char *key)
{
    json_object *v = NULL;

    if (!json_object_object_get_ex(obj, key, &v))
        return NULL;
    return v;
}

/* A string field that is a short name or id: non-empty, ≤ max bytes, no
 * control characters. Returns a strdup or NULL with err set. */
static char *name_string(json_object *v, const char *what, size_t max, char *err, size_t errlen)
{
    const char *s;
    size_t n;
    char *out;

    if (!json_object_is_type(v, json_type_string)) {
        seterr(err, errlen, "%s: must be a string", what);
        return NULL;
    }
    s = json_object_get_string(v);
    n = (size_t)json_object_get_string_len(v);
    if (n == 0) {
        seterr(err, errlen, "%s: must not be empty", what);
        return NULL;
    }
    if (n > max) {
        seterr(err, errlen, "%s: longer than %zu bytes", what, max);
        return NULL;
    }
    if (has_control(s, n)) {
        seterr(err, errlen, "%s: contains a control character", what);
        return NULL;
    }
    out = strdup(s);
    if (out == NULL)
        seterr(err, errlen, "%s: out of memory", what);
    return out;
}

static int oom(char *err, size_t errlen)
{
    seterr(err, errlen, "out of memory");
    return -1;
}

static const char *const known_keys[] = {
    "id",         "operation", "prompt",   "image_urls", "output_format", "aspect_ratio", "model",
    "providers", "deadline_s", "template", "vars",       "metadata",      NULL,
};

static const char *const aspect_ratios[] = {
    "1:1", "9:16", "16:9", "3:4", "4:3", "3:2", "2:3", "5:4", "4:5", "21:9", "auto", NULL,
};

static int in_list(const char *s, const char *const *list)
{
    for (size_t i = 0; list[i] != NULL; i++)
        if (strcmp(s, list[i]) == 0)
            return 1;
    return 0;
}

/* ---- per-field parsers; each returns 0 or -1 with err set ---------------- */

static int parse_id(json_object *root, struct codec_job *j, char *err, size_t errlen)
{
    json_object *v;

    if (!json_object_object_get_ex(root, "id", &v)) {
        seterr(err, errlen, "id: missing");
        return -1;
    }
    j->id = name_string(v, "id", CODEC_MAX_ID, err, errlen);
    return j->id == NULL ? -1 : 0;
}

/* Stores the prompt with leading and trailing whitespace removed. */
static int parse_prompt(json_object *root, struct codec_job *j, char *err, size_t errlen)
{
    json_object *v = field(root, "prompt");
    const char *s;
    size_t n;

    if (v == NULL) {
        if (j->template_name != NULL)
            return 0;
        seterr(err, errlen, "prompt: missing (and no template)");
        return -1;
    }
    if (j->template_name != NULL) {
        seterr(err, errlen, "prompt: not allowed together with template (the template makes the prompt)");
        return -1;
    }
    if (!json_object_is_type(v, json_type_string)) {
        seterr(err, errlen, "prompt: must be a string");
        return -1;
    }
    s = json_object_get_string(v);
    n = (size_t)json_object_get_string_len(v);
    while (n > 0 && is_space(*s)) {
        s++;
        n--;
    }
    while (n > 0 && is_space(s[n - 1]))
        n--;
    if (n == 0) {
        seterr(err, errlen, "prompt: must not be empty or only whitespace");
        return -1;
    }
    if (utf8_count(s, n) > CODEC_MAX_PROMPT) {
        seterr(err, errlen, "prompt: longer than %d characters", CODEC_MAX_PROMPT);
        return -1;
    }
    j->prompt = strndup(s, n);
    return j->prompt == NULL ? oom(err, errlen) : 0;
}

static int url_ok(const char *s, size_t n)
{
    static const char *const schemes[] = {"https://", "http://", "data:", NULL};

    for (size_t i = 0; schemes[i] != NULL; i++) {
        size_t k = strlen(schemes[i]);
        if (n > k && strncasecmp(s, schemes[i], k) == 0)
            return 1;
    }
    return 0;
}

static int parse_image_urls(json_object *root, struct codec_job *j, char *err, size_t errlen)
{
    json_object *v = field(root, "image_urls");
    size_t n;

    if (v != NULL && !json_object_is_type(v, json_type_array)) {
        seterr(err, errlen, "image_urls: must be an array of strings");
        return -1;
    }
    n = v == NULL ? 0 : json_object_array_length(v);
    if (n == 0) {
        if (j->op == CODEC_OP_EDIT) {
            seterr(err, errlen, "image_urls: required for operation edit");
            return -1;
        }
        return 0; /* [] on a generate job means "no input images" */
    }
    if (n > CODEC_MAX_IMAGES) {
        seterr(err, errlen, "image_urls: more than %d images", CODEC_MAX_IMAGES);
        return -1;
    }
    j->image_urls = calloc(n, sizeof *j->image_urls);
    if (j->image_urls == NULL)
        return oom(err, errlen);
    for (size_t i = 0; i < n; i++) {
        json_object *e = json_object_array_get_idx(v, i);
        const char *s;
        size_t len;

        if (!json_object_is_type(e, json_type_string)) {
            seterr(err, errlen, "image_urls[%zu]: must be a string", i);
            return -1;
        }
        s = json_object_get_string(e);
        len = (size_t)json_object_get_string_len(e);
        if (!url_ok(s, len)) {
            seterr(err, errlen, "image_urls[%zu]: must start with http://, https:// or data:", i);
            return -1;
        }
        if (has_control(s, len) || memchr(s, ' ', len) != NULL) {
            seterr(err, errlen, "image_urls[%zu]: contains whitespace or a control character", i);
            return -1;
        }
        j->image_urls[i] = strdup(s);
        if (j->image_urls[i] == NULL)
            return oom(err, errlen);
        j->n_image_urls = i + 1;
    }
    return 0;
}

/* An optional string that must be one of list; stored as a copy in *out. */
static int parse_choice(json_object *root, const char *key, const char *const *list, char **out, char *err,
                        size_t errlen)
{
    json_object *v = field(root, key);
    const char *s;

    if (v == NULL)
        return 0;
    if (!json_object_is_type(v, json_type_string)) {
        seterr(err, errlen, "%s: must be a string", key);
        return -1;
    }
    s = json_object_get_string(v);
    if (!in_list(s, list)) {
        seterr(err, errlen, "%s: unknown value \"%.32s\"", key, s);
        return -1;
    }
    *out = strdup(s);
    return *out == NULL ? oom(err, errlen) : 0;
}

static int parse_operation(json_object *root, struct codec_job *j, char *err, size_t errlen)
{
    static const char *const ops[] = {"generate", "edit", NULL};
    char *op = NULL;

    if (parse_choice(root, "operation", ops, &op, err, errlen) != 0)
        return -1;
    j->op = op != NULL && strcmp(op, "edit") == 0 ? CODEC_OP_EDIT : CODEC_OP_GENERATE;
    j->op_set = op != NULL;
    free(op);
    return 0;
}

static int parse_output_format(json_object *root, struct codec_job *j, char *err, size_t errlen)
{
    static const char *const formats[] = {"png", "jpeg", "jpg", NULL};

    if (parse_choice(root, "output_format", formats, &j->output_format, err, errlen) != 0)
        return -1;
    if (j->output_format != NULL && strcmp(j->output_format, "jpg") == 0) {
        free(j->output_format);
        j->output_format = strdup("jpeg");
        if (j->output_format == NULL)
            return oom(err, errlen);
    }
    return 0;
}

static int parse_aspect_ratio(json_object *root, struct codec_job *j, char *err, size_t errlen)
{
    return parse_choice(root, "aspect_ratio", aspect_ratios, &j->aspect_ratio, err, errlen);
}

static int parse_model(json_object *root, struct codec_job *j, char *err, size_t errlen)
{
    json_object *v = field(root, "model");

    j->model = v == NULL ? strdup("nano-banana") : name_string(v, "model", MAX_NAME, err, errlen);
    if (j->model == NULL)
        return v == NULL ? oom(err, errlen) : -1;
    return 0;
}

static int parse_providers(json_object *root, struct codec_job *j, char *err, size_t errlen)
{
    json_object *v = field(root, "providers");
    size_t n;
    char what[32];

    if (v == NULL)
        return 0;
    if (!json_object_is_type(v, json_type_array)) {
        seterr(err, errlen, "providers: must be an array of strings");
        return -1;
    }
    n = json_object_array_length(v);
    if (n == 0 || n > CODEC_MAX_PROVIDERS) {
        seterr(err, errlen, "providers: must list 1 to %d providers", CODEC_MAX_PROVIDERS);
        return -1;
    }
    j->providers = calloc(n, sizeof *j->providers);
    if (j->providers == NULL)
        return oom(err, errlen);
    for (size_t i = 0; i < n; i++) {
        snprintf(what, sizeof what, "providers[%zu]", i);
        j->providers[i] = name_string(json_object_array_get_idx(v, i), what, MAX_PROVIDER_NAME, err, errlen);
        if (j->providers[i] == NULL)
            return -1;
        j->n_providers = i + 1;
        for (size_t k = 0; k < i; k++) {
            if (strcmp(j->providers[k], j->providers[i]) == 0) {
                seterr(err, errlen, "providers: duplicate \"%s\"", j->providers[i]);
                return -1;
            }
        }
    }
    return 0;
}

static int parse_deadline(json_object *root, struct codec_job *j, char *err, size_t errlen)
{
    json_object *v = field(root, "deadline_s");
    int64_t d;

    if (v == NULL)
        return 0;
    if (!json_object_is_type(v, json_type_int)) {
        seterr(err, errlen, "deadline_s: must be an integer");
        return -1;
    }
    d = json_object_get_int64(v);
    if (d < 1 || d > 86400) {
        seterr(err, errlen, "deadline_s: must be between 1 and 86400");
        return -1;
    }
    j->deadline_s = (int)d;
    return 0;
}

static int parse_template(json_object *root, struct codec_job *j, char *err, size_t errlen)
{
    json_object *v = field(root, "template");
    json_object *vars = field(root, "vars");

    if (v != NULL) {
        j->template_name = name_string(v, "template", MAX_NAME, err, errlen);
        if (j->template_name == NULL)
            return -1;
    }
    if (vars == NULL)
        return 0;
    if (!json_object_is_type(vars, json_type_object)) {
        seterr(err, errlen, "vars: must be an object");
        return -1;
    }
    if (j->template_name == NULL) {
        seterr(err, errlen, "vars: only allowed together with template");
        return -1;
    }
    if (json_object_object_length(vars) > CODEC_MAX_VARS) {
        seterr(err, errlen, "vars: more than %d keys", CODEC_MAX_VARS);
        return -1;
    }
    json_object_object_foreach(vars, key, val)
    {
        json_type t = json_object_get_type(val);
        if (strlen(key) > MAX_NAME) {
            seterr(err, errlen, "vars: key \"%.64s…\" longer than %d bytes", key, MAX_NAME);
            return -1;
        }
        if (t != json_type_string && t != json_type_int && t != json_type_double) {
            seterr(err, errlen, "vars.%.64s: must be a string or a number", key);
            return -1;
        }
        if (t == json_type_string && (size_t)json_object_get_string_len(val) > CODEC_MAX_VAR_VALUE) {
            seterr(err, errlen, "vars.%.64s: longer than %d bytes", key, CODEC_MAX_VAR_VALUE);
            return -1;
        }
    }
    j->vars = json_object_get(vars);
    return 0;
}

/* Number of JSON values in v, counting stops soon after limit is passed. */
static size_t count_values(json_object *v, size_t limit)
{
    size_t n = 1;

    if (json_object_is_type(v, json_type_array)) {
        for (size_t i = 0; i < json_object_array_length(v) && n <= limit; i++)
            n += count_values(json_object_array_get_idx(v, i), limit - n);
    } else if (json_object_is_type(v, json_type_object)) {
        json_object_object_foreach(v, key, val)
        {
            (void)key;
            if (n > limit)
                break;
            n += count_values(val, limit - n);
        }
    }
    return n;
}

/* Keeps metadata as its compact text: the tree is gone when parsing ends, so a
 * job in flight holds at most CODEC_MAX_METADATA bytes for it. */
static int parse_metadata(json_object *root, struct codec_job *j, char *err, size_t errlen)
{
    json_object *v = field(root, "metadata");
    const char *s;
    size_t n = 0;

    if (v == NULL)
        return 0;
    if (!json_object_is_type(v, json_type_object)) {
        seterr(err, errlen, "metadata: must be an object");
        return -1;
    }
    if (count_values(v, CODEC_MAX_METADATA_NODES) > CODEC_MAX_METADATA_NODES) {
        seterr(err, errlen, "metadata: more than %d JSON values", CODEC_MAX_METADATA_NODES);
        return -1;
    }
    s = json_object_to_json_string_length(v, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE, &n);
    if (s == NULL)
        return oom(err, errlen);
    if (n > CODEC_MAX_METADATA) {
        seterr(err, errlen, "metadata: %zu bytes serialized, over the %d-byte limit", n, CODEC_MAX_METADATA);
        return -1;
    }
    j->metadata = strndup(s, n);
    if (j->metadata == NULL)
        return oom(err, errlen);
    j->metadata_len = n;
    return 0;
}

/* ---- decoding ----------------------------------------------------------- */

/* After a failed strict parse: was the input one complete value followed by
 * something else? If so *end is where the value stopped. Error path only. */
static int has_trailing(const char *buf, size_t len, size_t *end)
{
    json_tokener *tok = json_tokener_new_ex(CODEC_MAX_DEPTH);
    json_object *v;
    int trailing = 0;

    if (tok == NULL)
        return 0;
    json_tokener_set_flags(tok, JSON_TOKENER_STRICT | JSON_TOKENER_ALLOW_TRAILING_CHARS |
                                    JSON_TOKENER_VALIDATE_UTF8);
    v = json_tokener_parse_ex(tok, buf, (int)len);
    if (v != NULL && json_tokener_get_parse_end(tok) < len) {
        trailing = 1;
        *end = json_tokener_get_parse_end(tok);
    }
    json_object_put(v);
    json_tokener_free(tok);
    return trailing;
}

/* Parses exactly len bytes into one JSON value, or NULL with err set. */
static json_object *tokenize(const char *buf, size_t len, char *err, size_t errlen)
{
    json_tokener *tok;
    json_object *v;
    enum json_tokener_error e;
    size_t i = 0, base = 0;

    while (i < len && is_space(buf[i]))
        i++;
    if (i == len) {
        seterr(err, errlen, "invalid JSON: empty input");
        return NULL;
    }
    if (len > (size_t)INT32_MAX) {
        seterr(err, errlen, "invalid JSON: input too large");
        return NULL;
    }
    if (scan_raw(buf, len, err, errlen) != 0)
        return NULL;
    tok = json_tokener_new_ex(CODEC_MAX_DEPTH);
    if (tok == NULL) {
        seterr(err, errlen, "out of memory");
        return NULL;
    }
    json_tokener_set_flags(tok, JSON_TOKENER_STRICT | JSON_TOKENER_VALIDATE_UTF8);
    v = json_tokener_parse_ex(tok, buf, (int)len);
    e = json_tokener_get_error(tok);
    if (v == NULL && e == json_tokener_continue) {
        /* A bare number or literal needs a terminator to be complete; an
         * unfinished object or array turns into "unexpected end of data". */
        v = json_tokener_parse_ex(tok, "", 1);
        e = json_tokener_get_error(tok);
        base = len; /* parse_end now counts from the terminator */
    }
    if (v == NULL || e != json_tokener_success) {
        size_t end = base + json_tokener_get_parse_end(tok);
        if (e == json_tokener_error_depth)
            seterr(err, errlen, "invalid JSON: nested deeper than %d levels", CODEC_MAX_DEPTH);
        else if (has_trailing(buf, len, &end))
            seterr(err, errlen, "invalid JSON: trailing data after the value at offset %zu", end);
        else if (e == json_tokener_success) /* the literal null: parsed, but no value */
            seterr(err, errlen, "must be a JSON object, not null");
        else
            seterr(err, errlen, "invalid JSON: %s at offset %zu", json_tokener_error_desc(e), end);
        json_object_put(v);
        v = NULL;
    }
    json_tokener_free(tok);
    return v;
}

/* Field parsers in checking order; template comes before prompt because a
 * template makes the prompt optional. */
static int (*const steps[])(json_object *, struct codec_job *, char *, size_t) = {
    parse_id,           parse_operation, parse_template,  parse_prompt,   parse_image_urls, parse_output_format,
    parse_aspect_ratio, parse_model,     parse_providers, parse_deadline, parse_metadata,
};

static int validate(json_object *root, struct codec_job *j, char *err, size_t errlen)
{
    json_object_object_foreach(root, key, val)
    {
        if (!in_list(key, known_keys)) {
            seterr(err, errlen, "unknown key \"%.64s\"", key);
            return -1;
        }
        if (check_finite(val, key, err, errlen) != 0)
            return -1;
    }
    for (size_t i = 0; i < sizeof steps / sizeof steps[0]; i++)
        if (steps[i](root, j, err, errlen) != 0)
            return -1;
    return 0;
}

struct codec_job *codec_job_parse(const char *buf, size_t len, char **id_out, char *err, size_t errlen)
{
    json_object *root, *idv;
    struct codec_job *j;

    if (id_out != NULL)
        *id_out = NULL;
    seterr(err, errlen, "%s", "");
    if (buf == NULL && len > 0) {
        seterr(err, errlen, "invalid JSON: no input");
        return NULL;
    }
    root = tokenize(buf == NULL ? "" : buf, len, err, errlen);
    if (root == NULL)
        return NULL;
    if (!json_object_is_type(root, json_type_object)) {
        seterr(err, errlen, "job: must be a JSON object");
        json_object_put(root);
        return NULL;
    }
    /* Only an id that is valid itself is handed out: an oversized or control-laden
     * one must never reach a result, key or header (best effort: NULL on OOM). */
    if (id_out != NULL && json_object_object_get_ex(root, "id", &idv))
        *id_out = name_string(idv, "id", CODEC_MAX_ID, NULL, 0);
    j = calloc(1, sizeof *j);
    if (j == NULL) {
        seterr(err, errlen, "out of memory");
    } else if (validate(root, j, err, errlen) != 0) {
        codec_job_free(j);
        j = NULL;
    }
    json_object_put(root);
    return j;
}

static void free_strv(char **v, size_t n)
{
    if (v == NULL)
        return;
    for (size_t i = 0; i < n; i++)
        free(v[i]);
    free(v);
}

void codec_job_free(struct codec_job *j)
{
    if (j == NULL)
        return;
    free(j->id);
    free(j->prompt);
    free_strv(j->image_urls, j->n_image_urls);
    free(j->output_format);
    free(j->aspect_ratio);
    free(j->model);
    free_strv(j->providers, j->n_providers);
    free(j->template_name);
    json_object_put(j->vars);
    free(j->metadata);
    free(j);
}

const char *codec_op_name(enum codec_op op)
{
    return op == CODEC_OP_EDIT ? "edit" : "generate";
}
