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
struct cbtopic *cbtopic_new(uv_loop_t *uv, const struct conf *c, cbtopic_msg_fn fn, void *ud, char *err,
                            size_t errlen);

/* Hand one event (key and value copied) to partition p on the topic's own
 * producer. SY_OK; SY_AGAIN when the handoff budget (1000 events or 16 MiB
 * not yet delivered) is used up: dropped, and warned about at most every
 * 10 s; SY_ERR with err. Loop thread. */
int cbtopic_send(struct cbtopic *t, int32_t p, const void *key, size_t klen, const void *val, size_t vlen, char *err,
                 size_t errlen);

/* Start / stop reading callback partition p (follow the input assignment). */
void cbtopic_assign(struct cbtopic *t, int32_t p);
void cbtopic_unassign(struct cbtopic *t, int32_t p);

/* Shutdown only (blocks briefly): commit, close, free (after the loop runs
 * once more). NULL ok. */
void cbtopic_close(struct cbtopic *t);

#endif
