/* codec_job.c — decode and validate one job value (docs/architecture.md
 * §Messages); the result line is codec_result.c's. Pure: no I/O, no clock,
 * no globals.
 *
 * One pass of providers/jread validates the bytes (RFC 8259, strict UTF-8)
 * and finds the members; fields are read in place from it. Every error
 * names the field it is about. vars and metadata, the only fields kept as
 * JSON, are read by json-c from their own text.
 *
 * The accepted language and every error sentence are those of the
 * tree-based reader this replaced (jsonstrict.c then a json-c walk):
 * tests/fuzz/fuzz_codec_job_diff.c compares the two on the parsed job and
 * the error. So:
 * - jread accepts no more than jsonstrict; what it refuses (and a root that
 *   is not an object) goes to jsonstrict_parse() for its error sentence,
 *   and the few objects json-c takes but jread does not are checked on the
 *   json-c tree as before (NaN, Infinity: always an error there) or, when
 *   that passes ("2.", "00.5", lone surrogate escapes), read from json-c's
 *   compact text of the tree;
 * - a \u0000 escape and nesting past CODEC_MAX_DEPTH, which jread allows,
 *   take that path too;
 * - as in json-c, the last of duplicate keys wins, and the unknown-key and
 *   finite-number checks run in first-occurrence order.
 *
 * A job's metadata is kept as compact text only (bounded in bytes and
 * values) and is spliced verbatim into the result: no json-c tree of it
 * outlives a parse.
 */
#include "queue/codec.h"
#include "core/sy.h"
#include "core/jread.h"
#include "queue/jsonstrict.h"
#include "core/utf8.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define MAX_NAME 128 /* model, template, var-free names */
#define MAX_PROVIDER_NAME 63
#define KEY_SHOWN 64 /* bytes of an unknown key in its error */

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

/* Present and not JSON null (null counts as absent for optional fields). */
static int given(const struct jread_val *v)
{
    return v->type != JREAD_NONE && v->type != JREAD_NULL;
}

/* A string field that is a short name or id: non-empty, ≤ max bytes, no
 * control characters. field names it in errors, with "[idx]" after it when
 * idx >= 0. Returns a strdup or NULL with err set. */
static char *name_string(const struct jread_val *v, const char *field, long idx, size_t max,
                         char *err, size_t errlen)
{
    struct jread_buf b;
    const char *why = NULL;
    char *out = NULL, what[32];

    if (v->type != JREAD_STRING)
        why = "must be a string";
    else if (!jread_take(v, &b))
        why = "out of memory";
    else if (b.len == 0)
        why = "must not be empty";
    else if (b.len > max)
        why = ""; /* longer than max */
    else if (has_control(b.s, b.len))
        why = "contains a control character";
    else if (!(out = strdup(b.s)))
        why = "out of memory";
    if (v->type == JREAD_STRING)
        jread_buf_free(&b);
    if (!why || !err || errlen == 0)
        return out;
    if (idx < 0)
        snprintf(what, sizeof what, "%s", field);
    else
        snprintf(what, sizeof what, "%s[%ld]", field, idx);
    if (*why)
        seterr(err, errlen, "%s: %s", what, why);
    else
        seterr(err, errlen, "%s: longer than %zu bytes", what, max);
    return NULL;
}

static int oom(char *err, size_t errlen)
{
    seterr(err, errlen, "out of memory");
    return -1;
}

enum {
    K_ID,
    K_OPERATION,
    K_PROMPT,
    K_IMAGE_URLS,
    K_OUTPUT_FORMAT,
    K_ASPECT_RATIO,
    K_MODEL,
    K_PROVIDERS,
    K_DEADLINE,
    K_TEMPLATE,
    K_VARS,
    K_METADATA,
    K_COUNT
};

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

static int key_index(const char *s)
{
    for (int i = 0; i < K_COUNT; i++)
        if (strcmp(s, known_keys[i]) == 0)
            return i;
    return -1;
}

/* The job's members: each known key's last value (type NONE when absent). */
struct members {
    struct jread_val v[K_COUNT];
    json_object *
            tree; /* when read from json-c's text of it: the tree (vars and metadata come from it) */
};

/* ---- per-field parsers; each returns 0 or -1 with err set ---------------- */

static int parse_id(const struct members *m, struct codec_job *j, char *err, size_t errlen)
{
    if (m->v[K_ID].type == JREAD_NONE) {
        seterr(err, errlen, "id: missing");
        return -1;
    }
    j->id = name_string(&m->v[K_ID], "id", -1, CODEC_MAX_ID, err, errlen);
    return !j->id ? -1 : 0;
}

/* Stores the prompt with leading and trailing whitespace removed. */
static int parse_prompt(const struct members *m, struct codec_job *j, char *err, size_t errlen)
{
    const struct jread_val *v = &m->v[K_PROMPT];
    struct jread_buf b;
    const char *s;
    size_t n;
    int rc = -1;

    if (!given(v)) {
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
    if (v->type != JREAD_STRING) {
        seterr(err, errlen, "prompt: must be a string");
        return -1;
    }
    if (!jread_take(v, &b)) {
        jread_buf_free(&b);
        return oom(err, errlen);
    }
    s = b.s;
    n = b.len;
    while (n > 0 && is_space(*s)) {
        s++;
        n--;
    }
    while (n > 0 && is_space(s[n - 1]))
        n--;
    if (n == 0)
        seterr(err, errlen, "prompt: must not be empty or only whitespace");
    else if (utf8_count(s, n) > CODEC_MAX_PROMPT)
        seterr(err, errlen, "prompt: longer than %d characters", CODEC_MAX_PROMPT);
    else if (!(j->prompt = strndup(s, n)))
        oom(err, errlen);
    else
        rc = 0;
    jread_buf_free(&b);
    return rc;
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

static size_t count_elems(const struct jread_val *v)
{
    struct jread_iter it;
    struct jread_val e;
    size_t n = 0;

    jread_iter_init(&it, v);
    while (jread_iter_next(&it, NULL, &e))
        n++;
    return n;
}

/* One image URL, checked; 0 or -1 with err set. */
static int image_url(const struct jread_val *e, size_t i, char **out, char *err, size_t errlen)
{
    struct jread_buf b;
    int rc = -1;

    if (e->type != JREAD_STRING) {
        seterr(err, errlen, "image_urls[%zu]: must be a string", i);
        return -1;
    }
    if (!jread_take(e, &b))
        oom(err, errlen);
    else if (!url_ok(b.s, b.len))
        seterr(err, errlen, "image_urls[%zu]: must start with http://, https:// or data:", i);
    else if (has_control(b.s, b.len) || memchr(b.s, ' ', b.len))
        seterr(err, errlen, "image_urls[%zu]: contains whitespace or a control character", i);
    else if (!(*out = strdup(b.s)))
        oom(err, errlen);
    else
        rc = 0;
    jread_buf_free(&b);
    return rc;
}

static int parse_image_urls(const struct members *m, struct codec_job *j, char *err, size_t errlen)
{
    const struct jread_val *v = &m->v[K_IMAGE_URLS];
    struct jread_iter it;
    struct jread_val e;
    size_t n;

    if (given(v) && v->type != JREAD_ARRAY) {
        seterr(err, errlen, "image_urls: must be an array of strings");
        return -1;
    }
    n = !given(v) ? 0 : count_elems(v);
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
    jread_iter_init(&it, v);
    for (size_t i = 0; jread_iter_next(&it, NULL, &e); i++) {
        if (image_url(&e, i, &j->image_urls[i], err, errlen) != 0)
            return -1;
        j->n_image_urls = i + 1;
    }
    return 0;
}

/* An optional string that must be one of list; stored as a copy in *out. */
static int parse_choice(const struct jread_val *v, const char *key, const char *const *list,
                        char **out, char *err, size_t errlen)
{
    struct jread_buf b;
    int rc = -1;

    if (!given(v))
        return 0;
    if (v->type != JREAD_STRING) {
        seterr(err, errlen, "%s: must be a string", key);
        return -1;
    }
    if (!jread_take(v, &b))
        oom(err, errlen);
    else if (!in_list(b.s, list))
        seterr(err, errlen, "%s: unknown value \"%.32s\"", key, b.s);
    else if (!(*out = strdup(b.s)))
        oom(err, errlen);
    else
        rc = 0;
    jread_buf_free(&b);
    return rc;
}

static int parse_operation(const struct members *m, struct codec_job *j, char *err, size_t errlen)
{
    static const char *const ops[] = { "generate", "edit", NULL };
    char *op = NULL;

    if (parse_choice(&m->v[K_OPERATION], "operation", ops, &op, err, errlen) != 0)
        return -1;
    j->op = op && strcmp(op, "edit") == 0 ? CODEC_OP_EDIT : CODEC_OP_GENERATE;
    j->op_set = op != NULL;
    free(op);
    return 0;
}

static int parse_output_format(const struct members *m, struct codec_job *j, char *err,
                               size_t errlen)
{
    static const char *const formats[] = { "png", "jpeg", "jpg", NULL };

    if (parse_choice(&m->v[K_OUTPUT_FORMAT], "output_format", formats, &j->output_format, err,
                     errlen) != 0)
        return -1;
    if (j->output_format && strcmp(j->output_format, "jpg") == 0) {
        free(j->output_format);
        j->output_format = strdup("jpeg");
        if (!j->output_format)
            return oom(err, errlen);
    }
    return 0;
}

static int parse_aspect_ratio(const struct members *m, struct codec_job *j, char *err,
                              size_t errlen)
{
    return parse_choice(&m->v[K_ASPECT_RATIO], "aspect_ratio", aspect_ratios, &j->aspect_ratio, err,
                        errlen);
}

static int parse_model(const struct members *m, struct codec_job *j, char *err, size_t errlen)
{
    const struct jread_val *v = &m->v[K_MODEL];

    j->model =
            !given(v) ? strdup("nano-banana") : name_string(v, "model", -1, MAX_NAME, err, errlen);
    if (!j->model)
        return !given(v) ? oom(err, errlen) : -1;
    return 0;
}

static int parse_providers(const struct members *m, struct codec_job *j, char *err, size_t errlen)
{
    const struct jread_val *v = &m->v[K_PROVIDERS];
    struct jread_iter it;
    struct jread_val e;
    size_t n;

    if (!given(v))
        return 0;
    if (v->type != JREAD_ARRAY) {
        seterr(err, errlen, "providers: must be an array of strings");
        return -1;
    }
    n = count_elems(v);
    if (n == 0 || n > CODEC_MAX_PROVIDERS) {
        seterr(err, errlen, "providers: must list 1 to %d providers", CODEC_MAX_PROVIDERS);
        return -1;
    }
    j->providers = calloc(n, sizeof *j->providers);
    if (!j->providers)
        return oom(err, errlen);
    jread_iter_init(&it, v);
    for (size_t i = 0; jread_iter_next(&it, NULL, &e); i++) {
        j->providers[i] = name_string(&e, "providers", (long)i, MAX_PROVIDER_NAME, err, errlen);
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

static int parse_deadline(const struct members *m, struct codec_job *j, char *err, size_t errlen)
{
    const struct jread_val *v = &m->v[K_DEADLINE];
    int is_double = 0;
    int64_t d = 0;
    double dv;

    if (!given(v))
        return 0;
    if (v->type != JREAD_NUMBER || jread_number(v, &is_double, &d, &dv) != SY_OK || is_double) {
        seterr(err, errlen, "deadline_s: must be an integer");
        return -1;
    }
    if (d < 1 || d > 86400) {
        seterr(err, errlen, "deadline_s: must be between 1 and 86400");
        return -1;
    }
    j->deadline_s = (int)d;
    return 0;
}

/* json-c's tree of member key (v, an object), for the fields kept as JSON;
 * NULL when out of memory. */
static json_object *subtree(const struct members *m, const char *key, const struct jread_val *v)
{
    json_tokener *tok;
    json_object *o;

    if (m->tree)
        return json_object_object_get_ex(m->tree, key, &o) ? json_object_get(o) : NULL;
    tok = json_tokener_new_ex(CODEC_MAX_DEPTH);
    if (!tok)
        return NULL;
    json_tokener_set_flags(tok, JSON_TOKENER_STRICT | JSON_TOKENER_VALIDATE_UTF8);
    o = json_tokener_parse_ex(tok, v->p, (int)v->n);
    json_tokener_free(tok);
    return o;
}

static int check_vars(json_object *vars, char *err, size_t errlen)
{
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
    return 0;
}

static int parse_template(const struct members *m, struct codec_job *j, char *err, size_t errlen)
{
    const struct jread_val *v = &m->v[K_TEMPLATE], *vars = &m->v[K_VARS];
    json_object *tree;

    if (given(v)) {
        j->template_name = name_string(v, "template", -1, MAX_NAME, err, errlen);
        if (!j->template_name)
            return -1;
    }
    if (!given(vars))
        return 0;
    if (vars->type != JREAD_OBJECT) {
        seterr(err, errlen, "vars: must be an object");
        return -1;
    }
    if (!j->template_name) {
        seterr(err, errlen, "vars: only allowed together with template");
        return -1;
    }
    tree = subtree(m, "vars", vars);
    if (!tree)
        return oom(err, errlen);
    if (check_vars(tree, err, errlen) != 0) {
        json_object_put(tree);
        return -1;
    }
    j->vars = tree;
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

/* Keeps metadata as its compact text (as json-c writes it): the tree is
 * gone when parsing ends, so a job in flight holds at most
 * CODEC_MAX_METADATA bytes for it. */
static int parse_metadata(const struct members *m, struct codec_job *j, char *err, size_t errlen)
{
    const struct jread_val *v = &m->v[K_METADATA];
    json_object *tree;
    const char *s;
    size_t n = 0;
    int rc = -1;

    if (!given(v))
        return 0;
    if (v->type != JREAD_OBJECT) {
        seterr(err, errlen, "metadata: must be an object");
        return -1;
    }
    tree = subtree(m, "metadata", v);
    if (!tree)
        return oom(err, errlen);
    if (count_values(tree, CODEC_MAX_METADATA_NODES) > CODEC_MAX_METADATA_NODES) {
        seterr(err, errlen, "metadata: more than %d JSON values", CODEC_MAX_METADATA_NODES);
    } else if (!(s = json_object_to_json_string_length(
                         tree, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE, &n))) {
        oom(err, errlen);
    } else if (n > CODEC_MAX_METADATA) {
        seterr(err, errlen, "metadata: %zu bytes serialized, over the %d-byte limit", n,
               CODEC_MAX_METADATA);
    } else if (!(j->metadata = strndup(s, n))) {
        oom(err, errlen);
    } else {
        j->metadata_len = n;
        rc = 0;
    }
    json_object_put(tree);
    return rc;
}

/* Field parsers in checking order; template comes before prompt because a
 * template makes the prompt optional. */
static int (*const steps[])(const struct members *, struct codec_job *, char *, size_t) = {
    parse_id,         parse_operation,     parse_template,     parse_prompt,
    parse_image_urls, parse_output_format, parse_aspect_ratio, parse_model,
    parse_providers,  parse_deadline,      parse_metadata,
};

/* ---- reading the document ------------------------------------------------ */

/* 1 when v holds a number json-c reads as a non-finite double (1e999). In
 * an object, only the last of duplicate keys counts, as in json-c's tree. */
static int nonfinite(const struct jread_val *v)
{
    struct jread_iter it;
    struct jread_val k, e, last;
    struct jread_buf b;
    int is_double, bad;
    int64_t i;
    double d;

    if (v->type == JREAD_NUMBER)
        return jread_number(v, &is_double, &i, &d) == SY_OK && is_double && !isfinite(d);
    if (v->type != JREAD_ARRAY && v->type != JREAD_OBJECT)
        return 0; /* a string or literal: nothing to look into */
    jread_iter_init(&it, v);
    while (jread_iter_next(&it, &k, &e)) {
        if (!nonfinite(&e))
            continue;
        if (k.type == JREAD_NONE)
            return 1;
        bad = jread_take(&k, &b) && jread_get(v, b.s, &last) && last.p == e.p;
        jread_buf_free(&b);
        if (bad)
            return 1;
    }
    return 0;
}

/* Collects the members of root (an object) into m, and checks the keys and
 * numbers as the json-c walk did: in order of first occurrence, an unknown
 * key or a non-finite number in a key's (last) value is the error. */
static int read_members(const struct jread_val *root, struct members *m, char *err, size_t errlen)
{
    struct jread_iter it;
    struct jread_val k, v;
    int order[K_COUNT], n_known = 0, unknown_at = -1;
    char key[KEY_SHOWN + 8], unknown[KEY_SHOWN + 8] = "";

    memset(m, 0, sizeof *m);
    jread_iter_init(&it, root);
    while (jread_iter_next(&it, &k, &v)) {
        size_t n = jread_str(&k, key, sizeof key);
        int i = n < sizeof key ? key_index(key) : -1;
        if (i < 0) {
            if (unknown_at < 0) {
                unknown_at = n_known;
                memcpy(unknown, key, sizeof key);
            }
            continue;
        }
        if (m->v[i].type == JREAD_NONE)
            order[n_known++] = i;
        m->v[i] = v;
    }
    for (int n = 0; n < (unknown_at < 0 ? n_known : unknown_at); n++) {
        if (nonfinite(&m->v[order[n]])) {
            seterr(err, errlen, "%s: numbers must be finite", known_keys[order[n]]);
            return -1;
        }
    }
    if (unknown_at >= 0) {
        seterr(err, errlen, "unknown key \"%.64s\"", unknown);
        return -1;
    }
    return 0;
}

/* The job codec_job_parse() reads from a document jread accepted. */
static struct codec_job *job_from(const struct jread_val *root, json_object *tree, char **id_out,
                                  char *err, size_t errlen)
{
    struct members m;
    struct codec_job *j;
    int rc;

    rc = read_members(root, &m, err, errlen);
    m.tree = tree;
    /* Only an id that is valid itself is handed out: an oversized or control-laden
     * one must never reach a result, key or header (best effort: NULL on OOM). */
    if (id_out && m.v[K_ID].type != JREAD_NONE)
        *id_out = name_string(&m.v[K_ID], "id", -1, CODEC_MAX_ID, NULL, 0);
    if (rc != 0)
        return NULL;
    j = calloc(1, sizeof *j);
    if (!j) {
        seterr(err, errlen, "out of memory");
        return NULL;
    }
    for (size_t i = 0; i < sizeof steps / sizeof steps[0]; i++) {
        if (steps[i](&m, j, err, errlen) != 0) {
            codec_job_free(j);
            return NULL;
        }
    }
    return j;
}

/* What jread refused or left to json-c: jsonstrict_parse()'s error, or the
 * error the json-c walk gives an object only json-c accepts (NaN,
 * Infinity). An object that passes that walk (json-c also reads "2." and
 * lone surrogate escapes) is read from json-c's compact text of it, doubles
 * rewritten; vars and metadata then come from the tree itself. */
static struct codec_job *job_from_tree(const char *buf, size_t len, char **id_out, char *err,
                                       size_t errlen)
{
    json_object *root = jsonstrict_parse(buf, len, CODEC_MAX_DEPTH, err, errlen), *idv,
                *copy = NULL;
    struct codec_job *j = NULL;
    struct jread_val text;
    const char *s;
    size_t n = 0;

    if (!root)
        return NULL;
    if (!json_object_is_type(root, json_type_object)) {
        seterr(err, errlen, "job: must be a JSON object");
        json_object_put(root);
        return NULL;
    }
    json_object_object_foreach(root, key, val)
    {
        if (!in_list(key, known_keys)) {
            seterr(err, errlen, "unknown key \"%.64s\"", key);
            goto out;
        }
        if (jsonstrict_check_finite(val, key, err, errlen) != 0)
            goto out;
    }
    if (json_object_deep_copy(root, &copy, NULL) != 0) {
        seterr(err, errlen, "out of memory");
        goto out;
    }
    jsonstrict_plain_doubles(copy);
    s = json_object_to_json_string_length(
            copy, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE, &n);
    if (!s || jread_parse(s, n, 0, &text) != SY_OK ||
        jsonstrict_needs_tree(&text, CODEC_MAX_DEPTH)) {
        seterr(err, errlen, "invalid JSON: not readable");
        json_object_put(copy);
        goto out;
    }
    j = job_from(&text, root, id_out, err, errlen);
    json_object_put(copy);
    json_object_put(root);
    return j;
out:
    if (id_out && json_object_object_get_ex(root, "id", &idv) &&
        json_object_is_type(idv, json_type_string)) {
        s = json_object_get_string(idv);
        n = (size_t)json_object_get_string_len(idv);
        if (n > 0 && n <= CODEC_MAX_ID && !has_control(s, n))
            *id_out = strdup(s);
    }
    json_object_put(root);
    return NULL;
}

struct codec_job *codec_job_parse(const char *buf, size_t len, char **id_out, char *err,
                                  size_t errlen)
{
    struct jread_val root;

    if (id_out)
        *id_out = NULL;
    if (err && errlen > 0)
        err[0] = '\0';
    if (!buf && len > 0) {
        seterr(err, errlen, "invalid JSON: no input");
        return NULL;
    }
    if (!buf || len > (size_t)INT32_MAX || jread_parse(buf, len, 0, &root) != SY_OK ||
        root.type != JREAD_OBJECT || jsonstrict_needs_tree(&root, CODEC_MAX_DEPTH))
        return job_from_tree(!buf ? "" : buf, len, id_out, err, errlen);
    return job_from(&root, NULL, id_out, err, errlen);
}

static void free_strv(char **v, size_t n)
{
    if (!v)
        return;
    for (size_t i = 0; i < n; i++)
        free(v[i]);
    free(v);
}

void codec_job_free(struct codec_job *j)
{
    if (!j)
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
