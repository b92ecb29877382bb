/* metrics.c — counters, the snapshot and the libmicrohttpd listener.
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

#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <microhttpd.h>

#include "core/sy.h"
#include "core/log.h"
#include "worker/tcplisten.h"

#define M_PROVIDERS 16
#define M_STATUSES 24
#define M_CLASSES 16
#define M_PARTITIONS 512
#define M_TICK_MS 250
#define M_STALE_MS 5000
#define M_ST_OTHER (-2L)

static const double req_buckets[] = { .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30 };
static const double job_buckets[] = { .1, .25, .5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1800 };
#define N_REQ_B (sizeof req_buckets / sizeof req_buckets[0])
#define N_JOB_B (sizeof job_buckets / sizeof job_buckets[0])
static const double ledger_buckets[] = { .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30 };
#define N_LEDGER_B (sizeof ledger_buckets / sizeof ledger_buckets[0])
static const char *const ledger_counter_names[] = {
    "switchyard_ledger_tasks_resumed_total", "switchyard_ledger_jobs_skipped_done_total",
    "switchyard_ledger_tasks_recreated_total", "switchyard_ledger_read_timeouts_total",
    "switchyard_ledger_write_errors_total",
};
static const char *const ledger_counter_help[] = {
    "Jobs that resumed a provider task another worker created (task ledger).",
    "Jobs finished without running again: their ledger record says done.",
    "Resumed tasks the provider no longer knew: created again.",
    "Takeovers that gave up reading their ledger partition (ledger_read_timeout_ms).",
    "Ledger records that could not be written (jobs go on at-least-once).",
};
static const char *const ledger_hist_names[] = {
    "switchyard_ledger_write_latency_seconds", "switchyard_ledger_created_window_seconds",
    "switchyard_ledger_takeover_seconds",
};
static const char *const ledger_hist_help[] = {
    "Ledger record produce to broker acknowledgement.",
    "Create reply naming a task to the acknowledgement of its created record (the window a crash can pay twice).",
    "Partition assigned to its jobs running (ledger partition read).",
};
static const char *const endpoint_names[] = { "create", "poll", "cancel" };

struct m_status {
    long status;
    uint64_t n;
};

struct m_endpoint {
    struct m_status st[M_STATUSES];
    size_t n_st;
    uint64_t buckets[N_REQ_B]; /* non-cumulative; rendered cumulative */
    uint64_t count;
    double sum;
};

struct m_plan {
    char model[96];
    double q50_s, q95_s;
};

struct m_provider {
    char name[64];
    struct m_plan plans[METRICS_MAX_PLANS];
    size_t n_plans;
    struct m_endpoint ep[3];
    int present;        /* in the active config at the last collection */
    int breaker;        /* 0 closed, 1 half-open, 2 open */
    double budget;
    uint64_t rl_waits, rl_429;
};

struct m_class {
    char name[32];
    uint64_t n;
};

struct m_partition {
    int32_t p;
    uint64_t in_flight;
    int64_t committed;
    double stall_s;
};

#define M_ABANDONED 16

struct m_abandoned {
    char kind[16], reason[48];
    uint64_t n;
};

struct m_data {
    uint64_t consumed, succeeded, failed_total, dead_lettered, in_flight;
    struct m_class classes[M_CLASSES];
    size_t n_classes;
    uint64_t job_buckets[N_JOB_B], job_count;
    double job_sum;
    struct m_provider prov[M_PROVIDERS];
    size_t n_prov;
    struct m_partition parts[M_PARTITIONS];
    size_t n_parts;
    int kafka; /* partitions are reported (Kafka mode) */
    int paused;
    uint64_t in_flight_bytes, parked;
    struct m_abandoned abandoned[M_ABANDONED];
    size_t n_abandoned;
    int ready;
    char reason[160];
    int64_t heartbeat_ms;
    uint64_t ledger[METRICS_LEDGER_NEVENTS];
    struct {
        uint64_t b[N_LEDGER_B], count;
        double sum;
    } ledger_h[METRICS_LEDGER_NHIST];
};

/* Callback counters: written from the listener thread too, so under their own lock. */
struct m_cbs {
    struct {
        char name[64];
        uint64_t n[METRICS_CB_NRESULTS];
    } p[M_PROVIDERS];
    size_t n_p;
    uint64_t forwarded, handed_in;
    uint64_t dropped_unsigned, dropped_budget;
};

struct metrics {
    pthread_mutex_t cb_mu;
    struct m_cbs cbs; /* under cb_mu */
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

void metrics_request(struct metrics *m, const char *prov, enum metrics_endpoint ep, long status, double seconds)
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

void metrics_partition(struct metrics *m, int32_t partition, size_t in_flight, int64_t committed, double stall_s)
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
    while (i < d->n_abandoned && (strcmp(d->abandoned[i].kind, kind) != 0 || strcmp(d->abandoned[i].reason, reason) != 0))
        i++;
    if (i == d->n_abandoned && d->n_abandoned < M_ABANDONED) {
        snprintf(d->abandoned[i].kind, sizeof d->abandoned[i].kind, "%s", kind);
        snprintf(d->abandoned[i].reason, sizeof d->abandoned[i].reason, "%s", reason);
        d->n_abandoned++;
    }
    if (i < d->n_abandoned)
        d->abandoned[i].n++;
}

const char *metrics_kafka_unready(int started, int closing, int stopping, int in_group, int paused, size_t in_flight)
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

void metrics_plan(struct metrics *m, const char *prov, const char *model, double q50_s, double q95_s)
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

/* ---- rendering (any thread, from a private copy) ---- */

struct out {
    char *p;
    size_t n, cap;
    int oom;
};

static void put(struct out *o, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void put(struct out *o, const char *fmt, ...)
{
    if (o->oom)
        return;
    for (;;) {
        va_list ap;
        va_start(ap, fmt);
        int k = vsnprintf(o->p + o->n, o->cap - o->n, fmt, ap);
        va_end(ap);
        if (k < 0) {
            o->oom = 1;
            return;
        }
        if ((size_t)k < o->cap - o->n) {
            o->n += (size_t)k;
            return;
        }
        size_t cap = o->cap * 2 + (size_t)k;
        char *np = realloc(o->p, cap);
        if (!np) {
            o->oom = 1;
            return;
        }
        o->p = np;
        o->cap = cap;
    }
}

static void head(struct out *o, const char *name, const char *type, const char *help)
{
    put(o, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

static void status_label(long st, char *buf, size_t cap)
{
    if (st == METRICS_ST_TRANSPORT)
        snprintf(buf, cap, "transport");
    else if (st == METRICS_ST_TIMEOUT)
        snprintf(buf, cap, "timeout");
    else if (st == M_ST_OTHER)
        snprintf(buf, cap, "other");
    else
        snprintf(buf, cap, "%ld", st);
}

/* Histogram lines for non-cumulative counts b[n] (+Inf = count). labels is
 * "" or `key="v",` pairs ending in a comma. */
static void histogram(struct out *o, const char *name, const char *labels, const double *bounds,
                      const uint64_t *b, size_t n, uint64_t count, double sum)
{
    uint64_t cum = 0;
    for (size_t i = 0; i < n; i++) {
        cum += b[i];
        put(o, "%s_bucket{%sle=\"%g\"} %llu\n", name, labels, bounds[i], (unsigned long long)cum);
    }
    put(o, "%s_bucket{%sle=\"+Inf\"} %llu\n", name, labels, (unsigned long long)count);
    size_t l = strlen(labels);
    put(o, "%s_sum%s%.*s%s %.17g\n", name, l ? "{" : "", l ? (int)l - 1 : 0, labels, l ? "}" : "", sum);
    put(o, "%s_count%s%.*s%s %llu\n", name, l ? "{" : "", l ? (int)l - 1 : 0, labels, l ? "}" : "",
        (unsigned long long)count);
}

static void render(struct out *o, const struct m_data *d)
{
    head(o, "switchyard_jobs_consumed_total", "counter", "Jobs taken from the input (lines or messages, invalid ones included).");
    put(o, "switchyard_jobs_consumed_total %llu\n", (unsigned long long)d->consumed);
    head(o, "switchyard_jobs_succeeded_total", "counter", "Jobs that ended with status succeeded.");
    put(o, "switchyard_jobs_succeeded_total %llu\n", (unsigned long long)d->succeeded);
    head(o, "switchyard_jobs_failed_total", "counter", "Jobs that ended with status failed, by error.class.");
    for (size_t i = 0; i < d->n_classes; i++)
        put(o, "switchyard_jobs_failed_total{class=\"%s\"} %llu\n", d->classes[i].name,
            (unsigned long long)d->classes[i].n);
    head(o, "switchyard_jobs_dead_lettered_total", "counter", "Messages sent to the dead-letter topic.");
    put(o, "switchyard_jobs_dead_lettered_total %llu\n", (unsigned long long)d->dead_lettered);
    head(o, "switchyard_jobs_in_flight", "gauge", "Jobs started and not yet finished.");
    put(o, "switchyard_jobs_in_flight %llu\n", (unsigned long long)d->in_flight);
    head(o, "switchyard_job_duration_seconds", "histogram", "Time from reading a job to its result.");
    histogram(o, "switchyard_job_duration_seconds", "", job_buckets, d->job_buckets, N_JOB_B, d->job_count,
              d->job_sum);

    char lab[160], st[24];
    head(o, "switchyard_provider_requests_total", "counter",
         "Provider HTTP requests by endpoint and status (HTTP code, transport or timeout).");
    for (size_t i = 0; i < d->n_prov; i++)
        for (int k = 0; k < 3; k++)
            for (size_t s = 0; s < d->prov[i].ep[k].n_st; s++) {
                status_label(d->prov[i].ep[k].st[s].status, st, sizeof st);
                put(o, "switchyard_provider_requests_total{provider=\"%s\",endpoint=\"%s\",status=\"%s\"} %llu\n",
                    d->prov[i].name, endpoint_names[k], st, (unsigned long long)d->prov[i].ep[k].st[s].n);
            }
    head(o, "switchyard_provider_request_duration_seconds", "histogram", "Provider HTTP request duration.");
    for (size_t i = 0; i < d->n_prov; i++)
        for (int k = 0; k < 3; k++) {
            const struct m_endpoint *e = &d->prov[i].ep[k];
            if (e->count == 0)
                continue;
            snprintf(lab, sizeof lab, "provider=\"%s\",endpoint=\"%s\",", d->prov[i].name, endpoint_names[k]);
            histogram(o, "switchyard_provider_request_duration_seconds", lab, req_buckets, e->buckets, N_REQ_B,
                      e->count, e->sum);
        }
    head(o, "switchyard_provider_breaker_state", "gauge", "Circuit breaker: 0 closed, 1 half-open, 2 open.");
    for (size_t i = 0; i < d->n_prov; i++)
        if (d->prov[i].present)
            put(o, "switchyard_provider_breaker_state{provider=\"%s\"} %d\n", d->prov[i].name, d->prov[i].breaker);
    head(o, "switchyard_provider_rate_limit_waits_total", "counter",
         "Requests held back by the provider's rate limiter or in-flight cap.");
    for (size_t i = 0; i < d->n_prov; i++)
        if (d->prov[i].present)
            put(o, "switchyard_provider_rate_limit_waits_total{provider=\"%s\"} %llu\n", d->prov[i].name,
                (unsigned long long)d->prov[i].rl_waits);
    head(o, "switchyard_provider_rate_limited_total", "counter", "429 replies received from the provider.");
    for (size_t i = 0; i < d->n_prov; i++)
        if (d->prov[i].present)
            put(o, "switchyard_provider_rate_limited_total{provider=\"%s\"} %llu\n", d->prov[i].name,
                (unsigned long long)d->prov[i].rl_429);
    head(o, "switchyard_poll_expected_seconds", "gauge",
         "Learned generation time of a provider model (task created to finished), by quantile.");
    for (size_t i = 0; i < d->n_prov; i++)
        for (size_t k = 0; d->prov[i].present && k < d->prov[i].n_plans; k++) {
            const struct m_plan *pl = &d->prov[i].plans[k];
            put(o, "switchyard_poll_expected_seconds{provider=\"%s\",model=\"%s\",quantile=\"0.5\"} %.3f\n",
                d->prov[i].name, pl->model, pl->q50_s);
            put(o, "switchyard_poll_expected_seconds{provider=\"%s\",model=\"%s\",quantile=\"0.95\"} %.3f\n",
                d->prov[i].name, pl->model, pl->q95_s);
        }
    head(o, "switchyard_provider_retry_budget_balance", "gauge", "Retries the provider's retry budget allows now.");
    for (size_t i = 0; i < d->n_prov; i++)
        if (d->prov[i].present)
            put(o, "switchyard_provider_retry_budget_balance{provider=\"%s\"} %.17g\n", d->prov[i].name,
                d->prov[i].budget);
    if (d->kafka) {
        head(o, "switchyard_partition_in_flight", "gauge", "Consumed offsets of the partition not yet finished.");
        for (size_t i = 0; i < d->n_parts; i++)
            put(o, "switchyard_partition_in_flight{partition=\"%d\"} %llu\n", (int)d->parts[i].p,
                (unsigned long long)d->parts[i].in_flight);
        head(o, "switchyard_partition_committed_offset", "gauge",
             "Offset stored for commit (next to consume); -1 when none yet.");
        for (size_t i = 0; i < d->n_parts; i++)
            put(o, "switchyard_partition_committed_offset{partition=\"%d\"} %lld\n", (int)d->parts[i].p,
                (long long)d->parts[i].committed);
        head(o, "switchyard_partition_commit_stall_seconds", "gauge",
             "Seconds since the partition's committed offset last moved while work is pending; 0 when idle.");
        for (size_t i = 0; i < d->n_parts; i++)
            put(o, "switchyard_partition_commit_stall_seconds{partition=\"%d\"} %.3f\n", (int)d->parts[i].p,
                d->parts[i].stall_s);
        for (int i = 0; i < METRICS_LEDGER_NEVENTS; i++) {
            head(o, ledger_counter_names[i], "counter", ledger_counter_help[i]);
            put(o, "%s %llu\n", ledger_counter_names[i], (unsigned long long)d->ledger[i]);
        }
        for (int i = 0; i < METRICS_LEDGER_NHIST; i++) {
            head(o, ledger_hist_names[i], "histogram", ledger_hist_help[i]);
            histogram(o, ledger_hist_names[i], "", ledger_buckets, d->ledger_h[i].b, N_LEDGER_B,
                      d->ledger_h[i].count, d->ledger_h[i].sum);
        }
        head(o, "switchyard_consumer_paused", "gauge", "1 while consumption is paused (backpressure or shutdown).");
        put(o, "switchyard_consumer_paused %d\n", d->paused);
        head(o, "switchyard_in_flight_bytes", "gauge",
             "Bytes held by jobs in flight and their messages (worker.max_in_flight_bytes).");
        put(o, "switchyard_in_flight_bytes %llu\n", (unsigned long long)d->in_flight_bytes);
        head(o, "switchyard_publish_retry_waiting", "gauge",
             "Results and DLQ copies waiting to be sent again after a transient error.");
        put(o, "switchyard_publish_retry_waiting %llu\n", (unsigned long long)d->parked);
        head(o, "switchyard_publish_abandoned_total", "counter",
             "Results and DLQ copies given up after a permanent error (their offsets moved on).");
        for (size_t i = 0; i < d->n_abandoned; i++)
            put(o, "switchyard_publish_abandoned_total{kind=\"%s\",reason=\"%s\"} %llu\n", d->abandoned[i].kind,
                d->abandoned[i].reason, (unsigned long long)d->abandoned[i].n);
        head(o, "switchyard_ready", "gauge", "1 when /healthz answers 200 (ready), else 0.");
        put(o, "switchyard_ready %d\n", d->ready);
    }
}

static void render_callbacks(struct out *o, const struct m_cbs *c)
{
    static const char *const results[METRICS_CB_NRESULTS] = { "accepted", "duplicate", "bad_signature", "stale",
                                                              "invalid", "busy" };
    head(o, "switchyard_callbacks_received_total", "counter", "Provider callbacks received, by how they were answered.");
    for (size_t i = 0; i < c->n_p; i++)
        for (int r = 0; r < METRICS_CB_NRESULTS; r++)
            put(o, "switchyard_callbacks_received_total{provider=\"%s\",result=\"%s\"} %llu\n", c->p[i].name,
                results[r], (unsigned long long)c->p[i].n[r]);
    head(o, "switchyard_callbacks_forwarded_total", "counter",
         "Callbacks for another worker's partition produced to the callback topic.");
    put(o, "switchyard_callbacks_forwarded_total %llu\n", (unsigned long long)c->forwarded);
    head(o, "switchyard_callbacks_handed_in_total", "counter",
         "Callbacks read from the callback topic that completed a job here.");
    put(o, "switchyard_callbacks_handed_in_total %llu\n", (unsigned long long)c->handed_in);
    head(o, "switchyard_callbacks_handoff_dropped_total", "counter",
         "Callbacks for another worker's partition not handed over (the job's safety poll covers them).");
    put(o, "switchyard_callbacks_handoff_dropped_total{reason=\"unsigned\"} %llu\n",
        (unsigned long long)c->dropped_unsigned);
    put(o, "switchyard_callbacks_handoff_dropped_total{reason=\"budget\"} %llu\n",
        (unsigned long long)c->dropped_budget);
}

char *metrics_render(struct metrics *m)
{
    struct m_data *d = malloc(sizeof *d);
    struct out o = { .p = malloc(16384), .cap = 16384 };
    if (!d || !o.p) {
        free(d);
        free(o.p);
        return NULL;
    }
    pthread_mutex_lock(&m->mu);
    memcpy(d, &m->snap, sizeof *d);
    pthread_mutex_unlock(&m->mu);
    o.p[0] = '\0';
    render(&o, d);
    struct m_cbs cbs;
    pthread_mutex_lock(&m->cb_mu);
    memcpy(&cbs, &m->cbs, sizeof cbs);
    pthread_mutex_unlock(&m->cb_mu);
    render_callbacks(&o, &cbs);
    free(d);
    if (o.oom) {
        free(o.p);
        return NULL;
    }
    return o.p;
}

/* ---- the listener (its own thread) ---- */

static enum MHD_Result reply(struct MHD_Connection *c, unsigned code, char *body, const char *type)
{
    struct MHD_Response *r = MHD_create_response_from_buffer(strlen(body), body, MHD_RESPMEM_MUST_FREE);
    if (!r) {
        free(body);
        return MHD_NO;
    }
    MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, type);
    enum MHD_Result rc = MHD_queue_response(c, code, r);
    MHD_destroy_response(r);
    return rc;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *c, const char *url, const char *method,
                                  const char *version, const char *upload, size_t *upload_size, void **state)
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

int metrics_start(struct metrics *m, uv_loop_t *uv, const char *listen, const struct metrics_source *src,
                  char *err, size_t errlen)
{
    if (!listen || !listen[0])
        return SY_OK;
    m->src = *src;
    int v6 = 0;
    errno = 0;
    int fd = tcplisten_open("metrics", listen, &v6, err, errlen);
    if (fd < 0) {
        if (errno == EADDRINUSE) { /* most often: a second worker started with the same config */
            size_t n = strlen(err);
            snprintf(err + n, errlen - n,
                     " (another switchyard on this host with the same config? Run several workers as one "
                     "`switchyard --workers N` (worker i serves metrics on the port + i), or give each its own "
                     "worker.metrics_listen; \"\" turns metrics off)");
        }
        return SY_ERR;
    }
    collect(m); /* a first snapshot before anyone can ask */
    /* MHD_USE_AUTO: epoll (or poll), never select(), which refuses fds >= 1024 */
    unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_AUTO | MHD_USE_ERROR_LOG | (v6 ? MHD_USE_IPv6 : 0);
    m->daemon = MHD_start_daemon(flags, 0, NULL, NULL, on_request, m, MHD_OPTION_LISTEN_SOCKET, fd,
                                 MHD_OPTION_CONNECTION_LIMIT, (unsigned)32, MHD_OPTION_CONNECTION_TIMEOUT,
                                 (unsigned)10, MHD_OPTION_END);
    if (!m->daemon) {
        close(fd);
        snprintf(err, errlen, "metrics: cannot start the HTTP listener on %s", listen);
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
