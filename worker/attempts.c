/* attempts.c — a job's attempt log and the result line of a job that never
 * ran (see attempts.h). The log is bounded: a job that bounces between
 * providers for its whole deadline keeps its first ATTEMPTS_MAX - 1 attempts
 * and its newest decision. */
#include "attempts.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* src (NULL = "") into dst[cap], cut to cap - 1 bytes as snprintf("%s")
 * would, without a format engine: six of these run per attempt. */
static void copy(char *dst, size_t cap, const char *src)
{
    size_t n = src ? strnlen(src, cap - 1) : 0;
    memcpy(dst, src ? src : "", n);
    dst[n] = '\0';
}

void attempts_add(struct attempts *a, const char *provider, const char *task_id, const char *phase,
                  const char *outcome, long http_status, const char *code, const char *message,
                  int64_t elapsed_ms)
{
    if (a->n == ATTEMPTS_MAX) {
        a->n--; /* keep the most recent decision in the last slot */
    } else if (a->n == a->cap) {
        /* One first: most jobs record one attempt, and one (544 bytes) stays
         * in malloc's per-thread cache, where two would not. */
        size_t cap = a->cap ? a->cap * 2 : 1;
        struct codec_attempt *na = realloc(a->v, cap * sizeof *na);
        if (!na)
            return;
        a->v = na;
        a->cap = cap;
    }
    struct codec_attempt *at = &a->v[a->n++];
    copy(at->provider, sizeof at->provider, provider);
    copy(at->task_id, sizeof at->task_id, task_id);
    copy(at->outcome, sizeof at->outcome, outcome);
    copy(at->phase, sizeof at->phase, phase);
    at->http_status = http_status;
    copy(at->code, sizeof at->code, code);
    copy(at->message, sizeof at->message, message);
    at->elapsed_ms = elapsed_ms;
}

const struct codec_attempt *attempts_last(const struct attempts *a)
{
    return a->n ? &a->v[a->n - 1] : NULL;
}

void attempts_exhausted_message(const struct attempts *a, char *buf, size_t len)
{
    const struct codec_attempt *last = attempts_last(a);
    snprintf(buf, len, "every provider failed; last: %s%s%s", last ? last->provider : "none",
             last ? ": " : "", last ? last->message : "");
}

void attempts_cleanup(struct attempts *a)
{
    free(a->v);
    a->v = NULL;
    a->n = a->cap = 0;
}

char *attempts_rejected_json(const char *worker_id, const char *id, long line, const char *reason,
                             size_t max)
{
    struct codec_result r = {
        .id = id,
        .succeeded = 0,
        .error_class = "invalid_input",
        .error_message = reason,
        .line = line,
        .worker = worker_id,
    };
    return codec_result_json_max(&r, max);
}
