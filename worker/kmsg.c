/* kmsg.c — the Kafka worker's in-flight messages: one kmsg per consumed
 * message, on its partition's doubly linked list from consume until what was
 * produced for it is acknowledged (kworker_kmsg_done), a revoke drops it or
 * shutdown frees it. Counts live kmsgs and the bytes they hold in the
 * worker (worker.max_in_flight / max_in_flight_bytes). A dropped kmsg is off
 * its list already. Loop thread only. */
#include <stdlib.h>
#include <string.h>

#include "core/sy.h"
#include "worker/kworker_int.h"

struct kpart *kmsg_part(struct kworker *w, int32_t p)
{
    if (p < 0)
        return NULL;
    if ((size_t)p >= w->n_parts) {
        struct kpart *np = sy_grow_zeroed(w->parts, w->n_parts, (size_t)p + 1, sizeof *np);
        if (!np)
            return NULL;
        w->parts = np;
        w->n_parts = (size_t)p + 1;
    }
    return &w->parts[p];
}

struct kmsg *kmsg_new(struct kworker *w, int32_t p, int64_t offset, size_t bytes)
{
    struct kpart *kp = kmsg_part(w, p);
    struct kmsg *m = calloc(1, sizeof *m);
    if (!kp || !m)
        kworker_oom("an input message");
    m->w = w;
    m->partition = p;
    m->offset = offset;
    m->next = kp->head;
    if (kp->head)
        kp->head->prev = m;
    kp->head = m;
    kp->n++;
    w->live++;
    m->bytes = bytes;
    w->bytes += bytes;
    return m;
}

void kmsg_unlink(struct kmsg *m)
{
    if (m->dropped)
        return; /* already off its list */
    struct kpart *kp = &m->w->parts[m->partition];
    if (m->prev)
        m->prev->next = m->next;
    else
        kp->head = m->next;
    if (m->next)
        m->next->prev = m->prev;
    m->next = m->prev = NULL;
    kp->n--;
}

void kmsg_destroy(struct kmsg *m)
{
    struct kworker *w = m->w;
    free(m->id);
    free(m->traceparent);
    w->bytes -= m->bytes;
    w->live--;
    free(m);
}

void kmsg_hold(struct kmsg *m)
{
    m->pending++;
}

void kmsg_release(struct kmsg *m)
{
    if (--m->pending == 0 && !m->job)
        kworker_kmsg_done(m);
}
