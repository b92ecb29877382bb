/* test_kie.c — KIE provider: reply fixtures (parameterized), request
 * builders, and the shared helpers in prov_util.c (retry-after, class names,
 * registry, bounded JSON parsing).
 *
 * Fixtures live under SY_FIXTURES "/kie/"; a file's name carries the HTTP
 * status it was observed with (name.http<status>.<ext>), and the table below
 * repeats it so one body can also be tried under another status. Bodies are
 * read into buffers of exactly their size (no NUL), so ASan catches any read
 * past body_len. */
#include <criterion/criterion.h>
#include <criterion/parameterized.h>
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "providers/prov_util.h"
#include "provtest.h"
#include "core/sy.h"

/* The ops tables, exported by the provider files for tests (everything else
 * reaches them through the registry). */
extern const struct prov_ops kie_ops;
extern const struct prov_ops replicate_ops;

/* Short names for the tables and the hand-written cases below. */
#define CREATE PROVTEST_CREATE
#define POLL PROVTEST_POLL

#define TASK "task_google_1765178608584"
#define OK_(f, h, p, o, id)                                                                        \
    {                                                                                              \
        f, h, "", p, o, PROV_C_NONE, PROV_K_NONE, "200", 0, id, -1, ""                             \
    }

static struct provtest_fx kie_fixtures[] = {
    /* createTask */
    OK_("create_ok.http200.json", 200, CREATE, PROV_CREATED, TASK),
    OK_("create_ok_message_key.http200.json", 200, CREATE, PROV_CREATED,
        "b254d74d3e0f4c7e9a1f2b3c4d5e6f70"),
    OK_("create_ok_pro.http200.json", 201, CREATE, PROV_CREATED,
        "task_nano-banana-pro_1765178612345"),
    OK_("create_code_string.http200.json", 200, CREATE, PROV_CREATED, "task_google_1765178600001"),
    { "create_402_no_credit.http200.json", 200, "", CREATE, PROV_FAILED, PROV_C_PROVIDER,
      PROV_K_NO_CREDIT, "402", 0, "", -1, "insufficient" },
    { "create_402_no_credit.http402.json", 402, "", CREATE, PROV_FAILED, PROV_C_PROVIDER,
      PROV_K_NO_CREDIT, "402", 0, "", -1, "top up" },
    { "create_429_body.http200.json", 200, "", CREATE, PROV_FAILED, PROV_C_PROVIDER,
      PROV_K_RATE_LIMITED, "429", 0, "", -1, "Rate limit" },
    { "create_429_rate_limit.http429.json", 429, "", CREATE, PROV_FAILED, PROV_C_PROVIDER,
      PROV_K_RATE_LIMITED, "429", 0, "", -1, "Rate limit" },
    { "create_429_rate_limit.http429.json", 429, "7", CREATE, PROV_FAILED, PROV_C_PROVIDER,
      PROV_K_RATE_LIMITED, "429", 0, "", 7000, "" },
    { "create_429_bare.http429.txt", 429, "2.5", CREATE, PROV_FAILED, PROV_C_HTTP,
      PROV_K_RATE_LIMITED, "", 0, "", 2500, "HTTP 429" },
    { "create_429_bare.http429.txt", 429, "", CREATE, PROV_FAILED, PROV_C_HTTP, PROV_K_RATE_LIMITED,
      "", 0, "", -1, "" },
    { "create_401_no_access.http200.json", 200, "", CREATE, PROV_FAILED, PROV_C_PROVIDER,
      PROV_K_AUTH, "401", 0, "", -1, "access permissions" },
    { "create_401_unauthorized.http401.json", 401, "", CREATE, PROV_FAILED, PROV_C_PROVIDER,
      PROV_K_AUTH, "401", 0, "", -1, "Unauthorized" },
    { "create_422_validation.http200.json", 200, "", CREATE, PROV_FAILED, PROV_C_PROVIDER,
      PROV_K_INVALID_INPUT, "422", 0, "", -1, "output_format" },
    { "create_433_subkey_limit.http200.json", 200, "", CREATE, PROV_FAILED, PROV_C_PROVIDER,
      PROV_K_RATE_LIMITED, "433", 0, "", -1, "" },
    { "create_455_maintenance.http200.json", 200, "", CREATE, PROV_FAILED, PROV_C_PROVIDER,
      PROV_K_UNAVAILABLE, "455", 0, "", -1, "maintenance" },
    { "create_500_server_error.http500.json", 500, "", CREATE, PROV_FAILED, PROV_C_PROVIDER,
      PROV_K_UNAVAILABLE, "500", 0, "", -1, "Server error" },
    { "create_500_body.http200.json", 200, "", CREATE, PROV_FAILED, PROV_C_PROVIDER,
      PROV_K_UNAVAILABLE, "500", 0, "", -1, "" },
    { "create_501_generation_failed.http200.json", 200, "", CREATE, PROV_FAILED, PROV_C_PROVIDER,
      PROV_K_UNAVAILABLE, "501", 0, "", -1, "" },
    { "create_505_disabled.http200.json", 200, "", CREATE, PROV_FAILED, PROV_C_PROVIDER,
      PROV_K_UNAVAILABLE, "505", 0, "", -1, "disabled" },
    { "create_408_upstream.http200.json", 200, "", CREATE, PROV_FAILED, PROV_C_PROVIDER,
      PROV_K_UNAVAILABLE, "408", 0, "", -1, "" },
    { "create_502_html.http502.html", 502, "", CREATE, PROV_FAILED, PROV_C_HTTP, PROV_K_UNAVAILABLE,
      "", 0, "", -1, "HTTP 502" },
    { "create_403_cloudflare.http403.txt", 403, "", CREATE, PROV_FAILED, PROV_C_HTTP,
      PROV_K_UNAVAILABLE, "", 0, "", -1, "HTTP 403" },
    { "create_truncated.http200.json", 200, "", CREATE, PROV_FAILED, PROV_C_INVALID_REPLY,
      PROV_K_UNAVAILABLE, "", 0, "", -1, "unparsable" },
    { "create_empty.http200.json", 200, "", CREATE, PROV_FAILED, PROV_C_INVALID_REPLY,
      PROV_K_UNAVAILABLE, "", 0, "", -1, "" },
    { "create_no_task_id.http200.json", 200, "", CREATE, PROV_FAILED, PROV_C_INVALID_REPLY,
      PROV_K_UNAVAILABLE, "200", 0, "", -1, "taskId" },
    { "create_empty_task_id.http200.json", 200, "", CREATE, PROV_FAILED, PROV_C_INVALID_REPLY,
      PROV_K_UNAVAILABLE, "200", 0, "", -1, "taskId" },
    { "create_data_array.http200.json", 200, "", CREATE, PROV_FAILED, PROV_C_INVALID_REPLY,
      PROV_K_UNAVAILABLE, "200", 0, "", -1, "" },
    { "create_unknown_code.http200.json", 200, "", CREATE, PROV_FAILED, PROV_C_INVALID_REPLY,
      PROV_K_UNAVAILABLE, "999", 0, "", -1, "999" },
    { "create_not_envelope.http200.json", 200, "", CREATE, PROV_FAILED, PROV_C_INVALID_REPLY,
      PROV_K_UNAVAILABLE, "", 0, "", -1, "" },
    /* HTTP error with a success-looking body: HTTP wins, never CREATED */
    { "create_ok_http500.http500.json", 500, "", CREATE, PROV_FAILED, PROV_C_HTTP,
      PROV_K_UNAVAILABLE, "200", 0, "", -1, "HTTP 500" },
    /* recordInfo */
    OK_("poll_waiting.http200.json", 200, POLL, PROV_PENDING, TASK),
    OK_("poll_queuing.http200.json", 200, POLL, PROV_PENDING, TASK),
    OK_("poll_generating.http200.json", 200, POLL, PROV_PENDING, TASK),
    { "poll_success.http200.json", 200, "", POLL, PROV_SUCCEEDED, PROV_C_NONE, PROV_K_NONE, "200",
      1, TASK, -1, "" },
    { "poll_success_object.http200.json", 200, "", POLL, PROV_SUCCEEDED, PROV_C_NONE, PROV_K_NONE,
      "200", 1, TASK, -1, "" },
    { "poll_success_mixed_urls.http200.json", 200, "", POLL, PROV_SUCCEEDED, PROV_C_NONE,
      PROV_K_NONE, "200", 2, TASK, -1, "" },
    { "poll_success_no_urls.http200.json", 200, "", POLL, PROV_FAILED, PROV_C_INVALID_REPLY,
      PROV_K_UNAVAILABLE, "200", 0, TASK, -1, "resultUrls" },
    { "poll_success_bad_result_json.http200.json", 200, "", POLL, PROV_FAILED, PROV_C_INVALID_REPLY,
      PROV_K_UNAVAILABLE, "200", 0, TASK, -1, "resultJson" },
    /* result URLs: plain http(s) with a host, no control characters or
     * whitespace, at most 16 (M-2); one bad URL makes the reply invalid */
    { "poll_success_16_urls.http200.json", 200, "", POLL, PROV_SUCCEEDED, PROV_C_NONE, PROV_K_NONE,
      "200", 16, TASK, -1, "" },
    { "poll_success_17_urls.http200.json", 200, "", POLL, PROV_FAILED, PROV_C_INVALID_REPLY,
      PROV_K_UNAVAILABLE, "200", 0, TASK, -1, "result URL #17 is one too many" },
    { "poll_success_url_javascript.http200.json", 200, "", POLL, PROV_FAILED, PROV_C_INVALID_REPLY,
      PROV_K_UNAVAILABLE, "200", 0, TASK, -1, "result URL #2 is not an http:// or https:// URL" },
    { "poll_success_url_file.http200.json", 200, "", POLL, PROV_FAILED, PROV_C_INVALID_REPLY,
      PROV_K_UNAVAILABLE, "200", 0, TASK, -1, "result URL #1 is not an http" },
    { "poll_success_url_space.http200.json", 200, "", POLL, PROV_FAILED, PROV_C_INVALID_REPLY,
      PROV_K_UNAVAILABLE, "200", 0, TASK, -1, "control character or whitespace" },
    { "poll_success_url_control.http200.json", 200, "", POLL, PROV_FAILED, PROV_C_INVALID_REPLY,
      PROV_K_UNAVAILABLE, "200", 0, TASK, -1, "control character or whitespace" },
    { "poll_success_url_no_host.http200.json", 200, "", POLL, PROV_FAILED, PROV_C_INVALID_REPLY,
      PROV_K_UNAVAILABLE, "200", 0, TASK, -1, "has no host" },
    { "poll_fail_422.http200.json", 200, "", POLL, PROV_FAILED, PROV_C_TASK_FAILED,
      PROV_K_INVALID_INPUT, "422", 0, TASK, -1, "Invalid prompt" },
    { "poll_fail_500.http200.json", 200, "", POLL, PROV_FAILED, PROV_C_TASK_FAILED,
      PROV_K_UNAVAILABLE, "500", 0, TASK, -1, "Internal server error" },
    { "poll_fail_501.http200.json", 200, "", POLL, PROV_FAILED, PROV_C_TASK_FAILED,
      PROV_K_TASK_FAILED, "501", 0, TASK, -1, "Generation failed" },
    { "poll_fail_timed.http200.json", 200, "", POLL, PROV_FAILED, PROV_C_TASK_FAILED,
      PROV_K_TASK_FAILED, "501", 0, TASK, -1, "Generation failed" },
    { "poll_fail_code_int.http200.json", 200, "", POLL, PROV_FAILED, PROV_C_TASK_FAILED,
      PROV_K_INVALID_INPUT, "400", 0, TASK, -1, "could not be downloaded" },
    { "poll_recordinfo_null.http200.json", 200, "", POLL, PROV_FAILED, PROV_C_PROVIDER,
      PROV_K_NOT_READY, "422", 0, "", -1, "recordInfo is null" },
    { "poll_recordinfo_null.http200.json", 422, "", POLL, PROV_FAILED, PROV_C_PROVIDER,
      PROV_K_NOT_READY, "422", 0, "", -1, "" },
    { "poll_recordinfo_null_message.http200.json", 200, "", POLL, PROV_FAILED, PROV_C_PROVIDER,
      PROV_K_NOT_READY, "422", 0, "", -1, "RecordInfo" },
    { "poll_data_null.http200.json", 200, "", POLL, PROV_FAILED, PROV_C_PROVIDER, PROV_K_NOT_READY,
      "200", 0, "", -1, "" },
    { "poll_unknown_state.http200.json", 200, "", POLL, PROV_FAILED, PROV_C_INVALID_REPLY,
      PROV_K_UNAVAILABLE, "200", 0, TASK, -1, "paused" },
    { "poll_wrong_types.http200.json", 200, "", POLL, PROV_FAILED, PROV_C_INVALID_REPLY,
      PROV_K_UNAVAILABLE, "200", 0, "", -1, "" },
    { "poll_404_not_found.http200.json", 200, "", POLL, PROV_FAILED, PROV_C_PROVIDER,
      PROV_K_NOT_FOUND, "404", 0, "", -1, "Task not found" },
    { "poll_400_missing_id.http400.json", 400, "", POLL, PROV_FAILED, PROV_C_PROVIDER,
      PROV_K_INVALID_INPUT, "400", 0, "", -1, "" },
    { "poll_401_unauthorized.http401.json", 401, "", POLL, PROV_FAILED, PROV_C_PROVIDER,
      PROV_K_AUTH, "401", 0, "", -1, "" },
    { "poll_429.http429.json", 429, "3", POLL, PROV_FAILED, PROV_C_PROVIDER, PROV_K_RATE_LIMITED,
      "429", 0, "", 3000, "" },
    { "poll_truncated.http200.json", 200, "", POLL, PROV_FAILED, PROV_C_INVALID_REPLY,
      PROV_K_UNAVAILABLE, "", 0, "", -1, "" },
    { "create_502_html.http502.html", 502, "", POLL, PROV_FAILED, PROV_C_HTTP, PROV_K_UNAVAILABLE,
      "", 0, "", -1, "" },
};

static void parse(enum provtest_parser w, const char *body, size_t len, long http, const char *ra,
                  struct prov_result *res)
{
    provtest_parse(&kie_ops, w, body, len, http, ra, res);
}

ParameterizedTestParameters(kie, fixtures)
{
    return cr_make_param_array(struct provtest_fx, kie_fixtures,
                               sizeof(kie_fixtures) / sizeof(kie_fixtures[0]));
}

ParameterizedTest(struct provtest_fx *t, kie, fixtures)
{
    provtest_check_fixture(&kie_ops, "kie", t, "https://");
}

/* Every prefix and many one-byte mutations of every fixture, through both parsers: no crash, no leak,
 * terminated strings, and a prefix is never mistaken for a finished task. */
ParameterizedTestParameters(kie, prefixes)
{
    return cr_make_param_array(struct provtest_fx, kie_fixtures,
                               sizeof(kie_fixtures) / sizeof(kie_fixtures[0]));
}

ParameterizedTest(struct provtest_fx *t, kie, prefixes)
{
    provtest_sweep(&kie_ops, "kie", t, PROVTEST_PREFIX_RETRY_AFTER | PROVTEST_PREFIX_URLS);
}

/* The generation time a finished task reports (completeTime - createTime),
 * for the poll planner; -1 when unknown. costTime is ignored (its unit is
 * ambiguous: poll_fail_timed says 9.412, meaning seconds). */
Test(kie, reported_duration)
{
    static const struct {
        const char *file;
        long ms;
    } rows[] = {
        { "poll_success.http200.json", 11734 },
        { "poll_fail_timed.http200.json", 9412 },
        { "poll_success_object.http200.json", -1 }, /* completeTime null */
        { "poll_fail_501.http200.json", -1 },
        { "poll_generating.http200.json", -1 },
        { "poll_success_bad_result_json.http200.json", -1 },
    };
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++)
        provtest_expect_duration(&kie_ops, "kie", rows[i].file, NULL, POLL, 200, rows[i].ms);
    static const struct {
        const char *times;
        long ms;
    } odd[] = {
        { "\"createTime\":1765178608584,\"completeTime\":1765178608584.0", 0 },
        { "\"createTime\":1765178608584,\"completeTime\":1765178600000", -1 }, /* before creation */
        { "\"createTime\":\"1765178608584\",\"completeTime\":1765178620318", -1 }, /* a string */
        { "\"createTime\":1765178608584,\"completeTime\":1765378608584", -1 },     /* over a day */
        { "\"createTime\":-5,\"completeTime\":100", -1 },
    };
    for (size_t i = 0; i < sizeof odd / sizeof odd[0]; i++) {
        char body[512];
        int n = snprintf(
                body, sizeof body,
                "{\"code\":200,\"data\":{\"taskId\":\"t\",\"state\":\"success\",\"resultJson\":"
                "\"{\\\"resultUrls\\\":[\\\"https://x/y.png\\\"]}\",%s}}",
                odd[i].times);
        cr_assert_lt(n, (int)sizeof body);
        provtest_expect_duration(&kie_ops, "kie", NULL, body, POLL, 200, odd[i].ms);
    }
}

Test(kie, null_body)
{
    struct prov_result res;
    parse(CREATE, NULL, 0, 200, NULL, &res);
    cr_expect_eq(res.outcome, PROV_FAILED);
    cr_expect_eq(res.cls, PROV_C_INVALID_REPLY);
    prov_result_cleanup(&res);
    parse(POLL, NULL, 0, 503, NULL, &res);
    cr_expect_eq(res.cls, PROV_C_HTTP);
    cr_expect_eq(res.kind, PROV_K_UNAVAILABLE);
    prov_result_cleanup(&res);
}

Test(kie, too_deep_json_rejected)
{
    char body[400];
    size_t n = 0;
    n += (size_t)snprintf(body, sizeof(body), "{\"code\":200,\"data\":");
    for (int i = 0; i < 70; i++)
        body[n++] = '[';
    for (int i = 0; i < 70; i++)
        body[n++] = ']';
    body[n++] = '}';
    struct prov_result res;
    parse(POLL, body, n, 200, NULL, &res);
    cr_expect_eq(res.cls, PROV_C_INVALID_REPLY);
    prov_result_cleanup(&res);
    cr_expect_null(prov_json_parse(body, n));
}

Test(kie, trailing_garbage_and_nul_rejected)
{
    const char ok[] = "{\"code\":200,\"msg\":\"success\",\"data\":{\"taskId\":\"t1\"}}";
    struct prov_result res;
    parse(CREATE, ok, sizeof(ok) - 1, 200, NULL, &res);
    cr_expect_eq(res.outcome, PROV_CREATED);
    prov_result_cleanup(&res);
    char bad[sizeof(ok) + 4];
    memcpy(bad, ok, sizeof(ok) - 1);
    memcpy(bad + sizeof(ok) - 1, "}x\0y", 4);
    parse(CREATE, bad, sizeof(bad), 200, NULL, &res);
    cr_expect_eq(res.cls, PROV_C_INVALID_REPLY);
    prov_result_cleanup(&res);
}

Test(kie, long_message_truncated)
{
    char body[2000];
    int n = snprintf(body, sizeof(body), "{\"code\":402,\"msg\":\"");
    for (int i = 0; i < 600; i++)
        body[n++] = (char)('a' + i % 26);
    n += snprintf(body + n, sizeof(body) - (size_t)n, "\"}");
    struct prov_result res;
    parse(CREATE, body, (size_t)n, 200, NULL, &res);
    cr_expect_eq(res.kind, PROV_K_NO_CREDIT);
    cr_expect_eq(strlen(res.message), sizeof(res.message) - 1);
    prov_result_cleanup(&res);
}

/* ---- request builders ---- */

static struct conf_model kie_models[] = {
    { .name = "nano-banana",
      .generate = "google/nano-banana",
      .edit = "google/nano-banana-edit",
      .image_field = "image_urls",
      .jpeg_name = "jpeg" },
    { .name = "nano-banana-pro",
      .generate = "nano-banana-pro",
      .edit = "nano-banana-pro",
      .image_field = "image_input",
      .jpeg_name = "jpg" },
    { .name = "gen-only",
      .generate = "google/nano-banana",
      .edit = NULL,
      .image_field = "image_urls",
      .jpeg_name = "jpeg" },
};

static struct conf_provider kie_prov = {
    .name = "kie-main",
    .type = CONF_PROV_KIE,
    .base_url = "https://api.kie.ai",
    .models = kie_models,
    .n_models = 3,
};

static struct json_object *build_ok(const struct prov_task_spec *spec, struct prov_request *req)
{
    char err[256] = "";
    int rc = kie_ops.build_create(&kie_prov, spec, req, err, sizeof(err));
    cr_assert_eq(rc, SY_OK, "build_create: %d %s", rc, err);
    cr_assert_eq(req->method, PROV_POST);
    cr_assert_str_eq(req->url, "https://api.kie.ai/api/v1/jobs/createTask");
    cr_assert_eq(req->n_headers, 1);
    cr_assert_str_eq(req->headers[0], "Content-Type: application/json");
    cr_assert_eq(req->hold_s, 0);
    struct json_object *o = json_tokener_parse(req->body);
    cr_assert_not_null(o, "body is not JSON: %s", req->body);
    return o;
}

Test(kie_build, generate_minimal)
{
    struct prov_task_spec spec = { .prompt = "a red fox", .model = "nano-banana" };
    struct prov_request req;
    struct json_object *o = build_ok(&spec, &req);
    cr_expect_str_eq(provtest_jstr(o, "model", NULL), "google/nano-banana");
    cr_expect_str_eq(provtest_jstr(o, "input", "prompt"), "a red fox");
    cr_expect_str_eq(provtest_jstr(o, "input", "output_format"), "png");
    cr_expect_not(provtest_has(o, "input", "aspect_ratio"));
    cr_expect_not(provtest_has(o, "input", "image_urls"));
    cr_expect_not(provtest_has(o, "callBackUrl", NULL));
    cr_expect_eq(json_object_object_length(o), 2);
    /* exact text: plain, slashes not escaped */
    cr_expect_str_eq(req.body, "{\"model\":\"google/nano-banana\","
                               "\"input\":{\"prompt\":\"a red fox\",\"output_format\":\"png\"}}");
    json_object_put(o);
    prov_request_cleanup(&req);
}

Test(kie_build, edit_full)
{
    const char *imgs[] = { "https://example.com/a.png", "https://example.com/b.webp" };
    struct prov_task_spec spec = { .op = CONF_OP_EDIT,
                                   .prompt = "make it \"blue\"",
                                   .image_urls = imgs,
                                   .n_image_urls = 2,
                                   .output_format = "jpeg",
                                   .aspect_ratio = "16:9",
                                   .model = "nano-banana",
                                   .callback_url = "https://hooks.example.com/kie?job=1" };
    struct prov_request req;
    struct json_object *o = build_ok(&spec, &req);
    cr_expect_str_eq(provtest_jstr(o, "model", NULL), "google/nano-banana-edit");
    cr_expect_str_eq(provtest_jstr(o, "input", "prompt"), "make it \"blue\"");
    cr_expect_str_eq(provtest_jstr(o, "input", "output_format"), "jpeg");
    cr_expect_str_eq(provtest_jstr(o, "input", "aspect_ratio"), "16:9");
    cr_expect_str_eq(provtest_jstr(o, "callBackUrl", NULL), "https://hooks.example.com/kie?job=1");
    struct json_object *input, *arr;
    json_object_object_get_ex(o, "input", &input);
    cr_assert(json_object_object_get_ex(input, "image_urls", &arr));
    cr_assert_eq(json_object_array_length(arr), 2);
    cr_expect_str_eq(json_object_get_string(json_object_array_get_idx(arr, 1)),
                     "https://example.com/b.webp");
    cr_expect_not(provtest_has(o, "input", "image_input"));
    json_object_put(o);
    prov_request_cleanup(&req);
}

Test(kie_build, pro_uses_image_input_and_jpg)
{
    const char *imgs[] = { "https://example.com/a.png" };
    const char *fmts[] = { "jpeg", "jpg", "JPG" };
    for (int i = 0; i < 3; i++) {
        struct prov_task_spec spec = { .op = CONF_OP_EDIT,
                                       .prompt = "x",
                                       .image_urls = imgs,
                                       .n_image_urls = 1,
                                       .output_format = fmts[i],
                                       .model = "nano-banana-pro" };
        struct prov_request req;
        struct json_object *o = build_ok(&spec, &req);
        cr_expect_str_eq(provtest_jstr(o, "model", NULL), "nano-banana-pro");
        cr_expect_str_eq(provtest_jstr(o, "input", "output_format"), "jpg");
        cr_expect(provtest_has(o, "input", "image_input"));
        cr_expect_not(provtest_has(o, "input", "image_urls"));
        json_object_put(o);
        prov_request_cleanup(&req);
    }
}

Test(kie_build, jpg_spelled_jpeg_for_nano_banana)
{
    struct prov_task_spec spec = { .prompt = "x", .output_format = "jpg", .model = "nano-banana" };
    struct prov_request req;
    struct json_object *o = build_ok(&spec, &req);
    cr_expect_str_eq(provtest_jstr(o, "input", "output_format"), "jpeg");
    json_object_put(o);
    prov_request_cleanup(&req);
}

static void expect_declined(const struct prov_task_spec *spec, const char *why)
{
    char err[256] = "";
    struct prov_request req;
    int rc = kie_ops.build_create(&kie_prov, spec, &req, err, sizeof(err));
    cr_expect_eq(rc, SY_DECLINED, "want DECLINED for %s, got %d", why, rc);
    cr_expect(err[0] != '\0', "no reason for %s", why);
    cr_expect_null(req.url);
    cr_expect_null(req.body);
    prov_request_cleanup(&req);
}

Test(kie_build, declines)
{
    const char *imgs[11];
    for (int i = 0; i < 11; i++)
        imgs[i] = "https://example.com/i.png";
    struct prov_task_spec s = { .prompt = "x", .model = "unknown-model" };
    expect_declined(&s, "unmapped model");
    s = (struct prov_task_spec){ .op = CONF_OP_EDIT, .prompt = "x", .model = "gen-only" };
    expect_declined(&s, "edit unsupported");
    s = (struct prov_task_spec){ .op = CONF_OP_EDIT,
                                 .prompt = "x",
                                 .model = "nano-banana",
                                 .image_urls = imgs,
                                 .n_image_urls = 11 };
    expect_declined(&s, "11 image_urls");
    s = (struct prov_task_spec){ .op = CONF_OP_EDIT,
                                 .prompt = "x",
                                 .model = "nano-banana-pro",
                                 .image_urls = imgs,
                                 .n_image_urls = 9 };
    expect_declined(&s, "9 image_input");
    s = (struct prov_task_spec){ .prompt = "x", .model = "nano-banana", .output_format = "webp" };
    expect_declined(&s, "webp");
    s = (struct prov_task_spec){ .prompt = NULL, .model = "nano-banana" };
    expect_declined(&s, "no prompt");
}

Test(kie_build, image_limits_inclusive)
{
    const char *imgs[10];
    for (int i = 0; i < 10; i++)
        imgs[i] = "https://example.com/i.png";
    struct prov_task_spec s = { .op = CONF_OP_EDIT,
                                .prompt = "x",
                                .model = "nano-banana",
                                .image_urls = imgs,
                                .n_image_urls = 10 };
    struct prov_request req;
    json_object_put(build_ok(&s, &req));
    prov_request_cleanup(&req);
    s.model = "nano-banana-pro";
    s.n_image_urls = 8;
    json_object_put(build_ok(&s, &req));
    prov_request_cleanup(&req);
}

Test(kie_build, prompt_limits)
{
    size_t big = 10001;
    char *p = malloc(big + 1);
    memset(p, 'a', big);
    p[5000] = '\0';
    struct prov_task_spec s = { .prompt = p, .model = "nano-banana" };
    struct prov_request req;
    json_object_put(build_ok(&s, &req)); /* exactly 5000 */
    prov_request_cleanup(&req);
    p[5000] = 'a';
    p[5001] = '\0';
    expect_declined(&s, "5001 chars on nano-banana");
    s.model = "nano-banana-pro"; /* 10000 for pro */
    json_object_put(build_ok(&s, &req));
    prov_request_cleanup(&req);
    p[5001] = 'a';
    p[big] = '\0';
    expect_declined(&s, "10001 chars on pro");
    /* chars, not bytes: 5000 two-byte code points fit nano-banana */
    char *u = malloc(10001);
    for (int i = 0; i < 5000; i++)
        memcpy(u + 2 * i, "\xc3\xa9", 2);
    u[10000] = '\0';
    s = (struct prov_task_spec){ .prompt = u, .model = "nano-banana" };
    json_object_put(build_ok(&s, &req));
    prov_request_cleanup(&req);
    free(u);
    free(p);
}

Test(kie_build, poll_escapes_task_id)
{
    struct prov_request req;
    cr_assert_eq(kie_ops.build_poll(&kie_prov, "task_nano-banana-pro_1765178612345", &req), SY_OK);
    cr_expect_eq(req.method, PROV_GET);
    cr_expect_null(req.body);
    cr_expect_str_eq(
            req.url,
            "https://api.kie.ai/api/v1/jobs/recordInfo?taskId=task_nano-banana-pro_1765178612345");
    prov_request_cleanup(&req);
    cr_assert_eq(kie_ops.build_poll(&kie_prov, "a b&c=d/é?#", &req), SY_OK);
    cr_expect_str_eq(
            req.url,
            "https://api.kie.ai/api/v1/jobs/recordInfo?taskId=a%20b%26c%3Dd%2F%C3%A9%3F%23");
    prov_request_cleanup(&req);
    cr_expect_eq(kie_ops.build_poll(&kie_prov, "", &req), SY_ERR);
    prov_request_cleanup(&req);
}

Test(kie_build, trailing_slash_and_no_cancel)
{
    struct conf_provider p = kie_prov;
    p.base_url = "http://127.0.0.1:8080/";
    struct prov_request req;
    cr_assert_eq(kie_ops.build_poll(&p, "t1", &req), SY_OK);
    cr_expect_str_eq(req.url, "http://127.0.0.1:8080/api/v1/jobs/recordInfo?taskId=t1");
    prov_request_cleanup(&req);
    cr_expect_null(kie_ops.build_cancel);
    cr_expect_str_eq(kie_ops.type, "kie");
}

/* ---- shared helpers (prov_util.c, provider.c) ---- */

Test(provider, retry_after)
{
    cr_expect_eq(prov_parse_retry_after("5"), 5000);
    cr_expect_eq(prov_parse_retry_after(" 30 "), 30000);
    cr_expect_eq(prov_parse_retry_after("1.5"), 1500);
    cr_expect_eq(prov_parse_retry_after("0.25"), 250);
    cr_expect_eq(prov_parse_retry_after("0"), 0);
    cr_expect_eq(prov_parse_retry_after("99999999999999999999"), 86400000L);
    cr_expect_eq(prov_parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT"), -1);
    cr_expect_eq(prov_parse_retry_after(NULL), -1);
    cr_expect_eq(prov_parse_retry_after(""), -1);
    cr_expect_eq(prov_parse_retry_after("-3"), -1);
    cr_expect_eq(prov_parse_retry_after("5s"), -1);
    cr_expect_eq(prov_parse_retry_after("1."), -1);
    cr_expect_eq(prov_parse_retry_after("1e3"), -1);
}

Test(provider, class_names_and_lookup)
{
    cr_expect_str_eq(prov_class_name(PROV_C_NONE), "succeeded");
    cr_expect_str_eq(prov_class_name(PROV_C_TRANSPORT), "transport");
    cr_expect_str_eq(prov_class_name(PROV_C_TIMEOUT), "timeout");
    cr_expect_str_eq(prov_class_name(PROV_C_HTTP), "http_status");
    cr_expect_str_eq(prov_class_name(PROV_C_PROVIDER), "provider_code");
    cr_expect_str_eq(prov_class_name(PROV_C_TASK_FAILED), "task_failed");
    cr_expect_str_eq(prov_class_name(PROV_C_INVALID_REPLY), "invalid_reply");
    cr_expect_eq(prov_lookup(CONF_PROV_KIE), &kie_ops);
    cr_expect_eq(prov_lookup(CONF_PROV_REPLICATE), &replicate_ops);
    cr_expect_null(prov_lookup((enum conf_provider_type)0));
}

/* M-2: the URL rules at their limits, through the KIE parser: 2048 bytes
 * pass and 2049 do not; http:// (fakeprov's) and any case of the scheme pass. */
static void kie_poll_url(const char *url, struct prov_result *res)
{
    static char body[4096];
    int n = snprintf(
            body, sizeof body,
            "{\"code\":200,\"msg\":\"success\",\"data\":{\"taskId\":\"t1\",\"state\":\"success\","
            "\"resultJson\":{\"resultUrls\":[\"%s\"]}}}",
            url);
    cr_assert_lt(n, (int)sizeof body);
    parse(POLL, body, (size_t)n, 200, NULL, res);
}

Test(kie, result_url_limits)
{
    char url[PROV_MAX_URL_BYTES + 2];
    struct prov_result res;

    memset(url, 'a', sizeof url);
    memcpy(url, "https://cdn.example.com/", 24);
    url[PROV_MAX_URL_BYTES] = '\0';
    kie_poll_url(url, &res);
    cr_expect_eq(res.outcome, PROV_SUCCEEDED, "%s", res.message);
    cr_expect_eq(res.n_urls, 1);
    cr_expect_eq(strlen(res.urls[0]), PROV_MAX_URL_BYTES);
    prov_result_cleanup(&res);

    url[PROV_MAX_URL_BYTES] = 'a';
    url[PROV_MAX_URL_BYTES + 1] = '\0';
    kie_poll_url(url, &res);
    cr_expect_eq(res.outcome, PROV_FAILED);
    cr_expect_eq(res.cls, PROV_C_INVALID_REPLY);
    cr_expect_eq(res.n_urls, 0);
    cr_expect(strstr(res.message, "result URL #1 is longer than 2048 bytes") != NULL, "%s",
              res.message);
    cr_expect_null(strstr(res.message, "cdn.example.com"), "the URL is never echoed");
    prov_result_cleanup(&res);

    static const char *const good[] = { "http://127.0.0.1:8080/files/t1.png",
                                        "HTTPS://CDN.EXAMPLE.COM/a.png", "Http://h/x" };
    for (size_t i = 0; i < sizeof good / sizeof good[0]; i++) {
        kie_poll_url(good[i], &res);
        cr_expect_eq(res.outcome, PROV_SUCCEEDED, "%s: %s", good[i], res.message);
        prov_result_cleanup(&res);
    }
}

Test(provider, result_url_problem)
{
    static const char *const bad[] = {
        "",
        "https://",
        "http://",
        "https:///x",
        "ftp://h/x",
        "//h/x",
        "h/x",
        "javascript:alert(1)",
        "data:image/png;base64,AA",
        "https://h/a b",
        "https://h/a\tb",
        "https://h/\x7f",
        "https://h/\x1b[31m",
        " https://h/x",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        cr_expect_not_null(prov_result_url_problem(bad[i], strlen(bad[i])), "accepted \"%s\"",
                           bad[i]);
    cr_expect_null(prov_result_url_problem("https://h/x", 11));
    cr_expect_not_null(prov_result_url_problem("https://h/x\0y", 13), "a NUL inside");

    /* The 17th URL fails the result and drops the 16 before it. */
    struct prov_result r;
    prov_result_init(&r);
    for (int i = 0; i < PROV_MAX_RESULT_URLS; i++)
        cr_assert_eq(prov_result_take_url(&r, "https://h/x", 11), SY_OK);
    cr_expect_eq(prov_result_take_url(&r, "https://h/x", 11), SY_DECLINED);
    cr_expect_eq(r.outcome, PROV_FAILED);
    cr_expect_eq(r.cls, PROV_C_INVALID_REPLY);
    cr_expect_eq(r.n_urls, 0);
    cr_expect_null(r.urls);
    prov_result_cleanup(&r);
}

Test(provider, result_cleanup_reinits)
{
    struct prov_result r;
    prov_result_init(&r);
    cr_expect_eq(r.retry_after_ms, -1);
    r.task_id = strdup("x");
    prov_result_add_url(&r, "https://a");
    prov_result_add_url(&r, "https://b");
    prov_result_set_code(&r, "0123456789012345678901234567890123456789");
    cr_expect_eq(strlen(r.code), sizeof(r.code) - 1);
    prov_result_cleanup(&r);
    cr_expect_null(r.task_id);
    cr_expect_null(r.urls);
    cr_expect_eq(r.n_urls, 0);
    cr_expect_eq(r.retry_after_ms, -1);
    prov_result_cleanup(&r); /* twice is fine */
    struct prov_request q = { 0 };
    for (int i = 0; i < PROV_MAX_HEADERS; i++)
        cr_expect_eq(prov_request_add_header(&q, "X: y"), SY_OK);
    cr_expect_eq(prov_request_add_header(&q, "X: z"), SY_ERR);
    prov_request_cleanup(&q);
    prov_request_cleanup(&q);
}

Test(provider, messages_stay_valid_utf8)
{
    /* 300 × "é": truncation must not split a sequence; stray bytes become '?' */
    char body[1024];
    int n = snprintf(body, sizeof(body), "{\"code\":402,\"msg\":\"");
    for (int i = 0; i < 300; i++) {
        body[n++] = '\xc3';
        body[n++] = '\xa9';
    }
    n += snprintf(body + n, sizeof(body) - (size_t)n, "\"}");
    struct prov_result res;
    parse(CREATE, body, (size_t)n, 200, NULL, &res);
    size_t len = strlen(res.message);
    cr_expect_eq(len % 2, 0, "split sequence: %zu bytes", len);
    cr_expect_geq(len, sizeof(res.message) - 2);
    prov_result_cleanup(&res);
    const char bad[] = "{\"code\":401,\"msg\":\"bad \xff\xc3x key\"}";
    parse(CREATE, bad, sizeof(bad) - 1, 200, NULL, &res);
    cr_expect_str_eq(res.message, "bad ??x key");
    cr_expect_eq(res.kind, PROV_K_AUTH);
    prov_result_cleanup(&res);
}
