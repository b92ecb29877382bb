/* engine.c — the one composition root: wires dispatch, loop, metrics,
 * callbacks and signals for batch.c and kworker.c, and tears them down.
 *
 * Invariants: every step of engine_init() is undone by the same
 * engine_close() + uv_run() + engine_cleanup() path that ends a run, so a
 * failed setup and a finished run release the same way. The loop is closed
 * last and its return value checked: a handle left open is an error. */
#include "engine.h"

#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "providers/pollplan.h"
#include "worker/callbacks.h"
#include "worker/dispatch.h"
#include "worker/job.h"
#include "core/log.h"
#include "worker/loop.h"
#include "core/sy.h"
#include "worker/taskmap.h"

_Static_assert(METRICS_MAX_PLANS >= DISPATCH_MAX_PLANS, "metrics shows every poll plan");

void engine_collect(const struct engine *e, struct metrics *m, int64_t now_ms)
{
    metrics_in_flight(m, e->in_flight);
    const struct conf *c = dispatch_conf(e->d);
    for (size_t i = 0; i < c->n_providers; i++) {
        struct pstate *ps = dispatch_pstate(e->d, c->providers[i].name);
        if (!ps)
            continue;
        enum breaker_state bs = breaker_state(ps->br, now_ms);
        struct ratelimit_stats rs;
        ratelimit_get_stats(ps->rl, &rs);
        struct metrics_provider_gauges g = {
            .name = ps->name,
            .breaker = bs == BREAKER_OPEN        ? 2
                       : bs == BREAKER_HALF_OPEN ? 1
                                                 : 0,
            .budget = budget_balance(ps->bud, now_ms),
            .rate_limit_waits = ps->rate_limit_waits,
            .rate_limited_429 = rs.rate_limited_429,
        };
        metrics_provider(m, &g);
        for (size_t k = 0; k < ps->n_plans; k++)
            metrics_plan(m, ps->name, ps->plans[k].model,
                         pollplan_quantile(ps->plans[k].pp, 0.5) / 1000.0,
                         pollplan_quantile(ps->plans[k].pp, 0.95) / 1000.0);
    }
}

static void on_collect(void *ud, struct metrics *m)
{
    struct engine *e = ud;
    engine_collect(e, m, sy_now_ms());
    if (e->h.collect)
        e->h.collect(e->h.ud, m);
}

static void on_callback(void *ud, const struct cbtopic_event *ev)
{
    struct engine *e = ud;
    if (e->h.on_callback)
        e->h.on_callback(e->h.ud, ev);
    else
        callbacks_complete(e, ev);
}

static void on_signal(uv_signal_t *s, int signum)
{
    struct engine *e = s->data;
    if (signum == SIGHUP)
        dispatch_reload_file(e->d, e->conf->path);
    else
        e->h.on_stop(e->h.ud, signum);
}

static int start_signals(struct engine *e, char *err, size_t errlen)
{
    uv_signal_t *s[] = { &e->sigint, &e->sigterm, &e->sighup };
    const int num[] = { SIGINT, SIGTERM, SIGHUP };
    for (size_t i = 0; i < 3; i++) {
        uv_signal_init(e->uv, s[i]);
        s[i]->data = e;
    }
    e->signals_on = 1;
    for (size_t i = 0; i < 3; i++) {
        int rc = uv_signal_start(s[i], on_signal, num[i]);
        if (rc != 0) {
            snprintf(err, errlen, "cannot watch signal %d: %s", num[i], uv_strerror(rc));
            return SY_ERR;
        }
    }
    return SY_OK;
}

static int wire(struct engine *e, char *err, size_t errlen)
{
    const struct conf *c = e->conf;
    int rc = uv_loop_init(e->uv);
    if (rc != 0) {
        snprintf(err, errlen, "libuv: cannot create the event loop: %s", uv_strerror(rc));
        return SY_ERR;
    }
    e->uv_ready = 1;
    e->m = metrics_new();
    if (!e->m) {
        snprintf(err, errlen, "out of memory");
        return SY_ERR;
    }
    struct metrics_source ms = { .collect = on_collect, .ud = e };
    if (metrics_start(e->m, e->uv, c->worker.metrics_listen, &ms, err, errlen) != SY_OK)
        return SY_ERR;
    struct loop_opts lo = {
        .max_host_connections = c->worker.max_host_connections,
        .max_total_connections = c->worker.max_total_connections,
        .max_body_bytes = (size_t)c->worker.max_body_bytes,
        .user_agent = c->worker.user_agent,
    };
    e->loop = loop_new(e->uv, &lo, err, errlen);
    if (!e->loop)
        return SY_ERR;
    char host[64] = "localhost";
    gethostname(host, sizeof host - 1);
    snprintf(e->worker_id, sizeof e->worker_id, "%s:%ld", host, (long)getpid());
    if (c->callbacks.listen[0]) {
        e->tasks = taskmap_new();
        if (!e->tasks) {
            snprintf(err, errlen, "out of memory");
            return SY_ERR;
        }
        e->callback_base = c->callbacks.public_url;
        e->safety_poll_ms = (int64_t)c->callbacks.safety_poll_s * 1000;
        e->cb = callbacks_start(e->uv, c, e->m, on_callback, e, err, errlen);
        if (!e->cb)
            return SY_ERR;
    }
    return start_signals(e, err, errlen);
}

int engine_init(struct engine *e, uv_loop_t *uv, struct conf *c, const struct engine_hooks *h,
                char *err, size_t errlen)
{
    e->uv = uv;
    e->h = *h;
    e->d = dispatch_new(c, sy_now_ms());
    if (!e->d) {
        snprintf(err, errlen, "out of memory");
        return SY_ERR;
    }
    e->boot = dispatch_conf_get(e->d);
    e->conf = e->boot->c;
    if (wire(e, err, errlen) == SY_OK)
        return SY_OK;
    engine_close(e);
    if (e->uv_ready)
        uv_run(e->uv, UV_RUN_DEFAULT); /* finish the closes */
    engine_cleanup(e);
    return SY_ERR;
}

void engine_stop_listeners(struct engine *e)
{
    metrics_stop(e->m);
    callbacks_close(e->cb);
    e->cb = NULL;
}

void engine_close(struct engine *e)
{
    if (e->closed)
        return;
    e->closed = 1;
    engine_stop_listeners(e);
    if (e->loop)
        loop_free(e->loop);
    e->loop = NULL;
    if (e->signals_on) {
        uv_close((uv_handle_t *)&e->sigint, NULL);
        uv_close((uv_handle_t *)&e->sigterm, NULL);
        uv_close((uv_handle_t *)&e->sighup, NULL);
        e->signals_on = 0;
    }
}

static void log_open_handle(uv_handle_t *h, void *arg)
{
    (void)arg;
    LOG_ERROR(NULL, "libuv: a %s handle is still open%s",
              uv_handle_type_name(uv_handle_get_type(h)), uv_is_closing(h) ? " (closing)" : "");
}

int engine_cleanup(struct engine *e)
{
    int rc = SY_OK;
    if (e->uv_ready) {
        int r = uv_loop_close(e->uv);
        if (r != 0) {
            LOG_ERROR(NULL, "libuv: the loop did not close (%s): a handle was left open",
                      uv_strerror(r));
            uv_walk(e->uv, log_open_handle, NULL);
            rc = SY_ERR;
        }
        e->uv_ready = 0;
    }
    metrics_free(e->m);
    e->m = NULL;
    taskmap_free(e->tasks);
    e->tasks = NULL;
    if (e->boot)
        conf_ref_put(e->boot);
    e->boot = NULL;
    e->conf = NULL;
    dispatch_free(e->d);
    e->d = NULL;
    return rc;
}

char *engine_reject(struct engine *e, const char *id, long line, const char *reason)
{
    metrics_job_done(e->m, 0, "invalid_input", -1);
    return job_rejected_json(e, id, line, reason);
}
