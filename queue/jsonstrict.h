/* jsonstrict.h — strict JSON reading for the codec; internal to queue/ (the
 * codec's public header is codec.h). Pure: no I/O, no clock, no globals. */
#ifndef QUEUE_JSONSTRICT_H
#define QUEUE_JSONSTRICT_H

#include <stddef.h>

#include <json-c/json.h>

/* Parses exactly len bytes into one JSON value nested at most depth levels,
 * rejecting what json-c would let through or alter: invalid UTF-8, NUL bytes
 * and \u0000 escapes, raw control characters in strings, single quotes,
 * comments, trailing data, the bare literal null. Returns a new reference
 * (caller puts it) or NULL with err set to a sentence. */
json_object *jsonstrict_parse(const char *buf, size_t len, int depth, char *err, size_t errlen);

/* 0 when no number anywhere in v is NaN or infinite; -1 with err set to
 * "<field>: numbers must be finite" otherwise. */
int jsonstrict_check_finite(json_object *v, const char *field, char *err, size_t errlen);

struct jread_val;
/* 1 when v (a document core/jread accepted) holds what jread reads but
 * json-c's tokener does not, or reads otherwise: a \u0000 escape, or a value
 * nested deeper than max_depth levels. The codec then reads it with json-c. */
int jsonstrict_needs_tree(const struct jread_val *v, int max_depth);

/* Resets every double in v to json-c's default text ("2." prints "2.0"). */
void jsonstrict_plain_doubles(json_object *v);

/* Fills err (when not NULL and errlen > 0) printf-style; shared by the
 * codec's files. */
__attribute__((format(printf, 3, 4))) void jsonstrict_seterr(char *err, size_t errlen,
                                                             const char *fmt, ...);

#endif
