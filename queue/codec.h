/* codec.h — job and result JSON (docs/architecture.md §Messages). Pure: bytes in,
 * structs out, and back. */
#ifndef QUEUE_CODEC_H
#define QUEUE_CODEC_H

#include <stddef.h>
#include <stdint.h>

#include <json-c/json.h>

#include "core/limits.h" /* CODEC_MAX_PROMPT, CODEC_MIN_RESULT_BYTES */

#define CODEC_MAX_IMAGES 16
#define CODEC_MAX_ID 256
#define CODEC_MAX_DEPTH 32            /* JSON nesting accepted in a job value */
#define CODEC_MAX_PROVIDERS 16        /* entries in a job's "providers" */
#define CODEC_MAX_METADATA 16384      /* bytes of a job's "metadata", compact-serialized */
#define CODEC_MAX_METADATA_NODES 1024 /* JSON values (objects, arrays, scalars) in it */
#define CODEC_MAX_VARS 64             /* keys in a job's "vars" */
#define CODEC_MAX_VAR_VALUE 1024      /* bytes of one "vars" value */

enum codec_op { CODEC_OP_GENERATE = 0, CODEC_OP_EDIT = 1 };

/* A validated job. Owned strings; free with codec_job_free(). */
struct codec_job {
    char *id;
    enum codec_op op;
    int op_set;   /* 1 when the job gave "operation" (a template's operation applies otherwise) */
    char *prompt; /* NULL only while "template" is set and not yet rendered */
    char **image_urls;
    size_t n_image_urls;
    char *output_format; /* "png" | "jpeg" | NULL (provider default) */
    char *aspect_ratio;  /* e.g. "16:9" | "auto" | NULL */
    char *model;         /* logical model; defaults to "nano-banana" */
    char **providers;    /* optional narrowing/reordering; NULL = config order */
    size_t n_providers;
    int deadline_s;      /* 0 = config default */
    char *template_name; /* NULL = none */
    json_object *vars;   /* owned reference or NULL: ≤ CODEC_MAX_VARS scalars */
    char *metadata;      /* compact JSON object text, or NULL; spliced into the result */
    size_t metadata_len; /* strlen(metadata) */
};

/* Parse and validate one job value of len bytes. Returns the job, or NULL with a
 * reason in err (e.g. "prompt: missing", "image_urls: required for edit").
 * When the value parsed as a JSON object whose "id" is itself valid (a
 * non-empty string of ≤ CODEC_MAX_ID bytes without control characters),
 * *id_out (if not NULL) receives a copy of it even when another field fails
 * (caller frees), so the failure result can carry it; an invalid id is never
 * handed out (*id_out = NULL). On success *id_out is set as well. Limits:
 * prompt ≤ CODEC_MAX_PROMPT characters (code points), stored trimmed of
 * surrounding whitespace; JSON null counts as absent for
 * optional fields; "vars" requires "template"; "prompt" and "template" are
 * exclusive (a template job gets its prompt from tmpl_apply() when it starts).
 * "metadata" must be an object of at most CODEC_MAX_METADATA_NODES values
 * and CODEC_MAX_METADATA bytes once re-serialized compactly; it is kept only
 * as that text (valid JSON and UTF-8). "vars" holds at most CODEC_MAX_VARS
 * keys (≤ 128 bytes each) with values of at most CODEC_MAX_VAR_VALUE bytes.
 * Pure; safe anywhere. */
struct codec_job *codec_job_parse(const char *buf, size_t len, char **id_out, char *err,
                                  size_t errlen);
void codec_job_free(struct codec_job *j);

/* "generate" or "edit" (static string). */
const char *codec_op_name(enum codec_op op);

/* One provider attempt, as in the result's "attempts" array. */
struct codec_attempt {
    char provider[64];
    char task_id[128]; /* "" if the task was never created */
    char outcome
            [32]; /* "succeeded", "transport", "timeout", "http_status", "provider_code", "task_failed", "invalid_reply", "rejected", "skipped" */
    char phase[16];   /* "create" | "poll" */
    long http_status; /* 0 when no HTTP reply */
    char code[32];    /* provider code, "" if none */
    char message[256];
    int64_t elapsed_ms;
};

/* A finished job's result. Strings borrowed; the struct is filled by the caller. */
struct codec_result {
    const char *id;
    int succeeded; /* 1 = "succeeded", 0 = "failed" */
    const char *const *result_urls;
    size_t n_result_urls;
    const char *provider;         /* provider that produced the result, or NULL */
    const char *provider_task_id; /* or NULL */
    const struct codec_attempt *attempts;
    size_t n_attempts;
    const char *
            error_class; /* NULL on success: invalid_input, provider_auth, no_credit, rejected, exhausted, deadline, task_failed */
    const char *error_message;
    long line; /* input line number (batch mode) or -1 */
    int64_t queued_ms;
    int64_t total_ms;
    const char *worker;   /* "host:pid" */
    const char *metadata; /* borrowed JSON text spliced verbatim (a codec_job's), or NULL */
    size_t metadata_len;
};

/* Serialize to one line of compact JSON (no trailing newline). Caller frees.
 * Strings are written as valid UTF-8 (invalid bytes become U+FFFD). Returns
 * NULL only when out of memory. Pure; safe anywhere. */
char *codec_result_json(const struct codec_result *r);

/* Like codec_result_json, but the line is at most max bytes (0 = no bound).
 * Over max it gives up, in steps, the attempts' messages, then the attempts,
 * then metadata (skipping a step with nothing to drop), and lists what it
 * left out in "truncated" (e.g. ["attempts","metadata"]); status,
 * result_urls and provider stay. When even that is over, it is a failed
 * result with error.class "result_too_large" (id, error, line, timings,
 * worker only). NULL when out of memory or when
 * max is below that minimal result (under CODEC_MIN_RESULT_BYTES for an id of
 * ≤ CODEC_MAX_ID bytes and a worker id of ≤ 128). Pure; safe anywhere. */
char *codec_result_json_max(const struct codec_result *r, size_t max);

#endif
