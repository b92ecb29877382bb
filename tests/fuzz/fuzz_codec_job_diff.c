/* fuzz_codec_job_diff.c — differential: codec_job_parse() (fields read with
 * providers/jread) against codec_job_ref_parse(), the tree-based reader it
 * replaced (tests/fuzz/codec_job_ref.c). For any input both must agree on
 * accept/reject, the error sentence (it goes into dead-letter records), the
 * id handed out, and every field of the job: strings byte for byte, vars as
 * json-c writes them, metadata's text.
 * One known json-c 0.16 bug is tolerated (as in fuzz_jread_diff.c): it
 * decodes a surrogate pair whose high half has (hi & 0xFC3E) == 0xD836 as
 * U+FFFD, jread per RFC 8259; the two readers then differ in bytes (and so
 * maybe in length limits), and such an input is not compared. */
#include <json-c/json.h>
#include <stdlib.h>
#include <string.h>

#include "queue/codec.h"
#include "tests/fuzz/codec_job_ref.h"
#include "tests/fuzz/fuzz.h"

static void same_str(const char *a, const char *b)
{
    FUZZ_CHECK((a == NULL) == (b == NULL));
    FUZZ_CHECK(!a || strcmp(a, b) == 0);
}

static void same_strv(char *const *a, size_t na, char *const *b, size_t nb)
{
    FUZZ_CHECK(na == nb);
    for (size_t i = 0; i < na; i++)
        same_str(a[i], b[i]);
}

static void same_job(const struct codec_job *a, const struct codec_job *b)
{
    same_str(a->id, b->id);
    FUZZ_CHECK(a->op == b->op && a->op_set == b->op_set);
    same_str(a->prompt, b->prompt);
    same_strv(a->image_urls, a->n_image_urls, b->image_urls, b->n_image_urls);
    same_str(a->output_format, b->output_format);
    same_str(a->aspect_ratio, b->aspect_ratio);
    same_str(a->model, b->model);
    same_strv(a->providers, a->n_providers, b->providers, b->n_providers);
    FUZZ_CHECK(a->deadline_s == b->deadline_s);
    same_str(a->template_name, b->template_name);
    FUZZ_CHECK((a->vars == NULL) == (b->vars == NULL));
    if (a->vars) {
        int f = JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE;
        char *va = strdup(json_object_to_json_string_ext(a->vars, f));
        FUZZ_CHECK(va != NULL);
        same_str(va, json_object_to_json_string_ext(b->vars, f));
        free(va);
    }
    FUZZ_CHECK(a->metadata_len == b->metadata_len);
    same_str(a->metadata, b->metadata);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (fuzz_jsonc_surrogate_bug(data, size))
        return 0;
    char *buf = fuzz_dup(data, size);
    char *id = NULL, *ref_id = NULL, err[256] = "", ref_err[256] = "";
    struct codec_job *job = codec_job_parse(buf, size, &id, err, sizeof err);
    struct codec_job *ref = codec_job_ref_parse(buf, size, &ref_id, ref_err, sizeof ref_err);

    FUZZ_CHECK((job == NULL) == (ref == NULL));
    FUZZ_CHECK(strcmp(err, ref_err) == 0);
    same_str(id, ref_id);
    if (job)
        same_job(job, ref);
    codec_job_free(job);
    codec_job_free(ref);
    free(id);
    free(ref_id);
    free(buf);
    return 0;
}
