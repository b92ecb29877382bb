/* config.c — libconfig file → one validated, read-only struct conf.
 *
 * How it reads: every group is described by a table of fields (key, kind,
 * offset, range). load_fields() rejects keys that are not in the table (or in
 * a short list of sub-groups the caller handles itself), type-checks each
 * present key, range-checks it and stores it over the default that was put
 * there before. Defaults are therefore plain assignments done before parsing;
 * per-provider values that inherit from the worker group are copied from the
 * already-parsed worker group the same way, so after load nothing is "unset".
 *
 * Invariants of a returned struct conf: every string the header does not
 * document as nullable is non-NULL; providers are sorted by priority with
 * unique names and priorities; every provider has a resolved, non-empty
 * api_key and at least one model. On error nothing leaks: a partially filled
 * struct is released by conf_free(), which tolerates zeroed fields.
 *
 * Messages never contain an API key: the only place a key is read is
 * resolve_api_key(), and it reports the variable's name only. */
#include "config.h"

#include "conf/template.h"
#include "worker/sy.h"

#include <errno.h>
#include <libconfig.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

/* ---- error reporting ---------------------------------------------------- */

struct ld {
    const char *file; /* file name (or the name given to conf_load_string) */
    char *err;
    size_t errlen;
};

/* Writes "FILE:LINE: message" for setting s (LINE 1 for the root, which has
 * none of its own) and returns -1 so callers can `return fail(...)`. */
static int fail(struct ld *ld, const config_setting_t *s, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int fail(struct ld *ld, const config_setting_t *s, const char *fmt, ...)
{
    if (ld->err == NULL || ld->errlen == 0)
        return -1;
    unsigned line = s ? config_setting_source_line(s) : 0;
    const char *file = s && config_setting_source_file(s) ? config_setting_source_file(s) : ld->file;
    int n = snprintf(ld->err, ld->errlen, "%s:%u: ", file, line ? line : 1);
    if (n >= 0 && (size_t)n < ld->errlen) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(ld->err + n, ld->errlen - (size_t)n, fmt, ap);
        va_end(ap);
    }
    return -1;
}

/* "path.key", or just "key" at the top level. */
static const char *join(char *buf, size_t n, const char *path, const char *key)
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

static const char *type_name(int t)
{
    switch (t) {
    case CONFIG_TYPE_GROUP: return "a group";
    case CONFIG_TYPE_INT:
    case CONFIG_TYPE_INT64: return "an integer";
    case CONFIG_TYPE_FLOAT: return "a float";
    case CONFIG_TYPE_STRING: return "a string";
    case CONFIG_TYPE_BOOL: return "a boolean";
    case CONFIG_TYPE_ARRAY: return "an array";
    case CONFIG_TYPE_LIST: return "a list";
    default: return "an unknown type";
    }
}

/* Frees *dst and replaces it with a copy of src (NULL stays NULL). */
static int set_str(char **dst, const char *src)
{
    char *copy = NULL;
    if (src != NULL) {
        copy = strdup(src);
        if (copy == NULL)
            return -1;
    }
    free(*dst);
    *dst = copy;
    return 0;
}

/* ---- table-driven groups ----------------------------------------------- */

enum fkind { F_INT, F_DBL, F_STR, F_ENUM }; /* F_ENUM: a string from choices, stored as its index (int) */

enum {
    F_REQ = 1u << 0,      /* missing is an error */
    F_LO_OPEN = 1u << 1,  /* numeric: must be > lo rather than >= lo */
    F_NONEMPTY = 1u << 2, /* string: "" is an error */
};

struct field {
    const char *key;
    enum fkind kind;
    size_t off;                 /* offset of the int / double / char * in the target struct */
    double lo, hi;              /* numeric range; hi inclusive */
    unsigned flags;
    const char *const *choices; /* F_STR: allowed values, NULL-terminated; NULL = any */
};

#define NOMAX ((double)INT_MAX)
#define FINT(S, K, LO, HI, FL) { #K, F_INT, offsetof(S, K), LO, HI, FL, NULL }
#define FDBL(S, K, LO, HI, FL) { #K, F_DBL, offsetof(S, K), LO, HI, FL, NULL }
#define FSTR(S, K, FL, CH) { #K, F_STR, offsetof(S, K), 0, 0, FL, CH }
#define FENUM(S, K, CH) { #K, F_ENUM, offsetof(S, K), 0, 0, 0, CH }
#define NFIELDS(a) (sizeof(a) / sizeof((a)[0]))

static int range_fail(struct ld *ld, config_setting_t *s, const char *p, const struct field *f)
{
    if (f->hi >= NOMAX && f->kind == F_INT && f->lo == 1)
        return fail(ld, s, "%s: must be > 0", p);
    if (f->hi >= NOMAX && (f->flags & F_LO_OPEN))
        return fail(ld, s, "%s: must be > %.10g", p, f->lo);
    if (f->hi >= NOMAX)
        return fail(ld, s, "%s: must be >= %.10g", p, f->lo);
    if (f->flags & F_LO_OPEN)
        return fail(ld, s, "%s: must be > %.10g and <= %.10g", p, f->lo, f->hi);
    return fail(ld, s, "%s: must be between %.10g and %.10g", p, f->lo, f->hi);
}

static int load_number(struct ld *ld, config_setting_t *s, const char *p, const struct field *f, void *dst)
{
    int t = config_setting_type(s);
    double v;
    if (t == CONFIG_TYPE_INT || t == CONFIG_TYPE_INT64)
        v = (double)config_setting_get_int64(s);
    else if (t == CONFIG_TYPE_FLOAT && f->kind == F_DBL)
        v = config_setting_get_float(s);
    else
        return fail(ld, s, "%s: must be %s, not %s", p, f->kind == F_INT ? "an integer" : "a number", type_name(t));
    /* libconfig 1.5 wraps integer literals above 2^31 silently; the range check
     * catches the negative ones, which is the best that can be done here. */
    if (!isfinite(v))
        return fail(ld, s, "%s: must be a finite number", p);
    if (v < f->lo || v > f->hi || ((f->flags & F_LO_OPEN) && v <= f->lo))
        return range_fail(ld, s, p, f);
    if (f->kind == F_INT)
        *(int *)dst = (int)v;
    else
        *(double *)dst = v;
    return 0;
}

static int load_string(struct ld *ld, config_setting_t *s, const char *p, const struct field *f, void *dst)
{
    if (config_setting_type(s) != CONFIG_TYPE_STRING)
        return fail(ld, s, "%s: must be a string, not %s", p, type_name(config_setting_type(s)));
    const char *v = config_setting_get_string(s);
    if ((f->flags & F_NONEMPTY) && v[0] == '\0')
        return fail(ld, s, "%s: must not be empty", p);
    if (f->choices != NULL) {
        size_t i = 0;
        while (f->choices[i] != NULL && strcmp(f->choices[i], v) != 0)
            i++;
        if (f->choices[i] == NULL) {
            char list[160] = "";
            size_t used = 0;
            for (i = 0; f->choices[i] != NULL && used < sizeof list; i++) {
                int n = snprintf(list + used, sizeof list - used, "%s\"%s\"", i ? ", " : "", f->choices[i]);
                used += n > 0 ? (size_t)n : 0;
            }
            return fail(ld, s, "%s: must be one of %s, not \"%s\"", p, list, v);
        }
        if (f->kind == F_ENUM) {
            *(int *)dst = (int)i;
            return 0;
        }
    }
    if (set_str((char **)dst, v) != 0)
        return fail(ld, s, "%s: out of memory", p);
    return 0;
}

/* Rejects any member of group g that is neither a field nor in extra. */
static int check_keys(struct ld *ld, config_setting_t *g, const char *path, const struct field *f, size_t nf,
                      const char *const *extra)
{
    for (int i = 0; i < config_setting_length(g); i++) {
        config_setting_t *s = config_setting_get_elem(g, (unsigned)i);
        const char *name = config_setting_name(s);
        int known = 0;
        for (size_t j = 0; j < nf && !known; j++)
            known = strcmp(f[j].key, name) == 0;
        for (size_t j = 0; extra != NULL && extra[j] != NULL && !known; j++)
            known = strcmp(extra[j], name) == 0;
        if (!known) {
            char p[192];
            return fail(ld, s, "%s: unknown setting", join(p, sizeof p, path, name));
        }
    }
    return 0;
}

/* Checks the keys of group g, then loads every present field into base. */
static int load_fields(struct ld *ld, config_setting_t *g, const char *path, const struct field *f, size_t nf,
                       void *base, const char *const *extra)
{
    if (check_keys(ld, g, path, f, nf, extra) != 0)
        return -1;
    for (size_t i = 0; i < nf; i++) {
        char p[192];
        config_setting_t *s = config_setting_get_member(g, f[i].key);
        join(p, sizeof p, path, f[i].key);
        if (s == NULL) {
            if (f[i].flags & F_REQ)
                return fail(ld, g, "%s: missing required setting", p);
            continue;
        }
        char *dst = (char *)base + f[i].off;
        int rc = f[i].kind == F_STR || f[i].kind == F_ENUM ? load_string(ld, s, p, &f[i], dst)
                                                           : load_number(ld, s, p, &f[i], dst);
        if (rc != 0)
            return -1;
    }
    return 0;
}

/* *out = member key of parent when it is a group, NULL when absent. */
static int get_group(struct ld *ld, config_setting_t *parent, const char *path, const char *key,
                     config_setting_t **out)
{
    char p[192];
    *out = config_setting_get_member(parent, key);
    if (*out != NULL && !config_setting_is_group(*out))
        return fail(ld, *out, "%s: must be a group { ... }, not %s", join(p, sizeof p, path, key),
                    type_name(config_setting_type(*out)));
    return 0;
}

/* Member key of g for pointing a message at, or g itself when key is absent. */
static config_setting_t *member_or_self(config_setting_t *g, const char *key)
{
    config_setting_t *s = config_setting_get_member(g, key);
    return s != NULL ? s : g;
}

/* Loads optional group `key` of parent through a field table. */
static int load_subgroup(struct ld *ld, config_setting_t *parent, const char *path, const char *key,
                         const struct field *f, size_t nf, void *base)
{
    config_setting_t *g;
    char p[192];
    if (get_group(ld, parent, path, key, &g) != 0)
        return -1;
    return g == NULL ? 0 : load_fields(ld, g, join(p, sizeof p, path, key), f, nf, base, NULL);
}

/* ---- field tables ------------------------------------------------------- */

static const char *const log_levels[] = { "debug", "info", "warn", "error", NULL };
static const char *const scopes[] = { "worker", "fleet", NULL };
static const char *const jpeg_names[] = { "jpeg", "jpg", NULL };
static const char *const type_names[] = { "kie", "replicate", NULL };

static const struct field worker_fields[] = {
    FINT(struct conf_worker, max_in_flight, 1, NOMAX, 0),
    FINT(struct conf_worker, shutdown_grace_s, 0, NOMAX, 0),
    FINT(struct conf_worker, connect_timeout_ms, 1, NOMAX, 0),
    FINT(struct conf_worker, request_timeout_ms, 1, NOMAX, 0),
    FINT(struct conf_worker, max_body_bytes, 1, NOMAX, 0),
    FINT(struct conf_worker, max_host_connections, 1, NOMAX, 0),
    FINT(struct conf_worker, max_total_connections, 0, NOMAX, 0),
    FINT(struct conf_worker, default_deadline_s, 1, NOMAX, 0),
    FSTR(struct conf_worker, user_agent, F_NONEMPTY, NULL),
    FSTR(struct conf_worker, metrics_listen, 0, NULL),
    FSTR(struct conf_worker, log_level, 0, log_levels),
};

static const struct field kafka_fields[] = {
    FSTR(struct conf_kafka, brokers, F_NONEMPTY, NULL),
    FSTR(struct conf_kafka, group, F_NONEMPTY, NULL),
    FSTR(struct conf_kafka, input_topic, F_NONEMPTY, NULL),
    FSTR(struct conf_kafka, output_topic, F_NONEMPTY, NULL),
    FSTR(struct conf_kafka, dlq_topic, F_NONEMPTY, NULL),
    FSTR(struct conf_kafka, callback_topic, F_NONEMPTY, NULL),
};

static const struct field callbacks_fields[] = {
    FSTR(struct conf_callbacks, listen, 0, NULL),
    FSTR(struct conf_callbacks, public_url, 0, NULL),
    FSTR(struct conf_callbacks, kie_hmac_key_env, F_NONEMPTY, NULL),
    FSTR(struct conf_callbacks, webhook_secret_env, F_NONEMPTY, NULL),
    FINT(struct conf_callbacks, tolerance_s, 1, 86400, 0),
    FINT(struct conf_callbacks, safety_poll_s, 1, NOMAX, 0),
};

static const struct field provider_fields[] = {
    FSTR(struct conf_provider, name, F_REQ | F_NONEMPTY, NULL),
    FINT(struct conf_provider, priority, 0, NOMAX, F_REQ),
    FSTR(struct conf_provider, base_url, F_REQ | F_NONEMPTY, NULL),
    FSTR(struct conf_provider, api_key_env, F_REQ | F_NONEMPTY, NULL),
    FSTR(struct conf_provider, proxy, 0, NULL),
    FINT(struct conf_provider, wait_s, 0, 60, 0),
    FINT(struct conf_provider, connect_timeout_ms, 1, NOMAX, 0),
    FINT(struct conf_provider, request_timeout_ms, 1, NOMAX, 0),
    FINT(struct conf_provider, max_connections, 1, NOMAX, 0),
    FINT(struct conf_provider, not_ready_tolerance, 0, NOMAX, 0),
};
static const char *const provider_groups[] = { "type", "poll", "rate_limit", "breaker", "retry", "models", NULL };

/* In enum conf_poll_mode order. */
static const char *const poll_modes[] = { "adaptive", "fixed", NULL };

static const struct field poll_fields[] = {
    FINT(struct conf_poll, first_ms, 1, NOMAX, 0),
    FINT(struct conf_poll, interval_ms, 1, NOMAX, 0),
    FINT(struct conf_poll, max_s, 1, NOMAX, 0),
    FENUM(struct conf_poll, mode, poll_modes),
    FINT(struct conf_poll, max_lag_ms, 1, 600000, 0),
    FINT(struct conf_poll, expect_median_ms, 250, 3600000, 0),
    FDBL(struct conf_poll, expect_sigma, 0.01, 3, 0),
    FINT(struct conf_poll, min_interval_ms, 1, 600000, 0),
    FINT(struct conf_poll, max_interval_ms, 1, 3600000, 0),
};

static const struct field rate_limit_fields[] = {
    FDBL(struct conf_rate_limit, create_per_s, 0, HUGE_VAL, F_LO_OPEN),
    FINT(struct conf_rate_limit, create_burst, 1, NOMAX, 0),
    FINT(struct conf_rate_limit, create_window_max, 0, NOMAX, 0),
    FINT(struct conf_rate_limit, create_window_s, 1, NOMAX, 0),
    FDBL(struct conf_rate_limit, poll_per_s, 0, HUGE_VAL, F_LO_OPEN),
    FINT(struct conf_rate_limit, poll_burst, 1, NOMAX, 0),
    FINT(struct conf_rate_limit, max_in_flight, 1, NOMAX, 0),
    FSTR(struct conf_rate_limit, scope, 0, scopes),
};

static const struct field breaker_fields[] = {
    FINT(struct conf_breaker, window, 1, NOMAX, 0),
    FINT(struct conf_breaker, min_calls, 1, NOMAX, 0),
    FDBL(struct conf_breaker, failure_rate, 0, 1, F_LO_OPEN),
    FINT(struct conf_breaker, open_s, 1, NOMAX, 0),
    FINT(struct conf_breaker, half_open_probes, 1, NOMAX, 0),
};

static const struct field retry_fields[] = {
    FINT(struct conf_retry, max_attempts, 1, NOMAX, 0),
    FINT(struct conf_retry, backoff_base_ms, 1, NOMAX, 0),
    FINT(struct conf_retry, backoff_max_ms, 1, NOMAX, 0),
    FDBL(struct conf_retry, budget_ratio, 0, 1, 0),
    FDBL(struct conf_retry, budget_min_per_s, 0, HUGE_VAL, 0),
};

static const struct field model_fields[] = {
    FSTR(struct conf_model, name, F_REQ | F_NONEMPTY, NULL),
    FSTR(struct conf_model, generate, F_NONEMPTY, NULL),
    FSTR(struct conf_model, edit, F_NONEMPTY, NULL),
    FSTR(struct conf_model, image_field, F_NONEMPTY, NULL),
    FSTR(struct conf_model, jpeg_name, 0, jpeg_names),
};

/* ---- defaults ----------------------------------------------------------- */

struct builtin_model {
    const char *name, *generate, *edit, *image_field, *jpeg_name;
};

static const struct builtin_model kie_models[] = {
    { "nano-banana", "google/nano-banana", "google/nano-banana-edit", "image_urls", "jpeg" },
    { "nano-banana-pro", "nano-banana-pro", "nano-banana-pro", "image_input", "jpg" },
};

static const struct builtin_model replicate_models[] = {
    { "nano-banana", "google/nano-banana", "google/nano-banana", "image_input", "jpg" },
    { "nano-banana-pro", "google/nano-banana-pro", "google/nano-banana-pro", "image_input", "jpg" },
};

/* Per-type defaults. Rate limits sit under the published limits
 * (PROVIDERS.md): KIE 20 creates / 10 s and 10 polls / s per key; Replicate
 * 600 creates / min and 3000 other requests / min. */
struct type_info {
    const char *name;
    enum conf_provider_type type;
    struct conf_poll poll;
    struct conf_rate_limit rate_limit; /* scope filled in separately */
    const struct builtin_model *models;
    size_t n_models;
    const char *image_field, *jpeg_name; /* for model entries the built-ins do not name */
};

static const struct type_info types[] = {
    /* Poll priors: KIE's nano-banana takes 20-30 s end to end (its queue
     * included); Replicate runs the same model with no KIE-style queue in
     * front, typically 10-20 s, and with less data behind the guess the
     * prior is wider. Either is replaced by what is observed within a few
     * dozen tasks. */
    { "kie", CONF_PROV_KIE,
      { .first_ms = 5000, .interval_ms = 3000, .max_s = 900, .mode = CONF_POLL_ADAPTIVE, .max_lag_ms = 1000,
        .expect_median_ms = 25000, .expect_sigma = 0.35, .min_interval_ms = 500, .max_interval_ms = 30000 },
      { .create_per_s = 1.6, .create_burst = 18, .create_window_max = 18, .create_window_s = 11,
        .poll_per_s = 8, .poll_burst = 8, .max_in_flight = 500 },
      kie_models, NFIELDS(kie_models), "image_urls", "jpeg" },
    { "replicate", CONF_PROV_REPLICATE,
      { .first_ms = 2000, .interval_ms = 2000, .max_s = 1800, .mode = CONF_POLL_ADAPTIVE, .max_lag_ms = 1000,
        .expect_median_ms = 15000, .expect_sigma = 0.5, .min_interval_ms = 500, .max_interval_ms = 30000 },
      { .create_per_s = 9, .create_burst = 20, .create_window_max = 0, .create_window_s = 10,
        .poll_per_s = 45, .poll_burst = 50, .max_in_flight = 500 },
      replicate_models, NFIELDS(replicate_models), "image_input", "jpg" },
};

static const struct conf_breaker default_breaker = { 50, 20, 0.5, 30, 3 };
static const struct conf_retry default_retry = { 4, 500, 30000, 0.2, 1.0 };

static int worker_defaults(struct conf_worker *w)
{
    w->max_in_flight = 1000;
    w->shutdown_grace_s = 30;
    w->connect_timeout_ms = 10000;
    w->request_timeout_ms = 30000;
    w->max_body_bytes = 1048576;
    w->max_host_connections = 64;
    w->max_total_connections = 0;
    w->default_deadline_s = 1800;
    if (set_str(&w->user_agent, "switchyard/" SY_VERSION " (+https://github.com/switchyard)") != 0 ||
        set_str(&w->metrics_listen, "127.0.0.1:9464") != 0 || set_str(&w->log_level, "info") != 0)
        return -1;
    return 0;
}

static int kafka_defaults(struct conf_kafka *k)
{
    if (set_str(&k->brokers, "127.0.0.1:9092") != 0 || set_str(&k->group, "switchyard") != 0 ||
        set_str(&k->input_topic, "switchyard.jobs") != 0 || set_str(&k->output_topic, "switchyard.results") != 0 ||
        set_str(&k->dlq_topic, "switchyard.dlq") != 0)
        return -1;
    return 0;
}

static int provider_defaults(struct conf_provider *p, const struct type_info *ti, const struct conf_worker *w)
{
    p->type = ti->type;
    p->wait_s = 0;
    p->connect_timeout_ms = w->connect_timeout_ms;
    p->request_timeout_ms = w->request_timeout_ms;
    p->max_connections = w->max_host_connections;
    p->not_ready_tolerance = 5;
    p->poll = ti->poll;
    p->rate_limit = ti->rate_limit;
    p->rate_limit.scope = NULL;
    p->breaker = default_breaker;
    p->retry = default_retry;
    return set_str(&p->rate_limit.scope, "worker");
}

/* ---- sections ----------------------------------------------------------- */

/* "" or "host:port" with a numeric port 1..65535 (host may be "[v6]"). */
static int valid_listen(const char *v)
{
    if (v[0] == '\0')
        return 1;
    const char *colon = strrchr(v, ':');
    if (colon == NULL || colon == v || colon[1] == '\0')
        return 0;
    char *end;
    errno = 0;
    long port = strtol(colon + 1, &end, 10);
    return errno == 0 && *end == '\0' && port >= 1 && port <= 65535;
}

static int load_worker(struct ld *ld, config_setting_t *root, struct conf_worker *w)
{
    config_setting_t *g;
    if (worker_defaults(w) != 0)
        return fail(ld, root, "out of memory");
    if (get_group(ld, root, "", "worker", &g) != 0)
        return -1;
    if (g == NULL)
        return 0;
    if (load_fields(ld, g, "worker", worker_fields, NFIELDS(worker_fields), w, NULL) != 0)
        return -1;
    if (!valid_listen(w->metrics_listen))
        return fail(ld, config_setting_get_member(g, "metrics_listen"),
                    "worker.metrics_listen: must be \"host:port\" (port 1..65535) or \"\" to disable");
    return 0;
}

/* kafka.properties is a group of string settings. libconfig names cannot
 * contain '.', so each '_' in a name stands for '.' ("security_protocol" →
 * "security.protocol"); librdkafka property names contain no '_'. */
static int load_kafka_properties(struct ld *ld, config_setting_t *kg, struct conf_kafka *k)
{
    config_setting_t *g;
    if (get_group(ld, kg, "kafka", "properties", &g) != 0)
        return -1;
    if (g == NULL || config_setting_length(g) == 0)
        return 0;
    size_t n = (size_t)config_setting_length(g);
    k->properties = calloc(n, sizeof *k->properties);
    if (k->properties == NULL)
        return fail(ld, g, "kafka.properties: out of memory");
    for (size_t i = 0; i < n; i++) {
        config_setting_t *s = config_setting_get_elem(g, (unsigned)i);
        const char *name = config_setting_name(s);
        if (config_setting_type(s) != CONFIG_TYPE_STRING)
            return fail(ld, s, "kafka.properties.%s: must be a string (librdkafka takes string values), not %s",
                        name, type_name(config_setting_type(s)));
        struct conf_kv *kv = &k->properties[k->n_properties++];
        if (set_str(&kv->key, name) != 0 || set_str(&kv->value, config_setting_get_string(s)) != 0)
            return fail(ld, s, "kafka.properties: out of memory");
        for (char *c = kv->key; *c != '\0'; c++) {
            if (*c == '_')
                *c = '.';
        }
    }
    return 0;
}

static int load_kafka(struct ld *ld, config_setting_t *root, struct conf_kafka *k)
{
    config_setting_t *g;
    static const char *const extra[] = { "properties", NULL };
    if (kafka_defaults(k) != 0)
        return fail(ld, root, "out of memory");
    if (get_group(ld, root, "", "kafka", &g) != 0)
        return -1;
    if (g != NULL) {
        k->present = 1;
        if (load_fields(ld, g, "kafka", kafka_fields, NFIELDS(kafka_fields), k, extra) != 0)
            return -1;
        if (strcmp(k->input_topic, k->output_topic) == 0 || strcmp(k->input_topic, k->dlq_topic) == 0)
            return fail(ld, member_or_self(g, "input_topic"),
                        "kafka.input_topic: must differ from output_topic and dlq_topic");
    }
    if (k->callback_topic == NULL && asprintf(&k->callback_topic, "%s.callbacks", k->input_topic) < 0) {
        k->callback_topic = NULL;
        return fail(ld, root, "out of memory");
    }
    if (g != NULL && (strcmp(k->callback_topic, k->input_topic) == 0 || strcmp(k->callback_topic, k->output_topic) == 0 ||
                      strcmp(k->callback_topic, k->dlq_topic) == 0))
        return fail(ld, member_or_self(g, "callback_topic"),
                    "kafka.callback_topic: must differ from input_topic, output_topic and dlq_topic");
    return g == NULL ? 0 : load_kafka_properties(ld, g, k);
}

static const struct builtin_model *builtin(const struct type_info *ti, const char *name)
{
    for (size_t i = 0; i < ti->n_models; i++) {
        if (strcmp(ti->models[i].name, name) == 0)
            return &ti->models[i];
    }
    return NULL;
}

static int load_models(struct ld *ld, config_setting_t *pg, const char *path, const struct type_info *ti,
                       struct conf_provider *p)
{
    char p2[128], mp[160];
    config_setting_t *list = config_setting_get_member(pg, "models");

    if (list == NULL) {
        p->models = calloc(ti->n_models, sizeof *p->models);
        if (p->models == NULL)
            return fail(ld, pg, "%s: out of memory", path);
        for (size_t i = 0; i < ti->n_models; i++) {
            const struct builtin_model *b = &ti->models[i];
            struct conf_model *m = &p->models[p->n_models++];
            m->line = (int)config_setting_source_line(pg);
            if (set_str(&m->name, b->name) != 0 || set_str(&m->generate, b->generate) != 0 ||
                set_str(&m->edit, b->edit) != 0 || set_str(&m->image_field, b->image_field) != 0 ||
                set_str(&m->jpeg_name, b->jpeg_name) != 0)
                return fail(ld, pg, "%s: out of memory", path);
        }
        return 0;
    }
    join(p2, sizeof p2, path, "models");
    if (!config_setting_is_list(list) && !config_setting_is_array(list))
        return fail(ld, list, "%s: must be a list ( { ... }, ... ), not %s", p2, type_name(config_setting_type(list)));
    size_t n = (size_t)config_setting_length(list);
    if (n == 0)
        return fail(ld, list, "%s: must have at least one model", p2);
    p->models = calloc(n, sizeof *p->models);
    if (p->models == NULL)
        return fail(ld, list, "%s: out of memory", p2);
    for (size_t i = 0; i < n; i++) {
        config_setting_t *e = config_setting_get_elem(list, (unsigned)i);
        struct conf_model *m = &p->models[p->n_models++];
        snprintf(mp, sizeof mp, "%s[%zu]", p2, i);
        if (!config_setting_is_group(e))
            return fail(ld, e, "%s: must be a group { name = ...; ... }, not %s", mp,
                        type_name(config_setting_type(e)));
        m->line = (int)config_setting_source_line(e);
        if (load_fields(ld, e, mp, model_fields, NFIELDS(model_fields), m, NULL) != 0)
            return -1;
        if (m->generate == NULL && m->edit == NULL)
            return fail(ld, e, "%s: needs at least one of generate, edit", mp);
        for (size_t j = 0; j < i; j++) {
            if (strcmp(p->models[j].name, m->name) == 0)
                return fail(ld, config_setting_get_member(e, "name"), "%s.name: duplicate model \"%s\" (also %s[%zu])",
                            mp, m->name, p2, j);
        }
        const struct builtin_model *b = builtin(ti, m->name);
        if ((m->image_field == NULL && set_str(&m->image_field, b ? b->image_field : ti->image_field) != 0) ||
            (m->jpeg_name == NULL && set_str(&m->jpeg_name, b ? b->jpeg_name : ti->jpeg_name) != 0))
            return fail(ld, e, "%s: out of memory", mp);
    }
    return 0;
}

/* Reads the secret named by setting s (its value `env`, at `field`) from the
 * environment into *dst. The value never reaches a message. */
static int resolve_secret(struct ld *ld, config_setting_t *s, const char *field, const char *env, char **dst)
{
    /* Not a variable name: maybe the secret itself pasted here. Never echo it. */
    int name_ok = env[0] != '\0' &&
                  strspn(env, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz_0123456789") == strlen(env) &&
                  !(env[0] >= '0' && env[0] <= '9');
    if (!name_ok)
        return fail(ld, s, "%s: must name an environment variable (letters, digits, _), not hold the key", field);
    const char *v = getenv(env);
    if (v == NULL)
        return fail(ld, s, "%s: environment variable %s is not set", field, env);
    if (v[0] == '\0')
        return fail(ld, s, "%s: environment variable %s is empty", field, env);
    if (set_str(dst, v) != 0)
        return fail(ld, s, "%s: out of memory", field);
    return 0;
}

static int resolve_api_key(struct ld *ld, config_setting_t *pg, const char *path, struct conf_provider *p)
{
    char f[192];
    return resolve_secret(ld, config_setting_get_member(pg, "api_key_env"), join(f, sizeof f, path, "api_key_env"),
                          p->api_key_env, &p->api_key);
}

/* "http(s)://host…": 1 when it is. */
static int valid_base_url(const char *u)
{
    const char *host = strncmp(u, "http://", 7) == 0 ? u + 7 : strncmp(u, "https://", 8) == 0 ? u + 8 : NULL;
    return host && *host != '\0' && *host != '/';
}

static void strip_slashes(char *u)
{
    for (size_t n = strlen(u); n > 0 && u[n - 1] == '/'; n--)
        u[n - 1] = '\0';
}

static int load_callbacks(struct ld *ld, config_setting_t *root, struct conf_callbacks *cb)
{
    config_setting_t *g;
    cb->tolerance_s = 300;
    cb->safety_poll_s = 60;
    if (set_str(&cb->listen, "") != 0 || set_str(&cb->public_url, "") != 0)
        return fail(ld, root, "out of memory");
    if (get_group(ld, root, "", "callbacks", &g) != 0)
        return -1;
    if (g == NULL)
        return 0;
    if (load_fields(ld, g, "callbacks", callbacks_fields, NFIELDS(callbacks_fields), cb, NULL) != 0)
        return -1;
    if (!valid_listen(cb->listen))
        return fail(ld, member_or_self(g, "listen"),
                    "callbacks.listen: must be \"host:port\" (port 1..65535) or \"\" to disable");
    if (cb->listen[0] != '\0' && cb->public_url[0] == '\0')
        return fail(ld, member_or_self(g, "public_url"),
                    "callbacks.public_url: required when callbacks.listen is set (the base URL providers can reach)");
    if (cb->public_url[0] != '\0' && !valid_base_url(cb->public_url))
        return fail(ld, member_or_self(g, "public_url"), "callbacks.public_url: must start with http:// or https:// and name a host");
    strip_slashes(cb->public_url);
    if (cb->kie_hmac_key_env &&
        resolve_secret(ld, member_or_self(g, "kie_hmac_key_env"), "callbacks.kie_hmac_key_env", cb->kie_hmac_key_env,
                       &cb->kie_hmac_key) != 0)
        return -1;
    if (cb->webhook_secret_env) {
        config_setting_t *s = member_or_self(g, "webhook_secret_env");
        if (resolve_secret(ld, s, "callbacks.webhook_secret_env", cb->webhook_secret_env, &cb->webhook_secret) != 0)
            return -1;
        if (strncmp(cb->webhook_secret, "whsec_", 6) != 0 || cb->webhook_secret[6] == '\0')
            return fail(ld, s, "callbacks.webhook_secret_env: environment variable %s does not hold a whsec_... secret",
                        cb->webhook_secret_env);
    }
    return 0;
}

static int valid_name(const char *s)
{
    size_t n = strlen(s);
    if (n > 64)
        return 0;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' || c == '_'))
            return 0;
    }
    return 1;
}

static int load_provider(struct ld *ld, config_setting_t *pg, const char *path, const struct conf_worker *w,
                         struct conf_provider *p)
{
    char fp[192];
    const struct type_info *ti = NULL;
    config_setting_t *ts = config_setting_get_member(pg, "type");
    /* Read on its own, before the other fields, because it selects their
     * defaults; the offset is unused (load_string is called directly). */
    static const struct field type_field = { "type", F_STR, 0, 0, 0, F_REQ, type_names };

    p->line = (int)config_setting_source_line(pg);
    if (check_keys(ld, pg, path, provider_fields, NFIELDS(provider_fields), provider_groups) != 0)
        return -1; /* first, so that a misspelt "type" is reported as such */
    join(fp, sizeof fp, path, "type");
    if (ts == NULL)
        return fail(ld, pg, "%s: missing required setting", fp);
    {
        char *tname = NULL; /* load_string validates against type_names */
        int rc = load_string(ld, ts, fp, &type_field, &tname);
        for (size_t i = 0; rc == 0 && i < NFIELDS(types); i++) {
            if (strcmp(types[i].name, tname) == 0)
                ti = &types[i];
        }
        free(tname);
        if (rc != 0)
            return -1;
    }
    if (provider_defaults(p, ti, w) != 0)
        return fail(ld, pg, "%s: out of memory", path);
    if (load_fields(ld, pg, path, provider_fields, NFIELDS(provider_fields), p, provider_groups) != 0)
        return -1;

    if (!valid_name(p->name))
        return fail(ld, config_setting_get_member(pg, "name"),
                    "%s.name: use at most 64 letters, digits, '-' or '_'", path);
    if (strncmp(p->base_url, "http://", 7) != 0 && strncmp(p->base_url, "https://", 8) != 0)
        return fail(ld, config_setting_get_member(pg, "base_url"), "%s.base_url: must start with http:// or https://",
                    path);
    if (!valid_base_url(p->base_url))
        return fail(ld, config_setting_get_member(pg, "base_url"), "%s.base_url: has no host", path);
    strip_slashes(p->base_url);
    if (p->proxy != NULL && p->proxy[0] == '\0') {
        free(p->proxy);
        p->proxy = NULL;
    }
    if (resolve_api_key(ld, pg, path, p) != 0)
        return -1;

    if (load_subgroup(ld, pg, path, "poll", poll_fields, NFIELDS(poll_fields), &p->poll) != 0 ||
        load_subgroup(ld, pg, path, "rate_limit", rate_limit_fields, NFIELDS(rate_limit_fields), &p->rate_limit) != 0 ||
        load_subgroup(ld, pg, path, "breaker", breaker_fields, NFIELDS(breaker_fields), &p->breaker) != 0 ||
        load_subgroup(ld, pg, path, "retry", retry_fields, NFIELDS(retry_fields), &p->retry) != 0)
        return -1;
    /* Only reachable when the group is present: the defaults pass these checks. */
    if (p->poll.max_interval_ms < p->poll.min_interval_ms)
        return fail(ld, member_or_self(config_setting_get_member(pg, "poll"), "max_interval_ms"),
                    "%s.poll.max_interval_ms: must be >= poll.min_interval_ms (%d)", path, p->poll.min_interval_ms);
    if (p->breaker.min_calls > p->breaker.window)
        return fail(ld, member_or_self(config_setting_get_member(pg, "breaker"), "min_calls"),
                    "%s.breaker.min_calls: must be <= breaker.window (%d)", path, p->breaker.window);
    if (p->retry.backoff_max_ms < p->retry.backoff_base_ms)
        return fail(ld, member_or_self(config_setting_get_member(pg, "retry"), "backoff_max_ms"),
                    "%s.retry.backoff_max_ms: must be >= retry.backoff_base_ms (%d)", path, p->retry.backoff_base_ms);
    return load_models(ld, pg, path, ti, p);
}

static int by_priority(const void *a, const void *b)
{
    const struct conf_provider *x = a, *y = b;
    return (x->priority > y->priority) - (x->priority < y->priority);
}

static int load_providers(struct ld *ld, config_setting_t *root, struct conf *c)
{
    config_setting_t *list = config_setting_get_member(root, "providers");
    if (list == NULL)
        return fail(ld, root, "providers: missing required setting (a list of at least one provider)");
    if (!config_setting_is_list(list) && !config_setting_is_array(list))
        return fail(ld, list, "providers: must be a list ( { ... }, ... ), not %s", type_name(config_setting_type(list)));
    size_t n = (size_t)config_setting_length(list);
    if (n == 0)
        return fail(ld, list, "providers: must have at least one provider");
    c->providers = calloc(n, sizeof *c->providers);
    if (c->providers == NULL)
        return fail(ld, list, "providers: out of memory");

    for (size_t i = 0; i < n; i++) {
        char path[32];
        config_setting_t *pg = config_setting_get_elem(list, (unsigned)i);
        struct conf_provider *p = &c->providers[c->n_providers++];
        snprintf(path, sizeof path, "providers[%zu]", i);
        if (!config_setting_is_group(pg))
            return fail(ld, pg, "%s: must be a group { ... }, not %s", path, type_name(config_setting_type(pg)));
        if (load_provider(ld, pg, path, &c->worker, p) != 0)
            return -1;
        for (size_t j = 0; j < i; j++) {
            const struct conf_provider *q = &c->providers[j];
            if (strcmp(q->name, p->name) == 0)
                return fail(ld, config_setting_get_member(pg, "name"),
                            "%s.name: duplicate provider name \"%s\" (also providers[%zu])", path, p->name, j);
            if (q->priority == p->priority)
                return fail(ld, config_setting_get_member(pg, "priority"),
                            "%s.priority: duplicate priority %d (also providers[%zu])", path, p->priority, j);
        }
    }
    qsort(c->providers, c->n_providers, sizeof *c->providers, by_priority);
    return 0;
}

/* ---- templates ---------------------------------------------------------- */

static const char *const op_names[] = { "generate", "edit", NULL };

/* What the field table reads of a template; moved into conf_template after. */
struct template_keys {
    char *prompt;
    char *operation;
};

static const struct field template_fields[] = {
    FSTR(struct template_keys, prompt, F_REQ, NULL),
    FSTR(struct template_keys, operation, 0, op_names),
};
static const char *const template_groups[] = { "choices", "defaults", NULL };

/* tmpl_scan callback: record each placeholder once. */
static int collect_var(void *ud, int is_var, const char *s, size_t n)
{
    struct conf_template *t = ud;
    if (!is_var || tmpl_var_index(t, s, n) < t->n_vars)
        return SY_OK;
    struct conf_tvar *nv = realloc(t->vars, (t->n_vars + 1) * sizeof *nv);
    if (nv == NULL)
        return SY_ERR;
    t->vars = nv;
    memset(&nv[t->n_vars], 0, sizeof *nv);
    nv[t->n_vars].name = strndup(s, n);
    if (nv[t->n_vars].name == NULL)
        return SY_ERR;
    t->n_vars++;
    return SY_OK;
}

/* The placeholder a choices / defaults member s names, or NULL after a message. */
static struct conf_tvar *member_var(struct ld *ld, config_setting_t *s, const char *p, struct conf_template *t)
{
    const char *name = config_setting_name(s);
    size_t k = tmpl_var_index(t, name, strlen(name));
    if (k == t->n_vars) {
        fail(ld, s, "%s: the prompt has no placeholder {%s}", p, name);
        return NULL;
    }
    return &t->vars[k];
}

static int load_choices(struct ld *ld, config_setting_t *tg, const char *path, struct conf_template *t)
{
    char gp[192], p[224];
    config_setting_t *g;
    join(gp, sizeof gp, path, "choices");
    if (get_group(ld, tg, path, "choices", &g) != 0)
        return -1;
    for (int i = 0; g != NULL && i < config_setting_length(g); i++) {
        config_setting_t *s = config_setting_get_elem(g, (unsigned)i);
        struct conf_tvar *v = member_var(ld, s, join(p, sizeof p, gp, config_setting_name(s)), t);
        if (v == NULL)
            return -1;
        if (!config_setting_is_array(s) && !config_setting_is_list(s))
            return fail(ld, s, "%s: must be a list of strings [\"a\", \"b\"], not %s", p,
                        type_name(config_setting_type(s)));
        size_t n = (size_t)config_setting_length(s);
        if (n == 0)
            return fail(ld, s, "%s: must list at least one value", p);
        v->choices = calloc(n, sizeof *v->choices);
        if (v->choices == NULL)
            return fail(ld, s, "%s: out of memory", p);
        for (size_t j = 0; j < n; j++) {
            config_setting_t *e = config_setting_get_elem(s, (unsigned)j);
            const char *val = config_setting_get_string(e);
            if (val == NULL || val[0] == '\0')
                return fail(ld, e, "%s[%zu]: must be a non-empty string", p, j);
            for (size_t k = 0; k < j; k++) {
                if (strcmp(v->choices[k], val) == 0)
                    return fail(ld, e, "%s[%zu]: duplicate value \"%s\"", p, j, val);
            }
            if (set_str(&v->choices[j], val) != 0)
                return fail(ld, e, "%s: out of memory", p);
            v->n_choices = j + 1;
        }
    }
    return 0;
}

static int load_defaults(struct ld *ld, config_setting_t *tg, const char *path, struct conf_template *t)
{
    static const struct field any_string = { "", F_STR, 0, 0, 0, 0, NULL };
    char gp[192], p[224];
    config_setting_t *g;
    join(gp, sizeof gp, path, "defaults");
    if (get_group(ld, tg, path, "defaults", &g) != 0)
        return -1;
    for (int i = 0; g != NULL && i < config_setting_length(g); i++) {
        config_setting_t *s = config_setting_get_elem(g, (unsigned)i);
        struct conf_tvar *v = member_var(ld, s, join(p, sizeof p, gp, config_setting_name(s)), t);
        if (v == NULL || load_string(ld, s, p, &any_string, &v->def) != 0)
            return -1;
        size_t k = 0;
        while (k < v->n_choices && strcmp(v->choices[k], v->def) != 0)
            k++;
        if (v->n_choices > 0 && k == v->n_choices)
            return fail(ld, s, "%s: \"%s\" is not one of choices.%s", p, v->def, v->name);
    }
    return 0;
}

static int load_template(struct ld *ld, config_setting_t *tg, const char *path, struct conf_template *t)
{
    struct template_keys k = { 0 };
    char why[160] = "";
    t->line = (int)config_setting_source_line(tg);
    if (set_str(&t->name, config_setting_name(tg)) != 0)
        return fail(ld, tg, "%s: out of memory", path);
    if (!valid_name(t->name))
        return fail(ld, tg, "%s: use at most 64 letters, digits, '-' or '_' in a template name", path);
    if (!config_setting_is_group(tg))
        return fail(ld, tg, "%s: must be a group { prompt = ...; }, not %s", path, type_name(config_setting_type(tg)));
    int rc = load_fields(ld, tg, path, template_fields, NFIELDS(template_fields), &k, template_groups);
    t->prompt = k.prompt;
    t->op_set = k.operation != NULL;
    t->edit = k.operation != NULL && strcmp(k.operation, "edit") == 0;
    free(k.operation);
    if (rc != 0)
        return -1;
    config_setting_t *ps = config_setting_get_member(tg, "prompt");
    if (strspn(t->prompt, " \t\r\n\f\v") == strlen(t->prompt))
        return fail(ld, ps, "%s.prompt: must not be empty or only whitespace", path);
    if (tmpl_scan(t->prompt, collect_var, t, why, sizeof why) != SY_OK)
        return fail(ld, ps, "%s.prompt: %s", path, why[0] ? why : "out of memory");
    return load_choices(ld, tg, path, t) != 0 || load_defaults(ld, tg, path, t) != 0 ? -1 : 0;
}

/* templates = { name = { prompt = "..."; ... }; ... }; names are unique
 * because libconfig refuses a repeated setting name at parse time. */
static int load_templates(struct ld *ld, config_setting_t *root, struct conf *c)
{
    config_setting_t *g;
    if (get_group(ld, root, "", "templates", &g) != 0)
        return -1;
    if (g == NULL || config_setting_length(g) == 0)
        return 0;
    size_t n = (size_t)config_setting_length(g);
    c->templates = calloc(n, sizeof *c->templates);
    if (c->templates == NULL)
        return fail(ld, g, "templates: out of memory");
    for (size_t i = 0; i < n; i++) {
        char path[192];
        config_setting_t *tg = config_setting_get_elem(g, (unsigned)i);
        if (load_template(ld, tg, join(path, sizeof path, "templates", config_setting_name(tg)),
                          &c->templates[c->n_templates++]) != 0)
            return -1;
    }
    return 0;
}

/* ---- entry points ------------------------------------------------------- */

static struct conf *load(config_t *cfg, const char *name, char *err, size_t errlen)
{
    struct ld ld = { name, err, errlen };
    static const char *const top[] = { "providers", "worker", "kafka", "templates", "callbacks", NULL };
    config_setting_t *root = config_root_setting(cfg);
    struct conf *c = calloc(1, sizeof *c);

    if (c == NULL || set_str(&c->path, name) != 0) {
        fail(&ld, NULL, "out of memory");
        conf_free(c);
        return NULL;
    }
    if (check_keys(&ld, root, "", NULL, 0, top) != 0 || load_worker(&ld, root, &c->worker) != 0 ||
        load_kafka(&ld, root, &c->kafka) != 0 || load_callbacks(&ld, root, &c->callbacks) != 0 ||
        load_providers(&ld, root, c) != 0 || load_templates(&ld, root, c) != 0) {
        conf_free(c);
        return NULL;
    }
    return c;
}

static struct conf *parse_failed(config_t *cfg, const char *name, char *err, size_t errlen)
{
    if (err != NULL && errlen > 0) {
        const char *file = config_error_file(cfg) ? config_error_file(cfg) : name;
        int line = config_error_line(cfg);
        snprintf(err, errlen, "%s:%d: parse error: %s", file, line > 0 ? line : 1, config_error_text(cfg));
    }
    config_destroy(cfg);
    return NULL;
}

struct conf *conf_load(const char *path, char *err, size_t errlen)
{
    config_t cfg;
    struct stat st;
    FILE *fp = fopen(path, "r");

    /* No line exists for these, so they read "FILE: message". */
    if (fp == NULL) {
        snprintf(err, errlen, "%s: cannot open: %s", path, strerror(errno));
        return NULL;
    }
    if (fstat(fileno(fp), &st) != 0 || !S_ISREG(st.st_mode)) {
        snprintf(err, errlen, "%s: not a regular file", path);
        fclose(fp);
        return NULL;
    }
    /* No include dir is set: libconfig 1.5 would prefix it to absolute
     * @include paths too, so relative ones resolve from the working directory. */
    config_init(&cfg);
    int ok = config_read(&cfg, fp);
    fclose(fp);
    if (!ok)
        return parse_failed(&cfg, path, err, errlen);
    struct conf *c = load(&cfg, path, err, errlen);
    config_destroy(&cfg);
    return c;
}

struct conf *conf_load_string(const char *text, const char *name, char *err, size_t errlen)
{
    config_t cfg;
    config_init(&cfg);
    if (!config_read_string(&cfg, text))
        return parse_failed(&cfg, name, err, errlen);
    struct conf *c = load(&cfg, name, err, errlen);
    config_destroy(&cfg);
    return c;
}

static void free_secret(char *s)
{
    if (s != NULL) {
        explicit_bzero(s, strlen(s));
        free(s);
    }
}

static void free_provider(struct conf_provider *p)
{
    free(p->name);
    free(p->base_url);
    free(p->api_key_env);
    free_secret(p->api_key);
    free(p->proxy);
    free(p->rate_limit.scope);
    for (size_t i = 0; i < p->n_models; i++) {
        struct conf_model *m = &p->models[i];
        free(m->name);
        free(m->generate);
        free(m->edit);
        free(m->image_field);
        free(m->jpeg_name);
    }
    free(p->models);
}

void conf_free(struct conf *c)
{
    if (c == NULL)
        return;
    free(c->path);
    free(c->worker.user_agent);
    free(c->worker.metrics_listen);
    free(c->worker.log_level);
    free(c->kafka.brokers);
    free(c->kafka.group);
    free(c->kafka.input_topic);
    free(c->kafka.output_topic);
    free(c->kafka.dlq_topic);
    free(c->kafka.callback_topic);
    free(c->callbacks.listen);
    free(c->callbacks.public_url);
    free(c->callbacks.kie_hmac_key_env);
    free(c->callbacks.webhook_secret_env);
    free_secret(c->callbacks.kie_hmac_key);
    free_secret(c->callbacks.webhook_secret);
    for (size_t i = 0; i < c->kafka.n_properties; i++) {
        free(c->kafka.properties[i].key);
        free(c->kafka.properties[i].value);
    }
    free(c->kafka.properties);
    for (size_t i = 0; i < c->n_providers; i++)
        free_provider(&c->providers[i]);
    free(c->providers);
    for (size_t i = 0; i < c->n_templates; i++) {
        struct conf_template *t = &c->templates[i];
        for (size_t j = 0; j < t->n_vars; j++) {
            for (size_t k = 0; k < t->vars[j].n_choices; k++)
                free(t->vars[j].choices[k]);
            free(t->vars[j].choices);
            free(t->vars[j].def);
            free(t->vars[j].name);
        }
        free(t->vars);
        free(t->name);
        free(t->prompt);
    }
    free(c->templates);
    free(c);
}
