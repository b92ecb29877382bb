/* offsets.c — per-partition in-flight offset tracker
 * (docs/delivery.md §Per-partition tracker). Pure: no I/O, no clock, no globals.
 *
 * Partitions live inline in an open-addressing hash table (linear probing,
 * load <= 1/2, backward-shift deletion, so no tombstones). Slot id -1 = empty.
 *
 * Each partition keeps a ring of the offsets added and not yet retired, in
 * strictly increasing order, plus a bitmap saying which of them finished.
 * Invariants:
 *   - the entry at the head of the ring, if any, is unfinished: finishing the
 *     head pops it and every finished entry behind it, so each offset is
 *     pushed and popped once (O(1) amortised);
 *   - hence committable = ring head, or last + 1 when the ring is empty;
 *     offsets never added (gaps) are never tracked, so they count as finished;
 *   - pending = unfinished entries; o->total = sum of pending;
 *   - ring capacity is a power of two >= MIN_RING (0 before the first add);
 *     it doubles when full and, after pops, halves while at most a quarter
 *     full, so memory follows the in-flight window, not its historical peak
 *     (shrinking is best effort: a failed shrink leaves a correct ring).
 * Finding an offset in the ring is O(1) when there are no gaps (its index is
 * offset - head offset) and a binary search over that prefix otherwise.
 */
#include "queue/offsets.h"

#include <errno.h>
#include <stdlib.h>

#include "core/sy.h"

#define MIN_RING 64  /* entries; also keeps the bitmap in whole words */
#define MIN_TABLE 16 /* hash slots */

struct part {
    int32_t id;        /* partition; -1 = empty slot */
    int64_t last;      /* last offset added, or assign position - 1 */
    int64_t committed; /* last marked, -1 if none */
    int64_t *ring;     /* cap entries, logical entry i at (head + i) & (cap - 1) */
    uint64_t *done;    /* cap bits, parallel to ring */
    size_t cap, head, count;
    size_t pending; /* unfinished entries in the ring */
};

struct offsets {
    struct part *slots;
    size_t cap;     /* power of two */
    unsigned shift; /* 32 - log2(cap), for the multiplicative hash */
    size_t used;    /* partitions */
    size_t total;   /* pending jobs, all partitions */
};

/* ---- hash table ---------------------------------------------------------- */

static size_t slot_of(const struct offsets *o, int32_t id)
{
    uint32_t h = (uint32_t)id * 2654435769u;

    return (size_t)(h >> o->shift) & (o->cap - 1);
}

static struct part *find(const struct offsets *o, int32_t id)
{
    size_t i;

    if (id < 0)
        return NULL;
    for (i = slot_of(o, id); o->slots[i].id != -1; i = (i + 1) & (o->cap - 1)) {
        if (o->slots[i].id == id)
            return &o->slots[i];
    }
    return NULL;
}

static struct part *alloc_slots(size_t cap)
{
    struct part *s = calloc(cap, sizeof(*s));

    if (!s)
        return NULL;
    for (size_t i = 0; i < cap; i++)
        s[i].id = -1;
    return s;
}

static unsigned shift_for(size_t cap)
{
    unsigned bits = 0;

    while (((size_t)1 << bits) < cap)
        bits++;
    return 32 - bits;
}

static void place(struct offsets *o, const struct part *p)
{
    size_t i = slot_of(o, p->id);

    while (o->slots[i].id != -1)
        i = (i + 1) & (o->cap - 1);
    o->slots[i] = *p;
}

static int grow_table(struct offsets *o)
{
    struct part *old = o->slots;
    size_t oldcap = o->cap;
    struct part *s = alloc_slots(oldcap * 2);

    if (!s)
        return SY_ERR;
    o->slots = s;
    o->cap = oldcap * 2;
    o->shift = shift_for(o->cap);
    for (size_t i = 0; i < oldcap; i++) {
        if (old[i].id != -1)
            place(o, &old[i]);
    }
    free(old);
    return SY_OK;
}

/* The partition, created empty (nothing added, committable -1) if missing.
 * NULL with errno ENOMEM if the table could not grow. */
static struct part *find_or_create(struct offsets *o, int32_t id)
{
    struct part *p = find(o, id);
    struct part fresh = { .id = id, .last = -1, .committed = -1 };

    if (p)
        return p;
    if ((o->used + 1) * 2 > o->cap && grow_table(o) != SY_OK) {
        errno = ENOMEM;
        return NULL;
    }
    place(o, &fresh);
    o->used++;
    return find(o, id);
}

/* Backward-shift deletion: pull later members of the probe run into the
 * hole when their home slot does not lie cyclically in (hole, j]. */
static void remove_slot(struct offsets *o, struct part *p)
{
    size_t mask = o->cap - 1;
    size_t hole = (size_t)(p - o->slots);
    size_t j = hole;

    for (;;) {
        j = (j + 1) & mask;
        if (o->slots[j].id == -1)
            break;
        size_t home = slot_of(o, o->slots[j].id);
        if (((j - home) & mask) >= ((j - hole) & mask)) {
            o->slots[hole] = o->slots[j];
            hole = j;
        }
    }
    o->slots[hole].id = -1;
    o->used--;
}

/* ---- ring ---------------------------------------------------------------- */

static size_t phys(const struct part *p, size_t i)
{
    return (p->head + i) & (p->cap - 1);
}

static int64_t ring_at(const struct part *p, size_t i)
{
    return p->ring[phys(p, i)];
}

static bool is_done(const struct part *p, size_t i)
{
    size_t k = phys(p, i);

    return (p->done[k / 64] >> (k % 64)) & 1u;
}

static void set_done(struct part *p, size_t i, bool v)
{
    size_t k = phys(p, i);
    uint64_t bit = (uint64_t)1 << (k % 64);

    if (v)
        p->done[k / 64] |= bit;
    else
        p->done[k / 64] &= ~bit;
}

static void ring_free(struct part *p)
{
    free(p->ring);
    free(p->done);
    p->ring = NULL;
    p->done = NULL;
    p->cap = p->head = p->count = p->pending = 0;
}

/* Moves the ring's entries (in order, head at 0) into a new capacity that
 * holds them. SY_ERR if out of memory (the ring is unchanged). */
static int ring_resize(struct part *p, size_t cap)
{
    int64_t *ring = malloc(cap * sizeof(*ring));
    uint64_t *done = calloc(cap / 64, sizeof(*done));

    if (!ring || !done) {
        free(ring);
        free(done);
        return SY_ERR;
    }
    for (size_t i = 0; i < p->count; i++) {
        ring[i] = ring_at(p, i);
        if (is_done(p, i))
            done[i / 64] |= (uint64_t)1 << (i % 64);
    }
    free(p->ring);
    free(p->done);
    p->ring = ring;
    p->done = done;
    p->cap = cap;
    p->head = 0;
    return SY_OK;
}

/* Logical index of offset in the ring, or -1 if it is not there. Entries
 * strictly increase, so it cannot lie beyond index (offset - head offset). */
static ptrdiff_t ring_index(const struct part *p, int64_t offset)
{
    int64_t first, d;
    size_t lo = 0, hi;

    if (p->count == 0)
        return -1;
    first = ring_at(p, 0);
    if (offset < first)
        return -1;
    d = offset - first;
    if ((uint64_t)d < p->count && ring_at(p, (size_t)d) == offset)
        return (ptrdiff_t)d;
    hi = (uint64_t)d < p->count ? (size_t)d : p->count - 1; /* search [lo, hi] */
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (ring_at(p, mid) < offset)
            lo = mid + 1;
        else
            hi = mid;
    }
    return ring_at(p, lo) == offset ? (ptrdiff_t)lo : -1;
}

static int64_t committable_of(const struct part *p)
{
    return p->count > 0 ? ring_at(p, 0) : p->last + 1;
}

/* After entries were popped: the smallest power of two >= MIN_RING that keeps
 * the ring at most half full, reached by halving while at most a quarter full
 * (so a grow and a shrink are always Omega(cap) operations apart). */
static void ring_shrink(struct part *p)
{
    size_t cap = p->cap;

    while (cap > MIN_RING && p->count <= cap / 4)
        cap /= 2;
    /* Best effort: if it fails the larger ring stays correct. */
    if (cap != p->cap)
        (void)ring_resize(p, cap);
}

/* ---- API ----------------------------------------------------------------- */

struct offsets *offsets_new(void)
{
    struct offsets *o = calloc(1, sizeof(*o));

    if (!o)
        return NULL;
    o->slots = alloc_slots(MIN_TABLE);
    if (!o->slots) {
        free(o);
        return NULL;
    }
    o->cap = MIN_TABLE;
    o->shift = shift_for(o->cap);
    return o;
}

void offsets_free(struct offsets *o)
{
    if (!o)
        return;
    for (size_t i = 0; i < o->cap; i++) {
        if (o->slots[i].id != -1)
            ring_free(&o->slots[i]);
    }
    free(o->slots);
    free(o);
}

int offsets_add(struct offsets *o, int32_t partition, int64_t offset)
{
    struct part *p;
    bool created;

    if (partition < 0 || offset < 0) {
        errno = EINVAL;
        return SY_ERR;
    }
    p = find(o, partition);
    if (p && offset <= p->last) {
        errno = EINVAL;
        return SY_ERR;
    }
    created = !p;
    if (created) {
        p = find_or_create(o, partition);
        if (!p)
            return SY_ERR;
    }
    if (p->count == p->cap && ring_resize(p, p->cap ? p->cap * 2 : MIN_RING) != SY_OK) {
        if (created)
            remove_slot(o, p);
        errno = ENOMEM;
        return SY_ERR;
    }
    p->ring[phys(p, p->count)] = offset;
    set_done(p, p->count, false);
    p->count++;
    p->pending++;
    p->last = offset;
    o->total++;
    return SY_OK;
}

int offsets_finish(struct offsets *o, int32_t partition, int64_t offset)
{
    struct part *p = find(o, partition);
    ptrdiff_t i;

    if (!p)
        return SY_DECLINED;
    i = ring_index(p, offset);
    if (i < 0 || is_done(p, (size_t)i))
        return SY_DECLINED;
    set_done(p, (size_t)i, true);
    p->pending--;
    o->total--;
    if (i != 0)
        return SY_OK;
    while (p->count > 0 && is_done(p, 0)) {
        set_done(p, 0, false);
        p->head = (p->head + 1) & (p->cap - 1);
        p->count--;
    }
    ring_shrink(p);
    return SY_OK;
}

int64_t offsets_committable(const struct offsets *o, int32_t partition, bool *changed)
{
    const struct part *p = find(o, partition);
    int64_t c = -1;

    if (p)
        c = committable_of(p);
    if (changed)
        *changed = p && c > p->committed;
    return c;
}

int offsets_mark_committed(struct offsets *o, int32_t partition, int64_t offset)
{
    struct part *p = find(o, partition);

    if (!p || offset < p->committed)
        return SY_DECLINED;
    p->committed = offset;
    return SY_OK;
}

int64_t offsets_committed(const struct offsets *o, int32_t partition)
{
    const struct part *p = find(o, partition);

    return p ? p->committed : -1;
}

size_t offsets_in_flight(const struct offsets *o, int32_t partition)
{
    const struct part *p = find(o, partition);

    return p ? p->pending : 0;
}

size_t offsets_total_in_flight(const struct offsets *o)
{
    return o->total;
}

void offsets_drop(struct offsets *o, int32_t partition)
{
    struct part *p = find(o, partition);

    if (!p)
        return;
    o->total -= p->pending;
    ring_free(p);
    remove_slot(o, p);
}

int offsets_assign(struct offsets *o, int32_t partition, int64_t next)
{
    struct part *p;

    if (partition < 0 || next < 0) {
        errno = EINVAL;
        return SY_ERR;
    }
    p = find_or_create(o, partition);
    if (!p)
        return SY_ERR;
    o->total -= p->pending;
    ring_free(p);
    p->last = next - 1;
    p->committed = -1;
    return SY_OK;
}

size_t offsets_dirty(const struct offsets *o, int32_t *parts, int64_t *offs, size_t cap)
{
    size_t n = 0;

    for (size_t i = 0; i < o->cap; i++) {
        const struct part *p = &o->slots[i];
        int64_t c;

        if (p->id == -1)
            continue;
        c = committable_of(p);
        if (c <= p->committed)
            continue;
        if (n < cap) {
            parts[n] = p->id;
            offs[n] = c;
        }
        n++;
    }
    return n;
}
