/* test_config.c — conf_load / conf_load_string on good files: defaults,
 * inheritance, sorting, model maps, kafka properties, callbacks, templates.
 * The files the loader must refuse are test_config_reject.c's. */
#include "conf/config.h"

#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conftest.h"
#include "testutil.h"

TestSuite(config, .init = conftest_set_env);

Test(config, minimal_kie_gets_every_default)
{
    struct conf *c = conftest_load_ok(MIN);
    cr_assert_str_eq(c->path, "t.conf");

    cr_assert_eq(c->worker.max_in_flight, 1000);
    cr_assert_eq(c->worker.shutdown_grace_s, 30);
    cr_assert_eq(c->worker.connect_timeout_ms, 10000);
    cr_assert_eq(c->worker.request_timeout_ms, 30000);
    cr_assert_eq(c->worker.max_body_bytes, 1048576);
    cr_assert_eq(c->worker.max_host_connections, 64);
    cr_assert_eq(c->worker.max_total_connections, 0);
    cr_assert_eq(c->worker.default_deadline_s, 1800);
    cr_assert_eq(c->worker.max_deadline_s, 3600);
    cr_assert_eq(c->kafka.max_result_bytes, 900000);
    cr_assert(strlen(c->worker.user_agent) > 0);
    cr_assert_str_eq(c->worker.metrics_listen, "127.0.0.1:9464");
    cr_assert_str_eq(c->worker.log_level, "info");

    cr_assert_eq(c->kafka.present, 0);
    cr_assert_str_eq(c->kafka.brokers, "127.0.0.1:9092");
    cr_assert_str_eq(c->kafka.group, "switchyard");
    cr_assert_str_eq(c->kafka.input_topic, "switchyard.jobs");
    cr_assert_str_eq(c->kafka.output_topic, "switchyard.results");
    cr_assert_str_eq(c->kafka.dlq_topic, "switchyard.dlq");
    cr_assert_eq(c->kafka.n_properties, 0);

    cr_assert_eq(c->n_providers, 1);
    const struct conf_provider *p = &c->providers[0];
    cr_assert_str_eq(p->name, "kie");
    cr_assert_eq(p->type, CONF_PROV_KIE);
    cr_assert_str_eq(p->base_url, "https://api.kie.ai");
    cr_assert_str_eq(p->api_key_env, "SY_T_KIE_KEY");
    cr_assert_str_eq(p->api_key, KIE_KEY);
    cr_assert_null(p->proxy);
    cr_assert_eq(p->wait_s, 0);
    cr_assert_eq(p->connect_timeout_ms, 10000);
    cr_assert_eq(p->request_timeout_ms, 30000);
    cr_assert_eq(p->max_connections, 64);
    cr_assert_eq(p->not_ready_tolerance, 5);
    cr_assert_eq(p->poll.first_ms, 5000);
    cr_assert_eq(p->poll.interval_ms, 3000);
    cr_assert_eq(p->poll.max_s, 900);
    cr_assert_eq(p->poll.mode, CONF_POLL_ADAPTIVE);
    cr_assert_eq(p->poll.max_lag_ms, 1000);
    cr_assert_eq(p->poll.expect_median_ms, 25000);
    cr_assert_float_eq(p->poll.expect_sigma, 0.35, 1e-9);
    cr_assert_eq(p->poll.min_interval_ms, 500);
    cr_assert_eq(p->poll.max_interval_ms, 30000);
    cr_assert_float_eq(p->rate_limit.create_per_s, 1.6, 1e-9);
    cr_assert_eq(p->rate_limit.create_burst, 18);
    cr_assert_eq(p->rate_limit.create_window_max, 18);
    cr_assert_eq(p->rate_limit.create_window_s, 11);
    cr_assert_float_eq(p->rate_limit.poll_per_s, 8.0, 1e-9);
    cr_assert_eq(p->rate_limit.poll_burst, 8);
    cr_assert_eq(p->rate_limit.max_in_flight, 500);
    cr_assert_str_eq(p->rate_limit.scope, "worker");
    cr_assert_eq(p->breaker.window, 50);
    cr_assert_eq(p->breaker.min_calls, 20);
    cr_assert_float_eq(p->breaker.failure_rate, 0.5, 1e-9);
    cr_assert_eq(p->breaker.open_s, 30);
    cr_assert_eq(p->breaker.half_open_probes, 3);
    cr_assert_eq(p->retry.max_attempts, 4);
    cr_assert_eq(p->retry.backoff_base_ms, 500);
    cr_assert_eq(p->retry.backoff_max_ms, 30000);
    cr_assert_float_eq(p->retry.budget_ratio, 0.2, 1e-9);
    cr_assert_float_eq(p->retry.budget_min_per_s, 1.0, 1e-9);

    cr_assert_eq(p->n_models, 2);
    const struct conf_model *m = conf_provider_model(p, "nano-banana");
    cr_assert_not_null(m);
    cr_assert_str_eq(m->generate, "google/nano-banana");
    cr_assert_str_eq(m->edit, "google/nano-banana-edit");
    cr_assert_str_eq(m->image_field, "image_urls");
    cr_assert_str_eq(m->jpeg_name, "jpeg");
    m = conf_provider_model(p, "nano-banana-pro");
    cr_assert_not_null(m);
    cr_assert_str_eq(m->generate, "nano-banana-pro");
    cr_assert_str_eq(m->edit, "nano-banana-pro");
    cr_assert_str_eq(m->image_field, "image_input");
    cr_assert_str_eq(m->jpeg_name, "jpg");
    conf_free(c);
    assert_no_leaks();
}

Test(config, replicate_type_defaults)
{
    struct conf *c = conftest_load_ok("providers = ( " REP "} );");
    const struct conf_provider *p = conf_provider_by_name(c, "replicate");
    cr_assert_not_null(p);
    cr_assert_eq(p->type, CONF_PROV_REPLICATE);
    cr_assert_str_eq(p->api_key, REP_KEY);
    cr_assert_eq(p->poll.first_ms, 2000);
    cr_assert_eq(p->poll.interval_ms, 2000);
    cr_assert_eq(p->poll.max_s, 1800);
    cr_assert_eq(p->poll.mode, CONF_POLL_ADAPTIVE);
    cr_assert_eq(p->poll.expect_median_ms, 15000);
    cr_assert_float_eq(p->poll.expect_sigma, 0.5, 1e-9);
    cr_assert_float_eq(p->rate_limit.create_per_s, 9.0, 1e-9);
    cr_assert_eq(p->rate_limit.create_burst, 20);
    cr_assert_eq(p->rate_limit.create_window_max, 0);
    cr_assert_float_eq(p->rate_limit.poll_per_s, 45.0, 1e-9);
    cr_assert_eq(p->rate_limit.poll_burst, 50);
    cr_assert_eq(p->rate_limit.max_in_flight, 500);
    cr_assert_eq(p->n_models, 2);
    const struct conf_model *m = conf_provider_model(p, "nano-banana");
    cr_assert_str_eq(m->generate, "google/nano-banana");
    cr_assert_str_eq(m->edit, "google/nano-banana");
    cr_assert_str_eq(m->image_field, "image_input");
    cr_assert_str_eq(m->jpeg_name, "jpg");
    m = conf_provider_model(p, "nano-banana-pro");
    cr_assert_str_eq(m->generate, "google/nano-banana-pro");
    cr_assert_str_eq(m->edit, "google/nano-banana-pro");
    cr_assert_null(conf_provider_model(p, "flux"));
    cr_assert_null(conf_provider_by_name(c, "kie"));
    conf_free(c);
    assert_no_leaks();
}

Test(config, sorted_by_priority_inherits_and_strips_slash)
{
    struct conf *c = conftest_load_ok(
            "worker = { connect_timeout_ms = 1234; request_timeout_ms = 5678; max_host_connections = 9; allow_plain_http = true; };\n"
            "providers = (\n"
            "  { name = \"c\"; type = \"kie\"; priority = 30; base_url = \"https://c.test//\"; api_key_env = \"SY_T_KIE_KEY\";\n"
            "    request_timeout_ms = 1; },\n"
            "  { name = \"a\"; type = \"replicate\"; priority = 10; base_url = \"https://a.test/v1/\"; api_key_env = \"SY_T_REP_KEY\"; },\n"
            "  { name = \"b\"; type = \"kie\"; priority = 20; base_url = \"http://b.test\"; api_key_env = \"SY_T_KIE_KEY\";\n"
            "    proxy = \"\"; max_connections = 2; }\n"
            ");\n");
    cr_assert_eq(c->n_providers, 3);
    cr_assert_str_eq(c->providers[0].name, "a");
    cr_assert_str_eq(c->providers[1].name, "b");
    cr_assert_str_eq(c->providers[2].name, "c");
    cr_assert_eq(c->providers[0].line, 5);
    cr_assert_str_eq(c->providers[0].base_url, "https://a.test/v1");
    cr_assert_str_eq(c->providers[1].base_url, "http://b.test");
    cr_assert_str_eq(c->providers[2].base_url, "https://c.test");
    cr_assert_eq(c->providers[0].connect_timeout_ms, 1234);
    cr_assert_eq(c->providers[0].request_timeout_ms, 5678);
    cr_assert_eq(c->providers[0].max_connections, 9);
    cr_assert_eq(c->providers[1].max_connections, 2);
    cr_assert_null(c->providers[1].proxy);
    cr_assert_eq(c->providers[2].request_timeout_ms, 1);
    cr_assert_eq(c->providers[2].connect_timeout_ms, 1234);
    cr_assert_str_eq(conf_provider_by_name(c, "b")->name, "b");
    conf_free(c);
    assert_no_leaks();
}

Test(config, models_replace_defaults)
{
    struct conf *c = conftest_load_ok(
            "providers = ( " KIE "\n"
            "  models = ( { name = \"nano-banana-pro\"; generate = \"x-pro\"; },\n"
            "             { name = \"custom\"; edit = \"me/edit\"; } ); },\n"
            "  " REP
            "models = ( { name = \"custom\"; generate = \"me/gen\"; jpeg_name = \"jpeg\"; } ); } );\n");
    const struct conf_provider *k = conf_provider_by_name(c, "kie");
    cr_assert_eq(k->n_models, 2);
    cr_assert_null(conf_provider_model(k, "nano-banana"));
    const struct conf_model *m = conf_provider_model(k, "nano-banana-pro");
    cr_assert_str_eq(m->generate, "x-pro");
    cr_assert_null(m->edit);
    cr_assert_str_eq(m->image_field, "image_input"); /* from the built-in of the same name */
    cr_assert_str_eq(m->jpeg_name, "jpg");
    cr_assert_eq(m->line, 2);
    m = conf_provider_model(k, "custom");
    cr_assert_null(m->generate);
    cr_assert_str_eq(m->edit, "me/edit");
    cr_assert_str_eq(m->image_field, "image_urls"); /* the kie type default */
    cr_assert_str_eq(m->jpeg_name, "jpeg");
    m = conf_provider_model(conf_provider_by_name(c, "replicate"), "custom");
    cr_assert_str_eq(m->generate, "me/gen");
    cr_assert_str_eq(m->image_field, "image_input");
    cr_assert_str_eq(m->jpeg_name, "jpeg");
    conf_free(c);
    assert_no_leaks();
}

Test(config, kafka_group_and_properties)
{
    struct conf *c = conftest_load_ok(
            MIN "kafka = { brokers = \"k:1\"; properties = { security_protocol = \"SSL\";\n"
                "  enable_idempotence = \"true\"; client-id = \"x\"; }; };\n");
    cr_assert_eq(c->kafka.present, 1);
    cr_assert_str_eq(c->kafka.brokers, "k:1");
    cr_assert_str_eq(c->kafka.group, "switchyard");
    cr_assert_eq(c->kafka.n_properties, 3);
    cr_assert_str_eq(c->kafka.properties[0].key, "security.protocol");
    cr_assert_str_eq(c->kafka.properties[0].value, "SSL");
    cr_assert_str_eq(c->kafka.properties[1].key, "enable.idempotence");
    cr_assert_str_eq(c->kafka.properties[1].value, "true");
    cr_assert_str_eq(c->kafka.properties[2].key, "client-id");
    conf_free(c);
    assert_no_leaks();
}

Test(config, poll_group_adaptive_and_fixed)
{
    struct conf *c = conftest_load_ok(
            "providers = ( " KIE
            "poll = { mode = \"fixed\"; first_ms = 3000; interval_ms = 3000; }; },\n" REP
            "poll = { mode = \"adaptive\"; max_lag_ms = 400; expect_median_ms = 9000;\n"
            "expect_sigma = 0.2; min_interval_ms = 250; max_interval_ms = 5000; }; } );");
    const struct conf_provider *k = conf_provider_by_name(c, "kie"),
                               *r = conf_provider_by_name(c, "replicate");
    cr_assert_eq(k->poll.mode, CONF_POLL_FIXED);
    cr_assert_eq(k->poll.first_ms, 3000);
    cr_assert_eq(k->poll.max_lag_ms, 1000); /* the rest keep their defaults */
    cr_assert_eq(r->poll.mode, CONF_POLL_ADAPTIVE);
    cr_assert_eq(r->poll.max_lag_ms, 400);
    cr_assert_eq(r->poll.expect_median_ms, 9000);
    cr_assert_float_eq(r->poll.expect_sigma, 0.2, 1e-9);
    cr_assert_eq(r->poll.min_interval_ms, 250);
    cr_assert_eq(r->poll.max_interval_ms, 5000);
    conf_free(c);
    assert_no_leaks();
}

Test(config, ints_accepted_where_floats_expected)
{
    struct conf *c = conftest_load_ok(
            "providers = ( " KIE "rate_limit = { create_per_s = 3; poll_per_s = 1.5e1; };\n"
            "  breaker = { failure_rate = 1; }; retry = { budget_ratio = 0; budget_min_per_s = 2; }; } );");
    const struct conf_provider *p = &c->providers[0];
    cr_assert_float_eq(p->rate_limit.create_per_s, 3.0, 1e-9);
    cr_assert_float_eq(p->rate_limit.poll_per_s, 15.0, 1e-9);
    cr_assert_eq(p->rate_limit.create_burst, 18); /* untouched keys keep the type default */
    cr_assert_float_eq(p->breaker.failure_rate, 1.0, 1e-9);
    cr_assert_float_eq(p->retry.budget_ratio, 0.0, 1e-9);
    cr_assert_float_eq(p->retry.budget_min_per_s, 2.0, 1e-9);
    conf_free(c);
    assert_no_leaks();
}

Test(config, full_file_every_key)
{
    char err[512] = "";
    struct conf *c = conf_load(FIX "good-full.conf", err, sizeof err);
    cr_assert_not_null(c, "%s", err);
    cr_assert_str_eq(c->path, FIX "good-full.conf");
    cr_assert_eq(c->worker.max_in_flight, 5);
    cr_assert_eq(c->worker.shutdown_grace_s, 0);
    cr_assert_eq(c->worker.max_body_bytes, 333);
    cr_assert_eq(c->worker.max_total_connections, 9);
    cr_assert_eq(c->worker.default_deadline_s, 44);
    cr_assert_eq(c->worker.max_deadline_s, 120);
    cr_assert_eq(c->kafka.max_result_bytes, 65536);
    cr_assert_str_eq(c->worker.user_agent, "ua/1");
    cr_assert_str_eq(c->worker.metrics_listen, "");
    cr_assert_str_eq(c->worker.log_level, "debug");
    cr_assert_str_eq(c->kafka.dlq_topic, "dead");
    cr_assert_eq(c->kafka.n_properties, 2);
    cr_assert_str_eq(c->kafka.properties[1].key, "queue.buffering.max.ms");

    cr_assert_eq(c->n_providers, 2);
    const struct conf_provider *k = &c->providers[0];
    cr_assert_str_eq(k->name, "kie");
    cr_assert_eq(k->connect_timeout_ms, 111);
    cr_assert_eq(k->request_timeout_ms, 222);
    cr_assert_eq(k->max_connections, 4);

    const struct conf_provider *r = &c->providers[1];
    cr_assert_str_eq(r->name, "rep-eu");
    cr_assert_eq(r->line, 3);
    cr_assert_str_eq(r->base_url, "https://replicate.example.test");
    cr_assert_str_eq(r->proxy, "http://proxy.test:3128");
    cr_assert_eq(r->wait_s, 60);
    cr_assert_eq(r->connect_timeout_ms, 1500);
    cr_assert_eq(r->request_timeout_ms, 70000);
    cr_assert_eq(r->max_connections, 12);
    cr_assert_eq(r->not_ready_tolerance, 0);
    cr_assert_eq(r->poll.mode, CONF_POLL_FIXED);
    cr_assert_eq(r->poll.first_ms, 100);
    cr_assert_eq(r->poll.interval_ms, 250);
    cr_assert_eq(r->poll.max_s, 60);
    cr_assert_float_eq(r->rate_limit.create_per_s, 2.0, 1e-9);
    cr_assert_eq(r->rate_limit.create_burst, 3);
    cr_assert_eq(r->rate_limit.create_window_max, 4);
    cr_assert_eq(r->rate_limit.create_window_s, 5);
    cr_assert_float_eq(r->rate_limit.poll_per_s, 6.5, 1e-9);
    cr_assert_eq(r->rate_limit.poll_burst, 7);
    cr_assert_eq(r->rate_limit.max_in_flight, 8);
    cr_assert_str_eq(r->rate_limit.scope, "fleet");
    cr_assert_eq(r->breaker.window, 10);
    cr_assert_eq(r->breaker.min_calls, 10);
    cr_assert_eq(r->breaker.open_s, 5);
    cr_assert_eq(r->breaker.half_open_probes, 1);
    cr_assert_eq(r->retry.max_attempts, 1);
    cr_assert_eq(r->retry.backoff_base_ms, 10);
    cr_assert_eq(r->retry.backoff_max_ms, 10);
    cr_assert_eq(r->n_models, 2);
    const struct conf_model *m = conf_provider_model(r, "nano-banana");
    cr_assert_null(m->edit);
    m = conf_provider_model(r, "my-edit");
    cr_assert_str_eq(m->image_field, "images");
    cr_assert_str_eq(m->jpeg_name, "jpeg");
    conf_free(c);
    assert_no_leaks();
}

Test(config, shipped_example_loads)
{
    setenv("KIE_API_KEY", "kie-SHIPPED-51d0", 1);
    setenv("REPLICATE_API_TOKEN", "r8-SHIPPED-93aa", 1);
    char err[512] = "";
    struct conf *c = conf_load(SY_SOURCE_DIR "/conf/switchyard.conf", err, sizeof err);
    cr_assert_not_null(c, "%s", err);
    cr_assert_eq(c->n_providers, 2);
    cr_assert_str_eq(c->providers[0].name, "kie");
    cr_assert_str_eq(c->providers[0].base_url, "https://api.kie.ai");
    cr_assert_str_eq(c->providers[0].api_key, "kie-SHIPPED-51d0");
    cr_assert_eq(c->providers[0].rate_limit.create_window_max, 18);
    cr_assert_str_eq(c->providers[1].name, "replicate");
    cr_assert_str_eq(c->providers[1].base_url, "https://api.replicate.com");
    cr_assert_str_eq(c->providers[1].api_key, "r8-SHIPPED-93aa");
    cr_assert_eq(c->kafka.present, 1);
    cr_assert_eq(c->kafka.n_properties, 0);
    /* The shipped templates (README "Templates"). */
    cr_assert_eq(c->n_templates, 3);
    const struct conf_template *t = conf_template_by_name(c, "restyle");
    cr_assert(t != NULL && t->op == CONF_OP_EDIT);
    cr_assert_eq(t->n_vars, 2);
    cr_assert_str_eq(t->vars[0].name, "room");
    cr_assert_str_eq(t->vars[0].choices[0], "living room");
    cr_assert_str_eq(t->vars[1].name, "style");
    cr_assert_geq(t->vars[1].n_choices, 12);
    t = conf_template_by_name(c, "clear_room");
    cr_assert(t != NULL && t->op == CONF_OP_EDIT && t->n_vars == 0);
    t = conf_template_by_name(c, "generate_room");
    cr_assert(t != NULL && t->op == CONF_OP_GENERATE);
    cr_assert_str_eq(t->vars[1].def, "contemporary");
    conf_free(c);

    unsetenv("REPLICATE_API_TOKEN");
    c = conf_load(SY_SOURCE_DIR "/conf/switchyard.conf", err, sizeof err);
    cr_assert_null(c);
    cr_assert(strstr(err, "REPLICATE_API_TOKEN is not set") != NULL, "%s", err);
    cr_assert(strstr(err, "kie-SHIPPED-51d0") == NULL, "%s", err);
    assert_no_leaks();
}

/* A key pasted into api_key_env is refused without being repeated. */
Test(config, pasted_key_is_not_echoed)
{
    char err[512];
    const char *text =
            "providers = ( { name = \"kie\"; type = \"kie\"; priority = 1;\n"
            "  base_url = \"https://api.kie.ai\"; api_key_env = \"sk-pasted-9f8e7d6c\"; } );\n";
    cr_assert_null(conf_load_string(text, "t.conf", err, sizeof err));
    cr_assert_not_null(
            strstr(err, "t.conf:2: providers[0].api_key_env: must name an environment variable"),
            "%s", err);
    cr_assert_null(strstr(err, "pasted"), "%s", err);
    assert_no_leaks();
}

Test(config, tiny_error_buffer_is_safe)
{
    char err[8];
    cr_assert_null(conf_load_string("providers = ();", "t.conf", err, sizeof err));
    cr_assert_str_eq(err, "t.conf:");
    cr_assert_null(conf_load_string("providers = ();", "t.conf", NULL, 0));
    assert_no_leaks();
}

Test(config, callbacks_off_by_default)
{
    struct conf *c = conftest_load_ok(MIN);
    cr_assert_str_eq(c->callbacks.listen, "");
    cr_assert_str_eq(c->callbacks.public_url, "");
    cr_assert_null(c->callbacks.kie_hmac_key_env);
    cr_assert_null(c->callbacks.kie_hmac_key);
    cr_assert_null(c->callbacks.webhook_secret);
    cr_assert_eq(c->callbacks.tolerance_s, 300);
    cr_assert_eq(c->callbacks.safety_poll_s, 60);
    cr_assert_str_eq(c->kafka.callback_topic, "switchyard.jobs.callbacks");
    conf_free(c);
    c = conftest_load_ok(MIN "kafka = { input_topic = \"in\"; };");
    cr_assert_str_eq(c->kafka.callback_topic, "in.callbacks", "follows the input topic");
    conf_free(c);
    assert_no_leaks();
}

/* The task ledger: on by default next to the input topic, "" turns it off. */
Test(config, ledger_topic)
{
    struct conf *c = conftest_load_ok(MIN);
    cr_assert_str_eq(c->kafka.ledger_topic, "switchyard.jobs.ledger");
    cr_assert_eq(c->kafka.ledger_read_timeout_ms, 10000);
    conf_free(c);
    c = conftest_load_ok(MIN "kafka = { input_topic = \"in\"; ledger_read_timeout_ms = 2500; };");
    cr_assert_str_eq(c->kafka.ledger_topic, "in.ledger", "follows the input topic");
    cr_assert_eq(c->kafka.ledger_read_timeout_ms, 2500);
    conf_free(c);
    c = conftest_load_ok(MIN "kafka = { ledger_topic = \"\"; };");
    cr_assert_str_eq(c->kafka.ledger_topic, "", "off");
    conf_free(c);
    assert_no_leaks();
}

/* Loopback listeners may run unsigned; elsewhere only with allow_unsigned = true. */
Test(config, callbacks_unsigned_listen)
{
    const char *ok[] = { "127.0.0.1:8088", "127.9.9.9:1", "[::1]:8088", "localhost:8088" };
    for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++) {
        char text[512];
        snprintf(text, sizeof text,
                 MIN "callbacks = { listen = \"%s\"; public_url = \"https://h\"; };", ok[i]);
        struct conf *c = conftest_load_ok(text);
        cr_assert_eq(c->callbacks.allow_unsigned, 0);
        cr_assert_eq(c->callbacks.max_connections, 128);
        cr_assert_eq(c->callbacks.max_connections_per_ip, 16);
        conf_free(c);
    }
    struct conf *c = conftest_load_ok(
            MIN "callbacks = { listen = \"0.0.0.0:8088\"; public_url = \"https://h\";"
                " allow_unsigned = true; max_connections = 9; max_connections_per_ip = 2; };");
    cr_assert_eq(c->callbacks.allow_unsigned, 1);
    cr_assert_eq(c->callbacks.max_connections, 9);
    cr_assert_eq(c->callbacks.max_connections_per_ip, 2);
    conf_free(c);
    assert_no_leaks();
}

Test(config, callbacks_group)
{
    struct conf *c = conftest_load_ok(
            MIN
            "callbacks = { listen = \"0.0.0.0:8088\"; public_url = \"https://hooks.example.com/sy//\";\n"
            " kie_hmac_key_env = \"SY_T_HMAC\"; webhook_secret_env = \"SY_T_WHSEC\";\n"
            " tolerance_s = 120; safety_poll_s = 600; };\n"
            "kafka = { callback_topic = \"cb\"; };");
    cr_assert_str_eq(c->callbacks.listen, "0.0.0.0:8088");
    cr_assert_str_eq(c->callbacks.public_url, "https://hooks.example.com/sy",
                     "trailing slashes stripped");
    cr_assert_str_eq(c->callbacks.kie_hmac_key_env, "SY_T_HMAC");
    cr_assert_str_eq(c->callbacks.kie_hmac_key, HMAC_KEY);
    cr_assert_str_eq(c->callbacks.webhook_secret, WHSEC);
    cr_assert_eq(c->callbacks.tolerance_s, 120);
    cr_assert_eq(c->callbacks.safety_poll_s, 600);
    cr_assert_str_eq(c->kafka.callback_topic, "cb");
    conf_free(c);
    assert_no_leaks();
}
