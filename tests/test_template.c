/* test_template.c — prompt templates: the {name} syntax, rendering with a
 * job's vars (strings, numbers, defaults, choices, the length cap) and
 * applying a template to a parsed job (operation, image_urls, errors that
 * name the template and the variable). Templates come from conf_load_string,
 * as the worker gets them. */
#include "conf/template.h"
#include "queue/tmplapply.h"

#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "worker/dispatch.h"
#include "core/sy.h"

#include "testutil.h"

static void set_env(void)
{
    setenv("SY_T_KIE_KEY", "kie-test-key", 1);
}

TestSuite(template, .init = set_env);

#define PROVIDERS                                                                                      \
    "providers = ( { name = \"kie\"; type = \"kie\"; priority = 1; base_url = \"https://api.kie.ai\";" \
    " api_key_env = \"SY_T_KIE_KEY\"; } );\n"

/* The shipped restyle template, shortened, plus a few for the edge cases. */
#define TEMPLATES                                                                                                  \
    "templates = {\n"                                                                                              \
    "  restyle = { operation = \"edit\";\n"                                                                        \
    "    prompt = \"Redesign the {room} in this photo in {style} style; keep the walls of the {room}.\";\n"        \
    "    choices = { style = [\"scandinavian\", \"japandi\", \"mid-century modern\"]; };\n"                        \
    "  };\n"                                                                                                       \
    "  room = { operation = \"generate\"; prompt = \"A {style} {room}\"; defaults = { style = \"modern\"; }; };\n" \
    "  braces = { prompt = \"{{literal}} {x} }} {{{x}}}\"; };\n"                                                   \
    "  counts = { prompt = \"{n} chairs at {ratio} scale\"; };\n"                                                  \
    "  free = { prompt = \"  {x}  \"; };\n"                                                                        \
    "  one = { prompt = \"{x}\"; };\n"                                                                             \
    "  many = { prompt = \"{x}{x}{x}{x}{x}{x}{x}{x}{x}{x}\"; };\n"                                                 \
    "  fixed = { prompt = \"Empty the room\"; };\n"                                                                \
    "};\n"

static struct conf *load(void)
{
    char err[512] = "";
    struct conf *c = conf_load_string(PROVIDERS TEMPLATES, "t.conf", err, sizeof err);
    cr_assert_not_null(c, "%s", err);
    return c;
}

/* Render template name with vars given as JSON text (NULL = no vars). */
static int render(const struct conf *c, const char *name, const char *vars_json, char **out,
                  char *err, size_t errlen)
{
    const struct conf_template *t = conf_template_by_name(c, name);
    cr_assert_not_null(t, "no template %s", name);
    json_object *vars = vars_json ? json_tokener_parse(vars_json) : NULL;
    if (vars_json)
        cr_assert_not_null(vars, "bad test JSON %s", vars_json);
    int rc = tmpl_render(t, vars, out, err, errlen);
    json_object_put(vars);
    return rc;
}

static void expect_render(const struct conf *c, const char *name, const char *vars,
                          const char *want)
{
    char err[512] = "", *out = NULL;
    cr_assert_eq(render(c, name, vars, &out, err, sizeof err), SY_OK, "%s: %s", name, err);
    cr_assert_str_eq(out, want);
    free(out);
}

static void expect_error(const struct conf *c, const char *name, const char *vars, const char *want)
{
    char err[512] = "", *out = (char *)"untouched";
    cr_assert_eq(render(c, name, vars, &out, err, sizeof err), SY_ERR, "%s rendered", name);
    cr_assert_null(out);
    cr_assert(strstr(err, want) != NULL, "want \"%s\" in \"%s\"", want, err);
}

Test(template, loader_lists_each_placeholder_once_in_order)
{
    struct conf *c = load();
    cr_assert_eq(c->n_templates, 8);
    const struct conf_template *t = conf_template_by_name(c, "restyle");
    cr_assert_eq(t->n_vars, 2);
    cr_assert_str_eq(t->vars[0].name, "room");
    cr_assert_eq(t->vars[0].n_choices, 0);
    cr_assert_str_eq(t->vars[1].name, "style");
    cr_assert_eq(t->vars[1].n_choices, 3);
    cr_assert_str_eq(t->vars[1].choices[2], "mid-century modern");
    cr_assert_eq(t->op, CONF_OP_EDIT);
    t = conf_template_by_name(c, "room");
    cr_assert_eq(t->op, CONF_OP_GENERATE);
    cr_assert_str_eq(t->vars[0].name, "style");
    cr_assert_str_eq(t->vars[0].def, "modern");
    t = conf_template_by_name(c, "fixed");
    cr_assert_eq(t->n_vars, 0);
    cr_assert_eq(t->op, CONF_OP_UNSET);
    cr_assert_null(conf_template_by_name(c, "nope"));
    conf_free(c);
    assert_no_leaks();
}

Test(template, renders_vars_everywhere_they_appear)
{
    struct conf *c = load();
    expect_render(
            c, "restyle",
            "{\"room\":\"kids room\",\"style\":\"mid-century modern\",\"unused\":true}",
            "Redesign the kids room in this photo in mid-century modern style; keep the walls of the kids room.");
    expect_render(c, "fixed", "{\"room\":\"bedroom\"}", "Empty the room");
    expect_render(c, "fixed", NULL, "Empty the room");
    conf_free(c);
    assert_no_leaks();
}

Test(template, double_braces_are_literal)
{
    struct conf *c = load();
    expect_render(c, "braces", "{\"x\":\"v\"}", "{literal} v } {v}");
    /* A value is inserted as is: braces in it are not template syntax. */
    expect_render(c, "braces", "{\"x\":\"{y}\"}", "{literal} {y} } {{y}}");
    conf_free(c);
    assert_no_leaks();
}

Test(template, numbers_print_as_given)
{
    struct conf *c = load();
    expect_render(c, "counts", "{\"n\":4,\"ratio\":0.75}", "4 chairs at 0.75 scale");
    expect_render(c, "counts", "{\"n\":-12,\"ratio\":2}", "-12 chairs at 2 scale");
    expect_error(c, "counts", "{\"n\":true,\"ratio\":1}",
                 "vars.n: must be a string or a number (template \"counts\")");
    expect_error(c, "counts", "{\"n\":[1],\"ratio\":1}", "vars.n: must be a string or a number");
    conf_free(c);
    assert_no_leaks();
}

Test(template, missing_variable_is_named)
{
    struct conf *c = load();
    expect_error(c, "restyle", "{\"room\":\"bedroom\"}",
                 "vars.style: missing (template \"restyle\" needs it)");
    expect_error(c, "restyle", NULL, "vars.room: missing (template \"restyle\" needs it)");
    conf_free(c);
    assert_no_leaks();
}

Test(template, value_outside_choices_is_refused)
{
    struct conf *c = load();
    expect_error(
            c, "restyle", "{\"room\":\"bedroom\",\"style\":\"gothic\"}",
            "vars.style: \"gothic\" is not one of \"scandinavian\", \"japandi\", \"mid-century modern\" "
            "(template \"restyle\")");
    /* Exact match: case and surrounding spaces count. */
    expect_error(c, "restyle", "{\"room\":\"bedroom\",\"style\":\"Japandi\"}",
                 "vars.style: \"Japandi\" is not one of");
    expect_error(c, "restyle", "{\"room\":\"bedroom\",\"style\":3}",
                 "vars.style: \"3\" is not one of");
    conf_free(c);
    assert_no_leaks();
}

Test(template, defaults_fill_what_the_job_leaves_out)
{
    struct conf *c = load();
    expect_render(c, "room", "{\"room\":\"hallway\"}", "A modern hallway");
    expect_render(c, "room", "{\"room\":\"hallway\",\"style\":\"art deco\"}", "A art deco hallway");
    expect_error(c, "room", "{\"style\":\"loft\"}",
                 "vars.room: missing (template \"room\" needs it)");
    conf_free(c);
    assert_no_leaks();
}

Test(template, result_is_never_empty)
{
    struct conf *c = load();
    expect_render(c, "free", "{\"x\":\"a b\"}", "  a b  ");
    expect_error(c, "free", "{\"x\":\" \\n \"}", "template \"free\": rendered prompt is empty");
    conf_free(c);
    assert_no_leaks();
}

/* Build {"x":"<n copies of ch>"}. */
static char *vars_of(const char *ch, size_t n)
{
    size_t len = strlen(ch);
    char *s = malloc(n * len + 16);
    cr_assert_not_null(s);
    size_t o = (size_t)snprintf(s, 16, "{\"x\":\"");
    for (size_t i = 0; i < n; i++, o += len)
        memcpy(s + o, ch, len);
    memcpy(s + o, "\"}", 3);
    return s;
}

Test(template, length_cap_counts_characters)
{
    struct conf *c = load();
    char err[512], *out = NULL;
    /* CODEC_MAX_PROMPT two-byte characters fit ... */
    char *v = vars_of("\xc3\xa9", CODEC_MAX_PROMPT);
    cr_assert_eq(render(c, "one", v, &out, err, sizeof err), SY_OK, "%s", err);
    cr_assert_eq(strlen(out), 2 * (size_t)CODEC_MAX_PROMPT);
    free(out);
    free(v);
    /* ... one more does not. */
    v = vars_of("a", CODEC_MAX_PROMPT + 1);
    expect_error(c, "one", v, "template \"one\": rendered prompt longer than 20000 characters");
    free(v);
    /* Ten copies of a long value stop early with the same message. */
    v = vars_of("\xe6\x97\xa5", CODEC_MAX_PROMPT);
    expect_error(c, "many", v, "template \"many\": rendered prompt longer than 20000 characters");
    free(v);
    conf_free(c);
    assert_no_leaks();
}

/* ---- syntax ------------------------------------------------------------- */

static int count_piece(void *ud, int is_var, const char *s, size_t n)
{
    (void)s;
    (void)n;
    ((int *)ud)[is_var]++;
    return SY_OK;
}

Test(template, scan_reports_bad_syntax_with_position)
{
    static const struct {
        const char *prompt;
        const char *msg; /* NULL = valid */
    } cases[] = {
        { "plain text", NULL },
        { "{a}{b_2}{{}}", NULL },
        { "a {room", "unclosed '{' at character 3" },
        { "a {room {style}", "unclosed '{' at character 3" },
        { "\xc3\xa9 {Room}", "bad placeholder name \"Room\" at character 3" },
        { "{my-style}", "bad placeholder name \"my-style\" at character 1" },
        { "{}", "bad placeholder name \"\" at character 1" },
        { "a } b", "'}' at character 3 closes nothing" },
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        int counts[2] = { 0, 0 };
        char err[256] = "";
        int rc = tmpl_scan(cases[i].prompt, count_piece, counts, err, sizeof err);
        if (cases[i].msg == NULL) {
            cr_assert_eq(rc, SY_OK, "%s: %s", cases[i].prompt, err);
        } else {
            cr_assert_eq(rc, SY_ERR, "%s accepted", cases[i].prompt);
            cr_assert(strstr(err, cases[i].msg) != NULL, "want \"%s\" in \"%s\"", cases[i].msg,
                      err);
        }
    }
    int counts[2] = { 0, 0 };
    cr_assert_eq(tmpl_scan("x {a} {{ {b}", count_piece, counts, NULL, 0), SY_OK);
    cr_assert_eq(counts[1], 2);
    cr_assert_eq(counts[0], 4); /* "x ", " ", "{", " " */
}

/* ---- applying a template to a job --------------------------------------- */

static struct codec_job *job(const char *json)
{
    char err[256];
    struct codec_job *j = codec_job_parse(json, strlen(json), NULL, err, sizeof err);
    cr_assert_not_null(j, "%s: %s", json, err);
    return j;
}

Test(template, apply_takes_the_templates_operation)
{
    struct conf *c = load();
    char err[512] = "";
    struct codec_job *j =
            job("{\"id\":\"a\",\"template\":\"restyle\",\"image_urls\":[\"https://x.io/room.jpg\"],"
                "\"vars\":{\"room\":\"bedroom\",\"style\":\"japandi\"}}");
    cr_assert_eq(j->op, CODEC_OP_GENERATE);
    cr_assert_eq(tmpl_apply(c, j, err, sizeof err), SY_OK, "%s", err);
    cr_assert_eq(j->op, CODEC_OP_EDIT);
    cr_assert_str_eq(
            j->prompt,
            "Redesign the bedroom in this photo in japandi style; keep the walls of the bedroom.");
    codec_job_free(j);

    /* The job's own operation wins. */
    j = job("{\"id\":\"b\",\"template\":\"restyle\",\"operation\":\"generate\","
            "\"vars\":{\"room\":\"bedroom\",\"style\":\"japandi\"}}");
    cr_assert_eq(tmpl_apply(c, j, err, sizeof err), SY_OK, "%s", err);
    cr_assert_eq(j->op, CODEC_OP_GENERATE);
    codec_job_free(j);
    j = job("{\"id\":\"c\",\"template\":\"room\",\"operation\":\"edit\",\"image_urls\":[\"https://x.io/r.jpg\"],"
            "\"vars\":{\"room\":\"attic\"}}");
    cr_assert_eq(tmpl_apply(c, j, err, sizeof err), SY_OK, "%s", err);
    cr_assert_eq(j->op, CODEC_OP_EDIT);
    cr_assert_str_eq(j->prompt, "A modern attic");
    codec_job_free(j);

    /* A template without an operation keeps the job's default. */
    j = job("{\"id\":\"d\",\"template\":\"fixed\"}");
    cr_assert_eq(tmpl_apply(c, j, err, sizeof err), SY_OK, "%s", err);
    cr_assert_eq(j->op, CODEC_OP_GENERATE);
    codec_job_free(j);

    /* No template: nothing to do. */
    j = job("{\"id\":\"e\",\"prompt\":\"p\"}");
    cr_assert_eq(tmpl_apply(c, j, err, sizeof err), SY_OK, "%s", err);
    cr_assert_str_eq(j->prompt, "p");
    codec_job_free(j);
    conf_free(c);
    assert_no_leaks();
}

Test(template, apply_errors_name_the_template)
{
    static const struct {
        const char *job;
        const char *msg;
    } cases[] = {
        { "{\"id\":\"a\",\"template\":\"x\"}", "template: unknown template \"x\"" },
        { "{\"id\":\"a\",\"template\":\"restyle\",\"vars\":{\"room\":\"bedroom\",\"style\":\"japandi\"}}",
          "image_urls: required for operation edit (template \"restyle\"" },
        { "{\"id\":\"a\",\"template\":\"restyle\",\"image_urls\":[\"https://x.io/r.jpg\"],\"vars\":{\"room\":\"bedroom\"}}",
          "vars.style: missing (template \"restyle\" needs it)" },
    };
    struct conf *c = load();
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char err[512] = "";
        struct codec_job *j = job(cases[i].job);
        cr_assert_eq(tmpl_apply(c, j, err, sizeof err), SY_ERR, "%s applied", cases[i].job);
        cr_assert(strstr(err, cases[i].msg) != NULL, "want \"%s\" in \"%s\"", cases[i].msg, err);
        cr_assert_null(j->prompt);
        codec_job_free(j);
    }
    conf_free(c);
    assert_no_leaks();
}

/* SIGHUP swaps the config: a job started before keeps rendering with the
 * template it started with, new jobs get the reloaded one. */
Test(template, reload_keeps_each_job_on_its_config)
{
    char err[512] = "", *out = NULL;
    struct dispatch *d = dispatch_new(load(), 0);
    cr_assert_not_null(d);
    struct conf_ref *before = dispatch_conf_get(d);
    struct conf *next =
            conf_load_string(PROVIDERS "templates = { room = { prompt = \"Draw a {room}\"; }; };",
                             "t2.conf", err, sizeof err);
    cr_assert_not_null(next, "%s", err);
    cr_assert_eq(dispatch_reload(d, next, 0), SY_OK);
    struct conf_ref *after = dispatch_conf_get(d);

    struct codec_job *j = job("{\"id\":\"a\",\"template\":\"room\",\"vars\":{\"room\":\"loft\"}}");
    cr_assert_eq(tmpl_apply(before->c, j, err, sizeof err), SY_OK, "%s", err);
    cr_assert_str_eq(j->prompt, "A modern loft");
    codec_job_free(j);
    j = job("{\"id\":\"b\",\"template\":\"room\",\"vars\":{\"room\":\"loft\"}}");
    cr_assert_eq(tmpl_apply(after->c, j, err, sizeof err), SY_OK, "%s", err);
    cr_assert_str_eq(j->prompt, "Draw a loft");
    codec_job_free(j);
    /* The reloaded file dropped "restyle". */
    cr_assert_null(conf_template_by_name(after->c, "restyle"));
    cr_assert_eq(
            tmpl_render(conf_template_by_name(before->c, "fixed"), NULL, &out, err, sizeof err),
            SY_OK);
    free(out);

    conf_ref_put(before);
    conf_ref_put(after);
    dispatch_free(d);
    assert_no_leaks();
}
