/* enqueue_ids.c — an open-addressing hash set of job ids (FNV-1a, linear
 * probing, power-of-two capacity kept at most half full). Entries are never
 * removed: a run only adds ids and changes their state. */
#include "queue/enqueue_ids.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static uint64_t ids_hash(const char *s, size_t len)
{
    uint64_t h = 1469598103934665603ULL;
    for (size_t i = 0; i < len; i++) {
        h ^= (unsigned char)s[i];
        h *= 1099511628211ULL;
    }
    return h;
}

/* The slot holding id, or the empty slot where it belongs. cap > 0. */
static size_t ids_slot(const struct enqueue_ids *s, const char *id, size_t len)
{
    size_t i = ids_hash(id, len) & (s->cap - 1);
    while (s->v[i].id && !(s->v[i].len == len && memcmp(s->v[i].id, id, len) == 0))
        i = (i + 1) & (s->cap - 1);
    return i;
}

struct enqueue_id *enqueue_ids_find(struct enqueue_ids *s, const void *id, size_t len)
{
    if (s->cap == 0 || !id)
        return NULL;
    struct enqueue_id *e = &s->v[ids_slot(s, id, len)];
    return e->id ? e : NULL;
}

int enqueue_ids_add(struct enqueue_ids *s, const char *id, size_t len)
{
    if (enqueue_ids_find(s, id, len))
        return 0;
    if ((s->n + 1) * 2 > s->cap) {
        struct enqueue_ids g = { .cap = s->cap ? s->cap * 2 : 1024, .n = s->n };
        g.v = calloc(g.cap, sizeof *g.v);
        if (!g.v)
            return -1;
        for (size_t i = 0; i < s->cap; i++)
            if (s->v[i].id)
                g.v[ids_slot(&g, s->v[i].id, s->v[i].len)] = s->v[i];
        free(s->v);
        *s = g;
    }
    char *copy = malloc(len + 1);
    if (!copy)
        return -1;
    memcpy(copy, id, len);
    copy[len] = '\0';
    s->v[ids_slot(s, id, len)] =
            (struct enqueue_id){ .id = copy, .len = len, .state = ENQUEUE_ID_WAITING };
    s->n++;
    return 1;
}

void enqueue_ids_cleanup(struct enqueue_ids *s)
{
    for (size_t i = 0; i < s->cap; i++)
        free(s->v[i].id);
    free(s->v);
    s->v = NULL;
    s->cap = s->n = 0;
}
