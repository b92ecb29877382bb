/* attempts.h — a job's attempt log (the "attempts" of its result line) and
 * the result line of a job that never ran. Pure: no clock, no I/O; safe
 * from a loop callback. */
#ifndef WORKER_ATTEMPTS_H
#define WORKER_ATTEMPTS_H

#include <stddef.h>
#include <stdint.h>

#include "queue/codec.h"

#define ATTEMPTS_MAX 32 /* attempts recorded in a result; the last slot keeps the newest */

/* Embedded in its owner; zero-initialized is empty. */
struct attempts {
    struct codec_attempt *v; /* grown on demand: most jobs record one */
    size_t n, cap;
};

/* Record one attempt (strings copied, truncated to the codec's fields; NULL
 * = ""). Past ATTEMPTS_MAX the newest replaces the last slot. Out of memory:
 * the attempt goes unrecorded (the job goes on). */
void attempts_add(struct attempts *a, const char *provider, const char *task_id, const char *phase,
                  const char *outcome, long http_status, const char *code, const char *message,
                  int64_t elapsed_ms);

/* The newest attempt (borrowed until the next add), or NULL. */
const struct codec_attempt *attempts_last(const struct attempts *a);

/* "every provider failed; last: <provider>: <message>" into buf. */
void attempts_exhausted_message(const struct attempts *a, char *buf, size_t len);

/* Frees the log; a is empty afterwards. */
void attempts_cleanup(struct attempts *a);

/* The result line of a job refused before it ran (invalid input, out of
 * memory): error.class "invalid_input" with reason. id may be NULL; at most
 * max bytes (0 = no bound; see codec_result_json_max). Caller frees; NULL
 * when out of memory. */
char *attempts_rejected_json(const char *worker_id, const char *id, long line, const char *reason,
                             size_t max);

#endif
