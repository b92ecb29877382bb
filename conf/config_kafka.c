/* config_kafka.c — the kafka group: brokers, the consumer group, the five
 * topics (input, output, dead letters, callback handoff, task ledger) and
 * the librdkafka properties passed through. Topic names must differ; the
 * callback and ledger topics default to "<input>.callbacks" and
 * "<input>.ledger" (ledger_topic = "" turns the ledger off). */
#include "conf/loader.h"

#include <libconfig.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/limits.h"

static const struct conf_ld_field kafka_fields[] = {
    CLD_FSTR(struct conf_kafka, brokers, CLD_F_NONEMPTY, NULL),
    CLD_FSTR(struct conf_kafka, group, CLD_F_NONEMPTY, NULL),
    CLD_FSTR(struct conf_kafka, input_topic, CLD_F_NONEMPTY, NULL),
    CLD_FSTR(struct conf_kafka, output_topic, CLD_F_NONEMPTY, NULL),
    CLD_FSTR(struct conf_kafka, dlq_topic, CLD_F_NONEMPTY, NULL),
    CLD_FSTR(struct conf_kafka, callback_topic, CLD_F_NONEMPTY, NULL),
    CLD_FINT(struct conf_kafka, max_result_bytes, CODEC_MIN_RESULT_BYTES, 1000000000, 0),
    CLD_FSTR(struct conf_kafka, ledger_topic, 0, NULL),
    CLD_FINT(struct conf_kafka, ledger_read_timeout_ms, 100, 600000, 0),
};

static int kafka_defaults(struct conf_kafka *k)
{
    /* Under the broker's default 1 048 588-byte message limit, with room for
     * the key (the id) and the headers. */
    k->max_result_bytes = 900000;
    k->ledger_read_timeout_ms = 10000;
    if (conf_ld_set_str(&k->brokers, "127.0.0.1:9092") != 0 ||
        conf_ld_set_str(&k->group, "switchyard") != 0 ||
        conf_ld_set_str(&k->input_topic, "switchyard.jobs") != 0 ||
        conf_ld_set_str(&k->output_topic, "switchyard.results") != 0 ||
        conf_ld_set_str(&k->dlq_topic, "switchyard.dlq") != 0)
        return -1;
    return 0;
}

/* kafka.properties is a group of string settings. libconfig names cannot
 * contain '.', so each '_' in a name stands for '.' ("security_protocol" →
 * "security.protocol"); librdkafka property names contain no '_'. */
static int load_kafka_properties(struct conf_ld *ld, config_setting_t *kg, struct conf_kafka *k)
{
    config_setting_t *g;
    if (conf_ld_get_group(ld, kg, "kafka", "properties", &g) != 0)
        return -1;
    if (!g || config_setting_length(g) == 0)
        return 0;
    size_t n = (size_t)config_setting_length(g);
    k->properties = calloc(n, sizeof *k->properties);
    if (!k->properties)
        return conf_ld_fail(ld, g, "kafka.properties: out of memory");
    for (size_t i = 0; i < n; i++) {
        config_setting_t *s = config_setting_get_elem(g, (unsigned)i);
        const char *name = config_setting_name(s);
        if (config_setting_type(s) != CONFIG_TYPE_STRING)
            return conf_ld_fail(
                    ld, s,
                    "kafka.properties.%s: must be a string (librdkafka takes string values), not %s",
                    name, conf_ld_type_name(config_setting_type(s)));
        struct conf_kv *kv = &k->properties[k->n_properties++];
        if (conf_ld_set_str(&kv->key, name) != 0 ||
            conf_ld_set_str(&kv->value, config_setting_get_string(s)) != 0)
            return conf_ld_fail(ld, s, "kafka.properties: out of memory");
        for (char *c = kv->key; *c != '\0'; c++) {
            if (*c == '_')
                *c = '.';
        }
    }
    return 0;
}

int conf_ld_load_kafka(struct conf_ld *ld, config_setting_t *root, struct conf_kafka *k)
{
    config_setting_t *g;
    static const char *const extra[] = { "properties", NULL };
    if (kafka_defaults(k) != 0)
        return conf_ld_fail(ld, root, "out of memory");
    if (conf_ld_get_group(ld, root, "", "kafka", &g) != 0)
        return -1;
    if (g) {
        k->present = 1;
        if (conf_ld_load_fields(ld, g, "kafka", kafka_fields, CLD_NFIELDS(kafka_fields), k,
                                extra) != 0)
            return -1;
        if (strcmp(k->input_topic, k->output_topic) == 0 ||
            strcmp(k->input_topic, k->dlq_topic) == 0)
            return conf_ld_fail(ld, conf_ld_member_or_self(g, "input_topic"),
                                "kafka.input_topic: must differ from output_topic and dlq_topic");
    }
    if (!k->callback_topic && asprintf(&k->callback_topic, "%s.callbacks", k->input_topic) < 0) {
        k->callback_topic = NULL;
        return conf_ld_fail(ld, root, "out of memory");
    }
    if (g && (strcmp(k->callback_topic, k->input_topic) == 0 ||
              strcmp(k->callback_topic, k->output_topic) == 0 ||
              strcmp(k->callback_topic, k->dlq_topic) == 0))
        return conf_ld_fail(
                ld, conf_ld_member_or_self(g, "callback_topic"),
                "kafka.callback_topic: must differ from input_topic, output_topic and dlq_topic");
    if (!k->ledger_topic && asprintf(&k->ledger_topic, "%s.ledger", k->input_topic) < 0) {
        k->ledger_topic = NULL;
        return conf_ld_fail(ld, root, "out of memory");
    }
    if (g && k->ledger_topic[0] &&
        (strcmp(k->ledger_topic, k->input_topic) == 0 ||
         strcmp(k->ledger_topic, k->output_topic) == 0 ||
         strcmp(k->ledger_topic, k->dlq_topic) == 0 ||
         strcmp(k->ledger_topic, k->callback_topic) == 0))
        return conf_ld_fail(
                ld, conf_ld_member_or_self(g, "ledger_topic"),
                "kafka.ledger_topic: must differ from input_topic, output_topic, dlq_topic and "
                "callback_topic");
    return g ? load_kafka_properties(ld, g, k) : 0;
}
