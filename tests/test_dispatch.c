/* test_dispatch.c — pure dispatch decisions over a loaded config: a job's
 * deadline (clamped to worker.max_deadline_s) and which provider models get
 * a poll plan (only config-mapped ones; names that do not fit never). */
#include "worker/dispatch.h"

#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void set_env(void)
{
    setenv("SY_T_KIE_KEY", "kie-test-key", 1);
}

TestSuite(dispatch, .init = set_env);

#define PROVIDERS                                                                                      \
    "providers = ( { name = \"kie\"; type = \"kie\"; priority = 1; base_url = \"https://api.kie.ai\";" \
    " api_key_env = \"SY_T_KIE_KEY\"; } );\n"

static struct conf *load(const char *extra)
{
    char err[512] = "", text[1024];
    snprintf(text, sizeof text, "%s%s", PROVIDERS, extra);
    struct conf *c = conf_load_string(text, "t.conf", err, sizeof err);
    cr_assert_not_null(c, "%s", err);
    return c;
}

/* M-6: a job's deadline_s never goes past worker.max_deadline_s. */
Test(dispatch, deadline_is_clamped_to_the_max)
{
    struct conf *c = load("worker = { default_deadline_s = 300; max_deadline_s = 600; };");
    cr_assert_eq(dispatch_deadline_s(c, 0), 300, "no deadline_s: the default");
    cr_assert_eq(dispatch_deadline_s(c, 100), 100);
    cr_assert_eq(dispatch_deadline_s(c, 600), 600);
    cr_assert_eq(dispatch_deadline_s(c, 601), 600);
    cr_assert_eq(dispatch_deadline_s(c, 86400), 600, "a day-long job is cut to the ceiling");
    conf_free(c);

    c = load("");
    cr_assert_eq(c->worker.max_deadline_s, 3600);
    cr_assert_eq(dispatch_deadline_s(c, 0), 1800);
    cr_assert_eq(dispatch_deadline_s(c, 86400), 3600);
    conf_free(c);
}

/* L-2: only the provider's mapped models are plan names. */
Test(dispatch, plan_model_only_for_mapped_models)
{
    struct conf *c = load("");
    const struct conf_provider *kie = conf_provider_by_name(c, "kie");
    cr_assert_not_null(kie);
    cr_assert_str_eq(dispatch_plan_model(kie, "nano-banana", 0), "google/nano-banana");
    cr_assert_str_eq(dispatch_plan_model(kie, "nano-banana", 1), "google/nano-banana-edit");
    cr_assert_null(dispatch_plan_model(kie, "made-up-model", 0));
    cr_assert_null(dispatch_plan_model(kie, "google/nano-banana", 0),
                   "a provider model is not a logical one");
    cr_assert_null(dispatch_plan_model(kie, NULL, 0));
    conf_free(c);
}

/* L-2: a name of 96 bytes or more was stored cut, never matched again and
 * took a new slot on every lookup; it now gets no plan (fixed settings). */
Test(dispatch, long_model_names_take_no_plan_slots)
{
    struct dispatch *d = dispatch_new(load(""), 0);
    cr_assert_not_null(d);
    struct pstate *ps = dispatch_pstate(d, "kie");
    cr_assert_not_null(ps);
    char name[128];

    memset(name, 'm', sizeof name - 1);
    name[sizeof name - 1] = '\0';
    for (int i = 0; i < 3; i++)
        cr_assert_null(dispatch_pollplan(ps, name), "lookup %d", i);
    cr_assert_eq(ps->n_plans, 0, "long names used up %zu plan slots", ps->n_plans);

    name[sizeof ps->plans[0].model - 1] = '\0'; /* the longest name that fits */
    struct pollplan *pp = dispatch_pollplan(ps, name);
    cr_assert_not_null(pp);
    cr_assert_eq(dispatch_pollplan(ps, name), pp, "the same plan on the next lookup");
    cr_assert_eq(ps->n_plans, 1);
    dispatch_free(d);
}
