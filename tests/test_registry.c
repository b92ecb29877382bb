/* test_registry.c — the provider registry: every descriptor is complete and
 * consistent, found by name, and is where the loader's per-type defaults
 * and the callback receiver's per-type hooks come from. */
#include <stdlib.h>
#include <string.h>

#include <criterion/criterion.h>
#include <uv.h>

#include "conf/config.h"
#include "providers/registry.h"
#include "worker/callbacks.h"
#include "core/sy.h"

extern const struct prov_ops kie_ops;       /* providers/kie.c, exported for tests */
extern const struct prov_ops replicate_ops; /* providers/replicate.c, exported for tests */

Test(registry, find_by_name)
{
    cr_assert_not_null(prov_find("kie"));
    cr_expect_eq(prov_find("kie")->ops, &kie_ops);
    cr_assert_not_null(prov_find("replicate"));
    cr_expect_eq(prov_find("replicate")->ops, &replicate_ops);
    cr_expect_null(prov_find("midjourney"));
    cr_expect_null(prov_find("KIE"), "names are exact");
    cr_expect_null(prov_find(""));
    cr_expect_null(prov_find(NULL));
}

/* Position i is type id i + 1, for the registry, the loader and prov_lookup. */
Test(registry, ids_follow_positions)
{
    cr_expect_eq(prov_at(CONF_PROV_KIE - 1), prov_find("kie"));
    cr_expect_eq(prov_at(CONF_PROV_REPLICATE - 1), prov_find("replicate"));
    size_t n = 0;
    while (prov_at(n))
        n++;
    cr_expect_eq(n, 2);
    cr_expect_null(prov_at(n + 1));
    for (size_t i = 0; i < n; i++) {
        cr_expect_eq(prov_lookup((enum conf_provider_type)(i + 1)), prov_at(i)->ops);
        cr_expect_eq(conf_ptype_at(i), prov_at(i)->conf);
    }
    cr_expect_null(conf_ptype_at(n));
    cr_expect_null(prov_lookup((enum conf_provider_type)(n + 1)));
}

Test(registry, descriptors_complete)
{
    for (size_t i = 0; prov_at(i); i++) {
        const struct prov_desc *d = prov_at(i);
        cr_assert_not_null(d->type);
        cr_expect_eq(prov_find(d->type), d, "%s: found by its own name", d->type);
        cr_expect_not_null(d->label, "%s", d->type);
        cr_assert_not_null(d->ops, "%s", d->type);
        cr_expect_str_eq(d->ops->type, d->type);
        cr_expect(d->ops->build_create && d->ops->build_poll && d->ops->parse_create &&
                          d->ops->parse_poll,
                  "%s", d->type);
        cr_assert_not_null(d->conf, "%s", d->type);
        cr_expect_str_eq(d->conf->name, d->type);
        cr_expect_gt(d->conf->n_models, 0, "%s: built-in models", d->type);
        cr_expect(d->conf->image_field && d->conf->jpeg_name, "%s", d->type);
        cr_expect(d->cb.ts_header && d->cb.sig_header, "%s: callback headers", d->type);
        cr_expect(d->cb.key_init && d->cb.verify && d->cb.peek && d->cb.parse, "%s: callback hooks",
                  d->type);
        cr_expect_not_null(d->cb.secret_env_key, "%s", d->type);
        cr_expect(d->cb.secret_off < sizeof(struct conf_callbacks) &&
                          d->cb.secret_env_off < sizeof(struct conf_callbacks),
                  "%s", d->type);
    }
}

/* The loader takes a provider's defaults and models from its descriptor. */
Test(registry, loader_uses_descriptor_defaults)
{
    setenv("SY_T_REG_KEY", "k", 1);
    char err[512] = "";
    struct conf *c = conf_load_string(
            "providers = ( { name = \"a\"; type = \"replicate\"; priority = 1; base_url = \"https://x.test\";"
            " api_key_env = \"SY_T_REG_KEY\"; },"
            " { name = \"b\"; type = \"kie\"; priority = 2; base_url = \"https://y.test\";"
            " api_key_env = \"SY_T_REG_KEY\"; } );",
            "reg.conf", err, sizeof err);
    cr_assert_not_null(c, "%s", err);
    cr_assert_eq(c->n_providers, 2);
    for (size_t i = 0; i < c->n_providers; i++) {
        const struct conf_provider *p = &c->providers[i];
        const struct prov_desc *d = prov_find(p->type_name);
        cr_assert_not_null(d, "%s", p->name);
        cr_expect_eq(prov_at((size_t)p->type - 1), d);
        cr_expect_eq(memcmp(&p->poll, &d->conf->poll, sizeof p->poll), 0, "%s: poll defaults",
                     p->name);
        cr_expect_eq(p->rate_limit.create_per_s, d->conf->rate_limit.create_per_s);
        cr_expect_eq(p->rate_limit.create_window_max, d->conf->rate_limit.create_window_max);
        cr_expect_eq(p->rate_limit.poll_per_s, d->conf->rate_limit.poll_per_s);
        cr_assert_eq(p->n_models, d->conf->n_models);
        for (size_t m = 0; m < p->n_models; m++) {
            cr_expect_str_eq(p->models[m].name, d->conf->models[m].name);
            cr_expect_str_eq(p->models[m].generate, d->conf->models[m].generate);
            cr_expect_str_eq(p->models[m].jpeg_name, d->conf->models[m].jpeg_name);
        }
    }
    cr_expect_str_eq(c->providers[0].type_name, "replicate");
    cr_expect_str_eq(c->providers[1].type_name, "kie");
    conf_free(c);
}

/* The KIE hooks: the body is read first, and its taskId is what is signed
 * (vector of test_webhook.c). */
Test(registry, kie_callback_hooks)
{
    const struct prov_desc *d = prov_find("kie");
    cr_assert_not_null(d);
    cr_expect_eq(d->cb.signs_body, 0);
    cr_expect_str_eq(d->cb.sig_header, "X-Webhook-Signature");
    const char body[] =
            "{\"code\":200,\"data\":{\"taskId\":\"task_google_1765178608584\",\"state\":\"success\"}}";
    struct webhook_event ev;
    cr_assert_eq(d->cb.peek(body, strlen(body), &ev), SY_OK);
    cr_expect_str_eq(ev.task_id, "task_google_1765178608584");
    cr_expect_str_eq(ev.state, "success");
    struct webhook_key k;
    cr_assert_eq(d->cb.key_init(&k, "kie-test-hmac-key"), SY_OK);
    struct prov_cb_req rq = { .ts = "1786428635",
                              .sig = "/JPVPIpyi4wOiDqWeYsu3GgLJWO2YkqNCXxG1ZSgSFk=",
                              .task_id = ev.task_id,
                              .body = body,
                              .body_len = strlen(body) };
    cr_expect_eq(d->cb.verify(&k, &rq, 1786428635, 300), WEBHOOK_OK);
    rq.task_id = "task_other";
    cr_expect_eq(d->cb.verify(&k, &rq, 1786428635, 300), WEBHOOK_BAD_SIG);
    webhook_key_cleanup(&k);
}

/* The Replicate hooks: the signature covers the raw body, and a bad
 * secret is refused with the descriptor's reason. */
Test(registry, replicate_callback_hooks)
{
    const struct prov_desc *d = prov_find("replicate");
    cr_assert_not_null(d);
    cr_expect_eq(d->cb.signs_body, 1);
    cr_expect_str_eq(d->cb.id_header, "webhook-id");
    struct webhook_key k;
    cr_expect_eq(d->cb.key_init(&k, "not-whsec"), SY_ERR);
    cr_expect_not_null(d->cb.bad_secret);
    cr_assert_eq(d->cb.key_init(&k, "whsec_cmVwbGljYXRlLXRlc3Qta2V5LTAxMjM0NTY3ODlhYmM="), SY_OK);
    const char body[] =
            "{\"id\":\"gm3qorzdhgbfurvjtvhg6dckhu\",\"status\":\"succeeded\",\"output\":\"https://"
            "replicate.delivery/x.png\",\"error\":null}";
    struct prov_cb_req rq = { .id = "msg_2abc",
                              .ts = "1786428635",
                              .sig = "v1,5uUPP596bi0I9VN3VvqMyXTHvHKW2nJXWOvjJ65Ji74=",
                              .body = body,
                              .body_len = strlen(body) };
    cr_expect_eq(d->cb.verify(&k, &rq, 1786428635, 300), WEBHOOK_OK);
    rq.body_len--;
    cr_expect_eq(d->cb.verify(&k, &rq, 1786428635, 300), WEBHOOK_BAD_SIG);
    webhook_key_cleanup(&k);
    struct prov_result r;
    prov_result_init(&r);
    d->cb.parse(body, strlen(body), &r);
    cr_expect_eq(r.outcome, PROV_SUCCEEDED);
    prov_result_cleanup(&r);
}

/* The receiver builds every type's key from the secret its descriptor names,
 * whether a provider of that type is configured or not, and reports a bad
 * one by the descriptor's field name and reason (the message of before the
 * registry). Nothing listens: the key is refused first. */
Test(registry, receiver_refuses_bad_secret_by_descriptor)
{
    setenv("SY_T_REG_KEY", "k", 1);
    setenv("SY_T_REG_WHSEC", "whsec_@@@@", 1); /* passes the loader's prefix check, not base64 */
    char err[512] = "";
    struct conf *c = conf_load_string(
            "providers = ( { name = \"a\"; type = \"kie\"; priority = 1; base_url = \"http://127.0.0.1:1\";"
            " api_key_env = \"SY_T_REG_KEY\"; } );\n"
            "callbacks = { listen = \"127.0.0.1:1\"; public_url = \"http://127.0.0.1:1\";"
            " webhook_secret_env = \"SY_T_REG_WHSEC\"; };\n",
            "reg.conf", err, sizeof err);
    cr_assert_not_null(c, "%s", err);
    uv_loop_t uv;
    cr_assert_eq(uv_loop_init(&uv), 0);
    struct callbacks *cb = callbacks_start(&uv, c, NULL, NULL, NULL, err, sizeof err);
    cr_expect_null(cb);
    cr_expect_str_eq(
            err,
            "callbacks.webhook_secret_env: SY_T_REG_WHSEC does not hold a valid whsec_<base64> secret");
    cr_expect_eq(uv_loop_close(&uv), 0);
    conf_free(c);
}
