/* fakeprov Replicate emulation (docs/providers.md §Replicate create): create via
 * POST /v1/models/{owner}/{name}/predictions or POST /v1/predictions,
 * GET /v1/predictions/{id}, POST /v1/predictions/{id}/cancel.
 *
 * Create order: auth → JSON → fault → validation (422 problem+json) → task →
 * optional Prefer: wait (the connection is suspended until the prediction
 * ends or the wait runs out; the scheduler resumes it, no thread blocks).
 * Status is derived from (now - created): starting < 20% of the generation
 * time ≤ processing < 100% ≤ succeeded | failed; canceled after a cancel, and
 * canceled/aborted at a Cancel-After deadline (aborted if before start). */
#include "fp_common.h"

#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CT_JSON "application/json"
#define CT_PROBLEM "application/problem+json"

static const char rep_401[] =
        "{\"title\":\"Unauthenticated\",\"detail\":\"You did not pass a valid "
        "authentication token\",\"status\":401}";
static const char rep_402[] =
        "{\"title\":\"Insufficient credit\",\"detail\":\"You have insufficient credit to run this "
        "model. Go to https://replicate.com/account/billing#billing to purchase credit. Once you "
        "purchase credit, please wait a few minutes before trying again.\",\"status\":402}";
static const char rep_429[] =
        "{\"title\":\"Too Many Requests\",\"detail\":\"Request was throttled. "
        "Your rate limit resets in ~1s.\",\"status\":429,\"retry_after\":1}";
static const char rep_429_noretry[] =
        "{\"title\":\"Too Many Requests\",\"detail\":\"Request was throttled.\",\"status\":429}";

static enum MHD_Result rep_problem(struct fp_server *srv, struct MHD_Connection *c, unsigned status,
                                   const char *title, const char *detail)
{
    struct fp_buf b = { 0 };
    fp_buf_str(&b, "{\"title\":");
    fp_buf_json(&b, title);
    fp_buf_str(&b, ",\"detail\":");
    fp_buf_json(&b, detail);
    fp_buf_fmt(&b, ",\"status\":%u}", status);
    return fp_reply(srv, c, FP_REPLICATE, status, CT_PROBLEM, &b, NULL, NULL);
}

/* 422 "Input validation failed" with one invalid_fields entry. */
static enum MHD_Result rep_invalid(struct fp_server *srv, struct MHD_Connection *c,
                                   const char *type, const char *field, const char *desc)
{
    struct fp_buf d = { 0 }, b = { 0 };
    fp_buf_fmt(&d, "- %s: %s\n", field, desc);
    fp_buf_str(&b, "{\"title\":\"Input validation failed\",\"detail\":");
    fp_buf_json(&b, d.p);
    fp_buf_str(&b, ",\"status\":422,\"invalid_fields\":[{\"type\":");
    fp_buf_json(&b, type);
    fp_buf_str(&b, ",\"field\":");
    fp_buf_json(&b, field);
    fp_buf_str(&b, ",\"description\":");
    fp_buf_json(&b, desc);
    fp_buf_str(&b, "}]}");
    free(d.p);
    return fp_reply(srv, c, FP_REPLICATE, 422, CT_PROBLEM, &b, NULL, NULL);
}

static enum MHD_Result rep_fault(struct fp_server *srv, struct MHD_Connection *c, int kind,
                                 int is_poll)
{
    unsigned ok = is_poll ? 200 : 201;
    atomic_fetch_add_explicit(&srv->st[FP_REPLICATE].faults_injected, 1, memory_order_relaxed);
    switch (kind) {
    case FP_F_HTTP500:
        return rep_problem(srv, c, 500, "Internal Server Error", "An unexpected error occurred");
    case FP_F_HTTP502:
        return rep_problem(srv, c, 502, "Bad Gateway",
                           "The upstream server returned an invalid response");
    case FP_F_HTTP503:
        return rep_problem(srv, c, 503, "Service Unavailable",
                           "The service is temporarily unavailable");
    case FP_F_429:
        return fp_reply_static(srv, c, FP_REPLICATE, 429, CT_PROBLEM, rep_429, "Retry-After", "1");
    case FP_F_429_NORETRY:
        return fp_reply_static(srv, c, FP_REPLICATE, 429, CT_PROBLEM, rep_429_noretry, NULL, NULL);
    case FP_F_401:
        return fp_reply_static(srv, c, FP_REPLICATE, 401, CT_PROBLEM, rep_401, NULL, NULL);
    case FP_F_402:
        return fp_reply_static(srv, c, FP_REPLICATE, 402, CT_PROBLEM, rep_402, NULL, NULL);
    case FP_F_422:
        return rep_invalid(srv, c, "invalid", "input.prompt", "injected validation fault");
    case FP_F_455:
        return rep_problem(srv, c, 503, "Service Unavailable", "Replicate is down for maintenance");
    case FP_F_MALFORMED:
        return fp_reply_static(srv, c, FP_REPLICATE, ok, CT_JSON, "{\"id\":\"x\",\"status\":<html>",
                               NULL, NULL);
    case FP_F_TRUNCATED:
    default:
        return fp_reply_truncated(srv, c, FP_REPLICATE, ok, "{\"id\":\"x\",\"status\":\"sta", 160);
    }
}

struct rep_snap {
    struct fp_server *srv;
    int64_t now_us;
    int cancel; /* cancel request: set canceled_us if not finished */
    int poll;   /* a status request: counted in the task's polls */
    int pollfault;
    int64_t done_us; /* when the prediction reaches a terminal status */
    int terminal;
    struct fp_buf out;
};

static void iso_or_null(struct fp_buf *b, const char *key, int64_t us)
{
    fp_buf_fmt(b, ",\"%s\":", key);
    if (us < 0) {
        fp_buf_str(b, "null");
        return;
    }
    char iso[40];
    fp_iso_time(us, iso, sizeof iso);
    fp_buf_fmt(b, "\"%s\"", iso);
}

static void rep_render(struct fp_task *t, void *arg)
{
    struct rep_snap *s = arg;
    struct fp_buf *b = &s->out;
    int64_t now = s->now_us, start = t->created_us + t->gen_ms * 200,
            end = t->created_us + t->gen_ms * 1000;
    if (s->cancel && now < end && (t->canceled_us == 0 || now < t->canceled_us)) {
        t->canceled_us = now;
        t->deadline = 0;
    }
    if (s->poll)
        t->polls++;
    int cut = t->canceled_us != 0 && t->canceled_us < end;
    s->pollfault = t->pollfault;
    s->done_us = cut ? t->canceled_us : end;
    s->terminal = now >= s->done_us;
    const char *status;
    if (cut && now >= t->canceled_us)
        status = t->deadline && t->canceled_us < start ? "aborted" : "canceled";
    else if (now >= end)
        status = t->fail ? "failed" : "succeeded";
    else if (now >= start)
        status = "processing";
    else
        status = "starting";
    int ok = strcmp(status, "succeeded") == 0;
    fp_buf_str(b, "{\"id\":");
    fp_buf_json(b, t->id);
    fp_buf_str(b, ",\"model\":");
    fp_buf_json(b, t->model);
    fp_buf_str(b, ",\"version\":");
    fp_buf_json(b, t->version);
    fp_buf_fmt(b, ",\"input\":%s,\"output\":", t->param);
    if (ok)
        fp_buf_fmt(b, "\"%s/files/%s.png\"", s->srv->base_url, t->id);
    else
        fp_buf_str(b, "null");
    fp_buf_fmt(
            b,
            ",\"error\":%s,\"logs\":\"\",\"status\":\"%s\",\"source\":\"api\",\"data_removed\":false",
            strcmp(status, "failed") == 0 ? "\"E1001: out of memory\"" : "null", status);
    iso_or_null(b, "created_at", t->created_us);
    int started = now >= start && strcmp(status, "aborted") != 0;
    iso_or_null(b, "started_at", started ? start : -1);
    iso_or_null(b, "completed_at", s->terminal ? s->done_us : -1);
    if (s->terminal)
        fp_buf_fmt(b, ",\"metrics\":{\"predict_time\":%.3f,\"total_time\":%.3f}",
                   started ? (double)(s->done_us - start) / 1e6 : 0.0,
                   (double)(s->done_us - t->created_us) / 1e6);
    else
        fp_buf_str(b, ",\"metrics\":{}");
    fp_buf_fmt(
            b,
            ",\"urls\":{\"get\":\"%s/v1/predictions/%s\",\"cancel\":\"%s/v1/predictions/%s/cancel\"}}",
            s->srv->base_url, t->id, s->srv->base_url, t->id);
}

static void set_deadline(struct fp_task *t, void *arg)
{
    t->canceled_us = t->created_us + *(int64_t *)arg;
    t->deadline = 1;
}

/* Cancel-After: integer seconds or a sum of <n>h / <n>m / <n>s; 5 s .. 24 h.
 * Returns the delay in microseconds, 0 when absent, -1 when invalid. */
static int64_t parse_cancel_after(const char *h)
{
    if (!h)
        return 0;
    int64_t total = 0;
    const char *p = h;
    while (*p) {
        char *e;
        long long n = strtoll(p, &e, 10);
        if (e == p || n < 0)
            return -1;
        int64_t unit = 1;
        if (*e == 'h')
            unit = 3600, e++;
        else if (*e == 'm')
            unit = 60, e++;
        else if (*e == 's')
            e++;
        else if (*e)
            return -1;
        total += n * unit;
        p = e;
    }
    return total < 5 || total > 86400 ? -1 : total * 1000000;
}

/* Prefer: wait → 60, wait=N → N (1..60); absent or other → 0. */
static int parse_prefer_wait(const char *h)
{
    if (!h || strncmp(h, "wait", 4) != 0)
        return 0;
    if (h[4] == 0)
        return 60;
    if (h[4] != '=')
        return 0;
    char *e;
    long n = strtol(h + 5, &e, 10);
    if (e == h + 5 || n < 1)
        return 0;
    return n > 60 ? 60 : (int)n;
}

static void fake_version(const char *model, char *out)
{
    static const char hex[] = "0123456789abcdef";
    uint64_t h = 0xcbf29ce484222325ULL;
    for (const char *s = model; *s; s++)
        h = (h ^ (unsigned char)*s) * 0x100000001b3ULL;
    for (int i = 0; i < 64; i++) {
        out[i] = hex[h & 15];
        h = (h >> 4) | (h << 60);
        if ((i & 15) == 15)
            h *= 0x9e3779b97f4a7c15ULL;
    }
    out[64] = 0;
}

int fp_rep_callback_body(struct fp_server *srv, const char *id, struct fp_buf *b)
{
    struct rep_snap s = { .srv = srv, .now_us = fp_now_us() };
    if (fp_tasks_with(srv, id, rep_render, &s) != 0)
        return -1;
    fp_buf_add(b, s.out.p, s.out.len);
    free(s.out.p);
    return 0;
}

static enum MHD_Result rep_answer(struct fp_server *srv, struct MHD_Connection *c, const char *id,
                                  unsigned status, int location)
{
    struct rep_snap s = { .srv = srv, .now_us = fp_now_us() };
    if (fp_tasks_with(srv, id, rep_render, &s) != 0)
        return rep_problem(srv, c, 404, "Not found", "The requested resource could not be found.");
    if (s.terminal) /* a create reply after Prefer: wait */
        fp_task_seen_id(srv, id, s.now_us);
    char loc[160];
    snprintf(loc, sizeof loc, "%s/v1/predictions/%s", srv->base_url, id);
    return fp_reply(srv, c, FP_REPLICATE, status, CT_JSON, &s.out, location ? "Location" : NULL,
                    loc);
}

/* model_path is "owner/name" from the URL, or NULL for POST /v1/predictions. */
static enum MHD_Result rep_create(struct fp_server *srv, struct MHD_Connection *c,
                                  struct fp_req *req, const char *model_path)
{
    struct fp_pstats *st = &srv->st[FP_REPLICATE];
    if (!req->counted) {
        atomic_fetch_add_explicit(&st->creates, 1, memory_order_relaxed);
        req->counted = 1;
    }
    if (req->wait_done) /* resumed after Prefer: wait */
        return rep_answer(srv, c, req->task_id, 201, 1);
    if (!fp_auth_ok(c, srv->replicate_key))
        return fp_reply_static(srv, c, FP_REPLICATE, 401, CT_PROBLEM, rep_401, NULL, NULL);
    json_object *root = req->body ? json_tokener_parse(req->body) : NULL;
    if (!root || !json_object_is_type(root, json_type_object)) {
        json_object_put(root);
        return rep_problem(srv, c, 400, "Invalid JSON", "The request body must be a JSON object");
    }
    json_object *in = NULL, *v;
    const char *prompt = NULL;
    if (json_object_object_get_ex(root, "input", &in) &&
        json_object_object_get_ex(in, "prompt", &v) && json_object_is_type(v, json_type_string))
        prompt = json_object_get_string(v);
    int fault, pollfault;
    int64_t gen_ms;
    enum MHD_Result answered;
    if (fp_create_fault(srv, c, req, FP_REPLICATE, prompt, rep_fault, &fault, &pollfault, &gen_ms,
                        &answered)) {
        json_object_put(root);
        return answered;
    }

    enum MHD_Result rc;
    json_object_object_foreach(root, key, val)
    {
        (void)val;
        if (strcmp(key, "input") && strcmp(key, "webhook") &&
            strcmp(key, "webhook_events_filter") && strcmp(key, "stream") &&
            (model_path || strcmp(key, "version"))) {
            char d[160];
            snprintf(d, sizeof d, "Additional property %s is not allowed", key);
            rc = rep_invalid(srv, c, "additional_property_not_allowed", "(root)", d);
            json_object_put(root);
            return rc;
        }
    }
    char model[128], version[80];
    fake_version(model_path ? model_path : "", version);
    snprintf(model, sizeof model, "%s", model_path ? model_path : "");
    if (!model_path) {
        if (!json_object_object_get_ex(root, "version", &v) ||
            !json_object_is_type(v, json_type_string) || json_object_get_string_len(v) == 0) {
            json_object_put(root);
            return rep_invalid(srv, c, "required", "(root)", "version is required");
        }
        const char *ver = json_object_get_string(v), *colon = strchr(ver, ':');
        if (colon) { /* owner/name:hash */
            snprintf(model, sizeof model, "%.*s", (int)(colon - ver), ver);
            snprintf(version, sizeof version, "%s", colon + 1);
        } else if (strchr(ver, '/')) { /* owner/name (official model) */
            snprintf(model, sizeof model, "%s", ver);
            fake_version(ver, version);
        } else { /* bare hash */
            snprintf(model, sizeof model, "unknown/unknown");
            snprintf(version, sizeof version, "%s", ver);
        }
    }
    if (!in || !json_object_is_type(in, json_type_object)) {
        json_object_put(root);
        return rep_invalid(srv, c, "required", "(root)", "input is required");
    }
    if (!prompt) {
        json_object_put(root);
        return rep_invalid(srv, c, "required", "input", "prompt is required");
    }
    if (json_object_object_get_ex(in, "output_format", &v)) {
        const char *f = json_object_is_type(v, json_type_string) ? json_object_get_string(v) : "";
        if (strcmp(f, "jpg") != 0 && strcmp(f, "png") != 0) {
            json_object_put(root);
            return rep_invalid(srv, c, "enum", "input.output_format",
                               "output_format must be one of the following: \"jpg\", \"png\"");
        }
    }
    int64_t cancel_after =
            parse_cancel_after(MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Cancel-After"));
    if (cancel_after < 0) {
        json_object_put(root);
        return rep_problem(srv, c, 400, "Invalid Cancel-After",
                           "Cancel-After must be between 5s and 24h, e.g. 30s, 5m or 1h30m");
    }

    int fail = fault == FP_F_FAIL || pollfault == FP_F_FAIL;
    if (fail)
        atomic_fetch_add_explicit(&st->faults_injected, 1, memory_order_relaxed);
    if (gen_ms < 0)
        gen_ms = fp_draw_gen_ms(srv);
    size_t il;
    const char *input_json = json_object_to_json_string_length(in, JSON_C_TO_STRING_PLAIN, &il);
    fp_task_add(srv, FP_REPLICATE, model, version, input_json, il, gen_ms, fail,
                pollfault == FP_F_FAIL ? FP_F_NONE : pollfault, req->task_id);
    if (cancel_after > 0)
        fp_tasks_with(srv, req->task_id, set_deadline, &cancel_after);
    if (json_object_object_get_ex(root, "webhook", &v) &&
        json_object_is_type(v, json_type_string)) {
        int64_t end = fp_now_us() + gen_ms * 1000;
        if (cancel_after > 0 && fp_now_us() + cancel_after < end)
            end = fp_now_us() + cancel_after;
        fp_cb_schedule(srv, FP_REPLICATE, req->task_id, json_object_get_string(v), end);
    }
    json_object_put(root);
    atomic_fetch_add_explicit(&st->tasks_created, 1, memory_order_relaxed);

    int wait_s = parse_prefer_wait(MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Prefer"));
    if (wait_s > 0) {
        struct rep_snap s = { .srv = srv, .now_us = fp_now_us() };
        fp_tasks_with(srv, req->task_id, rep_render, &s);
        free(s.out.p);
        int64_t due = s.now_us + (int64_t)wait_s * 1000000;
        if (s.done_us < due)
            due = s.done_us;
        req->wait_done = 1;
        if (!s.terminal && fp_suspend(srv, c, req, due) == 0)
            return MHD_YES;
    }
    return rep_answer(srv, c, req->task_id, 201, 1);
}

static enum MHD_Result rep_get(struct fp_server *srv, struct MHD_Connection *c, struct fp_req *req,
                               const char *id, int cancel)
{
    struct fp_pstats *st = &srv->st[FP_REPLICATE];
    if (!req->counted) {
        atomic_fetch_add_explicit(cancel ? &st->cancels : &st->polls, 1, memory_order_relaxed);
        req->counted = 1;
    }
    if (!fp_auth_ok(c, srv->replicate_key))
        return fp_reply_static(srv, c, FP_REPLICATE, 401, CT_PROBLEM, rep_401, NULL, NULL);
    struct rep_snap s = { .srv = srv, .now_us = fp_now_us(), .cancel = cancel, .poll = !cancel };
    if (fp_tasks_with(srv, id, rep_render, &s) != 0)
        return rep_problem(srv, c, 404, "Not found", "The requested resource could not be found.");
    if (!cancel && !req->fault_done) {
        int fault = s.pollfault != FP_F_NONE ? s.pollfault : fp_random_fault(srv, FP_REPLICATE, 0);
        if (fault == FP_F_HANG) {
            atomic_fetch_add_explicit(&st->faults_injected, 1, memory_order_relaxed);
            req->fault_done = 1;
            if (fp_suspend(srv, c, req, s.now_us + srv->hang_ms * 1000) == 0) {
                free(s.out.p);
                return MHD_YES;
            }
        } else if (fault != FP_F_NONE && fault != FP_F_FAIL) {
            free(s.out.p);
            return rep_fault(srv, c, fault, 1);
        }
    }
    if (!cancel && s.terminal)
        fp_task_seen_id(srv, id, s.now_us);
    return fp_reply(srv, c, FP_REPLICATE, 200, CT_JSON, &s.out, NULL, NULL);
}

enum MHD_Result replicate_handle(struct fp_server *srv, struct MHD_Connection *c,
                                 struct fp_req *req, const char *method, const char *url)
{
    int post = strcmp(method, "POST") == 0, get = strcmp(method, "GET") == 0;
    if (post && strcmp(url, "/v1/predictions") == 0)
        return rep_create(srv, c, req, NULL);
    if (post && strncmp(url, "/v1/models/", 11) == 0) {
        const char *owner = url + 11, *slash = strchr(owner, '/');
        const char *name = slash ? slash + 1 : NULL, *slash2 = name ? strchr(name, '/') : NULL;
        if (slash && slash > owner && slash2 && slash2 > name &&
            strcmp(slash2, "/predictions") == 0) {
            char model[128];
            if ((size_t)(slash2 - owner) < sizeof model) {
                memcpy(model, owner, (size_t)(slash2 - owner));
                model[slash2 - owner] = 0;
                return rep_create(srv, c, req, model);
            }
        }
    }
    if (strncmp(url, "/v1/predictions/", 16) == 0) {
        const char *id = url + 16, *slash = strchr(id, '/');
        char idbuf[64];
        size_t n = slash ? (size_t)(slash - id) : strlen(id);
        if (n > 0 && n < sizeof idbuf) {
            memcpy(idbuf, id, n);
            idbuf[n] = 0;
            if (get && !slash)
                return rep_get(srv, c, req, idbuf, 0);
            if (post && slash && strcmp(slash, "/cancel") == 0)
                return rep_get(srv, c, req, idbuf, 1);
        }
    }
    return rep_problem(srv, c, 404, "Not found", "The requested resource could not be found.");
}
