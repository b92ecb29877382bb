/* kafkatest.c — librdkafka and process helpers for the end-to-end tests.
 *
 * Every client here is short-lived and owned by one helper call or by the
 * struct it returns; every failure is a Criterion assertion. The reader is a
 * group-less consumer (assign, never subscribe, never commit), so reading a
 * topic never disturbs the groups under test. */
#include "kafkatest.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <criterion/criterion.h>
#include <criterion/options.h>

#include "core/sy.h"
#include "queue/kafka_conf.h"

int64_t kt_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void kt_sleep_ms(long ms)
{
    struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
        ;
}

const char *kt_brokers(void)
{
    const char *b = getenv("SY_KAFKA_BROKERS");
    if (!b || !*b)
        cr_assert_fail(
                "SY_KAFKA_BROKERS is not set: start a broker (scripts/kafka.sh start) and export "
                "SY_KAFKA_BROKERS=127.0.0.1:PORT, or run scripts/test.sh");
    return b;
}

void kt_unique(char *out, size_t cap, const char *tag)
{
    static int counter;
    snprintf(out, cap, "e2e-%s-%ld-%d-%ld", tag, (long)getpid(), ++counter, (long)time(NULL));
}

static void on_dr(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque);

/* A client of the given type on the test broker; extra: "name", "value", ...,
 * NULL. With p (a producer), its delivery reports go to on_dr. */
static rd_kafka_t *client(rd_kafka_type_t type, const char *const *extra, struct kt_producer *p)
{
    static const char *const quiet[] = { "log_level", "3", NULL };
    char e[512];
    rd_kafka_conf_t *kc = kafka_conf_build(kt_brokers(), NULL, 0, quiet, e, sizeof e);
    cr_assert_not_null(kc, "%s", e);
    if (kafka_conf_set_pairs(kc, extra, e, sizeof e) != SY_OK) {
        rd_kafka_conf_destroy(kc);
        cr_assert_fail("%s", e);
    }
    if (p) {
        rd_kafka_conf_set_dr_msg_cb(kc, on_dr);
        rd_kafka_conf_set_opaque(kc, p);
    }
    rd_kafka_t *rk = kafka_client_new(type, kc, "rd_kafka_new", e, sizeof e);
    cr_assert_not_null(rk, "%s", e);
    return rk;
}

/* Partition count of topic (asserts it exists with every leader known within timeout_ms). */
static int wait_topic(rd_kafka_t *rk, const char *topic, int want, int timeout_ms)
{
    int64_t end = kt_now_ms() + timeout_ms;
    rd_kafka_topic_t *rkt = rd_kafka_topic_new(rk, topic, NULL);
    int n = -1;
    for (;;) {
        const struct rd_kafka_metadata *md = NULL;
        if (rd_kafka_metadata(rk, 0, rkt, &md, 5000) == RD_KAFKA_RESP_ERR_NO_ERROR &&
            md->topic_cnt == 1 && md->topics[0].err == RD_KAFKA_RESP_ERR_NO_ERROR &&
            md->topics[0].partition_cnt > 0) {
            const struct rd_kafka_metadata_topic *t = &md->topics[0];
            int led = 0;
            for (int i = 0; i < t->partition_cnt; i++)
                led += t->partitions[i].leader >= 0 &&
                       t->partitions[i].err == RD_KAFKA_RESP_ERR_NO_ERROR;
            if (led == t->partition_cnt && (want <= 0 || t->partition_cnt == want))
                n = t->partition_cnt;
        }
        if (md)
            rd_kafka_metadata_destroy(md);
        if (n > 0 || kt_now_ms() > end)
            break;
        kt_sleep_ms(100);
    }
    rd_kafka_topic_destroy(rkt);
    cr_assert_gt(n, 0, "topic %s not ready within %d ms", topic, timeout_ms);
    return n;
}

void kt_create_topic(const char *name, int partitions, long max_message_bytes)
{
    rd_kafka_t *rk = client(RD_KAFKA_PRODUCER, NULL, NULL);
    char v[32], e[512];
    snprintf(v, sizeof v, "%ld", max_message_bytes);
    const char *const configs[] = { "max.message.bytes", v, NULL };
    const struct kafka_topic_spec t = {
        .name = name,
        .partitions = partitions,
        .replication = 1,
        .configs = max_message_bytes > 0 ? configs : NULL,
    };
    cr_assert_eq(kafka_topic_create(rk, "CreateTopics", &t, NULL, e, sizeof e), SY_OK, "%s", e);
    wait_topic(rk, name, partitions, 30000);
    rd_kafka_destroy(rk);
}

/* ---- producing ---- */

struct kt_producer {
    rd_kafka_t *rk;
    long queued, reported, failed;
    char first_error[256];
};

static void on_dr(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque)
{
    (void)rk;
    struct kt_producer *p = opaque;
    struct kt_dr *dr = m->_private;
    p->reported++;
    if (m->err) {
        if (!p->failed++)
            snprintf(p->first_error, sizeof p->first_error, "%s", rd_kafka_err2str(m->err));
    }
    if (dr) {
        dr->partition = m->partition;
        dr->offset = m->offset;
        dr->err = m->err;
        dr->done = 1;
    }
}

struct kt_producer *kt_producer_new(void)
{
    struct kt_producer *p = calloc(1, sizeof *p);
    cr_assert_not_null(p);
    static const char *const extra[] = {
        "enable.idempotence", "true",    "acks", "all", "linger.ms", "5",
        "message.max.bytes",  "8388608", NULL,
    };
    p->rk = client(RD_KAFKA_PRODUCER, extra, p);
    return p;
}

void kt_produce(struct kt_producer *p, const char *topic, int32_t partition, const void *key,
                size_t klen, const void *val, size_t vlen, const char *const *headers,
                struct kt_dr *dr)
{
    for (int tries = 0;; tries++) {
        rd_kafka_headers_t *h = NULL;
        if (headers) {
            h = rd_kafka_headers_new(4);
            for (size_t i = 0; headers[i]; i += 2)
                rd_kafka_header_add(h, headers[i], -1, headers[i + 1], -1);
        }
        rd_kafka_resp_err_t e;
        if (h)
            e = rd_kafka_producev(p->rk, RD_KAFKA_V_TOPIC(topic), RD_KAFKA_V_PARTITION(partition),
                                  RD_KAFKA_V_KEY(key, klen), RD_KAFKA_V_VALUE((void *)val, vlen),
                                  RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_HEADERS(h),
                                  RD_KAFKA_V_OPAQUE(dr), RD_KAFKA_V_END);
        else
            e = rd_kafka_producev(p->rk, RD_KAFKA_V_TOPIC(topic), RD_KAFKA_V_PARTITION(partition),
                                  RD_KAFKA_V_KEY(key, klen), RD_KAFKA_V_VALUE((void *)val, vlen),
                                  RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_OPAQUE(dr),
                                  RD_KAFKA_V_END);
        if (e == RD_KAFKA_RESP_ERR_NO_ERROR) {
            p->queued++;
            return;
        }
        if (h)
            rd_kafka_headers_destroy(h);
        cr_assert(e == RD_KAFKA_RESP_ERR__QUEUE_FULL && tries < 300, "produce to %s: %s", topic,
                  rd_kafka_err2str(e));
        rd_kafka_poll(p->rk, 100);
    }
}

void kt_producer_flush(struct kt_producer *p, int timeout_ms)
{
    rd_kafka_resp_err_t e = rd_kafka_flush(p->rk, timeout_ms);
    cr_assert_eq(e, RD_KAFKA_RESP_ERR_NO_ERROR, "flush: %s (%ld of %ld reported)",
                 rd_kafka_err2str(e), p->reported, p->queued);
    cr_assert_eq(p->failed, 0, "%ld deliveries failed; first: %s", p->failed, p->first_error);
}

void kt_producer_free(struct kt_producer *p)
{
    if (!p)
        return;
    rd_kafka_flush(p->rk, 5000);
    rd_kafka_destroy(p->rk);
    free(p);
}

/* ---- reading ---- */

struct kt_reader {
    rd_kafka_t *rk;
    rd_kafka_t *
            side; /* watermark queries: a broker answers a connection's requests in order, so on the
                         consumer's own connection each would wait behind a long-poll fetch */
    rd_kafka_topic_partition_list_t *parts;
    char *topic;
    int n;
    int64_t *next; /* next offset to deliver, per partition; -1 = from the beginning */
};

struct kt_reader *kt_reader_new(const char *topic)
{
    struct kt_reader *r = calloc(1, sizeof *r);
    cr_assert_not_null(r);
    /* assign() needs a group.id; this one never joins (no subscribe) and never commits. */
    char group[160];
    kt_unique(group, sizeof group, "reader");
    const char *extra[] = {
        "group.id",
        group,
        "enable.auto.commit",
        "false",
        "enable.auto.offset.store",
        "false",
        "enable.partition.eof",
        "false",
        "auto.offset.reset",
        "earliest",
        "receive.message.max.bytes",
        "100000000",
        "fetch.wait.max.ms",
        "100",
        NULL,
    };
    r->rk = client(RD_KAFKA_CONSUMER, extra, NULL);
    r->side = client(RD_KAFKA_PRODUCER, NULL, NULL);
    r->topic = strdup(topic);
    r->n = wait_topic(r->rk, topic, 0, 30000);
    r->next = calloc((size_t)r->n, sizeof *r->next);
    r->parts = rd_kafka_topic_partition_list_new(r->n);
    for (int i = 0; i < r->n; i++) {
        rd_kafka_topic_partition_list_add(r->parts, topic, i)->offset = RD_KAFKA_OFFSET_BEGINNING;
        r->next[i] = -1;
    }
    rd_kafka_poll_set_consumer(r->rk);
    cr_assert_eq(rd_kafka_assign(r->rk, r->parts), RD_KAFKA_RESP_ERR_NO_ERROR);
    return r;
}

size_t kt_reader_drain(struct kt_reader *r, kt_record_fn fn, void *ud, int timeout_ms)
{
    int64_t end = kt_now_ms() + timeout_ms;
    int64_t *hw = calloc((size_t)r->n, sizeof *hw);
    cr_assert_not_null(hw);
    for (int i = 0; i < r->n; i++) {
        int64_t lo = 0, hi = 0;
        hw[i] = -1;
        while (kt_now_ms() < end) {
            if (rd_kafka_query_watermark_offsets(r->side, r->topic, i, &lo, &hi, 5000) ==
                RD_KAFKA_RESP_ERR_NO_ERROR) {
                hw[i] = hi;
                if (r->next[i] < 0 && hi == lo)
                    r->next[i] = hi; /* empty so far */
                break;
            }
            kt_sleep_ms(200);
        }
    }
    size_t got = 0;
    for (;;) {
        int behind = 0;
        for (int i = 0; i < r->n; i++)
            behind += hw[i] < 0 || r->next[i] < hw[i];
        if (!behind || kt_now_ms() >= end)
            break;
        rd_kafka_message_t *m = rd_kafka_consumer_poll(r->rk, 100);
        if (!m)
            continue;
        if (m->err == RD_KAFKA_RESP_ERR_NO_ERROR && m->partition >= 0 && m->partition < r->n) {
            r->next[m->partition] = m->offset + 1;
            fn(ud, m);
            got++;
        }
        rd_kafka_message_destroy(m);
    }
    free(hw);
    return got;
}

void kt_reader_free(struct kt_reader *r)
{
    if (!r)
        return;
    rd_kafka_assign(r->rk, NULL);
    rd_kafka_consumer_close(r->rk);
    rd_kafka_destroy(r->rk);
    rd_kafka_destroy(r->side);
    rd_kafka_topic_partition_list_destroy(r->parts);
    free(r->topic);
    free(r->next);
    free(r);
}

const char *kt_header(const rd_kafka_message_t *msg, const char *name, char *buf, size_t cap)
{
    rd_kafka_headers_t *h = NULL;
    const void *v = NULL;
    size_t n = 0;
    if (rd_kafka_message_headers(msg, &h) != RD_KAFKA_RESP_ERR_NO_ERROR || !h ||
        rd_kafka_header_get_last(h, name, &v, &n) != RD_KAFKA_RESP_ERR_NO_ERROR)
        return NULL;
    if (n >= cap)
        n = cap - 1;
    if (n)
        memcpy(buf, v, n);
    buf[n] = '\0';
    return buf;
}

/* ---- group state ---- */

void kt_committed(const char *group, const char *topic, int n, int64_t *out)
{
    const char *extra[] = { "group.id", group, "enable.auto.commit", "false", NULL };
    rd_kafka_t *rk = client(RD_KAFKA_CONSUMER, extra, NULL);
    rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(n);
    for (int i = 0; i < n; i++)
        rd_kafka_topic_partition_list_add(l, topic, i);
    rd_kafka_resp_err_t e = RD_KAFKA_RESP_ERR_NO_ERROR;
    for (int tries = 0; tries < 10; tries++) {
        e = rd_kafka_committed(rk, l, 10000);
        if (e == RD_KAFKA_RESP_ERR_NO_ERROR)
            break;
        kt_sleep_ms(500);
    }
    cr_assert_eq(e, RD_KAFKA_RESP_ERR_NO_ERROR, "committed offsets of %s: %s", group,
                 rd_kafka_err2str(e));
    for (int i = 0; i < n; i++)
        out[i] = l->elems[i].err == RD_KAFKA_RESP_ERR_NO_ERROR && l->elems[i].offset >= 0
                         ? l->elems[i].offset
                         : -1;
    rd_kafka_topic_partition_list_destroy(l);
    rd_kafka_destroy(rk);
}

void kt_end_offsets(const char *topic, int n, int64_t *out)
{
    rd_kafka_t *rk = client(RD_KAFKA_PRODUCER, NULL, NULL);
    for (int i = 0; i < n; i++) {
        int64_t lo = 0, hi = -1;
        rd_kafka_resp_err_t e = RD_KAFKA_RESP_ERR_NO_ERROR;
        for (int tries = 0; tries < 10; tries++) {
            e = rd_kafka_query_watermark_offsets(rk, topic, i, &lo, &hi, 5000);
            if (e == RD_KAFKA_RESP_ERR_NO_ERROR)
                break;
            kt_sleep_ms(500);
        }
        cr_assert_eq(e, RD_KAFKA_RESP_ERR_NO_ERROR, "watermarks of %s/%d: %s", topic, i,
                     rd_kafka_err2str(e));
        out[i] = hi;
    }
    rd_kafka_destroy(rk);
}

int kt_group_members(const char *group, struct kt_member *out, int cap, int *stable)
{
    rd_kafka_t *rk = client(RD_KAFKA_PRODUCER, NULL, NULL);
    rd_kafka_queue_t *q = rd_kafka_queue_new(rk);
    char e[512];
    rd_kafka_AdminOptions_t *opt =
            rd_kafka_AdminOptions_new(rk, RD_KAFKA_ADMIN_OP_DESCRIBECONSUMERGROUPS);
    rd_kafka_AdminOptions_set_request_timeout(opt, 10000, e, sizeof e);
    const char *groups[] = { group };
    rd_kafka_DescribeConsumerGroups(rk, groups, 1, opt, q);
    rd_kafka_event_t *ev = rd_kafka_queue_poll(q, 15000);
    int n = -1;
    *stable = 0;
    const rd_kafka_DescribeConsumerGroups_result_t *res =
            ev ? rd_kafka_event_DescribeConsumerGroups_result(ev) : NULL;
    size_t cnt = 0;
    const rd_kafka_ConsumerGroupDescription_t **g =
            res ? rd_kafka_DescribeConsumerGroups_result_groups(res, &cnt) : NULL;
    if (g && cnt == 1 && !rd_kafka_ConsumerGroupDescription_error(g[0])) {
        *stable = rd_kafka_ConsumerGroupDescription_state(g[0]) ==
                  RD_KAFKA_CONSUMER_GROUP_STATE_STABLE;
        n = (int)rd_kafka_ConsumerGroupDescription_member_count(g[0]);
        for (int i = 0; i < n && i < cap; i++) {
            const rd_kafka_MemberDescription_t *m =
                    rd_kafka_ConsumerGroupDescription_member(g[0], (size_t)i);
            memset(&out[i], 0, sizeof out[i]);
            snprintf(out[i].client_id, sizeof out[i].client_id, "%s",
                     rd_kafka_MemberDescription_client_id(m));
            const rd_kafka_topic_partition_list_t *pl =
                    rd_kafka_MemberAssignment_partitions(rd_kafka_MemberDescription_assignment(m));
            for (int k = 0; pl && k < pl->cnt; k++) {
                if (pl->elems[k].partition >= 0 && pl->elems[k].partition < 64)
                    out[i].partitions |= 1ull << pl->elems[k].partition;
                out[i].n_partitions++;
            }
        }
    }
    if (ev)
        rd_kafka_event_destroy(ev);
    rd_kafka_AdminOptions_destroy(opt);
    rd_kafka_queue_destroy(q);
    rd_kafka_destroy(rk);
    return n;
}

void kt_wait_group(const char *group, int n, int partitions, int timeout_ms)
{
    int64_t end = kt_now_ms() + timeout_ms;
    struct kt_member m[16];
    int got = -1, stable = 0, held = 0, empty = 0;
    while (kt_now_ms() < end) {
        got = kt_group_members(group, m, 16, &stable);
        held = empty = 0;
        for (int i = 0; i < got && i < 16; i++) {
            held += m[i].n_partitions;
            empty += m[i].n_partitions == 0;
        }
        if (stable && got == n && held == partitions && empty == 0)
            return;
        kt_sleep_ms(250);
    }
    cr_assert_fail(
            "group %s: wanted %d stable members holding %d partitions; last seen %d members (%s), %d "
            "partitions, %d members without any",
            group, n, partitions, got, stable ? "stable" : "not stable", held, empty);
}

/* ---- config and worker processes ---- */

/* "" when extra already sets key (libconfig refuses duplicates), else setting. */
static const char *dflt(const char *extra, const char *key, const char *setting)
{
    return strstr(extra, key) ? "" : setting;
}

void kt_write_config(const struct fakeprov *fp, const char *path, const struct kt_topics *t,
                     const char *worker_extra, const char *prov_extra, const char *kafka_props)
{
    setenv("SYTEST_KIE_KEY", "test-kie-key", 1);
    setenv("SYTEST_REPLICATE_KEY", "test-replicate-key", 1);
    const char *pe = prov_extra ? prov_extra : "";
    const char *we = worker_extra ? worker_extra : "";
    const char *kp = kafka_props ? kafka_props : "";
    const char *poll =
            dflt(pe, "poll",
                 "poll = { mode = \"fixed\"; first_ms = 50; interval_ms = 50; max_s = 120; };");
    /* Far above anything a test sends: the tests measure delivery, not limits. */
    const char *limits = dflt(
            pe, "rate_limit",
            "rate_limit = { create_per_s = 100000.0; create_burst = 100000; create_window_max = 0;"
            " poll_per_s = 100000.0; poll_burst = 100000; max_in_flight = 100000; };");
    FILE *f = fopen(path, "w");
    cr_assert_not_null(f, "%s: %s", path, strerror(errno));
    fprintf(f,
            "providers = (\n"
            "  { name = \"kie\"; type = \"kie\"; priority = 1;\n"
            "    base_url = \"http://127.0.0.1:%d\"; api_key_env = \"SYTEST_KIE_KEY\"; %s %s %s },\n"
            "  { name = \"replicate\"; type = \"replicate\"; priority = 2;\n"
            "    base_url = \"http://127.0.0.1:%d\"; api_key_env = \"SYTEST_REPLICATE_KEY\"; %s %s %s }\n"
            ");\n"
            "worker = { metrics_listen = \"\"; %s %s %s %s %s %s };\n"
            "kafka = { brokers = \"%s\"; group = \"%s\"; input_topic = \"%s\"; output_topic = \"%s\";\n"
            "  dlq_topic = \"%s\"; properties = { %s }; };\n",
            fp->port, poll, limits, pe, fp->port, poll, limits, pe,
            dflt(we, "log_level", "log_level = \"info\";"),
            dflt(we, "max_in_flight", "max_in_flight = 1000;"),
            dflt(we, "request_timeout_ms", "request_timeout_ms = 5000;"),
            dflt(we, "connect_timeout_ms", "connect_timeout_ms = 2000;"),
            dflt(we, "shutdown_grace_s", "shutdown_grace_s = 10;"), we, kt_brokers(), t->group,
            t->input, t->output, t->dlq, kp);
    fclose(f);
}

pid_t kt_worker_start(const char *conf, const char *log)
{
    pid_t parent = getpid();
    pid_t pid = fork();
    cr_assert(pid >= 0, "fork: %s", strerror(errno));
    if (pid == 0) {
        prctl(PR_SET_PDEATHSIG, SIGKILL); /* never outlive a failed test */
        if (getppid() != parent)
            _exit(127);
        int devnull = open("/dev/null", O_WRONLY);
        if (devnull >= 0)
            dup2(devnull, 1);
        int lf = open(log, O_WRONLY | O_CREAT | O_APPEND, 0644);
        if (lf >= 0)
            dup2(lf, 2);
        execl(SY_SWITCHYARD_BIN, SY_SWITCHYARD_BIN, "-c", conf, (char *)NULL);
        _exit(127);
    }
    return pid;
}

int kt_worker_exited(pid_t pid, int *status)
{
    return waitpid(pid, status, WNOHANG) == pid;
}

int kt_worker_stop(pid_t pid, int timeout_s, long *elapsed_ms)
{
    int64_t t0 = kt_now_ms();
    int status = 0;
    kill(pid, SIGTERM);
    for (;;) {
        if (waitpid(pid, &status, WNOHANG) == pid)
            break;
        if (kt_now_ms() - t0 > (int64_t)timeout_s * 1000) {
            kill(pid, SIGKILL);
            waitpid(pid, &status, 0);
            if (elapsed_ms)
                *elapsed_ms = (long)(kt_now_ms() - t0);
            return -1;
        }
        kt_sleep_ms(20);
    }
    if (elapsed_ms)
        *elapsed_ms = (long)(kt_now_ms() - t0);
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

int kt_run_serial(int argc, char *argv[])
{
    struct criterion_test_set *tests = criterion_initialize();
    int result = 0;
    if (criterion_handle_args(argc, argv, true)) {
        criterion_options.jobs = 1;
        result = !criterion_run_all_tests(tests);
    }
    criterion_finalize(tests);
    return result;
}
