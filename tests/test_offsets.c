/* test_offsets.c — the per-partition in-flight offset tracker (queue/offsets).
 * Pure: no sockets, no sleeping. The random test drives the tracker with a
 * fixed-seed PRNG and compares every observable after every step with a
 * brute-force model (plain arrays, linear scans). */
#include "queue/offsets.h"

#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

#include "testrng.h"
#include "core/sy.h"

#include "testutil.h"

static struct offsets *new_tracker(void)
{
    struct offsets *o = offsets_new();

    cr_assert_not_null(o);
    return o;
}

/* Adds offsets [from, to) to a partition, asserting each is accepted. */
static void add_range(struct offsets *o, int32_t partition, int64_t from, int64_t to)
{
    for (int64_t i = from; i < to; i++)
        cr_assert_eq(offsets_add(o, partition, i), SY_OK, "add %d/%lld", partition, (long long)i);
}

static size_t rnd(uint64_t *s, size_t n)
{
    return (size_t)(testrng_xorshift64(s) % n);
}

static void shuffle(uint64_t *seed, int64_t *a, size_t n)
{
    for (size_t i = n; i > 1; i--) {
        size_t j = rnd(seed, i);
        int64_t t = a[i - 1];
        a[i - 1] = a[j];
        a[j] = t;
    }
}

/* ---- basic orders ---------------------------------------------------------- */

Test(offsets, in_order_finish)
{
    struct offsets *o = new_tracker();

    cr_assert_eq(offsets_committable(o, 0, NULL), -1);
    add_range(o, 0, 0, 10);
    cr_assert_eq(offsets_in_flight(o, 0), 10);
    cr_assert_eq(offsets_total_in_flight(o), 10);
    cr_assert_eq(offsets_committable(o, 0, NULL), 0);
    for (int64_t i = 0; i < 10; i++) {
        cr_assert_eq(offsets_finish(o, 0, i), SY_OK);
        cr_assert_eq(offsets_committable(o, 0, NULL), i + 1);
        cr_assert_eq(offsets_in_flight(o, 0), (size_t)(9 - i));
    }
    cr_assert_eq(offsets_total_in_flight(o), 0);
    offsets_free(o);
    assert_no_leaks();
}

Test(offsets, reverse_order_finish)
{
    struct offsets *o = new_tracker();

    add_range(o, 3, 0, 10);
    for (int64_t i = 9; i >= 1; i--) {
        cr_assert_eq(offsets_finish(o, 3, i), SY_OK);
        cr_assert_eq(offsets_committable(o, 3, NULL), 0, "offset 0 still pending");
    }
    cr_assert_eq(offsets_in_flight(o, 3), 1);
    cr_assert_eq(offsets_finish(o, 3, 0), SY_OK);
    cr_assert_eq(offsets_committable(o, 3, NULL), 10);
    cr_assert_eq(offsets_in_flight(o, 3), 0);
    offsets_free(o);
    assert_no_leaks();
}

Test(offsets, hole_holds_commit)
{
    struct offsets *o = new_tracker();

    add_range(o, 0, 0, 10);
    for (int64_t i = 0; i < 10; i++) {
        if (i != 5)
            cr_assert_eq(offsets_finish(o, 0, i), SY_OK);
    }
    cr_assert_eq(offsets_committable(o, 0, NULL), 5);
    cr_assert_eq(offsets_in_flight(o, 0), 1);
    cr_assert_eq(offsets_finish(o, 0, 5), SY_OK);
    cr_assert_eq(offsets_committable(o, 0, NULL), 10);
    offsets_free(o);
    assert_no_leaks();
}

/* Offsets never added (compaction, transaction markers) count as finished. */
Test(offsets, gaps)
{
    struct offsets *o = new_tracker();
    static const int64_t offs[] = { 100, 103, 104, 110, 200, 201, 1000 };
    const size_t n = sizeof(offs) / sizeof(offs[0]);

    for (size_t i = 0; i < n; i++)
        cr_assert_eq(offsets_add(o, 7, offs[i]), SY_OK);
    cr_assert_eq(offsets_committable(o, 7, NULL), 100);
    cr_assert_eq(offsets_finish(o, 7, 101), SY_DECLINED, "a gap is not pending");
    cr_assert_eq(offsets_finish(o, 7, 104), SY_OK);
    cr_assert_eq(offsets_finish(o, 7, 200), SY_OK);
    cr_assert_eq(offsets_finish(o, 7, 100), SY_OK);
    cr_assert_eq(offsets_committable(o, 7, NULL), 103, "skips the gap 101..102");
    cr_assert_eq(offsets_finish(o, 7, 103), SY_OK);
    cr_assert_eq(offsets_committable(o, 7, NULL), 110, "skips 104 (done) and 105..109 (gap)");
    cr_assert_eq(offsets_finish(o, 7, 110), SY_OK);
    cr_assert_eq(offsets_committable(o, 7, NULL), 201);
    cr_assert_eq(offsets_finish(o, 7, 1000), SY_OK);
    cr_assert_eq(offsets_finish(o, 7, 201), SY_OK);
    cr_assert_eq(offsets_committable(o, 7, NULL), 1001, "last added + 1");
    cr_assert_eq(offsets_in_flight(o, 7), 0);
    offsets_free(o);
    assert_no_leaks();
}

/* ---- refusals ---------------------------------------------------------------- */

Test(offsets, duplicate_and_rewind_add_rejected)
{
    struct offsets *o = new_tracker();

    cr_assert_eq(offsets_add(o, 1, 5), SY_OK);
    cr_assert_eq(offsets_add(o, 1, 5), SY_ERR, "duplicate");
    cr_assert_eq(offsets_add(o, 1, 3), SY_ERR, "rewind");
    cr_assert_eq(offsets_finish(o, 1, 5), SY_OK);
    cr_assert_eq(offsets_add(o, 1, 5), SY_ERR, "duplicate of a finished offset");
    cr_assert_eq(offsets_add(o, 1, -1), SY_ERR);
    cr_assert_eq(offsets_add(o, -1, 0), SY_ERR, "RD_KAFKA_PARTITION_UA is not a partition");
    cr_assert_eq(offsets_committable(o, -1, NULL), -1);
    cr_assert_eq(offsets_in_flight(o, 1), 0);
    cr_assert_eq(offsets_committable(o, 1, NULL), 6, "refusals changed nothing");
    cr_assert_eq(offsets_add(o, 1, 6), SY_OK);
    cr_assert_eq(offsets_total_in_flight(o), 1);
    offsets_free(o);
    assert_no_leaks();
}

Test(offsets, finish_unknown_declined)
{
    struct offsets *o = new_tracker();

    cr_assert_eq(offsets_finish(o, 0, 0), SY_DECLINED, "unknown partition");
    cr_assert_eq(offsets_finish(o, -5, 0), SY_DECLINED);
    add_range(o, 0, 10, 20);
    cr_assert_eq(offsets_finish(o, 0, 9), SY_DECLINED, "below the window");
    cr_assert_eq(offsets_finish(o, 0, 20), SY_DECLINED, "above the last added");
    cr_assert_eq(offsets_finish(o, 0, -1), SY_DECLINED);
    cr_assert_eq(offsets_finish(o, 0, INT64_MAX), SY_DECLINED);
    cr_assert_eq(offsets_finish(o, 1, 10), SY_DECLINED, "other partition");
    cr_assert_eq(offsets_finish(o, 0, 15), SY_OK);
    cr_assert_eq(offsets_finish(o, 0, 15), SY_DECLINED, "finished, not yet retired");
    cr_assert_eq(offsets_finish(o, 0, 10), SY_OK);
    cr_assert_eq(offsets_finish(o, 0, 10), SY_DECLINED, "finished and retired");
    cr_assert_eq(offsets_in_flight(o, 0), 8);
    cr_assert_eq(offsets_total_in_flight(o), 8);
    cr_assert_eq(offsets_committable(o, 0, NULL), 11);
    offsets_free(o);
    assert_no_leaks();
}

Test(offsets, drop_then_finish_declined)
{
    struct offsets *o = new_tracker();

    for (int64_t i = 0; i < 5; i++) {
        cr_assert_eq(offsets_add(o, 0, i), SY_OK);
        cr_assert_eq(offsets_add(o, 1, 100 + i), SY_OK);
    }
    cr_assert_eq(offsets_mark_committed(o, 0, 0), SY_OK);
    offsets_drop(o, 0);
    offsets_drop(o, 0);  /* twice: no-op */
    offsets_drop(o, 42); /* never known: no-op */
    cr_assert_eq(offsets_total_in_flight(o), 5);
    cr_assert_eq(offsets_in_flight(o, 0), 0);
    cr_assert_eq(offsets_committable(o, 0, NULL), -1);
    cr_assert_eq(offsets_committed(o, 0), -1);
    for (int64_t i = 0; i < 5; i++)
        cr_assert_eq(offsets_finish(o, 0, i), SY_DECLINED);
    cr_assert_eq(offsets_mark_committed(o, 0, 3), SY_DECLINED,
                 "late commit callback does not resurrect it");
    cr_assert_eq(offsets_committable(o, 0, NULL), -1);
    cr_assert_eq(offsets_committable(o, 1, NULL), 100, "other partition untouched");
    cr_assert_eq(offsets_in_flight(o, 1), 5);
    /* Taken again later: starts fresh, even below what it had. */
    cr_assert_eq(offsets_add(o, 0, 2), SY_OK);
    cr_assert_eq(offsets_committable(o, 0, NULL), 2);
    cr_assert_eq(offsets_total_in_flight(o), 6);
    offsets_free(o);
    assert_no_leaks();
}

Test(offsets, assign_resets)
{
    struct offsets *o = new_tracker();
    bool changed = true;

    cr_assert_eq(offsets_assign(o, 2, 50), SY_OK);
    cr_assert_eq(offsets_committable(o, 2, &changed), 50, "nothing added: the fetch position");
    cr_assert(changed, "committed is unknown after assign");
    cr_assert_eq(offsets_committed(o, 2), -1);
    cr_assert_eq(offsets_add(o, 2, 49), SY_ERR, "below the assign position");
    add_range(o, 2, 50, 60);
    cr_assert_eq(offsets_finish(o, 2, 50), SY_OK);
    cr_assert_eq(offsets_mark_committed(o, 2, 51), SY_OK);
    cr_assert_eq(offsets_total_in_flight(o), 9);

    /* Reassigned at an earlier position (e.g. the new owner rewound). */
    cr_assert_eq(offsets_assign(o, 2, 40), SY_OK);
    cr_assert_eq(offsets_in_flight(o, 2), 0);
    cr_assert_eq(offsets_total_in_flight(o), 0);
    cr_assert_eq(offsets_committable(o, 2, NULL), 40);
    cr_assert_eq(offsets_committed(o, 2), -1);
    cr_assert_eq(offsets_finish(o, 2, 55), SY_DECLINED, "jobs of the old assignment");
    cr_assert_eq(offsets_add(o, 2, 40), SY_OK);
    cr_assert_eq(offsets_committable(o, 2, NULL), 40);
    cr_assert_eq(offsets_finish(o, 2, 40), SY_OK);
    cr_assert_eq(offsets_committable(o, 2, NULL), 41);

    cr_assert_eq(offsets_assign(o, 2, -1001), SY_ERR,
                 "logical offsets are the caller's to resolve");
    cr_assert_eq(offsets_assign(o, -1, 0), SY_ERR);
    cr_assert_eq(offsets_committable(o, 2, NULL), 41, "refused assign changed nothing");
    cr_assert_eq(offsets_assign(o, 3, 0), SY_OK);
    cr_assert_eq(offsets_committable(o, 3, NULL), 0);
    cr_assert_eq(offsets_add(o, 3, 0), SY_OK);
    offsets_free(o);
    assert_no_leaks();
}

/* ---- commits ----------------------------------------------------------------- */

static int cmp_i32(const void *a, const void *b)
{
    int32_t x = *(const int32_t *)a, y = *(const int32_t *)b;

    return (x > y) - (x < y);
}

Test(offsets, dirty_after_mark_committed)
{
    struct offsets *o = new_tracker();
    int32_t parts[8];
    int64_t offs[8];
    bool changed;
    size_t n;

    cr_assert_eq(offsets_dirty(o, NULL, NULL, 0), 0);
    cr_assert_eq(offsets_add(o, 0, 0), SY_OK);
    cr_assert_eq(offsets_add(o, 1, 10), SY_OK);
    cr_assert_eq(offsets_add(o, 2, 20), SY_OK);

    /* Each partition's first committable offset has never been committed. */
    n = offsets_dirty(o, parts, offs, 8);
    cr_assert_eq(n, 3);
    for (size_t i = 0; i < n; i++) {
        cr_assert_eq(offs[i], parts[i] * 10);
        cr_assert_eq(offsets_mark_committed(o, parts[i], offs[i]), SY_OK);
    }
    cr_assert_eq(offsets_dirty(o, parts, offs, 8), 0);
    cr_assert_eq(offsets_committable(o, 1, &changed), 10);
    cr_assert(!changed);

    cr_assert_eq(offsets_finish(o, 1, 10), SY_OK);
    cr_assert_eq(offsets_finish(o, 2, 20), SY_OK);
    cr_assert_eq(offsets_committable(o, 1, &changed), 11);
    cr_assert(changed);
    cr_assert_eq(offsets_committable(o, 0, &changed), 0);
    cr_assert(!changed);
    n = offsets_dirty(o, parts, offs, 8);
    cr_assert_eq(n, 2);
    if (parts[0] > parts[1]) {
        int32_t tp = parts[0];
        int64_t to = offs[0];
        parts[0] = parts[1];
        offs[0] = offs[1];
        parts[1] = tp;
        offs[1] = to;
    }
    cr_assert_eq(parts[0], 1);
    cr_assert_eq(offs[0], 11);
    cr_assert_eq(parts[1], 2);
    cr_assert_eq(offs[1], 21);

    /* Fewer slots than dirty partitions: fills cap, returns the total. */
    cr_assert_eq(offsets_dirty(o, parts, offs, 1), 2);
    cr_assert(parts[0] == 1 || parts[0] == 2);
    cr_assert_eq(offsets_dirty(o, NULL, NULL, 0), 2);

    cr_assert_eq(offsets_mark_committed(o, 1, 11), SY_OK);
    cr_assert_eq(offsets_mark_committed(o, 1, 10), SY_DECLINED, "an older commit completing late");
    cr_assert_eq(offsets_committed(o, 1), 11);
    cr_assert_eq(offsets_mark_committed(o, 1, 11), SY_OK, "same value again is fine");
    n = offsets_dirty(o, parts, offs, 8);
    cr_assert_eq(n, 1);
    cr_assert_eq(parts[0], 2);
    cr_assert_eq(offs[0], 21);
    cr_assert_eq(offsets_mark_committed(o, 2, 21), SY_OK);
    cr_assert_eq(offsets_dirty(o, parts, offs, 8), 0);
    cr_assert_eq(offsets_mark_committed(o, 9, 0), SY_DECLINED, "unknown partition");
    cr_assert_eq(offsets_committed(o, 9), -1);
    offsets_free(o);
    assert_no_leaks();
}

/* ---- scale --------------------------------------------------------------------- */

#define WINDOW 100000

/* A 100,000-wide in-flight window grows the ring far past its initial
 * capacity; finishing in shuffled order must keep the head exact. */
Test(offsets, ring_growth_wide_window, .timeout = 60)
{
    struct offsets *o = new_tracker();
    int64_t *order = malloc(WINDOW * sizeof(*order));
    bool *done = calloc(WINDOW, sizeof(*done));
    uint64_t seed = 0x9e3779b97f4a7c15u;
    int64_t low = 0;

    cr_assert_not_null(order);
    cr_assert_not_null(done);
    for (int64_t i = 0; i < WINDOW; i++) {
        /* Every 7th offset is a gap, so lookups also take the search path. */
        int64_t off = 1000 + i + i / 7;
        cr_assert_eq(offsets_add(o, 5, off), SY_OK);
        order[i] = i;
    }
    cr_assert_eq(offsets_in_flight(o, 5), WINDOW);
    shuffle(&seed, order, WINDOW);
    for (size_t k = 0; k < WINDOW; k++) {
        int64_t i = order[k];
        cr_assert_eq(offsets_finish(o, 5, 1000 + i + i / 7), SY_OK);
        done[i] = true;
        while (low < WINDOW && done[low])
            low++;
        int64_t want =
                low < WINDOW ? 1000 + low + low / 7 : 1000 + (WINDOW - 1) + (WINDOW - 1) / 7 + 1;
        if (offsets_committable(o, 5, NULL) != want)
            cr_assert_fail("after finishing %zu: committable %lld, want %lld", k,
                           (long long)offsets_committable(o, 5, NULL), (long long)want);
    }
    cr_assert_eq(offsets_in_flight(o, 5), 0);
    cr_assert_eq(offsets_total_in_flight(o), 0);
    /* The drained ring still works (and was shrunk back down). */
    cr_assert_eq(offsets_add(o, 5, 200000), SY_OK);
    cr_assert_eq(offsets_committable(o, 5, NULL), 200000);
    free(order);
    free(done);
    offsets_free(o);
    assert_no_leaks();
}

/* Thousands of partitions: table growth and deletion keep every lookup right. */
Test(offsets, many_partitions)
{
    enum { NP = 5000 };
    struct offsets *o = new_tracker();
    int32_t *parts = malloc(NP * sizeof(*parts));
    int64_t *offs = malloc(NP * sizeof(*offs));

    cr_assert_not_null(parts);
    cr_assert_not_null(offs);
    for (int32_t p = 0; p < NP; p++) {
        cr_assert_eq(offsets_add(o, p, p), SY_OK);
        cr_assert_eq(offsets_add(o, p, p + 1), SY_OK);
    }
    cr_assert_eq(offsets_total_in_flight(o), 2 * NP);
    for (int32_t p = 0; p < NP; p += 3)
        offsets_drop(o, p);
    for (int32_t p = 0; p < NP; p++) {
        bool dropped = p % 3 == 0;
        cr_assert_eq(offsets_committable(o, p, NULL), dropped ? -1 : p, "partition %d", p);
        cr_assert_eq(offsets_in_flight(o, p), dropped ? 0u : 2u, "partition %d", p);
        if (!dropped)
            cr_assert_eq(offsets_finish(o, p, p), SY_OK);
    }
    size_t n = offsets_dirty(o, parts, offs, NP);
    cr_assert_eq(n, NP - (NP + 2) / 3);
    qsort(parts, n, sizeof(*parts), cmp_i32);
    for (size_t i = 1; i < n; i++)
        cr_assert_lt(parts[i - 1], parts[i], "each partition listed once");
    offsets_free(o);
    free(parts);
    free(offs);
    assert_no_leaks();
}

/* Arbitrary partition ids assigned and dropped in random order: collisions in
 * the table and deletions from the middle of probe runs must never hide a
 * partition. */
Test(offsets, partition_churn)
{
    enum { NID = 3000, ROUNDS = 20000 };
    struct offsets *o = new_tracker();
    int32_t *ids = malloc(NID * sizeof(*ids));
    bool *live = calloc(NID, sizeof(*live));
    uint64_t seed = 0xdeadbeefcafef00du;
    size_t nlive = 0;

    cr_assert_not_null(ids);
    cr_assert_not_null(live);
    for (size_t i = 0; i < NID; i++) {
        bool dup;
        do {
            ids[i] = (int32_t)(testrng_xorshift64(&seed) & 0x7fffffff);
            dup = false;
            for (size_t j = 0; j < i; j++)
                dup = dup || ids[j] == ids[i];
        } while (dup);
    }
    for (size_t r = 0; r < ROUNDS; r++) {
        size_t i = rnd(&seed, NID);
        if (live[i]) {
            offsets_drop(o, ids[i]);
            live[i] = false;
            nlive--;
        } else {
            cr_assert_eq(offsets_assign(o, ids[i], (int64_t)i), SY_OK);
            cr_assert_eq(offsets_add(o, ids[i], (int64_t)i), SY_OK);
            live[i] = true;
            nlive++;
        }
        if (r % 500 != 0 && r != ROUNDS - 1)
            continue;
        for (size_t k = 0; k < NID; k++) {
            if (offsets_committable(o, ids[k], NULL) != (live[k] ? (int64_t)k : -1))
                cr_assert_fail("round %zu: partition %d %s", r, ids[k],
                               live[k] ? "lost" : "still there");
        }
        cr_assert_eq(offsets_total_in_flight(o), nlive);
        cr_assert_eq(offsets_dirty(o, NULL, NULL, 0), nlive);
    }
    offsets_free(o);
    free(ids);
    free(live);
    assert_no_leaks();
}

/* ---- random, against a brute-force model -------------------------------------- */

#define NPART 12
#define NOFFS 10000

struct model {
    int64_t added[NOFFS]; /* every offset added since assign, in order */
    bool done[NOFFS];
    size_t n;
    int64_t last;      /* -1 if none */
    int64_t committed; /* -1 if none */
};

static int64_t model_committable(const struct model *m)
{
    if (m->n == 0)
        return m->last >= 0 ? m->last + 1 : -1; /* no assign in this run */
    for (size_t i = 0; i < m->n; i++) {
        if (!m->done[i])
            return m->added[i];
    }
    return m->last + 1;
}

static size_t model_in_flight(const struct model *m)
{
    size_t k = 0;

    for (size_t i = 0; i < m->n; i++)
        k += !m->done[i];
    return k;
}

static void check_all(const struct offsets *o, const struct model *m, size_t step)
{
    int32_t parts[NPART + 1];
    int64_t offs[NPART + 1];
    bool want_dirty[NPART] = { false };
    size_t total = 0, ndirty = 0, n;

    for (int32_t p = 0; p < NPART; p++) {
        int64_t c = model_committable(&m[p]);
        size_t f = model_in_flight(&m[p]);
        bool changed;

        if (offsets_committable(o, p, &changed) != c || offsets_in_flight(o, p) != f ||
            offsets_committed(o, p) != m[p].committed || changed != (c > m[p].committed))
            cr_assert_fail(
                    "step %zu partition %d: committable %lld/%lld in_flight %zu/%zu committed %lld/%lld",
                    step, p, (long long)offsets_committable(o, p, NULL), (long long)c,
                    offsets_in_flight(o, p), f, (long long)offsets_committed(o, p),
                    (long long)m[p].committed);
        total += f;
        want_dirty[p] = c > m[p].committed;
        ndirty += want_dirty[p];
    }
    if (offsets_total_in_flight(o) != total)
        cr_assert_fail("step %zu: total %zu, want %zu", step, offsets_total_in_flight(o), total);
    n = offsets_dirty(o, parts, offs, NPART + 1);
    if (n != ndirty)
        cr_assert_fail("step %zu: %zu dirty, want %zu", step, n, ndirty);
    for (size_t i = 0; i < n; i++) {
        if (parts[i] < 0 || parts[i] >= NPART || !want_dirty[parts[i]] ||
            offs[i] != model_committable(&m[parts[i]]))
            cr_assert_fail("step %zu: dirty entry %d=%lld is wrong", step, parts[i],
                           (long long)offs[i]);
        want_dirty[parts[i]] = false; /* listed at most once */
    }
}

static void random_run(uint64_t seed)
{
    struct offsets *o = new_tracker();
    struct model *m = calloc(NPART, sizeof(*m));
    int64_t next[NPART];
    size_t added = 0, finished = 0;

    cr_assert_not_null(m);
    for (int32_t p = 0; p < NPART; p++) {
        m[p].last = -1;
        m[p].committed = -1;
        next[p] = (int64_t)rnd(&seed, 1000);
    }
    for (size_t step = 0; added < NOFFS || finished < added; step++) {
        size_t r = rnd(&seed, 100);
        int32_t p = (int32_t)rnd(&seed, NPART);
        struct model *mp = &m[p];

        if (r < 50 && added < NOFFS) {
            /* add, sometimes after a gap */
            int64_t off = next[p] + (rnd(&seed, 5) == 0 ? (int64_t)rnd(&seed, 10) : 0);
            cr_assert_eq(offsets_add(o, p, off), SY_OK);
            mp->added[mp->n] = off;
            mp->done[mp->n] = false;
            mp->n++;
            mp->last = off;
            next[p] = off + 1;
            added++;
            if (rnd(&seed, 10) == 0)
                cr_assert_eq(offsets_add(o, p, off - (int64_t)rnd(&seed, 3)), SY_ERR);
        } else if (r < 95 && finished < added) {
            /* finish a random pending job of any partition */
            size_t k = rnd(&seed, added - finished);
            for (p = 0; p < NPART; p++) {
                size_t f = model_in_flight(&m[p]);
                if (k < f)
                    break;
                k -= f;
            }
            mp = &m[p];
            for (size_t i = 0; i < mp->n; i++) {
                if (mp->done[i])
                    continue;
                if (k-- == 0) {
                    cr_assert_eq(offsets_finish(o, p, mp->added[i]), SY_OK);
                    mp->done[i] = true;
                    break;
                }
            }
            finished++;
        } else if (r < 98) {
            /* commit what is committable */
            int64_t c = model_committable(mp);
            int want = mp->n > 0 || mp->last >= 0 ? SY_OK : SY_DECLINED;
            if (c < mp->committed)
                want = SY_DECLINED;
            cr_assert_eq(offsets_mark_committed(o, p, c), want);
            if (want == SY_OK)
                mp->committed = c;
        } else if (mp->n > 0) {
            /* finishing something already finished (or a gap) is declined */
            size_t i = rnd(&seed, mp->n);
            int64_t off = mp->done[i] ? mp->added[i] : mp->added[i] + 1;
            bool gap = true;
            for (size_t j = 0; j < mp->n; j++)
                gap = gap && !(mp->added[j] == off && !mp->done[j]);
            if (gap)
                cr_assert_eq(offsets_finish(o, p, off), SY_DECLINED);
        }
        check_all(o, m, step);
    }
    cr_assert_eq(offsets_total_in_flight(o), 0);
    free(m);
    offsets_free(o);
}

Test(offsets, random_against_model, .timeout = 120)
{
    random_run(88172645463325252u);
    random_run(0x2545f4914f6cdd1du);
    assert_no_leaks();
}

Test(offsets, free_null)
{
    offsets_free(NULL);
    assert_no_leaks();
}
