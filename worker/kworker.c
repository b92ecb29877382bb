/* kworker.c — the Kafka worker process.
 *
 * Each consumed message becomes a kmsg: it lives on its partition's list from
 * consume until every message produced for it is acknowledged (then its
 * offset is finished in the tracker and the committable offset is stored).
 * A revoked partition's kmsgs are marked dropped: their jobs are aborted, a
 * late delivery report only frees them, and their offsets are never stored
 * (the new owner redoes those jobs).
 *
 * Backpressure: at worker.max_in_flight live kmsgs the consumer is throttled
 * (no message taken, fetching goes on: consumer_throttle; it pauses itself
 * when that lasts a second). Above worker.max_in_flight_bytes held, or while
 * a message waits to be sent again (kpublish.c), every assigned partition is
 * paused; below three quarters of both limits, with nothing parked, they
 * resume (kworker_flow, run whenever
 * one of them changes, a revoke included). The consumer is served all the
 * time, so the worker stays in the group.
 *
 * Every input offset is finished once what was produced for it ended:
 * delivered, or given up after a permanent error (kpublish.c), so a
 * partition's committed offset always moves on. Out of memory while taking a
 * message aborts the process (the message is redelivered), never drops it.
 *
 * Shutdown (SIGTERM/SIGINT): pause, wait for live kmsgs up to
 * worker.shutdown_grace_s, abort the rest, flush the producer, commit, close.
 * Every teardown step runs from a timer callback, never inside a curl or
 * librdkafka callback. The process wiring (loop, metrics, callback listener,
 * signals) is engine.c's; the in-flight list is kmsg.c's. */
#include "kworker.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <librdkafka/rdkafka.h>
#include <uv.h>

#include "queue/cbtopic.h"
#include "queue/codec.h"
#include "queue/consumer.h"
#include "queue/ledger.h"
#include "queue/offsets.h"
#include "queue/producer.h"
#include "core/sy.h"
#include "worker/callbacks.h"
#include "worker/dispatch.h"
#include "worker/engine.h"
#include "worker/job.h"
#include "core/log.h"
#include "worker/kworker_int.h"
#include "worker/metrics.h"

#define KW_MAX_VALUE (1024 * 1024) /* larger job values are dead-lettered */
#define KW_FLUSH_MS 15000
#define KW_JOB_BYTES                                                                               \
    4096 /* counted per job beside its message: the job, its requests, its result */

static void maybe_finish_shutdown(struct kworker *w);

void kworker_oom(const char *what)
{
    LOG_ERROR(NULL, "out of memory for %s: aborting so that uncommitted messages are redelivered",
              what);
    abort();
}

void kworker_flow(struct kworker *w)
{
    if (w->stopping || w->closing || !w->consumer)
        return; /* stopping keeps the consumer paused */
    size_t max = (size_t)w->conf->worker.max_in_flight;
    size_t max_bytes = (size_t)w->conf->worker.max_in_flight_bytes;
    int paused = consumer_paused(w->consumer);
    consumer_throttle(w->consumer, w->live >= max); /* the window: stop taking, keep fetching */
    if (!paused && (w->bytes > max_bytes || w->parked)) {
        consumer_pause(w->consumer);
        LOG_DEBUG(NULL, "paused at %zu in flight, %zu bytes, %zu to send again", w->live, w->bytes,
                  w->n_parked);
    } else if (paused && w->live <= max * 3 / 4 && w->bytes <= max_bytes / 4 * 3 && !w->parked) {
        consumer_resume(
                w->consumer); /* also ends a pause the consumer took after a long throttle */
        LOG_DEBUG(NULL, "resumed at %zu in flight, %zu bytes", w->live, w->bytes);
    }
}

static void kmsg_free(struct kmsg *m)
{
    struct kworker *w = m->w;
    kmsg_unlink(m);
    kmsg_destroy(m);
    if (w->stopping)
        maybe_finish_shutdown(w);
    else
        kworker_flow(w);
}

void kworker_kmsg_done(struct kmsg *m)
{
    struct kworker *w = m->w;
    if (!m->dropped && !m->failed)
        kledger_done(m);
    if (!m->dropped && !m->failed && offsets_finish(w->offsets, m->partition, m->offset) == SY_OK) {
        bool changed = false;
        int64_t next = offsets_committable(w->offsets, m->partition, &changed);
        if (changed && next >= 0 && consumer_store(w->consumer, m->partition, next) == SY_OK) {
            offsets_mark_committed(w->offsets, m->partition, next);
            w->parts[m->partition].moved_ms = sy_now_ms();
        }
    }
    kmsg_free(m);
}

static void on_job_done(void *ud, const char *job_id, int ok, const char *result_json)
{
    (void)job_id;
    struct kmsg *m = ud;
    m->job = NULL;
    m->ok = ok;
    kmsg_hold(m);
    kpub_result(m, result_json);
    kmsg_release(m);
}

/* A job id the failed result of an invalid message may carry: the message
 * key equals it, and it is a valid id (1..CODEC_MAX_ID bytes, no control
 * characters). Otherwise the result would speak for an id the message does
 * not own (or be larger than any result may be). */
static int owned_id(const rd_kafka_message_t *msg, const char *id)
{
    size_t n = id ? strlen(id) : 0;
    if (n == 0 || n > CODEC_MAX_ID || !msg->key || msg->key_len != n ||
        memcmp(msg->key, id, n) != 0)
        return 0;
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)id[i] < 0x20 || id[i] == 0x7f)
            return 0;
    return 1;
}

static char *header_value(const rd_kafka_message_t *msg, const char *name)
{
    rd_kafka_headers_t *h = NULL;
    const void *v = NULL;
    size_t n = 0;
    if (rd_kafka_message_headers(msg, &h) != RD_KAFKA_RESP_ERR_NO_ERROR || !h ||
        rd_kafka_header_get_last(h, name, &v, &n) != RD_KAFKA_RESP_ERR_NO_ERROR || !v || n > 512)
        return NULL;
    return strndup(v, n);
}

static void on_message(void *ud, const rd_kafka_message_t *msg)
{
    struct kworker *w = ud;
    size_t was = offsets_in_flight(w->offsets, msg->partition);
    errno = 0;
    if (offsets_add(w->offsets, msg->partition, msg->offset) != SY_OK) {
        if (errno == ENOMEM)
            kworker_oom("the offset tracker");
        /* Redelivery of an offset already in work (e.g. after a seek). */
        return;
    }
    struct kmsg *m =
            kmsg_new(w, msg->partition, msg->offset, msg->len + msg->key_len + KW_JOB_BYTES);
    if (was == 0)
        w->parts[m->partition].moved_ms =
                sy_now_ms(); /* work arrived on an idle partition: the stall clock starts */
    w->consumed++;
    metrics_consumed(w->e.m);
    kmsg_hold(m); /* until the end of this function */
    m->traceparent = header_value(msg, "traceparent");

    char err[256] = "";
    char *id = NULL;
    struct codec_job *spec = NULL;
    if (!msg->payload || msg->len == 0) {
        snprintf(err, sizeof err, "empty value");
    } else if (msg->len > KW_MAX_VALUE) {
        snprintf(err, sizeof err, "value of %zu bytes is over the %d-byte limit", msg->len,
                 KW_MAX_VALUE);
    } else {
        spec = codec_job_parse(msg->payload, msg->len, &id, err, sizeof err);
    }
    if (owned_id(msg, id)) {
        m->id = id;
    } else {
        free(id);
        m->id = spec ? strdup(spec->id) : NULL; /* a valid id (the key check below) */
        if (spec && !m->id)
            kworker_oom("a job id");
    }
    if (spec && (!msg->key || msg->key_len == 0)) {
        snprintf(err, sizeof err, "missing message key (must be the job id)");
    } else if (spec && (msg->key_len != strlen(spec->id) ||
                        memcmp(msg->key, spec->id, msg->key_len) != 0)) {
        snprintf(err, sizeof err, "message key does not match the job id");
    }
    /* An invalid message keyed by its own valid id has a ledger record too
     * (its DLQ copy and failed result were acknowledged): look it up alike. */
    const char *lid = !err[0] || owned_id(msg, m->id) ? m->id : NULL;
    struct ledger_rec lr;
    int have_rec = kledger_lookup(w, msg->partition, msg->offset, lid, &lr) == SY_OK;
    if (have_rec && lr.state == LEDGER_DONE) {
        /* Finished and acknowledged by an earlier owner, not yet committed. */
        struct log_ctx lc = {
            .job = m->id, .has_offset = 1, .partition = m->partition, .offset = m->offset
        };
        LOG_INFO(&lc, "ledger: done already (%s): finished without running or publishing again",
                 lr.status);
        metrics_ledger(w->e.m, METRICS_LEDGER_SKIPPED_DONE);
        codec_job_free(spec);
        m->ledger_done = 1;
        m->ok = strcmp(lr.status, "succeeded") == 0;
    } else if (err[0]) {
        codec_job_free(spec);
        if (!lid) {
            free(m->id);
            m->id = NULL;
        }
        kpub_dead_letter(m, msg, err);
    } else {
        /* Measure queueing from the message timestamp when it is sane. */
        int64_t now = sy_now_ms();
        int64_t enq = now;
        rd_kafka_timestamp_type_t tt;
        int64_t ts = rd_kafka_message_timestamp(msg, &tt);
        int64_t lag = ts > 0 ? sy_wall_ms() - ts : -1;
        if (lag > 0 && lag < 86400000)
            enq = now - lag;
        m->job = job_start(&w->e, spec, -1, enq, on_job_done, m);
        if (!m->job) {
            codec_job_free(spec);
            kworker_oom("a job");
        }
        job_set_partition(m->job, msg->partition);
        if (have_rec && lr.state == LEDGER_CREATED) {
            struct job_resume jr = { .provider = lr.provider,
                                     .task_id = lr.task_id,
                                     .worker = lr.worker,
                                     .created_wall_ms = lr.created_ms,
                                     .attempt = lr.attempt };
            if (job_resume(m->job, &jr) == SY_OK)
                metrics_ledger(w->e.m, METRICS_LEDGER_RESUMED);
        }
    }
    kmsg_release(m);
    kworker_flow(w);
}

static void on_delivery(void *ud, void *opaque, int ok, rd_kafka_resp_err_t code, const char *err,
                        const rd_kafka_message_t *msg)
{
    kpub_delivered(ud, opaque, ok, code, err, msg);
}

static void on_fatal(void *ud, const char *reason)
{
    struct kworker *w = ud;
    LOG_ERROR(NULL, "fatal producer error: %s; stopping", reason);
    w->fatal = 1;
    if (!w->stopping) {
        w->stopping = 1;
        consumer_pause(w->consumer);
        maybe_finish_shutdown(w);
    }
}

static void on_assign(void *ud, int32_t p)
{
    struct kworker *w = ud;
    struct kpart *kp = kmsg_part(w, p);
    if (kp) {
        kp->owned = 1;
        kp->moved_ms = sy_now_ms();
    }
    offsets_drop(w->offsets, p);
    cbtopic_assign(w->cbt, p);
    kledger_assign(w, p);
}

static void on_committed(void *ud, int32_t p, int64_t next)
{
    kledger_committed(ud, p, next);
}

/* Fleet-scope limits follow this worker's share of the input partitions. */
static void on_rebalanced(void *ud)
{
    struct kworker *w = ud;
    int total = consumer_topic_partitions(w->consumer);
    size_t mine = consumer_assigned(w->consumer);
    double share = total > 0 && mine > 0 ? (double)mine / total : 1.0;
    if (total > 0 && mine == 0)
        share = 1.0 / total; /* nothing assigned: keep a minimal share for leftovers */
    dispatch_set_share(w->e.d, share > 1.0 ? 1.0 : share, sy_now_ms());
    LOG_INFO(NULL, "%zu of %d input partitions: fleet-scope limits at %.0f%%", mine, total,
             share * 100);
}

static void on_revoke(void *ud, int32_t p)
{
    struct kworker *w = ud;
    if ((size_t)p >= w->n_parts)
        return;
    struct kpart *kp = &w->parts[p];
    size_t dropped = kp->n;
    kp->owned = 0;
    cbtopic_unassign(w->cbt, p);
    kledger_revoke(w, p); /* flushes the created records of the jobs dropped below */
    struct kmsg *m = kp->head;
    kp->head = NULL;
    kp->n = 0;
    while (m) {
        struct kmsg *next = m->next;
        m->dropped = 1;
        m->next = m->prev = NULL;
        if (m->job) {
            job_abort(m->job);
            m->job = NULL;
        }
        if (m->pending == 0)
            kmsg_destroy(m);
        m = next;
    }
    offsets_drop(w->offsets, p);
    if (dropped)
        LOG_INFO(NULL,
                 "partition %d revoked: dropped %zu unfinished jobs (the new owner redoes them)",
                 (int)p, dropped);
    if (w->stopping)
        maybe_finish_shutdown(w);
    else
        kworker_flow(w); /* paused with everything freed here: no kmsg_free would resume */
}

/* ---- callbacks ---- */

/* An accepted callback from this worker's listener: act on it here when
 * its partition is ours, else hand it to the owner via the callback topic,
 * on the topic's own bounded producer (never the results' queue). An
 * unsigned event is never handed over: the owner's safety poll covers it. */
static void on_callback(void *ud, const struct cbtopic_event *ev)
{
    struct kworker *w = ud;
    int32_t p = ev->partition;
    if (p < 0 || ((size_t)p < w->n_parts && w->parts[p].owned) || w->closing) {
        callbacks_complete(&w->e, ev);
        return;
    }
    struct log_ctx lc = { .job = ev->job_id, .provider = ev->provider, .task = ev->task_id };
    if (!ev->is_signed) {
        metrics_callback_handoff_dropped(w->e.m, 1);
        LOG_DEBUG(
                &lc,
                "unsigned callback for partition %d not handed over (the owner's safety poll covers it)",
                (int)p);
        return;
    }
    size_t len = 0;
    char *env = cbtopic_envelope_encode(ev, &len);
    char err[256] = "out of memory";
    int rc =
            env ? cbtopic_send(w->cbt, p, ev->job_id, strlen(ev->job_id), env, len, err, sizeof err)
                : SY_ERR;
    free(env);
    if (rc == SY_OK) {
        w->cb_forwarded++;
        metrics_callback_forwarded(w->e.m);
        LOG_DEBUG(&lc, "callback for partition %d handed to its owner", (int)p);
    } else if (rc == SY_AGAIN) {
        metrics_callback_handoff_dropped(w->e.m, 0); /* cbtopic logs it, rate-limited */
    } else {
        LOG_WARN(&lc, "cannot hand the callback for partition %d over: %s", (int)p, err);
    }
}

/* A callback another worker handed over (read from the callback topic):
 * untrusted until callbacks_handoff() has checked it. */
static void on_handoff(void *ud, const rd_kafka_message_t *msg)
{
    struct kworker *w = ud;
    int rc = w->e.cb ? callbacks_handoff(w->e.cb, &w->e, msg->payload, msg->len) : SY_DECLINED;
    if (rc == SY_ERR) {
        LOG_WARN(
                NULL,
                "callback topic: record %d/%lld is not a callback envelope for a configured provider",
                (int)msg->partition, (long long)msg->offset);
    } else if (rc == SY_OK) {
        w->cb_handed_in++;
        metrics_callback_handed_in(w->e.m);
    }
}

/* Callbacks on (the engine runs the listener): the callback topic and its
 * reader. SY_OK (also when off) or SY_ERR with err. */
static int start_callback_topic(struct kworker *w, char *err, size_t errlen)
{
    const struct conf *c = w->conf;
    if (!c->callbacks.listen[0])
        return SY_OK;
    if (cbtopic_ensure(c, err, errlen) <= 0)
        return SY_ERR;
    w->cbt = cbtopic_new(&w->uv, c, on_handoff, w, err, errlen);
    return w->cbt ? SY_OK : SY_ERR;
}

/* ---- shutdown ---- */

static void on_closer(uv_timer_t *t)
{
    struct kworker *w = t->data;
    w->closing = 1;
    engine_stop_listeners(&w->e);
    kpub_close(w);
    /* Abort what did not finish in time; its offsets are not stored. */
    for (size_t p = 0; p < w->n_parts; p++) {
        for (struct kmsg *m = w->parts[p].head; m; m = m->next) {
            if (m->job) {
                job_abort(m->job);
                m->job = NULL;
            }
        }
    }
    int lost = producer_flush(w->producer, KW_FLUSH_MS);
    if (lost > 0)
        LOG_ERROR(NULL, "%d results were not delivered before the flush deadline", lost);
    kledger_flush(w); /* the next owner must see the created records of the aborted jobs */
    consumer_close(w->consumer); /* commits stored offsets, leaves the group */
    w->consumer = NULL;
    kledger_close(w);
    cbtopic_close(w->cbt); /* after the consumer: its revoke callbacks unassign here */
    w->cbt = NULL;
    /* kmsgs left: jobs aborted above or results undelivered — not committed. */
    for (size_t p = 0; p < w->n_parts; p++) {
        struct kmsg *m = w->parts[p].head;
        while (m) {
            struct kmsg *next = m->next;
            kmsg_destroy(m);
            m = next;
        }
        w->parts[p].head = NULL;
    }
    producer_free(w->producer);
    w->producer = NULL;
    engine_close(&w->e);
    uv_close((uv_handle_t *)&w->grace, NULL);
    uv_close((uv_handle_t *)&w->closer, NULL);
}

static void start_close(struct kworker *w)
{
    if (w->closing)
        return;
    w->closing = 1;
    uv_timer_stop(&w->grace);
    uv_timer_start(&w->closer, on_closer, 0, 0);
}

static void maybe_finish_shutdown(struct kworker *w)
{
    if (w->stopping && !w->closing && (w->live == 0 || w->fatal))
        start_close(w);
}

static void on_grace(uv_timer_t *t)
{
    struct kworker *w = t->data;
    LOG_WARN(NULL,
             "shutdown grace over: %zu jobs unfinished (not committed; redone by the next owner)",
             w->live);
    start_close(w);
}

static void on_stop(void *ud, int signum)
{
    struct kworker *w = ud;
    if (w->stopping) {
        LOG_WARN(NULL, "second signal: stopping now");
        start_close(w);
        return;
    }
    w->stopping = 1;
    consumer_pause(w->consumer);
    LOG_INFO(NULL, "signal %d: stopping; %zu jobs in flight, grace %d s", signum, w->live,
             w->conf->worker.shutdown_grace_s);
    uv_timer_start(&w->grace, on_grace, (uint64_t)w->conf->worker.shutdown_grace_s * 1000, 0);
    maybe_finish_shutdown(w);
}

/* Partitions and group membership for /metrics and /healthz (loop thread). */
static void collect_metrics(void *ud, struct metrics *mt)
{
    struct kworker *w = ud;
    int64_t now = sy_now_ms();
    for (size_t p = 0; w->offsets && p < w->n_parts; p++) {
        int64_t committed = offsets_committed(w->offsets, (int32_t)p);
        size_t n = offsets_in_flight(w->offsets, (int32_t)p);
        double stall = n > 0 && w->parts[p].moved_ms > 0
                               ? (double)(now - w->parts[p].moved_ms) / 1000.0
                               : 0;
        if (committed >= 0 || n > 0)
            metrics_partition(mt, (int32_t)p, n, committed, stall);
    }
    int paused = w->consumer && consumer_paused(w->consumer);
    metrics_kafka_flow(mt, paused, w->bytes, w->n_parked);
    const char *why =
            metrics_kafka_unready(w->consumer != NULL, w->closing, w->stopping,
                                  w->consumer && consumer_in_group(w->consumer), paused, w->live);
    metrics_ready(mt, why == NULL, why);
}

/* Undo a partial setup after engine_init() succeeded. */
static void setup_failed(struct kworker *w)
{
    kledger_close(w);
    engine_stop_listeners(&w->e);
    cbtopic_close(w->cbt);
    if (w->producer)
        producer_free(w->producer);
    engine_close(&w->e);
    uv_run(&w->uv, UV_RUN_DEFAULT);
    engine_cleanup(&w->e);
    offsets_free(w->offsets);
    free(w);
}

int kworker_run(struct conf *c, char *err, size_t errlen)
{
    struct kworker *w = calloc(1, sizeof *w);
    if (!w) {
        conf_free(c);
        snprintf(err, errlen, "out of memory");
        return SY_ERR;
    }
    struct engine_hooks h = {
        .on_stop = on_stop, .on_callback = on_callback, .collect = collect_metrics, .ud = w
    };
    if (engine_init(&w->e, &w->uv, c, &h, err, errlen) != SY_OK) {
        free(w);
        return SY_ERR;
    }
    const struct conf *bc = w->conf = w->e.conf;
    w->offsets = offsets_new();
    if (w->offsets)
        w->producer = producer_new(&w->uv, bc, on_delivery, on_fatal, w, err, errlen);
    else
        snprintf(err, errlen, "out of memory");
    if (w->producer) { /* results and DLQ records go out at once, not after the 1 s topic scan */
        if (producer_warm(w->producer, bc->kafka.output_topic, 2000) <= 0)
            LOG_WARN(NULL,
                     "kafka: no metadata yet for output topic %s (its first result waits for it)",
                     bc->kafka.output_topic);
        if (bc->kafka.dlq_topic[0] && producer_warm(w->producer, bc->kafka.dlq_topic, 2000) <= 0)
            LOG_INFO(NULL, "kafka: no metadata yet for DLQ topic %s", bc->kafka.dlq_topic);
    }
    struct consumer_cbs cbs = { .on_message = on_message,
                                .on_assign = on_assign,
                                .on_revoke = on_revoke,
                                .on_rebalanced = on_rebalanced,
                                .on_committed = on_committed,
                                .ud = w };
    if (w->producer && start_callback_topic(w, err, errlen) == SY_OK &&
        kledger_start(w, err, errlen) == SY_OK)
        w->consumer = consumer_new(&w->uv, bc, &cbs, err, errlen);
    if (!w->consumer) {
        setup_failed(w);
        return SY_ERR;
    }
    uv_timer_init(&w->uv, &w->grace);
    uv_timer_init(&w->uv, &w->closer);
    kpub_init(w);
    w->grace.data = w->closer.data = w;
    LOG_INFO(NULL, "worker %s consuming %s from %s (group %s)", w->e.worker_id,
             bc->kafka.input_topic, bc->kafka.brokers, bc->kafka.group);

    uv_run(&w->uv, UV_RUN_DEFAULT);
    LOG_INFO(
            NULL,
            "worker stopped: %llu consumed, %llu succeeded, %llu failed, %llu dead-lettered, %d lost "
            "(%llu abandoned after a permanent publish error)",
            (unsigned long long)w->consumed, (unsigned long long)w->e.succeeded,
            (unsigned long long)w->e.failed, (unsigned long long)w->dead_lettered, w->lost,
            (unsigned long long)w->abandoned);
    if (w->e.tasks)
        LOG_INFO(NULL, "callbacks: %llu handed to other workers, %llu handed in and completed here",
                 (unsigned long long)w->cb_forwarded, (unsigned long long)w->cb_handed_in);
    int rc = w->lost > 0 || w->fatal ? SY_ERR : SY_OK;
    if (rc != SY_OK)
        snprintf(err, errlen, "%d results lost%s", w->lost,
                 w->fatal ? " (fatal producer error)" : "");
    if (engine_cleanup(&w->e) != SY_OK && rc == SY_OK) {
        snprintf(err, errlen, "a libuv handle was left open at exit");
        rc = SY_ERR;
    }
    offsets_free(w->offsets);
    free(w->parts);
    free(w);
    return rc;
}
