/* kie.c — KIE.AI market jobs (createTask + recordInfo) as pure functions.
 *
 * Role: turn a prov_task_spec into a createTask request, and createTask /
 * recordInfo replies into prov_results. No I/O; the loop sends the request
 * and adds Authorization and User-Agent.
 *
 * Invariants:
 * - Success needs both HTTP 2xx and body code 200 (KIE reports errors either
 *   way, see docs/providers.md §KIE codes). Errors are classified by body code first,
 *   then by HTTP status.
 * - cls is PROVIDER when the body carries a documented KIE code, HTTP for an
 *   HTTP error without one, INVALID_REPLY for a 2xx we cannot understand.
 * - Every parse fills the result completely and never trusts a type: code may
 *   be a string, data an array, resultJson a string or an object.
 * - KIE has no cancel, so build_cancel is NULL. */
#include <json-c/json.h>
#include <math.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/jread.h"
#include "jwrite.h"
#include "core/utf8.h"
#include "prov_util.h"
#include "registry.h"
#include "core/sy.h"

#define KIE_MAX_IMAGE_URLS 10 /* nano-banana-edit: image_urls up to 10 */
#define KIE_MAX_IMAGE_INPUT 8 /* nano-banana-pro: image_input up to 8 */
#define KIE_PROMPT_MAX 5000   /* google/nano-banana* */
#define KIE_PROMPT_MAX_PRO 10000
#define KIE_PROMPT_MAX_2 20000

static size_t prompt_limit(const char *model)
{
    if (strncmp(model, "nano-banana-pro", 15) == 0)
        return KIE_PROMPT_MAX_PRO;
    if (strncmp(model, "nano-banana-2", 13) == 0)
        return KIE_PROMPT_MAX_2;
    if (strncmp(model, "google/nano-banana", 18) == 0)
        return KIE_PROMPT_MAX;
    return 0; /* unknown model: let KIE judge */
}

static int kie_build_create(const struct conf_provider *p, const struct prov_task_spec *spec,
                            struct prov_request *out, char *err, size_t errlen)
{
    memset(out, 0, sizeof(*out));
    const struct conf_model *m;
    const char *model = prov_model_for(p, spec, &m, err, errlen);
    if (!model)
        return SY_DECLINED;
    const char *field = m->image_field ? m->image_field : "image_urls";
    size_t imax = strcmp(field, "image_input") == 0 ? KIE_MAX_IMAGE_INPUT : KIE_MAX_IMAGE_URLS;
    const char *fmt;
    if (prov_check_spec(p, spec, m, imax, "jpeg", &fmt, err, errlen) != SY_OK)
        return SY_DECLINED;
    size_t plen = utf8_count(spec->prompt, strlen(spec->prompt)), pmax = prompt_limit(model);
    if (pmax && plen > pmax) {
        snprintf(err, errlen, "prompt has %zu chars; %s on %s takes at most %zu", plen, model,
                 p->name, pmax);
        return SY_DECLINED;
    }

    const struct jwrite_member input[] = {
        { .key = "prompt", .str = spec->prompt },
        { .key = field,
          .arr = spec->n_image_urls > 0 ? spec->image_urls : NULL,
          .n_arr = spec->n_image_urls },
        { .key = "output_format", .str = fmt },
        { .key = "aspect_ratio", .str = spec->aspect_ratio },
    };
    struct jsonw w;
    jsonw_init(&w);
    jsonw_reserve(&w, 512); /* a create body is ~300-400 bytes: one allocation */
    jsonw_lit(&w, "{\"model\":");
    jsonw_str(&w, model, 0);
    jsonw_lit(&w, ",\"input\":");
    jwrite_object(&w, input, sizeof input / sizeof input[0]);
    if (spec->callback_url) {
        jsonw_lit(&w, ",\"callBackUrl\":");
        jsonw_str(&w, spec->callback_url, 0);
    }
    jsonw_lit(&w, "}");

    out->url = prov_url_join(p->base_url, "/api/v1/jobs/createTask", NULL, NULL);
    if (jwrite_request(out, &w) != SY_OK) {
        snprintf(err, errlen, "out of memory");
        return SY_ERR;
    }
    return SY_OK;
}

static int kie_build_poll(const struct conf_provider *p, const char *task_id,
                          struct prov_request *out)
{
    return prov_request_task(out, PROV_GET, p->base_url, "/api/v1/jobs/recordInfo?taskId=", task_id,
                             "");
}

/* Kind for a documented KIE envelope code; NONE when the code is not one. */
static enum prov_kind kind_from_code(long code)
{
    switch (code) {
    case 401:
        return PROV_K_AUTH;
    case 402:
        return PROV_K_NO_CREDIT;
    case 429:
    case 433:
        return PROV_K_RATE_LIMITED;
    case 400:
    case 422:
        return PROV_K_INVALID_INPUT;
    case 404:
        return PROV_K_NOT_FOUND;
    case 408:
    case 455:
    case 500:
    case 501:
    case 505:
        return PROV_K_UNAVAILABLE;
    default:
        return PROV_K_NONE;
    }
}

static int http_ok(long status)
{
    return status >= 200 && status < 300;
}

/* A reply's envelope, read in the pass that validates it: root (type NONE
 * when unparsable), its members, and the members of data asked for. */
struct kie_env {
    struct jread_val root;
    struct jread_val code, msg, message, data;
};

static void env_read(const char *body, size_t len, struct kie_env *e,
                     const struct jread_want *data_want)
{
    static const char *const keys[] = { "code", "msg", "message", "data" };
    const struct jread_want w = { keys, 4, &e->code, 3, data_want };
    jread_parse_reply_want(body, len, &e->root, &w);
}

/* The envelope's msg (or message) as a C string in b, or NULL. */
static const char *envelope_msg(const struct kie_env *e, struct jread_buf *b)
{
    const char *m = jread_take(&e->msg, b);
    if (m)
        return m;
    jread_buf_free(b);
    return jread_take(&e->message, b);
}

/* Fill out for a reply that is not a success. Returns 1 when it filled out,
 * 0 when the reply is a 2xx with code 200 and the caller must look at data. */
static int classify_error(const struct prov_reply *r, const struct kie_env *e,
                          struct prov_result *out)
{
    long code = 0;
    int has_code = jread_int(&e->code, &code);
    struct jread_buf mb;
    const char *msg = envelope_msg(e, &mb);
    enum prov_kind kind = has_code ? kind_from_code(code) : PROV_K_NONE;
    int done = 1;

    out->retry_after_ms = prov_parse_retry_after(r->retry_after);
    if (has_code) {
        char buf[SY_DEC_MAX];
        prov_result_set_code(out, sy_i64_dec(code, buf));
    }
    if (kind != PROV_K_NONE) {
        if (msg)
            prov_result_fail(out, PROV_C_PROVIDER, kind, "%s", msg);
        else
            prov_result_fail(out, PROV_C_PROVIDER, kind, "KIE code %ld", code);
    } else if (!http_ok(r->http_status)) {
        if (msg)
            prov_result_fail(out, PROV_C_HTTP, prov_kind_from_status(r->http_status),
                             "HTTP %ld: %s", r->http_status, msg);
        else
            prov_result_fail(out, PROV_C_HTTP, prov_kind_from_status(r->http_status), "HTTP %ld",
                             r->http_status);
    } else if (e->root.type == JREAD_NONE) {
        prov_result_fail(out, PROV_C_INVALID_REPLY, PROV_K_UNAVAILABLE,
                         "unparsable reply body (%zu bytes)", r->body_len);
    } else if (e->root.type != JREAD_OBJECT || !has_code) {
        prov_result_fail(out, PROV_C_INVALID_REPLY, PROV_K_UNAVAILABLE,
                         "reply is not a KIE envelope");
    } else if (code != 200) {
        prov_result_fail(out, PROV_C_INVALID_REPLY, PROV_K_UNAVAILABLE, "unknown KIE code %ld: %s",
                         code, msg ? msg : "");
    } else {
        done = 0;
    }
    jread_buf_free(&mb);
    return done;
}

static void kie_parse_create(const struct prov_reply *r, struct prov_result *out)
{
    static const char *const keys[] = { "taskId" };
    struct kie_env e;
    struct jread_val task_id;
    const struct jread_want dw = { keys, 1, &task_id, 0, NULL };
    env_read(r->body, r->body_len, &e, &dw);
    out->http_status = r->http_status;
    if (!classify_error(r, &e, out)) {
        struct jread_buf b;
        const char *id = jread_take(&task_id, &b);
        if (id && *id) {
            out->outcome = PROV_CREATED;
            out->cls = PROV_C_NONE;
            out->kind = PROV_K_NONE;
            out->task_id = strdup(id);
            if (!out->task_id)
                prov_result_fail(out, PROV_C_INVALID_REPLY, PROV_K_UNAVAILABLE, "out of memory");
        } else {
            prov_result_fail(out, PROV_C_INVALID_REPLY, PROV_K_UNAVAILABLE,
                             "createTask reply has no data.taskId");
        }
        jread_buf_free(&b);
    }
}

/* A recordInfo data object's members, read in one pass. */
struct kie_data {
    struct jread_val task_id, state, result_json, create_time, complete_time, fail_code, fail_msg;
};

/* Collect resultUrls from resultJson (a JSON string, or defensively an
 * object). Non-string and empty entries are skipped; one URL that is not a
 * plain http(s) URL, or more than PROV_MAX_RESULT_URLS, makes the reply
 * invalid. */
static void parse_result_urls(const struct kie_data *d, struct prov_result *out)
{
    static const char *const keys[] = { "resultUrls" };
    struct jread_val obj = { 0 }, urls = { 0 };
    struct jread_buf text = { 0 };
    if (d->result_json.type == JREAD_STRING) {
        const struct jread_want w = { keys, 1, &urls, 0, NULL };
        if (jread_take(&d->result_json, &text))
            jread_parse_reply_want(text.s, text.len, &obj, &w);
    } else if (d->result_json.type == JREAD_OBJECT) {
        obj = d->result_json;
        jread_get(&obj, "resultUrls", &urls);
    }
    int rc = SY_OK;
    if (urls.type == JREAD_ARRAY) {
        struct jread_iter it;
        struct jread_val u;
        jread_iter_init(&it, &urls);
        while (rc == SY_OK && jread_iter_next(&it, NULL, &u))
            rc = prov_result_take_jread_url(out, &u);
    } else if (urls.type == JREAD_STRING) {
        rc = prov_result_take_jread_url(out, &urls);
    }
    if (rc == SY_DECLINED) {
        /* a refused URL has failed the reply as invalid_reply already */
    } else if (out->n_urls > 0) {
        out->outcome = PROV_SUCCEEDED;
    } else if (obj.type == JREAD_NONE) {
        prov_result_fail(out, PROV_C_INVALID_REPLY, PROV_K_UNAVAILABLE,
                         "task succeeded but resultJson is unreadable");
    } else {
        prov_result_fail(out, PROV_C_INVALID_REPLY, PROV_K_UNAVAILABLE,
                         "task succeeded but resultJson has no resultUrls");
    }
    jread_buf_free(&text);
}

static enum prov_kind kind_from_fail_code(const char *fc)
{
    if (strcmp(fc, "400") == 0 || strcmp(fc, "422") == 0)
        return PROV_K_INVALID_INPUT;
    if (strcmp(fc, "401") == 0)
        return PROV_K_AUTH;
    if (strcmp(fc, "402") == 0)
        return PROV_K_NO_CREDIT;
    if (strcmp(fc, "500") == 0)
        return PROV_K_UNAVAILABLE;
    return PROV_K_TASK_FAILED;
}

static void parse_failed_task(const struct kie_data *d, struct prov_result *out)
{
    char codebuf[24] = "";
    struct jread_buf fb, mb;
    const char *fc = jread_take(&d->fail_code, &fb);
    long n;
    if (!fc && jread_int(&d->fail_code, &n)) {
        snprintf(codebuf, sizeof(codebuf), "%ld", n);
        fc = codebuf;
    }
    const char *fm = jread_take(&d->fail_msg, &mb);
    prov_result_fail(out, PROV_C_TASK_FAILED, kind_from_fail_code(fc ? fc : ""), "%s",
                     fm && *fm ? fm : "task failed");
    prov_result_set_code(out, fc);
    jread_buf_free(&fb);
    jread_buf_free(&mb);
}

/* A value as a Unix time in ms (integer, or integral double), or -1.
 * jread_get_int() stops at 1e9, below any current Unix time in ms. */
static int64_t unix_ms(const struct jread_val *v)
{
    int dbl;
    int64_t i;
    double d;
    if (jread_number(v, &dbl, &i, &d) != SY_OK)
        return -1;
    return d > 0 && d < 1e14 && d == floor(d) ? (int64_t)d : -1;
}

/* A finished task's generation time: completeTime - createTime (Unix ms).
 * costTime is not used: KIE's docs and replies disagree on its unit. */
static void parse_duration(const struct kie_data *d, struct prov_result *out)
{
    int64_t created = unix_ms(&d->create_time), completed = unix_ms(&d->complete_time);
    if (created > 0 && completed >= created && completed - created <= 86400000)
        out->duration_ms = (long)(completed - created);
}

/* KIE's "recordInfo is null" (code 422) right after create: not an error. */
static int is_not_ready(const struct prov_reply *r, const struct kie_env *e,
                        struct prov_result *out)
{
    long code;
    struct jread_buf mb;
    const char *msg = envelope_msg(e, &mb);
    int yes = jread_int(&e->code, &code) && code == 422 && msg &&
              strcasestr(msg, "recordinfo is null");
    if (yes) {
        out->retry_after_ms = prov_parse_retry_after(r->retry_after);
        prov_result_fail(out, PROV_C_PROVIDER, PROV_K_NOT_READY, "%s", msg);
        prov_result_set_code(out, "422");
    }
    jread_buf_free(&mb);
    return yes;
}

static void judge_state(const struct kie_data *data, const char *state, struct prov_result *out)
{
    if (!state) {
        prov_result_fail(out, PROV_C_INVALID_REPLY, PROV_K_UNAVAILABLE, "recordInfo has no state");
    } else if (strcmp(state, "waiting") == 0 || strcmp(state, "queuing") == 0 ||
               strcmp(state, "generating") == 0) {
        out->outcome = PROV_PENDING;
    } else if (strcmp(state, "success") == 0) {
        parse_result_urls(data, out);
        parse_duration(data, out);
    } else if (strcmp(state, "fail") == 0) {
        parse_failed_task(data, out);
        parse_duration(data, out);
    } else {
        prov_result_fail(out, PROV_C_INVALID_REPLY, PROV_K_UNAVAILABLE, "unknown task state \"%s\"",
                         state);
    }
}

static void kie_parse_poll(const struct prov_reply *r, struct prov_result *out)
{
    static const char *const keys[] = { "taskId",       "state",    "resultJson", "createTime",
                                        "completeTime", "failCode", "failMsg" };
    struct kie_env e;
    struct kie_data d;
    const struct jread_want dw = { keys, sizeof keys / sizeof keys[0], &d.task_id, 0, NULL };
    env_read(r->body, r->body_len, &e, &dw);
    out->http_status = r->http_status;
    if (is_not_ready(r, &e, out) || classify_error(r, &e, out))
        return;
    if (e.data.type == JREAD_NONE || e.data.type == JREAD_NULL) {
        prov_result_fail(out, PROV_C_PROVIDER, PROV_K_NOT_READY, "recordInfo has no data yet");
        prov_result_set_code(out, "200");
        return;
    }
    if (e.data.type != JREAD_OBJECT) {
        prov_result_fail(out, PROV_C_INVALID_REPLY, PROV_K_UNAVAILABLE,
                         "recordInfo data is not an object");
        return;
    }
    struct jread_buf ib, sb;
    const char *id = jread_take(&d.task_id, &ib);
    if (id && *id)
        out->task_id = strdup(id);
    judge_state(&d, jread_take(&d.state, &sb), out);
    jread_buf_free(&ib);
    jread_buf_free(&sb);
}

/* ---- callbacks (docs/providers.md §KIE callbacks) ---------------------- */

/* The object KIE's task fields live in (data), or NULL. */
static struct json_object *kie_data(struct json_object *root)
{
    struct json_object *data = NULL;
    if (!json_object_object_get_ex(root, "data", &data) ||
        !json_object_is_type(data, json_type_object))
        return NULL;
    return data;
}

static int kie_cb_peek(const char *body, size_t len, struct webhook_event *ev)
{
    struct json_object *root = prov_json_parse(body, len);
    struct json_object *o = kie_data(root);
    const char *id = o ? prov_json_str(o, "taskId") : NULL;
    const char *st = id ? prov_json_str(o, "state") : NULL;
    int rc = webhook_event_set(ev, id, st);
    json_object_put(root);
    return rc;
}

/* A callback's data has the recordInfo shape, so it is re-wrapped in a
 * {"code":200,"data":…} envelope for kie_parse_poll (a failure callback
 * says code 501, which parse_poll would read as an error *reply* rather
 * than a failed task). */
static void kie_cb_parse(const char *body, size_t len, struct prov_result *out)
{
    struct json_object *root = prov_json_parse(body, len);
    struct json_object *data = kie_data(root);
    if (!data) {
        prov_result_fail(out, PROV_C_INVALID_REPLY, PROV_K_UNAVAILABLE,
                         "callback body has no data object");
        json_object_put(root);
        return;
    }
    struct json_object *env = json_object_new_object();
    json_object_object_add(env, "code", json_object_new_int(200));
    json_object_object_add(env, "msg", json_object_new_string("callback"));
    json_object_object_add(env, "data", json_object_get(data));
    size_t n = 0;
    const char *text = json_object_to_json_string_length(env, JSON_C_TO_STRING_PLAIN, &n);
    struct prov_reply r = { .http_status = 200, .body = text, .body_len = n };
    kie_parse_poll(&r, out);
    json_object_put(env);
    json_object_put(root);
}

/* The HMAC key is the secret's bytes, kept NUL-terminated. */
static int kie_cb_key_init(struct webhook_key *k, const char *secret)
{
    memset(k, 0, sizeof *k);
    k->data = (unsigned char *)(secret ? strdup(secret) : NULL);
    k->len = k->data ? strlen(secret) : 0;
    return k->data ? SY_OK : SY_ERR;
}

static enum webhook_verdict kie_cb_verify(const struct webhook_key *k, const struct prov_cb_req *rq,
                                          int64_t now_s, int tolerance_s)
{
    return webhook_kie_verify((const char *)k->data, rq->task_id, rq->ts, rq->sig, now_s,
                              tolerance_s);
}

/* ---- descriptor --------------------------------------------------------- */

/* Exported for the tests; everything else reaches it through kie_desc. */
const struct prov_ops kie_ops = {
    .type = "kie",
    .build_create = kie_build_create,
    .build_poll = kie_build_poll,
    .build_cancel = NULL,
    .parse_create = kie_parse_create,
    .parse_poll = kie_parse_poll,
};

static const struct conf_builtin_model kie_models[] = {
    { "nano-banana", "google/nano-banana", "google/nano-banana-edit", "image_urls", "jpeg" },
    { "nano-banana-pro", "nano-banana-pro", "nano-banana-pro", "image_input", "jpg" },
};

/* Rate limits sit under the published limits (docs/providers.md §KIE rate
 * limit): 20 creates / 10 s and 10 polls / s per key. Poll prior: KIE's
 * nano-banana takes 20-30 s end to end (its queue included); replaced by
 * what is observed within a few dozen tasks. */
static const struct conf_ptype kie_conf = {
    .name = "kie",
    .poll = { .first_ms = 5000,
              .interval_ms = 3000,
              .max_s = 900,
              .mode = CONF_POLL_ADAPTIVE,
              .max_lag_ms = 1000,
              .expect_median_ms = 25000,
              .expect_sigma = 0.35,
              .min_interval_ms = 500,
              .max_interval_ms = 30000 },
    .rate_limit = { .create_per_s = 1.6,
                    .create_burst = 18,
                    .create_window_max = 18,
                    .create_window_s = 11,
                    .poll_per_s = 8,
                    .poll_burst = 8,
                    .max_in_flight = 500 },
    .models = kie_models,
    .n_models = sizeof kie_models / sizeof kie_models[0],
    .image_field = "image_urls",
    .jpeg_name = "jpeg",
};

const struct prov_desc kie_desc = {
    .type = "kie",
    .label = "KIE",
    .ops = &kie_ops,
    .conf = &kie_conf,
    .cb = {
        .id_header = NULL,
        .ts_header = "X-Webhook-Timestamp",
        .sig_header = "X-Webhook-Signature",
        .signs_body = 0,
        .secret_off = offsetof(struct conf_callbacks, kie_hmac_key),
        .secret_env_key = "kie_hmac_key_env",
        .secret_env_off = offsetof(struct conf_callbacks, kie_hmac_key_env),
        .key_init = kie_cb_key_init,
        .bad_secret = NULL,
        .verify = kie_cb_verify,
        .peek = kie_cb_peek,
        .parse = kie_cb_parse,
    },
};
