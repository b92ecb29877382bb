/* config.c — libconfig file → one validated, read-only struct conf.
 *
 * How it reads: every group is described by a table of fields (key, kind,
 * offset, range). conf_ld_load_fields() (conf/loader.c) rejects keys that
 * are not in the table (or in a short list of sub-groups the caller handles
 * itself), type-checks each present key, range-checks it and stores it over
 * the default that was put there before. Defaults are therefore plain assignments done before parsing;
 * per-provider values that inherit from the worker group are copied from the
 * already-parsed worker group the same way, so after load nothing is "unset".
 *
 * Invariants of a returned struct conf: every string the header does not
 * document as nullable is non-NULL; providers are sorted by priority with
 * unique names and priorities; every provider has a resolved, non-empty
 * api_key and at least one model. On error nothing leaks: a partially filled
 * struct is released by conf_free(), which tolerates zeroed fields.
 *
 * This file holds the top level: defaults, the worker, kafka and providers
 * groups, the entry points and conf_free(). The kafka, callbacks and
 * templates groups have their own files (config_kafka.c, config_callbacks.c,
 * config_templates.c).
 *
 * Messages never contain an API key: the only place a key is read is
 * resolve_api_key(), and it reports the variable's name only. */
#include "config.h"

#include "conf/loader.h"
#include "core/limits.h"
#include "core/sy.h"

#include <arpa/inet.h>
#include <errno.h>
#include <libconfig.h>
#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

/* ---- field tables ------------------------------------------------------- */

static const char *const log_levels[] = { "debug", "info", "warn", "error", NULL };
static const char *const scopes[] = { "worker", "fleet", NULL };
static const char *const jpeg_names[] = { "jpeg", "jpg", NULL };

static const struct conf_ld_field worker_fields[] = {
    CLD_FINT(struct conf_worker, max_in_flight, 1, CLD_NOMAX, 0),
    CLD_FINT(struct conf_worker, shutdown_grace_s, 0, CLD_NOMAX, 0),
    CLD_FINT(struct conf_worker, connect_timeout_ms, 1, CLD_NOMAX, 0),
    CLD_FINT(struct conf_worker, request_timeout_ms, 1, CLD_NOMAX, 0),
    CLD_FINT(struct conf_worker, max_body_bytes, 1, CLD_NOMAX, 0),
    CLD_FINT(struct conf_worker, max_host_connections, 1, CLD_NOMAX, 0),
    CLD_FINT(struct conf_worker, max_total_connections, 0, CLD_NOMAX, 0),
    CLD_FINT(struct conf_worker, default_deadline_s, 1, CLD_NOMAX, 0),
    CLD_FINT(struct conf_worker, max_deadline_s, 1, 86400, 0),
    CLD_FSTR(struct conf_worker, user_agent, CLD_F_NONEMPTY, NULL),
    CLD_FSTR(struct conf_worker, metrics_listen, 0, NULL),
    CLD_FSTR(struct conf_worker, log_level, 0, log_levels),
    CLD_FINT(struct conf_worker, max_in_flight_bytes, 1048576, CLD_NOMAX, 0),
};

static const struct conf_ld_field provider_fields[] = {
    CLD_FSTR(struct conf_provider, name, CLD_F_REQ | CLD_F_NONEMPTY, NULL),
    CLD_FINT(struct conf_provider, priority, 0, CLD_NOMAX, CLD_F_REQ),
    CLD_FSTR(struct conf_provider, base_url, CLD_F_REQ | CLD_F_NONEMPTY, NULL),
    CLD_FSTR(struct conf_provider, api_key_env, CLD_F_REQ | CLD_F_NONEMPTY, NULL),
    CLD_FSTR(struct conf_provider, proxy, 0, NULL),
    CLD_FINT(struct conf_provider, wait_s, 0, 60, 0),
    CLD_FINT(struct conf_provider, connect_timeout_ms, 1, CLD_NOMAX, 0),
    CLD_FINT(struct conf_provider, request_timeout_ms, 1, CLD_NOMAX, 0),
    CLD_FINT(struct conf_provider, max_connections, 1, CLD_NOMAX, 0),
    CLD_FINT(struct conf_provider, not_ready_tolerance, 0, CLD_NOMAX, 0),
};
static const char *const provider_groups[] = { "type",  "poll",   "rate_limit", "breaker",
                                               "retry", "models", NULL };

/* In enum conf_poll_mode order. */
static const char *const poll_modes[] = { "adaptive", "fixed", NULL };
_Static_assert(sizeof(enum conf_poll_mode) == sizeof(int),
               "CLD_FENUM stores the choice's index as an int");

static const struct conf_ld_field poll_fields[] = {
    CLD_FINT(struct conf_poll, first_ms, 1, CLD_NOMAX, 0),
    CLD_FINT(struct conf_poll, interval_ms, 1, CLD_NOMAX, 0),
    CLD_FINT(struct conf_poll, max_s, 1, CLD_NOMAX, 0),
    CLD_FENUM(struct conf_poll, mode, poll_modes),
    CLD_FINT(struct conf_poll, max_lag_ms, 1, 600000, 0),
    CLD_FINT(struct conf_poll, expect_median_ms, 250, 3600000, 0),
    CLD_FDBL(struct conf_poll, expect_sigma, 0.01, 3, 0),
    CLD_FINT(struct conf_poll, min_interval_ms, 1, 600000, 0),
    CLD_FINT(struct conf_poll, max_interval_ms, 1, 3600000, 0),
};

static const struct conf_ld_field rate_limit_fields[] = {
    CLD_FDBL(struct conf_rate_limit, create_per_s, 0, HUGE_VAL, CLD_F_LO_OPEN),
    CLD_FINT(struct conf_rate_limit, create_burst, 1, CLD_NOMAX, 0),
    CLD_FINT(struct conf_rate_limit, create_window_max, 0, CLD_NOMAX, 0),
    CLD_FINT(struct conf_rate_limit, create_window_s, 1, CLD_NOMAX, 0),
    CLD_FDBL(struct conf_rate_limit, poll_per_s, 0, HUGE_VAL, CLD_F_LO_OPEN),
    CLD_FINT(struct conf_rate_limit, poll_burst, 1, CLD_NOMAX, 0),
    CLD_FINT(struct conf_rate_limit, max_in_flight, 1, CLD_NOMAX, 0),
    CLD_FSTR(struct conf_rate_limit, scope, 0, scopes),
};

static const struct conf_ld_field breaker_fields[] = {
    CLD_FINT(struct conf_breaker, window, 1, CLD_NOMAX, 0),
    CLD_FINT(struct conf_breaker, min_calls, 1, CLD_NOMAX, 0),
    CLD_FDBL(struct conf_breaker, failure_rate, 0, 1, CLD_F_LO_OPEN),
    CLD_FINT(struct conf_breaker, open_s, 1, CLD_NOMAX, 0),
    CLD_FINT(struct conf_breaker, half_open_probes, 1, CLD_NOMAX, 0),
};

static const struct conf_ld_field retry_fields[] = {
    CLD_FINT(struct conf_retry, max_attempts, 1, CLD_NOMAX, 0),
    CLD_FINT(struct conf_retry, backoff_base_ms, 1, CLD_NOMAX, 0),
    CLD_FINT(struct conf_retry, backoff_max_ms, 1, CLD_NOMAX, 0),
    CLD_FDBL(struct conf_retry, budget_ratio, 0, 1, 0),
    CLD_FDBL(struct conf_retry, budget_min_per_s, 0, HUGE_VAL, 0),
};

static const struct conf_ld_field model_fields[] = {
    CLD_FSTR(struct conf_model, name, CLD_F_REQ | CLD_F_NONEMPTY, NULL),
    CLD_FSTR(struct conf_model, generate, CLD_F_NONEMPTY, NULL),
    CLD_FSTR(struct conf_model, edit, CLD_F_NONEMPTY, NULL),
    CLD_FSTR(struct conf_model, image_field, CLD_F_NONEMPTY, NULL),
    CLD_FSTR(struct conf_model, jpeg_name, 0, jpeg_names),
};

/* ---- defaults ----------------------------------------------------------- */

/* Per-type defaults and built-in models come from the provider's descriptor
 * (struct conf_ptype, found through the registry by the value of "type"). */

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
    w->max_in_flight_bytes = 256 * 1024 * 1024;
    w->max_deadline_s = 3600;
    /* Short on purpose: curl formats the header a byte at a time on every
     * request (BENCH.md, issue 12). */
    if (conf_ld_set_str(&w->user_agent, "switchyard/" SY_VERSION) != 0 ||
        conf_ld_set_str(&w->metrics_listen, "127.0.0.1:9464") != 0 ||
        conf_ld_set_str(&w->log_level, "info") != 0)
        return -1;
    return 0;
}

static int provider_defaults(struct conf_provider *p, const struct conf_ptype *ti, size_t pos,
                             const struct conf_worker *w)
{
    p->type = (enum conf_provider_type)(pos + 1);
    p->type_name = ti->name;
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
    return conf_ld_set_str(&p->rate_limit.scope, "worker");
}

/* ---- sections ----------------------------------------------------------- */

/* A boolean setting key of group g (left alone when absent). */
static int load_bool(struct conf_ld *ld, config_setting_t *g, const char *path, const char *key,
                     int *dst)
{
    config_setting_t *s = config_setting_get_member(g, key);
    if (!s)
        return 0;
    if (config_setting_type(s) != CONFIG_TYPE_BOOL)
        return conf_ld_fail(ld, s, "%s.%s: must be true or false, not %s", path, key,
                            conf_ld_type_name(config_setting_type(s)));
    *dst = config_setting_get_bool(s);
    return 0;
}

int conf_url_plain_remote(const char *url)
{
    if (strncasecmp(url, "http://", 7) != 0)
        return 0;
    const char *a = url + 7;
    size_t alen = strcspn(a, "/?#");
    const char *at = memchr(a, '@', alen);
    for (; at; at = memchr(a, '@', alen)) { /* skip userinfo, up to the last '@' */
        alen -= (size_t)(at + 1 - a);
        a = at + 1;
    }
    size_t hl;
    if (alen > 0 && a[0] == '[') {
        const char *close = memchr(a, ']', alen);
        if (!close)
            return 1;
        a++;
        hl = (size_t)(close - a);
    } else {
        const char *colon = memchr(a, ':', alen);
        hl = colon ? (size_t)(colon - a) : alen;
    }
    char host[256];
    if (hl == 0 || hl >= sizeof host)
        return 1;
    memcpy(host, a, hl);
    host[hl] = '\0';
    unsigned char ip[16];
    if (inet_pton(AF_INET, host, ip) == 1)
        return ip[0] != 127;
    if (inet_pton(AF_INET6, host, ip) == 1) {
        static const unsigned char v6_loop[16] = { [15] = 1 };
        static const unsigned char v4_mapped[12] = { [10] = 0xff, [11] = 0xff };
        if (memcmp(ip, v6_loop, 16) == 0)
            return 0;
        return !(memcmp(ip, v4_mapped, 12) == 0 && ip[12] == 127);
    }
    return strcasecmp(host, "localhost") != 0;
}

/* L-9 of the security review: a Bearer key or a signed callback must not
 * cross a network in the clear unless the operator says so. */
static int check_plain_http(struct conf_ld *ld, config_setting_t *s, const char *field,
                            const char *url, const struct conf_worker *w)
{
    if (w->allow_plain_http || !conf_url_plain_remote(url))
        return 0;
    return conf_ld_fail(
            ld, s,
            "%s: plain http:// to a host that is not loopback sends %s in the clear; use https://, "
            "or set worker.allow_plain_http = true",
            field, strstr(field, "public_url") ? "signed callbacks" : "the API key");
}

/* poll.first_ms / interval_ms drive only the fixed mode: given while the mode
 * is adaptive (the default), they would be silently ignored, so refuse them. */
static int check_fixed_only(struct conf_ld *ld, config_setting_t *poll, const char *path,
                            const struct conf_poll *pc)
{
    static const char *const fixed_only[] = { "first_ms", "interval_ms" };
    if (!poll || pc->mode != CONF_POLL_ADAPTIVE)
        return 0;
    for (size_t i = 0; i < CLD_NFIELDS(fixed_only); i++) {
        config_setting_t *s = config_setting_get_member(poll, fixed_only[i]);
        if (s)
            return conf_ld_fail(
                    ld, s,
                    "%s.poll.%s: only used when poll.mode = \"fixed\", and the mode is \"adaptive\"%s; "
                    "set mode = \"fixed\" to poll on it, or remove it (adaptive polling starts from "
                    "expect_median_ms and keeps the lag near max_lag_ms)",
                    path, fixed_only[i],
                    config_setting_get_member(poll, "mode") ? "" : " (the default)");
    }
    return 0;
}

static int load_worker(struct conf_ld *ld, config_setting_t *root, struct conf_worker *w)
{
    config_setting_t *g;
    static const char *const worker_extra[] = { "allow_plain_http", NULL };
    if (worker_defaults(w) != 0)
        return conf_ld_fail(ld, root, "out of memory");
    if (conf_ld_get_group(ld, root, "", "worker", &g) != 0)
        return -1;
    if (!g)
        return 0;
    if (conf_ld_load_fields(ld, g, "worker", worker_fields, CLD_NFIELDS(worker_fields), w,
                            worker_extra) != 0 ||
        load_bool(ld, g, "worker", "allow_plain_http", &w->allow_plain_http) != 0)
        return -1;
    if (w->default_deadline_s > w->max_deadline_s) {
        config_setting_t *at = config_setting_get_member(g, "default_deadline_s");
        return conf_ld_fail(ld, at ? at : conf_ld_member_or_self(g, "max_deadline_s"),
                            "worker.default_deadline_s: %d is over worker.max_deadline_s (%d)",
                            w->default_deadline_s, w->max_deadline_s);
    }
    if (!conf_ld_valid_listen(w->metrics_listen))
        return conf_ld_fail(
                ld, config_setting_get_member(g, "metrics_listen"),
                "worker.metrics_listen: must be \"host:port\" (port 1..65535) or \"\" to disable");
    return 0;
}

static const struct conf_builtin_model *builtin(const struct conf_ptype *ti, const char *name)
{
    for (size_t i = 0; i < ti->n_models; i++) {
        if (strcmp(ti->models[i].name, name) == 0)
            return &ti->models[i];
    }
    return NULL;
}

static int load_models(struct conf_ld *ld, config_setting_t *pg, const char *path,
                       const struct conf_ptype *ti, struct conf_provider *p)
{
    char p2[128], mp[160];
    config_setting_t *list = config_setting_get_member(pg, "models");

    if (!list) {
        p->models = calloc(ti->n_models, sizeof *p->models);
        if (!p->models)
            return conf_ld_fail(ld, pg, "%s: out of memory", path);
        for (size_t i = 0; i < ti->n_models; i++) {
            const struct conf_builtin_model *b = &ti->models[i];
            struct conf_model *m = &p->models[p->n_models++];
            m->line = (int)config_setting_source_line(pg);
            if (conf_ld_set_str(&m->name, b->name) != 0 ||
                conf_ld_set_str(&m->generate, b->generate) != 0 ||
                conf_ld_set_str(&m->edit, b->edit) != 0 ||
                conf_ld_set_str(&m->image_field, b->image_field) != 0 ||
                conf_ld_set_str(&m->jpeg_name, b->jpeg_name) != 0)
                return conf_ld_fail(ld, pg, "%s: out of memory", path);
        }
        return 0;
    }
    conf_ld_join(p2, sizeof p2, path, "models");
    if (!config_setting_is_list(list) && !config_setting_is_array(list))
        return conf_ld_fail(ld, list, "%s: must be a list ( { ... }, ... ), not %s", p2,
                            conf_ld_type_name(config_setting_type(list)));
    size_t n = (size_t)config_setting_length(list);
    if (n == 0)
        return conf_ld_fail(ld, list, "%s: must have at least one model", p2);
    p->models = calloc(n, sizeof *p->models);
    if (!p->models)
        return conf_ld_fail(ld, list, "%s: out of memory", p2);
    for (size_t i = 0; i < n; i++) {
        config_setting_t *e = config_setting_get_elem(list, (unsigned)i);
        struct conf_model *m = &p->models[p->n_models++];
        snprintf(mp, sizeof mp, "%s[%zu]", p2, i);
        if (!config_setting_is_group(e))
            return conf_ld_fail(ld, e, "%s: must be a group { name = ...; ... }, not %s", mp,
                                conf_ld_type_name(config_setting_type(e)));
        m->line = (int)config_setting_source_line(e);
        if (conf_ld_load_fields(ld, e, mp, model_fields, CLD_NFIELDS(model_fields), m, NULL) != 0)
            return -1;
        if (!m->generate && !m->edit)
            return conf_ld_fail(ld, e, "%s: needs at least one of generate, edit", mp);
        for (size_t j = 0; j < i; j++) {
            if (strcmp(p->models[j].name, m->name) == 0)
                return conf_ld_fail(ld, config_setting_get_member(e, "name"),
                                    "%s.name: duplicate model \"%s\" (also %s[%zu])", mp, m->name,
                                    p2, j);
        }
        const struct conf_builtin_model *b = builtin(ti, m->name);
        if ((!m->image_field &&
             conf_ld_set_str(&m->image_field, b ? b->image_field : ti->image_field) != 0) ||
            (!m->jpeg_name &&
             conf_ld_set_str(&m->jpeg_name, b ? b->jpeg_name : ti->jpeg_name) != 0))
            return conf_ld_fail(ld, e, "%s: out of memory", mp);
    }
    return 0;
}

static int resolve_api_key(struct conf_ld *ld, config_setting_t *pg, const char *path,
                           struct conf_provider *p)
{
    char f[192];
    return conf_ld_resolve_secret(ld, config_setting_get_member(pg, "api_key_env"),
                                  conf_ld_join(f, sizeof f, path, "api_key_env"), p->api_key_env,
                                  &p->api_key);
}

static int load_provider(struct conf_ld *ld, config_setting_t *pg, const char *path,
                         const struct conf_worker *w, struct conf_provider *p)
{
    char fp[192];
    const struct conf_ptype *ti = NULL;
    size_t pos = 0;
    config_setting_t *ts = config_setting_get_member(pg, "type");
    /* The registry's names, in its order, as the field's choices. */
    const char *type_names[CONF_MAX_PTYPES + 1] = { NULL };
    for (size_t i = 0; i < CONF_MAX_PTYPES && conf_ptype_at(i); i++)
        type_names[i] = conf_ptype_at(i)->name;
    /* Read on its own, before the other fields, because it selects their
     * defaults; the offset is unused (load_string is called directly). */
    const struct conf_ld_field type_field = { "type", CLD_K_STR, 0, 0, 0, CLD_F_REQ, type_names };

    p->line = (int)config_setting_source_line(pg);
    if (conf_ld_check_keys(ld, pg, path, provider_fields, CLD_NFIELDS(provider_fields),
                           provider_groups) != 0)
        return -1; /* first, so that a misspelt "type" is reported as such */
    conf_ld_join(fp, sizeof fp, path, "type");
    if (!ts)
        return conf_ld_fail(ld, pg, "%s: missing required setting", fp);
    {
        char *tname = NULL; /* load_string validates against type_names */
        int rc = conf_ld_load_string(ld, ts, fp, &type_field, &tname);
        for (size_t i = 0; rc == 0 && type_names[i]; i++) {
            if (strcmp(type_names[i], tname) == 0) {
                ti = conf_ptype_at(i);
                pos = i;
            }
        }
        free(tname);
        if (rc != 0)
            return -1;
    }
    if (provider_defaults(p, ti, pos, w) != 0)
        return conf_ld_fail(ld, pg, "%s: out of memory", path);
    if (conf_ld_load_fields(ld, pg, path, provider_fields, CLD_NFIELDS(provider_fields), p,
                            provider_groups) != 0)
        return -1;

    if (!conf_ld_valid_name(p->name))
        return conf_ld_fail(ld, config_setting_get_member(pg, "name"),
                            "%s.name: use at most 64 letters, digits, '-' or '_'", path);
    if (strncmp(p->base_url, "http://", 7) != 0 && strncmp(p->base_url, "https://", 8) != 0)
        return conf_ld_fail(ld, config_setting_get_member(pg, "base_url"),
                            "%s.base_url: must start with http:// or https://", path);
    if (!conf_ld_valid_base_url(p->base_url))
        return conf_ld_fail(ld, config_setting_get_member(pg, "base_url"),
                            "%s.base_url: has no host", path);
    if (check_plain_http(ld, config_setting_get_member(pg, "base_url"),
                         conf_ld_join(fp, sizeof fp, path, "base_url"), p->base_url, w) != 0)
        return -1;
    conf_ld_strip_slashes(p->base_url);
    if (p->proxy && p->proxy[0] == '\0') {
        free(p->proxy);
        p->proxy = NULL;
    }
    if (resolve_api_key(ld, pg, path, p) != 0)
        return -1;

    if (conf_ld_load_subgroup(ld, pg, path, "poll", poll_fields, CLD_NFIELDS(poll_fields),
                              &p->poll) != 0 ||
        conf_ld_load_subgroup(ld, pg, path, "rate_limit", rate_limit_fields,
                              CLD_NFIELDS(rate_limit_fields), &p->rate_limit) != 0 ||
        conf_ld_load_subgroup(ld, pg, path, "breaker", breaker_fields, CLD_NFIELDS(breaker_fields),
                              &p->breaker) != 0 ||
        conf_ld_load_subgroup(ld, pg, path, "retry", retry_fields, CLD_NFIELDS(retry_fields),
                              &p->retry) != 0)
        return -1;
    if (check_fixed_only(ld, config_setting_get_member(pg, "poll"), path, &p->poll) != 0)
        return -1;
    /* Only reachable when the group is present: the defaults pass these checks. */
    if (p->poll.max_interval_ms < p->poll.min_interval_ms)
        return conf_ld_fail(
                ld,
                conf_ld_member_or_self(config_setting_get_member(pg, "poll"), "max_interval_ms"),
                "%s.poll.max_interval_ms: must be >= poll.min_interval_ms (%d)", path,
                p->poll.min_interval_ms);
    if (p->breaker.min_calls > p->breaker.window)
        return conf_ld_fail(
                ld, conf_ld_member_or_self(config_setting_get_member(pg, "breaker"), "min_calls"),
                "%s.breaker.min_calls: must be <= breaker.window (%d)", path, p->breaker.window);
    if (p->retry.backoff_max_ms < p->retry.backoff_base_ms)
        return conf_ld_fail(
                ld,
                conf_ld_member_or_self(config_setting_get_member(pg, "retry"), "backoff_max_ms"),
                "%s.retry.backoff_max_ms: must be >= retry.backoff_base_ms (%d)", path,
                p->retry.backoff_base_ms);
    return load_models(ld, pg, path, ti, p);
}

static int by_priority(const void *a, const void *b)
{
    const struct conf_provider *x = a, *y = b;
    return (x->priority > y->priority) - (x->priority < y->priority);
}

static int load_providers(struct conf_ld *ld, config_setting_t *root, struct conf *c)
{
    config_setting_t *list = config_setting_get_member(root, "providers");
    if (!list)
        return conf_ld_fail(
                ld, root, "providers: missing required setting (a list of at least one provider)");
    if (!config_setting_is_list(list) && !config_setting_is_array(list))
        return conf_ld_fail(ld, list, "providers: must be a list ( { ... }, ... ), not %s",
                            conf_ld_type_name(config_setting_type(list)));
    size_t n = (size_t)config_setting_length(list);
    if (n == 0)
        return conf_ld_fail(ld, list, "providers: must have at least one provider");
    c->providers = calloc(n, sizeof *c->providers);
    if (!c->providers)
        return conf_ld_fail(ld, list, "providers: out of memory");

    for (size_t i = 0; i < n; i++) {
        char path[32];
        config_setting_t *pg = config_setting_get_elem(list, (unsigned)i);
        struct conf_provider *p = &c->providers[c->n_providers++];
        snprintf(path, sizeof path, "providers[%zu]", i);
        if (!config_setting_is_group(pg))
            return conf_ld_fail(ld, pg, "%s: must be a group { ... }, not %s", path,
                                conf_ld_type_name(config_setting_type(pg)));
        if (load_provider(ld, pg, path, &c->worker, p) != 0)
            return -1;
        for (size_t j = 0; j < i; j++) {
            const struct conf_provider *q = &c->providers[j];
            if (strcmp(q->name, p->name) == 0)
                return conf_ld_fail(ld, config_setting_get_member(pg, "name"),
                                    "%s.name: duplicate provider name \"%s\" (also providers[%zu])",
                                    path, p->name, j);
            if (q->priority == p->priority)
                return conf_ld_fail(ld, config_setting_get_member(pg, "priority"),
                                    "%s.priority: duplicate priority %d (also providers[%zu])",
                                    path, p->priority, j);
        }
    }
    qsort(c->providers, c->n_providers, sizeof *c->providers, by_priority);
    return 0;
}

/* ---- entry points ------------------------------------------------------- */

static int check_public_url(struct conf_ld *ld, config_setting_t *root, const struct conf *c)
{
    config_setting_t *g = config_setting_get_member(root, "callbacks");
    if (!g)
        return 0;
    return check_plain_http(ld, conf_ld_member_or_self(g, "public_url"), "callbacks.public_url",
                            c->callbacks.public_url, &c->worker);
}

static struct conf *load(config_t *cfg, const char *name, char *err, size_t errlen)
{
    struct conf_ld ld = { name, err, errlen };
    static const char *const top[] = { "providers", "worker",    "kafka",
                                       "templates", "callbacks", NULL };
    config_setting_t *root = config_root_setting(cfg);
    struct conf *c = calloc(1, sizeof *c);

    if (!c || conf_ld_set_str(&c->path, name) != 0) {
        conf_ld_fail(&ld, NULL, "out of memory");
        conf_free(c);
        return NULL;
    }
    if (conf_ld_check_keys(&ld, root, "", NULL, 0, top) != 0 ||
        load_worker(&ld, root, &c->worker) != 0 || conf_ld_load_kafka(&ld, root, &c->kafka) != 0 ||
        conf_ld_load_callbacks(&ld, root, &c->callbacks) != 0 ||
        load_providers(&ld, root, c) != 0 || conf_ld_load_templates(&ld, root, c) != 0 ||
        check_public_url(&ld, root, c) != 0) {
        conf_free(c);
        return NULL;
    }
    return c;
}

static struct conf *parse_failed(config_t *cfg, const char *name, char *err, size_t errlen)
{
    if (err && errlen > 0) {
        const char *file = config_error_file(cfg) ? config_error_file(cfg) : name;
        int line = config_error_line(cfg);
        snprintf(err, errlen, "%s:%d: parse error: %s", file, line > 0 ? line : 1,
                 config_error_text(cfg));
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
    if (!fp) {
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
    if (s) {
        explicit_bzero(s, strlen(s));
        free(s);
    }
}

const char *conf_exposed_secret(const struct conf *c, unsigned mode)
{
    if ((mode & (S_IRGRP | S_IROTH)) == 0)
        return NULL;
    for (size_t i = 0; i < c->kafka.n_properties; i++) {
        const char *k = c->kafka.properties[i].key;
        if (strcasestr(k, "password") || strcasestr(k, "secret"))
            return k;
    }
    return NULL;
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

struct conf_ref *conf_ref_new(struct conf *c)
{
    struct conf_ref *r = calloc(1, sizeof *r);
    if (r) {
        r->c = c;
        r->refs = 1;
    }
    return r;
}

struct conf_ref *conf_ref_get(struct conf_ref *r)
{
    r->refs++;
    return r;
}

void conf_ref_put(struct conf_ref *r)
{
    if (r && --r->refs == 0) {
        conf_free(r->c);
        free(r);
    }
}

void conf_free(struct conf *c)
{
    if (!c)
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
    free(c->kafka.ledger_topic);
    free(c->callbacks.listen);
    free(c->callbacks.public_url);
    free(c->callbacks.kie_hmac_key_env);
    free(c->callbacks.webhook_secret_env);
    free_secret(c->callbacks.kie_hmac_key);
    free_secret(c->callbacks.webhook_secret);
    for (size_t i = 0; i < c->kafka.n_properties; i++) {
        free(c->kafka.properties[i].key);
        free_secret(c->kafka.properties[i].value); /* sasl.password and the like */
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
