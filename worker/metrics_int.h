/* metrics_int.h — private to metrics.c and metrics_render.c: the flat
 * snapshot struct the loop records into and the page is rendered from. */
#ifndef WORKER_METRICS_INT_H
#define WORKER_METRICS_INT_H

#include <stddef.h>
#include <stdint.h>

#include "worker/metrics.h"

#define M_PROVIDERS 16
#define M_STATUSES 24
#define M_CLASSES 16
#define M_PARTITIONS 512
#define M_ST_OTHER (-2L)

static const double req_buckets[] = { .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30 };
static const double job_buckets[] = { .1, .25, .5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1800 };
#define N_REQ_B (sizeof req_buckets / sizeof req_buckets[0])
#define N_JOB_B (sizeof job_buckets / sizeof job_buckets[0])
static const double ledger_buckets[] = { .001, .0025, .005, .01, .025, .05, .1,
                                         .25,  .5,    1,    2.5, 5,    10,  30 };
#define N_LEDGER_B (sizeof ledger_buckets / sizeof ledger_buckets[0])

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
    int present; /* in the active config at the last collection */
    int breaker; /* 0 closed, 1 half-open, 2 open */
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

/* The Prometheus text 0.0.4 page of snapshot d and callback counters c (both
 * borrowed). Caller frees. NULL on out of memory. Pure. */
char *metrics_page(const struct m_data *d, const struct m_cbs *c);

#endif
