/* jsonw.c — see jsonw.h. Strings are copied in runs: a byte that needs no
 * escape costs one comparison, and a run is one memcpy. */
#include "jsonw.h"

#include <stdlib.h>
#include <string.h>

void jsonw_init(struct jsonw *w)
{
    memset(w, 0, sizeof *w);
}

void jsonw_free(struct jsonw *w)
{
    free(w->buf);
    jsonw_init(w);
}

/* Room for n more bytes and a NUL; 0 once the buffer has failed. */
static int room(struct jsonw *w, size_t n)
{
    if (w->failed)
        return 0;
    if (w->len + n + 1 <= w->cap)
        return 1;
    size_t cap = w->cap ? w->cap : 256;
    while (cap < w->len + n + 1)
        cap *= 2;
    char *b = realloc(w->buf, cap);
    if (!b) {
        w->failed = 1;
        return 0;
    }
    w->buf = b;
    w->cap = cap;
    return 1;
}

void jsonw_raw(struct jsonw *w, const char *s, size_t n)
{
    if (n == 0 || !room(w, n))
        return;
    memcpy(w->buf + w->len, s, n);
    w->len += n;
    w->buf[w->len] = '\0';
}

void jsonw_lit(struct jsonw *w, const char *s)
{
    jsonw_raw(w, s, strlen(s));
}

void jsonw_escaped(struct jsonw *w, const char *s, size_t n, unsigned flags)
{
    static const char hex[] = "0123456789abcdef";
    size_t from = 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c >= 0x20 && c != '"' && c != '\\' && (c != '/' || !(flags & JSONW_SLASH)))
            continue;
        char e[6] = { '\\', (char)c };
        size_t k = 2;
        switch (c) {
        case '\b':
            e[1] = 'b';
            break;
        case '\f':
            e[1] = 'f';
            break;
        case '\n':
            e[1] = 'n';
            break;
        case '\r':
            e[1] = 'r';
            break;
        case '\t':
            e[1] = 't';
            break;
        case '"':
        case '\\':
        case '/':
            break;
        default:
            memcpy(e, "\\u00", 4);
            e[4] = hex[c >> 4];
            e[5] = hex[c & 15];
            k = 6;
        }
        jsonw_raw(w, s + from, i - from);
        jsonw_raw(w, e, k);
        from = i + 1;
    }
    jsonw_raw(w, s + from, n - from);
}

void jsonw_str(struct jsonw *w, const char *s, unsigned flags)
{
    jsonw_raw(w, "\"", 1);
    jsonw_escaped(w, s, strlen(s), flags);
    jsonw_raw(w, "\"", 1);
}

void jsonw_i64(struct jsonw *w, int64_t v)
{
    char b[24];
    size_t i = sizeof b;
    uint64_t u = v < 0 ? 0 - (uint64_t)v : (uint64_t)v; /* INT64_MIN too */
    do {
        b[--i] = (char)('0' + u % 10);
        u /= 10;
    } while (u);
    if (v < 0)
        b[--i] = '-';
    jsonw_raw(w, b + i, sizeof b - i);
}
