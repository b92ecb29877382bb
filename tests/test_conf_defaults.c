/* test_conf_defaults.c — the copies of the provider defaults cannot drift
 * from the source (the descriptors in providers/kie.c, providers/replicate.c):
 * conf/switchyard.conf, which shows the defaults, loads to the same provider
 * settings as a file that only names the providers, and the per-type default
 * columns of conf/README-config.md's poll / rate_limit / breaker / retry
 * tables say the same numbers. */
#include "conf/config.h"

#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SHIPPED SY_SOURCE_DIR "/conf/switchyard.conf"
#define README SY_SOURCE_DIR "/conf/README-config.md"

/* The shipped example's providers, with nothing but the required keys. */
static const char bare[] =
        "providers = (\n"
        "  { name = \"kie\"; type = \"kie\"; priority = 1; base_url = \"https://api.kie.ai\"; api_key_env = \"KIE_API_KEY\"; },\n"
        "  { name = \"replicate\"; type = \"replicate\"; priority = 2; base_url = \"https://api.replicate.com\";\n"
        "    api_key_env = \"REPLICATE_API_TOKEN\"; }\n"
        ");\n";

static void set_env(void)
{
    setenv("KIE_API_KEY", "kie-DEFAULTS-1c2e", 1);
    setenv("REPLICATE_API_TOKEN", "r8-DEFAULTS-77b0", 1);
}

TestSuite(conf_defaults, .init = set_env);

static struct conf *load_both(struct conf **bare_out)
{
    char err[512] = "";
    struct conf *shipped = conf_load(SHIPPED, err, sizeof err);
    cr_assert_not_null(shipped, "%s", err);
    *bare_out = conf_load_string(bare, "bare.conf", err, sizeof err);
    cr_assert_not_null(*bare_out, "%s", err);
    cr_assert_eq(shipped->n_providers, (*bare_out)->n_providers);
    return shipped;
}

static int str_eq(const char *a, const char *b)
{
    return (a == NULL && b == NULL) || (a && b && strcmp(a, b) == 0);
}

#define SAME_INT(f)                                                                                \
    cr_expect_eq(s->f, d->f, "%s: %s is %d in switchyard.conf, default %d", s->name, #f,           \
                 (int)s->f, (int)d->f)
#define SAME_DBL(f)                                                                                \
    cr_expect(s->f == d->f, "%s: %s is %g in switchyard.conf, default %g", s->name, #f, s->f, d->f)
#define SAME_STR(f)                                                                                \
    cr_expect(str_eq(s->f, d->f), "%s: %s is %s in switchyard.conf, default %s", s->name, #f,      \
              s->f, d->f)

Test(conf_defaults, shipped_example_shows_the_builtin_provider_defaults)
{
    struct conf *def;
    struct conf *shipped = load_both(&def);

    for (size_t i = 0; i < shipped->n_providers; i++) {
        const struct conf_provider *s = &shipped->providers[i], *d = &def->providers[i];
        cr_assert_str_eq(s->name, d->name);
        SAME_INT(wait_s);
        SAME_INT(not_ready_tolerance);
        SAME_STR(proxy);
        SAME_INT(connect_timeout_ms);
        SAME_INT(request_timeout_ms);
        SAME_INT(max_connections);
        SAME_INT(poll.mode);
        SAME_INT(poll.max_s);
        SAME_INT(poll.max_lag_ms);
        SAME_INT(poll.expect_median_ms);
        SAME_DBL(poll.expect_sigma);
        SAME_INT(poll.min_interval_ms);
        SAME_INT(poll.max_interval_ms);
        /* first_ms / interval_ms are refused in adaptive mode, so the
         * example shows them only in a comment: checked against the README. */
        SAME_DBL(rate_limit.create_per_s);
        SAME_INT(rate_limit.create_burst);
        SAME_INT(rate_limit.create_window_max);
        if (s->rate_limit.create_window_max >
            0) /* the example omits the length of an unused window */
            SAME_INT(rate_limit.create_window_s);
        SAME_DBL(rate_limit.poll_per_s);
        SAME_INT(rate_limit.poll_burst);
        SAME_INT(rate_limit.max_in_flight);
        SAME_STR(rate_limit.scope);
        SAME_INT(breaker.window);
        SAME_INT(breaker.min_calls);
        SAME_DBL(breaker.failure_rate);
        SAME_INT(breaker.open_s);
        SAME_INT(breaker.half_open_probes);
        SAME_INT(retry.max_attempts);
        SAME_INT(retry.backoff_base_ms);
        SAME_INT(retry.backoff_max_ms);
        SAME_DBL(retry.budget_ratio);
        SAME_DBL(retry.budget_min_per_s);
        cr_expect_eq(s->n_models, d->n_models, "%s: %zu models in switchyard.conf, %zu built in",
                     s->name, s->n_models, d->n_models);
        for (size_t m = 0; m < s->n_models && m < d->n_models; m++) {
            SAME_STR(models[m].name);
            SAME_STR(models[m].generate);
            SAME_STR(models[m].edit);
            SAME_STR(models[m].image_field);
            SAME_STR(models[m].jpeg_name);
        }
    }
    conf_free(shipped);
    conf_free(def);
}

/* ---- conf/README-config.md ---------------------------------------------- */

static char *slurp(const char *path)
{
    FILE *f = fopen(path, "rb");
    cr_assert_not_null(f, "%s", path);
    size_t cap = 1 << 20, n;
    char *buf = malloc(cap);
    cr_assert_not_null(buf);
    n = fread(buf, 1, cap - 1, f);
    fclose(f);
    cr_assert_lt(n, cap - 1, "%s is larger than this test reads", path);
    buf[n] = '\0';
    return buf;
}

/* Cell `col` (0 = the key) of the row for `key` in the table under the
 * "### `section`" heading, as a number; fails the test when absent. */
static double cell(const char *md, const char *section, const char *key, int col)
{
    char head[64], row[64];
    snprintf(head, sizeof head, "\n### `%s`\n", section);
    snprintf(row, sizeof row, "\n| `%s` |", key);
    const char *p = strstr(md, head);
    cr_assert_not_null(p, "README-config.md has no section %s", section);
    const char *end = strstr(p + 1, "\n### ");
    const char *r = strstr(p, row);
    cr_assert(r != NULL && (end == NULL || r < end), "README-config.md: no row %s in %s", key,
              section);
    r += 2; /* past "\n|" */
    for (int i = 0; i < col; i++) {
        r = strchr(r, '|');
        cr_assert(r != NULL && r[1] != '\n', "README-config.md: %s.%s has no column %d", section,
                  key, col);
        r++;
    }
    char *e;
    double v = strtod(r, &e);
    cr_assert(e != r, "README-config.md: %s.%s column %d is not a number", section, key, col);
    return v;
}

#define DOC(sec, key, col, val)                                                                    \
    cr_expect(fabs(cell(md, sec, #key, col) - (double)(val)) < 1e-9,                               \
              "README-config.md %s.%s for %s says %g, default %g", sec, #key, p->name,             \
              cell(md, sec, #key, col), (double)(val))

Test(conf_defaults, readme_tables_show_the_builtin_defaults)
{
    char err[512] = "";
    struct conf *def = conf_load_string(bare, "bare.conf", err, sizeof err);
    cr_assert_not_null(def, "%s", err);
    char *md = slurp(README);

    for (size_t i = 0; i < def->n_providers; i++) {
        const struct conf_provider *p = &def->providers[i];
        /* poll: | key | type | unit | kie | replicate |; rate_limit: | key | unit | kie | replicate | */
        int pc = strcmp(p->name, "kie") == 0 ? 3 : 4, rc = pc - 1;
        DOC("poll", first_ms, pc, p->poll.first_ms);
        DOC("poll", interval_ms, pc, p->poll.interval_ms);
        DOC("poll", max_s, pc, p->poll.max_s);
        DOC("poll", max_lag_ms, pc, p->poll.max_lag_ms);
        DOC("poll", expect_median_ms, pc, p->poll.expect_median_ms);
        DOC("poll", expect_sigma, pc, p->poll.expect_sigma);
        DOC("poll", min_interval_ms, pc, p->poll.min_interval_ms);
        DOC("poll", max_interval_ms, pc, p->poll.max_interval_ms);
        DOC("rate_limit", create_per_s, rc, p->rate_limit.create_per_s);
        DOC("rate_limit", create_burst, rc, p->rate_limit.create_burst);
        DOC("rate_limit", create_window_max, rc, p->rate_limit.create_window_max);
        DOC("rate_limit", create_window_s, rc, p->rate_limit.create_window_s);
        DOC("rate_limit", poll_per_s, rc, p->rate_limit.poll_per_s);
        DOC("rate_limit", poll_burst, rc, p->rate_limit.poll_burst);
        DOC("rate_limit", max_in_flight, rc, p->rate_limit.max_in_flight);
        /* breaker, retry: | key | default | (one column for every type) */
        DOC("breaker", window, 1, p->breaker.window);
        DOC("breaker", min_calls, 1, p->breaker.min_calls);
        DOC("breaker", failure_rate, 1, p->breaker.failure_rate);
        DOC("breaker", open_s, 1, p->breaker.open_s);
        DOC("breaker", half_open_probes, 1, p->breaker.half_open_probes);
        DOC("retry", max_attempts, 1, p->retry.max_attempts);
        DOC("retry", backoff_base_ms, 1, p->retry.backoff_base_ms);
        DOC("retry", backoff_max_ms, 1, p->retry.backoff_max_ms);
        DOC("retry", budget_ratio, 1, p->retry.budget_ratio);
        DOC("retry", budget_min_per_s, 1, p->retry.budget_min_per_s);
    }
    free(md);
    conf_free(def);
}
