/* template.c — prompt templates: one scanner for the {name} syntax, used by
 * the config loader (to check a prompt and list its placeholders) and by the
 * renderer (to fill them in), so both always agree on what a prompt means.
 *
 * Rendering resolves every placeholder's value first (job vars, else the
 * template default), checks it against the placeholder's choices, and only
 * then builds the text; an error therefore always names the first variable
 * of the template that is wrong, whatever order the prompt uses them in.
 * Pure: no I/O, no clock, no globals. */
#include "conf/template.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/sy.h"

#define TMPL_MAX_VALUE_SHOWN 64    /* bytes of a rejected value repeated in a message */
#define TMPL_MAX_CHOICES_SHOWN 300 /* bytes of the choices list in a message */

/* 1-based character (code point) position of p in s, for messages. */
static size_t char_pos(const char *s, const char *p)
{
    size_t n = 1;
    for (; s < p; s++)
        n += ((unsigned char)*s & 0xC0) != 0x80;
    return n;
}

int tmpl_scan(const char *prompt, tmpl_piece_fn fn, void *ud, char *err, size_t errlen)
{
    static const char name_chars[] = "abcdefghijklmnopqrstuvwxyz0123456789_";
    const char *s = prompt, *lit = prompt;

    while (*s != '\0') {
        if (*s != '{' && *s != '}') {
            s++;
            continue;
        }
        if (s > lit && fn(ud, 0, lit, (size_t)(s - lit)) != SY_OK)
            return SY_ERR;
        if (s[1] == s[0]) { /* {{ or }}: one literal brace */
            if (fn(ud, 0, s, 1) != SY_OK)
                return SY_ERR;
            s += 2;
            lit = s;
            continue;
        }
        if (*s == '}') {
            snprintf(err, errlen,
                     "'}' at character %zu closes nothing (write }} for a literal brace)",
                     char_pos(prompt, s));
            return SY_ERR;
        }
        const char *name = s + 1;
        size_t n = strspn(name, name_chars);
        if (n > 0 && name[n] == '}') {
            if (fn(ud, 1, name, n) != SY_OK)
                return SY_ERR;
            s = name + n + 1;
            lit = s;
            continue;
        }
        const char *close = strchr(name, '}');
        const char *open = strchr(name, '{');
        if (!close || (open && open < close))
            snprintf(err, errlen, "unclosed '{' at character %zu (write {{ for a literal brace)",
                     char_pos(prompt, s));
        else
            snprintf(err, errlen,
                     "bad placeholder name \"%.*s\" at character %zu (use a-z, 0-9 and _)",
                     (int)(close - name), name, char_pos(prompt, s));
        return SY_ERR;
    }
    if (s > lit && fn(ud, 0, lit, (size_t)(s - lit)) != SY_OK)
        return SY_ERR;
    return SY_OK;
}

size_t tmpl_var_index(const struct conf_template *t, const char *name, size_t n)
{
    size_t i = 0;
    while (i < t->n_vars &&
           !(strlen(t->vars[i].name) == n && memcmp(t->vars[i].name, name, n) == 0))
        i++;
    return i;
}

/* ---- rendering ---------------------------------------------------------- */

struct render {
    const struct conf_template *t;
    const char **values; /* per t->vars entry; borrowed from vars or t */
    char *p;
    size_t n, cap;
    int too_long;
};

static int append(struct render *r, const char *s, size_t n)
{
    /* Past this many bytes the prompt is over the cap (a character is at
     * most 4 bytes): stop before a template that repeats a long value can
     * grow without bound. */
    if (r->n + n > (size_t)CODEC_MAX_PROMPT * 4) {
        r->too_long = 1;
        return SY_ERR;
    }
    return sy_append(&r->p, &r->n, &r->cap, s, n, 256);
}

static int on_piece(void *ud, int is_var, const char *s, size_t n)
{
    struct render *r = ud;
    if (!is_var)
        return append(r, s, n);
    size_t i = tmpl_var_index(r->t, s, n);
    if (i == r->t->n_vars) /* a template not made by the loader */
        return SY_ERR;
    return append(r, r->values[i], strlen(r->values[i]));
}

/* "a", "b", "c" — cut with ", …" when long. */
static void list_choices(const struct conf_tvar *v, char *buf, size_t cap)
{
    size_t used = 0;
    buf[0] = '\0';
    for (size_t i = 0; i < v->n_choices; i++) {
        size_t need = strlen(v->choices[i]) + 4;
        if (used + need > TMPL_MAX_CHOICES_SHOWN || used + need >= cap) {
            snprintf(buf + used, cap - used, ", …");
            return;
        }
        used += (size_t)snprintf(buf + used, cap - used, "%s\"%s\"", i ? ", " : "", v->choices[i]);
    }
}

/* The value of placeholder v: from vars, else its default. NULL with err set
 * when it is missing, of the wrong type or not among the choices. */
static const char *resolve(const struct conf_template *t, const struct conf_tvar *v,
                           const json_object *vars, char *err, size_t errlen)
{
    json_object *jv = NULL;
    const char *value = v->def;

    if (vars && json_object_object_get_ex(vars, v->name, &jv)) {
        json_type type = json_object_get_type(jv);
        if (type != json_type_string && type != json_type_int && type != json_type_double) {
            snprintf(err, errlen, "vars.%s: must be a string or a number (template \"%s\")",
                     v->name, t->name);
            return NULL;
        }
        value = json_object_get_string(jv); /* numbers as json-c prints them */
    }
    if (!value) {
        snprintf(err, errlen, "vars.%s: missing (template \"%s\" needs it)", v->name, t->name);
        return NULL;
    }
    if (v->n_choices == 0)
        return value;
    for (size_t i = 0; i < v->n_choices; i++) {
        if (strcmp(v->choices[i], value) == 0)
            return value;
    }
    char list[TMPL_MAX_CHOICES_SHOWN + 8];
    list_choices(v, list, sizeof list);
    snprintf(err, errlen, "vars.%s: \"%.*s\" is not one of %s (template \"%s\")", v->name,
             TMPL_MAX_VALUE_SHOWN, value, list, t->name);
    return NULL;
}

int tmpl_render(const struct conf_template *t, const json_object *vars, char **out, char *err,
                size_t errlen)
{
    struct render r = { .t = t };
    int rc = SY_ERR;

    *out = NULL;
    r.values = calloc(t->n_vars ? t->n_vars : 1, sizeof *r.values);
    if (!r.values) {
        snprintf(err, errlen, "out of memory");
        return SY_ERR;
    }
    for (size_t i = 0; i < t->n_vars; i++) {
        r.values[i] = resolve(t, &t->vars[i], vars, err, errlen);
        if (!r.values[i])
            goto done;
    }
    char why[160] = "";
    if (tmpl_scan(t->prompt, on_piece, &r, why, sizeof why) != SY_OK) {
        if (why[0] != '\0')
            snprintf(err, errlen, "template \"%s\": %s", t->name, why);
        else if (r.too_long)
            snprintf(err, errlen, "template \"%s\": rendered prompt longer than %d characters",
                     t->name, CODEC_MAX_PROMPT);
        else
            snprintf(err, errlen, "template \"%s\": out of memory or undeclared placeholder",
                     t->name);
        goto done;
    }
    /* Spaces around the text are kept: they are the config's or the job's. */
    const char *s = r.p ? r.p : "";
    if (strspn(s, " \t\r\n\f\v") == r.n) {
        snprintf(err, errlen, "template \"%s\": rendered prompt is empty", t->name);
        goto done;
    }
    if (char_pos(s, s + r.n) - 1 > CODEC_MAX_PROMPT) {
        snprintf(err, errlen, "template \"%s\": rendered prompt longer than %d characters", t->name,
                 CODEC_MAX_PROMPT);
        goto done;
    }
    *out = r.p;
    r.p = NULL;
    rc = SY_OK;
done:
    free(r.values);
    free(r.p);
    return rc;
}
