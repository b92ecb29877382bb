/* jwrite.c — request bodies without a json-c tree.
 *
 * Why: kie_build_create spent 10.4k instructions per job (callgrind, engine
 * batch mode, 5,000 KIE jobs) building a json-c tree of a few objects for a
 * ~60-byte body and serializing it, prov_request_json 5.8k of them. Writing
 * the body directly costs a fraction of that (BENCH.md, Performance notes).
 *
 * Invariant: the output is byte for byte what json-c 0.16 writes with
 * JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE for the same
 * calls (tests/test_jwrite.c checks random strings against json-c). */
#include "jwrite.h"

#include <stdlib.h>
#include <string.h>

#include "core/sy.h"
#include "prov_util.h"

void jwrite_str_array(struct jsonw *w, const char *const *s, size_t n)
{
    jsonw_raw(w, "[", 1);
    for (size_t i = 0; i < n; i++) {
        if (i)
            jsonw_raw(w, ",", 1);
        jsonw_str(w, s[i], 0);
    }
    jsonw_raw(w, "]", 1);
}

static void member_value(struct jsonw *w, const struct jwrite_member *m)
{
    if (m->str)
        jsonw_str(w, m->str, 0);
    else
        jwrite_str_array(w, m->arr, m->n_arr);
}

void jwrite_object(struct jsonw *w, const struct jwrite_member *m, size_t n)
{
    int first = 1;
    jsonw_raw(w, "{", 1);
    for (size_t i = 0; i < n; i++) {
        if (!m[i].str && !m[i].arr)
            continue;
        size_t j;
        for (j = 0; j < i; j++) /* shown before: its value comes from the last duplicate */
            if ((m[j].str || m[j].arr) && strcmp(m[j].key, m[i].key) == 0)
                break;
        if (j < i)
            continue;
        const struct jwrite_member *last = &m[i];
        for (j = i + 1; j < n; j++)
            if ((m[j].str || m[j].arr) && strcmp(m[j].key, m[i].key) == 0)
                last = &m[j];
        if (!first)
            jsonw_raw(w, ",", 1);
        first = 0;
        jsonw_str(w, m[i].key, 0);
        jsonw_raw(w, ":", 1);
        member_value(w, last);
    }
    jsonw_raw(w, "}", 1);
}

int jwrite_request(struct prov_request *out, struct jsonw *w)
{
    out->method = PROV_POST;
    out->body = w->failed ? NULL : w->buf;
    if (!out->body)
        free(w->buf);
    jsonw_init(w);
    if (!out->body || !out->url ||
        prov_request_add_header(out, "Content-Type: application/json") != SY_OK) {
        prov_request_cleanup(out);
        return SY_ERR;
    }
    return SY_OK;
}
