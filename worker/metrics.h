/* metrics.h — Prometheus counters and the /metrics + /healthz listener.
 *
 * The loop thread records events into live counters (plain fields, loop
 * only). A 250 ms timer on the loop collects the gauges (in flight, breaker
 * states, budgets, Kafka partitions), copies everything into a snapshot
 * under a small mutex and stamps the heartbeat. The libmicrohttpd listener
 * (its own single thread) only copies that snapshot under the mutex and
 * renders it: it never touches loop state. Every record function is a no-op
 * when m is NULL, so callers need no checks. */
#ifndef WORKER_METRICS_H
#define WORKER_METRICS_H

#include <stddef.h>
#include <stdint.h>

#include <uv.h>

struct metrics;

enum metrics_endpoint { METRICS_CREATE, METRICS_POLL, METRICS_CANCEL };

/* Status labels that are not HTTP codes. */
#define METRICS_ST_TRANSPORT 0L
#define METRICS_ST_TIMEOUT (-1L)

#define METRICS_MAX_PLANS 8 /* poll plans shown per provider */

/* Called on the loop thread at every collection: report the gauges with
 * metrics_in_flight(), metrics_provider_gauges(), metrics_plan() and (Kafka
 * mode) metrics_partition(), metrics_kafka_flow(), metrics_ready(). Gauges
 * not reported in a collection (providers, partitions) leave the page. */
typedef void (*metrics_collect_fn)(void *ud, struct metrics *m);

struct metrics_source {
    metrics_collect_fn collect; /* may be NULL (no gauges) */
    void *ud;                   /* borrowed until metrics_stop() */
};

/* A metrics registry with no listener. NULL on out of memory. */
struct metrics *metrics_new(void);

/* Bind listen ("host:port", "[v6]:port") and serve /metrics and /healthz
 * from a listener thread; start the 250 ms collection timer on uv. listen ""
 * starts nothing and returns SY_OK. SY_ERR with err naming the address when
 * it cannot bind. src is copied. Call from the loop's thread. */
int metrics_start(struct metrics *m, uv_loop_t *uv, const char *listen,
                  const struct metrics_source *src, char *err, size_t errlen);

/* Stop the listener (joins its thread) and close the timer. Safe from a loop
 * callback; the caller must run the loop once more before metrics_free(). */
void metrics_stop(struct metrics *m);

/* Free m (after metrics_stop() and the loop has closed its timer). NULL ok. */
void metrics_free(struct metrics *m);

/* ---- recording: loop thread only ---- */

/* A job was taken from the input (line or message, valid or not). */
void metrics_consumed(struct metrics *m);
/* A job ended. error_class is NULL on success; duration_s < 0 = not timed
 * (a job that never started, e.g. invalid input). */
void metrics_job_done(struct metrics *m, int ok, const char *error_class, double duration_s);
/* A message went to the dead-letter topic. */
void metrics_dead_lettered(struct metrics *m);
/* A provider request finished: status is the HTTP status or METRICS_ST_*. */
void metrics_request(struct metrics *m, const char *provider, enum metrics_endpoint ep, long status,
                     double seconds);

/* From the collect callback: jobs started and not yet done. */
void metrics_in_flight(struct metrics *m, size_t n);
/* From the collect callback: one configured provider's policy gauges (name
 * and values copied). breaker: 0 closed, 1 half-open, 2 open. */
struct metrics_provider_gauges {
    const char *name;
    int breaker;
    double budget;
    uint64_t rate_limit_waits, rate_limited_429;
};
void metrics_provider(struct metrics *m, const struct metrics_provider_gauges *g);
/* From the collect callback, after metrics_provider() for provider: the
 * expected generation time of model (median and 95th percentile, seconds).
 * At most METRICS_MAX_PLANS per provider and collection. */
void metrics_plan(struct metrics *m, const char *provider, const char *model, double q50_s,
                  double q95_s);
/* From the collect callback: one partition's jobs in flight, committed
 * offset (-1 = none yet) and seconds since its committed offset last moved
 * while work was pending (0 when idle). Partitions not reported in a
 * collection are dropped from the page. */
void metrics_partition(struct metrics *m, int32_t partition, size_t in_flight, int64_t committed,
                       double stall_s);
/* From the collect callback: consumption paused or not, bytes held by jobs in
 * flight, messages waiting to be sent again. Turns the Kafka section of the
 * page on. */
void metrics_kafka_flow(struct metrics *m, int paused, size_t bytes, size_t parked);
/* A result ("result") or DLQ copy ("dlq") was given up after a permanent
 * error named reason (a librdkafka error name; both copied). */
void metrics_publish_abandoned(struct metrics *m, const char *kind, const char *reason);
/* Pure: the /healthz verdict of a Kafka worker. NULL when ready, else the
 * reason (static text): not started, closing, stopping, outside the group,
 * or paused with nothing in flight (no finishing job would ever resume it). */
const char *metrics_kafka_unready(int started, int closing, int stopping, int in_group, int paused,
                                  size_t in_flight);
/* From the collect callback: ready = 0 makes /healthz answer 503 with reason
 * (copied). Ready by default. */
void metrics_ready(struct metrics *m, int ready, const char *reason);

/* The task ledger (crash-safe jobs): counters and histograms. */
enum metrics_ledger_event {
    METRICS_LEDGER_RESUMED,      /* a job resumed a task another worker created */
    METRICS_LEDGER_SKIPPED_DONE, /* a job with a `done` record finished without running */
    METRICS_LEDGER_RECREATED,    /* a resumed task its provider no longer knew: created anew */
    METRICS_LEDGER_READ_TIMEOUT, /* a takeover gave up reading its ledger partition */
    METRICS_LEDGER_WRITE_ERROR,  /* a ledger record could not be written */
    METRICS_LEDGER_NEVENTS
};
void metrics_ledger(struct metrics *m, enum metrics_ledger_event ev);
enum metrics_ledger_hist {
    METRICS_LEDGER_WRITE_LATENCY,  /* produce → ack of a ledger record */
    METRICS_LEDGER_CREATED_WINDOW, /* create reply → ack of its `created` record */
    METRICS_LEDGER_TAKEOVER,       /* partition assigned → its jobs running */
    METRICS_LEDGER_NHIST
};
void metrics_ledger_observe(struct metrics *m, enum metrics_ledger_hist h, double seconds);

/* ---- recording: any thread (the callback listener's included) ---- */

enum metrics_cb_result {
    METRICS_CB_ACCEPTED,
    METRICS_CB_DUPLICATE,
    METRICS_CB_BAD_SIGNATURE,
    METRICS_CB_STALE,
    METRICS_CB_INVALID,
    METRICS_CB_BUSY, /* 503: the queue to the loop is full, or the body budget is used up */
    METRICS_CB_NRESULTS
};
/* A callback request for provider (a configured name) was answered with r. */
void metrics_callback(struct metrics *m, const char *provider, enum metrics_cb_result r);
/* A callback for another worker's partition was produced to the callback
 * topic (forwarded) / one was read from it and completed a job here (handed_in). */
void metrics_callback_forwarded(struct metrics *m);
void metrics_callback_handed_in(struct metrics *m);
/* A callback for another worker's partition was not handed over: unsigned
 * (never forwarded) or over the handoff budget. */
void metrics_callback_handoff_dropped(struct metrics *m, int unsigned_event);

/* Render the last snapshot as Prometheus text 0.0.4 (for tests and the
 * listener). Caller frees. NULL on out of memory. Any thread. */
char *metrics_render(struct metrics *m);

#endif
