/* prov_util.c — the helpers every provider shares (prov_util.h, internal to
 * providers/).
 *
 * Role: give kie.c and replicate.c one careful implementation of the fiddly
 * bits (bounded JSON parsing of bodies that are not NUL-terminated,
 * Retry-After, URL escaping, safe message copies).
 *
 * Invariants: everything here is pure (no I/O, no clock, no globals);
 * result.message and result.code are always NUL-terminated; no function here
 * crashes on NULL or hostile input. */
#include "prov_util.h"
#include "core/utf8.h"

#include <json-c/json.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "core/jread.h"
#include "core/sy.h"

#define PROV_JSON_MAX_DEPTH 64
/* Retry-After values above a day are clamped: no provider means that, and
 * it keeps the arithmetic far from overflow. */
#define PROV_RETRY_AFTER_MAX_S 86400L

static int is_space(char c)
{
    return c == ' ' || c == '\t';
}

static int is_digit(char c)
{
    return c >= '0' && c <= '9';
}

/* Accepts delta-seconds ("5") and, leniently, a decimal ("1.5"), with
 * optional surrounding blanks. An HTTP-date ("Wed, 21 Oct 2015 07:28:00 GMT")
 * returns -1: turning it into a delay needs the wall clock, which a pure
 * parser does not have, and no provider we drive sends one. */
long prov_parse_retry_after(const char *value)
{
    if (!value)
        return -1;
    const char *s = value;
    while (is_space(*s))
        s++;
    if (!is_digit(*s))
        return -1;
    long secs = 0;
    while (is_digit(*s)) {
        if (secs <= PROV_RETRY_AFTER_MAX_S)
            secs = secs * 10 + (*s - '0');
        s++;
    }
    long frac_ms = 0;
    if (*s == '.') {
        s++;
        if (!is_digit(*s))
            return -1;
        long scale = 100;
        while (is_digit(*s)) {
            frac_ms += (*s - '0') * scale;
            scale /= 10;
            s++;
        }
    }
    while (is_space(*s))
        s++;
    if (*s != '\0')
        return -1;
    if (secs >= PROV_RETRY_AFTER_MAX_S)
        return PROV_RETRY_AFTER_MAX_S * 1000;
    return secs * 1000 + frac_ms;
}

struct json_object *prov_json_parse(const char *body, size_t len)
{
    if (!body || len == 0 || len > (size_t)INT32_MAX)
        return NULL;
    struct json_tokener *tok = json_tokener_new_ex(PROV_JSON_MAX_DEPTH);
    if (!tok)
        return NULL;
    struct json_object *o = json_tokener_parse_ex(tok, body, (int)len);
    enum json_tokener_error jerr = json_tokener_get_error(tok);
    size_t used = json_tokener_get_parse_end(tok);
    json_tokener_free(tok);
    if (jerr != json_tokener_success) {
        /* json_tokener_continue: truncated input; anything else: invalid. */
        json_object_put(o);
        return NULL;
    }
    for (size_t i = used; i < len; i++) {
        char c = body[i];
        if (c != ' ' && c != '\t' && c != '\r' && c != '\n') {
            json_object_put(o);
            return NULL;
        }
    }
    return o;
}

const char *prov_json_str(struct json_object *o, const char *key)
{
    struct json_object *v;
    if (!o || !json_object_is_type(o, json_type_object))
        return NULL;
    if (!json_object_object_get_ex(o, key, &v) || !json_object_is_type(v, json_type_string))
        return NULL;
    return json_object_get_string(v);
}

int prov_json_int(struct json_object *o, const char *key, long *val)
{
    struct json_object *v;
    if (!o || !json_object_is_type(o, json_type_object) || !json_object_object_get_ex(o, key, &v))
        return 0;
    switch (json_object_get_type(v)) {
    case json_type_int: {
        int64_t i = json_object_get_int64(v);
        if (i < -1000000000 || i > 1000000000)
            return 0;
        *val = (long)i;
        return 1;
    }
    case json_type_double: {
        double d = json_object_get_double(v);
        if (!(d >= -1e9 && d <= 1e9) || d != (double)(long)d)
            return 0;
        *val = (long)d;
        return 1;
    }
    case json_type_string: {
        const char *s = json_object_get_string(v);
        long n = 0;
        int neg = 0;
        if (*s == '-') {
            neg = 1;
            s++;
        }
        if (!is_digit(*s))
            return 0;
        for (; is_digit(*s); s++) {
            if (n > 100000000)
                return 0;
            n = n * 10 + (*s - '0');
        }
        if (*s != '\0')
            return 0;
        *val = neg ? -n : n;
        return 1;
    }
    default:
        return 0;
    }
}

void prov_result_fail(struct prov_result *r, enum prov_class cls, enum prov_kind kind,
                      const char *fmt, ...)
{
    r->outcome = PROV_FAILED;
    r->cls = cls;
    r->kind = kind;
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(r->message, sizeof(r->message), fmt, ap);
    va_end(ap);
    if (n < 0)
        r->message[0] = '\0';
    utf8_sanitize(r->message);
}

static void copy_text(char *dst, size_t cap, const char *src)
{
    size_t n = src ? strlen(src) : 0;
    if (n >= cap)
        n = cap - 1;
    if (n)
        memcpy(dst, src, n);
    dst[n] = '\0';
    utf8_sanitize(dst);
}

void prov_result_set_code(struct prov_result *r, const char *code)
{
    copy_text(r->code, sizeof(r->code), code);
}

int prov_result_add_url(struct prov_result *r, const char *url)
{
    char **grown = realloc(r->urls, (r->n_urls + 1) * sizeof(*grown));
    if (!grown)
        return SY_ERR;
    r->urls = grown;
    r->urls[r->n_urls] = strdup(url);
    if (!r->urls[r->n_urls])
        return SY_ERR;
    r->n_urls++;
    return SY_OK;
}

const char *prov_result_url_problem(const char *url, size_t n)
{
    size_t k;
    if (n > PROV_MAX_URL_BYTES)
        return "is longer than 2048 bytes";
    if (strncasecmp(url, "https://", 8) == 0)
        k = 8;
    else if (strncasecmp(url, "http://", 7) == 0)
        k = 7;
    else
        return "is not an http:// or https:// URL";
    if (n <= k || url[k] == '/')
        return "has no host";
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)url[i];
        if (c <= 0x20 || c == 0x7f)
            return "contains a control character or whitespace";
    }
    return NULL;
}

int prov_result_take_url(struct prov_result *r, const char *url, size_t n)
{
    size_t index = r->n_urls;
    const char *why = index >= PROV_MAX_RESULT_URLS ? "is one too many (at most 16)"
                                                    : prov_result_url_problem(url, n);
    if (!why) {
        char *copy = strndup(url, n);
        char **grown = copy ? realloc(r->urls, (r->n_urls + 1) * sizeof(*grown)) : NULL;
        if (!grown) {
            free(copy);
            return SY_ERR;
        }
        r->urls = grown;
        r->urls[r->n_urls++] = copy;
        return SY_OK;
    }
    for (size_t i = 0; i < r->n_urls; i++)
        free(r->urls[i]);
    free(r->urls);
    r->urls = NULL;
    r->n_urls = 0;
    prov_result_fail(r, PROV_C_INVALID_REPLY, PROV_K_UNAVAILABLE, "result URL #%zu %s", index + 1,
                     why);
    return SY_DECLINED;
}

int prov_request_add_header(struct prov_request *r, const char *header)
{
    if (r->n_headers < 0 || r->n_headers >= PROV_MAX_HEADERS)
        return SY_ERR;
    char *h = strdup(header);
    if (!h)
        return SY_ERR;
    r->headers[r->n_headers++] = h;
    return SY_OK;
}

char *prov_url_escape(const char *s)
{
    static const char hex[] = "0123456789ABCDEF";
    size_t n = strlen(s);
    char *out = malloc(n * 3 + 1);
    if (!out)
        return NULL;
    char *o = out;
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        unsigned char c = *p;
        if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || is_digit((char)c) || c == '-' ||
            c == '.' || c == '_' || c == '~') {
            *o++ = (char)c;
        } else {
            *o++ = '%';
            *o++ = hex[c >> 4];
            *o++ = hex[c & 15];
        }
    }
    *o = '\0';
    return out;
}

/* 4xx statuses that are neither the job's fault nor listed here (403 from a
 * Cloudflare block, 409, …) map to UNAVAILABLE: another provider, or a later
 * try, may succeed, whereas INVALID_INPUT would fail the job everywhere. */
enum prov_kind prov_kind_from_status(long status)
{
    switch (status) {
    case 400:
    case 413:
    case 422:
        return PROV_K_INVALID_INPUT;
    case 401:
        return PROV_K_AUTH;
    case 402:
        return PROV_K_NO_CREDIT;
    case 404:
        return PROV_K_NOT_FOUND;
    case 429:
        return PROV_K_RATE_LIMITED;
    default:
        return PROV_K_UNAVAILABLE;
    }
}

const char *prov_model_for(const struct conf_provider *p, const struct prov_task_spec *spec,
                           const struct conf_model **m, char *err, size_t errlen)
{
    const char *logical = spec->model ? spec->model : "";
    *m = conf_provider_model(p, logical);
    if (!*m) {
        snprintf(err, errlen, "provider %s does not map model \"%s\"", p->name, logical);
        return NULL;
    }
    const char *model = spec->op == CONF_OP_EDIT ? (*m)->edit : (*m)->generate;
    if (!model)
        snprintf(err, errlen, "provider %s cannot %s with model \"%s\"", p->name,
                 spec->op == CONF_OP_EDIT ? "edit" : "generate", logical);
    return model;
}

const char *prov_output_format(const struct conf_model *m, const char *fmt, const char *dflt)
{
    if (!fmt || strcasecmp(fmt, "png") == 0)
        return "png";
    if (strcasecmp(fmt, "jpeg") == 0 || strcasecmp(fmt, "jpg") == 0)
        return m->jpeg_name ? m->jpeg_name : dflt;
    return NULL;
}

int prov_base_len(const char *base_url)
{
    size_t n = base_url ? strlen(base_url) : 0;
    while (n > 0 && base_url[n - 1] == '/')
        n--;
    return (int)n;
}

char *prov_url_join(const char *base_url, const char *a, const char *b, const char *c)
{
    const char *part[4] = { base_url, a, b, c };
    size_t len[4], total = 0;
    for (int i = 0; i < 4; i++) {
        len[i] = !part[i] ? 0 : i == 0 ? (size_t)prov_base_len(base_url) : strlen(part[i]);
        total += len[i];
    }
    char *url = malloc(total + 1), *o = url;
    if (!url)
        return NULL;
    for (int i = 0; i < 4; i++) {
        if (len[i])
            memcpy(o, part[i], len[i]);
        o += len[i];
    }
    *o = '\0';
    return url;
}

int prov_check_spec(const struct conf_provider *p, const struct prov_task_spec *spec,
                    const struct conf_model *m, size_t max_images, const char *jpeg_default,
                    const char **fmt, char *err, size_t errlen)
{
    if (!spec->prompt || !*spec->prompt) {
        snprintf(err, errlen, "prompt is required");
        return SY_DECLINED;
    }
    if (spec->n_image_urls > max_images) {
        snprintf(err, errlen, "%zu images; model \"%s\" on %s takes at most %zu",
                 spec->n_image_urls, m->name, p->name, max_images);
        return SY_DECLINED;
    }
    for (size_t i = 0; i < spec->n_image_urls; i++) {
        if (!spec->image_urls || !spec->image_urls[i]) {
            snprintf(err, errlen, "image URL %zu is missing", i);
            return SY_DECLINED;
        }
    }
    *fmt = prov_output_format(m, spec->output_format, jpeg_default);
    if (!*fmt) {
        snprintf(err, errlen, "output format \"%s\" is not supported by %s", spec->output_format,
                 p->name);
        return SY_DECLINED;
    }
    return SY_OK;
}

int prov_request_json(struct prov_request *out, struct json_object *root)
{
    const char *text = json_object_to_json_string_ext(root, JSON_C_TO_STRING_PLAIN |
                                                                    JSON_C_TO_STRING_NOSLASHESCAPE);
    out->method = PROV_POST;
    out->body = text ? strdup(text) : NULL;
    json_object_put(root);
    if (!out->body || !out->url ||
        prov_request_add_header(out, "Content-Type: application/json") != SY_OK) {
        prov_request_cleanup(out);
        return SY_ERR;
    }
    return SY_OK;
}

int prov_request_task(struct prov_request *out, enum prov_method method, const char *base_url,
                      const char *prefix, const char *task_id, const char *suffix)
{
    memset(out, 0, sizeof(*out));
    if (!task_id || !*task_id)
        return SY_ERR;
    char *id = prov_url_escape(task_id);
    if (!id)
        return SY_ERR;
    out->url = prov_url_join(base_url, prefix, id, suffix);
    free(id);
    if (!out->url)
        return SY_ERR;
    out->method = method;
    return SY_OK;
}

int prov_result_take_jread_url(struct prov_result *out, const struct jread_val *u)
{
    struct jread_buf b;
    int rc = SY_OK;
    if (jread_take(u, &b) && b.len > 0)
        rc = prov_result_take_url(out, b.s, b.len);
    else if (u->type == JREAD_STRING && !b.s)
        rc = SY_ERR; /* no memory */
    jread_buf_free(&b);
    return rc;
}
