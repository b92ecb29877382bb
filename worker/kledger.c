/* kledger.c — the task ledger in the Kafka worker (docs/delivery.md §Task ledger;
 * records in queue/ledger.h, Kafka I/O in queue/ledgerk.h).
 *
 * Writes: `created` when a create reply names a task (engine.task_created),
 * `done` when everything produced for a job is acknowledged, a tombstone once
 * the broker acknowledged a commit past the job. A write that fails is
 * counted and warned about (at most every KL_WARN_MS): the job goes on
 * at-least-once. The ledger is never waited for except at revoke and
 * shutdown, bounded by KL_FLUSH_MS.
 *
 * Takeover: an assigned partition is held (consumer_hold) while its ledger
 * partition is read to its end, at most kafka.ledger_read_timeout_ms; then it
 * is released and the records read wait in the map for their messages. The
 * first message of the partition sets the floor: records below it belong to
 * committed jobs; they are dropped and tombstoned here.
 *
 * Memory: the map holds the ledger partitions' live keys (≈ uncommitted jobs
 * of the partitions taken over); the tombstone lists hold the finished and
 * not yet committed jobs. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "queue/consumer.h"
#include "queue/ledger.h"
#include "queue/ledgerk.h"
#include "worker/kworker_int.h"
#include "core/log.h"
#include "worker/metrics.h"
#include "core/sy.h"

#define KL_FLUSH_MS 3000    /* revoke / shutdown: wait this long for ledger acks */
#define KL_WARN_MS 10000    /* at most one write warning per this */
#define KL_TICK_MS 100      /* takeover timeout checks */
#define KL_FLOOR_TOMBS 4096 /* stale records tombstoned per takeover at most */

enum { KL_TAG_CREATED = 1, KL_TAG_DONE, KL_TAG_TOMB };

struct kl_tomb {
    int64_t offset;
    char *id;
};

struct kl_part {
    int reading;       /* takeover in progress */
    int floor_pending; /* the first message after takeover sets the floor */
    int64_t assign_ms;
    size_t records;        /* read during the takeover */
    struct kl_tomb *tombs; /* jobs with records, waiting for the commit to pass them */
    size_t n_tombs, cap_tombs;
};

struct kledger {
    struct kworker *w;
    struct ledgerk *lk;
    struct ledger_map *map;
    struct kl_part *parts;
    size_t n_parts;
    uv_timer_t tick;
    int64_t warned_ms;
    unsigned long errors_quiet;
};

static struct kl_part *kpart_of(struct kledger *l, int32_t p)
{
    if (p < 0)
        return NULL;
    if ((size_t)p >= l->n_parts) {
        struct kl_part *np = sy_grow_zeroed(l->parts, l->n_parts, (size_t)p + 1, sizeof *np);
        if (!np)
            kworker_oom("the ledger's partition table");
        l->parts = np;
        l->n_parts = (size_t)p + 1;
    }
    return &l->parts[p];
}

static void write_failed(struct kledger *l, const char *what, const char *err)
{
    metrics_ledger(l->w->e.m, METRICS_LEDGER_WRITE_ERROR);
    int64_t now = sy_now_ms();
    if (l->warned_ms && now - l->warned_ms < KL_WARN_MS) {
        l->errors_quiet++;
        return;
    }
    LOG_WARN(
            NULL,
            "ledger topic %s: a %s record was not written: %s; jobs go on at-least-once (%lu such errors "
            "not logged)",
            l->w->conf->kafka.ledger_topic, what, err, l->errors_quiet);
    l->warned_ms = now;
    l->errors_quiet = 0;
}

static const char *tag_name(int tag)
{
    return tag == KL_TAG_CREATED ? "created" : tag == KL_TAG_DONE ? "done" : "tombstone";
}

static void on_ack(void *ud, int tag, int ok, const char *err, double latency_s)
{
    struct kledger *l = ud;
    if (!ok) {
        write_failed(l, tag_name(tag), err);
        return;
    }
    LOG_DEBUG(NULL, "ledger: %s record acknowledged after %.1f ms", tag_name(tag),
              latency_s * 1000);
    metrics_ledger_observe(l->w->e.m, METRICS_LEDGER_WRITE_LATENCY, latency_s);
    if (tag == KL_TAG_CREATED)
        metrics_ledger_observe(l->w->e.m, METRICS_LEDGER_CREATED_WINDOW, latency_s);
}

static void put(struct kledger *l, int32_t p, const char *id, const struct ledger_rec *r, int tag)
{
    size_t len = 0;
    char *val = r ? ledger_encode(r, &len) : NULL;
    char err[256] = "out of memory";
    if ((r && !val) || ledgerk_write(l->lk, p, id, val, len, tag, err, sizeof err) != SY_OK)
        write_failed(l, tag_name(tag), err);
    else
        LOG_DEBUG(NULL, "ledger: %s record for %s queued to partition %d", tag_name(tag), id,
                  (int)p);
    free(val);
}

static void tomb_later(struct kledger *l, int32_t p, int64_t offset, const char *id)
{
    struct kl_part *kp = kpart_of(l, p);
    if (kp->n_tombs == kp->cap_tombs) {
        size_t cap = kp->cap_tombs ? kp->cap_tombs * 2 : 64;
        struct kl_tomb *nt = realloc(kp->tombs, cap * sizeof *nt);
        if (!nt)
            kworker_oom("the ledger's tombstone list");
        kp->tombs = nt;
        kp->cap_tombs = cap;
    }
    char *dup = strdup(id);
    if (!dup)
        kworker_oom("the ledger's tombstone list");
    kp->tombs[kp->n_tombs].offset = offset;
    kp->tombs[kp->n_tombs].id = dup;
    kp->n_tombs++;
}

static void drop_tombs(struct kl_part *kp)
{
    for (size_t i = 0; i < kp->n_tombs; i++)
        free(kp->tombs[i].id);
    free(kp->tombs);
    kp->tombs = NULL;
    kp->n_tombs = kp->cap_tombs = 0;
}

/* The create reply of m's job named a task. */
static void on_task_created(void *ud, const char *provider, const char *task_id,
                            int64_t created_wall_ms, int attempt)
{
    struct kmsg *m = ud;
    struct kledger *l = m->w->led;
    if (!l || !m->id || m->dropped)
        return;
    struct ledger_rec r = { .state = LEDGER_CREATED,
                            .offset = m->offset,
                            .created_ms = created_wall_ms,
                            .attempt = attempt };
    snprintf(r.provider, sizeof r.provider, "%s", provider);
    snprintf(r.worker, sizeof r.worker, "%s", m->w->e.worker_id);
    if ((size_t)snprintf(r.task_id, sizeof r.task_id, "%s", task_id) >= sizeof r.task_id)
        return; /* longer than any real id: not resumable, not recorded */
    put(l, m->partition, m->id, &r, KL_TAG_CREATED);
}

/* ---- takeover ---- */

static void takeover_end(struct kledger *l, int32_t p, int timed_out)
{
    struct kl_part *kp = kpart_of(l, p);
    if (!kp->reading)
        return;
    kp->reading = 0;
    kp->floor_pending = 1;
    ledgerk_stop_read(l->lk, p);
    if (l->w->consumer)
        consumer_release(l->w->consumer, p);
    int64_t t = sy_now_ms() - kp->assign_ms;
    metrics_ledger_observe(l->w->e.m, METRICS_LEDGER_TAKEOVER, (double)t / 1000.0);
    if (timed_out) {
        metrics_ledger(l->w->e.m, METRICS_LEDGER_READ_TIMEOUT);
        LOG_WARN(
                NULL,
                "ledger topic %s: partition %d not read to its end within ledger_read_timeout_ms = %d: its "
                "jobs start with the %zu records read (the rest may be created again)",
                l->w->conf->kafka.ledger_topic, (int)p, l->w->conf->kafka.ledger_read_timeout_ms,
                kp->records);
    }
    LOG_INFO(NULL,
             "takeover: partition %d running after %lld ms (%zu ledger records read, %zu kept%s)",
             (int)p, (long long)t, kp->records, ledger_map_count(l->map, p),
             timed_out ? ", read timed out" : "");
}

static void on_record(void *ud, int32_t p, const char *key, size_t klen, const void *val,
                      size_t vlen)
{
    struct kledger *l = ud;
    struct kl_part *kp = kpart_of(l, p);
    if (!kp->reading)
        return; /* a late record of a partition read already */
    kp->records++;
    if (ledger_map_apply(l->map, p, key, klen, val, vlen) != SY_OK)
        kworker_oom("the ledger map");
}

static void on_eof(void *ud, int32_t p)
{
    takeover_end(ud, p, 0);
}

static void on_tick(uv_timer_t *t)
{
    struct kledger *l = t->data;
    int64_t now = sy_now_ms(), limit = l->w->conf->kafka.ledger_read_timeout_ms;
    for (size_t p = 0; p < l->n_parts; p++)
        if (l->parts[p].reading && now - l->parts[p].assign_ms >= limit)
            takeover_end(l, (int32_t)p, 1);
}

void kledger_assign(struct kworker *w, int32_t p)
{
    if (!w->led) {
        LOG_INFO(NULL, "takeover: partition %d running after 0 ms (ledger off)", (int)p);
        return;
    }
    struct kledger *l = w->led;
    struct kl_part *kp = kpart_of(l, p);
    ledger_map_drop(l->map, p);
    drop_tombs(kp);
    kp->reading = 1;
    kp->floor_pending = 0;
    kp->records = 0;
    kp->assign_ms = sy_now_ms();
    consumer_hold(w->consumer, p);
    ledgerk_read(l->lk, p);
}

void kledger_revoke(struct kworker *w, int32_t p)
{
    struct kledger *l = w->led;
    if (!l)
        return;
    int left = ledgerk_outstanding(l->lk) ? ledgerk_flush(l->lk, KL_FLUSH_MS) : 0;
    if (left > 0)
        LOG_WARN(
                NULL,
                "partition %d revoked with %d ledger records not acknowledged: its next owner may create "
                "those tasks again",
                (int)p, left);
    struct kl_part *kp = kpart_of(l, p);
    if (kp->reading) {
        kp->reading = 0;
        ledgerk_stop_read(l->lk, p);
    }
    kp->floor_pending = 0;
    ledger_map_drop(l->map, p);
    drop_tombs(kp);
}

int kledger_lookup(struct kworker *w, int32_t p, int64_t offset, const char *id,
                   struct ledger_rec *out)
{
    struct kledger *l = w->led;
    if (!l)
        return SY_DECLINED;
    struct kl_part *kp = kpart_of(l, p);
    if (kp->floor_pending) {
        kp->floor_pending = 0;
        char *ids[KL_FLOOR_TOMBS];
        size_t n = ledger_map_floor(l->map, p, offset, ids, KL_FLOOR_TOMBS);
        for (size_t i = 0; i < n && i < KL_FLOOR_TOMBS; i++) {
            put(l, p, ids[i], NULL, KL_TAG_TOMB);
            free(ids[i]);
        }
        if (n)
            LOG_DEBUG(NULL, "ledger partition %d: %zu records of committed jobs dropped", (int)p,
                      n);
    }
    if (!id)
        return SY_DECLINED;
    return ledger_map_take(l->map, p, offset, id, out);
}

void kledger_done(struct kmsg *m)
{
    struct kledger *l = m->w->led;
    if (!l || !m->id)
        return;
    if (!m->ledger_done) {
        struct ledger_rec r = { .state = LEDGER_DONE, .offset = m->offset };
        snprintf(r.status, sizeof r.status, "%s", m->ok ? "succeeded" : "failed");
        put(l, m->partition, m->id, &r, KL_TAG_DONE);
    }
    tomb_later(l, m->partition, m->offset, m->id);
}

void kledger_committed(struct kworker *w, int32_t p, int64_t next)
{
    struct kledger *l = w->led;
    if (!l || p < 0 || (size_t)p >= l->n_parts)
        return;
    struct kl_part *kp = &l->parts[p];
    size_t keep = 0;
    for (size_t i = 0; i < kp->n_tombs; i++) {
        if (kp->tombs[i].offset < next) {
            put(l, p, kp->tombs[i].id, NULL, KL_TAG_TOMB);
            free(kp->tombs[i].id);
        } else {
            kp->tombs[keep++] = kp->tombs[i];
        }
    }
    kp->n_tombs = keep;
}

int kledger_start(struct kworker *w, char *err, size_t errlen)
{
    const struct conf *c = w->conf;
    if (!c->kafka.ledger_topic[0]) {
        LOG_INFO(
                NULL,
                "task ledger off (kafka.ledger_topic = \"\"): a job in flight when its worker dies is "
                "created again by the next owner");
        return SY_OK;
    }
    char e[512] = "";
    int rc = ledgerk_ensure(c, e, sizeof e);
    if (rc == SY_ERR) {
        snprintf(err, errlen, "%s", e);
        return SY_ERR;
    }
    if (rc == SY_AGAIN)
        LOG_WARN(NULL, "%s: the ledger may not work; jobs go on at-least-once", e);
    struct kledger *l = calloc(1, sizeof *l);
    l->map = l ? ledger_map_new() : NULL;
    if (!l || !l->map) {
        free(l);
        snprintf(err, errlen, "out of memory");
        return SY_ERR;
    }
    l->w = w;
    struct ledgerk_cbs cbs = {
        .on_record = on_record, .on_eof = on_eof, .on_ack = on_ack, .ud = l
    };
    l->lk = ledgerk_new(&w->uv, c, &cbs, err, errlen);
    if (!l->lk) {
        ledger_map_free(l->map);
        free(l);
        return SY_ERR;
    }
    uv_timer_init(&w->uv, &l->tick);
    l->tick.data = l;
    uv_timer_start(&l->tick, on_tick, KL_TICK_MS, KL_TICK_MS);
    w->led = l;
    w->e.task_created = on_task_created;
    LOG_INFO(NULL, "task ledger on %s (takeover read bound %d ms)", c->kafka.ledger_topic,
             c->kafka.ledger_read_timeout_ms);
    return SY_OK;
}

void kledger_flush(struct kworker *w)
{
    if (!w->led)
        return;
    int left = ledgerk_flush(w->led->lk, KL_FLUSH_MS);
    if (left > 0)
        LOG_WARN(NULL, "%d ledger records not acknowledged before leaving the group", left);
}

static void on_tick_closed(uv_handle_t *h)
{
    struct kledger *l = h->data;
    for (size_t p = 0; p < l->n_parts; p++)
        drop_tombs(&l->parts[p]);
    free(l->parts);
    ledger_map_free(l->map);
    free(l);
}

void kledger_close(struct kworker *w)
{
    struct kledger *l = w->led;
    if (!l)
        return;
    w->e.task_created = NULL;
    ledgerk_close(l->lk, KL_FLUSH_MS);
    uv_timer_stop(&l->tick);
    uv_close((uv_handle_t *)&l->tick, on_tick_closed);
    w->led = NULL;
}
