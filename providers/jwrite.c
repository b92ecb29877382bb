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

void jwrite_init(struct jwrite *w)
{
    memset(w, 0, sizeof *w);
}

void jwrite_free(struct jwrite *w)
{
    free(w->buf);
    jwrite_init(w);
}

/* Room for n more bytes and a NUL; 0 when the buffer has failed. */
static int room(struct jwrite *w, size_t n)
{
    if (w->failed)
        return 0;
    if (w->len + n + 1 <= w->cap)
        return 1;
    size_t cap = w->cap ? w->cap : 256;
    while (cap < w->len + n + 1)
        cap *= 2;
    char *b = realloc(w->buf, cap);
    if (!b) {
        w->failed = 1;
        return 0;
    }
    w->buf = b;
    w->cap = cap;
    return 1;
}

static void put(struct jwrite *w, const char *s, size_t n)
{
    if (!room(w, n))
        return;
    memcpy(w->buf + w->len, s, n);
    w->len += n;
    w->buf[w->len] = '\0';
}

void jwrite_raw(struct jwrite *w, const char *s)
{
    put(w, s, strlen(s));
}

void jwrite_str(struct jwrite *w, const char *s)
{
    static const char hex[] = "0123456789abcdef";
    put(w, "\"", 1);
    const char *run = s;
    for (;; s++) {
        unsigned char c = (unsigned char)*s;
        if (c >= 0x20 && c != '"' && c != '\\')
            continue;
        put(w, run, (size_t)(s - run));
        if (c == '\0')
            break;
        char e[6] = { '\\', 0 };
        size_t n = 2;
        switch (c) {
        case '\b':
            e[1] = 'b';
            break;
        case '\f':
            e[1] = 'f';
            break;
        case '\n':
            e[1] = 'n';
            break;
        case '\r':
            e[1] = 'r';
            break;
        case '\t':
            e[1] = 't';
            break;
        case '"':
        case '\\':
            e[1] = (char)c;
            break;
        default:
            memcpy(e, "\\u00", 4);
            e[4] = hex[c >> 4];
            e[5] = hex[c & 0xF];
            n = 6;
        }
        put(w, e, n);
        run = s + 1;
    }
    put(w, "\"", 1);
}

void jwrite_str_array(struct jwrite *w, const char *const *s, size_t n)
{
    put(w, "[", 1);
    for (size_t i = 0; i < n; i++) {
        if (i)
            put(w, ",", 1);
        jwrite_str(w, s[i]);
    }
    put(w, "]", 1);
}

static void member_value(struct jwrite *w, const struct jwrite_member *m)
{
    if (m->str)
        jwrite_str(w, m->str);
    else
        jwrite_str_array(w, m->arr, m->n_arr);
}

void jwrite_object(struct jwrite *w, const struct jwrite_member *m, size_t n)
{
    int first = 1;
    put(w, "{", 1);
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
            put(w, ",", 1);
        first = 0;
        jwrite_str(w, m[i].key);
        put(w, ":", 1);
        member_value(w, last);
    }
    put(w, "}", 1);
}

int jwrite_request(struct prov_request *out, struct jwrite *w)
{
    out->method = PROV_POST;
    out->body = w->failed ? NULL : w->buf;
    if (!out->body)
        free(w->buf);
    jwrite_init(w);
    if (!out->body || !out->url || prov_request_add_header(out, "Content-Type: application/json") != SY_OK) {
        prov_request_cleanup(out);
        return SY_ERR;
    }
    return SY_OK;
}
