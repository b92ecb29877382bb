/* jwrite.h — request bodies written straight into one buffer, byte for byte
 * as json-c's json_object_to_json_string_ext(PLAIN | NOSLASHESCAPE) wrote
 * them before (tests/test_jwrite.c compares the two). Pure; any thread. */
#ifndef PROVIDERS_JWRITE_H
#define PROVIDERS_JWRITE_H

#include <stddef.h>

#include "core/jsonw.h"
#include "provider.h"

/* The buffer is a struct jsonw (core/jsonw.h): jsonw_str(w, s, 0) writes a
 * C string as json-c does with NOSLASHESCAPE. */

/* An array of n C strings. */
void jwrite_str_array(struct jsonw *w, const char *const *s, size_t n);

/* One member of jwrite_object(): a string (str) or an array of strings
 * (arr, n_arr); skipped when both are NULL. Borrowed. */
struct jwrite_member {
    const char *key;
    const char *str;
    const char *const *arr;
    size_t n_arr;
};

/* Object of n members in order; a key seen before replaces the earlier
 * member's value in its place, as json_object_object_add() does. */
void jwrite_object(struct jsonw *w, const struct jwrite_member *m, size_t n);

/* Finish a JSON POST in out (url already set): takes w's buffer as the body
 * and adds Content-Type. SY_OK, or SY_ERR with out cleaned up (w freed
 * either way). */
int jwrite_request(struct prov_request *out, struct jsonw *w);

#endif
