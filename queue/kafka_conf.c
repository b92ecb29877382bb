/* kafka_conf.c — librdkafka setup that needs no loop: config, clients,
 * topic admin, the consumer's last commit. Linked by the worker and by
 * switchyard-enqueue (which has no libuv), so nothing here may include uv.h.
 *
 * A refused property is reported by name only: values come from
 * kafka.properties or -X and may be secrets (sasl.password). */
#include "kafka_conf.h"

#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "core/sy.h"
#include "core/log.h"

static void on_kafka_log(const rd_kafka_t *rk, int level, const char *fac, const char *buf)
{
    (void)rk;
    enum log_level lvl = level <= 3   ? LOG_LVL_ERROR
                         : level <= 4 ? LOG_LVL_WARN
                         : level <= 6 ? LOG_LVL_INFO
                                      : LOG_LVL_DEBUG;
    if (log_enabled(lvl))
        log_write(lvl, NULL, "kafka %s: %s", fac, buf);
}


/* librdkafka's refusal can quote the value ('Invalid value "x" for
 * configuration property ...'): each copy of it becomes "***". */
static void hide_value(char *out, size_t cap, const char *msg, const char *value)
{
    size_t vlen = strlen(value), n = 0;
    for (const char *m = msg; *m && n + 1 < cap;) {
        if (vlen > 0 && strncmp(m, value, vlen) == 0) {
            for (const char *r = "***"; *r && n + 1 < cap; r++)
                out[n++] = *r;
            m += vlen;
        } else {
            out[n++] = *m++;
        }
    }
    out[n] = '\0';
}

int kafka_conf_set(rd_kafka_conf_t *kc, const char *name, const char *value, char *err,
                   size_t errlen)
{
    char e[512], shown[512];
    if (rd_kafka_conf_set(kc, name, value, e, sizeof e) == RD_KAFKA_CONF_OK)
        return SY_OK;
    hide_value(shown, sizeof shown, e, value);
    explicit_bzero(e, sizeof e);
    if (snprintf(err, errlen, "kafka property %s: %s", name, shown) >= (int)errlen)
        err[errlen - 1] =
                '\0'; /* a cut message is fine; using the result silences -Wformat-truncation */
    return SY_ERR;
}

int kafka_conf_set_pairs(rd_kafka_conf_t *kc, const char *const *pairs, char *err, size_t errlen)
{
    int rc = SY_OK;
    for (size_t i = 0; rc == SY_OK && pairs && pairs[i]; i += 2)
        rc = kafka_conf_set(kc, pairs[i], pairs[i + 1], err, errlen);
    return rc;
}

rd_kafka_conf_t *kafka_conf_build(const char *brokers, const struct conf_kv *props, size_t n,
                                  const char *const *fixed, char *err, size_t errlen)
{
    rd_kafka_conf_t *kc = rd_kafka_conf_new();
    int rc = kafka_conf_set(kc, "bootstrap.servers", brokers, err, errlen);
    for (size_t i = 0; rc == SY_OK && i < n; i++)
        rc = kafka_conf_set(kc, props[i].key, props[i].value, err, errlen);
    if (rc == SY_OK)
        rc = kafka_conf_set_pairs(kc, fixed, err, errlen);
    if (rc != SY_OK) {
        rd_kafka_conf_destroy(kc);
        return NULL;
    }
    return kc;
}

rd_kafka_conf_t *kafka_conf_new(const struct conf *c, const char *const *fixed, char *err,
                                size_t errlen)
{
    rd_kafka_conf_t *kc = kafka_conf_build(c->kafka.brokers, c->kafka.properties,
                                           c->kafka.n_properties, fixed, err, errlen);
    if (kc)
        rd_kafka_conf_set_log_cb(kc, on_kafka_log);
    return kc;
}

void kafka_conf_soft(rd_kafka_conf_t *kc, const struct conf *c, const char *const *soft)
{
    for (size_t i = 0; soft[i]; i += 2) {
        int given = 0;
        for (size_t j = 0; j < c->kafka.n_properties; j++)
            given |= strcmp(c->kafka.properties[j].key, soft[i]) == 0;
        char e[256];
        if (!given && rd_kafka_conf_set(kc, soft[i], soft[i + 1], e, sizeof e) != RD_KAFKA_CONF_OK)
            LOG_WARN(NULL, "kafka default %s=%s refused: %s", soft[i], soft[i + 1], e);
    }
}

/* The coordinator moving or still loading (e.g. right after a broker stall)
 * answers the final commit with an error that a moment later is gone. */
static int commit_retriable(rd_kafka_resp_err_t e)
{
    switch (e) {
    case RD_KAFKA_RESP_ERR_NOT_COORDINATOR:
    case RD_KAFKA_RESP_ERR_COORDINATOR_NOT_AVAILABLE:
    case RD_KAFKA_RESP_ERR_COORDINATOR_LOAD_IN_PROGRESS:
    case RD_KAFKA_RESP_ERR_REQUEST_TIMED_OUT:
    case RD_KAFKA_RESP_ERR__TIMED_OUT:
    case RD_KAFKA_RESP_ERR__TRANSPORT:
    case RD_KAFKA_RESP_ERR__WAIT_COORD:
        return 1;
    default:
        return 0;
    }
}

#define KAFKA_COMMIT_TRIES 10
#define KAFKA_COMMIT_RETRY_MS 300

rd_kafka_resp_err_t kafka_commit_and_close(rd_kafka_t *rk)
{
    rd_kafka_resp_err_t e = rd_kafka_commit(rk, NULL, 0);
    for (int i = 1; i < KAFKA_COMMIT_TRIES && commit_retriable(e); i++) {
        LOG_DEBUG(NULL, "final commit: %s; again in %d ms", rd_kafka_err2str(e),
                  KAFKA_COMMIT_RETRY_MS);
        usleep(KAFKA_COMMIT_RETRY_MS * 1000);
        e = rd_kafka_commit(rk, NULL, 0);
    }
    if (e == RD_KAFKA_RESP_ERR__NO_OFFSET)
        e = RD_KAFKA_RESP_ERR_NO_ERROR;
    rd_kafka_consumer_close(rk);
    return e;
}

int kafka_assign_one(rd_kafka_t *rk, const char *topic, int32_t p, int64_t offset, int add,
                     char *err, size_t errlen)
{
    rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(1);
    rd_kafka_topic_partition_list_add(l, topic, p)->offset = offset;
    rd_kafka_error_t *e =
            add ? rd_kafka_incremental_assign(rk, l) : rd_kafka_incremental_unassign(rk, l);
    rd_kafka_topic_partition_list_destroy(l);
    if (!e)
        return SY_OK;
    snprintf(err, errlen, "%s", rd_kafka_error_string(e));
    rd_kafka_error_destroy(e);
    return SY_ERR;
}

rd_kafka_t *kafka_client_new(rd_kafka_type_t type, rd_kafka_conf_t *kc, const char *what, char *err,
                             size_t errlen)
{
    char e[512];
    rd_kafka_t *rk = rd_kafka_new(type, kc, e, sizeof e);
    if (!rk) {
        rd_kafka_conf_destroy(kc);
        snprintf(err, errlen, "%s: %s", what, e);
    }
    return rk;
}
/* ---- topics (Admin API; startup only, blocking) ---- */

#define KT_ADMIN_MS 15000

int kafka_topic_partitions(rd_kafka_t *rk, const char *topic, int timeout_ms)
{
    rd_kafka_topic_t *t = rd_kafka_topic_new(rk, topic, NULL);
    const struct rd_kafka_metadata *md = NULL;
    int n = 0;
    if (t && rd_kafka_metadata(rk, 0, t, &md, timeout_ms) == RD_KAFKA_RESP_ERR_NO_ERROR) {
        if (md->topic_cnt == 1 && md->topics[0].err == RD_KAFKA_RESP_ERR_NO_ERROR)
            n = md->topics[0].partition_cnt;
        rd_kafka_metadata_destroy(md);
    }
    if (t)
        rd_kafka_topic_destroy(t);
    return n;
}

int kafka_topic_create(rd_kafka_t *rk, const char *what, const struct kafka_topic_spec *t,
                       int *existed, char *err, size_t errlen)
{
    char e[256];
    rd_kafka_NewTopic_t *nt =
            rd_kafka_NewTopic_new(t->name, t->partitions, t->replication, e, sizeof e);
    if (!nt) {
        snprintf(err, errlen, "%s %s: %s", what, t->name, e);
        return SY_ERR;
    }
    for (size_t i = 0; t->configs && t->configs[i]; i += 2) {
        if (rd_kafka_NewTopic_set_config(nt, t->configs[i], t->configs[i + 1]) !=
            RD_KAFKA_RESP_ERR_NO_ERROR) {
            snprintf(err, errlen, "%s %s: topic config %s refused", what, t->name, t->configs[i]);
            rd_kafka_NewTopic_destroy(nt);
            return SY_ERR;
        }
    }
    rd_kafka_queue_t *q = rd_kafka_queue_new(rk);
    rd_kafka_AdminOptions_t *opt = rd_kafka_AdminOptions_new(rk, RD_KAFKA_ADMIN_OP_CREATETOPICS);
    rd_kafka_AdminOptions_set_operation_timeout(opt, KT_ADMIN_MS, e, sizeof e);
    rd_kafka_CreateTopics(rk, &nt, 1, opt, q);
    rd_kafka_event_t *ev = rd_kafka_queue_poll(q, KT_ADMIN_MS + 5000);
    int rc = SY_ERR;
    const rd_kafka_CreateTopics_result_t *res = ev ? rd_kafka_event_CreateTopics_result(ev) : NULL;
    size_t cnt = 0;
    const rd_kafka_topic_result_t **tr =
            res ? rd_kafka_CreateTopics_result_topics(res, &cnt) : NULL;
    rd_kafka_resp_err_t te =
            tr && cnt == 1 ? rd_kafka_topic_result_error(tr[0]) : RD_KAFKA_RESP_ERR_NO_ERROR;
    if (!ev) {
        snprintf(err, errlen, "%s %s: no answer from the broker", what, t->name);
    } else if (rd_kafka_event_error(ev) || !tr || cnt != 1) {
        snprintf(err, errlen, "%s %s: %s", what, t->name, rd_kafka_event_error_string(ev));
    } else if (te != RD_KAFKA_RESP_ERR_NO_ERROR && te != RD_KAFKA_RESP_ERR_TOPIC_ALREADY_EXISTS) {
        snprintf(err, errlen, "%s %s: %s", what, t->name,
                 rd_kafka_topic_result_error_string(tr[0]));
    } else {
        if (existed)
            *existed = te == RD_KAFKA_RESP_ERR_TOPIC_ALREADY_EXISTS;
        rc = SY_OK;
    }
    if (ev)
        rd_kafka_event_destroy(ev);
    rd_kafka_AdminOptions_destroy(opt);
    rd_kafka_NewTopic_destroy(nt);
    rd_kafka_queue_destroy(q);
    return rc;
}

int kafka_topic_config(rd_kafka_t *rk, const char *name, const char *key, char *out, size_t cap,
                       char *err, size_t errlen)
{
    char e[256];
    rd_kafka_ConfigResource_t *cr = rd_kafka_ConfigResource_new(RD_KAFKA_RESOURCE_TOPIC, name);
    rd_kafka_queue_t *q = rd_kafka_queue_new(rk);
    rd_kafka_AdminOptions_t *opt = rd_kafka_AdminOptions_new(rk, RD_KAFKA_ADMIN_OP_DESCRIBECONFIGS);
    rd_kafka_AdminOptions_set_request_timeout(opt, KT_ADMIN_MS, e, sizeof e);
    rd_kafka_DescribeConfigs(rk, &cr, 1, opt, q);
    rd_kafka_event_t *ev = rd_kafka_queue_poll(q, KT_ADMIN_MS + 5000);
    const rd_kafka_DescribeConfigs_result_t *res =
            ev ? rd_kafka_event_DescribeConfigs_result(ev) : NULL;
    size_t n = 0;
    const rd_kafka_ConfigResource_t **rs =
            res ? rd_kafka_DescribeConfigs_result_resources(res, &n) : NULL;
    int rc = SY_ERR;
    if (!ev) {
        snprintf(err, errlen, "topic %s: no answer to DescribeConfigs", name);
    } else if (!rs || n != 1) {
        snprintf(err, errlen, "topic %s: %s", name, rd_kafka_event_error_string(ev));
    } else if (rd_kafka_ConfigResource_error(rs[0]) != RD_KAFKA_RESP_ERR_NO_ERROR) {
        snprintf(err, errlen, "topic %s: %s", name, rd_kafka_ConfigResource_error_string(rs[0]));
    } else {
        size_t ne = 0;
        const rd_kafka_ConfigEntry_t **es = rd_kafka_ConfigResource_configs(rs[0], &ne);
        snprintf(err, errlen, "topic %s: no config %s", name, key);
        for (size_t i = 0; i < ne; i++) {
            if (strcmp(rd_kafka_ConfigEntry_name(es[i]), key) == 0) {
                const char *v = rd_kafka_ConfigEntry_value(es[i]);
                snprintf(out, cap, "%s", v ? v : "");
                rc = SY_OK;
                break;
            }
        }
    }
    if (ev)
        rd_kafka_event_destroy(ev);
    rd_kafka_AdminOptions_destroy(opt);
    rd_kafka_ConfigResource_destroy(cr);
    rd_kafka_queue_destroy(q);
    return rc;
}
