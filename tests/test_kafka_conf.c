/* test_kafka_conf.c — queue/kafka_conf's config building: precedence of
 * brokers, properties and fixed pairs, and refusals that name the property
 * without its value. No broker: librdkafka confs only. */
#include "queue/kafka_conf.h"

#include <criterion/criterion.h>
#include <string.h>

#include "core/sy.h"

static void expect_prop(const rd_kafka_conf_t *kc, const char *name, const char *want)
{
    char v[256];
    size_t n = sizeof v;
    cr_assert_eq(rd_kafka_conf_get(kc, name, v, &n), RD_KAFKA_CONF_OK, "%s unset", name);
    cr_expect_str_eq(v, want, "%s", name);
}

Test(kafka_conf, fixed_pairs_win_over_properties_which_win_over_brokers)
{
    struct conf_kv props[] = {
        { .key = "bootstrap.servers", .value = "props:1" },
        { .key = "acks", .value = "1" },
        { .key = "client.id", .value = "from-props" },
    };
    static const char *const fixed[] = { "acks", "all", "linger.ms", "7", NULL };
    char err[256] = "";
    rd_kafka_conf_t *kc = kafka_conf_build("brokers:1", props, 3, fixed, err, sizeof err);
    cr_assert_not_null(kc, "%s", err);
    expect_prop(kc, "bootstrap.servers", "props:1");
    expect_prop(kc, "acks", "-1"); /* librdkafka's spelling of all */
    expect_prop(kc, "client.id", "from-props");
    expect_prop(kc, "linger.ms", "7");
    rd_kafka_conf_destroy(kc);

    kc = kafka_conf_build("brokers:2", NULL, 0, NULL, err, sizeof err);
    cr_assert_not_null(kc, "%s", err);
    expect_prop(kc, "bootstrap.servers", "brokers:2");
    cr_assert_eq(kafka_conf_set_pairs(kc, NULL, err, sizeof err), SY_OK);
    rd_kafka_conf_destroy(kc);
}

/* librdkafka quotes an invalid enum value; ours names the property only. */
Test(kafka_conf, a_refused_property_is_named_and_its_value_hidden)
{
    struct conf_kv props[] = { { .key = "security.protocol", .value = "hunter2-SECRET" } };
    char err[256] = "";
    cr_assert_null(kafka_conf_build("b:1", props, 1, NULL, err, sizeof err));
    cr_expect(strstr(err, "kafka property security.protocol: "), "%s", err);
    cr_expect(strstr(err, "***"), "%s", err);
    cr_expect_null(strstr(err, "hunter2"), "the value leaked: %s", err);

    static const char *const fixed[] = { "no.such.property", "x", NULL };
    cr_assert_null(kafka_conf_build("b:1", NULL, 0, fixed, err, sizeof err));
    cr_expect(strstr(err, "kafka property no.such.property: "), "%s", err);

    /* a cut message stays a terminated string */
    char small[24];
    cr_assert_null(kafka_conf_build("b:1", props, 1, NULL, small, sizeof small));
    cr_expect_eq(strlen(small), sizeof small - 1);
}
