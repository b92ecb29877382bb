/* ledger.h — the task ledger's records and the map a worker reads at
 * takeover (docs/delivery.md §Ledger records). Pure: no I/O, no clock.
 *
 * A record is keyed by job id and lives in the ledger partition with the
 * number of the job's input partition. Its value is versioned JSON:
 *   {"v":1,"state":"created","provider":"kie","task_id":"…","created_ms":…,
 *    "attempt":N,"worker":"host:pid","offset":<input offset>}
 *   {"v":1,"state":"done","status":"succeeded","offset":<input offset>}
 * and a tombstone (null value) once the committed input offset has passed
 * the job. A record applies only to the input message at its (partition,
 * offset): a job id enqueued again later is a new job, not an old `done`. */
#ifndef QUEUE_LEDGER_H
#define QUEUE_LEDGER_H

#include <stddef.h>
#include <stdint.h>

#define LEDGER_VERSION 1

enum ledger_state { LEDGER_NONE, LEDGER_CREATED, LEDGER_DONE };

struct ledger_rec {
    enum ledger_state state;
    int64_t offset; /* the input message's offset */
    /* created */
    char provider[64];
    char task_id[256];
    int64_t created_ms; /* wall clock, Unix ms: when the create went out */
    int attempt;        /* creates sent for the job so far, this one included */
    char worker[128];   /* "host:pid" of the worker that created it */
    /* done */
    char status[16]; /* "succeeded" | "failed" */
};

/* r as a JSON value (caller frees; *len its length). NULL when out of memory
 * or when r->state is LEDGER_NONE. */
char *ledger_encode(const struct ledger_rec *r, size_t *len);

/* Parse a value into out. SY_OK; SY_DECLINED for a version this build does
 * not know (skip it); SY_ERR for anything malformed. */
int ledger_decode(const void *val, size_t len, struct ledger_rec *out);

/* The records read from ledger partitions, by partition and job id. Keeps
 * only the last record per key (compaction's view). */
struct ledger_map;

struct ledger_map *ledger_map_new(void);
void ledger_map_free(struct ledger_map *m); /* NULL ok */

/* A record read from ledger partition p with key id: val NULL (or an
 * undecodable value) is a tombstone. SY_OK, or SY_ERR when out of memory.
 * Records below the partition's floor are not kept. */
int ledger_map_apply(struct ledger_map *m, int32_t p, const char *id, size_t idlen, const void *val,
                     size_t vlen);

/* The partition's input starts at next: records for lower offsets are stale
 * (their jobs are committed) and dropped. Returns how many were dropped; the
 * ids of the first cap of them go to ids (caller frees each; ids may be NULL
 * when cap is 0), so the caller can write their tombstones. */
size_t ledger_map_floor(struct ledger_map *m, int32_t p, int64_t next, char **ids, size_t cap);

/* The record for the input message (p, offset) with job id: SY_OK and out
 * filled (the entry is removed), SY_DECLINED when there is none for exactly
 * that message. */
int ledger_map_take(struct ledger_map *m, int32_t p, int64_t offset, const char *id,
                    struct ledger_rec *out);

/* Records held for partition p. */
size_t ledger_map_count(const struct ledger_map *m, int32_t p);

/* Forget partition p (revoked). */
void ledger_map_drop(struct ledger_map *m, int32_t p);

#endif
