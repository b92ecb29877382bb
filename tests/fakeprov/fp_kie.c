/* fakeprov KIE.AI emulation: POST /api/v1/jobs/createTask and
 * GET /api/v1/jobs/recordInfo (docs/providers.md §KIE createTask, §KIE recordInfo).
 *
 * Create order: auth → JSON → fault (prompt marker, else --fault, else
 * /_control) → validation (HTTP 200 + code 422) → sliding window (HTTP 429,
 * request dropped) → task. A hang fault suspends the request and then runs
 * the rest of that order when it resumes. recordInfo derives the state from
 * (now - created): waiting < 10% of the generation time ≤ queuing < 20% ≤
 * generating < 100% ≤ success | fail. */
#include "fp_common.h"

#include <json-c/json.h>
#include <stdlib.h>
#include <string.h>

#define CT_JSON "application/json"

static const char kie_401[] = "{\"code\":401,\"msg\":\"You do not have access permissions\"}";
/* KIE sits behind Cloudflare, which answers requests without a User-Agent
 * with 403 "error code: 1010" (docs/providers.md §KIE User-Agent). */
static const char kie_1010[] = "error code: 1010";

static int has_user_agent(struct MHD_Connection *c)
{
    const char *ua = MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_USER_AGENT);
    return ua && *ua;
}
static const char kie_429[] = "{\"code\":429,\"msg\":\"Rate limit exceeded\"}";
static const char kie_null[] = "{\"code\":422,\"msg\":\"recordInfo is null\",\"data\":null}";

static enum MHD_Result kie_msg(struct fp_server *srv, struct MHD_Connection *c, unsigned http,
                               int code, const char *msg)
{
    struct fp_buf b = { 0 };
    fp_buf_fmt(&b, "{\"code\":%d,\"msg\":", code);
    fp_buf_json(&b, msg);
    fp_buf_str(&b, ",\"data\":null}");
    return fp_reply(srv, c, FP_KIE, http, CT_JSON, &b, NULL, NULL);
}

/* The reply for an injected fault other than hang and fail. */
static enum MHD_Result kie_fault(struct fp_server *srv, struct MHD_Connection *c, int kind,
                                 int is_poll)
{
    atomic_fetch_add_explicit(&srv->st[FP_KIE].faults_injected, 1, memory_order_relaxed);
    switch (kind) {
    case FP_F_HTTP500:
        return kie_msg(srv, c, 500, 500, "Internal server error");
    case FP_F_HTTP502:
        return kie_msg(srv, c, 502, 500, "Bad gateway");
    case FP_F_HTTP503:
        return kie_msg(srv, c, 503, 500, "Service temporarily unavailable");
    case FP_F_429:
        return fp_reply_static(srv, c, FP_KIE, 429, CT_JSON, kie_429, "Retry-After", "1");
    case FP_F_429_NORETRY:
        return fp_reply_static(srv, c, FP_KIE, 429, CT_JSON, kie_429, NULL, NULL);
    case FP_F_401:
        return fp_reply_static(srv, c, FP_KIE, 401, CT_JSON, kie_401, NULL, NULL);
    case FP_F_402:
        return kie_msg(srv, c, 200, 402, "The current credits are insufficient. Please top up.");
    case FP_F_422:
        if (is_poll)
            return fp_reply_static(srv, c, FP_KIE, 200, CT_JSON, kie_null, NULL, NULL);
        return kie_msg(srv, c, 200, 422, "Invalid input: the request parameters failed checks");
    case FP_F_455:
        return kie_msg(srv, c, 200, 455, "Service is currently unavailable due to maintenance");
    case FP_F_MALFORMED:
        return fp_reply_static(srv, c, FP_KIE, 200, CT_JSON,
                               is_poll ? "{\"code\":200,\"data\":{\"state\":"
                                       : "{\"code\":200,\"data\":{\"taskId\":",
                               NULL, NULL);
    case FP_F_TRUNCATED:
    default:
        return fp_reply_truncated(srv, c, FP_KIE, 200, "{\"code\":200,\"msg\":\"succ", 96);
    }
}

static int str_in(const char *s, const char *a, const char *b)
{
    return strcmp(s, a) == 0 || strcmp(s, b) == 0;
}

/* Returns NULL when the body is valid, else the 422 message. */
static const char *kie_validate(json_object *root, const char **model_out, const char **prompt_out)
{
    json_object *m, *in, *v;
    if (!json_object_object_get_ex(root, "model", &m) || !json_object_is_type(m, json_type_string))
        return "model is required";
    const char *model = json_object_get_string(m);
    int google = strncmp(model, "google/", 7) == 0;
    size_t max_prompt;
    if (strcmp(model, "google/nano-banana") == 0 || strcmp(model, "google/nano-banana-edit") == 0)
        max_prompt = 5000;
    else if (strcmp(model, "nano-banana-pro") == 0)
        max_prompt = 10000;
    else if (strcmp(model, "nano-banana-2") == 0)
        max_prompt = 20000;
    else
        return "model is not supported";
    *model_out = model;
    if (!json_object_object_get_ex(root, "input", &in) ||
        !json_object_is_type(in, json_type_object))
        return "input is required";
    if (!json_object_object_get_ex(in, "prompt", &v) || !json_object_is_type(v, json_type_string) ||
        json_object_get_string_len(v) == 0)
        return "input.prompt is required";
    if ((size_t)json_object_get_string_len(v) > max_prompt)
        return "input.prompt is too long";
    *prompt_out = json_object_get_string(v);
    if (json_object_object_get_ex(in, "output_format", &v)) {
        const char *f = json_object_is_type(v, json_type_string) ? json_object_get_string(v) : "";
        if (google && !str_in(f, "png", "jpeg"))
            return "input.output_format must be one of png, jpeg";
        if (!google && !str_in(f, "png", "jpg"))
            return "input.output_format must be one of png, jpg";
    }
    if (strcmp(model, "google/nano-banana-edit") == 0 &&
        (!json_object_object_get_ex(in, "image_urls", &v) ||
         !json_object_is_type(v, json_type_array) || json_object_array_length(v) == 0))
        return "input.image_urls is required for google/nano-banana-edit";
    return NULL;
}

static enum MHD_Result kie_create(struct fp_server *srv, struct MHD_Connection *c,
                                  struct fp_req *req)
{
    struct fp_pstats *st = &srv->st[FP_KIE];
    if (!req->counted) {
        atomic_fetch_add_explicit(&st->creates, 1, memory_order_relaxed);
        req->counted = 1;
    }
    if (!has_user_agent(c))
        return fp_reply_static(srv, c, FP_KIE, 403, "text/plain", kie_1010, NULL, NULL);
    if (!fp_auth_ok(c, srv->kie_key))
        return fp_reply_static(srv, c, FP_KIE, 401, CT_JSON, kie_401, NULL, NULL);
    json_object *root = req->body ? json_tokener_parse(req->body) : NULL;
    if (!root || !json_object_is_type(root, json_type_object)) {
        json_object_put(root);
        return kie_msg(srv, c, 200, 422, "request body must be a JSON object");
    }
    /* Markers are read from the prompt even when the rest is invalid. */
    json_object *in, *p;
    const char *prompt = NULL;
    if (json_object_object_get_ex(root, "input", &in) &&
        json_object_object_get_ex(in, "prompt", &p) && json_object_is_type(p, json_type_string))
        prompt = json_object_get_string(p);
    int fault, pollfault;
    int64_t gen_ms;
    enum MHD_Result answered;
    if (fp_create_fault(srv, c, req, FP_KIE, prompt, kie_fault, &fault, &pollfault, &gen_ms,
                        &answered)) {
        json_object_put(root);
        return answered;
    }
    const char *model = NULL;
    const char *bad = kie_validate(root, &model, &prompt);
    if (bad) {
        enum MHD_Result rc = kie_msg(srv, c, 200, 422, bad);
        json_object_put(root);
        return rc;
    }
    if (fp_window_take(srv, fp_now_us()) != 0) {
        json_object_put(root);
        return fp_reply_static(srv, c, FP_KIE, 429, CT_JSON, kie_429, NULL, NULL);
    }
    int fail = fault == FP_F_FAIL || pollfault == FP_F_FAIL;
    if (fail)
        atomic_fetch_add_explicit(&st->faults_injected, 1, memory_order_relaxed);
    if (gen_ms < 0)
        gen_ms = fp_draw_gen_ms(srv);
    char id[48];
    fp_task_add(srv, FP_KIE, model, "", req->body, req->len, gen_ms, fail,
                pollfault == FP_F_FAIL ? FP_F_NONE : pollfault, id);
    json_object *cbu;
    if (json_object_object_get_ex(root, "callBackUrl", &cbu) &&
        json_object_is_type(cbu, json_type_string))
        fp_cb_schedule(srv, FP_KIE, id, json_object_get_string(cbu), fp_now_us() + gen_ms * 1000);
    json_object_put(root);
    atomic_fetch_add_explicit(&st->tasks_created, 1, memory_order_relaxed);
    struct fp_buf b = { 0 };
    fp_buf_str(&b, "{\"code\":200,\"msg\":\"success\",\"data\":{\"taskId\":");
    fp_buf_json(&b, id);
    fp_buf_str(&b, "}}");
    return fp_reply(srv, c, FP_KIE, 200, CT_JSON, &b, NULL, NULL);
}

struct kie_snap {
    struct fp_server *srv;
    int64_t now_us;
    int pollfault;
    int64_t created_us;
    int terminal;
    int data_only; /* render the data object without the envelope (a callback) */
    int done, fail;
    struct fp_buf out;
};

static void kie_render(struct fp_task *t, void *arg)
{
    struct kie_snap *s = arg;
    struct fp_buf *b = &s->out;
    int64_t el = s->now_us - t->created_us, gen = t->gen_ms * 1000;
    int64_t created_ms = t->created_us / 1000;
    s->pollfault = t->pollfault;
    s->created_us = t->created_us;
    if (!s->data_only)
        t->polls++; /* a poll, not a callback body */
    const char *state;
    int64_t upd;
    int done = 0;
    if (el >= gen) {
        state = t->fail ? "fail" : "success";
        upd = gen;
        done = 1;
        s->terminal = 1;
    } else if (el >= gen / 5) {
        state = "generating";
        upd = gen / 5;
    } else if (el >= gen / 10) {
        state = "queuing";
        upd = gen / 10;
    } else {
        state = "waiting";
        upd = 0;
    }
    s->done = done;
    s->fail = t->fail;
    if (!s->data_only)
        fp_buf_str(b, "{\"code\":200,\"msg\":\"success\",\"data\":");
    fp_buf_str(b, "{\"taskId\":");
    fp_buf_json(b, t->id);
    fp_buf_str(b, ",\"model\":");
    fp_buf_json(b, t->model);
    fp_buf_fmt(b, ",\"state\":\"%s\",\"param\":", state);
    fp_buf_json(b, t->param);
    fp_buf_str(b, ",\"resultJson\":");
    if (done && !t->fail) {
        struct fp_buf r = { 0 };
        fp_buf_fmt(&r, "{\"resultUrls\":[\"%s/files/%s.png\"]}", s->srv->base_url, t->id);
        fp_buf_json(b, r.p);
        free(r.p);
    } else {
        fp_buf_str(b, "\"\"");
    }
    if (done && t->fail)
        fp_buf_str(b, ",\"failCode\":\"500\",\"failMsg\":\"Internal server error\"");
    else
        fp_buf_str(b, ",\"failCode\":\"\",\"failMsg\":\"\"");
    fp_buf_fmt(b, ",\"costTime\":%lld,\"createTime\":%lld,\"updateTime\":%lld,\"completeTime\":",
               done ? (long long)t->gen_ms : 0LL, (long long)created_ms,
               (long long)(created_ms + upd / 1000));
    if (done)
        fp_buf_fmt(b, "%lld}", (long long)(created_ms + t->gen_ms));
    else
        fp_buf_str(b, "null}");
    if (!s->data_only)
        fp_buf_str(b, "}");
}

int fp_kie_callback_body(struct fp_server *srv, const char *id, struct fp_buf *b)
{
    struct kie_snap s = { .srv = srv, .now_us = fp_now_us(), .data_only = 1 };
    if (fp_tasks_with(srv, id, kie_render, &s) != 0)
        return -1;
    /* docs/providers.md §KIE callbacks: code 200 on success, 501 with data.state "fail". */
    fp_buf_str(
            b,
            s.fail ? "{\"code\":501,\"msg\":\"Playground task failed.\",\"data\":"
                   : "{\"code\":200,\"msg\":\"Playground task completed successfully.\",\"data\":");
    fp_buf_add(b, s.out.p, s.out.len);
    fp_buf_str(b, "}");
    free(s.out.p);
    return 0;
}

static enum MHD_Result kie_poll(struct fp_server *srv, struct MHD_Connection *c, struct fp_req *req)
{
    struct fp_pstats *st = &srv->st[FP_KIE];
    if (!req->counted) {
        atomic_fetch_add_explicit(&st->polls, 1, memory_order_relaxed);
        req->counted = 1;
    }
    if (!has_user_agent(c))
        return fp_reply_static(srv, c, FP_KIE, 403, "text/plain", kie_1010, NULL, NULL);
    if (!fp_auth_ok(c, srv->kie_key))
        return fp_reply_static(srv, c, FP_KIE, 401, CT_JSON, kie_401, NULL, NULL);
    const char *id = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "taskId");
    if (!id || !*id)
        return kie_msg(srv, c, 200, 400, "taskId parameter is required");
    struct kie_snap s = { .srv = srv, .now_us = fp_now_us() };
    if (fp_tasks_with(srv, id, kie_render, &s) != 0)
        return fp_reply_static(srv, c, FP_KIE, 200, CT_JSON, kie_null, NULL, NULL);
    if (!req->fault_done) {
        int fault = s.pollfault != FP_F_NONE ? s.pollfault : fp_random_fault(srv, FP_KIE, 0);
        if (fault == FP_F_HANG) {
            atomic_fetch_add_explicit(&st->faults_injected, 1, memory_order_relaxed);
            req->fault_done = 1;
            if (fp_suspend(srv, c, req, s.now_us + srv->hang_ms * 1000) == 0) {
                free(s.out.p);
                return MHD_YES;
            }
        } else if (fault != FP_F_NONE && fault != FP_F_FAIL) {
            free(s.out.p);
            return kie_fault(srv, c, fault, 1);
        }
    }
    if (s.now_us - s.created_us < srv->kie_null_ms * 1000) {
        free(s.out.p);
        return fp_reply_static(srv, c, FP_KIE, 200, CT_JSON, kie_null, NULL, NULL);
    }
    if (s.terminal)
        fp_task_seen_id(srv, id, s.now_us);
    return fp_reply(srv, c, FP_KIE, 200, CT_JSON, &s.out, NULL, NULL);
}

enum MHD_Result kie_handle(struct fp_server *srv, struct MHD_Connection *c, struct fp_req *req,
                           const char *method, const char *url)
{
    if (strcmp(url, "/api/v1/jobs/createTask") == 0 && strcmp(method, "POST") == 0)
        return kie_create(srv, c, req);
    if (strcmp(url, "/api/v1/jobs/recordInfo") == 0 && strcmp(method, "GET") == 0)
        return kie_poll(srv, c, req);
    return kie_msg(srv, c, 404, 404, "Not found");
}
