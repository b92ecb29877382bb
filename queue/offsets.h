/* offsets.h — per-partition in-flight offset tracker
 * (docs/delivery.md §Per-partition tracker). Pure: no I/O, no clock, no
 * globals; every call is safe from a loop callback. Offsets and partitions
 * are Kafka's: absolute, >= 0. The committable value follows Kafka commit
 * semantics: the NEXT offset to consume, i.e. the lowest added-and-unfinished
 * offset, or last added + 1. */
#ifndef QUEUE_OFFSETS_H
#define QUEUE_OFFSETS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct offsets; /* all partitions of one worker */

/* A tracker with no partitions. Returns NULL if out of memory; caller frees
 * with offsets_free(). */
struct offsets *offsets_new(void);
/* Frees the tracker and every partition's state. NULL is a no-op. */
void offsets_free(struct offsets *o);

/* The message at (partition, offset) was taken into work. Offsets per
 * partition must increase (gaps allowed: they count as finished). Returns
 * SY_OK; SY_ERR with errno EINVAL if partition/offset < 0 or offset <= the last
 * one added (duplicate / rewind), or errno ENOMEM; on SY_ERR nothing changes. */
int offsets_add(struct offsets *o, int32_t partition, int64_t offset);

/* The job at (partition, offset) finished (its result was acknowledged).
 * Returns SY_OK; SY_DECLINED if it is not pending (already finished, never
 * added, or the partition was dropped or reassigned since). */
int offsets_finish(struct offsets *o, int32_t partition, int64_t offset);

/* Committable offset of a partition: lowest unfinished offset, or last added
 * + 1 (the assign position when nothing was added) when none is pending; -1 if
 * the partition is unknown. *changed (if not NULL) is set to whether it is past
 * offsets_committed(), i.e. whether offsets_dirty() would list it. */
int64_t offsets_committable(const struct offsets *o, int32_t partition, bool *changed);

/* Records that `offset` was committed for the partition (call from the commit
 * callback). Monotonic: returns SY_OK, or SY_DECLINED (nothing changes) if the
 * partition is unknown or offset < the value already marked. */
int offsets_mark_committed(struct offsets *o, int32_t partition, int64_t offset);

/* Last value marked committed since the partition was created or assigned;
 * -1 if none or if the partition is unknown. */
int64_t offsets_committed(const struct offsets *o, int32_t partition);

/* Jobs added and not finished: for one partition (0 if unknown) / for all. */
size_t offsets_in_flight(const struct offsets *o, int32_t partition);
size_t offsets_total_in_flight(const struct offsets *o);

/* Partition revoked or lost: forget everything about it (its pending jobs
 * are no longer counted; finishing them is declined). Unknown is a no-op. */
void offsets_drop(struct offsets *o, int32_t partition);

/* Partition (re)assigned; the consumer will fetch from `next` (absolute).
 * Resets its state: nothing pending, committable = next, committed = -1 (mark
 * it if the broker is known to hold `next`). Returns SY_OK; SY_ERR with errno
 * EINVAL if partition/next < 0, or ENOMEM; on SY_ERR nothing changes. */
int offsets_assign(struct offsets *o, int32_t partition, int64_t next);

/* Partitions whose committable offset is past their committed one, for one
 * commit covering them all: fills up to cap entries of parts/offs (may be NULL
 * when cap is 0), in no particular order. Returns the total number of such
 * partitions, which may exceed cap (then only cap were filled). */
size_t offsets_dirty(const struct offsets *o, int32_t *parts, int64_t *offs, size_t cap);

#endif
