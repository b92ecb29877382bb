/* enqueue_ids.h — the set of job ids one switchyard-enqueue run produced, and
 * whether each has a result yet. Pure: no I/O, no clock. */
#ifndef QUEUE_ENQUEUE_IDS_H
#define QUEUE_ENQUEUE_IDS_H

#include <stddef.h>

enum enqueue_id_state {
    ENQUEUE_ID_WAITING = 0, /* produced, no result seen yet */
    ENQUEUE_ID_DONE = 1,    /* a result was seen */
    ENQUEUE_ID_LOST = 2,    /* delivery failed: no result will come */
};

struct enqueue_id {
    char *id; /* owned by the set, NUL-terminated */
    size_t len;
    enum enqueue_id_state state;
};

/* Embed zeroed; free with enqueue_ids_cleanup(). */
struct enqueue_ids {
    struct enqueue_id *v;
    size_t cap, n;
};

/* The entry for id (len bytes, need not be NUL-terminated), or NULL. Borrowed
 * until the next enqueue_ids_add(). id may be NULL (then NULL). */
struct enqueue_id *enqueue_ids_find(struct enqueue_ids *s, const void *id, size_t len);

/* Adds a copy of id in state WAITING. Returns 1 added, 0 already present,
 * -1 out of memory. */
int enqueue_ids_add(struct enqueue_ids *s, const char *id, size_t len);

void enqueue_ids_cleanup(struct enqueue_ids *s);

#endif
