/* batch.c — the batch runner: filequeue → codec → job → result lines.
 *
 * Reading is synchronous (a local file), everything else runs on the loop.
 * The refill step keeps max_in_flight jobs running; invalid lines get their
 * failed result at once and never stop the run. The run ends when input is
 * exhausted and no job is in flight; SIGINT/SIGTERM stop reading new lines
 * and let the jobs in flight finish, a second signal stops at once. The
 * process wiring (loop, metrics, callbacks, signals) is engine.c's. */
#include "batch.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "queue/codec.h"
#include "queue/filequeue.h"
#include "core/sy.h"
#include "worker/engine.h"
#include "worker/job.h"
#include "core/log.h"
#include "worker/metrics.h"

struct batch {
    struct engine e; /* e.conf: the boot config, worker.* settings (not reloadable) */
    uv_loop_t uv;
    uv_timer_t closer; /* closes everything from a clean stack, never inside a loop callback */
    struct filequeue *in;
    FILE *out;
    int eof, stopping, closed, write_failed;
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
    uv_close((uv_handle_t *)&b->closer, NULL);
    engine_close(&b->e);
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

/* A line that never becomes a job: its failed result now. */
static void reject(struct batch *b, const char *id, long lineno, const char *reason)
{
    char *json = engine_reject(&b->e, id, lineno, reason);
    if (json)
        write_line(b, json);
    free(json);
    b->sum.failed++;
}

static void refill(struct batch *b)
{
    char err[256];
    while (!b->eof && !b->stopping && b->e.in_flight < (size_t)b->e.conf->worker.max_in_flight) {
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
            struct log_ctx lc = { .job = id };
            LOG_WARN(&lc, "invalid job: %s", reason);
            reject(b, id, lineno, reason);
            free(id);
            b->sum.invalid++;
            continue;
        }
        free(id);
        if (!job_start(&b->e, spec, lineno, sy_now_ms(), on_done, b)) {
            reject(b, spec->id, lineno, "out of memory");
            codec_job_free(spec);
        }
    }
    if ((b->eof || b->stopping) && b->e.in_flight == 0)
        close_all(b);
}

static void on_stop(void *ud, int signum)
{
    struct batch *b = ud;
    if (b->stopping) {
        LOG_WARN(NULL, "second signal %d: stopping now, %zu jobs without a result", signum,
                 b->e.in_flight);
        fflush(b->out);
        uv_stop(&b->uv);
        return;
    }
    b->stopping = 1;
    LOG_INFO(NULL, "signal %d: no new jobs; waiting for %zu in flight", signum, b->e.in_flight);
    refill(b);
}

static void close_files(struct batch *b)
{
    filequeue_close(b->in);
    b->in = NULL;
    if (b->out && b->out != stdout && fclose(b->out) != 0)
        b->write_failed = 1;
    else if (b->out == stdout)
        fflush(stdout);
    b->out = NULL;
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
    struct engine_hooks h = { .on_stop = on_stop, .ud = b };
    if (engine_init(&b->e, &b->uv, c, &h, err, errlen) != SY_OK) {
        free(b);
        return SY_ERR;
    }
    b->in = filequeue_open(o->jobs_path, err, errlen);
    b->out = !b->in ? NULL : o->out_path ? fopen(o->out_path, "w") : stdout;
    if (b->in && !b->out)
        snprintf(err, errlen, "%s: cannot open for writing", o->out_path);
    if (!b->out) {
        close_files(b);
        engine_close(&b->e);
        uv_run(&b->uv, UV_RUN_DEFAULT);
        engine_cleanup(&b->e);
        free(b);
        return SY_ERR;
    }
    uv_timer_init(&b->uv, &b->closer);
    b->closer.data = b;

    int64_t t0 = sy_now_ms();
    refill(b);
    uv_run(&b->uv, UV_RUN_DEFAULT);
    int interrupted = !b->closed;
    b->sum.seconds = (double)(sy_now_ms() - t0) / 1000.0;
    if (summary)
        *summary = b->sum;
    LOG_INFO(NULL, "batch done: %ld jobs, %ld succeeded, %ld failed (%ld invalid) in %.2f s",
             b->sum.jobs, b->sum.succeeded, b->sum.failed, b->sum.invalid, b->sum.seconds);
    close_files(b);
    int rc = SY_OK;
    if (b->write_failed) {
        snprintf(err, errlen, "writing results failed");
        rc = SY_ERR;
    }
    if (interrupted) {
        /* Jobs still hold handles on the loop: only the listener threads
         * stop; b stays allocated, the process is about to exit. */
        snprintf(err, errlen, "interrupted with %zu jobs in flight", b->e.in_flight);
        engine_stop_listeners(&b->e);
        return SY_ERR;
    }
    if (engine_cleanup(&b->e) != SY_OK && rc == SY_OK) {
        snprintf(err, errlen, "a libuv handle was left open at exit");
        rc = SY_ERR;
    }
    free(b);
    return rc;
}
