/* metrics_render.c — the Prometheus text 0.0.4 page over a snapshot (struct
 * m_data, metrics_int.h) and the callback counters. Pure: no lock, no clock,
 * no I/O; metrics.c copies the snapshot out under its lock and calls
 * metrics_page() on the copy, from any thread. */
#include "worker/metrics_int.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const ledger_counter_names[] = {
    "switchyard_ledger_tasks_resumed_total",   "switchyard_ledger_jobs_skipped_done_total",
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
    "switchyard_ledger_write_latency_seconds",
    "switchyard_ledger_created_window_seconds",
    "switchyard_ledger_takeover_seconds",
};
static const char *const ledger_hist_help[] = {
    "Ledger record produce to broker acknowledgement.",
    "Create reply naming a task to the acknowledgement of its created record (the window a crash can pay twice).",
    "Partition assigned to its jobs running (ledger partition read).",
};
static const char *const endpoint_names[] = { "create", "poll", "cancel" };

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
    put(o, "%s_sum%s%.*s%s %.17g\n", name, l ? "{" : "", l ? (int)l - 1 : 0, labels, l ? "}" : "",
        sum);
    put(o, "%s_count%s%.*s%s %llu\n", name, l ? "{" : "", l ? (int)l - 1 : 0, labels, l ? "}" : "",
        (unsigned long long)count);
}

static void render(struct out *o, const struct m_data *d)
{
    head(o, "switchyard_jobs_consumed_total", "counter",
         "Jobs taken from the input (lines or messages, invalid ones included).");
    put(o, "switchyard_jobs_consumed_total %llu\n", (unsigned long long)d->consumed);
    head(o, "switchyard_jobs_succeeded_total", "counter", "Jobs that ended with status succeeded.");
    put(o, "switchyard_jobs_succeeded_total %llu\n", (unsigned long long)d->succeeded);
    head(o, "switchyard_jobs_failed_total", "counter",
         "Jobs that ended with status failed, by error.class.");
    for (size_t i = 0; i < d->n_classes; i++)
        put(o, "switchyard_jobs_failed_total{class=\"%s\"} %llu\n", d->classes[i].name,
            (unsigned long long)d->classes[i].n);
    head(o, "switchyard_jobs_dead_lettered_total", "counter",
         "Messages sent to the dead-letter topic.");
    put(o, "switchyard_jobs_dead_lettered_total %llu\n", (unsigned long long)d->dead_lettered);
    head(o, "switchyard_jobs_in_flight", "gauge", "Jobs started and not yet finished.");
    put(o, "switchyard_jobs_in_flight %llu\n", (unsigned long long)d->in_flight);
    head(o, "switchyard_job_duration_seconds", "histogram",
         "Time from reading a job to its result.");
    histogram(o, "switchyard_job_duration_seconds", "", job_buckets, d->job_buckets, N_JOB_B,
              d->job_count, d->job_sum);

    char lab[160], st[24];
    head(o, "switchyard_provider_requests_total", "counter",
         "Provider HTTP requests by endpoint and status (HTTP code, transport or timeout).");
    for (size_t i = 0; i < d->n_prov; i++)
        for (int k = 0; k < 3; k++)
            for (size_t s = 0; s < d->prov[i].ep[k].n_st; s++) {
                status_label(d->prov[i].ep[k].st[s].status, st, sizeof st);
                put(o,
                    "switchyard_provider_requests_total{provider=\"%s\",endpoint=\"%s\",status=\"%s\"} %llu\n",
                    d->prov[i].name, endpoint_names[k], st,
                    (unsigned long long)d->prov[i].ep[k].st[s].n);
            }
    head(o, "switchyard_provider_request_duration_seconds", "histogram",
         "Provider HTTP request duration.");
    for (size_t i = 0; i < d->n_prov; i++)
        for (int k = 0; k < 3; k++) {
            const struct m_endpoint *e = &d->prov[i].ep[k];
            if (e->count == 0)
                continue;
            snprintf(lab, sizeof lab, "provider=\"%s\",endpoint=\"%s\",", d->prov[i].name,
                     endpoint_names[k]);
            histogram(o, "switchyard_provider_request_duration_seconds", lab, req_buckets,
                      e->buckets, N_REQ_B, e->count, e->sum);
        }
    head(o, "switchyard_provider_breaker_state", "gauge",
         "Circuit breaker: 0 closed, 1 half-open, 2 open.");
    for (size_t i = 0; i < d->n_prov; i++)
        if (d->prov[i].present)
            put(o, "switchyard_provider_breaker_state{provider=\"%s\"} %d\n", d->prov[i].name,
                d->prov[i].breaker);
    head(o, "switchyard_provider_rate_limit_waits_total", "counter",
         "Requests held back by the provider's rate limiter or in-flight cap.");
    for (size_t i = 0; i < d->n_prov; i++)
        if (d->prov[i].present)
            put(o, "switchyard_provider_rate_limit_waits_total{provider=\"%s\"} %llu\n",
                d->prov[i].name, (unsigned long long)d->prov[i].rl_waits);
    head(o, "switchyard_provider_rate_limited_total", "counter",
         "429 replies received from the provider.");
    for (size_t i = 0; i < d->n_prov; i++)
        if (d->prov[i].present)
            put(o, "switchyard_provider_rate_limited_total{provider=\"%s\"} %llu\n",
                d->prov[i].name, (unsigned long long)d->prov[i].rl_429);
    head(o, "switchyard_poll_expected_seconds", "gauge",
         "Learned generation time of a provider model (task created to finished), by quantile.");
    for (size_t i = 0; i < d->n_prov; i++)
        for (size_t k = 0; d->prov[i].present && k < d->prov[i].n_plans; k++) {
            const struct m_plan *pl = &d->prov[i].plans[k];
            put(o,
                "switchyard_poll_expected_seconds{provider=\"%s\",model=\"%s\",quantile=\"0.5\"} %.3f\n",
                d->prov[i].name, pl->model, pl->q50_s);
            put(o,
                "switchyard_poll_expected_seconds{provider=\"%s\",model=\"%s\",quantile=\"0.95\"} %.3f\n",
                d->prov[i].name, pl->model, pl->q95_s);
        }
    head(o, "switchyard_provider_retry_budget_balance", "gauge",
         "Retries the provider's retry budget allows now.");
    for (size_t i = 0; i < d->n_prov; i++)
        if (d->prov[i].present)
            put(o, "switchyard_provider_retry_budget_balance{provider=\"%s\"} %.17g\n",
                d->prov[i].name, d->prov[i].budget);
    if (d->kafka) {
        head(o, "switchyard_partition_in_flight", "gauge",
             "Consumed offsets of the partition not yet finished.");
        for (size_t i = 0; i < d->n_parts; i++)
            put(o, "switchyard_partition_in_flight{partition=\"%d\"} %llu\n", (int)d->parts[i].p,
                (unsigned long long)d->parts[i].in_flight);
        head(o, "switchyard_partition_committed_offset", "gauge",
             "Offset stored for commit (next to consume); -1 when none yet.");
        for (size_t i = 0; i < d->n_parts; i++)
            put(o, "switchyard_partition_committed_offset{partition=\"%d\"} %lld\n",
                (int)d->parts[i].p, (long long)d->parts[i].committed);
        head(o, "switchyard_partition_commit_stall_seconds", "gauge",
             "Seconds since the partition's committed offset last moved while work is pending; 0 when idle.");
        for (size_t i = 0; i < d->n_parts; i++)
            put(o, "switchyard_partition_commit_stall_seconds{partition=\"%d\"} %.3f\n",
                (int)d->parts[i].p, d->parts[i].stall_s);
        for (int i = 0; i < METRICS_LEDGER_NEVENTS; i++) {
            head(o, ledger_counter_names[i], "counter", ledger_counter_help[i]);
            put(o, "%s %llu\n", ledger_counter_names[i], (unsigned long long)d->ledger[i]);
        }
        for (int i = 0; i < METRICS_LEDGER_NHIST; i++) {
            head(o, ledger_hist_names[i], "histogram", ledger_hist_help[i]);
            histogram(o, ledger_hist_names[i], "", ledger_buckets, d->ledger_h[i].b, N_LEDGER_B,
                      d->ledger_h[i].count, d->ledger_h[i].sum);
        }
        head(o, "switchyard_consumer_paused", "gauge",
             "1 while consumption is paused (backpressure or shutdown).");
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
            put(o, "switchyard_publish_abandoned_total{kind=\"%s\",reason=\"%s\"} %llu\n",
                d->abandoned[i].kind, d->abandoned[i].reason,
                (unsigned long long)d->abandoned[i].n);
        head(o, "switchyard_ready", "gauge", "1 when /healthz answers 200 (ready), else 0.");
        put(o, "switchyard_ready %d\n", d->ready);
    }
}

static void render_callbacks(struct out *o, const struct m_cbs *c)
{
    static const char *const results[METRICS_CB_NRESULTS] = { "accepted",      "duplicate",
                                                              "bad_signature", "stale",
                                                              "invalid",       "busy" };
    head(o, "switchyard_callbacks_received_total", "counter",
         "Provider callbacks received, by how they were answered.");
    for (size_t i = 0; i < c->n_p; i++)
        for (int r = 0; r < METRICS_CB_NRESULTS; r++)
            put(o, "switchyard_callbacks_received_total{provider=\"%s\",result=\"%s\"} %llu\n",
                c->p[i].name, results[r], (unsigned long long)c->p[i].n[r]);
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

char *metrics_page(const struct m_data *d, const struct m_cbs *c)
{
    struct out o = { .p = malloc(16384), .cap = 16384 };
    if (!o.p)
        return NULL;
    o.p[0] = '\0';
    render(&o, d);
    render_callbacks(&o, c);
    if (o.oom) {
        free(o.p);
        return NULL;
    }
    return o.p;
}
