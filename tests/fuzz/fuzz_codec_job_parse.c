/* fuzz_codec_job_parse.c — codec_job_parse() on arbitrary bytes, then the
 * result a worker would publish for it through codec_result_json(): success
 * or failure, the line must parse as strict JSON, be valid UTF-8 and stay
 * within a bound proportional to the input. */
#include <json-c/json.h>

#include "queue/codec.h"
#include "tests/fuzz/fuzz.h"

/* Every byte can become at most a 6-byte \u00XX escape; plus fixed fields,
 * the error sentence and the attempt. */
#define RESULT_BOUND(len) (6 * (len) + 8192)

/* 1 when s[0..n) is exactly one strict JSON object with valid UTF-8. */
static int strict_object(const char *s, size_t n)
{
    json_tokener *tok = json_tokener_new_ex(JSON_TOKENER_DEFAULT_DEPTH);
    FUZZ_CHECK(tok != NULL);
    json_tokener_set_flags(tok, JSON_TOKENER_STRICT | JSON_TOKENER_VALIDATE_UTF8);
    json_object *o = n <= INT32_MAX ? json_tokener_parse_ex(tok, s, (int)n) : NULL;
    int ok = o != NULL && json_tokener_get_parse_end(tok) == n &&
             json_object_is_type(o, json_type_object);
    json_object_put(o);
    json_tokener_free(tok);
    return ok;
}

/* The result round trip: what the worker publishes for this input. The id
 * and metadata come from the parse; the job's strings stand in for provider
 * output so they cross the encoder too. */
static void check_result(const char *id, const struct codec_job *job, const char *err,
                         size_t in_len)
{
    struct codec_attempt at = {
        .provider = "kie", .outcome = "succeeded", .phase = "poll", .http_status = 200
    };
    if (job && job->model)
        snprintf(at.message, sizeof at.message, "%s",
                 job->model); /* may cut mid-character: must be repaired */
    struct codec_result r = {
        .id = id,
        .succeeded = job != NULL,
        .result_urls = job ? (const char *const *)job->image_urls : NULL,
        .n_result_urls = job ? job->n_image_urls : 0,
        .provider = job ? "kie" : NULL,
        .provider_task_id = job ? job->prompt : NULL,
        .attempts = &at,
        .n_attempts = 1,
        .error_class = job ? NULL : "invalid_input",
        .error_message = job ? NULL : err,
        .line = -1,
        .worker = "fuzz:1",
        .metadata = job ? job->metadata : NULL,
        .metadata_len = job ? job->metadata_len : 0,
    };
    char *out = codec_result_json(&r);
    FUZZ_CHECK(out != NULL);
    size_t n = strlen(out);
    FUZZ_CHECK(n <= RESULT_BOUND(in_len));
    FUZZ_CHECK(fuzz_utf8_valid(out, n));
    FUZZ_CHECK(strict_object(out, n));
    free(out);
    /* the byte-bounded form the Kafka worker publishes (kafka.max_result_bytes) */
    out = codec_result_json_max(&r, CODEC_MIN_RESULT_BYTES);
    FUZZ_CHECK(out != NULL);
    n = strlen(out);
    FUZZ_CHECK(n <= CODEC_MIN_RESULT_BYTES);
    FUZZ_CHECK(fuzz_utf8_valid(out, n));
    FUZZ_CHECK(strict_object(out, n));
    free(out);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *buf = fuzz_dup(data, size);
    char *id = NULL, err[256] = "";
    struct codec_job *job = codec_job_parse(buf, size, &id, err, sizeof err);
    if (job) {
        FUZZ_CHECK(id != NULL && job->id != NULL && strcmp(id, job->id) == 0);
        FUZZ_CHECK(strlen(job->id) <= CODEC_MAX_ID);
        FUZZ_CHECK(job->prompt != NULL || job->template_name != NULL);
        FUZZ_CHECK(job->n_image_urls <= CODEC_MAX_IMAGES);
        FUZZ_CHECK(job->n_providers <= CODEC_MAX_PROVIDERS);
        FUZZ_CHECK(job->vars == NULL || job->template_name != NULL);
    } else {
        FUZZ_CHECK(err[0] != '\0');
    }
    check_result(id, job, err, size);
    codec_job_free(job);
    free(id);
    free(buf);
    return 0;
}
