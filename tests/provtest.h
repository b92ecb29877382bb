/* provtest.h — what the provider tests share: a fixture-table row, reading a
 * reply fixture into a buffer of exactly its size (no NUL, so ASan catches any
 * read past body_len), running one parser over a body, checking one row, and
 * the every-prefix / one-byte-mutation sweep. Every helper asserts
 * (Criterion); call them from a test body only. */
#ifndef TESTS_PROVTEST_H
#define TESTS_PROVTEST_H

#include <stddef.h>

#include <json-c/json.h>

#include "providers/provider.h"

/* Which parser a row goes through. */
enum provtest_parser { PROVTEST_CREATE, PROVTEST_POLL };

/* One expected reply. Inline strings, not pointers: Criterion re-executes the
 * binary for each test, so pointers into the parent's image would not
 * survive. "" = none / not checked. */
struct provtest_fx {
    char file[64];        /* under SY_FIXTURES/<dir>/, named name.http<status>.<ext> */
    long http;            /* status to parse it under (may differ from the name's) */
    char retry_after[16]; /* Retry-After header value; "" = no header */
    enum provtest_parser parser;
    enum prov_outcome outcome;
    enum prov_class cls;
    enum prov_kind kind;
    char code[32]; /* expected code[] */
    size_t n_urls;
    char task_id[48]; /* "" = no task id expected */
    long retry_after_ms;
    char msg_has[64]; /* substring of message; "" = not checked */
};

/* Read SY_FIXTURES/dir/name into a malloc'd buffer of exactly its size
 * (NULL and *len = 0 when the file is empty); caller frees. */
char *provtest_read_fixture(const char *dir, const char *name, size_t *len);

/* Run ops' create or poll parser over body (borrowed; may be NULL when len is
 * 0) with this status and Retry-After (NULL = none). Initializes *res; the
 * caller cleans it with prov_result_cleanup(). */
void provtest_parse(const struct prov_ops *ops, enum provtest_parser w, const char *body,
                    size_t len, long http, const char *retry_after, struct prov_result *res);

/* Parse fixture row t from SY_FIXTURES/dir and expect every field of the row;
 * every result URL must start with url_prefix. */
void provtest_check_fixture(const struct prov_ops *ops, const char *dir,
                            const struct provtest_fx *t, const char *url_prefix);

/* Parse SY_FIXTURES/dir/file (file not NULL) or the NUL-terminated body
 * (file NULL: it must parse as a success) and expect duration_ms == want_ms. */
void provtest_expect_duration(const struct prov_ops *ops, const char *dir, const char *file,
                              const char *body, enum provtest_parser w, long http, long want_ms);

/* Flags for provtest_sweep(). */
#define PROVTEST_PREFIX_RETRY_AFTER 1 /* pass the row's Retry-After with each prefix */
#define PROVTEST_PREFIX_URLS 2        /* a prefix parsed as success must carry URLs */

/* Every prefix of the row's fixture through both parsers, then 7 one-byte
 * mutations at every position: no crash, no leak, terminated strings, no
 * prefix of the document mistaken for a finished task. */
void provtest_sweep(const struct prov_ops *ops, const char *dir, const struct provtest_fx *t,
                    unsigned flags);

/* For request bodies: the string at o.k1 (o.k1.k2 when k2 is not NULL), or
 * NULL when missing or not a string. Borrowed from o. */
const char *provtest_jstr(struct json_object *o, const char *k1, const char *k2);

/* 1 when o.k1 (o.k1.k2 when k2 is not NULL) exists, else 0. */
int provtest_has(struct json_object *o, const char *k1, const char *k2);

#endif
