/* test_replicate.c — Replicate provider: prediction and problem+json reply
 * fixtures (parameterized), and the request builders.
 *
 * Fixtures live under SY_FIXTURES "/replicate/"; a file's name carries the
 * HTTP status it was observed with (name.http<status>.<ext>). Bodies are read
 * into buffers of exactly their size (no NUL) so ASan catches over-reads. */
#include <criterion/criterion.h>
#include <criterion/parameterized.h>
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "providers/prov_util.h"
#include "provtest.h"
#include "core/sy.h"

extern const struct prov_ops replicate_ops; /* providers/replicate.c, exported for tests */

/* Short names for the tables and the hand-written cases below. */
#define CREATE PROVTEST_CREATE
#define POLL PROVTEST_POLL

#define PID "gm3qorzdhgbfurvjtvhg6dckhu"
#define FAIL_(f, h, ra, p, cls, kind, code, ms, msg)                                               \
    {                                                                                              \
        f, h, ra, p, PROV_FAILED, cls, kind, code, 0, "", ms, msg                                  \
    }
#define TASKF_(f, p, code, msg)                                                                    \
    {                                                                                              \
        f, 200, "", p, PROV_FAILED, PROV_C_TASK_FAILED, PROV_K_TASK_FAILED, code, 0, PID, -1, msg  \
    }
#define BAD_(f, h, p, id, msg)                                                                     \
    {                                                                                              \
        f, h, "", p, PROV_FAILED, PROV_C_INVALID_REPLY, PROV_K_UNAVAILABLE, "", 0, id, -1, msg     \
    }

static struct provtest_fx rep_fixtures[] = {
    /* create, async and sync (Prefer: wait) */
    { "create_starting.http201.json", 201, "", CREATE, PROV_CREATED, PROV_C_NONE, PROV_K_NONE, "",
      0, PID, -1, "" },
    { "create_processing_sync.http201.json", 201, "", CREATE, PROV_CREATED, PROV_C_NONE,
      PROV_K_NONE, "", 0, PID, -1, "" },
    { "create_processing_with_output.http201.json", 201, "", CREATE, PROV_CREATED, PROV_C_NONE,
      PROV_K_NONE, "", 0, PID, -1, "" },
    { "create_succeeded_sync.http201.json", 201, "", CREATE, PROV_SUCCEEDED, PROV_C_NONE,
      PROV_K_NONE, "", 1, PID, -1, "" },
    { "create_succeeded_sync.http200.json", 200, "", CREATE, PROV_SUCCEEDED, PROV_C_NONE,
      PROV_K_NONE, "", 1, PID, -1, "" },
    TASKF_("create_failed_sync.http201.json", CREATE, "E6716", "Timed out starting"),
    FAIL_("create_401_unauthenticated.http401.json", 401, "", CREATE, PROV_C_PROVIDER, PROV_K_AUTH,
          "401", -1, "Unauthenticated: You did not pass"),
    FAIL_("create_402_insufficient_credit.http402.json", 402, "", CREATE, PROV_C_PROVIDER,
          PROV_K_NO_CREDIT, "402", -1, "Insufficient credit"),
    FAIL_("create_422_invalid_fields.http422.json", 422, "", CREATE, PROV_C_PROVIDER,
          PROV_K_INVALID_INPUT, "422", -1, "Input validation failed: - input: prompt is required"),
    FAIL_("create_422_enum_no_detail.http422.json", 422, "", CREATE, PROV_C_PROVIDER,
          PROV_K_INVALID_INPUT, "422", -1, "[input.output_format: output_format must be"),
    FAIL_("create_422_invalid_version.http422.json", 422, "", CREATE, PROV_C_PROVIDER,
          PROV_K_INVALID_INPUT, "422", -1, "Invalid version"),
    FAIL_("create_422_additional_property.http422.json", 422, "", CREATE, PROV_C_PROVIDER,
          PROV_K_INVALID_INPUT, "422", -1, "Additional property model"),
    FAIL_("create_404_not_found.http404.json", 404, "", CREATE, PROV_C_PROVIDER, PROV_K_NOT_FOUND,
          "404", -1, "Not found"),
    FAIL_("create_429_low_credit.http429.json", 429, "", CREATE, PROV_C_PROVIDER,
          PROV_K_RATE_LIMITED, "429", 5000, "6 requests per minute"),
    FAIL_("create_429_low_credit.http429.json", 429, "12", CREATE, PROV_C_PROVIDER,
          PROV_K_RATE_LIMITED, "429", 12000, ""),
    FAIL_("create_429_low_credit.http429.json", 429, "2", CREATE, PROV_C_PROVIDER,
          PROV_K_RATE_LIMITED, "429", 5000, ""),
    FAIL_("create_429_fractional.http429.json", 429, "", CREATE, PROV_C_PROVIDER,
          PROV_K_RATE_LIMITED, "429", 1500, "throttled"),
    FAIL_("create_429_documented.http429.json", 429, "", CREATE, PROV_C_PROVIDER,
          PROV_K_RATE_LIMITED, "429", -1, "resets in ~30s"),
    FAIL_("create_429_documented.http429.json", 429, "30", CREATE, PROV_C_PROVIDER,
          PROV_K_RATE_LIMITED, "429", 30000, ""),
    FAIL_("create_500_html.http500.html", 500, "", CREATE, PROV_C_HTTP, PROV_K_UNAVAILABLE, "", -1,
          "HTTP 500"),
    FAIL_("create_503_text.http503.txt", 503, "4", CREATE, PROV_C_HTTP, PROV_K_UNAVAILABLE, "",
          4000, "HTTP 503"),
    BAD_("create_truncated.http201.json", 201, CREATE, "", "unparsable"),
    BAD_("create_empty.http201.json", 201, CREATE, "", ""),
    BAD_("create_no_id.http201.json", 201, CREATE, "", "not a prediction"),
    /* poll */
    { "poll_starting.http200.json", 200, "", POLL, PROV_PENDING, PROV_C_NONE, PROV_K_NONE, "", 0,
      PID, -1, "" },
    { "poll_processing.http200.json", 200, "", POLL, PROV_PENDING, PROV_C_NONE, PROV_K_NONE, "", 0,
      PID, -1, "" },
    { "poll_processing_with_output.http200.json", 200, "", POLL, PROV_PENDING, PROV_C_NONE,
      PROV_K_NONE, "", 0, PID, -1, "" },
    { "poll_succeeded_string.http200.json", 200, "", POLL, PROV_SUCCEEDED, PROV_C_NONE, PROV_K_NONE,
      "", 1, PID, -1, "" },
    { "poll_succeeded_array.http200.json", 200, "", POLL, PROV_SUCCEEDED, PROV_C_NONE, PROV_K_NONE,
      "", 4, PID, -1, "" },
    { "poll_succeeded_no_metrics.http200.json", 200, "", POLL, PROV_SUCCEEDED, PROV_C_NONE,
      PROV_K_NONE, "", 1, PID, -1, "" },
    { "poll_succeeded_mixed_array.http200.json", 200, "", POLL, PROV_SUCCEEDED, PROV_C_NONE,
      PROV_K_NONE, "", 1, PID, -1, "" },
    BAD_("poll_succeeded_null_output.http200.json", 200, POLL, PID, "without an output"),
    /* result URLs: plain http(s) with a host, no control characters or
     * whitespace, at most 16 (M-2); one bad URL makes the reply invalid */
    { "poll_succeeded_16_urls.http200.json", 200, "", POLL, PROV_SUCCEEDED, PROV_C_NONE,
      PROV_K_NONE, "", 16, PID, -1, "" },
    BAD_("poll_succeeded_17_urls.http200.json", 200, POLL, PID, "result URL #17 is one too many"),
    BAD_("poll_succeeded_url_javascript.http200.json", 200, POLL, PID,
         "result URL #2 is not an http:// or https:// URL"),
    BAD_("poll_succeeded_url_data.http200.json", 200, POLL, PID, "result URL #1 is not an http"),
    BAD_("poll_succeeded_url_tab.http200.json", 200, POLL, PID, "control character or whitespace"),
    BAD_("poll_succeeded_url_control.http200.json", 200, POLL, PID,
         "control character or whitespace"),
    BAD_("poll_data_removed.http200.json", 200, POLL, PID, "data_removed"),
    TASKF_("poll_failed_e1001.http200.json", POLL, "E1001",
           "E1001: Prediction failed due to out of memory"),
    TASKF_("poll_failed_plain.http200.json", POLL, "", "CUDA error"),
    TASKF_("poll_failed_null_error.http200.json", POLL, "", "prediction failed"),
    TASKF_("poll_canceled.http200.json", POLL, "", "canceled"),
    TASKF_("poll_aborted.http200.json", POLL, "", "aborted"),
    BAD_("poll_status_typo.http200.json", 200, POLL, PID, "successful"),
    BAD_("poll_wrong_types.http200.json", 200, POLL, "", ""),
    FAIL_("poll_404_not_found.http404.json", 404, "", POLL, PROV_C_PROVIDER, PROV_K_NOT_FOUND,
          "404", -1, "Not found"),
    FAIL_("poll_502_html.http502.html", 502, "", POLL, PROV_C_HTTP, PROV_K_UNAVAILABLE, "", -1,
          "HTTP 502"),
    BAD_("poll_truncated.http200.json", 200, POLL, "", "unparsable"),
    /* a prediction body under an HTTP error status is still an error */
    FAIL_("poll_succeeded_string.http200.json", 500, "", POLL, PROV_C_HTTP, PROV_K_UNAVAILABLE, "",
          -1, "HTTP 500"),
};

static void parse(enum provtest_parser w, const char *body, size_t len, long http, const char *ra,
                  struct prov_result *res)
{
    provtest_parse(&replicate_ops, w, body, len, http, ra, res);
}

ParameterizedTestParameters(replicate, fixtures)
{
    return cr_make_param_array(struct provtest_fx, rep_fixtures,
                               sizeof(rep_fixtures) / sizeof(rep_fixtures[0]));
}

ParameterizedTest(struct provtest_fx *t, replicate, fixtures)
{
    provtest_check_fixture(&replicate_ops, "replicate", t, "https://replicate.delivery/");
}

/* Every prefix and many one-byte mutations of every fixture through both parsers: no crash, no leak,
 * terminated strings, and no truncated reply mistaken for a result. */
ParameterizedTestParameters(replicate, prefixes)
{
    return cr_make_param_array(struct provtest_fx, rep_fixtures,
                               sizeof(rep_fixtures) / sizeof(rep_fixtures[0]));
}

ParameterizedTest(struct provtest_fx *t, replicate, prefixes)
{
    provtest_sweep(&replicate_ops, "replicate", t, 0);
}

/* The time a finished prediction reports from creation to completion, for
 * the poll planner: metrics.total_time, else completed_at - created_at;
 * -1 when unknown or not a generation (canceled). */
Test(replicate, reported_duration)
{
    static const struct {
        const char *file;
        int create;
        long ms;
    } rows[] = {
        { "poll_succeeded_array.http200.json", 0, 7720 },
        { "poll_failed_e1001.http200.json", 0, 7720 },
        { "poll_succeeded_no_metrics.http200.json", 0, 7722 }, /* 10:15:02.118 -> 10:15:09.840 */
        { "create_succeeded_sync.http201.json", 1, 7720 },
        { "poll_processing.http200.json", 0, -1 },
        { "poll_canceled.http200.json", 0, -1 },
        { "create_starting.http201.json", 1, -1 },
    };
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++)
        provtest_expect_duration(&replicate_ops, "replicate", rows[i].file, NULL,
                                 rows[i].create ? CREATE : POLL, rows[i].create ? 201 : 200,
                                 rows[i].ms);
    static const struct {
        const char *times;
        long ms;
    } odd[] = {
        { "\"metrics\":{\"total_time\":12}", 12000 },
        { "\"metrics\":{\"total_time\":-1},\"created_at\":\"2024-02-29T23:59:59Z\","
          "\"completed_at\":\"2024-03-01T00:00:01.5Z\"",
          2500 }, /* from a leap day */
        { "\"created_at\":\"2025-12-31T23:59:58.9+00:00\",\"completed_at\":\"2026-01-01T00:00:00.1Z\"",
          1200 },
        { "\"metrics\":{\"total_time\":\"7\"},\"created_at\":\"2025-10-21 10:15:02Z\","
          "\"completed_at\":\"2025-10-21T10:15:09Z\"",
          -1 },
        { "\"created_at\":\"2025-10-21T10:15:09Z\",\"completed_at\":\"2025-10-21T10:15:02Z\"", -1 },
        { "\"created_at\":\"2025-10-21T10:15:02+02:00\",\"completed_at\":\"2025-10-21T10:15:09Z\"",
          -1 },
    };
    for (size_t i = 0; i < sizeof odd / sizeof odd[0]; i++) {
        char body[512];
        int n = snprintf(
                body, sizeof body,
                "{\"id\":\"p\",\"status\":\"succeeded\",\"output\":\"https://x/y.png\",%s}",
                odd[i].times);
        cr_assert_lt(n, (int)sizeof body);
        provtest_expect_duration(&replicate_ops, "replicate", NULL, body, POLL, 200, odd[i].ms);
    }
}

/* M-2: output URLs at their limits: 2048 bytes pass and 2049 do not;
 * http:// (fakeprov's) passes. */
Test(replicate, result_url_limits)
{
    static char url[PROV_MAX_URL_BYTES + 2], body[4096];
    struct prov_result res;

    memset(url, 'a', sizeof url);
    memcpy(url, "https://replicate.delivery/", 27);
    for (int extra = 0; extra <= 1; extra++) {
        url[PROV_MAX_URL_BYTES + extra] = '\0';
        int n = snprintf(body, sizeof body,
                         "{\"id\":\"p\",\"status\":\"succeeded\",\"output\":[\"%s\"]}", url);
        parse(POLL, body, (size_t)n, 200, NULL, &res);
        if (extra == 0) {
            cr_expect_eq(res.outcome, PROV_SUCCEEDED, "%s", res.message);
            cr_expect_eq(res.n_urls, 1);
        } else {
            cr_expect_eq(res.outcome, PROV_FAILED);
            cr_expect_eq(res.cls, PROV_C_INVALID_REPLY);
            cr_expect(strstr(res.message, "is longer than 2048 bytes") != NULL, "%s", res.message);
        }
        prov_result_cleanup(&res);
        url[PROV_MAX_URL_BYTES + extra] = 'a';
    }
    const char *fp =
            "{\"id\":\"p\",\"status\":\"succeeded\",\"output\":\"http://127.0.0.1:8081/files/p.png\"}";
    parse(POLL, fp, strlen(fp), 200, NULL, &res);
    cr_expect_eq(res.outcome, PROV_SUCCEEDED, "%s", res.message);
    prov_result_cleanup(&res);
}

Test(replicate, null_body_and_wrong_shapes)
{
    static const char *bodies[] = {
        "[]",
        "\"x\"",
        "null",
        "{\"status\":\"succeeded\",\"id\":7}",
        "{\"id\":\"p\",\"status\":\"succeeded\",\"output\":[[]]}",
        "{\"title\":5,\"detail\":[],\"status\":\"429\",\"retry_after\":\"9\"}",
        "{\"retry_after\":-4,\"status\":429}",
        "{\"retry_after\":1e300,\"status\":429}",
        "{\"invalid_fields\":[1,{\"field\":2}],\"status\":422}",
    };
    for (size_t i = 0; i < sizeof(bodies) / sizeof(bodies[0]); i++) {
        for (long http = 200; http <= 500; http += 229) {
            struct prov_result res;
            parse(i % 2 ? CREATE : POLL, bodies[i], strlen(bodies[i]), http, NULL, &res);
            cr_expect_eq(res.outcome, PROV_FAILED, "body %zu http %ld", i, http);
            cr_expect(res.retry_after_ms == -1 || res.retry_after_ms <= 86400000L);
            prov_result_cleanup(&res);
        }
    }
    struct prov_result res;
    parse(CREATE, NULL, 0, 201, NULL, &res);
    cr_expect_eq(res.cls, PROV_C_INVALID_REPLY);
    prov_result_cleanup(&res);
}

Test(replicate, problem_status_under_2xx)
{
    const char body[] = "{\"title\":\"Insufficient credit\",\"detail\":\"top up\",\"status\":402}";
    struct prov_result res;
    parse(CREATE, body, sizeof(body) - 1, 200, NULL, &res);
    cr_expect_eq(res.cls, PROV_C_PROVIDER);
    cr_expect_eq(res.kind, PROV_K_NO_CREDIT);
    cr_expect_str_eq(res.code, "402");
    prov_result_cleanup(&res);
}

/* ---- request builders ---- */

#define HEX64 "f0a9d34b3a3c0b0f8b5e5a1f2c3d4e5f60718293a4b5c6d7e8f90a1b2c3d4e5f"

static struct conf_model rep_models[] = {
    { .name = "nano-banana",
      .generate = "google/nano-banana",
      .edit = "google/nano-banana",
      .image_field = "image_input",
      .jpeg_name = "jpg" },
    { .name = "pinned",
      .generate = "google/nano-banana:" HEX64,
      .edit = "google/nano-banana:" HEX64,
      .image_field = "image_input",
      .jpeg_name = "jpg" },
    { .name = "bare",
      .generate = HEX64,
      .edit = NULL,
      .image_field = "image_input",
      .jpeg_name = "jpg" },
    { .name = "flux",
      .generate = "black-forest-labs/flux-schnell",
      .edit = NULL,
      .image_field = "image_input",
      .jpeg_name = "jpg" },
    { .name = "broken",
      .generate = "google/nano banana",
      .edit = "google/x:123",
      .image_field = "image_input",
      .jpeg_name = "jpg" },
};

static struct conf_provider rep_prov = {
    .name = "replicate-main",
    .type = CONF_PROV_REPLICATE,
    .base_url = "https://api.replicate.com",
    .models = rep_models,
    .n_models = 5,
};

static struct json_object *build_ok(const struct conf_provider *p,
                                    const struct prov_task_spec *spec, struct prov_request *req,
                                    const char *url)
{
    char err[256] = "";
    int rc = replicate_ops.build_create(p, spec, req, err, sizeof(err));
    cr_assert_eq(rc, SY_OK, "build_create: %d %s", rc, err);
    cr_assert_eq(req->method, PROV_POST);
    cr_assert_str_eq(req->url, url);
    cr_assert_geq(req->n_headers, 1);
    cr_assert_str_eq(req->headers[0], "Content-Type: application/json");
    struct json_object *o = json_tokener_parse(req->body);
    cr_assert_not_null(o, "body is not JSON: %s", req->body);
    return o;
}

Test(replicate_build, official_model_minimal)
{
    struct prov_task_spec spec = { .prompt = "a red fox", .model = "nano-banana" };
    struct prov_request req;
    struct json_object *o =
            build_ok(&rep_prov, &spec, &req,
                     "https://api.replicate.com/v1/models/google/nano-banana/predictions");
    cr_expect_eq(req.n_headers, 1);
    cr_expect_eq(req.hold_s, 0);
    cr_expect_not(provtest_has(o, "version", NULL));
    cr_expect_not(provtest_has(o, "webhook", NULL));
    cr_expect_str_eq(req.body, "{\"input\":{\"prompt\":\"a red fox\",\"output_format\":\"png\"}}");
    json_object_put(o);
    prov_request_cleanup(&req);
}

Test(replicate_build, edit_full_with_wait_and_webhook)
{
    const char *imgs[] = { "https://example.com/a.png", "data:image/png;base64,iVBORw0KGgo=" };
    struct prov_task_spec spec = { .op = CONF_OP_EDIT,
                                   .prompt = "blue",
                                   .image_urls = imgs,
                                   .n_image_urls = 2,
                                   .output_format = "jpeg",
                                   .aspect_ratio = "auto",
                                   .model = "nano-banana",
                                   .callback_url = "https://hooks.example.com/r/1" };
    struct conf_provider p = rep_prov;
    p.wait_s = 30;
    struct prov_request req;
    struct json_object *o = build_ok(
            &p, &spec, &req, "https://api.replicate.com/v1/models/google/nano-banana/predictions");
    cr_expect_eq(req.n_headers, 2);
    cr_expect_str_eq(req.headers[1], "Prefer: wait=30");
    cr_expect_eq(req.hold_s, 30);
    cr_expect_str_eq(provtest_jstr(o, "input", "prompt"), "blue");
    cr_expect_str_eq(provtest_jstr(o, "input", "output_format"), "jpg");
    cr_expect_str_eq(provtest_jstr(o, "input", "aspect_ratio"), "match_input_image");
    cr_expect_str_eq(provtest_jstr(o, "webhook", NULL), "https://hooks.example.com/r/1");
    struct json_object *ev, *input, *arr;
    cr_assert(json_object_object_get_ex(o, "webhook_events_filter", &ev));
    cr_assert_eq(json_object_array_length(ev), 1);
    cr_expect_str_eq(json_object_get_string(json_object_array_get_idx(ev, 0)), "completed");
    json_object_object_get_ex(o, "input", &input);
    cr_assert(json_object_object_get_ex(input, "image_input", &arr));
    cr_assert_eq(json_object_array_length(arr), 2);
    cr_expect_str_eq(json_object_get_string(json_object_array_get_idx(arr, 1)),
                     "data:image/png;base64,iVBORw0KGgo=");
    cr_expect(strstr(req.body, "https://example.com/a.png") != NULL, "slashes must not be escaped");
    json_object_put(o);
    prov_request_cleanup(&req);
}

Test(replicate_build, aspect_ratio_and_formats)
{
    const char *fmts[][2] = {
        { "png", "png" }, { "jpg", "jpg" }, { "jpeg", "jpg" }, { "JPEG", "jpg" }
    };
    for (int i = 0; i < 4; i++) {
        struct prov_task_spec spec = { .prompt = "x",
                                       .model = "nano-banana",
                                       .output_format = fmts[i][0],
                                       .aspect_ratio = "16:9" };
        struct prov_request req;
        struct json_object *o =
                build_ok(&rep_prov, &spec, &req,
                         "https://api.replicate.com/v1/models/google/nano-banana/predictions");
        cr_expect_str_eq(provtest_jstr(o, "input", "output_format"), fmts[i][1]);
        cr_expect_str_eq(provtest_jstr(o, "input", "aspect_ratio"), "16:9");
        json_object_put(o);
        prov_request_cleanup(&req);
    }
}

Test(replicate_build, versions_use_predictions_endpoint)
{
    struct prov_task_spec spec = { .prompt = "x", .model = "pinned" };
    struct prov_request req;
    struct json_object *o =
            build_ok(&rep_prov, &spec, &req, "https://api.replicate.com/v1/predictions");
    cr_expect_str_eq(provtest_jstr(o, "version", NULL), "google/nano-banana:" HEX64);
    json_object_put(o);
    prov_request_cleanup(&req);
    spec.model = "bare";
    o = build_ok(&rep_prov, &spec, &req, "https://api.replicate.com/v1/predictions");
    cr_expect_str_eq(provtest_jstr(o, "version", NULL), HEX64);
    cr_expect(provtest_has(o, "input", "prompt"));
    json_object_put(o);
    prov_request_cleanup(&req);
}

Test(replicate_build, wait_clamped_to_60)
{
    struct conf_provider p = rep_prov;
    p.wait_s = 300;
    struct prov_task_spec spec = { .prompt = "x", .model = "flux" };
    struct prov_request req;
    json_object_put(build_ok(
            &p, &spec, &req,
            "https://api.replicate.com/v1/models/black-forest-labs/flux-schnell/predictions"));
    cr_expect_str_eq(req.headers[1], "Prefer: wait=60");
    cr_expect_eq(req.hold_s, 60);
    prov_request_cleanup(&req);
}

static void expect_declined(const struct prov_task_spec *spec, const char *why)
{
    char err[256] = "";
    struct prov_request req;
    int rc = replicate_ops.build_create(&rep_prov, spec, &req, err, sizeof(err));
    cr_expect_eq(rc, SY_DECLINED, "want DECLINED for %s, got %d", why, rc);
    cr_expect(err[0] != '\0', "no reason for %s", why);
    cr_expect_null(req.url);
    cr_expect_null(req.body);
    prov_request_cleanup(&req);
}

Test(replicate_build, declines)
{
    const char *imgs[15];
    for (int i = 0; i < 15; i++)
        imgs[i] = "https://example.com/i.png";
    struct prov_task_spec s = { .prompt = "x", .model = "nope" };
    expect_declined(&s, "unmapped");
    s = (struct prov_task_spec){ .op = CONF_OP_EDIT, .prompt = "x", .model = "flux" };
    expect_declined(&s, "edit unsupported");
    s = (struct prov_task_spec){ .op = CONF_OP_EDIT,
                                 .prompt = "x",
                                 .model = "nano-banana",
                                 .image_urls = imgs,
                                 .n_image_urls = 15 };
    expect_declined(&s, "15 images");
    s = (struct prov_task_spec){ .prompt = "x", .model = "broken" };
    expect_declined(&s, "space in model name");
    s = (struct prov_task_spec){ .op = CONF_OP_EDIT, .prompt = "x", .model = "broken" };
    expect_declined(&s, "short version");
    s = (struct prov_task_spec){ .prompt = "x", .model = "nano-banana", .output_format = "webp" };
    expect_declined(&s, "webp");
    s.n_image_urls = 14;
    s.image_urls = imgs;
    s.output_format = NULL;
    struct prov_request req;
    json_object_put(build_ok(&rep_prov, &s, &req,
                             "https://api.replicate.com/v1/models/google/nano-banana/predictions"));
    prov_request_cleanup(&req);
}

Test(replicate_build, poll_and_cancel)
{
    struct prov_request req;
    cr_assert_eq(replicate_ops.build_poll(&rep_prov, PID, &req), SY_OK);
    cr_expect_eq(req.method, PROV_GET);
    cr_expect_null(req.body);
    cr_expect_eq(req.n_headers, 0);
    cr_expect_str_eq(req.url, "https://api.replicate.com/v1/predictions/" PID);
    prov_request_cleanup(&req);
    cr_assert_not_null(replicate_ops.build_cancel);
    cr_assert_eq(replicate_ops.build_cancel(&rep_prov, PID, &req), SY_OK);
    cr_expect_eq(req.method, PROV_POST);
    cr_expect_str_eq(req.body, "");
    cr_expect_str_eq(req.url, "https://api.replicate.com/v1/predictions/" PID "/cancel");
    prov_request_cleanup(&req);
    cr_assert_eq(replicate_ops.build_poll(&rep_prov, "../x y", &req), SY_OK);
    cr_expect_str_eq(req.url, "https://api.replicate.com/v1/predictions/..%2Fx%20y");
    prov_request_cleanup(&req);
    cr_expect_eq(replicate_ops.build_poll(&rep_prov, NULL, &req), SY_ERR);
    cr_expect_eq(replicate_ops.build_cancel(&rep_prov, "", &req), SY_ERR);
    cr_expect_str_eq(replicate_ops.type, "replicate");
}
