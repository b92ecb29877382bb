/* enqueue.c — switchyard-enqueue: puts JSONL jobs on the Kafka input topic and,
 * with --wait, follows their results on the output topic. The only exit is main.
 *
 * Each non-blank stdin line is one message. A JSON object without "id" gets one
 * ("enq-<unix ms>-<pid>-<seq>"), inserted as text right after the opening brace
 * so the rest of the line goes out byte for byte; the message key is the job
 * id. A line that is not one JSON object, or whose "id" is not a non-empty
 * string, goes out unchanged and unkeyed (the worker dead-letters or fails it)
 * and is not waited for. A line whose "id" holds a NUL (\u0000) is refused:
 * it is not sent, stderr names its line number, and the exit status is 1.
 *
 * --wait reads the output topic's high watermarks *before* producing, so every
 * result of these jobs lies above them, and assigns a throwaway consumer (no
 * commits) there. If the output topic does not exist yet, any result on it is
 * new: it is assigned from the beginning once it appears. Partitions added to
 * the output topic while waiting are not followed.
 *
 * Exit: 0 all delivered (and, with --wait, a result for every id); 1 delivery
 * failures, refused lines, a fatal Kafka error, or ids without a result at --timeout;
 * 2 usage or config error. */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <json-c/json.h>
#include <librdkafka/rdkafka.h>

#include "conf/config.h"
#include "queue/enqueue_ids.h"
#include "queue/enqueue_line.h"
#include "queue/kafka_conf.h"
#include "core/sy.h"

#define ENQ_MAX_PROPS 64
#define ENQ_FLUSH_MS 60000    /* deadline for outstanding deliveries at the end */
#define ENQ_META_WAIT_MS 5000 /* --wait: how long to look for the output topic first */

static const char usage[] =
        "usage: switchyard-enqueue [-c FILE] [-b BROKERS] [-t TOPIC] [--results-topic TOPIC]\n"
        "                          [-X PROP=VALUE]... [--partitions N]\n"
        "                          [--wait | --count-only] [--timeout S] < jobs.jsonl\n"
        "\n"
        "  -c, --config FILE        take kafka.* from FILE (the worker's config; its API-key\n"
        "                           variables must be set); optional when --brokers is given\n"
        "  -b, --brokers LIST       bootstrap servers (overrides kafka.brokers)\n"
        "  -t, --topic NAME         input topic (overrides kafka.input_topic; default switchyard.jobs)\n"
        "      --results-topic NAME output topic (overrides kafka.output_topic; default switchyard.results)\n"
        "  -X PROP=VALUE            extra librdkafka property (after kafka.properties);\n"
        "                           PROP=@FILE reads VALUE from FILE (for secrets such as sasl.password)\n"
        "      --partitions N       create the input topic with N partitions if missing\n"
        "  -w, --wait               print each job's result line on stdout as it arrives\n"
        "      --count-only         like --wait, but only progress and a summary\n"
        "      --timeout S          --wait: give up S seconds after the last job is sent (600)\n"
        "\n"
        "Exit: 0 ok, 1 delivery failures / refused lines / fatal Kafka error / missing results,\n"
        "      2 usage or config error.\n";

static volatile sig_atomic_t stop_flag;

struct enq {
    const char *brokers, *topic, *results_topic;
    const char *xprops[ENQ_MAX_PROPS];
    size_t n_xprops;
    const struct conf *conf;
    int wait, count_only, tty;
    long timeout_s, partitions;

    rd_kafka_t *prod, *cons;
    int assigned, fatal, shown; /* shown: a TTY progress line is on screen */
    int64_t next_assign_ms, last_progress_ms, start_wall_ms;
    struct enqueue_ids ids;
    long seq, produced, ids_added, not_jobs, failed_dr, lineno, refused;
    long expected, done, failed_results;
};

/* Clears a TTY progress line before another stderr message. */
static void enq_unshow(struct enq *q)
{
    if (q->shown)
        fputs("\r\033[K", stderr);
    q->shown = 0;
}

static void on_signal(int sig)
{
    (void)sig;
    stop_flag = 1;
}

static void enq_on_delivery(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque)
{
    struct enq *q = opaque;
    (void)rk;
    if (m->err == RD_KAFKA_RESP_ERR_NO_ERROR)
        return;
    enq_unshow(q);
    if (q->failed_dr++ < 5)
        fprintf(stderr, "switchyard-enqueue: delivery failed: %s\n", rd_kafka_err2str(m->err));
    struct enqueue_id *e = enqueue_ids_find(&q->ids, m->key, m->key_len);
    if (e && e->state == ENQUEUE_ID_WAITING) {
        e->state = ENQUEUE_ID_LOST;
        q->expected--;
    }
}

static void enq_on_error(rd_kafka_t *rk, int err, const char *reason, void *opaque)
{
    struct enq *q = opaque;
    if (err == RD_KAFKA_RESP_ERR__FATAL) {
        char buf[512];
        rd_kafka_fatal_error(rk, buf, sizeof buf);
        fprintf(stderr, "switchyard-enqueue: fatal Kafka error: %s\n", buf);
        q->fatal = 1;
        return;
    }
    enq_unshow(q);
    fprintf(stderr, "switchyard-enqueue: kafka: %s: %s\n", rd_kafka_err2name(err), reason);
}

/* -X KEY=@FILE: the value is FILE's first line (a secret stays off the
 * command line). Fills buf (NUL-terminated); the caller wipes it. */
static int enq_read_value(const char *k, const char *path, char *buf, size_t cap, char *err,
                          size_t errlen)
{
    FILE *f = fopen(path, "r");
    if (!f) {
        snprintf(err, errlen, "-X %s=@%s: %s", k, path, strerror(errno));
        return SY_ERR;
    }
    size_t n = fread(buf, 1, cap - 1, f);
    int full = n == cap - 1 && fgetc(f) != EOF;
    fclose(f);
    buf[n] = '\0';
    buf[strcspn(buf, "\r\n")] = '\0';
    if (full) {
        explicit_bzero(buf, cap);
        snprintf(err, errlen, "-X %s=@%s: longer than %zu bytes", k, path, cap - 2);
        return SY_ERR;
    }
    return SY_OK;
}

/* -X PROP=VALUE with a secret by its name (sasl.password, *.secret) given
 * inline: anyone on the host can read it in ps or /proc/PID/cmdline. */
static void enq_warn_inline_secret(const char *xprop)
{
    const char *eq = strchr(xprop, '=');
    char name[256];
    if (!eq || eq[1] == '@')
        return;
    snprintf(name, sizeof name, "%.*s", (int)(eq - xprop), xprop);
    if (strcasestr(name, "password") || strcasestr(name, "secret"))
        fprintf(stderr,
                "switchyard-enqueue: warning: -X %s=... puts a secret on the command line (ps, /proc/PID/cmdline); "
                "use -X %s=@FILE, or kafka.properties in a -c FILE only its owner can read\n",
                name, name);
}

/* -X PROP=VALUE, or PROP=@FILE (the value is read, set, then wiped). */
static int enq_xprop(rd_kafka_conf_t *kc, const char *xprop, char *err, size_t errlen)
{
    char k[256];
    const char *eq = strchr(xprop, '=');
    size_t kl = eq ? (size_t)(eq - xprop) : 0;
    if (kl == 0 || kl >= sizeof k) {
        snprintf(err, errlen, "-X %s: expected PROP=VALUE", xprop);
        return SY_ERR;
    }
    memcpy(k, xprop, kl);
    k[kl] = '\0';
    if (eq[1] != '@')
        return kafka_conf_set(kc, k, eq + 1, err, errlen);
    char v[4096];
    int rc = enq_read_value(k, eq + 2, v, sizeof v, err, errlen);
    if (rc == SY_OK)
        rc = kafka_conf_set(kc, k, v, err, errlen);
    explicit_bzero(v, sizeof v);
    return rc;
}

/* Whether kafka.properties or -X set the producer's linger. If not, it is 0:
 * each job is sent at once (librdkafka's default of 5 ms is all added
 * latency for a job sent alone; bulk input still batches while a request
 * is in flight). */
static int enq_sets_linger(const struct enq *q)
{
    static const char *const names[] = { "linger.ms", "queue.buffering.max.ms" };
    for (size_t n = 0; n < 2; n++) {
        size_t len = strlen(names[n]);
        for (size_t i = 0; q->conf && i < q->conf->kafka.n_properties; i++)
            if (strcmp(q->conf->kafka.properties[i].key, names[n]) == 0)
                return 1;
        for (size_t i = 0; i < q->n_xprops; i++)
            if (strncmp(q->xprops[i], names[n], len) == 0 && q->xprops[i][len] == '=')
                return 1;
    }
    return 0;
}

/* A producer (idempotent, acks=all) or a no-commit consumer with a unique
 * throwaway group (librdkafka's assign() needs a group id, nothing is joined).
 * Precedence, last wins: --brokers, kafka.properties, -X, then these. */
static rd_kafka_t *enq_client(struct enq *q, rd_kafka_type_t type, char *err, size_t errlen)
{
    static const char *const prod[] = { "enable.idempotence", "true", "acks", "all", NULL };
    char group[96];
    snprintf(group, sizeof group, "switchyard-enqueue-%ld-%" PRId64, (long)getpid(),
             q->start_wall_ms);
    const char *const cons[] = {
        "group.id",
        group,
        "enable.auto.commit",
        "false",
        "enable.auto.offset.store",
        "false",
        "enable.partition.eof",
        "false",
        NULL,
    };
    const struct conf_kv *props = q->conf ? q->conf->kafka.properties : NULL;
    rd_kafka_conf_t *kc = kafka_conf_build(
            q->brokers, props, q->conf ? q->conf->kafka.n_properties : 0, NULL, err, errlen);
    int rc = kc ? SY_OK : SY_ERR;
    for (size_t i = 0; rc == SY_OK && i < q->n_xprops; i++)
        rc = enq_xprop(kc, q->xprops[i], err, errlen);
    if (rc == SY_OK && type == RD_KAFKA_PRODUCER && !enq_sets_linger(q))
        rc = kafka_conf_set(kc, "linger.ms", "0", err, errlen);
    if (rc == SY_OK)
        rc = kafka_conf_set_pairs(kc, type == RD_KAFKA_PRODUCER ? prod : cons, err, errlen);
    if (rc != SY_OK) {
        if (kc)
            rd_kafka_conf_destroy(kc);
        return NULL;
    }
    if (type == RD_KAFKA_PRODUCER)
        rd_kafka_conf_set_dr_msg_cb(kc, enq_on_delivery);
    rd_kafka_conf_set_error_cb(kc, enq_on_error);
    rd_kafka_conf_set_opaque(kc, q);
    return kafka_client_new(type, kc, type == RD_KAFKA_PRODUCER ? "producer" : "consumer", err,
                            errlen);
}

/* --partitions: create the input topic (replication 1); "already exists" is fine. */
static int enq_create_topic(struct enq *q, char *err, size_t errlen)
{
    const struct kafka_topic_spec t = { .name = q->topic,
                                        .partitions = (int)q->partitions,
                                        .replication = 1 };
    int existed = 0;
    if (kafka_topic_create(q->prod, "create topic", &t, &existed, err, errlen) != SY_OK)
        return SY_ERR;
    fprintf(stderr, "switchyard-enqueue: topic %s %s\n", q->topic,
            existed ? "already exists (partitions unchanged)" : "created");
    return SY_OK;
}

/* Assigns every partition of the output topic, at its high watermark or from
 * the beginning. 1 assigned, 0 topic missing, -1 error (err filled). */
static int enq_assign(struct enq *q, int at_watermark, char *err, size_t errlen)
{
    const rd_kafka_metadata_t *md;
    rd_kafka_topic_t *rkt = rd_kafka_topic_new(q->cons, q->results_topic, NULL);
    rd_kafka_resp_err_t e = rd_kafka_metadata(q->cons, 0, rkt, &md, 2000);
    rd_kafka_topic_destroy(rkt);
    if (e != RD_KAFKA_RESP_ERR_NO_ERROR) {
        snprintf(err, errlen, "metadata for %s: %s", q->results_topic, rd_kafka_err2str(e));
        return -1;
    }
    const rd_kafka_metadata_topic_t *t = &md->topics[0];
    if (md->topic_cnt != 1 || t->err != RD_KAFKA_RESP_ERR_NO_ERROR || t->partition_cnt == 0) {
        rd_kafka_metadata_destroy(md);
        return 0;
    }
    rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(t->partition_cnt);
    for (int i = 0; i < t->partition_cnt && e == RD_KAFKA_RESP_ERR_NO_ERROR; i++) {
        int64_t lo, hi = RD_KAFKA_OFFSET_BEGINNING;
        if (at_watermark)
            e = rd_kafka_query_watermark_offsets(q->cons, q->results_topic, t->partitions[i].id,
                                                 &lo, &hi, 5000);
        rd_kafka_topic_partition_list_add(l, q->results_topic, t->partitions[i].id)->offset = hi;
    }
    if (e == RD_KAFKA_RESP_ERR_NO_ERROR)
        e = rd_kafka_assign(q->cons, l);
    rd_kafka_topic_partition_list_destroy(l);
    rd_kafka_metadata_destroy(md);
    if (e != RD_KAFKA_RESP_ERR_NO_ERROR) {
        snprintf(err, errlen, "assign %s: %s", q->results_topic, rd_kafka_err2str(e));
        return -1;
    }
    q->assigned = 1;
    return 1;
}

/* "results 123/500 (failed 3)": rewritten in place on a TTY (at most 5/s), a
 * plain line every 5 s otherwise; final forces one and ends the line. */
static void enq_progress(struct enq *q, int final)
{
    int64_t now = sy_now_ms();
    if (!q->wait || (!final && now - q->last_progress_ms < (q->tty ? 200 : 5000)))
        return;
    q->last_progress_ms = now;
    q->shown = q->tty && !final;
    fprintf(stderr, "%sresults %ld/%ld (failed %ld)%s", q->tty ? "\r" : "", q->done, q->expected,
            q->failed_results, q->tty ? (final ? "\033[K\n" : "\033[K") : "\n");
}

/* A result counts as failed unless its "status" is "succeeded". */
static int enq_result_failed(const char *buf, size_t len)
{
    json_tokener *tok = json_tokener_new();
    json_object *o = tok && len <= INT32_MAX ? json_tokener_parse_ex(tok, buf, (int)len) : NULL;
    json_object *st;
    int failed = !(o && json_object_object_get_ex(o, "status", &st) &&
                   json_object_is_type(st, json_type_string) &&
                   strcmp(json_object_get_string(st), "succeeded") == 0);
    json_object_put(o);
    if (tok)
        json_tokener_free(tok);
    return failed;
}

/* Serves the consumer: prints and counts results for our ids. Blocks at most
 * timeout_ms for the first message (and up to 2 s while the output topic is
 * missing and its metadata is re-read, once a second). */
static void enq_drain(struct enq *q, int timeout_ms)
{
    if (!q->cons)
        return;
    if (!q->assigned && sy_now_ms() >= q->next_assign_ms) {
        char err[512];
        if (enq_assign(q, 0, err, sizeof err) < 0)
            fprintf(stderr, "switchyard-enqueue: %s\n", err);
        q->next_assign_ms = sy_now_ms() + 1000;
    }
    for (;;) {
        rd_kafka_message_t *m = rd_kafka_consumer_poll(q->cons, timeout_ms);
        if (!m)
            break;
        timeout_ms = 0;
        struct enqueue_id *e = m->err ? NULL : enqueue_ids_find(&q->ids, m->key, m->key_len);
        if (m->err)
            fprintf(stderr, "switchyard-enqueue: consume: %s\n", rd_kafka_message_errstr(m));
        if (e && !q->count_only) {
            fwrite(m->payload, 1, m->len, stdout);
            fputc('\n', stdout);
        }
        if (e && e->state == ENQUEUE_ID_WAITING) {
            e->state = ENQUEUE_ID_DONE;
            q->done++;
            q->failed_results += enq_result_failed(m->payload, m->len);
        }
        rd_kafka_message_destroy(m);
    }
    enq_progress(q, 0);
}

/* Produces one stdin line. Returns SY_ERR only when the run must stop (out of
 * memory, fatal Kafka error, interrupted while the queue is full). */
static int enq_line(struct enq *q, const char *line, size_t len)
{
    char id[96];
    snprintf(id, sizeof id, "enq-%" PRId64 "-%ld-%ld", q->start_wall_ms, (long)getpid(),
             q->seq + 1);
    struct enqueue_line l;
    if (enqueue_line_prepare(&l, line, len, id) != 0) {
        fprintf(stderr, "switchyard-enqueue: out of memory\n");
        return SY_ERR;
    }
    q->lineno++;
    if (l.kind == ENQUEUE_LINE_BLANK)
        return SY_OK;
    if (l.kind == ENQUEUE_LINE_REFUSED) {
        enq_unshow(q);
        fprintf(stderr, "switchyard-enqueue: stdin line %ld: %s; line not sent\n", q->lineno,
                l.why);
        q->refused++;
        enqueue_line_cleanup(&l);
        return SY_OK;
    }
    q->seq += l.kind == ENQUEUE_LINE_ID_ADDED;
    q->ids_added += l.kind == ENQUEUE_LINE_ID_ADDED;
    q->not_jobs += l.kind == ENQUEUE_LINE_NOT_JOB;
    int rc = SY_OK;
    for (;;) {
        rd_kafka_resp_err_t e = rd_kafka_producev(
                q->prod, RD_KAFKA_V_TOPIC(q->topic), RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
                RD_KAFKA_V_KEY(l.key, l.klen), RD_KAFKA_V_VALUE((void *)l.value, l.vlen),
                RD_KAFKA_V_END);
        if (e == RD_KAFKA_RESP_ERR_NO_ERROR) {
            /* registered before any poll, so neither its delivery report nor its result can come first */
            int added = l.key ? enqueue_ids_add(&q->ids, l.key, l.klen) : 0;
            q->produced++;
            q->expected += added == 1;
            if (added < 0) {
                fprintf(stderr, "switchyard-enqueue: out of memory\n");
                rc = SY_ERR;
            }
            break;
        }
        if (e != RD_KAFKA_RESP_ERR__QUEUE_FULL || stop_flag || q->fatal) {
            fprintf(stderr, "switchyard-enqueue: produce: %s\n", rd_kafka_err2str(e));
            q->failed_dr++;
            rc = e == RD_KAFKA_RESP_ERR__QUEUE_FULL || q->fatal ? SY_ERR : SY_OK;
            break;
        }
        rd_kafka_poll(q->prod, 100); /* queue full: serve delivery reports, then retry */
        enq_drain(q, 0);
    }
    enqueue_line_cleanup(&l);
    return rc;
}

static int enq_parse_long(const char *s, long max, long *out)
{
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno != 0 || end == s || *end != '\0' || v <= 0 || v > max)
        return SY_ERR;
    *out = v;
    return SY_OK;
}

enum { OPT_RESULTS = 256, OPT_PARTITIONS, OPT_COUNT, OPT_TIMEOUT, OPT_VERSION };

int main(int argc, char **argv)
{
    static const struct option opts[] = {
        { "config", required_argument, NULL, 'c' },
        { "brokers", required_argument, NULL, 'b' },
        { "topic", required_argument, NULL, 't' },
        { "results-topic", required_argument, NULL, OPT_RESULTS },
        { "partitions", required_argument, NULL, OPT_PARTITIONS },
        { "wait", no_argument, NULL, 'w' },
        { "count-only", no_argument, NULL, OPT_COUNT },
        { "timeout", required_argument, NULL, OPT_TIMEOUT },
        { "help", no_argument, NULL, 'h' },
        { "version", no_argument, NULL, OPT_VERSION },
        { NULL, 0, NULL, 0 },
    };
    struct enq q = { .timeout_s = 600,
                     .start_wall_ms = sy_wall_ms(),
                     .tty = isatty(STDERR_FILENO) };
    const char *config_path = NULL;
    char err[512];
    int c;
    while ((c = getopt_long(argc, argv, "c:b:t:X:wh", opts, NULL)) != -1) {
        switch (c) {
        case 'c':
            config_path = optarg;
            break;
        case 'b':
            q.brokers = optarg;
            break;
        case 't':
            q.topic = optarg;
            break;
        case OPT_RESULTS:
            q.results_topic = optarg;
            break;
        case 'X':
            if (q.n_xprops == ENQ_MAX_PROPS) {
                fprintf(stderr, "switchyard-enqueue: at most %d -X options\n", ENQ_MAX_PROPS);
                return 2;
            }
            q.xprops[q.n_xprops++] = optarg;
            enq_warn_inline_secret(optarg);
            break;
        case 'w':
            q.wait = 1;
            break;
        case OPT_COUNT:
            q.wait = q.count_only = 1;
            break;
        case OPT_PARTITIONS:
        case OPT_TIMEOUT:
            if (enq_parse_long(optarg, 1000000, c == OPT_TIMEOUT ? &q.timeout_s : &q.partitions) !=
                SY_OK) {
                fprintf(stderr,
                        "switchyard-enqueue: --%s: expected a positive integer, got \"%s\"\n",
                        c == OPT_TIMEOUT ? "timeout" : "partitions", optarg);
                return 2;
            }
            break;
        case 'h':
            fputs(usage, stdout);
            return 0;
        case OPT_VERSION:
            printf("switchyard-enqueue %s (librdkafka %s)\n", SY_VERSION, rd_kafka_version_str());
            return 0;
        default:
            fputs(usage, stderr);
            return 2;
        }
    }
    if (optind != argc || (!config_path && !q.brokers)) {
        fputs(optind != argc ? "switchyard-enqueue: unexpected argument\n"
                             : "switchyard-enqueue: need -c FILE or --brokers\n",
              stderr);
        fputs(usage, stderr);
        return 2;
    }
    /* -c loads the provider keys, kafka.properties may hold a SASL password:
     * no core dump, no ptrace by other processes (SWITCHYARD_DUMPABLE=1 to debug). */
    const char *dumpable = getenv("SWITCHYARD_DUMPABLE");
    if (!(dumpable && strcmp(dumpable, "1") == 0))
        prctl(PR_SET_DUMPABLE, 0L, 0L, 0L, 0L);
    struct conf *cf = NULL;
    if (config_path) {
        struct stat st;
        cf = conf_load(config_path, err, sizeof err);
        if (!cf) {
            fprintf(stderr,
                    "%s\n(switchyard-enqueue loads the worker's config, so its API-key variables must be set; "
                    "or pass --brokers/--topic/--results-topic without -c)\n",
                    err);
            return 2;
        }
        const char *key =
                stat(config_path, &st) == 0 ? conf_exposed_secret(cf, (unsigned)st.st_mode) : NULL;
        if (key)
            fprintf(stderr,
                    "switchyard-enqueue: warning: %s is readable by group or others and holds kafka.properties %s: "
                    "chmod 600 it\n",
                    config_path, key);
        q.conf = cf;
        q.brokers = q.brokers ? q.brokers : cf->kafka.brokers;
        q.topic = q.topic ? q.topic : cf->kafka.input_topic;
        q.results_topic = q.results_topic ? q.results_topic : cf->kafka.output_topic;
    }
    q.topic = q.topic ? q.topic : "switchyard.jobs";
    q.results_topic = q.results_topic ? q.results_topic : "switchyard.results";

    struct sigaction sa = { .sa_handler = on_signal,
                            .sa_flags = SA_RESETHAND }; /* no SA_RESTART: EINTR ends reading */
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    if (q.wait)
        setvbuf(stdout, NULL, _IOLBF, 0);
    q.last_progress_ms = sy_now_ms();

    int status = 0;
    q.prod = enq_client(&q, RD_KAFKA_PRODUCER, err, sizeof err);
    if (!q.prod || (q.partitions > 0 && enq_create_topic(&q, err, sizeof err) != SY_OK)) {
        fprintf(stderr, "switchyard-enqueue: %s\n", err);
        status = !q.prod ? 2 : 1;
        goto out;
    }
    /* The first job goes out at once, not after librdkafka's 1 s topic scan. */
    (void)kafka_topic_partitions(q.prod, q.topic, 2000);
    if (q.wait) {
        q.cons = enq_client(&q, RD_KAFKA_CONSUMER, err, sizeof err);
        int r = q.cons ? 0 : -1;
        for (int64_t until = sy_now_ms() + ENQ_META_WAIT_MS; r == 0 && !stop_flag;) {
            r = enq_assign(&q, 1, err, sizeof err);
            if (r == 0 && sy_now_ms() >= until) {
                fprintf(stderr,
                        "switchyard-enqueue: %s does not exist yet; reading it from the start once it does\n",
                        q.results_topic);
                break;
            }
            if (r == 0)
                poll(NULL, 0, 250);
        }
        if (r < 0) {
            fprintf(stderr, "switchyard-enqueue: %s\n", err);
            status = !q.cons ? 2 : 1;
            goto out;
        }
    }

    char *line = NULL;
    size_t cap = 0;
    while (!stop_flag && !q.fatal) {
        ssize_t n = getline(&line, &cap, stdin);
        if (n < 0 || enq_line(&q, line, (size_t)n) != SY_OK)
            break;
        rd_kafka_poll(q.prod, 0);
        enq_drain(&q, 0);
    }
    free(line);
    if (ferror(stdin) && !stop_flag)
        fprintf(stderr, "switchyard-enqueue: reading stdin: %s\n", strerror(errno));

    int64_t flush_until = sy_now_ms() + ENQ_FLUSH_MS;
    while (rd_kafka_outq_len(q.prod) > 0 && !q.fatal && sy_now_ms() < flush_until) {
        rd_kafka_poll(q.prod, 50);
        enq_drain(&q, 0);
    }
    int undelivered = rd_kafka_outq_len(q.prod);
    enq_unshow(&q);
    if (undelivered > 0)
        fprintf(stderr, "switchyard-enqueue: %d messages still undelivered after %d s\n",
                undelivered, ENQ_FLUSH_MS / 1000);
    fprintf(stderr, "switchyard-enqueue: %ld produced to %s, %ld ids added", q.produced, q.topic,
            q.ids_added);
    if (q.not_jobs > 0)
        fprintf(stderr, ", %ld not job objects (sent unchanged, not awaited)", q.not_jobs);
    if (q.refused > 0)
        fprintf(stderr, "; %ld lines REFUSED (not sent)", q.refused);
    if (q.failed_dr > 0)
        fprintf(stderr, "; %ld deliveries FAILED", q.failed_dr);
    fputc('\n', stderr);
    if (stop_flag)
        fprintf(stderr, "switchyard-enqueue: interrupted: stopped reading stdin\n");
    if (q.failed_dr > 0 || q.refused > 0 || undelivered > 0 || q.fatal || stop_flag)
        status = 1;

    if (q.wait && !q.fatal) {
        int64_t until = sy_now_ms() + q.timeout_s * 1000;
        while (q.done < q.expected && !stop_flag && !q.fatal && sy_now_ms() < until)
            enq_drain(&q, 200);
        enq_progress(&q, 1);
        if (q.done < q.expected) {
            fprintf(stderr, "switchyard-enqueue: %ld of %ld ids have no result (%s)\n",
                    q.expected - q.done, q.expected,
                    stop_flag ? "interrupted"
                    : q.fatal ? "fatal error"
                              : "timeout");
            status = 1;
        }
    }
out:
    if (q.cons) {
        rd_kafka_consumer_close(q.cons);
        rd_kafka_destroy(q.cons);
    }
    if (q.prod)
        rd_kafka_destroy(q.prod);
    enqueue_ids_cleanup(&q.ids);
    conf_free(cf);
    return status;
}
