/* engine.h — the per-process wiring shared by batch and Kafka mode, and the
 * context every job of the process borrows.
 *
 * engine_init() builds, in order: the dispatch (active config and provider
 * policies), the libuv loop, metrics and its listener, the HTTP loop, the
 * worker id, the task map and callback listener (callbacks on) and the
 * SIGINT/SIGTERM/SIGHUP watchers. SIGHUP reloads the config file here; the
 * other two go to the mode's on_stop hook. Teardown: engine_close() from a
 * loop callback, let uv_run() return, then engine_cleanup(), which checks
 * that the loop closed with no handle left open. Loop thread only. */
#ifndef WORKER_ENGINE_H
#define WORKER_ENGINE_H

#include <stddef.h>
#include <stdint.h>

#include <uv.h>

#include "conf/config.h"
#include "worker/metrics.h"

struct callbacks;
struct cbtopic_event;
struct conf_ref;
struct dispatch;
struct loop;
struct taskmap;

/* What a mode (batch, Kafka) plugs into the engine. ud goes to each hook. */
struct engine_hooks {
    void (*on_stop)(void *ud, int signum); /* SIGINT / SIGTERM (required) */
    /* An accepted callback from the listener; NULL = complete it here
     * (callbacks_complete). */
    void (*on_callback)(void *ud, const struct cbtopic_event *ev);
    metrics_collect_fn collect; /* the mode's gauges (Kafka); NULL = none */
    void *ud;
};

struct engine {
    /* ---- what jobs borrow (job.c, callbacks.c) ---- */
    struct loop *loop;
    struct dispatch *d;  /* active config and per-provider policy states */
    char worker_id[128]; /* "host:pid" */
    size_t in_flight;    /* jobs started and not yet done */
    uint64_t succeeded, failed;
    struct metrics *m; /* counters for /metrics; NULL = none */
    /* Callbacks (all unset = off): tasks maps (provider, task id) to the job
     * awaiting it; callback_base is callbacks.public_url; while a callback
     * is awaited the job polls only every safety_poll_ms. */
    struct taskmap *tasks;
    const char *callback_base;
    int64_t safety_poll_ms;
    /* Crash-safe jobs (NULL = off): called when a create reply names a task
     * (ud: the job's done-callback ud; strings borrowed for the call). */
    void (*task_created)(void *ud, const char *provider, const char *task_id,
                         int64_t created_wall_ms, int attempt);

    /* ---- the wiring: written by engine.c only; modes may read ---- */
    const struct conf *conf; /* the boot config: worker.*, kafka.*, callbacks.* (not reloadable) */
    uv_loop_t *uv;
    struct callbacks *cb; /* the callback listener; NULL = off or stopped */
    struct conf_ref *boot;
    struct engine_hooks h;
    uv_signal_t sigint, sigterm, sighup;
    int uv_ready, signals_on, closed;
};

/* Wire the process into *e (zeroed by the caller) on uv (initialised here;
 * the memory is the caller's and must outlive engine_cleanup()). Takes
 * ownership of c. SY_OK, or SY_ERR with err filled and everything undone. */
int engine_init(struct engine *e, uv_loop_t *uv, struct conf *c, const struct engine_hooks *h,
                char *err, size_t errlen);

/* Stop the metrics and callback listeners (no new requests, threads
 * joined). Safe from a loop callback; idempotent. Also what is left to do
 * when a run is abandoned with jobs in flight (the process then exits). */
void engine_stop_listeners(struct engine *e);

/* Close the listeners, the HTTP loop and the signal watchers. Call from a
 * timer callback (never inside curl's completion drain) once no job is in
 * flight; uv_run() then returns when the mode's own handles are closed. */
void engine_close(struct engine *e);

/* After uv_run() returned: close the loop and free what engine_init()
 * built. SY_ERR (logged as an error, with the open handles) when a handle
 * was left open on the loop; everything is freed anyway. */
int engine_cleanup(struct engine *e);

/* A failed result line for input that never became a job (invalid, or
 * out of memory starting it), counted as an invalid_input failure. Caller
 * frees; NULL on out of memory. id may be NULL; line -1 = none. */
char *engine_reject(struct engine *e, const char *id, long line, const char *reason);

/* Report the engine's gauges to m: jobs in flight and each configured
 * provider's breaker, retry budget, rate-limit counters and poll plans. */
void engine_collect(const struct engine *e, struct metrics *m, int64_t now_ms);

#endif
