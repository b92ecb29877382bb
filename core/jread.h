/* jread.h — a validating, non-allocating JSON reader for provider replies.
 *
 * jread_parse() checks a whole document once (RFC 8259, depth limit, strict
 * UTF-8); after that, values are spans of the caller's buffer, found by key
 * or by iteration (or recorded by key during that check: jread_want), and
 * strings are unescaped into caller buffers. Nothing is allocated and
 * nothing is copied until a caller asks for a string.
 * Pure; safe from any thread. Why it exists: see jread.c. */
#ifndef PROVIDERS_JREAD_H
#define PROVIDERS_JREAD_H

#include <stddef.h>
#include <stdint.h>

#define JREAD_MANY_MAX 16  /* keys read in one pass */
#define JREAD_MAX_DEPTH 64 /* nested arrays/objects; json-c's prov_json_parse() limit */

enum jread_type {
    JREAD_NONE = 0,
    JREAD_NULL,
    JREAD_FALSE,
    JREAD_TRUE,
    JREAD_NUMBER,
    JREAD_STRING,
    JREAD_ARRAY,
    JREAD_OBJECT
};

/* A value: its text p[0..n) inside a document jread_parse() accepted. A
 * missing value has type JREAD_NONE. Borrowed from the document. */
struct jread_val {
    enum jread_type type;
    const char *p;
    size_t n;
};

/* Iterator over an array's elements or an object's members. */
struct jread_iter {
    const char *p, *end;
};

#define JREAD_RAW_BYTES                                                                            \
    1u /* jread_parse flag: bytes >= 0x80 in strings pass unchecked, as in json-c */

/* Validate doc[0..len) (no NUL needed) as exactly one JSON value with only
 * whitespace around it: RFC 8259 grammar, at most JREAD_MAX_DEPTH levels,
 * no lone surrogate escapes, strings strict UTF-8 unless flags has
 * JREAD_RAW_BYTES. SY_OK with *root set, else SY_ERR (*root type NONE). */
int jread_parse(const char *doc, size_t len, unsigned flags, struct jread_val *root);

/* For provider replies: jread_parse() with JREAD_RAW_BYTES, refusing also
 * what prov_json_parse() (json-c) refuses or reads as NULL: a top-level
 * null, and a top-level number or literal with nothing after it (json-c
 * waits for more input). */
int jread_parse_reply(const char *doc, size_t len, struct jread_val *root);

/* Members recorded while a reply is validated, so that no second pass
 * over the document is needed: out[i] is what jread_get_many(root, keys,
 * n, out) gives (n <= JREAD_MANY_MAX), and when sub is not NULL,
 * sub->out what jread_get_many() gives of the member keys[sub_of]
 * (sub_of < n; sub may have a sub in turn). */
struct jread_want {
    const char *const *keys;
    size_t n;
    struct jread_val *out;
    size_t sub_of;
    const struct jread_want *sub;
};

/* jread_parse_reply() that also fills w (every out type NONE when it fails). */
int jread_parse_reply_want(const char *doc, size_t len, struct jread_val *root,
                           const struct jread_want *w);

/* obj[key] (the last member with that key, as json-c keeps; a key is
 * compared up to its first NUL, as json-c stores it). 1 with *out set;
 * 0 (out type NONE) when obj is not an object or has no such key. */
int jread_get(const struct jread_val *obj, const char *key, struct jread_val *out);

/* jread_get() of n <= JREAD_MANY_MAX keys in one pass over obj: out[i] for
 * keys[i] (type NONE when absent). */
void jread_get_many(const struct jread_val *obj, const char *const *keys, size_t n,
                    struct jread_val *out);

/* Start iterating v (an array or object; anything else yields nothing). */
void jread_iter_init(struct jread_iter *it, const struct jread_val *v);
/* The next element (array) or member value (object; its key in *key when
 * key is not NULL). 1, or 0 at the end. */
int jread_iter_next(struct jread_iter *it, struct jread_val *key, struct jread_val *out);

/* Unescape string v into buf (cap >= 1 bytes): writes at most cap - 1 bytes
 * and a NUL. Returns the full unescaped length (which may contain NULs; the
 * string was cut when it is >= cap), or (size_t)-1 when v is not a string. */
size_t jread_str(const struct jread_val *v, char *buf, size_t cap);

/* A string's unescaped bytes, held for the caller: in small when they fit,
 * else on the heap. s is NUL-terminated after len bytes; read as a C
 * string it is what json-c's json_object_get_string() gives. */
struct jread_buf {
    const char *s;
    size_t len;
    char *heap;
    char small[512];
};

/* Fill b with string v: b->s, or NULL when v is not a string or on no
 * memory. Release with jread_buf_free() either way. */
const char *jread_take(const struct jread_val *v, struct jread_buf *b);
void jread_buf_free(struct jread_buf *b);

/* Number v: *is_double (text has '.', 'e' or 'E'), *i (integers, saturated
 * to int64 as json-c does; doubles truncated) and *d (strtod of the text).
 * SY_OK, or SY_ERR when v is not a number. */
int jread_number(const struct jread_val *v, int *is_double, int64_t *i, double *d);

/* jread_take() of o[key]: NULL when o is not an object or key is absent or
 * not a string (as prov_json_str()). Release b with jread_buf_free(). */
const char *jread_get_take(const struct jread_val *o, const char *key, struct jread_buf *b);

/* o[key] as an integer, as prov_json_int(): an int or integral double
 * within ±1e9, or a string of optional '-' and digits. 1, else 0. */
int jread_get_int(const struct jread_val *o, const char *key, long *val);
/* The same for a value already found. */
int jread_int(const struct jread_val *v, long *val);


#endif
