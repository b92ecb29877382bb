/* test_jwrite.c — providers/jwrite (and core/jsonw under it) writes what
 * json-c wrote: random strings (control bytes, quotes, backslashes, '/',
 * invalid UTF-8, embedded NULs), random objects with duplicate keys, and
 * whole KIE / Replicate create bodies, each compared byte for byte with
 * json-c's JSON_C_TO_STRING_PLAIN | NOSLASHESCAPE output (and PLAIN alone
 * for JSONW_SLASH). */
#include "providers/jwrite.h"

#include <criterion/criterion.h>
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/sy.h"
#include "tests/testrng.h"

extern const struct prov_ops kie_ops;
extern const struct prov_ops replicate_ops;

#define JC_FLAGS (JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE)

/* A random NUL-terminated string of up to max bytes, biased to the bytes an
 * escaper can get wrong. */
static void rand_str(uint64_t *rng, char *s, size_t max)
{
    static const char special[] =
            "\"\\/\b\f\n\r\t\x01\x1f\x7f\x80\xbf\xc3\xa9\xe2\x82\xac\xff\xfe ";
    size_t n = testrng_xorshift64(rng) % (max + 1);
    for (size_t i = 0; i < n; i++) {
        uint64_t r = testrng_xorshift64(rng);
        if (r % 3 == 0)
            s[i] = special[(r >> 8) % (sizeof special - 1)];
        else if (r % 3 == 1)
            s[i] = (char)(1 + (r >> 8) % 255); /* any byte but NUL */
        else
            s[i] = (char)('a' + (r >> 8) % 26);
    }
    s[n] = '\0';
}

static void expect_same(struct jsonw *w, struct json_object *o, const char *what)
{
    const char *want = json_object_to_json_string_ext(o, JC_FLAGS);
    cr_assert_eq(w->failed, 0);
    cr_expect_str_eq(w->buf, want, "%s", what);
}

Test(jwrite, strings_as_json_c_writes_them)
{
    uint64_t rng = 0x9e3779b97f4a7c15ULL;
    char s[64];
    for (int i = 0; i < 5000; i++) {
        rand_str(&rng, s, sizeof s - 1);
        struct jsonw w;
        jsonw_init(&w);
        jsonw_str(&w, s, 0);
        struct json_object *o = json_object_new_string(s);
        expect_same(&w, o, "random string");
        json_object_put(o);
        jsonw_free(&w);
    }
    /* with '/' escaped, as json-c does without NOSLASHESCAPE; and n bytes
     * with embedded NULs (jsonw_escaped), as json_object_new_string_len */
    for (int i = 0; i < 2000; i++) {
        rand_str(&rng, s, sizeof s - 1);
        size_t n = strlen(s);
        if (n > 2)
            s[n / 2] = '\0';
        struct jsonw w = { 0 };
        jsonw_str(&w, s, JSONW_SLASH);
        struct json_object *o = json_object_new_string(s);
        cr_expect_str_eq(w.buf, json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN), "slash");
        json_object_put(o);
        jsonw_free(&w);
        jsonw_raw(&w, "\"", 1);
        jsonw_escaped(&w, s, n, 0);
        jsonw_raw(&w, "\"", 1);
        o = json_object_new_string_len(s, (int)n);
        expect_same(&w, o, "embedded NUL");
        json_object_put(o);
        jsonw_free(&w);
    }
    /* every single byte */
    for (int c = 1; c < 256; c++) {
        char one[2] = { (char)c, 0 };
        struct jsonw w;
        jsonw_init(&w);
        jsonw_str(&w, one, 0);
        struct json_object *o = json_object_new_string(one);
        expect_same(&w, o, "byte");
        json_object_put(o);
        jsonw_free(&w);
    }
}

Test(jwrite, objects_with_duplicate_keys_as_json_c_adds_them)
{
    static const char *const keys[] = { "prompt", "image_urls", "output_format", "aspect_ratio",
                                        "k\"\x01y" };
    uint64_t rng = 12345;
    char strs[6][32], arrbuf[3][32];
    for (int i = 0; i < 2000; i++) {
        struct jwrite_member m[6];
        const char *arr[3];
        size_t n = 1 + testrng_xorshift64(&rng) % 6;
        for (size_t k = 0; k < 3; k++) {
            rand_str(&rng, arrbuf[k], 8);
            arr[k] = arrbuf[k];
        }
        struct json_object *o = json_object_new_object();
        for (size_t k = 0; k < n; k++) {
            uint64_t r = testrng_xorshift64(&rng);
            memset(&m[k], 0, sizeof m[k]);
            m[k].key = keys[r % 5];
            switch ((r >> 8) % 3) {
            case 0:
                rand_str(&rng, strs[k], 16);
                m[k].str = strs[k];
                json_object_object_add(o, m[k].key, json_object_new_string(strs[k]));
                break;
            case 1: {
                m[k].arr = arr;
                m[k].n_arr = (r >> 16) % 4;
                struct json_object *a = json_object_new_array();
                for (size_t j = 0; j < m[k].n_arr; j++)
                    json_object_array_add(a, json_object_new_string(arr[j]));
                json_object_object_add(o, m[k].key, a);
                break;
            }
            default: /* skipped member */
                break;
            }
        }
        struct jsonw w;
        jsonw_init(&w);
        jwrite_object(&w, m, n);
        expect_same(&w, o, "object");
        json_object_put(o);
        jsonw_free(&w);
    }
}

/* ---- whole create bodies against the json-c builders they replace ---- */

static struct conf_model kie_models[] = {
    { .name = "nano-banana",
      .generate = "google/nano-banana",
      .edit = "google/nano-banana-edit",
      .image_field = "image_urls",
      .jpeg_name = "jpeg" },
    { .name = "odd",
      .generate = "m",
      .edit = "m",
      .image_field = "output_format",
      .jpeg_name = "jpeg" },
};
static struct conf_provider kie_prov = {
    .name = "kie",
    .type = CONF_PROV_KIE,
    .base_url = "https://api.kie.ai",
    .models = kie_models,
    .n_models = 2,
};

static struct conf_model rep_models[] = {
    { .name = "nano-banana",
      .generate = "google/nano-banana",
      .edit = "google/nano-banana",
      .image_field = "image_input",
      .jpeg_name = "jpg" },
    { .name = "pinned",
      .generate =
              "google/nano-banana:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
      .edit = "google/nano-banana:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
      .image_field = "prompt",
      .jpeg_name = "jpg" },
};
static struct conf_provider rep_prov = {
    .name = "rep",
    .type = CONF_PROV_REPLICATE,
    .base_url = "https://api.replicate.com",
    .models = rep_models,
    .n_models = 2,
};

struct spec_buf {
    char prompt[64], url[3][48], ar[16], cb[48];
    const char *urls[3];
    struct prov_task_spec spec;
};

static void rand_spec(uint64_t *rng, struct spec_buf *b, const char *model)
{
    memset(&b->spec, 0, sizeof b->spec);
    do
        rand_str(rng, b->prompt, 40);
    while (!b->prompt[0]);
    size_t n = testrng_xorshift64(rng) % 4;
    for (size_t i = 0; i < n; i++) {
        char tail[24];
        rand_str(rng, tail, 12);
        snprintf(b->url[i], sizeof b->url[i], "https://x/%s", tail);
        b->urls[i] = b->url[i];
    }
    uint64_t r = testrng_xorshift64(rng);
    static const char *const ars[] = { "16:9", "auto", "1:1", NULL };
    b->spec.prompt = b->prompt;
    b->spec.image_urls = b->urls;
    b->spec.n_image_urls = n;
    b->spec.op = n > 0 ? CONF_OP_EDIT : CONF_OP_GENERATE;
    b->spec.model = model;
    b->spec.output_format = r % 3 == 0 ? "jpeg" : r % 3 == 1 ? "png" : NULL;
    b->spec.aspect_ratio = ars[(r >> 4) % 4];
    if ((r >> 8) % 2) {
        rand_str(rng, b->ar, 8);
        snprintf(b->cb, sizeof b->cb, "https://cb/%s", b->ar);
        b->spec.callback_url = b->cb;
    }
}

static struct json_object *str_array(const struct prov_task_spec *s)
{
    struct json_object *arr = json_object_new_array();
    for (size_t i = 0; i < s->n_image_urls; i++)
        json_object_array_add(arr, json_object_new_string(s->image_urls[i]));
    return arr;
}

Test(jwrite, kie_create_body_as_json_c_built_it)
{
    uint64_t rng = 777;
    struct spec_buf b;
    for (int i = 0; i < 1000; i++) {
        const struct conf_model *m = &kie_models[i % 2];
        rand_spec(&rng, &b, m->name);
        struct prov_request req;
        char err[256];
        cr_assert_eq(kie_ops.build_create(&kie_prov, &b.spec, &req, err, sizeof err), SY_OK, "%s",
                     err);
        const char *model = b.spec.op == CONF_OP_EDIT ? m->edit : m->generate;
        const char *fmt =
                b.spec.output_format && strcmp(b.spec.output_format, "jpeg") == 0 ? "jpeg" : "png";
        struct json_object *root = json_object_new_object(), *input = json_object_new_object();
        json_object_object_add(root, "model", json_object_new_string(model));
        json_object_object_add(input, "prompt", json_object_new_string(b.spec.prompt));
        if (b.spec.n_image_urls > 0)
            json_object_object_add(input, m->image_field, str_array(&b.spec));
        json_object_object_add(input, "output_format", json_object_new_string(fmt));
        if (b.spec.aspect_ratio)
            json_object_object_add(input, "aspect_ratio",
                                   json_object_new_string(b.spec.aspect_ratio));
        json_object_object_add(root, "input", input);
        if (b.spec.callback_url)
            json_object_object_add(root, "callBackUrl",
                                   json_object_new_string(b.spec.callback_url));
        cr_expect_str_eq(req.body, json_object_to_json_string_ext(root, JC_FLAGS));
        json_object_put(root);
        prov_request_cleanup(&req);
    }
}

Test(jwrite, replicate_create_body_as_json_c_built_it)
{
    uint64_t rng = 4242;
    struct spec_buf b;
    for (int i = 0; i < 1000; i++) {
        const struct conf_model *m = &rep_models[i % 2];
        rand_spec(&rng, &b, m->name);
        struct prov_request req;
        char err[256];
        cr_assert_eq(replicate_ops.build_create(&rep_prov, &b.spec, &req, err, sizeof err), SY_OK,
                     "%s", err);
        const char *fmt =
                b.spec.output_format && strcmp(b.spec.output_format, "jpeg") == 0 ? "jpg" : "png";
        struct json_object *root = json_object_new_object(), *input = json_object_new_object();
        if (i % 2)
            json_object_object_add(root, "version", json_object_new_string(m->generate));
        json_object_object_add(input, "prompt", json_object_new_string(b.spec.prompt));
        if (b.spec.n_image_urls > 0)
            json_object_object_add(input, m->image_field, str_array(&b.spec));
        json_object_object_add(input, "output_format", json_object_new_string(fmt));
        if (b.spec.aspect_ratio) {
            const char *ar = strcmp(b.spec.aspect_ratio, "auto") == 0 ? "match_input_image"
                                                                      : b.spec.aspect_ratio;
            json_object_object_add(input, "aspect_ratio", json_object_new_string(ar));
        }
        json_object_object_add(root, "input", input);
        if (b.spec.callback_url) {
            struct json_object *events = json_object_new_array();
            json_object_array_add(events, json_object_new_string("completed"));
            json_object_object_add(root, "webhook", json_object_new_string(b.spec.callback_url));
            json_object_object_add(root, "webhook_events_filter", events);
        }
        cr_expect_str_eq(req.body, json_object_to_json_string_ext(root, JC_FLAGS));
        json_object_put(root);
        prov_request_cleanup(&req);
    }
}

Test(jwrite, failed_allocation_sticks)
{
    struct jsonw w;
    jsonw_init(&w);
    w.failed = 1;
    jsonw_str(&w, "x", 0);
    cr_expect_null(w.buf);
    struct prov_request req = { 0 };
    req.url = strdup("http://x");
    cr_expect_eq(jwrite_request(&req, &w), SY_ERR);
    cr_expect_null(req.url, "out cleaned up");
}
