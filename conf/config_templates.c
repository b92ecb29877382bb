/* config_templates.c — the templates group: named prompt templates with
 * {placeholders}, each placeholder's optional choices list and default.
 *
 * Every placeholder the prompt names becomes one conf_tvar (in order of first
 * appearance); choices and defaults may only name placeholders the prompt
 * has, and a default must be one of its choices when both are given. The
 * group is optional; what is allocated is freed by conf_free(). */
#include "conf/loader.h"

#include "conf/template.h"
#include "core/sy.h"

#include <libconfig.h>
#include <stdlib.h>
#include <string.h>

static const char *const op_names[] = { "generate", "edit", NULL };

/* What the field table reads of a template; moved into conf_template after. */
struct template_keys {
    char *prompt;
    char *operation;
};

static const struct conf_ld_field template_fields[] = {
    CLD_FSTR(struct template_keys, prompt, CLD_F_REQ, NULL),
    CLD_FSTR(struct template_keys, operation, 0, op_names),
};
static const char *const template_groups[] = { "choices", "defaults", NULL };

/* tmpl_scan callback: record each placeholder once. */
static int collect_var(void *ud, int is_var, const char *s, size_t n)
{
    struct conf_template *t = ud;
    if (!is_var || tmpl_var_index(t, s, n) < t->n_vars)
        return SY_OK;
    struct conf_tvar *nv = realloc(t->vars, (t->n_vars + 1) * sizeof *nv);
    if (!nv)
        return SY_ERR;
    t->vars = nv;
    memset(&nv[t->n_vars], 0, sizeof *nv);
    nv[t->n_vars].name = strndup(s, n);
    if (!nv[t->n_vars].name)
        return SY_ERR;
    t->n_vars++;
    return SY_OK;
}

/* The placeholder a choices / defaults member s names, or NULL after a message. */
static struct conf_tvar *member_var(struct conf_ld *ld, config_setting_t *s, const char *p,
                                    struct conf_template *t)
{
    const char *name = config_setting_name(s);
    size_t k = tmpl_var_index(t, name, strlen(name));
    if (k == t->n_vars) {
        conf_ld_fail(ld, s, "%s: the prompt has no placeholder {%s}", p, name);
        return NULL;
    }
    return &t->vars[k];
}

static int load_choices(struct conf_ld *ld, config_setting_t *tg, const char *path,
                        struct conf_template *t)
{
    char gp[192], p[224];
    config_setting_t *g;
    conf_ld_join(gp, sizeof gp, path, "choices");
    if (conf_ld_get_group(ld, tg, path, "choices", &g) != 0)
        return -1;
    for (int i = 0; g && i < config_setting_length(g); i++) {
        config_setting_t *s = config_setting_get_elem(g, (unsigned)i);
        struct conf_tvar *v =
                member_var(ld, s, conf_ld_join(p, sizeof p, gp, config_setting_name(s)), t);
        if (!v)
            return -1;
        if (!config_setting_is_array(s) && !config_setting_is_list(s))
            return conf_ld_fail(ld, s, "%s: must be a list of strings [\"a\", \"b\"], not %s", p,
                                conf_ld_type_name(config_setting_type(s)));
        size_t n = (size_t)config_setting_length(s);
        if (n == 0)
            return conf_ld_fail(ld, s, "%s: must list at least one value", p);
        v->choices = calloc(n, sizeof *v->choices);
        if (!v->choices)
            return conf_ld_fail(ld, s, "%s: out of memory", p);
        for (size_t j = 0; j < n; j++) {
            config_setting_t *e = config_setting_get_elem(s, (unsigned)j);
            const char *val = config_setting_get_string(e);
            if (!val || val[0] == '\0')
                return conf_ld_fail(ld, e, "%s[%zu]: must be a non-empty string", p, j);
            for (size_t k = 0; k < j; k++) {
                if (strcmp(v->choices[k], val) == 0)
                    return conf_ld_fail(ld, e, "%s[%zu]: duplicate value \"%s\"", p, j, val);
            }
            if (conf_ld_set_str(&v->choices[j], val) != 0)
                return conf_ld_fail(ld, e, "%s: out of memory", p);
            v->n_choices = j + 1;
        }
    }
    return 0;
}

static int load_defaults(struct conf_ld *ld, config_setting_t *tg, const char *path,
                         struct conf_template *t)
{
    static const struct conf_ld_field any_string = { "", CLD_K_STR, 0, 0, 0, 0, NULL };
    char gp[192], p[224];
    config_setting_t *g;
    conf_ld_join(gp, sizeof gp, path, "defaults");
    if (conf_ld_get_group(ld, tg, path, "defaults", &g) != 0)
        return -1;
    for (int i = 0; g && i < config_setting_length(g); i++) {
        config_setting_t *s = config_setting_get_elem(g, (unsigned)i);
        struct conf_tvar *v =
                member_var(ld, s, conf_ld_join(p, sizeof p, gp, config_setting_name(s)), t);
        if (!v || conf_ld_load_string(ld, s, p, &any_string, &v->def) != 0)
            return -1;
        size_t k = 0;
        while (k < v->n_choices && strcmp(v->choices[k], v->def) != 0)
            k++;
        if (v->n_choices > 0 && k == v->n_choices)
            return conf_ld_fail(ld, s, "%s: \"%s\" is not one of choices.%s", p, v->def, v->name);
    }
    return 0;
}

static int load_template(struct conf_ld *ld, config_setting_t *tg, const char *path,
                         struct conf_template *t)
{
    struct template_keys k = { 0 };
    char why[160] = "";
    t->line = (int)config_setting_source_line(tg);
    if (conf_ld_set_str(&t->name, config_setting_name(tg)) != 0)
        return conf_ld_fail(ld, tg, "%s: out of memory", path);
    if (!conf_ld_valid_name(t->name))
        return conf_ld_fail(
                ld, tg, "%s: use at most 64 letters, digits, '-' or '_' in a template name", path);
    if (!config_setting_is_group(tg))
        return conf_ld_fail(ld, tg, "%s: must be a group { prompt = ...; }, not %s", path,
                            conf_ld_type_name(config_setting_type(tg)));
    int rc = conf_ld_load_fields(ld, tg, path, template_fields, CLD_NFIELDS(template_fields), &k,
                                 template_groups);
    t->prompt = k.prompt;
    t->op = CONF_OP_UNSET;
    if (k.operation)
        t->op = strcmp(k.operation, "edit") == 0 ? CONF_OP_EDIT : CONF_OP_GENERATE;
    free(k.operation);
    if (rc != 0)
        return -1;
    config_setting_t *ps = config_setting_get_member(tg, "prompt");
    if (strspn(t->prompt, " \t\r\n\f\v") == strlen(t->prompt))
        return conf_ld_fail(ld, ps, "%s.prompt: must not be empty or only whitespace", path);
    if (tmpl_scan(t->prompt, collect_var, t, why, sizeof why) != SY_OK)
        return conf_ld_fail(ld, ps, "%s.prompt: %s", path, why[0] ? why : "out of memory");
    return load_choices(ld, tg, path, t) != 0 || load_defaults(ld, tg, path, t) != 0 ? -1 : 0;
}

/* templates = { name = { prompt = "..."; ... }; ... }; names are unique
 * because libconfig refuses a repeated setting name at parse time. */
int conf_ld_load_templates(struct conf_ld *ld, config_setting_t *root, struct conf *c)
{
    config_setting_t *g;
    if (conf_ld_get_group(ld, root, "", "templates", &g) != 0)
        return -1;
    if (!g || config_setting_length(g) == 0)
        return 0;
    size_t n = (size_t)config_setting_length(g);
    c->templates = calloc(n, sizeof *c->templates);
    if (!c->templates)
        return conf_ld_fail(ld, g, "templates: out of memory");
    for (size_t i = 0; i < n; i++) {
        char path[192];
        config_setting_t *tg = config_setting_get_elem(g, (unsigned)i);
        if (load_template(ld, tg,
                          conf_ld_join(path, sizeof path, "templates", config_setting_name(tg)),
                          &c->templates[c->n_templates++]) != 0)
            return -1;
    }
    return 0;
}
