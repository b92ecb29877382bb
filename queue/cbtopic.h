/* cbtopic.h — the callback topic (kafka.callback_topic): callbacks handed
 * between workers.
 *
 * A callback may reach any worker; the one owning the job's input partition
 * P must complete it. Receivers produce the event to partition P of the
 * callback topic (with a bounded producer of its own, see cbtopic_send);
 * each worker reads the
 * callback-topic partitions matching the input partitions it owns, with a
 * second consumer handle assigned by hand (no group membership; group
 * "<kafka.group>.callbacks" only holds its committed offsets). A partition
 * starts at its committed offset, or at its beginning when there is none
 * (not at its end: a partition's end is only resolved a moment after it is
 * assigned, and an event produced in that moment would be skipped). Events
 * for tasks no longer in flight here are dropped, so a replay costs little;
 * a topic created here keeps 2 h of events. Offsets are committed as read
 * (each event is handled synchronously when it is read). */
#ifndef QUEUE_CBTOPIC_H
#define QUEUE_CBTOPIC_H

#include <stddef.h>
#include <stdint.h>

#include <librdkafka/rdkafka.h>
#include <uv.h>

#include "conf/config.h"

struct prov_desc;

/* One accepted provider callback, as the receiver (worker/callbacks.c) took
 * it and as it travels on the callback topic. Strings owned by the event. */
struct cbtopic_event {
    char provider[65];            /* configured provider name */
    const struct prov_desc *desc; /* its provider type (providers/registry.h) */
    int32_t partition;            /* input partition of the job; -1 = batch ("b") */
    char *job_id;
    char task_id[128];
    int is_signed;    /* its signature was checked with a configured key */
    int body_trusted; /* the signature covers body (Replicate): it may complete the job */
    char *body;       /* the body when trusted (NUL-terminated, body_len bytes), else "" */
    size_t body_len;
    /* Replicate's webhook-id / -timestamp / -signature, carried in the
     * handoff envelope so the owner verifies the body again ("" = none). */
    char wh_id[128], wh_ts[24], wh_sig[512];
};

void cbtopic_event_cleanup(struct cbtopic_event *ev);

/* Frees the event's strings (the struct itself is the caller's). */
void cbtopic_event_cleanup(struct cbtopic_event *ev);

/* The handoff envelope: {"provider","job","task_id","partition","event"}
 * plus, for a trusted Replicate body, "wh_id","wh_ts","wh_sig". An event
 * whose envelope would exceed CBTOPIC_MAX_ENVELOPE is sent without its
 * body (the owner polls). No header value but those, and no secret.
 * Caller frees; NULL on out of memory. */
#define CBTOPIC_MAX_ENVELOPE (256 * 1024)
char *cbtopic_envelope_encode(const struct cbtopic_event *ev, size_t *len);
/* Parse an envelope into ev (cleaned up with cbtopic_event_cleanup()):
 * untrusted (body_trusted 0, is_signed 0) whatever it says. SY_OK, or
 * SY_ERR when it is not one (an event body with an embedded NUL included). */
int cbtopic_envelope_decode(const char *data, size_t len, struct cbtopic_event *ev);

struct cbtopic;

/* One event (borrowed for the call; m->err is 0). Loop thread. */
typedef void (*cbtopic_msg_fn)(void *ud, const rd_kafka_message_t *m);

/* Startup only (blocks, up to ~30 s): make sure kafka.callback_topic exists
 * with as many partitions as the input topic (created with the broker's
 * default replication if missing). Returns the callback topic's partition
 * count, or -1 with err. A topic with fewer partitions than the input is
 * reported in err too (its higher partitions could not be handed to). */
int cbtopic_ensure(const struct conf *c, char *err, size_t errlen);

/* The reader, idle until partitions are assigned. NULL with err. */
struct cbtopic *cbtopic_new(uv_loop_t *uv, const struct conf *c, cbtopic_msg_fn fn, void *ud,
                            char *err, size_t errlen);

/* Hand one event (key and value copied) to partition p on the topic's own
 * producer. SY_OK; SY_AGAIN when the handoff budget (1000 events or 16 MiB
 * not yet delivered) is used up: dropped, and warned about at most every
 * 10 s; SY_ERR with err. Loop thread. */
int cbtopic_send(struct cbtopic *t, int32_t p, const void *key, size_t klen, const void *val,
                 size_t vlen, char *err, size_t errlen);

/* Start / stop reading callback partition p (follow the input assignment). */
void cbtopic_assign(struct cbtopic *t, int32_t p);
void cbtopic_unassign(struct cbtopic *t, int32_t p);

/* Shutdown only (blocks briefly): commit, close, free (after the loop runs
 * once more). NULL ok. */
void cbtopic_close(struct cbtopic *t);

#endif
