/* fuzz_jread_diff.c — differential: providers/jread against json-c.
 *
 * For any input, both in strict mode (jread_parse) and in the provider-reply
 * mode (jread_parse_reply, JREAD_RAW_BYTES) against prov_json_parse():
 * - jread may refuse what json-c accepts (it is stricter: RFC 8259 only),
 *   but never accept what json-c refuses;
 * - when both accept, the trees agree: types, numbers (int64 / double bits),
 *   strings byte for byte (NULs included), array lengths and order, and
 *   every object member as jread_get() finds it by json-c's (NUL-cut) key.
 * One known json-c 0.16 bug is tolerated: it decodes a surrogate pair whose
 * high half has (hi & 0xFC3E) == 0xD836 (U+1D800–U+1DBFF, U+2D800–…) as
 * U+FFFD; jread decodes it per RFC 8259. When the input holds such an
 * escape, strings and keys are not compared (accept/reject and the rest
 * still are). */
#include <json-c/json.h>
#include <math.h>
#include <stdio.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/sy.h"
#include "core/jread.h"
#include "providers/prov_util.h"
#include "providers/provider.h"
#include "tests/fuzz/fuzz.h"

static int skip_strings; /* the input holds an escape json-c decodes wrongly */

static void check(int ok)
{
    if (!ok)
        abort();
}

static void same(struct json_object *o, const struct jread_val *v, int depth);

static void same_string(struct json_object *o, const struct jread_val *v)
{
    check(v->type == JREAD_STRING);
    if (skip_strings)
        return;
    struct jread_buf b;
    check(jread_take(v, &b) != NULL);
    check(b.len == (size_t)json_object_get_string_len(o));
    check(memcmp(b.s, json_object_get_string(o), b.len) == 0);
    jread_buf_free(&b);
}

static void same(struct json_object *o, const struct jread_val *v, int depth)
{
    check(depth <= JREAD_MAX_DEPTH + 1);
    switch (json_object_get_type(o)) {
    case json_type_null:
        check(v->type == JREAD_NULL);
        break;
    case json_type_boolean:
        check(v->type == (json_object_get_boolean(o) ? JREAD_TRUE : JREAD_FALSE));
        break;
    case json_type_int:
    case json_type_double: {
        int dbl;
        int64_t i;
        double d;
        check(jread_number(v, &dbl, &i, &d) == SY_OK);
        check(dbl == json_object_is_type(o, json_type_double));
        if (dbl) {
            double e = json_object_get_double(o);
            check(memcmp(&d, &e, sizeof d) == 0 || (isnan(d) && isnan(e)));
        } else {
            check(i == json_object_get_int64(o));
        }
        break;
    }
    case json_type_string:
        same_string(o, v);
        break;
    case json_type_array: {
        check(v->type == JREAD_ARRAY);
        size_t n = json_object_array_length(o), k = 0;
        struct jread_iter it;
        struct jread_val e;
        jread_iter_init(&it, v);
        while (jread_iter_next(&it, NULL, &e)) {
            check(k < n);
            same(json_object_array_get_idx(o, k++), &e, depth + 1);
        }
        check(k == n);
        break;
    }
    case json_type_object: {
        check(v->type == JREAD_OBJECT);
        if (skip_strings)
            break;
        json_object_object_foreach(o, key, val)
        {
            struct jread_val m;
            check(jread_get(v, key, &m));
            if (!val)
                check(m.type == JREAD_NULL);
            else
                same(val, &m, depth + 1);
        }
        /* and every jread member is a json-c member */
        struct jread_iter it;
        struct jread_val k, m;
        jread_iter_init(&it, v);
        while (jread_iter_next(&it, &k, &m)) {
            struct jread_buf b;
            check(jread_take(&k, &b) != NULL);
            check(json_object_object_get_ex(o, b.s, NULL));
            jread_buf_free(&b);
        }
        break;
    }
    }
}

static int same_val(const struct jread_val *a, const struct jread_val *b)
{
    return a->type == b->type && (a->type == JREAD_NONE || (a->p == b->p && a->n == b->n));
}

/* jread_parse_reply_want() records what jread_parse_reply() then
 * jread_get_many() find, for the root and for one member's members. The
 * keys include the document's first root key and that of its first
 * object member, as json-c reads them (escapes, NUL cut). */
static void check_want(const char *doc, size_t size, struct json_object *o, int r_ok,
                       const struct jread_val *reply)
{
    char k0[64] = "data", k1[64] = "taskId";
    if (o && json_object_is_type(o, json_type_object)) {
        json_object_object_foreach(o, key, val)
        {
            snprintf(k0, sizeof k0, "%s", key);
            if (val && json_object_is_type(val, json_type_object)) {
                json_object_object_foreach(val, key2, val2)
                {
                    (void)val2;
                    snprintf(k1, sizeof k1, "%s", key2);
                    break;
                }
            }
            break;
        }
    }
    const char *keys[] = { "code", "msg", k0, "a", "", "data", k0 };
    const char *sub_keys[] = { "taskId", k1, "a", "", "state" };
    enum { NK = sizeof keys / sizeof keys[0], NS = sizeof sub_keys / sizeof sub_keys[0] };
    struct jread_val root, out[NK], sub_out[NS], g[NK], gs[NS];
    for (size_t sub_of = 2; sub_of <= 5; sub_of += 3) {
        const struct jread_want sw = { sub_keys, NS, sub_out, 0, NULL };
        const struct jread_want w = { keys, NK, out, sub_of, &sw };
        int ok = jread_parse_reply_want(doc, size, &root, &w) == SY_OK;
        check(ok == r_ok);
        check(same_val(&root, reply));
        jread_get_many(&root, keys, NK, g);
        jread_get_many(&g[sub_of], sub_keys, NS, gs);
        for (size_t i = 0; i < NK; i++)
            check(same_val(&out[i], &g[i]));
        for (size_t i = 0; i < NS; i++)
            check(same_val(&sub_out[i], &gs[i]));
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *doc = (const char *)data;
    skip_strings = fuzz_jsonc_surrogate_bug((const uint8_t *)doc, size);
    struct json_object *o = prov_json_parse(doc, size);
    struct jread_val strict, reply;
    int s_ok = jread_parse(doc, size, 0, &strict) == SY_OK;
    int r_ok = jread_parse_reply(doc, size, &reply) == SY_OK;
    if (s_ok && strict.type != JREAD_NULL &&
        (strict.type == JREAD_OBJECT || strict.type == JREAD_ARRAY || strict.type == JREAD_STRING))
        check(r_ok); /* the reply mode only widens UTF-8 */
    if (r_ok) {
        check(o != NULL); /* never accept what json-c refuses */
        same(o, &reply, 0);
    }
    check_want(doc, size, o, r_ok, &reply);
    if (s_ok && o)
        same(o, &strict, 0);
    if (s_ok && !o) /* json-c refuses only a bare scalar at the very end, or reads null as NULL */
        check(strict.type != JREAD_OBJECT && strict.type != JREAD_ARRAY &&
              strict.type != JREAD_STRING);
    json_object_put(o);
    return 0;
}
