/* taskmap.c — a chained hash table (FNV-1a over "provider\0task_id"),
 * doubled when it holds more than two entries per bucket. Keys live in the
 * entry's own allocation. */
#include "taskmap.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/sy.h"

struct tm_entry {
    struct tm_entry *next;
    uint64_t hash;
    void *v;
    size_t plen; /* key = provider '\0' task_id '\0' */
    char key[];
};

struct taskmap {
    struct tm_entry **b;
    size_t nb, n;
};

static uint64_t hash_key(const char *provider, const char *task_id)
{
    uint64_t h = 0xcbf29ce484222325ULL;
    for (const char *s = provider; *s; s++)
        h = (h ^ (unsigned char)*s) * 0x100000001b3ULL;
    h = (h ^ 0xffu) * 0x100000001b3ULL;
    for (const char *s = task_id; *s; s++)
        h = (h ^ (unsigned char)*s) * 0x100000001b3ULL;
    return h;
}

static int same(const struct tm_entry *e, uint64_t h, const char *provider, const char *task_id)
{
    return e->hash == h && strcmp(e->key, provider) == 0 &&
           strcmp(e->key + e->plen + 1, task_id) == 0;
}

struct taskmap *taskmap_new(void)
{
    struct taskmap *m = calloc(1, sizeof *m);
    if (!m)
        return NULL;
    m->nb = 256;
    m->b = calloc(m->nb, sizeof *m->b);
    if (!m->b) {
        free(m);
        return NULL;
    }
    return m;
}

void taskmap_free(struct taskmap *m)
{
    if (!m)
        return;
    for (size_t i = 0; i < m->nb; i++) {
        struct tm_entry *e = m->b[i];
        while (e) {
            struct tm_entry *next = e->next;
            free(e);
            e = next;
        }
    }
    free(m->b);
    free(m);
}

static void grow(struct taskmap *m)
{
    size_t nb = m->nb * 2;
    struct tm_entry **b = calloc(nb, sizeof *b);
    if (!b)
        return; /* longer chains, still correct */
    for (size_t i = 0; i < m->nb; i++) {
        struct tm_entry *e = m->b[i];
        while (e) {
            struct tm_entry *next = e->next;
            e->next = b[e->hash & (nb - 1)];
            b[e->hash & (nb - 1)] = e;
            e = next;
        }
    }
    free(m->b);
    m->b = b;
    m->nb = nb;
}

int taskmap_put(struct taskmap *m, const char *provider, const char *task_id, void *v)
{
    uint64_t h = hash_key(provider, task_id);
    for (struct tm_entry *e = m->b[h & (m->nb - 1)]; e; e = e->next) {
        if (same(e, h, provider, task_id)) {
            e->v = v;
            return SY_OK;
        }
    }
    size_t pl = strlen(provider), tl = strlen(task_id);
    struct tm_entry *e = malloc(sizeof *e + pl + tl + 2);
    if (!e)
        return SY_ERR;
    e->hash = h;
    e->v = v;
    e->plen = pl;
    memcpy(e->key, provider, pl + 1);
    memcpy(e->key + pl + 1, task_id, tl + 1);
    if (m->n >= m->nb * 2)
        grow(m);
    e->next = m->b[h & (m->nb - 1)];
    m->b[h & (m->nb - 1)] = e;
    m->n++;
    return SY_OK;
}

void *taskmap_get(const struct taskmap *m, const char *provider, const char *task_id)
{
    uint64_t h = hash_key(provider, task_id);
    for (struct tm_entry *e = m->b[h & (m->nb - 1)]; e; e = e->next) {
        if (same(e, h, provider, task_id))
            return e->v;
    }
    return NULL;
}

void taskmap_del(struct taskmap *m, const char *provider, const char *task_id, const void *v)
{
    uint64_t h = hash_key(provider, task_id);
    for (struct tm_entry **pp = &m->b[h & (m->nb - 1)]; *pp; pp = &(*pp)->next) {
        struct tm_entry *e = *pp;
        if (same(e, h, provider, task_id)) {
            if (e->v == v) {
                *pp = e->next;
                free(e);
                m->n--;
            }
            return;
        }
    }
}

size_t taskmap_size(const struct taskmap *m)
{
    return m->n;
}
