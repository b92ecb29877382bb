/* fakeprov common core: clock, per-thread randomness, generation-time
 * distributions, fault names and prompt markers, the sharded task table, the
 * KIE sliding window and the stats document.
 *
 * Invariants: a task is only read or changed under its shard mutex; tasks
 * live for an hour after creation (dropped lazily on insert into the same
 * shard) and are all freed at exit. Stats are relaxed atomics, so /_stats is a
 * consistent-enough snapshot, not a transaction. Task state is never stored:
 * it is computed from (now - created) on every read. */
#include "fp_common.h"

#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define FP_SHARDS 64
#define FP_RETENTION_US (3600LL * 1000000LL)

struct fp_shard {
    pthread_mutex_t mu;
    struct fp_task **buckets;
    size_t nbuckets, count;
    struct fp_task *ohead, *otail;
};

/* ---------------------------------------------------------------- clock */

static int64_t clk_wall0, clk_mono0;
static pthread_once_t clk_once = PTHREAD_ONCE_INIT;

static int64_t ts_us(clockid_t id)
{
    struct timespec ts;
    clock_gettime(id, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static void clk_init(void)
{
    clk_mono0 = ts_us(CLOCK_MONOTONIC);
    clk_wall0 = ts_us(CLOCK_REALTIME);
}

struct timespec fp_mono_after(int64_t wait_us)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    int64_t ns = ts.tv_nsec + (wait_us % 1000000) * 1000;
    ts.tv_sec += (time_t)(wait_us / 1000000 + ns / 1000000000);
    ts.tv_nsec = (long)(ns % 1000000000);
    return ts;
}

int64_t fp_now_us(void)
{
    pthread_once(&clk_once, clk_init);
    return clk_wall0 + (ts_us(CLOCK_MONOTONIC) - clk_mono0);
}

/* --------------------------------------------------------------- random */

static _Thread_local uint64_t tl_rng;
static atomic_ullong rng_streams;

static uint64_t splitmix(uint64_t *s)
{
    uint64_t z = (*s += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

double fp_rand01(const struct fp_server *srv)
{
    if (tl_rng == 0) {
        uint64_t s = srv->seed + 0x1000193ULL * (atomic_fetch_add(&rng_streams, 1) + 1);
        tl_rng = splitmix(&s) | 1;
    }
    /* xorshift64* */
    tl_rng ^= tl_rng >> 12;
    tl_rng ^= tl_rng << 25;
    tl_rng ^= tl_rng >> 27;
    return (double)((tl_rng * 0x2545F4914F6CDD1DULL) >> 11) / 9007199254740992.0;
}

int64_t fp_draw_gen_ms(const struct fp_server *srv)
{
    double n = (double)atomic_load(&srv->gen_ms);
    double v = n;
    switch (srv->dist) {
    case FP_DIST_UNIFORM:
        v = fp_rand01(srv) * 2.0 * n;
        break;
    case FP_DIST_LOGNORMAL: {
        double u1 = fp_rand01(srv), u2 = fp_rand01(srv);
        if (u1 < 1e-12)
            u1 = 1e-12;
        double z = sqrt(-2.0 * log(u1)) * cos(2.0 * M_PI * u2);
        v = n * exp(srv->gen_sigma * z);
        break;
    }
    default:
        break;
    }
    if (v < 0)
        v = 0;
    if (v > 86400000.0)
        v = 86400000.0;
    return (int64_t)llround(v);
}

/* --------------------------------------------------------------- faults */

static const char *const fault_names[FP_F_COUNT] = {
    [FP_F_NONE] = "none",
    [FP_F_HTTP500] = "http500",
    [FP_F_HTTP502] = "http502",
    [FP_F_HTTP503] = "http503",
    [FP_F_429] = "429",
    [FP_F_429_NORETRY] = "429-noretry",
    [FP_F_401] = "401",
    [FP_F_402] = "402",
    [FP_F_422] = "422",
    [FP_F_455] = "455",
    [FP_F_MALFORMED] = "malformed",
    [FP_F_TRUNCATED] = "truncated",
    [FP_F_HANG] = "hang",
    [FP_F_FAIL] = "fail",
};

static int fault_parse_n(const char *s, size_t n)
{
    for (int i = 0; i < FP_F_COUNT; i++)
        if (strlen(fault_names[i]) == n && memcmp(fault_names[i], s, n) == 0)
            return i;
    return -1;
}

int fp_fault_parse(const char *name)
{
    return fault_parse_n(name, strlen(name));
}

const char *fp_fault_name(int kind)
{
    return kind >= 0 && kind < FP_F_COUNT ? fault_names[kind] : "?";
}

/* Parses "[tag(@prov)?:value]" at p; returns 1 and fills the parts. */
static int marker_at(const char *p, const char *tag, int prov, int *applies, const char **val,
                     size_t *vlen)
{
    size_t tl = strlen(tag);
    if (strncmp(p + 1, tag, tl) != 0)
        return 0;
    const char *q = p + 1 + tl;
    *applies = 1;
    if (*q == '@') {
        q++;
        if (strncmp(q, "kie:", 4) == 0) {
            *applies = prov == FP_KIE;
            q += 3;
        } else if (strncmp(q, "replicate:", 10) == 0) {
            *applies = prov == FP_REPLICATE;
            q += 9;
        } else if (strncmp(q, "any:", 4) == 0) {
            q += 3;
        } else {
            return 0;
        }
    }
    if (*q != ':')
        return 0;
    q++;
    const char *end = strchr(q, ']');
    if (!end)
        return 0;
    *val = q;
    *vlen = (size_t)(end - q);
    return 1;
}

void fp_markers(const char *prompt, int prov, int *fault, int *pollfault, int64_t *gen_ms)
{
    *fault = FP_F_NONE;
    *pollfault = FP_F_NONE;
    *gen_ms = -1;
    if (!prompt)
        return;
    for (const char *p = strchr(prompt, '['); p; p = strchr(p + 1, '[')) {
        int applies;
        const char *v;
        size_t n;
        if (marker_at(p, "fault", prov, &applies, &v, &n)) {
            int k = fault_parse_n(v, n);
            if (applies && k > 0)
                *fault = k;
        } else if (marker_at(p, "pollfault", prov, &applies, &v, &n)) {
            int k = fault_parse_n(v, n);
            if (applies && k > 0)
                *pollfault = k;
        } else if (marker_at(p, "gen", prov, &applies, &v, &n)) {
            char tmp[24];
            if (applies && n > 0 && n < sizeof tmp) {
                memcpy(tmp, v, n);
                tmp[n] = 0;
                char *e;
                long long ms = strtoll(tmp, &e, 10);
                if (*e == 0 && ms >= 0)
                    *gen_ms = ms;
            }
        }
    }
}

int fp_create_fault(struct fp_server *srv, struct MHD_Connection *c, struct fp_req *req, int prov,
                    const char *prompt, fp_fault_reply_fn fault_reply, int *fault, int *pollfault,
                    int64_t *gen_ms, enum MHD_Result *rc)
{
    fp_markers(prompt, prov, fault, pollfault, gen_ms);
    if (req->fault_done)
        return 0;
    if (*fault == FP_F_NONE)
        *fault = fp_random_fault(srv, prov, 1);
    if (*fault == FP_F_HANG) {
        atomic_fetch_add_explicit(&srv->st[prov].faults_injected, 1, memory_order_relaxed);
        req->fault_done = 1;
        if (fp_suspend(srv, c, req, fp_now_us() + srv->hang_ms * 1000) == 0) {
            *rc = MHD_YES;
            return 1;
        }
    } else if (*fault != FP_F_NONE && *fault != FP_F_FAIL) {
        *rc = fault_reply(srv, c, *fault, 0);
        return 1;
    }
    return 0;
}

int fp_random_fault(const struct fp_server *srv, int prov, int is_create)
{
    if (is_create) {
        for (int i = 0; i < srv->nrfaults; i++) {
            const struct fp_rfault *f = &srv->rfaults[i];
            if ((f->provider < 0 || f->provider == prov) && f->rate > 0 && fp_rand01(srv) < f->rate)
                return f->kind;
        }
    }
    int k = atomic_load_explicit(&srv->ctl_fault[prov], memory_order_relaxed);
    if (k != FP_F_NONE) {
        long long ppm = atomic_load_explicit(&srv->ctl_rate_ppm[prov], memory_order_relaxed);
        if (fp_rand01(srv) * 1e6 < (double)ppm)
            return k;
    }
    return FP_F_NONE;
}

/* ----------------------------------------------------------- task table */

static uint64_t fnv1a(const char *s)
{
    uint64_t h = 0xcbf29ce484222325ULL;
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 0x100000001b3ULL;
    return h ^ (h >> 29);
}

int fp_tasks_init(struct fp_server *srv)
{
    srv->shards = calloc(FP_SHARDS, sizeof *srv->shards);
    if (!srv->shards)
        return -1;
    for (int i = 0; i < FP_SHARDS; i++) {
        struct fp_shard *s = &srv->shards[i];
        pthread_mutex_init(&s->mu, NULL);
        s->nbuckets = 1024;
        s->buckets = calloc(s->nbuckets, sizeof *s->buckets);
        if (!s->buckets)
            return -1;
    }
    return 0;
}

void fp_tasks_free(struct fp_server *srv)
{
    if (!srv->shards)
        return;
    for (int i = 0; i < FP_SHARDS; i++) {
        struct fp_shard *s = &srv->shards[i];
        struct fp_task *t = s->ohead;
        while (t) {
            struct fp_task *n = t->onext;
            free(t);
            t = n;
        }
        free(s->buckets);
        pthread_mutex_destroy(&s->mu);
    }
    free(srv->shards);
    srv->shards = NULL;
}

static void shard_grow(struct fp_shard *s)
{
    size_t nb = s->nbuckets * 2;
    struct fp_task **b = calloc(nb, sizeof *b);
    if (!b)
        return; /* keep the longer chains */
    for (size_t i = 0; i < s->nbuckets; i++) {
        struct fp_task *t = s->buckets[i];
        while (t) {
            struct fp_task *n = t->hnext;
            size_t j = fnv1a(t->id) & (nb - 1);
            t->hnext = b[j];
            b[j] = t;
            t = n;
        }
    }
    free(s->buckets);
    s->buckets = b;
    s->nbuckets = nb;
}

static void shard_expire(struct fp_shard *s, int64_t now_us)
{
    while (s->ohead && now_us - s->ohead->created_us > FP_RETENTION_US) {
        struct fp_task *t = s->ohead;
        struct fp_task **pp = &s->buckets[fnv1a(t->id) & (s->nbuckets - 1)];
        while (*pp && *pp != t)
            pp = &(*pp)->hnext;
        if (*pp)
            *pp = t->hnext;
        s->ohead = t->onext;
        if (!s->ohead)
            s->otail = NULL;
        s->count--;
        free(t);
    }
}

static void make_id(struct fp_server *srv, int prov, char *out)
{
    unsigned long long n = atomic_fetch_add(&srv->id_counter, 1) + 1;
    if (prov == FP_KIE) {
        snprintf(out, 48, "task_google_%llu", n);
        return;
    }
    /* Replicate-shaped: 26 chars of lowercase base32. The first 13 encode a
   * bijective mix of the counter (unique), the rest are random. */
    static const char al[] = "abcdefghijklmnopqrstuvwxyz234567";
    uint64_t m = n;
    m = (m ^ (m >> 30)) * 0xbf58476d1ce4e5b9ULL;
    m = (m ^ (m >> 27)) * 0x94d049bb133111ebULL;
    m ^= m >> 31;
    for (int i = 0; i < 13; i++, m >>= 5)
        out[i] = al[m & 31];
    for (int i = 13; i < 26; i++)
        out[i] = al[(int)(fp_rand01(srv) * 32) & 31];
    out[26] = 0;
}

void fp_task_add(struct fp_server *srv, int prov, const char *model, const char *version,
                 const char *param, size_t param_len, int64_t gen_ms, int fail, int pollfault,
                 char *id_out)
{
    make_id(srv, prov, id_out);
    size_t il = strlen(id_out) + 1, ml = strlen(model) + 1, vl = strlen(version) + 1;
    struct fp_task *t = malloc(sizeof *t + il + ml + vl + param_len + 1);
    if (!t)
        abort(); /* a test server out of memory has nothing better to do */
    char *p = (char *)(t + 1);
    memcpy(p, id_out, il);
    t->id = p;
    p += il;
    memcpy(p, model, ml);
    t->model = p;
    p += ml;
    memcpy(p, version, vl);
    t->version = p;
    p += vl;
    memcpy(p, param, param_len);
    p[param_len] = 0;
    t->param = p;
    t->provider = prov;
    t->fail = fail;
    t->pollfault = pollfault;
    t->created_us = fp_now_us();
    t->gen_ms = gen_ms;
    t->canceled_us = 0;
    t->deadline = 0;
    t->polls = 0;
    t->seen_us = 0;
    t->cb_delivered_us = 0;
    t->onext = NULL;

    uint64_t h = fnv1a(t->id);
    struct fp_shard *s = &srv->shards[h % FP_SHARDS];
    pthread_mutex_lock(&s->mu);
    shard_expire(s, t->created_us);
    if (s->count >= s->nbuckets * 2)
        shard_grow(s);
    size_t b = h & (s->nbuckets - 1);
    t->hnext = s->buckets[b];
    s->buckets[b] = t;
    if (s->otail)
        s->otail->onext = t;
    else
        s->ohead = t;
    s->otail = t;
    s->count++;
    pthread_mutex_unlock(&s->mu);
}

int fp_tasks_with(struct fp_server *srv, const char *id, fp_task_fn fn, void *arg)
{
    uint64_t h = fnv1a(id);
    struct fp_shard *s = &srv->shards[h % FP_SHARDS];
    int rc = -1;
    pthread_mutex_lock(&s->mu);
    for (struct fp_task *t = s->buckets[h & (s->nbuckets - 1)]; t; t = t->hnext) {
        if (strcmp(t->id, id) == 0) {
            fn(t, arg);
            rc = 0;
            break;
        }
    }
    pthread_mutex_unlock(&s->mu);
    return rc;
}

uint64_t fp_tasks_active(struct fp_server *srv, int prov, int64_t now_us)
{
    uint64_t n = 0;
    for (int i = 0; i < FP_SHARDS; i++) {
        struct fp_shard *s = &srv->shards[i];
        pthread_mutex_lock(&s->mu);
        for (struct fp_task *t = s->ohead; t; t = t->onext)
            if (t->provider == prov && now_us < t->created_us + t->gen_ms * 1000 &&
                (t->canceled_us == 0 || now_us < t->canceled_us))
                n++;
        pthread_mutex_unlock(&s->mu);
    }
    return n;
}

/* ------------------------------------------------------------ detection */

int64_t fp_task_done_us(const struct fp_task *t)
{
    int64_t end = t->created_us + t->gen_ms * 1000;
    return t->canceled_us != 0 && t->canceled_us < end ? t->canceled_us : end;
}

void fp_task_mark_seen(struct fp_server *srv, struct fp_task *t, int64_t now_us)
{
    if (t->seen_us != 0)
        return;
    t->seen_us = now_us;
    int64_t delay = now_us - fp_task_done_us(t);
    pthread_mutex_lock(&srv->det_mu);
    if (t->created_us >= srv->det_epoch_us) {
        FP_GROW(srv->det, srv->det_len, srv->det_cap, 1024);
        srv->det[srv->det_len++] = (struct fp_detect_rec){ .created_us = t->created_us,
                                                           .delay_us = delay > 0 ? delay : 0,
                                                           .polls = t->polls };
    }
    pthread_mutex_unlock(&srv->det_mu);
}

static void seen_cb(struct fp_task *t, void *arg)
{
    struct {
        struct fp_server *srv;
        int64_t now_us;
    } *a = arg;
    fp_task_mark_seen(a->srv, t, a->now_us);
}

int fp_task_seen_id(struct fp_server *srv, const char *id, int64_t now_us)
{
    struct {
        struct fp_server *srv;
        int64_t now_us;
    } a = { srv, now_us };
    return fp_tasks_with(srv, id, seen_cb, &a);
}

void fp_detect_reset(struct fp_server *srv)
{
    pthread_mutex_lock(&srv->det_mu);
    srv->det_len = 0;
    srv->det_epoch_us = fp_now_us();
    pthread_mutex_unlock(&srv->det_mu);
}

static int by_created(const void *a, const void *b)
{
    const struct fp_detect_rec *x = a, *y = b;
    return (x->created_us > y->created_us) - (x->created_us < y->created_us);
}

static int by_delay(const void *a, const void *b)
{
    const struct fp_detect_rec *x = a, *y = b;
    return (x->delay_us > y->delay_us) - (x->delay_us < y->delay_us);
}

void fp_detect_json(struct fp_server *srv, struct fp_buf *b, size_t skip)
{
    pthread_mutex_lock(&srv->det_mu);
    size_t n = srv->det_len;
    struct fp_detect_rec *r = malloc((n ? n : 1) * sizeof *r);
    if (!r)
        abort();
    memcpy(r, srv->det, n * sizeof *r);
    pthread_mutex_unlock(&srv->det_mu);
    qsort(r, n, sizeof *r, by_created);
    if (skip > n)
        skip = n;
    struct fp_detect_rec *k = r + skip;
    size_t m = n - skip;
    double polls = 0, delay = 0;
    for (size_t i = 0; i < m; i++) {
        polls += k[i].polls;
        delay += (double)k[i].delay_us;
    }
    qsort(k, m, sizeof *k, by_delay);
    /* nearest rank */
    double p50 = m ? (double)k[(m * 50 + 99) / 100 - 1].delay_us : 0;
    double p95 = m ? (double)k[(m * 95 + 99) / 100 - 1].delay_us : 0;
    fp_buf_fmt(b,
               "{\"tasks\":%zu,\"skipped\":%zu,\"polls_per_task\":%.3f,\"delay_mean_ms\":%.1f,"
               "\"delay_p50_ms\":%.1f,\"delay_p95_ms\":%.1f}",
               m, skip, m ? polls / (double)m : 0.0, m ? delay / (double)m / 1000.0 : 0.0,
               p50 / 1000.0, p95 / 1000.0);
    free(r);
}

/* --------------------------------------------------------------- window */

int fp_window_take(struct fp_server *srv, int64_t now_us)
{
    int rc = 0;
    pthread_mutex_lock(&srv->win_mu);
    int64_t horizon = now_us - srv->win_s * 1000000;
    while (srv->win_len > 0 && srv->win_ring[srv->win_head] <= horizon) {
        srv->win_head = (srv->win_head + 1) % srv->win_cap;
        srv->win_len--;
    }
    if (srv->win_limit > 0 && srv->win_len >= (size_t)srv->win_limit) {
        rc = -1;
    } else {
        if (srv->win_len == srv->win_cap) {
            size_t nc = srv->win_cap ? srv->win_cap * 2 : 1024;
            int64_t *r = malloc(nc * sizeof *r);
            if (!r)
                abort();
            for (size_t i = 0; i < srv->win_len; i++)
                r[i] = srv->win_ring[(srv->win_head + i) % srv->win_cap];
            free(srv->win_ring);
            srv->win_ring = r;
            srv->win_cap = nc;
            srv->win_head = 0;
        }
        srv->win_ring[(srv->win_head + srv->win_len) % srv->win_cap] = now_us;
        srv->win_len++;
        fp_atomic_max(&srv->st[FP_KIE].max_creates_in_window, srv->win_len);
    }
    pthread_mutex_unlock(&srv->win_mu);
    return rc;
}

/* ---------------------------------------------------------------- stats */

void fp_atomic_max(atomic_ullong *a, unsigned long long v)
{
    unsigned long long cur = atomic_load_explicit(a, memory_order_relaxed);
    while (cur < v && !atomic_compare_exchange_weak(a, &cur, v))
        ;
}

void fp_stats_reset(struct fp_server *srv)
{
    for (int p = 0; p < FP_NPROV; p++) {
        struct fp_pstats *s = &srv->st[p];
        atomic_store(&s->creates, 0);
        atomic_store(&s->polls, 0);
        atomic_store(&s->cancels, 0);
        atomic_store(&s->tasks_created, 0);
        atomic_store(&s->rate_limited, 0);
        atomic_store(&s->faults_injected, 0);
        atomic_store(&s->max_creates_in_window, 0);
        for (int i = 0; i < 600; i++)
            atomic_store(&s->by_status[i], 0);
    }
    atomic_store(&srv->requests, 0);
    atomic_store(&srv->max_connections_open, atomic_load(&srv->connections_open));
    /* The window keeps its timestamps (the limit still applies); only the
   * high-water mark restarts, from what is in the window now. */
    pthread_mutex_lock(&srv->win_mu);
    atomic_store(&srv->st[FP_KIE].max_creates_in_window, srv->win_len);
    pthread_mutex_unlock(&srv->win_mu);
}

static void stats_status(struct fp_buf *b, struct fp_pstats *s)
{
    fp_buf_str(b, "\"by_status\":{");
    int first = 1;
    for (int i = 0; i < 600; i++) {
        unsigned long long n = atomic_load(&s->by_status[i]);
        if (n) {
            fp_buf_fmt(b, "%s\"%d\":%llu", first ? "" : ",", i, n);
            first = 0;
        }
    }
    fp_buf_str(b, "}");
}

void fp_stats_json(struct fp_server *srv, struct fp_buf *b)
{
    static const char *const names[FP_NPROV] = { "kie", "replicate", "other" };
    int64_t now = fp_now_us();
    fp_buf_str(b, "{");
    for (int p = 0; p < FP_NPROV; p++) {
        struct fp_pstats *s = &srv->st[p];
        fp_buf_fmt(b, "\"%s\":{", names[p]);
        if (p != FP_OTHER) {
            fp_buf_fmt(b,
                       "\"creates\":%llu,\"polls\":%llu,\"cancels\":%llu,\"tasks_created\":%llu,"
                       "\"tasks_active\":%" PRIu64
                       ",\"rate_limited\":%llu,\"faults_injected\":%llu,",
                       atomic_load(&s->creates), atomic_load(&s->polls), atomic_load(&s->cancels),
                       atomic_load(&s->tasks_created), fp_tasks_active(srv, p, now),
                       atomic_load(&s->rate_limited), atomic_load(&s->faults_injected));
            if (p == FP_KIE) {
                pthread_mutex_lock(&srv->win_mu);
                int lim = srv->win_limit;
                long long ws = (long long)srv->win_s;
                pthread_mutex_unlock(&srv->win_mu);
                fp_buf_fmt(b,
                           "\"max_creates_in_window\":%llu,\"window_limit\":%d,\"window_s\":%lld,",
                           atomic_load(&s->max_creates_in_window), lim, ws);
            }
        }
        stats_status(b, s);
        fp_buf_str(b, "},");
    }
    fp_buf_fmt(b,
               "\"requests\":%llu,\"connections_open\":%llu,\"max_connections_open\":%llu,"
               "\"connections_total\":%llu,\"suspended\":%llu,\"gen_ms\":%lld,"
               "\"callbacks_sent\":%llu,\"callbacks_failed\":%llu,\"callbacks_retried\":%llu}",
               atomic_load(&srv->requests), atomic_load(&srv->connections_open),
               atomic_load(&srv->max_connections_open), atomic_load(&srv->connections_total),
               atomic_load(&srv->suspended), (long long)atomic_load(&srv->gen_ms),
               atomic_load(&srv->callbacks_sent), atomic_load(&srv->callbacks_failed),
               atomic_load(&srv->callbacks_retried));
}

/* -------------------------------------------------------------- buffers */

void fp_buf_add(struct fp_buf *b, const char *s, size_t n)
{
    if (b->len + n + 1 > b->cap) {
        size_t nc = b->cap ? b->cap : 256;
        while (nc < b->len + n + 1)
            nc *= 2;
        char *p = realloc(b->p, nc);
        if (!p)
            abort();
        b->p = p;
        b->cap = nc;
    }
    memcpy(b->p + b->len, s, n);
    b->len += n;
    b->p[b->len] = 0;
}

void fp_buf_str(struct fp_buf *b, const char *s)
{
    fp_buf_add(b, s, strlen(s));
}

void fp_buf_fmt(struct fp_buf *b, const char *fmt, ...)
{
    char tmp[512];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(tmp, sizeof tmp, fmt, ap);
    va_end(ap);
    if (n < 0)
        return;
    if ((size_t)n < sizeof tmp) {
        fp_buf_add(b, tmp, (size_t)n);
        return;
    }
    char *big = malloc((size_t)n + 1);
    if (!big)
        abort();
    va_start(ap, fmt);
    vsnprintf(big, (size_t)n + 1, fmt, ap);
    va_end(ap);
    fp_buf_add(b, big, (size_t)n);
    free(big);
}

void fp_buf_json(struct fp_buf *b, const char *s)
{
    static const char hex[] = "0123456789abcdef";
    fp_buf_add(b, "\"", 1);
    const char *run = s;
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c >= 0x20 && c != '"' && c != '\\')
            continue;
        fp_buf_add(b, run, (size_t)(s - run));
        run = s + 1;
        char esc[6] = { '\\', 0, 0, 0, 0, 0 };
        size_t n = 2;
        switch (c) {
        case '"':
            esc[1] = '"';
            break;
        case '\\':
            esc[1] = '\\';
            break;
        case '\n':
            esc[1] = 'n';
            break;
        case '\r':
            esc[1] = 'r';
            break;
        case '\t':
            esc[1] = 't';
            break;
        default:
            esc[1] = 'u';
            esc[2] = '0';
            esc[3] = '0';
            esc[4] = hex[c >> 4];
            esc[5] = hex[c & 15];
            n = 6;
        }
        fp_buf_add(b, esc, n);
    }
    fp_buf_add(b, run, (size_t)(s - run));
    fp_buf_add(b, "\"", 1);
}

void fp_iso_time(int64_t us, char *out, size_t cap)
{
    time_t sec = (time_t)(us / 1000000);
    struct tm tm;
    gmtime_r(&sec, &tm);
    char tmp[32];
    strftime(tmp, sizeof tmp, "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(out, cap, "%s.%06dZ", tmp, (int)(us % 1000000));
}
