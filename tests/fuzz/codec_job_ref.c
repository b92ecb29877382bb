/* codec_job_ref.c — the job codec as it was before it read jobs with
 * providers/jread (commit b709269's queue/codec_job.c, codec_job_parse()
 * renamed codec_job_ref_parse()): the reference of the differential fuzz
 * target fuzz_codec_job_diff.c, compiled only into it. Do not edit.
 *
 * The bytes are read by jsonstrict_parse() (stricter than json-c: see
 * jsonstrict.h), then a walk of the tree rejects unknown keys and NaN/Infinity
 * and each field is checked. Every error names the field it is about.
 *
 * A job's metadata is kept as compact text only (bounded in bytes and
 * values) and is spliced verbatim into the result: no json-c tree of it
 * outlives a parse.
 */
#include "tests/fuzz/codec_job_ref.h"
#include "queue/jsonstrict.h"
#include "core/utf8.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define MAX_NAME 128 /* model, template, var-free names */
#define MAX_PROVIDER_NAME 63

#define seterr jsonstrict_seterr

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
    if (!out)
        seterr(err, errlen, "%s: out of memory", what);
    return out;
}

static int oom(char *err, size_t errlen)
{
    seterr(err, errlen, "out of memory");
    return -1;
}

static const char *const known_keys[] = {
    "id",        "operation",  "prompt",   "image_urls", "output_format", "aspect_ratio", "model",
    "providers", "deadline_s", "template", "vars",       "metadata",      NULL,
};

static const char *const aspect_ratios[] = {
    "1:1", "9:16", "16:9", "3:4", "4:3", "3:2", "2:3", "5:4", "4:5", "21:9", "auto", NULL,
};

static int in_list(const char *s, const char *const *list)
{
    for (size_t i = 0; list[i]; i++)
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
    return !j->id ? -1 : 0;
}

/* Stores the prompt with leading and trailing whitespace removed. */
static int parse_prompt(json_object *root, struct codec_job *j, char *err, size_t errlen)
{
    json_object *v = field(root, "prompt");
    const char *s;
    size_t n;

    if (!v) {
        if (j->template_name)
            return 0;
        seterr(err, errlen, "prompt: missing (and no template)");
        return -1;
    }
    if (j->template_name) {
        seterr(err, errlen,
               "prompt: not allowed together with template (the template makes the prompt)");
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
    return !j->prompt ? oom(err, errlen) : 0;
}

static int url_ok(const char *s, size_t n)
{
    static const char *const schemes[] = { "https://", "http://", "data:", NULL };

    for (size_t i = 0; schemes[i]; i++) {
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

    if (v && !json_object_is_type(v, json_type_array)) {
        seterr(err, errlen, "image_urls: must be an array of strings");
        return -1;
    }
    n = !v ? 0 : json_object_array_length(v);
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
    if (!j->image_urls)
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
        if (has_control(s, len) || memchr(s, ' ', len)) {
            seterr(err, errlen, "image_urls[%zu]: contains whitespace or a control character", i);
            return -1;
        }
        j->image_urls[i] = strdup(s);
        if (!j->image_urls[i])
            return oom(err, errlen);
        j->n_image_urls = i + 1;
    }
    return 0;
}

/* An optional string that must be one of list; stored as a copy in *out. */
static int parse_choice(json_object *root, const char *key, const char *const *list, char **out,
                        char *err, size_t errlen)
{
    json_object *v = field(root, key);
    const char *s;

    if (!v)
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
    return !*out ? oom(err, errlen) : 0;
}

static int parse_operation(json_object *root, struct codec_job *j, char *err, size_t errlen)
{
    static const char *const ops[] = { "generate", "edit", NULL };
    char *op = NULL;

    if (parse_choice(root, "operation", ops, &op, err, errlen) != 0)
        return -1;
    j->op = op && strcmp(op, "edit") == 0 ? CODEC_OP_EDIT : CODEC_OP_GENERATE;
    j->op_set = op != NULL;
    free(op);
    return 0;
}

static int parse_output_format(json_object *root, struct codec_job *j, char *err, size_t errlen)
{
    static const char *const formats[] = { "png", "jpeg", "jpg", NULL };

    if (parse_choice(root, "output_format", formats, &j->output_format, err, errlen) != 0)
        return -1;
    if (j->output_format && strcmp(j->output_format, "jpg") == 0) {
        free(j->output_format);
        j->output_format = strdup("jpeg");
        if (!j->output_format)
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

    j->model = !v ? strdup("nano-banana") : name_string(v, "model", MAX_NAME, err, errlen);
    if (!j->model)
        return !v ? oom(err, errlen) : -1;
    return 0;
}

static int parse_providers(json_object *root, struct codec_job *j, char *err, size_t errlen)
{
    json_object *v = field(root, "providers");
    size_t n;
    char what[32];

    if (!v)
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
    if (!j->providers)
        return oom(err, errlen);
    for (size_t i = 0; i < n; i++) {
        snprintf(what, sizeof what, "providers[%zu]", i);
        j->providers[i] =
                name_string(json_object_array_get_idx(v, i), what, MAX_PROVIDER_NAME, err, errlen);
        if (!j->providers[i])
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

    if (!v)
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

    if (v) {
        j->template_name = name_string(v, "template", MAX_NAME, err, errlen);
        if (!j->template_name)
            return -1;
    }
    if (!vars)
        return 0;
    if (!json_object_is_type(vars, json_type_object)) {
        seterr(err, errlen, "vars: must be an object");
        return -1;
    }
    if (!j->template_name) {
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
        if (t == json_type_string &&
            (size_t)json_object_get_string_len(val) > CODEC_MAX_VAR_VALUE) {
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

    if (!v)
        return 0;
    if (!json_object_is_type(v, json_type_object)) {
        seterr(err, errlen, "metadata: must be an object");
        return -1;
    }
    if (count_values(v, CODEC_MAX_METADATA_NODES) > CODEC_MAX_METADATA_NODES) {
        seterr(err, errlen, "metadata: more than %d JSON values", CODEC_MAX_METADATA_NODES);
        return -1;
    }
    s = json_object_to_json_string_length(
            v, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE, &n);
    if (!s)
        return oom(err, errlen);
    if (n > CODEC_MAX_METADATA) {
        seterr(err, errlen, "metadata: %zu bytes serialized, over the %d-byte limit", n,
               CODEC_MAX_METADATA);
        return -1;
    }
    j->metadata = strndup(s, n);
    if (!j->metadata)
        return oom(err, errlen);
    j->metadata_len = n;
    return 0;
}

/* Field parsers in checking order; template comes before prompt because a
 * template makes the prompt optional. */
static int (*const steps[])(json_object *, struct codec_job *, char *, size_t) = {
    parse_id,         parse_operation,     parse_template,     parse_prompt,
    parse_image_urls, parse_output_format, parse_aspect_ratio, parse_model,
    parse_providers,  parse_deadline,      parse_metadata,
};

static int validate(json_object *root, struct codec_job *j, char *err, size_t errlen)
{
    json_object_object_foreach(root, key, val)
    {
        if (!in_list(key, known_keys)) {
            seterr(err, errlen, "unknown key \"%.64s\"", key);
            return -1;
        }
        if (jsonstrict_check_finite(val, key, err, errlen) != 0)
            return -1;
    }
    for (size_t i = 0; i < sizeof steps / sizeof steps[0]; i++)
        if (steps[i](root, j, err, errlen) != 0)
            return -1;
    return 0;
}

struct codec_job *codec_job_ref_parse(const char *buf, size_t len, char **id_out, char *err,
                                      size_t errlen)
{
    json_object *root, *idv;
    struct codec_job *j;

    if (id_out)
        *id_out = NULL;
    seterr(err, errlen, "%s", "");
    if (!buf && len > 0) {
        seterr(err, errlen, "invalid JSON: no input");
        return NULL;
    }
    root = jsonstrict_parse(!buf ? "" : buf, len, CODEC_MAX_DEPTH, err, errlen);
    if (!root)
        return NULL;
    if (!json_object_is_type(root, json_type_object)) {
        seterr(err, errlen, "job: must be a JSON object");
        json_object_put(root);
        return NULL;
    }
    /* Only an id that is valid itself is handed out: an oversized or control-laden
     * one must never reach a result, key or header (best effort: NULL on OOM). */
    if (id_out && json_object_object_get_ex(root, "id", &idv))
        *id_out = name_string(idv, "id", CODEC_MAX_ID, NULL, 0);
    j = calloc(1, sizeof *j);
    if (!j) {
        seterr(err, errlen, "out of memory");
    } else if (validate(root, j, err, errlen) != 0) {
        codec_job_free(j);
        j = NULL;
    }
    json_object_put(root);
    return j;
}
