/* test_template_run.c — template jobs through `switchyard run` against
 * fakeprov, with the templates shipped in conf/switchyard.conf: the provider
 * receives the rendered prompt (read back from KIE's recordInfo `param`),
 * the template's operation picks the edit model, and template errors fail
 * their job as invalid_input without any provider call. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <criterion/criterion.h>

#include "conf/template.h"
#include "sytest.h"
#include "core/sy.h"

#define SHIPPED SY_SOURCE_DIR "/conf/switchyard.conf"
#define PHOTO "https://example.com/uploads/room-1.jpg"

/* The text of the shipped file's top-level `templates = { ... };` group, up to
 * its closing "};" at the start of a line. Caller frees. */
static char *shipped_templates(void)
{
    FILE *f = fopen(SHIPPED, "r");
    cr_assert_not_null(f);
    static char text[65536];
    size_t n = fread(text, 1, sizeof text - 1, f);
    fclose(f);
    text[n] = '\0';
    char *start = strstr(text, "\ntemplates = {\n");
    cr_assert_not_null(start, "no templates group in %s", SHIPPED);
    char *end = strstr(start, "\n};\n");
    cr_assert_not_null(end, "templates group not closed in %s", SHIPPED);
    return strndup(start + 1, (size_t)(end + 4 - (start + 1)));
}

/* The prompt the worker should send: the same config rendered here. */
static char *expected_prompt(const char *conf_path, const char *name, const char *vars_json)
{
    char err[512] = "", *out = NULL;
    struct conf *c = conf_load(conf_path, err, sizeof err);
    cr_assert_not_null(c, "%s", err);
    json_object *vars = json_tokener_parse(vars_json);
    cr_assert_eq(tmpl_render(conf_template_by_name(c, name), vars, &out, err, sizeof err), SY_OK,
                 "%s", err);
    json_object_put(vars);
    conf_free(c);
    return out;
}

/* The create body fakeprov's KIE side recorded for the task behind result r. */
static json_object *kie_create_body(const struct fakeprov *fp, json_object *r)
{
    char path[256];
    snprintf(path, sizeof path, "/api/v1/jobs/recordInfo?taskId=%s", sy_str(r, "provider_task_id"));
    json_object *info = fp_get_json_auth(fp, path, "test-kie-key");
    cr_assert_not_null(info, "recordInfo for %s failed", sy_str(r, "provider_task_id"));
    json_object *data = NULL;
    cr_assert(json_object_object_get_ex(info, "data", &data) && data, "recordInfo without data");
    json_object *body = json_tokener_parse(sy_str(data, "param"));
    cr_assert_not_null(body, "param is not JSON: %s", sy_str(data, "param"));
    json_object_put(info);
    return body;
}

static const char *input_str(json_object *body, const char *key)
{
    json_object *input = NULL;
    json_object_object_get_ex(body, "input", &input);
    return sy_str(input, key);
}

static const char *error_message(json_object *r)
{
    json_object *e = NULL;
    json_object_object_get_ex(r, "error", &e);
    return sy_str(e, "message");
}

static void expect_invalid(json_object *res, const char *id, const char *msg)
{
    json_object *r = sy_find(res, id);
    cr_assert_not_null(r, "no result for %s", id);
    cr_assert_str_eq(sy_str(r, "status"), "failed", "%s", id);
    cr_assert_str_eq(sy_error_class(r), "invalid_input", "%s", id);
    cr_assert(strstr(error_message(r), msg) != NULL, "%s: want \"%s\" in \"%s\"", id, msg,
              error_message(r));
    json_object *att = NULL;
    cr_assert(!json_object_object_get_ex(r, "attempts", &att) || json_object_array_length(att) == 0,
              "%s reached a provider", id);
}

Test(template_run, shipped_templates_render_into_the_provider_request, .timeout = 60)
{
    struct fakeprov fp;
    const char *args[] = { "--gen-ms", "200", NULL };
    fp_start(&fp, args);
    struct sy_run run;
    sy_prepare(&run, &fp, "", NULL, 0, NULL);
    char *templates = shipped_templates();
    FILE *f = fopen(run.conf, "a");
    cr_assert_not_null(f);
    fprintf(f, "\n%s", templates);
    fclose(f);
    free(templates);

    static const char restyle_vars[] = "{\"room\":\"bedroom\",\"style\":\"japandi\"}";
    static const char generate_vars[] = "{\"room\":\"home office\"}";
    f = fopen(run.jobs, "w");
    cr_assert_not_null(f);
    fprintf(f,
            "{\"id\":\"restyle\",\"template\":\"restyle\",\"providers\":[\"kie\"],\"image_urls\":[\"" PHOTO
            "\"],\"vars\":%s}\n",
            restyle_vars);
    fprintf(f,
            "{\"id\":\"generate\",\"template\":\"generate_room\",\"providers\":[\"kie\"],\"vars\":%s}\n",
            generate_vars);
    fprintf(f,
            "{\"id\":\"unknown\",\"template\":\"restyle_v2\",\"image_urls\":[\"" PHOTO
            "\"],\"vars\":%s}\n",
            restyle_vars);
    fprintf(f, "{\"id\":\"missing\",\"template\":\"restyle\",\"image_urls\":[\"" PHOTO
               "\"],\"vars\":{\"room\":\"bedroom\"}}\n");
    fprintf(f, "{\"id\":\"outside\",\"template\":\"restyle\",\"image_urls\":[\"" PHOTO
               "\"],\"vars\":{\"room\":\"bedroom\",\"style\":\"gothic\"}}\n");
    fprintf(f, "{\"id\":\"no-photo\",\"template\":\"clear_room\"}\n");
    fprintf(f,
            "{\"id\":\"both\",\"template\":\"clear_room\",\"prompt\":\"empty it\",\"image_urls\":[\"" PHOTO
            "\"]}\n");
    fclose(f);

    cr_assert_eq(sy_run_batch(run.conf, run.jobs, run.out, 40), 0);
    json_object *res = sy_read_results(run.out);
    cr_assert_eq(json_object_array_length(res), 7);

    /* restyle: an edit of the photo, with the rendered prompt. */
    json_object *r = sy_find(res, "restyle");
    cr_assert_not_null(r);
    cr_assert_str_eq(sy_str(r, "status"), "succeeded", "%s", json_object_to_json_string(r));
    json_object *body = kie_create_body(&fp, r);
    char *want = expected_prompt(run.conf, "restyle", restyle_vars);
    cr_assert_str_eq(sy_str(body, "model"), "google/nano-banana-edit");
    cr_assert_str_eq(input_str(body, "prompt"), want);
    cr_assert(strstr(want, "Redesign the bedroom in this photo in japandi interior design style") !=
                      NULL,
              "%s", want);
    cr_assert(strchr(want, '{') == NULL && strchr(want, '}') == NULL, "placeholder left: %s", want);
    json_object *input = NULL, *urls = NULL;
    cr_assert(json_object_object_get_ex(body, "input", &input) &&
              json_object_object_get_ex(input, "image_urls", &urls));
    cr_assert_str_eq(json_object_get_string(json_object_array_get_idx(urls, 0)), PHOTO);
    free(want);
    json_object_put(body);

    /* generate_room: a generate, with the default style filled in. */
    r = sy_find(res, "generate");
    cr_assert_not_null(r);
    cr_assert_str_eq(sy_str(r, "status"), "succeeded", "%s", json_object_to_json_string(r));
    body = kie_create_body(&fp, r);
    cr_assert_str_eq(sy_str(body, "model"), "google/nano-banana");
    cr_assert(strstr(input_str(body, "prompt"),
                     "of a home office designed in contemporary style") != NULL,
              "%s", input_str(body, "prompt"));
    json_object_put(body);

    expect_invalid(res, "unknown", "template: unknown template \"restyle_v2\"");
    expect_invalid(res, "missing", "vars.style: missing (template \"restyle\" needs it)");
    expect_invalid(res, "outside", "vars.style: \"gothic\" is not one of \"scandinavian\"");
    expect_invalid(res, "no-photo",
                   "image_urls: required for operation edit (template \"clear_room\"");
    expect_invalid(res, "both", "prompt: not allowed together with template");
    /* Only the two good jobs cost a task. */
    cr_assert_eq(fp_stat(&fp, "kie.tasks_created"), 2);
    cr_assert_eq(fp_stat(&fp, "replicate.tasks_created"), 0);
    json_object_put(res);
    cr_assert_eq(fp_stop(&fp), 0);
}
