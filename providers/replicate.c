/* replicate.c — Replicate predictions (create, get, cancel) as pure functions.
 *
 * Role: turn a prov_task_spec into a prediction create request (official
 * model endpoint for "owner/name", /v1/predictions with "version" otherwise),
 * and prediction / problem+json replies into prov_results. No I/O.
 *
 * Invariants:
 * - A prediction is judged by its status alone: starting/processing is
 *   CREATED (create) or PENDING (poll) even when output is already filled,
 *   because file outputs can arrive before the prediction finishes.
 * - A create reply in sync mode (Prefer: wait) may already be terminal:
 *   succeeded → SUCCEEDED, failed/canceled/aborted → FAILED, both with task_id.
 * - Errors with a problem+json body are PROVIDER; other HTTP errors are HTTP;
 *   a 2xx we cannot read is INVALID_REPLY. 429 carries the larger of the
 *   Retry-After header and the body's retry_after. */
#include <json-c/json.h>
#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <stdint.h>
#include <string.h>

#include "core/jread.h"
#include "jwrite.h"
#include "prov_util.h"
#include "registry.h"
#include "core/sy.h"

#define REPLICATE_MAX_IMAGES 14 /* nano-banana-pro / -2: image_input up to 14 */
#define REPLICATE_MAX_WAIT_S 60 /* Prefer: wait=n takes 1..60 */

static int is_hex64(const char *s)
{
    size_t n = 0;
    for (; s[n]; n++) {
        char c = s[n];
        if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F')))
            return 0;
    }
    return n == 64;
}

/* "owner/name" with URL-safe parts, so it can go straight into the path. */
static int is_owner_name(const char *s)
{
    int slashes = 0;
    size_t part = 0;
    for (; *s; s++) {
        char c = *s;
        if (c == '/') {
            if (part == 0)
                return 0;
            slashes++;
            part = 0;
        } else if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                   c == '-' || c == '_' || c == '.') {
            part++;
        } else {
            return 0;
        }
    }
    return slashes == 1 && part > 0;
}

/* The body: {"version"?, "input":{…}, "webhook"?, "webhook_events_filter"?}. */
static void write_body(struct jsonw *w, const struct prov_task_spec *spec,
                       const struct conf_model *m, const char *fmt, const char *version)
{
    const char *ar = spec->aspect_ratio && strcmp(spec->aspect_ratio, "auto") == 0
                             ? "match_input_image"
                             : spec->aspect_ratio;
    const struct jwrite_member input[] = {
        { .key = "prompt", .str = spec->prompt },
        { .key = m->image_field ? m->image_field : "image_input",
          .arr = spec->n_image_urls > 0 ? spec->image_urls : NULL,
          .n_arr = spec->n_image_urls },
        { .key = "output_format", .str = fmt },
        { .key = "aspect_ratio", .str = ar },
    };
    static const char *const events[] = { "completed" };
    jsonw_lit(w, "{");
    if (version) {
        jsonw_lit(w, "\"version\":");
        jsonw_str(w, version, 0);
        jsonw_lit(w, ",");
    }
    jsonw_lit(w, "\"input\":");
    jwrite_object(w, input, sizeof input / sizeof input[0]);
    if (spec->callback_url) {
        jsonw_lit(w, ",\"webhook\":");
        jsonw_str(w, spec->callback_url, 0);
        jsonw_lit(w, ",\"webhook_events_filter\":");
        jwrite_str_array(w, events, 1);
    }
    jsonw_lit(w, "}");
}

static int replicate_build_create(const struct conf_provider *p, const struct prov_task_spec *spec,
                                  struct prov_request *out, char *err, size_t errlen)
{
    memset(out, 0, sizeof(*out));
    const struct conf_model *m;
    const char *model = prov_model_for(p, spec, &m, err, errlen);
    if (!model)
        return SY_DECLINED;
    const char *colon = strchr(model, ':');
    int versioned = colon || is_hex64(model);
    if (colon ? !is_hex64(colon + 1) : !versioned && !is_owner_name(model)) {
        snprintf(err, errlen, "provider %s: model \"%s\" is neither owner/name nor a version",
                 p->name, model);
        return SY_DECLINED;
    }
    const char *fmt;
    if (prov_check_spec(p, spec, m, REPLICATE_MAX_IMAGES, "jpg", &fmt, err, errlen) != SY_OK)
        return SY_DECLINED;

    struct jsonw w;
    jsonw_init(&w);
    write_body(&w, spec, m, fmt, versioned ? model : NULL);
    out->url = versioned ? prov_url_join(p->base_url, "/v1/predictions", NULL, NULL)
                         : prov_url_join(p->base_url, "/v1/models/", model, "/predictions");
    int ok = jwrite_request(out, &w) == SY_OK;
    if (ok && p->wait_s > 0 && !spec->no_wait) {
        int w = p->wait_s > REPLICATE_MAX_WAIT_S ? REPLICATE_MAX_WAIT_S : p->wait_s;
        char hdr[32];
        snprintf(hdr, sizeof(hdr), "Prefer: wait=%d", w);
        ok = prov_request_add_header(out, hdr) == SY_OK;
        out->hold_s = w;
    }
    if (!ok) {
        prov_request_cleanup(out);
        snprintf(err, errlen, "out of memory");
        return SY_ERR;
    }
    return SY_OK;
}

static int replicate_build_poll(const struct conf_provider *p, const char *task_id,
                                struct prov_request *out)
{
    return prov_request_task(out, PROV_GET, p->base_url, "/v1/predictions/", task_id, "");
}

/* POST with an empty body (not NULL), so the loop sends a zero-length POST. */
static int replicate_build_cancel(const struct conf_provider *p, const char *task_id,
                                  struct prov_request *out)
{
    if (prov_request_task(out, PROV_POST, p->base_url, "/v1/predictions/", task_id, "/cancel") !=
        SY_OK)
        return SY_ERR;
    out->body = strdup("");
    if (!out->body) {
        prov_request_cleanup(out);
        return SY_ERR;
    }
    return SY_OK;
}

/* output: one URL string, or an array of them (non-strings and empty
 * strings skipped). SY_DECLINED when a URL is refused (out has failed as
 * invalid_reply: not a plain http(s) URL, or too many); else SY_OK, or SY_ERR
 * out of memory with the URLs collected so far. */
static int collect_output(const struct jread_val *output, struct prov_result *out)
{
    if (output->type == JREAD_STRING)
        return prov_result_take_jread_url(out, output);
    struct jread_iter it;
    struct jread_val u;
    jread_iter_init(&it, output->type == JREAD_ARRAY ? output : NULL);
    while (jread_iter_next(&it, NULL, &u)) {
        int rc = prov_result_take_jread_url(out, &u);
        if (rc != SY_OK)
            return rc;
    }
    return SY_OK;
}

/* v as a number (int or double), as json_object_get_double() reads it: 1, else 0. */
static int num_of(const struct jread_val *v, double *d)
{
    int dbl;
    int64_t i;
    if (jread_number(v, &dbl, &i, d) != SY_OK)
        return 0;
    if (!dbl)
        *d = (double)i;
    return 1;
}

/* error: "E1001: out of memory" → code "E1001"; any other text → no code. */
static void set_error_code(struct prov_result *out, const char *error)
{
    size_t n = 0;
    if (error[0] != 'E')
        return;
    while (error[1 + n] >= '0' && error[1 + n] <= '9')
        n++;
    if (n == 0 || n > 8 || (error[1 + n] != '\0' && error[1 + n] != ':' && error[1 + n] != ' '))
        return;
    char code[16];
    snprintf(code, sizeof(code), "%.*s", (int)(n + 1), error);
    prov_result_set_code(out, code);
}

/* n decimal digits at s into *v; 1 on success. */
static int digits(const char *s, int n, int *v)
{
    *v = 0;
    for (int i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return 0;
        *v = *v * 10 + (s[i] - '0');
    }
    return 1;
}

/* "2025-10-21T10:15:02.118Z" (UTC; fraction optional) in ms since the
 * epoch, or -1. Only differences of two of these are used. */
static int64_t iso_ms(const char *s)
{
    int y, mo, d, h, mi, sec;
    if (!s || strlen(s) < 20 || !digits(s, 4, &y) || s[4] != '-' || !digits(s + 5, 2, &mo) ||
        s[7] != '-' || !digits(s + 8, 2, &d) || s[10] != 'T' || !digits(s + 11, 2, &h) ||
        s[13] != ':' || !digits(s + 14, 2, &mi) || s[16] != ':' || !digits(s + 17, 2, &sec) ||
        mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || sec > 60)
        return -1;
    const char *p = s + 19;
    double frac = 0, scale = 0.1;
    if (*p == '.')
        for (p++; *p >= '0' && *p <= '9'; p++, scale /= 10)
            frac += (*p - '0') * scale;
    if (strcmp(p, "Z") != 0 && strcmp(p, "+00:00") != 0)
        return -1;
    /* Days from 1970-01-01 (Howard Hinnant's days_from_civil). */
    int yy = mo <= 2 ? y - 1 : y, era = yy / 400, yoe = yy - era * 400;
    int doy = (153 * (mo + (mo > 2 ? -3 : 9)) + 2) / 5 + d - 1,
        doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    int64_t days = (int64_t)era * 146097 + doe - 719468;
    return ((days * 24 + h) * 60 + mi) * 60000 + sec * 1000 + (int64_t)(frac * 1000.0 + 0.5);
}

/* A finished prediction's time from creation to completion: metrics.total_time
 * (seconds), else completed_at - created_at. */
static void parse_duration(const struct jread_val *pred, struct prov_result *out)
{
    struct jread_val metrics, tt;
    double sec;
    jread_get(pred, "metrics", &metrics);
    if (jread_get(&metrics, "total_time", &tt) && num_of(&tt, &sec) && sec >= 0 && sec <= 86400) {
        out->duration_ms = (long)llround(sec * 1000.0);
        return;
    }
    struct jread_buf b0, b1;
    int64_t c0 = iso_ms(jread_get_take(pred, "created_at", &b0)),
            c1 = iso_ms(jread_get_take(pred, "completed_at", &b1));
    if (c0 >= 0 && c1 >= c0 && c1 - c0 <= 86400000)
        out->duration_ms = (long)(c1 - c0);
    jread_buf_free(&b0);
    jread_buf_free(&b1);
}

/* Judge a prediction object; in_progress is CREATED for create, PENDING for poll. */
static void judge_status(const struct jread_val *pred, const char *status,
                         enum prov_outcome in_progress, struct prov_result *out);

static void parse_prediction(const struct jread_val *pred, enum prov_outcome in_progress,
                             struct prov_result *out)
{
    struct jread_buf ib, sb;
    const char *id = jread_get_take(pred, "id", &ib);
    const char *status = jread_get_take(pred, "status", &sb);
    if (id && *id) {
        out->task_id = strdup(id);
        if (!out->task_id)
            prov_result_fail(out, PROV_C_INVALID_REPLY, PROV_K_UNAVAILABLE, "out of memory");
        else
            judge_status(pred, status, in_progress, out);
    } else if (in_progress == PROV_CREATED) {
        prov_result_fail(out, PROV_C_INVALID_REPLY, PROV_K_UNAVAILABLE, "prediction has no id");
    } else {
        judge_status(pred, status, in_progress, out);
    }
    jread_buf_free(&ib);
    jread_buf_free(&sb);
}

static void judge_status(const struct jread_val *pred, const char *status,
                         enum prov_outcome in_progress, struct prov_result *out)
{
    if (!status) {
        prov_result_fail(out, PROV_C_INVALID_REPLY, PROV_K_UNAVAILABLE, "prediction has no status");
    } else if (strcmp(status, "starting") == 0 || strcmp(status, "processing") == 0) {
        out->outcome = in_progress;
    } else if (strcmp(status, "succeeded") == 0) {
        struct jread_val output, removed;
        jread_get(pred, "output", &output);
        jread_get(pred, "data_removed", &removed);
        int rc = collect_output(&output, out);
        parse_duration(pred, out);
        if (rc == SY_DECLINED) {
            /* a refused URL has failed the reply as invalid_reply already */
        } else if (out->n_urls > 0) {
            out->outcome = PROV_SUCCEEDED;
        } else if (removed.type == JREAD_TRUE) {
            prov_result_fail(
                    out, PROV_C_INVALID_REPLY, PROV_K_UNAVAILABLE,
                    "prediction succeeded but its output was deleted (data_removed: retention expired)");
        } else {
            prov_result_fail(out, PROV_C_INVALID_REPLY, PROV_K_UNAVAILABLE,
                             "prediction succeeded without an output URL");
        }
    } else if (strcmp(status, "failed") == 0) {
        struct jread_buf eb;
        const char *error = jread_get_take(pred, "error", &eb);
        prov_result_fail(out, PROV_C_TASK_FAILED, PROV_K_TASK_FAILED, "%s",
                         error && *error ? error : "prediction failed");
        if (error)
            set_error_code(out, error);
        jread_buf_free(&eb);
        parse_duration(pred, out);
    } else if (strcmp(status, "canceled") == 0) {
        prov_result_fail(out, PROV_C_TASK_FAILED, PROV_K_TASK_FAILED, "prediction canceled");
    } else if (strcmp(status, "aborted") == 0) {
        prov_result_fail(out, PROV_C_TASK_FAILED, PROV_K_TASK_FAILED,
                         "prediction aborted: its deadline passed before it started");
    } else {
        prov_result_fail(out, PROV_C_INVALID_REPLY, PROV_K_UNAVAILABLE,
                         "unknown prediction status \"%s\"", status);
    }
}

/* Body retry_after (seconds, maybe fractional) in ms, or -1. */
static long body_retry_after(const struct jread_val *root)
{
    struct jread_val v;
    double s;
    jread_get(root, "retry_after", &v);
    if (!num_of(&v, &s))
        return -1;
    if (!(s >= 0) || isinf(s))
        return -1;
    if (s > 86400)
        s = 86400;
    return (long)ceil(s * 1000.0);
}

/* Append " [field: description; …]" from invalid_fields to buf (as room allows). */
static void append_invalid_fields(const struct jread_val *root, char *buf, size_t cap)
{
    struct jread_val fields, f;
    struct jread_iter it;
    if (!jread_get(root, "invalid_fields", &fields) || fields.type != JREAD_ARRAY)
        return;
    size_t used = strlen(buf), i = 0;
    jread_iter_init(&it, &fields);
    while (used + 1 < cap && jread_iter_next(&it, NULL, &f)) {
        struct jread_buf nb, db;
        const char *name = jread_get_take(&f, "field", &nb),
                   *desc = jread_get_take(&f, "description", &db);
        snprintf(buf + used, cap - used, "%s%s: %s", i++ ? "; " : " [", name ? name : "?",
                 desc ? desc : "invalid");
        used = strlen(buf);
        jread_buf_free(&nb);
        jread_buf_free(&db);
    }
    if (i > 0 && used + 1 < cap)
        snprintf(buf + used, cap - used, "]");
}

/* An HTTP error, or a 2xx that is not a prediction. */
static void compose_error(const struct prov_reply *r, const struct jread_val *root,
                          const char *title, const char *detail, int has_status, long status,
                          struct prov_result *out);

static void parse_error(const struct prov_reply *r, const struct jread_val *root,
                        struct prov_result *out)
{
    long hdr = prov_parse_retry_after(r->retry_after), body = body_retry_after(root);
    out->retry_after_ms = hdr > body ? hdr : body;

    struct jread_buf tb, db;
    const char *title = jread_get_take(root, "title", &tb),
               *detail = jread_get_take(root, "detail", &db);
    long status = 0;
    int has_status = jread_get_int(root, "status", &status) && status >= 400 && status < 600;
    compose_error(r, root, title, detail, has_status, status, out);
    jread_buf_free(&tb);
    jread_buf_free(&db);
}

static void compose_error(const struct prov_reply *r, const struct jread_val *root,
                          const char *title, const char *detail, int has_status, long status,
                          struct prov_result *out)
{
    int ok = r->http_status >= 200 && r->http_status < 300;
    if (!title && !detail && !has_status) {
        if (ok)
            prov_result_fail(out, PROV_C_INVALID_REPLY, PROV_K_UNAVAILABLE,
                             "HTTP %ld reply is not a prediction", r->http_status);
        else
            prov_result_fail(out, PROV_C_HTTP, prov_kind_from_status(r->http_status), "HTTP %ld",
                             r->http_status);
        return;
    }
    long eff = ok && has_status ? status : r->http_status;
    /* Composed larger than message[] so that prov_result_fail() does the one
     * (UTF-8 safe) truncation. */
    char msg[512];
    snprintf(msg, sizeof(msg), "%s%s%s", title ? title : "", title && detail ? ": " : "",
             detail ? detail : "");
    size_t ml = strlen(msg);
    while (ml > 0 && (msg[ml - 1] == '\n' || msg[ml - 1] == ' '))
        msg[--ml] = '\0';
    if (!detail || !*detail) /* detail, when present, already lists the invalid fields */
        append_invalid_fields(root, msg, sizeof(msg));
    if (!msg[0])
        snprintf(msg, sizeof(msg), "HTTP %ld", r->http_status);
    prov_result_fail(out, PROV_C_PROVIDER, prov_kind_from_status(eff), "%s", msg);
    char code[24];
    snprintf(code, sizeof(code), "%ld", has_status ? status : r->http_status);
    prov_result_set_code(out, code);
}

static void parse_reply(const struct prov_reply *r, enum prov_outcome in_progress,
                        struct prov_result *out)
{
    struct jread_val root, st, id;
    jread_parse_reply(r->body, r->body_len, &root);
    out->http_status = r->http_status;
    int ok = r->http_status >= 200 && r->http_status < 300;
    if (ok && root.type == JREAD_NONE)
        prov_result_fail(out, PROV_C_INVALID_REPLY, PROV_K_UNAVAILABLE,
                         "unparsable reply body (%zu bytes)", r->body_len);
    else if (ok && jread_get(&root, "status", &st) && st.type == JREAD_STRING &&
             ((jread_get(&root, "id", &id) && id.type == JREAD_STRING) ||
              in_progress == PROV_PENDING))
        parse_prediction(&root, in_progress, out);
    else
        parse_error(r, &root, out);
}

static void replicate_parse_create(const struct prov_reply *r, struct prov_result *out)
{
    parse_reply(r, PROV_CREATED, out);
}

static void replicate_parse_poll(const struct prov_reply *r, struct prov_result *out)
{
    parse_reply(r, PROV_PENDING, out);
}

/* ---- webhooks (docs/providers.md §Replicate webhooks) ------------------- */

static int replicate_cb_peek(const char *body, size_t len, struct webhook_event *ev)
{
    struct json_object *root = prov_json_parse(body, len);
    const char *id =
            root && json_object_is_type(root, json_type_object) ? prov_json_str(root, "id") : NULL;
    const char *st = id ? prov_json_str(root, "status") : NULL;
    int rc = webhook_event_set(ev, id, st);
    json_object_put(root);
    return rc;
}

/* A webhook body is the prediction object, as a poll returns it. */
static void replicate_cb_parse(const char *body, size_t len, struct prov_result *out)
{
    struct prov_reply r = { .http_status = 200, .body = body, .body_len = len };
    replicate_parse_poll(&r, out);
}

static enum webhook_verdict replicate_cb_verify(const struct webhook_key *k,
                                                const struct prov_cb_req *rq, int64_t now_s,
                                                int tolerance_s)
{
    return webhook_replicate_verify(k, rq->id, rq->ts, rq->sig, rq->body, rq->body_len, now_s,
                                    tolerance_s);
}

/* ---- descriptor --------------------------------------------------------- */

/* Exported for the tests; everything else reaches it through replicate_desc. */
const struct prov_ops replicate_ops = {
    .type = "replicate",
    .build_create = replicate_build_create,
    .build_poll = replicate_build_poll,
    .build_cancel = replicate_build_cancel,
    .parse_create = replicate_parse_create,
    .parse_poll = replicate_parse_poll,
};

static const struct conf_builtin_model replicate_models[] = {
    { "nano-banana", "google/nano-banana", "google/nano-banana", "image_input", "jpg" },
    { "nano-banana-pro", "google/nano-banana-pro", "google/nano-banana-pro", "image_input", "jpg" },
};

/* Rate limits sit under the published limits (docs/providers.md
 * §Replicate rate limits): 600 creates / min and 3000 other requests / min.
 * Poll prior: Replicate runs nano-banana with no KIE-style queue in front,
 * typically 10-20 s, and with less data behind the guess the prior is
 * wider; replaced by what is observed within a few dozen tasks. */
static const struct conf_ptype replicate_conf = {
    .name = "replicate",
    .poll = { .first_ms = 2000,
              .interval_ms = 2000,
              .max_s = 1800,
              .mode = CONF_POLL_ADAPTIVE,
              .max_lag_ms = 1000,
              .expect_median_ms = 15000,
              .expect_sigma = 0.5,
              .min_interval_ms = 500,
              .max_interval_ms = 30000 },
    .rate_limit = { .create_per_s = 9,
                    .create_burst = 20,
                    .create_window_max = 0,
                    .create_window_s = 10,
                    .poll_per_s = 45,
                    .poll_burst = 50,
                    .max_in_flight = 500 },
    .models = replicate_models,
    .n_models = sizeof replicate_models / sizeof replicate_models[0],
    .image_field = "image_input",
    .jpeg_name = "jpg",
};

const struct prov_desc replicate_desc = {
    .type = "replicate",
    .label = "Replicate",
    .ops = &replicate_ops,
    .conf = &replicate_conf,
    .cb = {
        .id_header = "webhook-id",
        .ts_header = "webhook-timestamp",
        .sig_header = "webhook-signature",
        .signs_body = 1,
        .secret_off = offsetof(struct conf_callbacks, webhook_secret),
        .secret_env_key = "webhook_secret_env",
        .secret_env_off = offsetof(struct conf_callbacks, webhook_secret_env),
        .key_init = webhook_key_init,
        .bad_secret = "does not hold a valid whsec_<base64> secret",
        .verify = replicate_cb_verify,
        .peek = replicate_cb_peek,
        .parse = replicate_cb_parse,
    },
};
