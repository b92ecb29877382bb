/* jsonw.c — see jsonw.h. A string goes out in one pass, room for it taken
 * once: eight bytes at a time while a word holds nothing that needs work (a
 * SWAR test), byte by byte around the bytes that do; only an escape or a
 * replacement, which writes more than it reads, checks the room again. */
#include "jsonw.h"

#include <stdlib.h>
#include <string.h>

#include "core/sy.h"
#include "core/utf8.h"

void jsonw_init(struct jsonw *w)
{
    memset(w, 0, sizeof *w);
}

void jsonw_free(struct jsonw *w)
{
    free(w->buf);
    jsonw_init(w);
}

/* Room for n more bytes and a NUL; 0 once the buffer has failed. The
 * capacity at least doubles, so appends stay amortized O(1). */
static int room(struct jsonw *w, size_t n)
{
    if (w->failed)
        return 0;
    if (w->len + n + 1 <= w->cap)
        return 1;
    size_t cap = w->cap ? w->cap * 2 : 256;
    if (cap < w->len + n + 1)
        cap = w->len + n + 1;
    char *b = realloc(w->buf, cap);
    if (!b) {
        w->failed = 1;
        return 0;
    }
    w->buf = b;
    w->cap = cap;
    return 1;
}

int jsonw_reserve(struct jsonw *w, size_t n)
{
    return room(w, n);
}

void jsonw_raw(struct jsonw *w, const char *s, size_t n)
{
    if (n == 0 || !room(w, n))
        return;
    memcpy(w->buf + w->len, s, n);
    w->len += n;
    w->buf[w->len] = '\0';
}

#define ONES ((uint64_t)0x0101010101010101u)
#define HIGHS (ONES * 0x80)

/* Nonzero iff a byte of x is below b (b <= 0x80; "hasless" of the Bit
 * Twiddling Hacks). */
static inline uint64_t has_below(uint64_t x, unsigned b)
{
    return (x - ONES * b) & ~x & HIGHS;
}

/* Nonzero iff one of x's bytes needs work: below 0x20, '"', '\\', '/' with
 * JSONW_SLASH, and with utf8 any byte >= 0x80. */
static inline uint64_t word_special(uint64_t x, unsigned flags, int utf8)
{
    uint64_t m =
            has_below(x, 0x20) | has_below(x ^ (ONES * '"'), 1) | has_below(x ^ (ONES * '\\'), 1);
    if (flags & JSONW_SLASH)
        m |= has_below(x ^ (ONES * '/'), 1);
    if (utf8)
        m |= x & HIGHS;
    return m;
}

/* What each byte needs: C_ESC an escape (below 0x20, '"', '\\'), C_SLASH
 * one with JSONW_SLASH, C_HIGH a UTF-8 check (with utf8). */
enum { C_ESC = 1, C_SLASH = 2, C_HIGH = 4 };
#define R16(v) v, v, v, v, v, v, v, v, v, v, v, v, v, v, v, v
/* clang-format off */
static const unsigned char byte_class[256] = {
    R16(C_ESC), R16(C_ESC),                                   /* 0x00-0x1f */
    0, 0, C_ESC, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, C_SLASH, /* 0x20-0x2f: '"' '/' */
    R16(0), R16(0),                                           /* 0x30-0x4f */
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, C_ESC, 0, 0, 0,       /* 0x50-0x5f: '\\' */
    R16(0), R16(0),                                           /* 0x60-0x7f */
    R16(C_HIGH), R16(C_HIGH), R16(C_HIGH), R16(C_HIGH),       /* 0x80-0xff */
    R16(C_HIGH), R16(C_HIGH), R16(C_HIGH), R16(C_HIGH),
};
/* clang-format on */

/* Where the first byte that needs work is in a word that has one (m =
 * word_special(x)): on a little-endian machine the lowest flagged byte is
 * exact (a borrow only ever flags bytes above a true one); elsewhere 0,
 * and the word is looked at byte by byte. */
static inline size_t first_special(uint64_t m)
{
#if defined(__GNUC__) && defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
    return (size_t)__builtin_ctzll(m) / 8;
#else
    (void)m;
    return 0;
#endif
}

/* json-c's escape of c (below 0x20, '"', '\\' or '/') at d; returns the end. */
static char *escape(char *d, unsigned char c)
{
    static const char hex[] = "0123456789abcdef";
    char e = 0;
    switch (c) {
    case '\b':
        e = 'b';
        break;
    case '\f':
        e = 'f';
        break;
    case '\n':
        e = 'n';
        break;
    case '\r':
        e = 'r';
        break;
    case '\t':
        e = 't';
        break;
    case '"':
    case '\\':
    case '/':
        e = (char)c;
        break;
    default:
        break;
    }
    *d++ = '\\';
    if (e) {
        *d++ = e;
        return d;
    }
    memcpy(d, "u00", 3);
    d[3] = hex[c >> 4];
    d[4] = hex[c & 15];
    return d + 5;
}

/* s[0..n) escaped (with utf8, bytes >= 0x80 checked as jsonw_str_utf8
 * says), with room left for tail bytes the caller writes next. */
static inline void put_escaped(struct jsonw *w, const unsigned char *s, size_t n, unsigned flags,
                               int utf8, size_t tail)
{
    if (!room(w, n + tail))
        return;
    char *d = w->buf + w->len;
    size_t i = 0;
    unsigned mask = C_ESC | (flags & JSONW_SLASH ? C_SLASH : 0) | (utf8 ? C_HIGH : 0);
    while (i < n) {
        size_t end = n - i >= 8 ? i + 8 : n;
        if (end - i == 8) {
            uint64_t x;
            memcpy(&x, s + i, 8);
            uint64_t m = word_special(x, flags, utf8);
            /* The whole word goes out (room for n - i >= 8 is there); what
             * follows the first special byte is written again below. */
            memcpy(d, &x, 8);
            size_t k = m ? first_special(m) : 8;
            d += k;
            i += k;
            if (k == 8)
                continue;
        }
        while (i < end && !(byte_class[s[i]] & mask))
            *d++ = (char)s[i++];
        if (i == end)
            continue;
        if (s[i] >= 0x80) { /* utf8 only: as many bytes out as in */
            size_t k = utf8_seq(s + i, n - i);
            if (k > 0) {
                memcpy(d, s + i, k);
                d += k;
                i += k;
                continue;
            }
        }
        /* Up to 6 bytes out for this one in: room for them and the rest. */
        w->len = (size_t)(d - w->buf);
        w->buf[w->len] = '\0';
        if (!room(w, 6 + (n - i - 1) + tail))
            return;
        d = w->buf + w->len;
        if (s[i] >= 0x80) {
            memcpy(d, "\xEF\xBF\xBD", 3); /* U+FFFD */
            d += 3;
        } else {
            d = escape(d, s[i]);
        }
        i++;
    }
    w->len = (size_t)(d - w->buf);
    w->buf[w->len] = '\0';
}

void jsonw_escaped(struct jsonw *w, const char *s, size_t n, unsigned flags)
{
    put_escaped(w, (const unsigned char *)s, n, flags, 0, 0);
}

static inline void quoted(struct jsonw *w, const char *s, size_t n, unsigned flags, int utf8)
{
    if (!room(w, n + 2))
        return;
    w->buf[w->len++] = '"';
    put_escaped(w, (const unsigned char *)s, n, flags, utf8, 1);
    if (w->failed)
        return;
    w->buf[w->len++] = '"';
    w->buf[w->len] = '\0';
}

void jsonw_str(struct jsonw *w, const char *s, unsigned flags)
{
    quoted(w, s, strlen(s), flags, 0);
}

void jsonw_str_utf8(struct jsonw *w, const char *s, size_t max)
{
    quoted(w, s, strnlen(s, max), 0, 1);
}

void jsonw_i64(struct jsonw *w, int64_t v)
{
    char b[SY_DEC_MAX];
    const char *d = sy_i64_dec(v, b);
    jsonw_raw(w, d, (size_t)(b + SY_DEC_MAX - 1 - d));
}
