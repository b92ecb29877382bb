/* kworker_int.h — state shared by kworker.c (consume, backpressure,
 * rebalance, shutdown) and kpublish.c (results and DLQ copies: send, retry,
 * fall back). Private to those two files. Loop thread only. */
#ifndef WORKER_KWORKER_INT_H
#define WORKER_KWORKER_INT_H

#include <stddef.h>
#include <stdint.h>

#include <librdkafka/rdkafka.h>
#include <uv.h>

#include "conf/config.h"
#include "worker/job.h"

struct kworker;

struct kmsg {
    struct kworker *w;
    int32_t partition;
    int64_t offset;
    struct job *job;
    int pending;     /* kouts alive for it (sending, waiting for a report, or parked) */
    int dropped;     /* partition revoked: never store its offset */
    int failed;      /* shutdown dropped a message for it: never store its offset */
    size_t bytes;    /* what it holds, counted in kworker.bytes */
    char *id;        /* a valid job id, or NULL */
    int ok;          /* the job's result says succeeded */
    int ledger_done; /* its ledger record says done already: write none */
    char *traceparent;
    struct kmsg *next, *prev;
};

enum kout_kind { KOUT_RESULT, KOUT_DLQ };

/* The opaque of one produced message. A parked kout (waiting for its resend
 * timer) owns a copy of what it sends. */
struct kout {
    struct kmsg *m;
    enum kout_kind kind;
    int truncated; /* a DLQ copy already cut down */
    int minimal;   /* a result already replaced by a minimal failed one */
    int attempts;  /* sends that failed and were retried */
    size_t held;   /* bytes counted for it in kworker.bytes */
    char *topic;
    void *key, *val;
    size_t klen, vlen;
    rd_kafka_headers_t *hdrs;
    int64_t due_ms;
    struct kout *next; /* on kworker.parked */
};

struct kpart {
    struct kmsg *head;
    size_t n;
    int owned;        /* assigned to this worker now */
    int64_t moved_ms; /* when its committed offset last moved (or work arrived on an idle partition) */
};

struct kworker {
    const struct conf *conf; /* e.conf: the boot config, worker.* and kafka.* (not reloadable) */
    uv_loop_t uv;            /* the engine's loop (engine_init initialises it) */
    struct engine e;
    struct consumer *consumer;
    struct producer *producer;
    struct offsets *offsets;
    struct cbtopic *cbt; /* the callback topic reader (callbacks on) */
    struct kledger *led; /* the task ledger (NULL = kafka.ledger_topic ""); kledger.c */
    uint64_t cb_forwarded, cb_handed_in;
    struct kpart *parts;
    size_t n_parts;
    size_t live;  /* kmsgs not yet freed */
    size_t bytes; /* held by live kmsgs and their messages (worker.max_in_flight_bytes) */
    uv_timer_t grace, closer, retry;
    struct kout *parked; /* waiting to be sent again, by due time */
    size_t n_parked;
    int64_t retry_log_ms; /* rate limit of the retry warnings */
    unsigned long retry_quiet;
    int stopping, closing, fatal;
    int lost; /* deliveries that failed for good */
    uint64_t consumed, dead_lettered, abandoned;
};

/* ---- kworker.c ---- */

/* Everything produced for m is acknowledged (or given up): finish its offset
 * and free it. */
void kworker_kmsg_done(struct kmsg *m);
/* Pause or resume consumption after the in-flight count, bytes or parked
 * messages changed (pause at the limits, resume below three quarters). */
void kworker_flow(struct kworker *w);
/* Out of memory where dropping would lose a message: log and abort, so the
 * uncommitted message is redelivered. */
_Noreturn void kworker_oom(const char *what);

/* ---- kpublish.c ---- */

void kpub_init(struct kworker *w);
/* Publish result json for m (copied). */
void kpub_result(struct kmsg *m, const char *json);
/* Send the input message to the DLQ with reason; a failed invalid_input
 * result too when m->id is set (the key equals a valid id). */
void kpub_dead_letter(struct kmsg *m, const rd_kafka_message_t *msg, const char *reason);
/* A delivery report for a result or DLQ kout. */
void kpub_delivered(struct kworker *w, struct kout *o, int ok, rd_kafka_resp_err_t code,
                    const char *err, const rd_kafka_message_t *msg);
/* Shutdown: drop parked messages (their offsets are not stored) and close
 * the retry timer. */
void kpub_close(struct kworker *w);

/* ---- kledger.c: the task ledger (crash-safe jobs). Every function is a
 * no-op when the ledger is off (w->led NULL). ---- */

struct ledger_rec;
/* Setup: check / create the topic, start its writer and reader, hook the
 * engine's task_created. SY_OK (also when off, or when the ledger cannot be
 * reached: jobs then go on at-least-once); SY_ERR with err when the topic is
 * misconfigured. */
int kledger_start(struct kworker *w, char *err, size_t errlen);
/* Partition p assigned: hold it and read its ledger partition (takeover). */
void kledger_assign(struct kworker *w, int32_t p);
/* Partition p revoked: flush the writer (bounded) so its next owner sees
 * the records, stop reading, forget what was read and the pending tombstones. */
void kledger_revoke(struct kworker *w, int32_t p);
/* The record for input message (p, offset) with job id, read at takeover:
 * SY_OK with out filled, or SY_DECLINED. */
int kledger_lookup(struct kworker *w, int32_t p, int64_t offset, const char *id,
                   struct ledger_rec *out);
/* m finished (what it produced is acknowledged): write `done` and queue its
 * tombstone for when the commit passes it. */
void kledger_done(struct kmsg *m);
/* The broker acknowledged the commit of next for partition p: tombstone the
 * records of jobs below it. */
void kledger_committed(struct kworker *w, int32_t p, int64_t next);
/* Shutdown, before leaving the group: flush (bounded). */
void kledger_flush(struct kworker *w);
/* Shutdown, after leaving the group: close and free. */
void kledger_close(struct kworker *w);

/* ---- kmsg.c: the in-flight messages ---- */

/* Partition p's slot, grown on demand; NULL on out of memory or p < 0. */
struct kpart *kmsg_part(struct kworker *w, int32_t p);
/* A kmsg for input (p, offset) holding bytes, at the head of p's list and
 * counted in w->live and w->bytes. Aborts on out of memory (kworker_oom). */
struct kmsg *kmsg_new(struct kworker *w, int32_t p, int64_t offset, size_t bytes);
/* Take m off its partition's list (no-op when dropped: off it already). */
void kmsg_unlink(struct kmsg *m);
/* Free m (off its list) and uncount it. */
void kmsg_destroy(struct kmsg *m);
/* m->pending as a guard around code that may finish m. */
void kmsg_hold(struct kmsg *m);
void kmsg_release(struct kmsg *m);

#endif
