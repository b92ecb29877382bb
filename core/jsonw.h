/* jsonw.h — JSON text written straight into a growing buffer, strings
 * escaped exactly as json-c 0.16 prints them, so a line written here is
 * byte for byte what a json-c tree gave (JSON_C_TO_STRING_PLAIN; with
 * JSON_C_TO_STRING_NOSLASHESCAPE unless JSONW_SLASH is passed). The three
 * hot writers share it: provider request bodies (providers/jwrite.c),
 * result lines (queue/codec_result.c) and ledger records (queue/ledger.c);
 * each one's test compares its output with json-c's. Pure; any thread. */
#ifndef CORE_JSONW_H
#define CORE_JSONW_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

/* A growing buffer; a failed allocation sticks (failed = 1) and later
 * writes do nothing. Zero-initialize, or jsonw_init(). */
struct jsonw {
    char *buf; /* NUL-terminated once anything was written */
    size_t len, cap;
    int failed;
};

#define JSONW_SLASH 1u /* escape '/' as "\/" (json-c without NOSLASHESCAPE) */

void jsonw_init(struct jsonw *w);
/* Frees the buffer and re-initializes w. */
void jsonw_free(struct jsonw *w);
/* Room for n more bytes at once (a writer that knows about how long its text
 * is saves the regrowing); 1, or 0 once the buffer has failed. */
int jsonw_reserve(struct jsonw *w, size_t n);
/* n bytes as they are. */
void jsonw_raw(struct jsonw *w, const char *s, size_t n);
/* jsonw_raw with the common case inlined: for short writes of a length
 * known at compile time, where the call would cost more than the copy. */
static inline void jsonw_put(struct jsonw *w, const char *s, size_t n)
{
    if (!w->failed && w->len + n < w->cap) {
        memcpy(w->buf + w->len, s, n);
        w->len += n;
        w->buf[w->len] = '\0';
    } else {
        jsonw_raw(w, s, n);
    }
}
/* A C string as it is (inlined: a literal's strlen is folded at compile time). */
static inline void jsonw_lit(struct jsonw *w, const char *s)
{
    jsonw_put(w, s, strlen(s));
}
/* A string literal as it is (jsonw_put, its length known at compile time). */
#define JSONW_LIT(w, lit) jsonw_put((w), "" lit, sizeof(lit) - 1)
/* n bytes of s escaped as json-c does, without quotes: \" \\ \b \f \n \r \t,
 * other bytes below 0x20 (NUL included) as \u00xx, '/' as \/ with
 * JSONW_SLASH, everything else (bytes >= 0x80 too) as it is. */
void jsonw_escaped(struct jsonw *w, const char *s, size_t n, unsigned flags);
/* A C string as a quoted JSON string (jsonw_escaped inside quotes). */
void jsonw_str(struct jsonw *w, const char *s, unsigned flags);
/* s up to its NUL or max bytes, whichever is first, as a quoted JSON string
 * that is valid UTF-8: each byte not part of a valid sequence (utf8_seq)
 * becomes U+FFFD, the rest is escaped as jsonw_escaped(…, 0). */
void jsonw_str_utf8(struct jsonw *w, const char *s, size_t max);
/* A decimal integer, as printf's PRId64. */
void jsonw_i64(struct jsonw *w, int64_t v);

#endif
