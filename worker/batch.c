/* batch.c — the batch runner: filequeue → codec → job → result lines.
 *
 * Reading is synchronous (a local file), everything else runs on the loop.
 * The refill step keeps max_in_flight jobs running; invalid lines get their
 * failed result at once and never stop the run. The run ends when input is
 * exhausted and no job is in flight; SIGINT/SIGTERM stop reading new lines
 * and let the jobs in flight finish, a second signal stops at once. */
#include "batch.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "queue/codec.h"
#include "queue/filequeue.h"
#include "sy.h"
#include "worker/callbacks.h"
#include "worker/dispatch.h"
#include "worker/job.h"
#include "worker/log.h"
#include "worker/metrics.h"
#include "worker/taskmap.h"

struct batch {
    const struct conf *conf;     /* the boot config: worker.* settings (not reloadable) */
    struct conf_ref *boot;
    struct engine e;
    uv_loop_t uv;
    uv_signal_t sigint, sigterm, sighup;
    uv_timer_t closer; /* closes everything from a clean stack, never inside a loop callback */
    struct callbacks *cb; /* NULL = callbacks off */
    struct filequeue *in;
    FILE *out;
    int eof, stopping, closed, write_failed, uv_ready;
    struct batch_summary sum;
};

static void write_line(struct batch *b, const char *json)
{
    if (fputs(json, b->out) == EOF || fputc('\n', b->out) == EOF)
        b->write_failed = 1;
}

static void on_closer(uv_timer_t *t)
{
    struct batch *b = t->data;
    fflush(b->out);
    uv_close((uv_handle_t *)&b->sigint, NULL);
    uv_close((uv_handle_t *)&b->sigterm, NULL);
    uv_close((uv_handle_t *)&b->sighup, NULL);
    uv_close((uv_handle_t *)&b->closer, NULL);
    metrics_stop(b->e.m);
    callbacks_close(b->cb);
    b->cb = NULL;
    loop_free(b->e.loop);
    b->e.loop = NULL;
}

/* Called from inside curl's completion drain: defer the teardown. */
static void close_all(struct batch *b)
{
    if (b->closed)
        return;
    b->closed = 1;
    uv_timer_start(&b->closer, on_closer, 0, 0);
}

static void refill(struct batch *b);

static void on_done(void *ud, const char *job_id, int ok, const char *result_json)
{
    (void)job_id;
    struct batch *b = ud;
    write_line(b, result_json);
    if (ok)
        b->sum.succeeded++;
    else
        b->sum.failed++;
    refill(b);
}

static void refill(struct batch *b)
{
    char err[256];
    while (!b->eof && !b->stopping && b->e.in_flight < (size_t)b->conf->worker.max_in_flight) {
        const char *line;
        size_t len;
        long lineno;
        int rc = filequeue_next(b->in, &line, &len, &lineno, err, sizeof err);
        if (rc <= 0) {
            if (rc < 0)
                LOG_ERROR(NULL, "jobs file: %s", err);
            b->eof = 1;
            break;
        }
        b->sum.jobs++;
        metrics_consumed(b->e.m);
        char *id = NULL;
        struct codec_job *spec = codec_job_parse(line, len, &id, err, sizeof err);
        if (!spec) {
            char reason[320];
            snprintf(reason, sizeof reason, "line %ld: %s", lineno, err);
            char *json = job_invalid_result(&b->e, id, lineno, reason);
            struct log_ctx lc = { .job = id };
            LOG_WARN(&lc, "invalid job: %s", reason);
            if (json)
                write_line(b, json);
            free(json);
            free(id);
            b->sum.failed++;
            b->sum.invalid++;
            metrics_job_done(b->e.m, 0, "invalid_input", -1);
            continue;
        }
        free(id);
        if (!job_start(&b->e, spec, lineno, sy_now_ms(), on_done, b)) {
            char *json = job_invalid_result(&b->e, spec->id, lineno, "out of memory");
            if (json)
                write_line(b, json);
            free(json);
            codec_job_free(spec);
            b->sum.failed++;
            metrics_job_done(b->e.m, 0, "invalid_input", -1);
        }
    }
    if ((b->eof || b->stopping) && b->e.in_flight == 0)
        close_all(b);
}

static void on_callback(void *ud, const struct callbacks_event *ev)
{
    struct batch *b = ud;
    callbacks_complete(&b->e, ev);
}

static void on_sighup(uv_signal_t *h, int signum)
{
    (void)signum;
    struct batch *b = h->data;
    dispatch_reload_file(b->e.d, b->conf->path);
}

static void on_signal(uv_signal_t *h, int signum)
{
    struct batch *b = h->data;
    if (b->stopping) {
        LOG_WARN(NULL, "second signal %d: stopping now, %zu jobs without a result", signum, b->e.in_flight);
        fflush(b->out);
        uv_stop(&b->uv);
        return;
    }
    b->stopping = 1;
    LOG_INFO(NULL, "signal %d: no new jobs; waiting for %zu in flight", signum, b->e.in_flight);
    refill(b);
}

/* Undo a partial setup (every step below is optional; no handle is open). */
static void setup_failed(struct batch *b)
{
    metrics_free(b->e.m);
    taskmap_free(b->e.tasks);
    if (b->uv_ready)
        uv_loop_close(&b->uv);
    filequeue_close(b->in);
    if (b->out && b->out != stdout)
        fclose(b->out);
    if (b->boot)
        dispatch_conf_put(b->boot);
    dispatch_free(b->e.d);
    free(b);
}

int batch_run(struct conf *c, const struct batch_opts *o, struct batch_summary *summary, char *err,
              size_t errlen)
{
    struct batch *b = calloc(1, sizeof *b);
    if (!b) {
        conf_free(c);
        snprintf(err, errlen, "out of memory");
        return SY_ERR;
    }
    b->e.d = dispatch_new(c, sy_now_ms());
    if (!b->e.d) {
        snprintf(err, errlen, "out of memory");
        setup_failed(b);
        return SY_ERR;
    }
    b->boot = dispatch_conf_get(b->e.d);
    b->conf = b->boot->c;
    b->in = filequeue_open(o->jobs_path, err, errlen);
    if (!b->in) {
        setup_failed(b);
        return SY_ERR;
    }
    b->out = o->out_path ? fopen(o->out_path, "w") : stdout;
    if (!b->out) {
        snprintf(err, errlen, "%s: cannot open for writing", o->out_path);
        setup_failed(b);
        return SY_ERR;
    }
    uv_loop_init(&b->uv);
    b->uv_ready = 1;
    b->e.m = metrics_new();
    struct metrics_source ms = { .e = &b->e };
    if (!b->e.m || metrics_start(b->e.m, &b->uv, b->conf->worker.metrics_listen, &ms, err, errlen) != SY_OK) {
        if (!b->e.m)
            snprintf(err, errlen, "out of memory");
        setup_failed(b);
        return SY_ERR;
    }
    struct loop_opts lo = {
        .max_host_connections = b->conf->worker.max_host_connections,
        .max_total_connections = b->conf->worker.max_total_connections,
        .max_body_bytes = (size_t)b->conf->worker.max_body_bytes,
        .user_agent = b->conf->worker.user_agent,
    };
    b->e.loop = loop_new(&b->uv, &lo, err, errlen);
    if (b->e.loop && b->conf->callbacks.listen[0]) {
        b->e.tasks = taskmap_new();
        b->e.callback_base = b->conf->callbacks.public_url;
        b->e.safety_poll_ms = (int64_t)b->conf->callbacks.safety_poll_s * 1000;
        b->cb = b->e.tasks ? callbacks_start(&b->uv, b->conf, b->e.m, on_callback, b, err, errlen) : NULL;
        if (!b->e.tasks)
            snprintf(err, errlen, "out of memory");
    }
    if (!b->e.loop || (b->conf->callbacks.listen[0] && !b->cb)) {
        if (b->e.loop)
            loop_free(b->e.loop);
        metrics_stop(b->e.m); /* closes its timer: run the loop once to finish that */
        uv_run(&b->uv, UV_RUN_DEFAULT);
        setup_failed(b);
        return SY_ERR;
    }
    char host[64] = "localhost";
    gethostname(host, sizeof host - 1);
    snprintf(b->e.worker_id, sizeof b->e.worker_id, "%s:%ld", host, (long)getpid());
    uv_timer_init(&b->uv, &b->closer);
    b->closer.data = b;
    uv_signal_init(&b->uv, &b->sigint);
    uv_signal_init(&b->uv, &b->sigterm);
    uv_signal_init(&b->uv, &b->sighup);
    b->sigint.data = b->sigterm.data = b->sighup.data = b;
    uv_signal_start(&b->sigint, on_signal, SIGINT);
    uv_signal_start(&b->sigterm, on_signal, SIGTERM);
    uv_signal_start(&b->sighup, on_sighup, SIGHUP);

    int64_t t0 = sy_now_ms();
    refill(b);
    uv_run(&b->uv, UV_RUN_DEFAULT);
    int interrupted = !b->closed;
    if (!interrupted)
        uv_loop_close(&b->uv);
    b->sum.seconds = (double)(sy_now_ms() - t0) / 1000.0;
    if (summary)
        *summary = b->sum;
    LOG_INFO(NULL, "batch done: %ld jobs, %ld succeeded, %ld failed (%ld invalid) in %.2f s", b->sum.jobs,
             b->sum.succeeded, b->sum.failed, b->sum.invalid, b->sum.seconds);
    int rc = SY_OK;
    if (b->out != stdout && fclose(b->out) != 0)
        b->write_failed = 1;
    else if (b->out == stdout)
        fflush(stdout);
    if (b->write_failed) {
        snprintf(err, errlen, "writing results failed");
        rc = SY_ERR;
    }
    if (interrupted) {
        snprintf(err, errlen, "interrupted with %zu jobs in flight", b->e.in_flight);
        rc = SY_ERR;
    }
    filequeue_close(b->in);
    if (interrupted) {
        metrics_stop(b->e.m); /* the listener threads; b itself stays (its handles are open) */
        callbacks_close(b->cb);
    }
    if (!interrupted) {
        metrics_free(b->e.m);
        taskmap_free(b->e.tasks);
        dispatch_conf_put(b->boot);
        dispatch_free(b->e.d);
        free(b);
    }
    return rc;
}
