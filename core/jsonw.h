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
/* n bytes as they are. */
void jsonw_raw(struct jsonw *w, const char *s, size_t n);
/* A C string as it is. */
void jsonw_lit(struct jsonw *w, const char *s);
/* n bytes of s escaped as json-c does, without quotes: \" \\ \b \f \n \r \t,
 * other bytes below 0x20 (NUL included) as \u00xx, '/' as \/ with
 * JSONW_SLASH, everything else (bytes >= 0x80 too) as it is. */
void jsonw_escaped(struct jsonw *w, const char *s, size_t n, unsigned flags);
/* A C string as a quoted JSON string (jsonw_escaped inside quotes). */
void jsonw_str(struct jsonw *w, const char *s, unsigned flags);
/* A decimal integer, as printf's PRId64. */
void jsonw_i64(struct jsonw *w, int64_t v);

#endif
