/* batch.h — `switchyard run`: jobs from a JSONL file, results as JSONL,
 * no Kafka. Runs up to worker.max_in_flight jobs at once on one loop. */
#ifndef WORKER_BATCH_H
#define WORKER_BATCH_H

#include <stddef.h>

#include "conf/config.h"

struct batch_opts {
    const char *jobs_path; /* "-" = stdin */
    const char *out_path;  /* NULL = stdout */
};

struct batch_summary {
    long jobs, succeeded, failed, invalid;
    double seconds;
};

/* Run every job to a result. Takes ownership of c (SIGHUP replaces it with a
 * fresh load of the same file). Returns SY_OK (failed jobs included) or
 * SY_ERR with err filled for setup errors (unreadable file, loop setup),
 * failed writes, an interrupted run or a libuv handle left open at exit.
 * summary may be NULL. */
int batch_run(struct conf *c, const struct batch_opts *o, struct batch_summary *summary, char *err,
              size_t errlen);

#endif
