/* test_config_reject.c — configs conf_load must refuse: a table of bad
 * files that each must fail with the exact line and a recognisable message —
 * never one that carries an API key — and the security review's L-9 (plain
 * http:// to a remote host) and L-8 (a secret in a file others can read). */
#include "conf/config.h"

#include <criterion/criterion.h>
#include <criterion/parameterized.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conftest.h"
#include "testutil.h"

TestSuite(config, .init = conftest_set_env);

/* ---- bad configs -------------------------------------------------------- */

struct bad {
    const char *text; /* config text, loaded as "bad.conf" ... */
    const char *file; /* ... or a file under tests/fixtures/config/ */
    int line;         /* expected line; 0 = the message has no line */
    const char *msg;  /* expected substring */
};

static const struct bad bad_table[] = {
    /* parse errors and files */
    { "providers = (\n  { name = = \"kie\"; }\n);\n", NULL, 2, "parse error: syntax error" },
    { "providers = (\n  { name = \"kie\"; }\n", NULL, 3,
      "parse error" }, /* unclosed: found at the end */
    { MIN "worker = { max_in_flight = 1; max_in_flight = 2; };\n", NULL, 2,
      "duplicate setting name" },
    { NULL, "bad-parse.conf", 4, "parse error" },
    { NULL, "does-not-exist.conf", 0, "cannot open: No such file or directory" },
    { NULL, "", 0, "not a regular file" },
    /* unknown keys at every level */
    { MIN "\nprovider = ();\n", NULL, 3, "provider: unknown setting" },
    { MIN "worker = { max_inflight = 1; };\n", NULL, 2, "worker.max_inflight: unknown setting" },
    { MIN "kafka = {\n brokers = \"b\";\n topic = \"x\"; };\n", NULL, 4,
      "kafka.topic: unknown setting" },
    { "providers = ( " KIE "\n  enabled = true; } );", NULL, 2,
      "providers[0].enabled: unknown setting" },
    { "providers = ( { name = \"k\";\n typ = \"kie\"; priority = 1; base_url = \"https://k\"; api_key_env = \"SY_T_KIE_KEY\"; } );",
      NULL, 2, "providers[0].typ: unknown setting" },
    { "providers = ( " KIE "poll = {\n first = 1; }; } );", NULL, 2,
      "providers[0].poll.first: unknown setting" },
    { NULL, "bad-nested-unknown.conf", 10, "providers[0].rate_limit.creat_burst: unknown setting" },
    { "providers = ( " KIE "breaker = { threshold = 0.5; }; } );", NULL, 1,
      "providers[0].breaker.threshold: unknown setting" },
    { "providers = ( " KIE "retry = { attempts = 3; }; } );", NULL, 1,
      "providers[0].retry.attempts: unknown setting" },
    { "providers = ( " KIE "models = (\n { name = \"m\"; generate = \"g\"; size = 1; } ); } );",
      NULL, 2, "providers[0].models[0].size: unknown setting" },
    /* wrong types */
    { "providers = ( { name = \"kie\"; type = \"kie\";\n priority = \"1\"; base_url = \"https://k\"; api_key_env = \"SY_T_KIE_KEY\"; } );",
      NULL, 2, "providers[0].priority: must be an integer, not a string" },
    { MIN "worker = { user_agent = 5; };", NULL, 2,
      "worker.user_agent: must be a string, not an integer" },
    { "providers = ( " KIE "rate_limit = { create_per_s = \"fast\"; }; } );", NULL, 1,
      "providers[0].rate_limit.create_per_s: must be a number, not a string" },
    { "providers = ( " KIE "poll = { first_ms = 1.5; }; } );", NULL, 1,
      "providers[0].poll.first_ms: must be an integer, not a float" },
    { MIN "worker = { max_in_flight = true; };", NULL, 2,
      "worker.max_in_flight: must be an integer, not a boolean" },
    { "providers = ( " KIE "poll = 5; } );", NULL, 1, "providers[0].poll: must be a group" },
    { "providers = { kie = 1; };", NULL, 1, "providers: must be a list" },
    { "providers = ( 1 );", NULL, 1, "providers[0]: must be a group" },
    { MIN "kafka = { properties = { linger_ms = 5; }; };", NULL, 2,
      "kafka.properties.linger_ms: must be a string" },
    /* missing required settings: reported at the enclosing group */
    { "worker = { };\n", NULL, 1, "providers: missing required setting" },
    { "providers = ();", NULL, 1, "providers: must have at least one provider" },
    { "providers = (\n { name = \"kie\"; type = \"kie\"; priority = 1;\n api_key_env = \"SY_T_KIE_KEY\"; } );",
      NULL, 2, "providers[0].base_url: missing required setting" },
    { "providers = (\n " KIE "},\n { name = \"r\"; priority = 2; } );", NULL, 3,
      "providers[1].type: missing required setting" },
    { "providers = ( " KIE "models = ( { generate = \"g\"; } ); } );", NULL, 1,
      "providers[0].models[0].name: missing required setting" },
    /* duplicates */
    { "providers = ( " KIE
      "},\n { name = \"kie\"; type = \"replicate\"; priority = 2; base_url = \"https://r\"; api_key_env = \"SY_T_REP_KEY\"; } );",
      NULL, 2, "providers[1].name: duplicate provider name \"kie\" (also providers[0])" },
    { "providers = ( " KIE
      "},\n { name = \"r\"; type = \"replicate\";\n priority = 1; base_url = \"https://r\"; api_key_env = \"SY_T_REP_KEY\"; } );",
      NULL, 3, "providers[1].priority: duplicate priority 1" },
    { "providers = ( " KIE
      "models = ( { name = \"m\"; generate = \"a\"; },\n { name = \"m\"; edit = \"b\"; } ); } );",
      NULL, 2, "providers[0].models[1].name: duplicate model \"m\"" },
    /* ranges */
    { "providers = ( " KIE "\n poll = { interval_ms = 0; }; } );", NULL, 2,
      "providers[0].poll.interval_ms: must be > 0" },
    { MIN "worker = {\n request_timeout_ms = -5; };", NULL, 3,
      "worker.request_timeout_ms: must be > 0" },
    { "providers = ( " KIE "poll = {\n mode = \"smart\"; }; } );", NULL, 2,
      "providers[0].poll.mode: must be one of \"adaptive\", \"fixed\", not \"smart\"" },
    { "providers = ( " KIE "poll = { mode = 1; }; } );", NULL, 1,
      "providers[0].poll.mode: must be a string" },
    /* issue 14: fixed-mode keys given while the mode is adaptive would be ignored */
    { "providers = ( " KIE "poll = {\n first_ms = 200; interval_ms = 300; }; } );", NULL, 2,
      "providers[0].poll.first_ms: only used when poll.mode = \"fixed\", and the mode is \"adaptive\" (the default); "
      "set mode = \"fixed\"" },
    { "providers = ( " KIE "poll = { mode = \"adaptive\";\n\n interval_ms = 300; }; } );", NULL, 3,
      "providers[0].poll.interval_ms: only used when poll.mode = \"fixed\", and the mode is \"adaptive\"; set" },
    { "providers = ( " KIE "},\n " REP
      "poll = { expect_median_ms = 2000;\n first_ms = 200; }; } );",
      NULL, 3, "providers[1].poll.first_ms: only used when" },
    { "providers = ( " KIE "poll = {\n max_lag_ms = 0; }; } );", NULL, 2,
      "providers[0].poll.max_lag_ms: must be between 1 and 600000" },
    { "providers = ( " KIE "poll = { expect_median_ms = 100; }; } );", NULL, 1,
      "providers[0].poll.expect_median_ms: must be between 250 and 3600000" },
    { "providers = ( " KIE "poll = { expect_sigma = 0.0; }; } );", NULL, 1,
      "providers[0].poll.expect_sigma: must be between 0.01 and 3" },
    { "providers = ( " KIE "poll = { expect_sigma = 1; min_interval_ms = 0; }; } );", NULL, 1,
      "providers[0].poll.min_interval_ms: must be between 1 and 600000" },
    { "providers = ( " KIE "poll = { min_interval_ms = 2000;\n max_interval_ms = 1000; }; } );",
      NULL, 2, "providers[0].poll.max_interval_ms: must be >= poll.min_interval_ms (2000)" },
    { MIN "worker = { max_body_bytes = 3000000000; };", NULL, 2,
      "worker.max_body_bytes: must be > 0" },
    { MIN "worker = {\n max_deadline_s = 86401; };", NULL, 3,
      "worker.max_deadline_s: must be between 1 and 86400" },
    { MIN "worker = { max_deadline_s = 600;\n default_deadline_s = 1800; };", NULL, 3,
      "worker.default_deadline_s: 1800 is over worker.max_deadline_s (600)" },
    { MIN "worker = {\n max_deadline_s = 600; };", NULL, 3,
      "worker.default_deadline_s: 1800 is over worker.max_deadline_s (600)" },
    { MIN "kafka = {\n max_result_bytes = 1000; };", NULL, 3,
      "kafka.max_result_bytes: must be between 4096 and 1000000000" },
    { "providers = ( " KIE "connect_timeout_ms = 0; } );", NULL, 1,
      "providers[0].connect_timeout_ms: must be > 0" },
    { "providers = ( " KIE "rate_limit = { create_per_s = 0.0; }; } );", NULL, 1,
      "providers[0].rate_limit.create_per_s: must be > 0" },
    { "providers = ( " KIE "not_ready_tolerance = -1; } );", NULL, 1,
      "providers[0].not_ready_tolerance: must be >= 0" },
    { "providers = ( " REP "wait_s = 61; } );", NULL, 1,
      "providers[0].wait_s: must be between 0 and 60" },
    { "providers = ( " KIE "breaker = { failure_rate = 0; }; } );", NULL, 1,
      "providers[0].breaker.failure_rate: must be > 0 and <= 1" },
    { "providers = ( " KIE "breaker = { failure_rate = 1.5; }; } );", NULL, 1,
      "providers[0].breaker.failure_rate: must be > 0 and <= 1" },
    { "providers = ( " KIE "breaker = { window = 10; }; } );", NULL, 1,
      "providers[0].breaker.min_calls: must be <= breaker.window (10)" },
    { "providers = ( " KIE "retry = {\n backoff_base_ms = 100;\n backoff_max_ms = 50; }; } );",
      NULL, 3, "providers[0].retry.backoff_max_ms: must be >= retry.backoff_base_ms (100)" },
    /* enumerations and strings */
    { "providers = ( { name = \"mj\";\n type = \"midjourney\"; priority = 1; base_url = \"https://m\"; api_key_env = \"SY_T_KIE_KEY\"; } );",
      NULL, 2, "providers[0].type: must be one of \"kie\", \"replicate\", not \"midjourney\"" },
    { "providers = ( " KIE "rate_limit = { scope = \"global\"; }; } );", NULL, 1,
      "providers[0].rate_limit.scope: must be one of \"worker\", \"fleet\"" },
    { MIN "worker = { log_level = \"verbose\"; };", NULL, 2,
      "worker.log_level: must be one of \"debug\", \"info\"" },
    { MIN "worker = { metrics_listen = \"9464\"; };", NULL, 2,
      "worker.metrics_listen: must be \"host:port\"" },
    { MIN "worker = { user_agent = \"\"; };", NULL, 2, "worker.user_agent: must not be empty" },
    { MIN "kafka = { input_topic = \"t\"; output_topic = \"t\"; };", NULL, 2,
      "kafka.input_topic: must differ from output_topic" },
    { "providers = ( { name = \"k\"; type = \"kie\"; priority = 1;\n base_url = \"ftp://k\"; api_key_env = \"SY_T_KIE_KEY\"; } );",
      NULL, 2, "providers[0].base_url: must start with http:// or https://" },
    { "providers = ( { name = \"k\"; type = \"kie\"; priority = 1; base_url = \"https:///\"; api_key_env = \"SY_T_KIE_KEY\"; } );",
      NULL, 1, "providers[0].base_url: has no host" },
    { "providers = ( { name = \"k i e\"; type = \"kie\"; priority = 1; base_url = \"https://k\"; api_key_env = \"SY_T_KIE_KEY\"; } );",
      NULL, 1, "providers[0].name: use at most 64 letters" },
    { "providers = ( " KIE "models = ( { name = \"m\"; } ); } );", NULL, 1,
      "providers[0].models[0]: needs at least one of generate, edit" },
    { "providers = ( " KIE
      "models = (\n { name = \"m\"; generate = \"g\"; jpeg_name = \"JPEG\"; } ); } );",
      NULL, 2, "providers[0].models[0].jpeg_name: must be one of \"jpeg\", \"jpg\"" },
    { "providers = ( " KIE "models = (); } );", NULL, 1,
      "providers[0].models: must have at least one model" },
    /* templates */
    { MIN "templates = ( );", NULL, 2, "templates: must be a group { ... }, not a list" },
    { MIN "templates = { r = \"x\"; };", NULL, 2,
      "templates.r: must be a group { prompt = ...; }, not a string" },
    { MIN "templates = { r = {\n prompt = \"x\";\n op = \"edit\"; }; };", NULL, 4,
      "templates.r.op: unknown setting" },
    { MIN "templates = {\n r = { operation = \"edit\"; }; };", NULL, 3,
      "templates.r.prompt: missing required setting" },
    { MIN "templates = { r = {\n prompt = \"\"; }; };", NULL, 3,
      "templates.r.prompt: must not be empty" },
    { MIN "templates = { r = { prompt = \" \\n \"; }; };", NULL, 2,
      "templates.r.prompt: must not be empty" },
    { MIN "templates = { r = { prompt = 5; }; };", NULL, 2,
      "templates.r.prompt: must be a string, not an integer" },
    { MIN "templates = { r = {\n prompt = \"A {room\"; }; };", NULL, 3,
      "templates.r.prompt: unclosed '{' at character 3" },
    { MIN "templates = { r = { prompt = \"A {Room} b\"; }; };", NULL, 2,
      "templates.r.prompt: bad placeholder name \"Room\" at character 3 (use a-z, 0-9 and _)" },
    { MIN "templates = { r = { prompt = \"A {} b\"; }; };", NULL, 2,
      "templates.r.prompt: bad placeholder name \"\"" },
    { MIN "templates = { r = { prompt = \"a}\"; }; };", NULL, 2,
      "templates.r.prompt: '}' at character 2 closes nothing (write }} for a literal brace)" },
    { MIN "templates = { r = { prompt = \"x\";\n operation = \"inpaint\"; }; };", NULL, 3,
      "templates.r.operation: must be one of \"generate\", \"edit\", not \"inpaint\"" },
    { MIN "templates = { r = { prompt = \"{style}\";\n choices = {\n colour = [\"red\"]; }; }; };",
      NULL, 4, "templates.r.choices.colour: the prompt has no placeholder {colour}" },
    { MIN "templates = { r = { prompt = \"{style}\";\n defaults = { room = \"x\"; }; }; };", NULL,
      3, "templates.r.defaults.room: the prompt has no placeholder {room}" },
    { MIN "templates = { r = { prompt = \"{style}\"; choices = 5; }; };", NULL, 2,
      "templates.r.choices: must be a group" },
    { MIN "templates = { r = { prompt = \"{style}\"; choices = { style = \"loft\"; }; }; };", NULL,
      2, "templates.r.choices.style: must be a list of strings [\"a\", \"b\"], not a string" },
    { MIN "templates = { r = { prompt = \"{style}\"; choices = { style = []; }; }; };", NULL, 2,
      "templates.r.choices.style: must list at least one value" },
    { MIN "templates = { r = { prompt = \"{style}\"; choices = { style = (\"a\",\n 5); }; }; };",
      NULL, 3, "templates.r.choices.style[1]: must be a non-empty string" },
    { MIN "templates = { r = { prompt = \"{style}\"; choices = { style = [\"a\", \"a\"]; }; }; };",
      NULL, 2, "templates.r.choices.style[1]: duplicate value \"a\"" },
    { MIN "templates = { r = { prompt = \"{style}\"; defaults = { style = 3; }; }; };", NULL, 2,
      "templates.r.defaults.style: must be a string, not an integer" },
    { MIN
      "templates = { r = { prompt = \"{style}\"; choices = { style = [\"loft\"]; };\n defaults = { style = \"gothic\"; }; }; };",
      NULL, 3, "templates.r.defaults.style: \"gothic\" is not one of choices.style" },
    { MIN "templates = {\n r = { prompt = \"a\"; };\n r = { prompt = \"b\"; }; };", NULL, 4,
      "duplicate setting name" },
    { NULL, "bad-template.conf", 13,
      "templates.generate_room.defaults.style: \"cyberpunk\" is not one of choices.style" },
    /* callbacks */
    { MIN "callbacks = { lissen = \"x\"; };", NULL, 2, "callbacks.lissen: unknown setting" },
    { MIN "callbacks = {\n listen = \"8088\"; public_url = \"https://h\"; };", NULL, 3,
      "callbacks.listen: must be \"host:port\"" },
    { MIN "callbacks = {\n listen = \"0.0.0.0:8088\"; };", NULL, 2,
      "callbacks.public_url: required when callbacks.listen" },
    { MIN "callbacks = { listen = \"0.0.0.0:8088\";\n public_url = \"hooks.example.com\"; };", NULL,
      3, "callbacks.public_url: must start with http:// or https://" },
    { MIN "callbacks = { listen = \"0.0.0.0:8088\";\n public_url = \"https://\"; };", NULL, 3,
      "callbacks.public_url: must start with http:// or https:// and name a host" },
    { MIN "callbacks = {\n tolerance_s = 0; };", NULL, 3,
      "callbacks.tolerance_s: must be between 1 and 86400" },
    { MIN "callbacks = {\n safety_poll_s = 0; };", NULL, 3,
      "callbacks.safety_poll_s: must be > 0" },
    { MIN "callbacks = {\n kie_hmac_key_env = \"SY_T_UNSET\"; };", NULL, 3,
      "callbacks.kie_hmac_key_env: environment variable SY_T_UNSET is not set" },
    { MIN "callbacks = {\n kie_hmac_key_env = \"" HMAC_KEY "\"; };", NULL, 3,
      "callbacks.kie_hmac_key_env: must name an environment variable" },
    { MIN "callbacks = {\n webhook_secret_env = \"SY_T_HMAC\"; };", NULL, 3,
      "callbacks.webhook_secret_env: environment variable SY_T_HMAC does not hold a whsec_... secret" },
    { MIN "callbacks = {\n webhook_secret_env = \"\"; };", NULL, 3,
      "callbacks.webhook_secret_env: must not be empty" },
    /* H-4: a receiver reachable from outside needs both keys, or allow_unsigned written out */
    { MIN "callbacks = {\n listen = \"0.0.0.0:8088\"; public_url = \"https://h\"; };", NULL, 3,
      "callbacks.listen: 0.0.0.0:8088 is not a loopback address, so both kie_hmac_key_env and webhook_secret_env "
      "are required (kie_hmac_key_env missing)" },
    { MIN
      "callbacks = { public_url = \"https://h\"; kie_hmac_key_env = \"SY_T_HMAC\";\n listen = \"10.0.0.5:80\"; };",
      NULL, 3, "callbacks.listen: 10.0.0.5:80 is not a loopback address" },
    { MIN
      "callbacks = { listen = \"[::]:8088\"; public_url = \"https://h\";\n allow_unsigned = false; };",
      NULL, 2, "callbacks.listen: [::]:8088 is not a loopback address" },
    { MIN "callbacks = {\n allow_unsigned = \"yes\"; };", NULL, 3,
      "callbacks.allow_unsigned: must be true or false" },
    { MIN "callbacks = {\n max_connections = 8; max_connections_per_ip = 9; };", NULL, 3,
      "callbacks.max_connections_per_ip: must not exceed max_connections (8)" },
    { MIN "kafka = {\n callback_topic = \"switchyard.results\"; };", NULL, 3,
      "kafka.callback_topic: must differ from input_topic, output_topic and dlq_topic" },
    { MIN "kafka = {\n ledger_topic = \"switchyard.jobs\"; };", NULL, 3,
      "kafka.ledger_topic: must differ from input_topic, output_topic, dlq_topic and callback_topic" },
    { MIN "kafka = {\n ledger_read_timeout_ms = 5; };", NULL, 3, "kafka.ledger_read_timeout_ms" },
    /* API keys: named, never shown */
    { NULL, "bad-env-unset.conf", 6,
      "providers[1].api_key_env: environment variable SY_T_UNSET is not set" },
    { "providers = ( { name = \"k\"; type = \"kie\"; priority = 1; base_url = \"https://k\";\n api_key_env = \"SY_T_EMPTY\"; } );",
      NULL, 2, "providers[0].api_key_env: environment variable SY_T_EMPTY is empty" },
};

/* Parameters are handed to the test's own process, where the parent's
 * pointers mean nothing (PIE + ASLR), so the table is copied into Criterion's
 * shared heap. Criterion 2.4 has no cr_strdup. */
static char *cr_strdup(const char *s)
{
    if (s == NULL)
        return NULL;
    size_t n = strlen(s) + 1;
    char *d = cr_malloc(n);
    memcpy(d, s, n);
    return d;
}

static void free_bad(struct criterion_test_params *crp)
{
    struct bad *cases = crp->params;
    for (size_t i = 0; i < crp->length; i++) {
        cr_free((void *)cases[i].text);
        cr_free((void *)cases[i].file);
        cr_free((void *)cases[i].msg);
    }
    cr_free(cases);
}

ParameterizedTestParameters(config, rejects)
{
    size_t n = sizeof bad_table / sizeof bad_table[0];
    struct bad *cases = cr_malloc(n * sizeof *cases);
    for (size_t i = 0; i < n; i++) {
        cases[i].text = cr_strdup(bad_table[i].text);
        cases[i].file = cr_strdup(bad_table[i].file);
        cases[i].line = bad_table[i].line;
        cases[i].msg = cr_strdup(bad_table[i].msg);
    }
    return cr_make_param_array(struct bad, cases, n, free_bad);
}

ParameterizedTest(struct bad *b, config, rejects)
{
    char err[512] = "", path[512], want[640];
    struct conf *c;
    const char *name = "bad.conf";

    if (b->file != NULL) {
        snprintf(path, sizeof path, "%s%s", FIX, b->file);
        name = path;
        c = conf_load(path, err, sizeof err);
    } else {
        c = conf_load_string(b->text, name, err, sizeof err);
    }
    cr_assert_null(c, "loaded, expected \"%s\"", b->msg);
    if (b->line > 0)
        snprintf(want, sizeof want, "%s:%d: ", name, b->line);
    else
        snprintf(want, sizeof want, "%s: ", name);
    cr_assert(strncmp(err, want, strlen(want)) == 0, "want prefix \"%s\", got \"%s\"", want, err);
    cr_assert(strstr(err, b->msg) != NULL, "want \"%s\" in \"%s\"", b->msg, err);
    cr_assert(strstr(err, KIE_KEY) == NULL && strstr(err, REP_KEY) == NULL &&
                      strstr(err, HMAC_KEY) == NULL && strstr(err, WHSEC + 6) == NULL,
              "key leaked: %s", err);
    assert_no_leaks();
}

/* ---- L-9: plain http:// only to loopback, unless opted in --------------- */

Test(config, plain_http_url_classifier)
{
    static const struct {
        const char *url;
        int remote;
    } cases[] = {
        { "https://api.kie.ai", 0 },
        { "http://127.0.0.1:8080", 0 },
        { "http://127.9.8.7", 0 },
        { "http://localhost:1234/v1", 0 },
        { "http://LOCALHOST", 0 },
        { "http://[::1]:80/x", 0 },
        { "http://[::ffff:127.0.0.1]:80", 0 },
        { "http://user:pw@127.0.0.1:9/", 0 },
        { "http://api.kie.ai", 1 },
        { "HTTP://Example.com", 1 },
        { "http://10.0.0.5:8080", 1 },
        { "http://[2001:db8::1]:80", 1 },
        { "http://127.0.0.1.evil.test", 1 },
        { "http://127.0.0.1@evil.test/", 1 },
        { "http://evil.test/127.0.0.1", 1 },
        { "http://evil.test?h=localhost", 1 },
        { "http://", 1 },
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        cr_expect_eq(conf_url_plain_remote(cases[i].url), cases[i].remote, "%s", cases[i].url);
}

Test(config, plain_http_to_remote_host_is_refused)
{
    static const struct {
        const char *text;
        const char *want; /* "t.conf:LINE: field" prefix */
    } bad[] = {
        { "providers = ( { name = \"k\"; type = \"kie\"; priority = 1;\n base_url = \"http://api.kie.ai\";\n"
          " api_key_env = \"SY_T_KIE_KEY\"; } );",
          "t.conf:2: providers[0].base_url: plain http://" },
        { "providers = ( " KIE "},\n { name = \"r\"; type = \"replicate\"; priority = 2;\n"
          " base_url = \"http://10.1.2.3:8080/v1\"; api_key_env = \"SY_T_REP_KEY\"; } );",
          "t.conf:3: providers[1].base_url: plain http://" },
        { MIN
          "callbacks = { listen = \"127.0.0.1:8088\";\n public_url = \"http://hooks.example.com\"; };",
          "t.conf:3: callbacks.public_url: plain http://" },
        { MIN "worker = {\n allow_plain_http = 1; };",
          "t.conf:3: worker.allow_plain_http: must be true or false" },
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char err[512] = "";
        struct conf *c = conf_load_string(bad[i].text, "t.conf", err, sizeof err);
        cr_expect_null(c, "case %zu loaded", i);
        conf_free(c);
        cr_expect(strncmp(err, bad[i].want, strlen(bad[i].want)) == 0,
                  "case %zu: got \"%s\", want \"%s...\"", i, err, bad[i].want);
        cr_expect(strstr(err, KIE_KEY) == NULL && strstr(err, REP_KEY) == NULL,
                  "a key in the message: %s", err);
    }
}

Test(config, plain_http_loopback_or_opted_in_is_accepted)
{
    struct conf *c = conftest_load_ok(
            "providers = ( { name = \"k\"; type = \"kie\"; priority = 1;"
            " base_url = \"http://127.0.0.1:8080\"; api_key_env = \"SY_T_KIE_KEY\"; } );\n"
            "callbacks = { listen = \"127.0.0.1:8088\"; public_url = \"http://localhost:8088\"; };\n");
    cr_assert_eq(c->worker.allow_plain_http, 0);
    conf_free(c);
    c = conftest_load_ok(
            "worker = { allow_plain_http = true; };\n"
            "providers = ( { name = \"k\"; type = \"kie\"; priority = 1; base_url = \"http://kie.internal\";"
            " api_key_env = \"SY_T_KIE_KEY\"; } );\n"
            "callbacks = { listen = \"127.0.0.1:8088\"; public_url = \"http://hooks.internal\"; };\n");
    cr_assert_eq(c->worker.allow_plain_http, 1);
    cr_assert_str_eq(c->providers[0].base_url, "http://kie.internal");
    conf_free(c);
}

/* ---- L-8: a SASL secret in a file others can read ----------------------- */

Test(config, exposed_secret_needs_a_secret_key_and_a_readable_mode)
{
    struct conf *c = conftest_load_ok(
            MIN "kafka = { brokers = \"b:9092\";\n properties = { security_protocol = \"SASL_SSL\";"
                " sasl_password = \"pw-123\"; }; };\n");
    cr_assert_str_eq(conf_exposed_secret(c, 0100644), "sasl.password");
    cr_assert_str_eq(conf_exposed_secret(c, 0100640), "sasl.password");
    cr_assert_null(conf_exposed_secret(c, 0100600));
    cr_assert_null(conf_exposed_secret(c, 0100400));
    conf_free(c);
    c = conftest_load_ok(
            MIN
            "kafka = { brokers = \"b:9092\"; properties = { sasl_oauthbearer_client_secret = \"s\"; }; };\n");
    cr_assert_str_eq(conf_exposed_secret(c, 0100604), "sasl.oauthbearer.client.secret");
    conf_free(c);
    c = conftest_load_ok(
            MIN
            "kafka = { brokers = \"b:9092\"; properties = { security_protocol = \"SSL\"; }; };\n");
    cr_assert_null(conf_exposed_secret(c, 0100644), "no secret property: nothing to say");
    conf_free(c);
}
