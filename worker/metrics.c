/* metrics.c — counters, the snapshot and the libmicrohttpd listener; the
 * page itself is rendered by metrics_render.c.
 *
 * Two copies of the same fixed-size struct: `live` belongs to the loop thread
 * (every record function writes it), `snap` is what the listener reads. The
 * loop's 250 ms timer gathers the gauges into `live` and copies it into
 * `snap` under `mu`; the listener copies `snap` out under `mu` and renders
 * from its copy. So no field is ever read while being written (no torn
 * doubles), and the lock is held for one memcpy of ~100 KB at most.
 * The heartbeat is the time of the last copy: /healthz fails when it is
 * older than 5 s (a stuck loop), or when the collect callback says so.
 *
 * Fixed caps keep the struct flat: 16 providers (DISPATCH_MAX_PROVIDERS),
 * 8 poll plans each (METRICS_MAX_PLANS),
 * 24 distinct statuses per provider and endpoint (more go to "other"), 16
 * failure classes, 512 partitions (more are left off the page). */
#include "metrics.h"
#include "worker/metrics_int.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/sy.h"
#include "core/log.h"
#include "worker/httpd.h"

#define M_TICK_MS 250
#define M_STALE_MS 5000

struct metrics {
    pthread_mutex_t cb_mu;
    struct m_cbs cbs;   /* under cb_mu */
    struct m_data live; /* loop thread only */
    struct m_data snap; /* under mu */
    pthread_mutex_t mu;
    struct MHD_Daemon *daemon;
    uv_timer_t timer;
    int timer_on;
    struct metrics_source src;
};

struct metrics *metrics_new(void)
{
    struct metrics *m = calloc(1, sizeof *m);
    if (!m)
        return NULL;
    pthread_mutex_init(&m->mu, NULL);
    pthread_mutex_init(&m->cb_mu, NULL);
    m->live.ready = 1;
    return m;
}

void metrics_free(struct metrics *m)
{
    if (!m)
        return;
    if (m->daemon)
        MHD_stop_daemon(m->daemon);
    pthread_mutex_destroy(&m->mu);
    pthread_mutex_destroy(&m->cb_mu);
    free(m);
}

/* ---- recording (loop thread) ---- */

void metrics_consumed(struct metrics *m)
{
    if (m)
        m->live.consumed++;
}

void metrics_dead_lettered(struct metrics *m)
{
    if (m)
        m->live.dead_lettered++;
}

static size_t bucket_of(const double *b, size_t n, double v)
{
    size_t i = 0;
    while (i < n && v > b[i])
        i++;
    return i; /* n = only +Inf */
}

void metrics_job_done(struct metrics *m, int ok, const char *error_class, double duration_s)
{
    if (!m)
        return;
    struct m_data *d = &m->live;
    if (ok) {
        d->succeeded++;
    } else {
        d->failed_total++;
        const char *cls = error_class && error_class[0] ? error_class : "unknown";
        size_t i = 0;
        while (i < d->n_classes && strcmp(d->classes[i].name, cls) != 0)
            i++;
        if (i == d->n_classes && d->n_classes < M_CLASSES) {
            snprintf(d->classes[i].name, sizeof d->classes[i].name, "%s", cls);
            d->n_classes++;
        }
        if (i < d->n_classes)
            d->classes[i].n++;
    }
    if (duration_s >= 0) {
        size_t b = bucket_of(job_buckets, N_JOB_B, duration_s);
        if (b < N_JOB_B)
            d->job_buckets[b]++;
        d->job_count++;
        d->job_sum += duration_s;
    }
}

static struct m_provider *provider(struct m_data *d, const char *name)
{
    for (size_t i = 0; i < d->n_prov; i++) {
        if (strcmp(d->prov[i].name, name) == 0)
            return &d->prov[i];
    }
    if (d->n_prov == M_PROVIDERS)
        return NULL;
    struct m_provider *p = &d->prov[d->n_prov++];
    snprintf(p->name, sizeof p->name, "%s", name);
    return p;
}

void metrics_request(struct metrics *m, const char *prov, enum metrics_endpoint ep, long status,
                     double seconds)
{
    if (!m || !prov || (unsigned)ep > METRICS_CANCEL)
        return;
    struct m_provider *p = provider(&m->live, prov);
    if (!p)
        return;
    struct m_endpoint *e = &p->ep[ep];
    size_t i = 0;
    while (i < e->n_st && e->st[i].status != status)
        i++;
    if (i == e->n_st) {
        if (e->n_st < M_STATUSES - 1) {
            e->st[e->n_st++].status = status;
        } else {
            /* The last slot collects every status past the cap. */
            i = M_STATUSES - 1;
            if (e->n_st < M_STATUSES) {
                e->st[i].status = M_ST_OTHER;
                e->n_st = M_STATUSES;
            }
        }
    }
    e->st[i].n++;
    size_t b = bucket_of(req_buckets, N_REQ_B, seconds);
    if (b < N_REQ_B)
        e->buckets[b]++;
    e->count++;
    e->sum += seconds;
}

void metrics_partition(struct metrics *m, int32_t partition, size_t in_flight, int64_t committed,
                       double stall_s)
{
    if (!m || m->live.n_parts == M_PARTITIONS)
        return;
    struct m_partition *p = &m->live.parts[m->live.n_parts++];
    p->p = partition;
    p->in_flight = in_flight;
    p->committed = committed;
    p->stall_s = stall_s;
}

void metrics_kafka_flow(struct metrics *m, int paused, size_t bytes, size_t parked)
{
    if (!m)
        return;
    m->live.kafka = 1;
    m->live.paused = paused;
    m->live.in_flight_bytes = bytes;
    m->live.parked = parked;
}

void metrics_publish_abandoned(struct metrics *m, const char *kind, const char *reason)
{
    if (!m)
        return;
    struct m_data *d = &m->live;
    size_t i = 0;
    while (i < d->n_abandoned &&
           (strcmp(d->abandoned[i].kind, kind) != 0 || strcmp(d->abandoned[i].reason, reason) != 0))
        i++;
    if (i == d->n_abandoned && d->n_abandoned < M_ABANDONED) {
        snprintf(d->abandoned[i].kind, sizeof d->abandoned[i].kind, "%s", kind);
        snprintf(d->abandoned[i].reason, sizeof d->abandoned[i].reason, "%s", reason);
        d->n_abandoned++;
    }
    if (i < d->n_abandoned)
        d->abandoned[i].n++;
}

const char *metrics_kafka_unready(int started, int closing, int stopping, int in_group, int paused,
                                  size_t in_flight)
{
    if (!started || closing)
        return closing ? "shutting down" : "consumer not started";
    if (stopping)
        return "stopping";
    if (!in_group)
        return "consumer not in the group (no assignment yet)";
    if (paused && in_flight == 0)
        return "consumption paused with nothing in flight";
    return NULL;
}

void metrics_ready(struct metrics *m, int ready, const char *reason)
{
    if (!m)
        return;
    m->live.ready = ready;
    snprintf(m->live.reason, sizeof m->live.reason, "%s", ready || !reason ? "" : reason);
}

void metrics_callback(struct metrics *m, const char *provider, enum metrics_cb_result r)
{
    if (!m || !provider || (unsigned)r >= METRICS_CB_NRESULTS)
        return;
    pthread_mutex_lock(&m->cb_mu);
    size_t i = 0;
    while (i < m->cbs.n_p && strcmp(m->cbs.p[i].name, provider) != 0)
        i++;
    if (i == m->cbs.n_p && i < M_PROVIDERS)
        snprintf(m->cbs.p[m->cbs.n_p++].name, sizeof m->cbs.p[i].name, "%s", provider);
    if (i < m->cbs.n_p)
        m->cbs.p[i].n[r]++;
    pthread_mutex_unlock(&m->cb_mu);
}

static void bump_cb(struct metrics *m, uint64_t *field)
{
    if (!m)
        return;
    pthread_mutex_lock(&m->cb_mu);
    (*field)++;
    pthread_mutex_unlock(&m->cb_mu);
}

void metrics_callback_forwarded(struct metrics *m)
{
    bump_cb(m, m ? &m->cbs.forwarded : NULL);
}

void metrics_callback_handed_in(struct metrics *m)
{
    bump_cb(m, m ? &m->cbs.handed_in : NULL);
}

void metrics_callback_handoff_dropped(struct metrics *m, int unsigned_event)
{
    bump_cb(m, !m ? NULL : unsigned_event ? &m->cbs.dropped_unsigned : &m->cbs.dropped_budget);
}

void metrics_ledger(struct metrics *m, enum metrics_ledger_event ev)
{
    if (m && ev < METRICS_LEDGER_NEVENTS)
        m->live.ledger[ev]++;
}

void metrics_ledger_observe(struct metrics *m, enum metrics_ledger_hist h, double seconds)
{
    if (!m || h >= METRICS_LEDGER_NHIST)
        return;
    size_t i = 0;
    while (i < N_LEDGER_B && seconds > ledger_buckets[i])
        i++;
    if (i < N_LEDGER_B)
        m->live.ledger_h[h].b[i]++;
    m->live.ledger_h[h].count++;
    m->live.ledger_h[h].sum += seconds;
}

/* ---- collection (loop thread) ---- */

void metrics_in_flight(struct metrics *m, size_t n)
{
    if (m)
        m->live.in_flight = n;
}

void metrics_provider(struct metrics *m, const struct metrics_provider_gauges *g)
{
    struct m_provider *p = m && g->name ? provider(&m->live, g->name) : NULL;
    if (!p)
        return;
    p->present = 1;
    p->breaker = g->breaker;
    p->budget = g->budget;
    p->rl_waits = g->rate_limit_waits;
    p->rl_429 = g->rate_limited_429;
}

void metrics_plan(struct metrics *m, const char *prov, const char *model, double q50_s,
                  double q95_s)
{
    struct m_provider *p = m && prov && model ? provider(&m->live, prov) : NULL;
    if (!p || p->n_plans == METRICS_MAX_PLANS)
        return;
    struct m_plan *pl = &p->plans[p->n_plans++];
    snprintf(pl->model, sizeof pl->model, "%s", model);
    for (char *ch = pl->model; *ch; ch++) /* a label value: no escapes needed */
        if (*ch == '"' || *ch == '\\' || *ch == '\n')
            *ch = '_';
    pl->q50_s = q50_s;
    pl->q95_s = q95_s;
}

static void collect(struct metrics *m)
{
    struct m_data *d = &m->live;
    for (size_t i = 0; i < d->n_prov; i++) {
        d->prov[i].present = 0;
        d->prov[i].n_plans = 0;
    }
    d->n_parts = 0;
    if (m->src.collect)
        m->src.collect(m->src.ud, m);
    d->heartbeat_ms = sy_now_ms();
    pthread_mutex_lock(&m->mu);
    memcpy(&m->snap, d, sizeof *d);
    pthread_mutex_unlock(&m->mu);
}

static void on_tick(uv_timer_t *t)
{
    collect(t->data);
}

/* ---- rendering (any thread, from a private copy; the page is metrics_render.c) ---- */

char *metrics_render(struct metrics *m)
{
    struct m_data *d = malloc(sizeof *d);
    struct m_cbs cbs;
    if (!d)
        return NULL;
    pthread_mutex_lock(&m->mu);
    memcpy(d, &m->snap, sizeof *d);
    pthread_mutex_unlock(&m->mu);
    pthread_mutex_lock(&m->cb_mu);
    memcpy(&cbs, &m->cbs, sizeof cbs);
    pthread_mutex_unlock(&m->cb_mu);
    char *page = metrics_page(d, &cbs);
    free(d);
    return page;
}

/* ---- the listener (its own thread) ---- */

/* body is heap text (freed here in every case). */
static enum MHD_Result reply(struct MHD_Connection *c, unsigned code, char *body, const char *type)
{
    return httpd_reply(c, code, type, body, MHD_RESPMEM_MUST_FREE);
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *c, const char *url,
                                  const char *method, const char *version, const char *upload,
                                  size_t *upload_size, void **state)
{
    (void)version;
    (void)upload;
    (void)upload_size;
    (void)state;
    struct metrics *m = cls;
    const char *text = "text/plain; charset=utf-8";
    if (strcmp(method, "GET") != 0 && strcmp(method, "HEAD") != 0)
        return reply(c, MHD_HTTP_METHOD_NOT_ALLOWED, strdup("method not allowed\n"), text);
    if (strcmp(url, "/metrics") == 0) {
        char *page = metrics_render(m);
        if (!page)
            return MHD_NO;
        return reply(c, MHD_HTTP_OK, page, "text/plain; version=0.0.4; charset=utf-8");
    }
    if (strcmp(url, "/healthz") == 0) {
        pthread_mutex_lock(&m->mu);
        int64_t hb = m->snap.heartbeat_ms;
        int ready = m->snap.ready;
        char reason[160];
        snprintf(reason, sizeof reason, "%s", m->snap.reason);
        pthread_mutex_unlock(&m->mu);
        int64_t age = sy_now_ms() - hb;
        char buf[256];
        unsigned code = MHD_HTTP_SERVICE_UNAVAILABLE;
        if (age > M_STALE_MS)
            snprintf(buf, sizeof buf, "loop stalled: no heartbeat for %lld ms\n", (long long)age);
        else if (!ready)
            snprintf(buf, sizeof buf, "%s\n", reason[0] ? reason : "not ready");
        else {
            snprintf(buf, sizeof buf, "ok\n");
            code = MHD_HTTP_OK;
        }
        return reply(c, code, strdup(buf), text);
    }
    return reply(c, MHD_HTTP_NOT_FOUND, strdup("not found: try /metrics or /healthz\n"), text);
}

int metrics_start(struct metrics *m, uv_loop_t *uv, const char *listen,
                  const struct metrics_source *src, char *err, size_t errlen)
{
    if (!listen || !listen[0])
        return SY_OK;
    m->src = *src;
    collect(m); /* a first snapshot before anyone can ask */
    const struct httpd_opts ho = {
        .what = "metrics",
        .listen = listen,
        .on_request = on_request,
        .ud = m,
        .max_connections = 32,
        .timeout_s = 10,
    };
    m->daemon = httpd_start(&ho, err, errlen);
    if (!m->daemon) {
        if (errno == EADDRINUSE) { /* most often: a second worker started with the same config */
            size_t n = strlen(err);
            snprintf(
                    err + n, errlen - n,
                    " (another switchyard on this host with the same config? Run several workers as one "
                    "`switchyard --workers N` (worker i serves metrics on the port + i), or give each its own "
                    "worker.metrics_listen; \"\" turns metrics off)");
        }
        return SY_ERR;
    }
    uv_timer_init(uv, &m->timer);
    m->timer.data = m;
    uv_timer_start(&m->timer, on_tick, M_TICK_MS, M_TICK_MS);
    m->timer_on = 1;
    LOG_INFO(NULL, "metrics: serving /metrics and /healthz on %s", listen);
    return SY_OK;
}

void metrics_stop(struct metrics *m)
{
    if (!m)
        return;
    if (m->daemon) {
        MHD_stop_daemon(m->daemon);
        m->daemon = NULL;
    }
    if (m->timer_on) {
        m->timer_on = 0;
        uv_timer_stop(&m->timer);
        uv_close((uv_handle_t *)&m->timer, NULL);
    }
}
