/* ledgerk.h — the task ledger's Kafka side (kafka.ledger_topic): the topic,
 * the writer and the takeover reader. Record values and the map are
 * queue/ledger.h; what is written when is worker/kledger.c.
 *
 * Writer: a producer of its own (idempotent, acks=all, linger 2 ms), so a
 * slow or failing ledger never takes queue space from results. Writes are
 * fire-and-forget: a failure is reported (on_ack ok = 0) and nothing else.
 * Reader: a consumer with manual assignment (no group membership, never
 * commits) that reads a partition from its beginning to its end
 * (enable.partition.eof) when asked. Both are served on the loop. */
#ifndef QUEUE_LEDGERK_H
#define QUEUE_LEDGERK_H

#include <stddef.h>
#include <stdint.h>

#include <uv.h>

#include "conf/config.h"

struct ledgerk;

struct ledgerk_cbs {
    /* A record of partition p (key and value borrowed; val NULL = tombstone). */
    void (*on_record)(void *ud, int32_t p, const char *key, size_t klen, const void *val,
                      size_t vlen);
    /* Partition p was read to its end. */
    void (*on_eof)(void *ud, int32_t p);
    /* A write ended: ok, or err says why; latency_s from produce to ack;
     * tag is what ledgerk_write got. */
    void (*on_ack)(void *ud, int tag, int ok, const char *err, double latency_s);
    void *ud;
};

/* Startup only (blocks, up to ~40 s): make sure the ledger topic exists,
 * compacted, with at least the input topic's partition count (created so if
 * missing). SY_OK; SY_ERR with err when it exists with fewer partitions or
 * without cleanup.policy=compact (a misconfiguration); SY_AGAIN with err
 * when the broker cannot be asked or refuses the topic (the worker goes on,
 * at-least-once). */
int ledgerk_ensure(const struct conf *c, char *err, size_t errlen);

/* --check-config: the same checks without creating anything. SY_OK (good,
 * or missing: it will be created), SY_ERR with err (bad), SY_AGAIN when the
 * broker did not answer within a few seconds. */
int ledgerk_check(const struct conf *c, char *err, size_t errlen);

/* The writer and the (idle) reader. NULL with err. cbs copied. */
struct ledgerk *ledgerk_new(uv_loop_t *uv, const struct conf *c, const struct ledgerk_cbs *cbs,
                            char *err, size_t errlen);

/* Queue a record for partition p keyed by id (val NULL = tombstone; both
 * copied). SY_OK; SY_ERR with err when it cannot even be queued (full
 * queue, unknown topic): no on_ack follows. Loop thread. */
int ledgerk_write(struct ledgerk *lk, int32_t p, const char *id, const void *val, size_t vlen,
                  int tag, char *err, size_t errlen);

/* Writes queued and not yet acknowledged or failed. */
size_t ledgerk_outstanding(const struct ledgerk *lk);

/* Send what linger.ms holds back at once and block up to timeout_ms until
 * every write is acknowledged, serving on_ack (revoke and shutdown: the next
 * owner must see the records). Returns how many are still outstanding. */
int ledgerk_flush(struct ledgerk *lk, int timeout_ms);

/* Read partition p from its beginning (on_record …, then on_eof) / stop. */
void ledgerk_read(struct ledgerk *lk, int32_t p);
void ledgerk_stop_read(struct ledgerk *lk, int32_t p);

/* Shutdown only: flush for up to timeout_ms, then close and free (after
 * the loop runs once more). NULL ok. */
void ledgerk_close(struct ledgerk *lk, int timeout_ms);

#endif
