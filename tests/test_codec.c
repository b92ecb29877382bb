/* test_codec.c — job decoding/validation (queue/codec_job.c, jsonstrict.c);
 * the result line is test_codec_result.c's. Pure: no sockets, no sleeping.
 * Tables carry their strings inline (fixed arrays) so Criterion can hand them
 * to each test process by value. */
#include <criterion/criterion.h>
#include <criterion/parameterized.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "queue/codec.h"

/* ---- helpers ------------------------------------------------------------ */

struct sbuf {
    char *p;
    size_t n, cap;
};

static void sb_put(struct sbuf *b, const char *s, size_t n)
{
    if (b->n + n + 1 > b->cap) {
        b->cap = (b->n + n + 1) * 2;
        b->p = realloc(b->p, b->cap);
        cr_assert_not_null(b->p);
    }
    memcpy(b->p + b->n, s, n);
    b->n += n;
    b->p[b->n] = '\0';
}

static void sb_str(struct sbuf *b, const char *s)
{
    sb_put(b, s, strlen(s));
}

static void sb_rep(struct sbuf *b, const char *s, size_t times)
{
    for (size_t i = 0; i < times; i++)
        sb_str(b, s);
}

/* ---- invalid inputs ----------------------------------------------------- */

enum gen {
    GEN_NONE,
    GEN_DEEP,
    GEN_LONG_PROMPT,
    GEN_MANY_IMAGES,
    GEN_LONG_ID,
    GEN_MANY_PROVIDERS,
    GEN_BIG_METADATA,
    GEN_METADATA_VALUES,
    GEN_MANY_VARS,
    GEN_LONG_VAR,
    GEN_LONG_VAR_KEY,
};

struct bad {
    char name[40];
    char buf[256];
    size_t len; /* 0 = strlen(buf) */
    enum gen gen;
    char want[80]; /* substring of err */
};

#define RAW(s) .buf = s, .len = sizeof(s) - 1

ParameterizedTestParameters(codec, invalid)
{
    static struct bad cases[] = {
        { "not json", "this is not json", 0, GEN_NONE, "invalid JSON" },
        { "truncated", "{\"id\":\"a\",\"prompt\":\"p\"", 0, GEN_NONE,
          "invalid JSON: unexpected end of data at offset 22" },
        { "empty", RAW(""), GEN_NONE, "empty input" },
        { "whitespace only", " \n\t ", 0, GEN_NONE, "empty input" },
        { "array", "[{\"id\":\"a\",\"prompt\":\"p\"}]", 0, GEN_NONE, "must be a JSON object" },
        { "bare string", "\"job\"", 0, GEN_NONE, "must be a JSON object" },
        { "bare number", "42", 0, GEN_NONE, "must be a JSON object" },
        { "missing id", "{\"prompt\":\"p\"}", 0, GEN_NONE, "id: missing" },
        { "id not string", "{\"id\":42,\"prompt\":\"p\"}", 0, GEN_NONE, "id: must be a string" },
        { "id null", "{\"id\":null,\"prompt\":\"p\"}", 0, GEN_NONE, "id: must be a string" },
        { "id empty", "{\"id\":\"\",\"prompt\":\"p\"}", 0, GEN_NONE, "id: must not be empty" },
        { "id control char", "{\"id\":\"a\\nb\",\"prompt\":\"p\"}", 0, GEN_NONE,
          "id: contains a control character" },
        { "id too long", "", 0, GEN_LONG_ID, "id: longer than 256" },
        { "missing prompt", "{\"id\":\"a\"}", 0, GEN_NONE, "prompt: missing" },
        { "prompt not string", "{\"id\":\"a\",\"prompt\":[\"p\"]}", 0, GEN_NONE,
          "prompt: must be a string" },
        { "empty prompt", "{\"id\":\"a\",\"prompt\":\"\"}", 0, GEN_NONE,
          "prompt: must not be empty" },
        { "whitespace prompt", "{\"id\":\"a\",\"prompt\":\" \\t\\n \"}", 0, GEN_NONE,
          "prompt: must not be empty" },
        { "prompt too long", "", 0, GEN_LONG_PROMPT, "prompt: longer than 20000" },
        { "unknown operation", "{\"id\":\"a\",\"operation\":\"upscale\",\"prompt\":\"p\"}", 0,
          GEN_NONE, "operation: unknown value \"upscale\"" },
        { "operation not string", "{\"id\":\"a\",\"operation\":1,\"prompt\":\"p\"}", 0, GEN_NONE,
          "operation: must be a string" },
        { "edit without images", "{\"id\":\"a\",\"operation\":\"edit\",\"prompt\":\"p\"}", 0,
          GEN_NONE, "image_urls: required for operation edit" },
        { "edit with empty images",
          "{\"id\":\"a\",\"operation\":\"edit\",\"prompt\":\"p\",\"image_urls\":[]}", 0, GEN_NONE,
          "image_urls: required for operation edit" },
        { "image_urls not array",
          "{\"id\":\"a\",\"prompt\":\"p\",\"image_urls\":\"https://x.io/a.jpg\"}", 0, GEN_NONE,
          "image_urls: must be an array" },
        { "image url not string",
          "{\"id\":\"a\",\"prompt\":\"p\",\"image_urls\":[\"https://x.io/a.jpg\",7]}", 0, GEN_NONE,
          "image_urls[1]: must be a string" },
        { "bad url scheme", "{\"id\":\"a\",\"prompt\":\"p\",\"image_urls\":[\"ftp://x.io/a.jpg\"]}",
          0, GEN_NONE, "image_urls[0]: must start with" },
        { "scheme only", "{\"id\":\"a\",\"prompt\":\"p\",\"image_urls\":[\"https://\"]}", 0,
          GEN_NONE, "image_urls[0]: must start with" },
        { "url with space",
          "{\"id\":\"a\",\"prompt\":\"p\",\"image_urls\":[\"https://x.io/a b.jpg\"]}", 0, GEN_NONE,
          "image_urls[0]: contains whitespace" },
        { "too many images", "", 0, GEN_MANY_IMAGES, "image_urls: more than 16" },
        { "bad output_format", "{\"id\":\"a\",\"prompt\":\"p\",\"output_format\":\"webp\"}", 0,
          GEN_NONE, "output_format: unknown value \"webp\"" },
        { "output_format not string", "{\"id\":\"a\",\"prompt\":\"p\",\"output_format\":true}", 0,
          GEN_NONE, "output_format: must be a string" },
        { "bad aspect_ratio", "{\"id\":\"a\",\"prompt\":\"p\",\"aspect_ratio\":\"7:3\"}", 0,
          GEN_NONE, "aspect_ratio: unknown value \"7:3\"" },
        { "model empty", "{\"id\":\"a\",\"prompt\":\"p\",\"model\":\"\"}", 0, GEN_NONE,
          "model: must not be empty" },
        { "providers not array", "{\"id\":\"a\",\"prompt\":\"p\",\"providers\":\"kie\"}", 0,
          GEN_NONE, "providers: must be an array" },
        { "providers empty", "{\"id\":\"a\",\"prompt\":\"p\",\"providers\":[]}", 0, GEN_NONE,
          "providers: must list 1 to 16" },
        { "too many providers", "", 0, GEN_MANY_PROVIDERS, "providers: must list 1 to 16" },
        { "provider empty string", "{\"id\":\"a\",\"prompt\":\"p\",\"providers\":[\"kie\",\"\"]}",
          0, GEN_NONE, "providers[1]: must not be empty" },
        { "duplicate provider",
          "{\"id\":\"a\",\"prompt\":\"p\",\"providers\":[\"kie\",\"replicate\",\"kie\"]}", 0,
          GEN_NONE, "providers: duplicate \"kie\"" },
        { "deadline 0", "{\"id\":\"a\",\"prompt\":\"p\",\"deadline_s\":0}", 0, GEN_NONE,
          "deadline_s: must be between 1 and 86400" },
        { "deadline too big", "{\"id\":\"a\",\"prompt\":\"p\",\"deadline_s\":86401}", 0, GEN_NONE,
          "deadline_s: must be between" },
        { "deadline huge", "{\"id\":\"a\",\"prompt\":\"p\",\"deadline_s\":99999999999999999999999}",
          0, GEN_NONE, "deadline_s: must be between" },
        { "deadline string", "{\"id\":\"a\",\"prompt\":\"p\",\"deadline_s\":\"600\"}", 0, GEN_NONE,
          "deadline_s: must be an integer" },
        { "deadline float", "{\"id\":\"a\",\"prompt\":\"p\",\"deadline_s\":1.5}", 0, GEN_NONE,
          "deadline_s: must be an integer" },
        { "unknown key", "{\"id\":\"a\",\"prompt\":\"p\",\"callback\":\"x\"}", 0, GEN_NONE,
          "unknown key \"callback\"" },
        { "deep nesting", "", 0, GEN_DEEP, "nested deeper than 32" },
        { "invalid UTF-8 byte", "{\"id\":\"a\",\"prompt\":\"caf\xff\"}", 0, GEN_NONE,
          "invalid UTF-8 at offset 23" },
        { "overlong UTF-8", "{\"id\":\"a\",\"prompt\":\"\xc0\xaf\"}", 0, GEN_NONE,
          "invalid UTF-8" },
        { "UTF-8 surrogate", "{\"id\":\"a\",\"prompt\":\"\xed\xa0\x80\"}", 0, GEN_NONE,
          "invalid UTF-8" },
        { "truncated UTF-8", "{\"id\":\"a\",\"prompt\":\"\xe6\x97\"}", 0, GEN_NONE,
          "invalid UTF-8" },
        { "trailing garbage", "{\"id\":\"a\",\"prompt\":\"p\"} x", 0, GEN_NONE, "trailing data" },
        { "two objects", "{\"id\":\"a\",\"prompt\":\"p\"}{}", 0, GEN_NONE, "trailing data" },
        { "raw NUL in string", RAW("{\"id\":\"a\",\"prompt\":\"x\0y\"}"), GEN_NONE,
          "NUL byte at offset 21" },
        { "escaped NUL in string", "{\"id\":\"a\",\"prompt\":\"x\\u0000y\"}", 0, GEN_NONE,
          "NUL (\\u0000)" },
        { "escaped NUL in key", "{\"id\":\"a\",\"prompt\":\"p\",\"meta\\u0000data\":1}", 0,
          GEN_NONE, "NUL" },
        { "raw tab in string", "{\"id\":\"a\",\"prompt\":\"x\ty\"}", 0, GEN_NONE,
          "control character in string" },
        { "single quotes", "{'id':'a','prompt':'p'}", 0, GEN_NONE, "single quote" },
        { "comment", "{\"id\":\"a\",/* c */\"prompt\":\"p\"}", 0, GEN_NONE, "comment" },
        { "NaN in metadata", "{\"id\":\"a\",\"prompt\":\"p\",\"metadata\":{\"x\":NaN}}", 0,
          GEN_NONE, "metadata: numbers must be finite" },
        { "vars not object", "{\"id\":\"a\",\"template\":\"interior\",\"vars\":[\"bedroom\"]}", 0,
          GEN_NONE, "vars: must be an object" },
        { "vars value object",
          "{\"id\":\"a\",\"template\":\"interior\",\"vars\":{\"room\":{\"x\":1}}}", 0, GEN_NONE,
          "vars.room: must be a string or a number" },
        { "vars without template", "{\"id\":\"a\",\"prompt\":\"p\",\"vars\":{\"room\":\"x\"}}", 0,
          GEN_NONE, "vars: only allowed together with template" },
        { "template not string", "{\"id\":\"a\",\"template\":5}", 0, GEN_NONE,
          "template: must be a string" },
        { "template with prompt", "{\"id\":\"a\",\"template\":\"interior\",\"prompt\":\"extra\"}",
          0, GEN_NONE, "prompt: not allowed together with template" },
        { "metadata not object", "{\"id\":\"a\",\"prompt\":\"p\",\"metadata\":[1,2]}", 0, GEN_NONE,
          "metadata: must be an object" },
        { "metadata over 16 KiB", "", 0, GEN_BIG_METADATA,
          "metadata: 16385 bytes serialized, over the 16384-byte" },
        { "metadata too many values", "", 0, GEN_METADATA_VALUES,
          "metadata: more than 1024 JSON values" },
        { "vars too many keys", "", 0, GEN_MANY_VARS, "vars: more than 64 keys" },
        { "vars value too long", "", 0, GEN_LONG_VAR, "vars.room: longer than 1024 bytes" },
        { "vars key too long", "", 0, GEN_LONG_VAR_KEY, "longer than 128 bytes" },
    };
    return cr_make_param_array(struct bad, cases, sizeof cases / sizeof cases[0]);
}

static char *gen_input(const struct bad *c, size_t *len)
{
    struct sbuf b = { 0 };

    switch (c->gen) {
    case GEN_NONE:
        sb_put(&b, c->buf, c->len != 0 ? c->len : strlen(c->buf));
        break;
    case GEN_DEEP:
        sb_str(&b, "{\"id\":\"deep\",\"prompt\":\"p\",\"metadata\":");
        sb_rep(&b, "[", 10000);
        sb_rep(&b, "]", 10000);
        sb_str(&b, "}");
        break;
    case GEN_LONG_PROMPT:
        sb_str(&b, "{\"id\":\"long\",\"prompt\":\"");
        sb_rep(&b, "a", CODEC_MAX_PROMPT + 1);
        sb_str(&b, "\"}");
        break;
    case GEN_MANY_IMAGES:
        sb_str(&b, "{\"id\":\"imgs\",\"prompt\":\"p\",\"image_urls\":[");
        for (int i = 0; i <= CODEC_MAX_IMAGES; i++)
            sb_str(&b, i == 0 ? "\"https://example.com/a.jpg\"" : ",\"https://example.com/a.jpg\"");
        sb_str(&b, "]}");
        break;
    case GEN_LONG_ID:
        sb_str(&b, "{\"prompt\":\"p\",\"id\":\"");
        sb_rep(&b, "i", CODEC_MAX_ID + 1);
        sb_str(&b, "\"}");
        break;
    case GEN_MANY_PROVIDERS:
        sb_str(&b, "{\"id\":\"provs\",\"prompt\":\"p\",\"providers\":[\"p0\"");
        for (int i = 1; i <= CODEC_MAX_PROVIDERS; i++) {
            char name[16];
            snprintf(name, sizeof name, ",\"p%d\"", i);
            sb_str(&b, name);
        }
        sb_str(&b, "]}");
        break;
    case GEN_BIG_METADATA: /* {"s":"xxx…"} serializes to 16385 bytes */
        sb_str(&b, "{\"id\":\"big\",\"prompt\":\"p\",\"metadata\":{\"s\":\"");
        sb_rep(&b, "x", CODEC_MAX_METADATA + 1 - 8);
        sb_str(&b, "\"}}");
        break;
    case GEN_METADATA_VALUES: /* object + array + 1023 numbers = 1025 values */
        sb_str(&b, "{\"id\":\"nodes\",\"prompt\":\"p\",\"metadata\":{\"a\":[0");
        sb_rep(&b, ",0", CODEC_MAX_METADATA_NODES - 3 + 1);
        sb_str(&b, "]}}");
        break;
    case GEN_MANY_VARS:
        sb_str(&b, "{\"id\":\"vars\",\"template\":\"t\",\"vars\":{\"v0\":0");
        for (int i = 1; i <= CODEC_MAX_VARS; i++) {
            char kv[24];
            snprintf(kv, sizeof kv, ",\"v%d\":%d", i, i);
            sb_str(&b, kv);
        }
        sb_str(&b, "}}");
        break;
    case GEN_LONG_VAR:
        sb_str(&b, "{\"id\":\"var\",\"template\":\"t\",\"vars\":{\"room\":\"");
        sb_rep(&b, "r", CODEC_MAX_VAR_VALUE + 1);
        sb_str(&b, "\"}}");
        break;
    case GEN_LONG_VAR_KEY:
        sb_str(&b, "{\"id\":\"var\",\"template\":\"t\",\"vars\":{\"");
        sb_rep(&b, "k", 129);
        sb_str(&b, "\":1}}");
        break;
    }
    if (b.p == NULL)
        sb_put(&b, "", 0);
    *len = b.n;
    return b.p;
}

ParameterizedTest(struct bad *c, codec, invalid)
{
    char err[256];
    size_t len;
    char *buf = gen_input(c, &len);
    char *id = (char *)"untouched";
    /* The parser must not read past len: copy into an exact-size heap block so
     * ASan catches any overrun (no NUL terminator follows the bytes). */
    char *exact = malloc(len == 0 ? 1 : len);

    memcpy(exact, buf, len);
    struct codec_job *j = codec_job_parse(exact, len, &id, err, sizeof err);
    cr_assert_null(j, "[%s] should have failed", c->name);
    cr_assert(strstr(err, c->want) != NULL, "[%s] err \"%s\" lacks \"%s\"", c->name, err, c->want);
    free(id);
    free(exact);
    free(buf);
}

/* ---- valid inputs ------------------------------------------------------- */

struct good {
    char name[32];
    char buf[640];
    enum codec_op op;
    char prompt[96]; /* "" = NULL */
    size_t n_images;
    char image0[80];
    char output_format[8]; /* "" = NULL */
    char aspect[8];        /* "" = NULL */
    char model[24];
    size_t n_providers;
    char provider_last[24];
    int deadline;
    char template_name[24]; /* "" = NULL */
    char vars[96];          /* compact JSON, "" = NULL */
    char metadata[96];      /* compact JSON, "" = NULL */
};

ParameterizedTestParameters(codec, valid)
{
    static struct good cases[] = {
        { .name = "minimal defaults",
          .buf = "{\"id\":\"j1\",\"prompt\":\"A Scandinavian living room\"}",
          .op = CODEC_OP_GENERATE,
          .prompt = "A Scandinavian living room",
          .model = "nano-banana" },
        { .name = "full generate",
          .buf = "{\"id\":\"j2\",\"operation\":\"generate\",\"prompt\":\"Japandi bedroom\",\"image_urls\":"
                 "[\"https://example.com/ref.jpg\"],\"output_format\":\"png\",\"aspect_ratio\":\"16:9\","
                 "\"model\":\"nano-banana-pro\",\"providers\":[\"kie\",\"replicate\"],\"deadline_s\":600,"
                 "\"metadata\":{\"chat_id\":123}}",
          .op = CODEC_OP_GENERATE,
          .prompt = "Japandi bedroom",
          .n_images = 1,
          .image0 = "https://example.com/ref.jpg",
          .output_format = "png",
          .aspect = "16:9",
          .model = "nano-banana-pro",
          .n_providers = 2,
          .provider_last = "replicate",
          .deadline = 600,
          .metadata = "{\"chat_id\":123}" },
        { .name = "edit with images",
          .buf = "{\"id\":\"j3\",\"operation\":\"edit\",\"prompt\":\"Make it coastal\",\"image_urls\":"
                 "[\"https://example.com/rooms/living-1.jpg\",\"HTTP://example.com/b.png\","
                 "\"data:image/png;base64,iVBORw0KGgo=\"]}",
          .op = CODEC_OP_EDIT,
          .prompt = "Make it coastal",
          .n_images = 3,
          .image0 = "https://example.com/rooms/living-1.jpg",
          .model = "nano-banana" },
        { .name = "jpg normalized",
          .buf = "{\"id\":\"j4\",\"prompt\":\"p\",\"output_format\":\"jpg\"}",
          .prompt = "p",
          .output_format = "jpeg",
          .model = "nano-banana" },
        { .name = "jpeg kept",
          .buf = "{\"id\":\"j5\",\"prompt\":\"p\",\"output_format\":\"jpeg\",\"aspect_ratio\":\"auto\"}",
          .prompt = "p",
          .output_format = "jpeg",
          .aspect = "auto",
          .model = "nano-banana" },
        { .name = "prompt trimmed",
          .buf = "{\"id\":\"j6\",\"prompt\":\"\\n  an art deco hallway \\t\"}",
          .prompt = "an art deco hallway",
          .model = "nano-banana" },
        { .name = "template without prompt",
          .buf = "{\"id\":\"j7\",\"template\":\"interior\",\"vars\":{\"room\":\"bedroom\",\"windows\":2,"
                 "\"ratio\":0.5}}",
          .template_name = "interior",
          .vars = "{\"room\":\"bedroom\",\"windows\":2,\"ratio\":0.5}",
          .model = "nano-banana" },
        { .name = "nulls are absent",
          .buf = "{\"id\":\"j9\",\"prompt\":\"p\",\"operation\":null,\"output_format\":null,"
                 "\"aspect_ratio\":null,\"model\":null,\"providers\":null,\"deadline_s\":null,"
                 "\"metadata\":null,\"image_urls\":null}",
          .prompt = "p",
          .model = "nano-banana" },
        { .name = "empty images on generate",
          .buf = "{\"id\":\"j10\",\"prompt\":\"p\",\"image_urls\":[]}",
          .prompt = "p",
          .model = "nano-banana" },
        { .name = "metadata nested kept",
          .buf = "{\"id\":\"j11\",\"prompt\":\"p\",\"metadata\":{\"chat_id\":5,\"tags\":[\"a\",{\"b\":null}],"
                 "\"s\":\"x\\\"y\"}}",
          .prompt = "p",
          .model = "nano-banana",
          .metadata = "{\"chat_id\":5,\"tags\":[\"a\",{\"b\":null}],\"s\":\"x\\\"y\"}" },
        { .name = "unicode and whitespace",
          .buf = " \r\n{ \"id\" : \"j12\" , \"prompt\" : \"caf\xc3\xa9 \xe5\x92\x8c\xe5\xae\xa4 \xf0\x9f\x8c\xbf\" } \n",
          .prompt = "caf\xc3\xa9 \xe5\x92\x8c\xe5\xae\xa4 \xf0\x9f\x8c\xbf",
          .model = "nano-banana" },
        { .name = "deadline bounds",
          .buf = "{\"id\":\"j13\",\"prompt\":\"p\",\"deadline_s\":86400,\"providers\":[\"replicate\"]}",
          .prompt = "p",
          .model = "nano-banana",
          .deadline = 86400,
          .n_providers = 1,
          .provider_last = "replicate" },
        { .name = "nesting at limit",
          .buf = "{\"id\":\"j14\",\"prompt\":\"p\",\"metadata\":"
                 "{\"a\":[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]}}",
          .prompt = "p",
          .model = "nano-banana",
          .metadata = "{\"a\":[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]}" },
    };
    return cr_make_param_array(struct good, cases, sizeof cases / sizeof cases[0]);
}

static void expect_opt(const char *got, const char *want, const char *what)
{
    if (want[0] == '\0')
        cr_assert_null(got, "%s should be NULL, is %s", what, got);
    else
        cr_assert_str_eq(got, want, "%s", what);
}

static void expect_json(json_object *got, const char *want, const char *what)
{
    if (want[0] == '\0') {
        cr_assert_null(got, "%s should be NULL", what);
        return;
    }
    cr_assert_not_null(got, "%s missing", what);
    cr_assert_str_eq(json_object_to_json_string_ext(got, JSON_C_TO_STRING_PLAIN), want, "%s", what);
}

ParameterizedTest(struct good *c, codec, valid)
{
    char err[256] = "";
    char *id = NULL;
    size_t len = strlen(c->buf);
    char *exact = malloc(len);

    memcpy(exact, c->buf, len);
    struct codec_job *j = codec_job_parse(exact, len, &id, err, sizeof err);
    free(exact); /* the job must own everything it keeps */
    cr_assert_not_null(j, "[%s] failed: %s", c->name, err);
    cr_assert_not_null(id);
    cr_assert_str_eq(id, j->id);
    cr_assert_eq(j->op, c->op, "[%s] op", c->name);
    expect_opt(j->prompt, c->prompt, "prompt");
    cr_assert_eq(j->n_image_urls, c->n_images, "[%s] n_image_urls", c->name);
    if (c->n_images > 0)
        cr_assert_str_eq(j->image_urls[0], c->image0);
    else
        cr_assert_null(j->image_urls);
    expect_opt(j->output_format, c->output_format, "output_format");
    expect_opt(j->aspect_ratio, c->aspect, "aspect_ratio");
    cr_assert_str_eq(j->model, c->model);
    cr_assert_eq(j->n_providers, c->n_providers, "[%s] n_providers", c->name);
    if (c->n_providers > 0)
        cr_assert_str_eq(j->providers[c->n_providers - 1], c->provider_last);
    else
        cr_assert_null(j->providers);
    cr_assert_eq(j->deadline_s, c->deadline, "[%s] deadline", c->name);
    expect_opt(j->template_name, c->template_name, "template");
    expect_json(j->vars, c->vars, "vars");
    expect_opt(j->metadata, c->metadata, "metadata");
    cr_assert_eq(j->metadata_len, strlen(c->metadata), "[%s] metadata_len", c->name);
    codec_job_free(j);
    free(id);
}

Test(codec, prompt_limit_counts_characters)
{
    struct sbuf b = { 0 };
    char err[128];

    /* 20000 two-byte characters: 40000 bytes, still within the limit. */
    sb_str(&b, "{\"id\":\"multi\",\"prompt\":\"");
    sb_rep(&b, "\xc3\xa9", CODEC_MAX_PROMPT);
    sb_str(&b, "\"}");
    struct codec_job *j = codec_job_parse(b.p, b.n, NULL, err, sizeof err);
    cr_assert_not_null(j, "%s", err);
    cr_assert_eq(strlen(j->prompt), 2 * (size_t)CODEC_MAX_PROMPT);
    codec_job_free(j);
    free(b.p);
}

/* Each cap accepts its exact limit; metadata comes back as the same text. */
Test(codec, caps_accept_their_limits)
{
    struct sbuf b = { 0 };
    char err[128], kv[24];

    sb_str(&b, "{\"id\":\"m\",\"prompt\":\"p\",\"metadata\":{\"s\":\"");
    sb_rep(&b, "x", CODEC_MAX_METADATA - 8);
    sb_str(&b, "\"}}");
    struct codec_job *j = codec_job_parse(b.p, b.n, NULL, err, sizeof err);
    cr_assert_not_null(j, "%s", err);
    cr_assert_eq(j->metadata_len, CODEC_MAX_METADATA);
    cr_assert_eq(memcmp(j->metadata, b.p + 34, CODEC_MAX_METADATA), 0);
    codec_job_free(j);

    b.n = 0;
    sb_str(&b, "{\"id\":\"n\",\"prompt\":\"p\",\"metadata\":{\"a\":[0");
    sb_rep(&b, ",0", CODEC_MAX_METADATA_NODES - 3);
    sb_str(&b, "]}}");
    j = codec_job_parse(b.p, b.n, NULL, err, sizeof err);
    cr_assert_not_null(j, "%s", err);
    codec_job_free(j);

    b.n = 0;
    sb_str(&b, "{\"id\":\"v\",\"template\":\"t\",\"vars\":{\"v0\":\"");
    sb_rep(&b, "a", CODEC_MAX_VAR_VALUE);
    sb_str(&b, "\"");
    for (int i = 1; i < CODEC_MAX_VARS; i++) {
        snprintf(kv, sizeof kv, ",\"v%d\":%d", i, i);
        sb_str(&b, kv);
    }
    sb_str(&b, "}}");
    j = codec_job_parse(b.p, b.n, NULL, err, sizeof err);
    cr_assert_not_null(j, "%s", err);
    cr_assert_eq(json_object_object_length(j->vars), CODEC_MAX_VARS);
    codec_job_free(j);
    free(b.p);
}

/* A template's operation applies only when the job gives none: the codec
 * records whether "operation" was there (null counts as absent). */
Test(codec, operation_given_is_recorded)
{
    static const struct {
        const char *buf;
        int op_set;
    } cases[] = {
        { "{\"id\":\"a\",\"template\":\"t\"}", 0 },
        { "{\"id\":\"a\",\"template\":\"t\",\"operation\":null}", 0 },
        { "{\"id\":\"a\",\"template\":\"t\",\"operation\":\"generate\"}", 1 },
        { "{\"id\":\"a\",\"template\":\"t\",\"operation\":\"edit\",\"image_urls\":[\"https://x.io/a.jpg\"]}",
          1 },
    };
    char err[128];

    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        struct codec_job *j =
                codec_job_parse(cases[i].buf, strlen(cases[i].buf), NULL, err, sizeof err);
        cr_assert_not_null(j, "%s: %s", cases[i].buf, err);
        cr_assert_eq(j->op_set, cases[i].op_set, "%s", cases[i].buf);
        codec_job_free(j);
    }
}

Test(codec, max_images_and_providers_accepted)
{
    struct sbuf b = { 0 };
    char err[128], name[16];

    sb_str(&b,
           "{\"id\":\"m\",\"operation\":\"edit\",\"prompt\":\"p\",\"image_urls\":[\"https://e.com/0.jpg\"");
    sb_rep(&b, ",\"https://e.com/n.jpg\"", CODEC_MAX_IMAGES - 1);
    sb_str(&b, "],\"providers\":[\"p0\"");
    for (int i = 1; i < CODEC_MAX_PROVIDERS; i++) {
        snprintf(name, sizeof name, ",\"p%d\"", i);
        sb_str(&b, name);
    }
    sb_str(&b, "]}");
    struct codec_job *j = codec_job_parse(b.p, b.n, NULL, err, sizeof err);
    cr_assert_not_null(j, "%s", err);
    cr_assert_eq(j->n_image_urls, CODEC_MAX_IMAGES);
    cr_assert_eq(j->n_providers, CODEC_MAX_PROVIDERS);
    cr_assert_str_eq(j->providers[CODEC_MAX_PROVIDERS - 1], "p15");
    codec_job_free(j);
    free(b.p);
}

Test(codec, reads_only_len_bytes)
{
    const char buf[] = "{\"id\":\"a\",\"prompt\":\"p\"}GARBAGE";
    char err[128];
    struct codec_job *j = codec_job_parse(buf, sizeof buf - 1 - 7, NULL, err, sizeof err);

    cr_assert_not_null(j, "%s", err);
    codec_job_free(j);
    cr_assert_null(codec_job_parse(buf, sizeof buf - 1, NULL, err, sizeof err));
}

Test(codec, null_and_tiny_err_buffers)
{
    char err[8];

    cr_assert_null(codec_job_parse("{}", 2, NULL, NULL, 0));
    cr_assert_null(codec_job_parse("{}", 2, NULL, err, sizeof err));
    cr_assert_eq(strlen(err), sizeof err - 1); /* truncated, terminated */
    codec_job_free(NULL);
    cr_assert_str_eq(codec_op_name(CODEC_OP_EDIT), "edit");
    cr_assert_str_eq(codec_op_name(CODEC_OP_GENERATE), "generate");
}

/* ---- id_out ------------------------------------------------------------- */

Test(codec, id_out_on_validation_failure)
{
    const char *in = "{\"id\":\"job-7\",\"operation\":\"upscale\",\"prompt\":\"p\"}";
    char err[128];
    char *id = NULL;

    cr_assert_null(codec_job_parse(in, strlen(in), &id, err, sizeof err));
    cr_assert_not_null(id);
    cr_assert_str_eq(id, "job-7");
    free(id);
}

/* H-1: an id that fails validation itself is never echoed (it would go into
 * the failed result's key, header and body). */
Test(codec, id_out_null_when_id_itself_is_invalid)
{
    static const char *const small[] = {
        "{\"id\":\"\",\"prompt\":\"p\"}",          /* empty */
        "{\"id\":\"a\\u0001b\",\"prompt\":\"p\"}", /* control character by escape */
        "{\"id\":\"a\\nb\",\"prompt\":\"p\"}",     /* newline */
        "{\"id\":\"a\\u007fb\",\"prompt\":\"p\"}", /* DEL */
    };
    static const size_t long_ids[] = { CODEC_MAX_ID + 1, 350000 };
    char err[128];

    for (size_t i = 0; i < sizeof small / sizeof small[0]; i++) {
        char *id = (char *)"stale";
        cr_assert_null(codec_job_parse(small[i], strlen(small[i]), &id, err, sizeof err));
        cr_assert(strncmp(err, "id: ", 4) == 0, "%s", err);
        cr_assert_null(id, "input %zu echoed an invalid id", i);
    }
    for (size_t i = 0; i < sizeof long_ids / sizeof long_ids[0]; i++) {
        struct sbuf b = { 0 };
        char *id = (char *)"stale";
        sb_str(&b, "{\"prompt\":\"p\",\"id\":\"");
        sb_rep(&b, "x", long_ids[i]);
        sb_str(&b, "\"}");
        cr_assert_null(codec_job_parse(b.p, b.n, &id, err, sizeof err));
        cr_assert(strstr(err, "id: longer") != NULL, "%s", err);
        cr_assert_null(id, "an id of %zu bytes was echoed", long_ids[i]);
        free(b.p);
    }
}

/* The longest valid id is still echoed when another field fails. */
Test(codec, id_out_at_max_length_on_failure)
{
    struct sbuf b = { 0 };
    char err[128];
    char *id = NULL;

    sb_str(&b, "{\"operation\":\"upscale\",\"prompt\":\"p\",\"id\":\"");
    sb_rep(&b, "x", CODEC_MAX_ID);
    sb_str(&b, "\"}");
    cr_assert_null(codec_job_parse(b.p, b.n, &id, err, sizeof err));
    cr_assert_not_null(id);
    cr_assert_eq(strlen(id), CODEC_MAX_ID);
    free(id);
    free(b.p);
}

Test(codec, id_out_null_without_string_id)
{
    static const char *const inputs[] = {
        "{\"id\":\"a\",\"prompt\":",          /* not JSON */
        "{\"id\":12,\"prompt\":\"p\"}",       /* id not a string */
        "{\"prompt\":\"p\"}",                 /* no id */
        "[\"id\",\"a\"]",                     /* not an object */
        "{\"id\":\"a\",\"prompt\":\"\xff\"}", /* bad UTF-8: rejected before parsing */
    };
    char err[128];

    for (size_t i = 0; i < sizeof inputs / sizeof inputs[0]; i++) {
        char *id = (char *)"stale";
        cr_assert_null(codec_job_parse(inputs[i], strlen(inputs[i]), &id, err, sizeof err));
        cr_assert_null(id, "input %zu left id_out set", i);
    }
}

Test(codec, id_out_on_success_and_optional)
{
    const char *in = "{\"id\":\"ok-1\",\"prompt\":\"p\"}";
    char err[64];
    char *id = NULL;
    struct codec_job *j = codec_job_parse(in, strlen(in), &id, err, sizeof err);

    cr_assert_not_null(j);
    cr_assert_str_eq(id, "ok-1");
    cr_assert_neq(id, j->id); /* a separate copy */
    codec_job_free(j);
    free(id);
    j = codec_job_parse(in, strlen(in), NULL, err, sizeof err);
    cr_assert_not_null(j);
    codec_job_free(j);
}

/* ---- fixture files ------------------------------------------------------ */

/* Parses every line of path; returns the number that failed, records the
 * 1-based line numbers of failures in bad_lines (up to 8). */
static int parse_file(const char *path, int *n_lines, int *bad_lines)
{
    FILE *f = fopen(path, "r");
    char *line = NULL;
    size_t cap = 0;
    ssize_t n;
    int failed = 0, lineno = 0;
    char err[256];

    cr_assert_not_null(f, "cannot open %s", path);
    while ((n = getline(&line, &cap, f)) >= 0) {
        lineno++;
        if (n > 0 && line[n - 1] == '\n')
            n--;
        char *id = NULL;
        struct codec_job *j = codec_job_parse(line, (size_t)n, &id, err, sizeof err);
        if (j == NULL) {
            if (failed < 8)
                bad_lines[failed] = lineno;
            failed++;
        } else {
            cr_assert_str_eq(id, j->id);
        }
        codec_job_free(j);
        free(id);
    }
    free(line);
    fclose(f);
    *n_lines = lineno;
    return failed;
}

Test(codec, fixture_valid_jobs)
{
    int n, bad[8];
    int failed = parse_file(SY_FIXTURES "/jobs/valid.jsonl", &n, bad);

    cr_assert_eq(n, 8);
    cr_assert_eq(failed, 0, "line %d failed", bad[0]);
}

Test(codec, fixture_invalid_jobs)
{
    int n, bad[8];
    int failed = parse_file(SY_FIXTURES "/jobs/invalid.jsonl", &n, bad);

    cr_assert_eq(n, 13);
    cr_assert_eq(failed, n);
}

Test(codec, demo_sample_has_two_invalid_lines)
{
    int n, bad[8];
    int failed = parse_file(SY_SOURCE_DIR "/scripts/jobs/sample.jsonl", &n, bad);

    cr_assert_eq(n, 40);
    cr_assert_eq(failed, 2);
    cr_assert_eq(bad[0], 13);
    cr_assert_eq(bad[1], 30);
}
