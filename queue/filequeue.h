/* filequeue.h — the JSONL job source of `switchyard run`: one job per line,
 * numbered from 1. Blank lines are skipped (but still counted). */
#ifndef QUEUE_FILEQUEUE_H
#define QUEUE_FILEQUEUE_H

#include <stddef.h>

struct filequeue;

/* Open path ("-" = stdin). NULL with err on failure. */
struct filequeue *filequeue_open(const char *path, char *err, size_t errlen);

/* Next non-blank line: 1 with *line (borrowed until the next call), *len and
 * *lineno set; 0 at end of input; -1 on a read error (err filled). The
 * trailing newline (and CR) is stripped. */
int filequeue_next(struct filequeue *q, const char **line, size_t *len, long *lineno, char *err,
                   size_t errlen);

void filequeue_close(struct filequeue *q);

#endif
