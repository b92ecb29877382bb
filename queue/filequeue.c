/* filequeue.c — JSONL line reader over stdio (getline: any line length). */
#include "filequeue.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct filequeue {
    FILE *f;
    int is_stdin;
    char *buf;
    size_t cap;
    long lineno;
};

struct filequeue *filequeue_open(const char *path, char *err, size_t errlen)
{
    struct filequeue *q = calloc(1, sizeof *q);
    if (!q) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    if (strcmp(path, "-") == 0) {
        q->f = stdin;
        q->is_stdin = 1;
    } else {
        q->f = fopen(path, "r");
        if (!q->f) {
            snprintf(err, errlen, "%s: %s", path, strerror(errno));
            free(q);
            return NULL;
        }
    }
    return q;
}

static int is_blank(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (s[i] != ' ' && s[i] != '\t' && s[i] != '\r')
            return 0;
    }
    return 1;
}

int filequeue_next(struct filequeue *q, const char **line, size_t *len, long *lineno, char *err,
                   size_t errlen)
{
    for (;;) {
        errno = 0;
        ssize_t n = getline(&q->buf, &q->cap, q->f);
        if (n < 0) {
            if (ferror(q->f)) {
                snprintf(err, errlen, "read error: %s", strerror(errno));
                return -1;
            }
            return 0;
        }
        q->lineno++;
        while (n > 0 && (q->buf[n - 1] == '\n' || q->buf[n - 1] == '\r'))
            q->buf[--n] = '\0';
        if (is_blank(q->buf, (size_t)n))
            continue;
        *line = q->buf;
        *len = (size_t)n;
        *lineno = q->lineno;
        return 1;
    }
}

void filequeue_close(struct filequeue *q)
{
    if (!q)
        return;
    if (!q->is_stdin)
        fclose(q->f);
    free(q->buf);
    free(q);
}
