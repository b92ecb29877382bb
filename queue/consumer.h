/* consumer.h — the group consumer of the input topic, served on the loop.
 *
 * cooperative-sticky assignment, enable.auto.offset.store=false: an offset is
 * stored (and then auto-committed) only when the owner says its job is done.
 * Rebalance, log and error events arrive on the same queue as messages. */
#ifndef QUEUE_CONSUMER_H
#define QUEUE_CONSUMER_H

#include <stddef.h>
#include <stdint.h>

#include <librdkafka/rdkafka.h>
#include <uv.h>

#include "conf/config.h"

struct consumer;

struct consumer_cbs {
    /* A message (borrowed for the call; m->err is always 0 here). */
    void (*on_message)(void *ud, const rd_kafka_message_t *m);
    /* Partitions added to / about to leave this worker. on_revoke runs
     * before the partitions are given up: store final offsets in it. */
    void (*on_assign)(void *ud, int32_t partition);
    void (*on_revoke)(void *ud, int32_t partition);
    /* After every assignment change (may be NULL). */
    void (*on_rebalanced)(void *ud);
    /* The broker acknowledged a commit of offset (the next to consume) for
     * partition (may be NULL). */
    void (*on_committed)(void *ud, int32_t partition, int64_t offset);
    void *ud;
};

/* Subscribe to c->kafka.input_topic in c->kafka.group. c is read during the
 * call only; cbs is copied; uv is borrowed and must outlive the consumer.
 * Caller frees with consumer_close(). NULL with err on failure. */
struct consumer *consumer_new(uv_loop_t *uv, const struct conf *c, const struct consumer_cbs *cbs,
                              char *err, size_t errlen);

/* Backpressure: stop / restart fetching on every assigned partition. The
 * consumer keeps being served, so the worker stays in the group. */
void consumer_pause(struct consumer *k);
void consumer_resume(struct consumer *k);
int consumer_paused(const struct consumer *k);

/* The window: while throttled, no more messages are taken from the queue
 * (they stay prefetched; fetching goes on up to the prefetch bounds), but
 * the fetch position is kept: un-throttling hands out the next message at
 * once. A pause instead drops the prefetched messages, and librdkafka 2.0
 * fetches again only up to ~1 s after a resume, so a window that fills and
 * drains quickly must not pause. Throttled for CONSUMER_THROTTLE_MS on end
 * (e.g. long generations), the consumer pauses itself (consumer_paused()
 * says so; consumer_resume() ends it), so it is never left unpolled for
 * long. Un-throttling serves the queue from a timer, never inside the call. */
void consumer_throttle(struct consumer *k, int on);

/* Hold one assigned partition paused on its own (e.g. while its takeover
 * runs) / let it go: it resumes unless consumption is paused as a whole.
 * consumer_resume() never resumes a held partition. May be called from
 * on_assign. Revoking a partition releases it. */
void consumer_hold(struct consumer *k, int32_t p);
void consumer_release(struct consumer *k, int32_t p);

/* Store `next` (the next offset to consume) as partition's committable
 * position; auto-commit sends it. SY_OK or SY_ERR (e.g. partition not assigned). */
int consumer_store(struct consumer *k, int32_t partition, int64_t next);

/* Partitions assigned now. */
size_t consumer_assigned(const struct consumer *k);

/* The input topic's partition count, from metadata (cached after the first
 * answer; asks the broker with a 2 s timeout while unknown — called at
 * rebalance time only). 0 if unknown. */
int consumer_topic_partitions(struct consumer *k);

/* 1 while the consumer is a member of the group with an assignment event seen. */
int consumer_in_group(const struct consumer *k);

/* Shutdown only (blocks): commit stored offsets synchronously, leave the
 * group, and free. */
void consumer_close(struct consumer *k);

#endif
