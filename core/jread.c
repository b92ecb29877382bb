/* jread.c — a validating, non-allocating JSON reader for provider replies.
 *
 * Why not json-c, the project's JSON library (STYLE: prefer a well-kept
 * library)? Because of what it costs on the hottest path. Callgrind, engine
 * in batch mode, 5,000 KIE jobs against fakeprov (generation 0), before this
 * reader: 339k instructions per job in all, of which kie_parse_poll 55.7k
 * inclusive (json-c parses the ~400-byte recordInfo reply, then the
 * resultJson string inside it), kie_parse_create 16.6k, json_tokener_new_ex
 * 3.9k per parse (a 2 KiB calloc): a tree of heap objects built for each
 * reply only to read five fields from it. This reader validates a reply once
 * and reads fields in place (numbers after: BENCH.md, Performance notes).
 * json-c stays the library for everything else (config, codec, webhooks).
 *
 * Invariants:
 * - jread_parse() accepts a subset of what json-c 0.16 accepts: RFC 8259
 *   only (json-c also takes comments, single quotes, trailing commas, raw
 *   control characters, invalid UTF-8, lone surrogate escapes, leading
 *   zeros, "1." …). tests/fuzz/fuzz_jread_diff.c checks this against json-c.
 * - Strict UTF-8 unless JREAD_RAW_BYTES: provider replies are read with it,
 *   since json-c passes such bytes through and a reply's verdict must not
 *   change for a stray byte in its message (prov_result_fail() sanitizes
 *   messages; result URLs are checked byte by byte).
 * - Every other function trusts that its value came from an accepted
 *   document: they skip values by brackets and quotes without re-checking,
 *   and never read outside the value's text.
 * - jread_parse_reply_want() records, in the validating pass, exactly what
 *   jread_get_many() finds afterwards (fuzz_jread_diff checks it): a reply
 *   is scanned once, not once more per object read from it.
 * - Strings keep json-c's meaning: \u0000 is a NUL byte inside the string;
 *   keys are compared up to their first NUL; the last duplicate key wins. */
#include "jread.h"

#include <stdlib.h>
#include <string.h>

#include "sy.h"
#include "utf8.h"

#define JREAD_NUM_MAX 64 /* bytes of a number's text read without malloc */

struct rd {
    const char *end;
    int depth;
    unsigned flags;
};

static int is_ws(char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

static int is_digit(char c)
{
    return c >= '0' && c <= '9';
}

static const char *ws(const char *p, const char *end)
{
    while (p < end && is_ws(*p))
        p++;
    return p;
}

static int hexval(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* Four hex digits at p (the caller checked that they are there), or -1. */
static long hex4(const char *p)
{
    long v = 0;
    for (int i = 0; i < 4; i++) {
        int h = hexval(p[i]);
        if (h < 0)
            return -1;
        v = v * 16 + h;
    }
    return v;
}

/* Byte classes inside a string, as bits: STR_SLOW ('"', '\\', controls)
 * always leaves the fast scan; STR_HIGH (bytes >= 0x80) only when UTF-8 is
 * checked (not with JREAD_RAW_BYTES). */
enum { STR_SLOW = 1, STR_HIGH = 2 };
/* clang-format off */
static const unsigned char str_cls[256] = {
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
    0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2,
    2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2,
    2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2,
    2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2,
    2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2,
    2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2,
    2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2,
    2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2,
};
/* clang-format on */

/* A string starting at the '"' at p: the byte after its closing quote, or
 * NULL. *esc is set when it has an escape. */
static const char *v_string(const char *p, const char *end, unsigned flags, int *esc)
{
    const unsigned char *cls = str_cls; /* short name for the scan below */
    const unsigned char stop = (flags & JREAD_RAW_BYTES) ? STR_SLOW : STR_SLOW | STR_HIGH;
    p++;
    for (;;) {
        while (end - p >= 4 && !((cls[(unsigned char)p[0]] | cls[(unsigned char)p[1]] |
                                  cls[(unsigned char)p[2]] | cls[(unsigned char)p[3]]) &
                                 stop))
            p += 4;
        while (p < end && !(cls[(unsigned char)*p] & stop))
            p++;
        if (p >= end)
            return NULL;
        unsigned char c = (unsigned char)*p;
        if (c == '"')
            return p + 1;
        if (c < 0x20)
            return NULL;
        if (c == '\\') {
            *esc = 1;
            if (end - p < 2)
                return NULL;
            char e = p[1];
            if (e == 'u') {
                if (end - p < 6)
                    return NULL;
                long u = hex4(p + 2);
                if (u < 0 || (u >= 0xDC00 && u <= 0xDFFF))
                    return NULL;
                p += 6;
                if (u >= 0xD800 && u <= 0xDBFF) {
                    if (end - p < 6 || p[0] != '\\' || p[1] != 'u')
                        return NULL;
                    long lo = hex4(p + 2);
                    if (lo < 0xDC00 || lo > 0xDFFF)
                        return NULL;
                    p += 6;
                }
            } else if (e == '"' || e == '\\' || e == '/' || e == 'b' || e == 'f' || e == 'n' ||
                       e == 'r' || e == 't') {
                p += 2;
            } else {
                return NULL;
            }
        } else { /* >= 0x80, strict */
            size_t n = utf8_seq((const unsigned char *)p, (size_t)(end - p));
            if (!n)
                return NULL;
            p += n;
        }
    }
}

static const char *v_number(const char *p, const char *end)
{
    if (p < end && *p == '-')
        p++;
    if (p >= end || !is_digit(*p))
        return NULL;
    if (*p == '0')
        p++;
    else
        while (p < end && is_digit(*p))
            p++;
    if (p < end && *p == '.') {
        p++;
        if (p >= end || !is_digit(*p))
            return NULL;
        while (p < end && is_digit(*p))
            p++;
    }
    if (p < end && (*p == 'e' || *p == 'E')) {
        p++;
        if (p < end && (*p == '+' || *p == '-'))
            p++;
        if (p >= end || !is_digit(*p))
            return NULL;
        while (p < end && is_digit(*p))
            p++;
    }
    return p;
}

static const char *v_lit(const char *p, const char *end, const char *lit, size_t n)
{
    return (size_t)(end - p) >= n && memcmp(p, lit, n) == 0 ? p + n : NULL;
}

static const char *v_value(struct rd *r, const char *p, const struct jread_want *w);
static unsigned key_matches(const char *k, size_t n, int esc, const char *const *keys,
                            const size_t *klen, size_t nkeys);
static enum jread_type type_of(char c);

/* Every out of w and of its sub chain set to type NONE. */
static void want_clear(const struct jread_want *w)
{
    for (; w; w = w->sub)
        memset(w->out, 0, w->n * sizeof *w->out);
}

/* An array or object at p ('[' or '{'); w (or NULL) names the object
 * members to record. */
static const char *v_container(struct rd *r, const char *p, const struct jread_want *w)
{
    char close = *p == '[' ? ']' : '}';
    int obj = *p == '{';
    size_t klen[JREAD_MANY_MAX];
    if (++r->depth > JREAD_MAX_DEPTH)
        return NULL;
    if (!obj || (w && w->n > JREAD_MANY_MAX))
        w = NULL;
    for (size_t i = 0; w && i < w->n; i++)
        klen[i] = strlen(w->keys[i]);
    p = ws(p + 1, r->end);
    if (p < r->end && *p == close) {
        r->depth--;
        return p + 1;
    }
    for (;;) {
        unsigned hits = 0;
        const struct jread_want *child = NULL;
        if (obj) {
            if (p >= r->end || *p != '"')
                return NULL;
            const char *k = p;
            int esc = 0;
            p = v_string(p, r->end, r->flags, &esc);
            if (!p)
                return NULL;
            if (w) {
                hits = key_matches(k, (size_t)(p - k), esc, w->keys, klen, w->n);
                if (w->sub && w->sub_of < w->n && (hits >> w->sub_of & 1u)) {
                    child = w->sub; /* the last such member's members count */
                    want_clear(child);
                }
            }
            p = ws(p, r->end);
            if (p >= r->end || *p != ':')
                return NULL;
            p = ws(p + 1, r->end);
        }
        const char *v = p;
        p = v_value(r, p, child);
        if (!p)
            return NULL;
        for (size_t i = 0; hits; i++, hits >>= 1) {
            if (hits & 1u) {
                w->out[i].type = type_of(*v);
                w->out[i].p = v;
                w->out[i].n = (size_t)(p - v);
            }
        }
        p = ws(p, r->end);
        if (p >= r->end)
            return NULL;
        if (*p == close) {
            r->depth--;
            return p + 1;
        }
        if (*p != ',')
            return NULL;
        p = ws(p + 1, r->end);
    }
}

static const char *v_value(struct rd *r, const char *p, const struct jread_want *w)
{
    if (p >= r->end)
        return NULL;
    switch (*p) {
    case '{':
    case '[':
        return v_container(r, p, w);
    case '"': {
        int esc;
        return v_string(p, r->end, r->flags, &esc);
    }
    case 't':
        return v_lit(p, r->end, "true", 4);
    case 'f':
        return v_lit(p, r->end, "false", 5);
    case 'n':
        return v_lit(p, r->end, "null", 4);
    default:
        return v_number(p, r->end);
    }
}

static enum jread_type type_of(char c)
{
    switch (c) {
    case '{':
        return JREAD_OBJECT;
    case '[':
        return JREAD_ARRAY;
    case '"':
        return JREAD_STRING;
    case 't':
        return JREAD_TRUE;
    case 'f':
        return JREAD_FALSE;
    case 'n':
        return JREAD_NULL;
    default:
        return JREAD_NUMBER;
    }
}

static int parse(const char *doc, size_t len, unsigned flags, struct jread_val *root,
                 const struct jread_want *w)
{
    memset(root, 0, sizeof *root);
    want_clear(w);
    if (!doc || len == 0)
        return SY_ERR;
    struct rd r = { .end = doc + len, .depth = 0, .flags = flags };
    const char *p = ws(doc, r.end);
    const char *e = v_value(&r, p, w);
    if (!e || ws(e, r.end) != r.end) {
        want_clear(w);
        return SY_ERR;
    }
    root->type = type_of(*p);
    root->p = p;
    root->n = (size_t)(e - p);
    return SY_OK;
}

int jread_parse(const char *doc, size_t len, unsigned flags, struct jread_val *root)
{
    return parse(doc, len, flags, root, NULL);
}

int jread_parse_reply_want(const char *doc, size_t len, struct jread_val *root,
                           const struct jread_want *w)
{
    if (parse(doc, len, JREAD_RAW_BYTES, root, w) != SY_OK)
        return SY_ERR;
    int scalar =
            root->type != JREAD_OBJECT && root->type != JREAD_ARRAY && root->type != JREAD_STRING;
    if (root->type == JREAD_NULL || (scalar && root->p + root->n == doc + len)) {
        memset(root, 0, sizeof *root);
        return SY_ERR; /* not an object: w recorded nothing */
    }
    return SY_OK;
}

int jread_parse_reply(const char *doc, size_t len, struct jread_val *root)
{
    return jread_parse_reply_want(doc, len, root, NULL);
}

/* ---- reading an accepted document --------------------------------------- */

/* The byte after the string whose opening quote is at p, inside an
 * accepted document that ends at or after end. */
static const char *skip_string(const char *p, const char *end)
{
    for (p++;;) {
        const char *q = memchr(p, '"', (size_t)(end - p));
        const char *b = q;
        while (b > p && b[-1] == '\\')
            b--;
        if (((q - b) & 1) == 0)
            return q + 1;
        p = q + 1;
    }
}

/* The byte after the value starting at p, inside an accepted container
 * that ends at end. */
static const char *skip(const char *p, const char *end)
{
    if (*p == '"')
        return skip_string(p, end);
    if (*p == '{' || *p == '[') {
        int depth = 0;
        for (;; p++) {
            char c = *p;
            if (c == '"') {
                p = skip_string(p, end) - 1;
            } else if (c == '{' || c == '[') {
                depth++;
            } else if (c == '}' || c == ']') {
                if (--depth == 0)
                    return p + 1;
            }
        }
    }
    if (*p == 't' || *p == 'n')
        return p + 4;
    if (*p == 'f')
        return p + 5;
    p++; /* '-' or a digit */
    while (is_digit(*p) || *p == '.' || *p == 'e' || *p == 'E' || *p == '+' || *p == '-')
        p++;
    return p;
}

/* Skip whitespace inside an accepted container (never runs off its end). */
static const char *wsin(const char *p)
{
    while (is_ws(*p))
        p++;
    return p;
}

static void val_at(const char *p, const char *end, struct jread_val *out)
{
    out->type = type_of(*p);
    out->p = p;
    out->n = (size_t)(skip(p, end) - p);
}

void jread_iter_init(struct jread_iter *it, const struct jread_val *v)
{
    it->p = NULL;
    it->end = NULL;
    if (v && (v->type == JREAD_ARRAY || v->type == JREAD_OBJECT)) {
        it->p = wsin(v->p + 1);
        it->end = v->p + v->n;
    }
}

int jread_iter_next(struct jread_iter *it, struct jread_val *key, struct jread_val *out)
{
    memset(out, 0, sizeof *out);
    if (key)
        memset(key, 0, sizeof *key);
    if (!it->p || *it->p == ']' || *it->p == '}')
        return 0;
    struct jread_val k; /* a key, or an array's element: only a key has ':' after it */
    val_at(it->p, it->end, &k);
    const char *q = wsin(k.p + k.n);
    if (*q == ':') {
        if (key)
            *key = k;
        val_at(wsin(q + 1), it->end, out);
        q = wsin(out->p + out->n);
    } else {
        *out = k;
    }
    it->p = *q == ',' ? wsin(q + 1) : q;
    return 1;
}

static size_t put_utf8(unsigned long u, char *tmp)
{
    if (u < 0x80) {
        tmp[0] = (char)u;
        return 1;
    }
    if (u < 0x800) {
        tmp[0] = (char)(0xC0 | (u >> 6));
        tmp[1] = (char)(0x80 | (u & 0x3F));
        return 2;
    }
    if (u < 0x10000) {
        tmp[0] = (char)(0xE0 | (u >> 12));
        tmp[1] = (char)(0x80 | ((u >> 6) & 0x3F));
        tmp[2] = (char)(0x80 | (u & 0x3F));
        return 3;
    }
    tmp[0] = (char)(0xF0 | (u >> 18));
    tmp[1] = (char)(0x80 | ((u >> 12) & 0x3F));
    tmp[2] = (char)(0x80 | ((u >> 6) & 0x3F));
    tmp[3] = (char)(0x80 | (u & 0x3F));
    return 4;
}

/* Unescape the string whose text (quotes included) is s[0..n) into buf
 * (cap >= 1; cut to cap - 1 bytes and NUL-terminated); returns the full
 * unescaped length. */
static size_t unescape(const char *s, size_t n, char *buf, size_t cap)
{
    const char *p = s + 1, *end = s + n - 1;
    size_t len = 0;
    char tmp[4];
    while (p < end) {
        const char *run = p;
        p = memchr(p, '\\', (size_t)(end - p));
        if (!p)
            p = end;
        size_t k = (size_t)(p - run);
        if (len < cap - 1)
            memcpy(buf + len, run, k < cap - 1 - len ? k : cap - 1 - len);
        len += k;
        if (p >= end)
            break;
        size_t m = 1;
        char e = p[1];
        p += 2;
        switch (e) {
        case 'b':
            tmp[0] = '\b';
            break;
        case 'f':
            tmp[0] = '\f';
            break;
        case 'n':
            tmp[0] = '\n';
            break;
        case 'r':
            tmp[0] = '\r';
            break;
        case 't':
            tmp[0] = '\t';
            break;
        case 'u': {
            unsigned long u = (unsigned long)hex4(p);
            p += 4;
            if (u >= 0xD800 && u <= 0xDBFF) {
                u = 0x10000 + ((u - 0xD800) << 10) + ((unsigned long)hex4(p + 2) - 0xDC00);
                p += 6;
            }
            m = put_utf8(u, tmp);
            break;
        }
        default: /* '"', '\\', '/' */
            tmp[0] = e;
        }
        for (size_t i = 0; i < m; i++, len++)
            if (len < cap - 1)
                buf[len] = tmp[i];
    }
    buf[len < cap - 1 ? len : cap - 1] = '\0';
    return len;
}

size_t jread_str(const struct jread_val *v, char *buf, size_t cap)
{
    if (!v || v->type != JREAD_STRING || cap == 0)
        return (size_t)-1;
    return unescape(v->p, v->n, buf, cap);
}

const char *jread_take(const struct jread_val *v, struct jread_buf *b)
{
    b->heap = NULL;
    b->s = NULL;
    b->len = jread_str(v, b->small, sizeof b->small);
    if (b->len == (size_t)-1)
        return NULL;
    if (b->len < sizeof b->small) {
        b->s = b->small;
        return b->s;
    }
    b->heap = malloc(b->len + 1);
    if (!b->heap)
        return NULL;
    unescape(v->p, v->n, b->heap, b->len + 1);
    b->s = b->heap;
    return b->s;
}

void jread_buf_free(struct jread_buf *b)
{
    free(b->heap);
    b->heap = NULL;
    b->s = NULL;
}

/* Is the key text k[0..n) (quotes included) equal to key, compared as json-c
 * does (up to the key's first NUL)? */
static int key_eq(const char *k, size_t n, const char *key, size_t klen)
{
    if (!memchr(k, '\\', n))
        return n - 2 == klen && memcmp(k + 1, key, klen) == 0;
    /* decode klen + 1 bytes at most: a C string of klen bytes ends there */
    char small[64], *buf = klen + 2 <= sizeof small ? small : malloc(klen + 2);
    if (!buf)
        return 0;
    unescape(k, n, buf, klen + 2);
    int eq = strnlen(buf, klen + 2) == klen && memcmp(buf, key, klen) == 0;
    if (buf != small)
        free(buf);
    return eq;
}

int jread_get(const struct jread_val *obj, const char *key, struct jread_val *out)
{
    jread_get_many(obj, &key, 1, out);
    return out->type != JREAD_NONE;
}

/* Which of keys[0..nkeys) (lengths klen) the key text k[0..n) (quotes
 * included; esc when it has an escape) is equal to, as a bit mask (nkeys
 * <= JREAD_MANY_MAX). */
static unsigned key_matches(const char *k, size_t n, int esc, const char *const *keys,
                            const size_t *klen, size_t nkeys)
{
    /* Unescaping only shortens a key: a raw key without an escape matches
     * only byte for byte, one with an escape only a shorter key. */
    size_t raw = n - 2;
    unsigned hits = 0;
    if (!esc) {
        for (size_t i = 0; i < nkeys; i++)
            if (raw == klen[i] &&
                (raw == 0 || (k[1] == keys[i][0] && memcmp(k + 1, keys[i], raw) == 0)))
                hits |= 1u << i;
        return hits;
    }
    for (size_t i = 0; i < nkeys; i++)
        if (raw > klen[i] && key_eq(k, n, keys[i], klen[i]))
            hits |= 1u << i;
    return hits;
}

void jread_get_many(const struct jread_val *obj, const char *const *keys, size_t n,
                    struct jread_val *out)
{
    size_t klen[JREAD_MANY_MAX];
    memset(out, 0, n * sizeof *out);
    if (!obj || obj->type != JREAD_OBJECT || n > JREAD_MANY_MAX)
        return;
    for (size_t i = 0; i < n; i++)
        klen[i] = strlen(keys[i]);
    struct jread_iter it;
    struct jread_val k, v;
    jread_iter_init(&it, obj);
    while (jread_iter_next(&it, &k, &v)) {
        int esc = memchr(k.p + 1, '\\', k.n - 2) != NULL;
        unsigned hits = key_matches(k.p, k.n, esc, keys, klen, n);
        for (size_t i = 0; hits; i++, hits >>= 1)
            if (hits & 1u)
                out[i] = v;
    }
}

int jread_number(const struct jread_val *v, int *is_double, int64_t *i, double *d)
{
    if (!v || v->type != JREAD_NUMBER)
        return SY_ERR;
    /* An accepted number is -?digits(.digits)?([eE][+-]?digits)?: read as
     * an integer, it is a double when the digits stop before its end.
     * strtoll / strtoull saturate; json-c reads an integer above INT64_MAX
     * as uint64, and json_object_get_int64() of it as INT64_MAX. */
    const char *s = v->p, *end = v->p + v->n;
    int neg = *s == '-';
    uint64_t u = 0;
    int over = 0;
    for (s += neg; s < end && is_digit(*s); s++) {
        unsigned dgt = (unsigned)(*s - '0');
        if (u > (UINT64_MAX - dgt) / 10)
            over = 1;
        else
            u = u * 10 + dgt;
    }
    *is_double = s < end;
    if (*is_double) {
        char small[JREAD_NUM_MAX], *text = small;
        if (v->n >= sizeof small) {
            text = malloc(v->n + 1);
            if (!text)
                return SY_ERR;
        }
        memcpy(text, v->p, v->n);
        text[v->n] = '\0';
        *d = strtod(text, NULL);
        *i = *d >= 9.2233720368547758e18    ? INT64_MAX
             : *d <= -9.2233720368547758e18 ? INT64_MIN
                                            : (int64_t)*d;
        if (text != small)
            free(text);
        return SY_OK;
    }
    if (neg)
        *i = over || u > (uint64_t)INT64_MAX ? INT64_MIN : -(int64_t)u;
    else
        *i = over || u > (uint64_t)INT64_MAX ? INT64_MAX : (int64_t)u;
    /* json_object_get_double(): of the int64, or of the uint64 above INT64_MAX */
    *d = neg || u <= (uint64_t)INT64_MAX ? (double)*i : (double)(over ? UINT64_MAX : u);
    return SY_OK;
}

const char *jread_get_take(const struct jread_val *o, const char *key, struct jread_buf *b)
{
    struct jread_val v;
    jread_get(o, key, &v);
    return jread_take(&v, b);
}

int jread_get_int(const struct jread_val *o, const char *key, long *val)
{
    struct jread_val v;
    return jread_get(o, key, &v) && jread_int(&v, val);
}

int jread_int(const struct jread_val *vp, long *val)
{
    struct jread_val v = *vp;
    if (v.type == JREAD_NUMBER) {
        int dbl;
        int64_t i;
        double d;
        if (jread_number(&v, &dbl, &i, &d) != SY_OK)
            return 0;
        if (!dbl) {
            if (i < -1000000000 || i > 1000000000)
                return 0;
            *val = (long)i;
            return 1;
        }
        if (!(d >= -1e9 && d <= 1e9) || d != (double)(long)d)
            return 0;
        *val = (long)d;
        return 1;
    }
    struct jread_buf b;
    const char *s = jread_take(&v, &b);
    int ok = 0;
    long n = 0;
    if (s) {
        int neg = *s == '-';
        s += neg;
        ok = is_digit(*s);
        for (; ok && is_digit(*s); s++) {
            if (n > 100000000)
                ok = 0;
            else
                n = n * 10 + (*s - '0');
        }
        if (ok && *s != '\0')
            ok = 0;
        if (ok)
            *val = neg ? -n : n;
    }
    jread_buf_free(&b);
    return ok;
}
