/* enqueue_line.h — one stdin line of switchyard-enqueue → the message to
 * produce: value and key, with a job id added where the job has none. Pure. */
#ifndef QUEUE_ENQUEUE_LINE_H
#define QUEUE_ENQUEUE_LINE_H

#include <stddef.h>

enum enqueue_line_kind {
    ENQUEUE_LINE_BLANK = 0, /* only whitespace: send nothing */
    ENQUEUE_LINE_JOB,       /* a JSON object with a non-empty string "id" */
    ENQUEUE_LINE_ID_ADDED,  /* a JSON object without "id": one was inserted */
    ENQUEUE_LINE_NOT_JOB, /* anything else (not one JSON object, or a bad "id"): sent unchanged, no key */
    ENQUEUE_LINE_REFUSED, /* must not be sent (why says so): an "id" holding a NUL byte (\u0000) */
};

/* Embed; fill with enqueue_line_prepare(), free with enqueue_line_cleanup(). */
struct enqueue_line {
    enum enqueue_line_kind kind;
    const char *value; /* borrowed from the input line, or points into owned */
    size_t vlen;
    char *key; /* the job id (NUL-terminated, owned), NULL when there is none */
    size_t klen;
    char *owned;     /* the rewritten value, when an id was inserted */
    const char *why; /* REFUSED: the reason (static text), else NULL */
};

/* Classifies line (len bytes, newline included or not) and builds the
 * message. Trailing whitespace is cut. A missing "id" becomes new_id, inserted
 * as text right after the opening brace so the rest of the line is sent byte
 * for byte (new_id must need no JSON escaping). SY_OK, or SY_ERR when out
 * of memory (l is then clean). line must stay valid while l->value is used. */
int enqueue_line_prepare(struct enqueue_line *l, const char *line, size_t len, const char *new_id);

void enqueue_line_cleanup(struct enqueue_line *l);

#endif
