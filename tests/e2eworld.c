/* e2eworld.c — see e2eworld.h. Every helper fails the calling test (Criterion
 * asserts) instead of returning an error. */
#include "e2eworld.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include <criterion/criterion.h>

void world_init(struct world *w, const char *tag, int partitions, int n_jobs, const char *gen_ms,
                long in_max_bytes)
{
    memset(w, 0, sizeof *w);
    kt_brokers();
    const char *args[] = { "--gen-ms", gen_ms, "--threads", "2", NULL };
    fp_start(&w->fp, args);
    sy_tmpdir(w->dir, sizeof w->dir);
    char base[100];
    kt_unique(base, sizeof base, tag);
    snprintf(w->group, sizeof w->group, "%s-group", base);
    snprintf(w->in, sizeof w->in, "%s-in", base);
    snprintf(w->out, sizeof w->out, "%s-out", base);
    snprintf(w->dlq, sizeof w->dlq, "%s-dlq", base);
    w->t = (struct kt_topics){ .group = w->group, .input = w->in, .output = w->out, .dlq = w->dlq };
    w->partitions = partitions;
    kt_create_topic(w->in, partitions, in_max_bytes);
    kt_create_topic(w->out, partitions, 0);
    kt_create_topic(w->dlq, 1, 0);
    w->prod = kt_producer_new();
    w->n_jobs = n_jobs;
    w->drs = calloc((size_t)(n_jobs > 0 ? n_jobs : 1), sizeof *w->drs);
    cr_assert_not_null(w->drs);
    fprintf(stderr, "%s: topics %s-*, logs in %s\n", tag, base, w->dir);
}

/* Config dir/NAME.conf with client.id NAME, then a worker logging to dir/NAME.log. */
pid_t world_worker(struct world *w, const char *name, const char *worker_extra, const char *props)
{
    char conf[400], log[400], kp[600];
    snprintf(conf, sizeof conf, "%s/%s.conf", w->dir, name);
    snprintf(log, sizeof log, "%s/%s.log", w->dir, name);
    snprintf(kp, sizeof kp, "client_id = \"%s\"; %s", name, props ? props : "");
    kt_write_config(&w->fp, conf, &w->t, worker_extra, "", kp);
    pid_t pid = kt_worker_start(conf, log);
    cr_assert_lt(w->n_pids, WORLD_MAX_WORKERS);
    w->pids[w->n_pids++] = pid;
    return pid;
}

/* Jobs [from, to) to partition i % partitions, alternating providers; a job
 * whose index is a multiple of slow_every (> 0) gets the prompt marker slow. */
void world_produce_jobs(struct world *w, int from, int to, int slow_every, const char *slow)
{
    for (int i = from; i < to; i++) {
        char id[32], val[256];
        snprintf(id, sizeof id, "job-%d", i);
        snprintf(val, sizeof val, "{\"id\":\"%s\",\"prompt\":\"room %d%s\",\"providers\":[\"%s\"]}",
                 id, i, slow_every > 0 && i % slow_every == 0 ? slow : "",
                 i % 2 ? "kie" : "replicate");
        kt_produce(w->prod, w->in, i % w->partitions, id, strlen(id), val, strlen(val), NULL,
                   &w->drs[i]);
    }
    kt_producer_flush(w->prod, 60000);
}

/* SIGTERM every worker still running; each must exit 0 within timeout_s. */
void world_stop_workers(struct world *w, int timeout_s)
{
    for (int i = 0; i < w->n_pids; i++) {
        if (w->pids[i] <= 0)
            continue;
        long ms = 0;
        int rc = kt_worker_stop(w->pids[i], timeout_s, &ms);
        cr_assert_eq(rc, 0, "worker %ld exited %d after SIGTERM (%ld ms); logs in %s",
                     (long)w->pids[i], rc, ms, w->dir);
        w->pids[i] = 0;
    }
}

void world_free(struct world *w)
{
    for (int i = 0; i < w->n_pids; i++) {
        if (w->pids[i] > 0) {
            kill(w->pids[i], SIGKILL);
            waitpid(w->pids[i], NULL, 0);
        }
    }
    kt_producer_free(w->prod);
    free(w->drs);
    cr_assert_eq(fp_stop(&w->fp), 0);
}

/* After a clean shutdown every input offset is committed. */
void world_assert_committed(const struct world *w)
{
    int64_t c[64], end[64];
    cr_assert_leq(w->partitions, 64);
    kt_committed(w->group, w->in, w->partitions, c);
    kt_end_offsets(w->in, w->partitions, end);
    for (int p = 0; p < w->partitions; p++)
        cr_assert_eq(c[p], end[p], "partition %d: committed %lld, end of input %lld; logs in %s", p,
                     (long long)c[p], (long long)end[p], w->dir);
}
