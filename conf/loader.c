/* loader.c — the field-table machinery behind the libconfig loader (see
 * loader.h, internal to conf/): messages as "FILE:LINE: message", typed and
 * range-checked fields, unknown-key rejection, and the few checks more than
 * one group shares (listen addresses, base URLs, names, secrets).
 *
 * Nothing here keeps state beyond the struct conf_ld it is handed. The only
 * secret it reads is in conf_ld_resolve_secret(), which names the variable
 * in messages, never its value. */
#include "conf/loader.h"

#include <errno.h>
#include <libconfig.h>
#include <math.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- error reporting ---------------------------------------------------- */

int conf_ld_fail(struct conf_ld *ld, const config_setting_t *s, const char *fmt, ...)
{
    if (!ld->err || ld->errlen == 0)
        return -1;
    unsigned line = s ? config_setting_source_line(s) : 0;
    const char *file =
            s && config_setting_source_file(s) ? config_setting_source_file(s) : ld->file;
    int n = snprintf(ld->err, ld->errlen, "%s:%u: ", file, line ? line : 1);
    if (n >= 0 && (size_t)n < ld->errlen) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(ld->err + n, ld->errlen - (size_t)n, fmt, ap);
        va_end(ap);
    }
    return -1;
}

const char *conf_ld_join(char *buf, size_t n, const char *path, const char *key)
{
    /* A path longer than buf is cut; it only names a field in a message.
     * (Built by hand: GCC's -Wformat-truncation rejects the snprintf form at -O3.) */
    size_t pos = 0;
    const char *parts[3] = { path, path[0] ? "." : "", key };
    for (int i = 0; i < 3; i++) {
        size_t len = strlen(parts[i]);
        if (pos + len >= n)
            len = n - pos - 1;
        memcpy(buf + pos, parts[i], len);
        pos += len;
    }
    buf[pos] = '\0';
    return buf;
}

const char *conf_ld_type_name(int t)
{
    switch (t) {
    case CONFIG_TYPE_GROUP:
        return "a group";
    case CONFIG_TYPE_INT:
    case CONFIG_TYPE_INT64:
        return "an integer";
    case CONFIG_TYPE_FLOAT:
        return "a float";
    case CONFIG_TYPE_STRING:
        return "a string";
    case CONFIG_TYPE_BOOL:
        return "a boolean";
    case CONFIG_TYPE_ARRAY:
        return "an array";
    case CONFIG_TYPE_LIST:
        return "a list";
    default:
        return "an unknown type";
    }
}

int conf_ld_set_str(char **dst, const char *src)
{
    char *copy = NULL;
    if (src) {
        copy = strdup(src);
        if (!copy)
            return -1;
    }
    free(*dst);
    *dst = copy;
    return 0;
}

/* ---- table-driven groups ----------------------------------------------- */

static int range_fail(struct conf_ld *ld, config_setting_t *s, const char *p,
                      const struct conf_ld_field *f)
{
    if (f->hi >= CLD_NOMAX && f->kind == CLD_K_INT && f->lo == 1)
        return conf_ld_fail(ld, s, "%s: must be > 0", p);
    if (f->hi >= CLD_NOMAX && (f->flags & CLD_F_LO_OPEN))
        return conf_ld_fail(ld, s, "%s: must be > %.10g", p, f->lo);
    if (f->hi >= CLD_NOMAX)
        return conf_ld_fail(ld, s, "%s: must be >= %.10g", p, f->lo);
    if (f->flags & CLD_F_LO_OPEN)
        return conf_ld_fail(ld, s, "%s: must be > %.10g and <= %.10g", p, f->lo, f->hi);
    return conf_ld_fail(ld, s, "%s: must be between %.10g and %.10g", p, f->lo, f->hi);
}

static int load_number(struct conf_ld *ld, config_setting_t *s, const char *p,
                       const struct conf_ld_field *f, void *dst)
{
    int t = config_setting_type(s);
    double v;
    if (t == CONFIG_TYPE_INT || t == CONFIG_TYPE_INT64)
        v = (double)config_setting_get_int64(s);
    else if (t == CONFIG_TYPE_FLOAT && f->kind == CLD_K_DBL)
        v = config_setting_get_float(s);
    else
        return conf_ld_fail(ld, s, "%s: must be %s, not %s", p,
                            f->kind == CLD_K_INT ? "an integer" : "a number", conf_ld_type_name(t));
    /* libconfig 1.5 wraps integer literals above 2^31 silently; the range check
     * catches the negative ones, which is the best that can be done here. */
    if (!isfinite(v))
        return conf_ld_fail(ld, s, "%s: must be a finite number", p);
    if (v < f->lo || v > f->hi || ((f->flags & CLD_F_LO_OPEN) && v <= f->lo))
        return range_fail(ld, s, p, f);
    if (f->kind == CLD_K_INT)
        *(int *)dst = (int)v;
    else
        *(double *)dst = v;
    return 0;
}

int conf_ld_load_string(struct conf_ld *ld, config_setting_t *s, const char *p,
                        const struct conf_ld_field *f, void *dst)
{
    if (config_setting_type(s) != CONFIG_TYPE_STRING)
        return conf_ld_fail(ld, s, "%s: must be a string, not %s", p,
                            conf_ld_type_name(config_setting_type(s)));
    const char *v = config_setting_get_string(s);
    if ((f->flags & CLD_F_NONEMPTY) && v[0] == '\0')
        return conf_ld_fail(ld, s, "%s: must not be empty", p);
    if (f->choices) {
        size_t i = 0;
        while (f->choices[i] && strcmp(f->choices[i], v) != 0)
            i++;
        if (!f->choices[i]) {
            char list[160] = "";
            size_t used = 0;
            for (i = 0; f->choices[i] && used < sizeof list; i++) {
                int n = snprintf(list + used, sizeof list - used, "%s\"%s\"", i ? ", " : "",
                                 f->choices[i]);
                used += n > 0 ? (size_t)n : 0;
            }
            return conf_ld_fail(ld, s, "%s: must be one of %s, not \"%s\"", p, list, v);
        }
        if (f->kind == CLD_K_ENUM) {
            *(int *)dst = (int)i;
            return 0;
        }
    }
    if (conf_ld_set_str((char **)dst, v) != 0)
        return conf_ld_fail(ld, s, "%s: out of memory", p);
    return 0;
}

int conf_ld_check_keys(struct conf_ld *ld, config_setting_t *g, const char *path,
                       const struct conf_ld_field *f, size_t nf, const char *const *extra)
{
    for (int i = 0; i < config_setting_length(g); i++) {
        config_setting_t *s = config_setting_get_elem(g, (unsigned)i);
        const char *name = config_setting_name(s);
        int known = 0;
        for (size_t j = 0; j < nf && !known; j++)
            known = strcmp(f[j].key, name) == 0;
        for (size_t j = 0; extra && extra[j] && !known; j++)
            known = strcmp(extra[j], name) == 0;
        if (!known) {
            char p[192];
            return conf_ld_fail(ld, s, "%s: unknown setting",
                                conf_ld_join(p, sizeof p, path, name));
        }
    }
    return 0;
}

int conf_ld_load_fields(struct conf_ld *ld, config_setting_t *g, const char *path,
                        const struct conf_ld_field *f, size_t nf, void *base,
                        const char *const *extra)
{
    if (conf_ld_check_keys(ld, g, path, f, nf, extra) != 0)
        return -1;
    for (size_t i = 0; i < nf; i++) {
        char p[192];
        config_setting_t *s = config_setting_get_member(g, f[i].key);
        conf_ld_join(p, sizeof p, path, f[i].key);
        if (!s) {
            if (f[i].flags & CLD_F_REQ)
                return conf_ld_fail(ld, g, "%s: missing required setting", p);
            continue;
        }
        char *dst = (char *)base + f[i].off;
        int rc = f[i].kind == CLD_K_STR || f[i].kind == CLD_K_ENUM
                         ? conf_ld_load_string(ld, s, p, &f[i], dst)
                         : load_number(ld, s, p, &f[i], dst);
        if (rc != 0)
            return -1;
    }
    return 0;
}

int conf_ld_get_group(struct conf_ld *ld, config_setting_t *parent, const char *path,
                      const char *key, config_setting_t **out)
{
    char p[192];
    *out = config_setting_get_member(parent, key);
    if (*out && !config_setting_is_group(*out))
        return conf_ld_fail(ld, *out, "%s: must be a group { ... }, not %s",
                            conf_ld_join(p, sizeof p, path, key),
                            conf_ld_type_name(config_setting_type(*out)));
    return 0;
}

config_setting_t *conf_ld_member_or_self(config_setting_t *g, const char *key)
{
    config_setting_t *s = config_setting_get_member(g, key);
    return s ? s : g;
}

int conf_ld_load_subgroup(struct conf_ld *ld, config_setting_t *parent, const char *path,
                          const char *key, const struct conf_ld_field *f, size_t nf, void *base)
{
    config_setting_t *g;
    char p[192];
    if (conf_ld_get_group(ld, parent, path, key, &g) != 0)
        return -1;
    return g ? conf_ld_load_fields(ld, g, conf_ld_join(p, sizeof p, path, key), f, nf, base, NULL)
             : 0;
}

/* ---- shared checks ----------------------------------------------------- */

int conf_ld_valid_listen(const char *v)
{
    if (v[0] == '\0')
        return 1;
    const char *colon = strrchr(v, ':');
    if (!colon || colon == v || colon[1] == '\0')
        return 0;
    char *end;
    errno = 0;
    long port = strtol(colon + 1, &end, 10);
    return errno == 0 && *end == '\0' && port >= 1 && port <= 65535;
}

int conf_ld_resolve_secret(struct conf_ld *ld, config_setting_t *s, const char *field,
                           const char *env, char **dst)
{
    /* Not a variable name: maybe the secret itself pasted here. Never echo it. */
    int name_ok = env[0] != '\0' &&
                  strspn(env, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz_0123456789") ==
                          strlen(env) &&
                  !(env[0] >= '0' && env[0] <= '9');
    if (!name_ok)
        return conf_ld_fail(
                ld, s,
                "%s: must name an environment variable (letters, digits, _), not hold the key",
                field);
    const char *v = getenv(env);
    if (!v)
        return conf_ld_fail(ld, s, "%s: environment variable %s is not set", field, env);
    if (v[0] == '\0')
        return conf_ld_fail(ld, s, "%s: environment variable %s is empty", field, env);
    if (conf_ld_set_str(dst, v) != 0)
        return conf_ld_fail(ld, s, "%s: out of memory", field);
    return 0;
}
int conf_ld_valid_base_url(const char *u)
{
    const char *host = strncmp(u, "http://", 7) == 0    ? u + 7
                       : strncmp(u, "https://", 8) == 0 ? u + 8
                                                        : NULL;
    return host && *host != '\0' && *host != '/';
}

void conf_ld_strip_slashes(char *u)
{
    for (size_t n = strlen(u); n > 0 && u[n - 1] == '/'; n--)
        u[n - 1] = '\0';
}

int conf_ld_valid_name(const char *s)
{
    size_t n = strlen(s);
    if (n > 64)
        return 0;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '-' || c == '_'))
            return 0;
    }
    return 1;
}
