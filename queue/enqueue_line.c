/* enqueue_line.c — classifies a JSONL line for switchyard-enqueue and inserts a
 * job id where one is missing. The line is parsed with json-c only to decide;
 * what goes out is the original text (plus the inserted id), never a
 * re-serialisation, so numbers, key order and spacing survive as written. */
#include "queue/enqueue_line.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "core/sy.h"

static const char line_ws[] = " \t\r\n\f\v";

int enqueue_line_prepare(struct enqueue_line *l, const char *line, size_t len, const char *new_id)
{
    memset(l, 0, sizeof *l);
    while (len > 0 && strchr(line_ws, line[len - 1]) && line[len - 1] != '\0')
        len--;
    size_t lead = 0;
    while (lead < len && line[lead] != '\0' && strchr(line_ws, line[lead]))
        lead++;
    l->value = line;
    l->vlen = len;
    if (lead == len)
        return SY_OK; /* BLANK */
    l->kind = ENQUEUE_LINE_NOT_JOB;
    json_tokener *tok = json_tokener_new();
    if (!tok)
        return SY_ERR;
    json_object *o = len <= INT32_MAX ? json_tokener_parse_ex(tok, line, (int)len) : NULL;
    json_object *idv;
    int rc = SY_OK;
    if (!o || json_tokener_get_parse_end(tok) != len || !json_object_is_type(o, json_type_object)) {
        /* NOT_JOB */
    } else if (json_object_object_get_ex(o, "id", &idv)) {
        const char *id = json_object_get_string(idv);
        size_t idlen = (size_t)json_object_get_string_len(idv);
        if (json_object_is_type(idv, json_type_string) && idlen > 0 && memchr(id, '\0', idlen)) {
            /* the key is exactly the id's bytes; a NUL cannot be one of them */
            l->kind = ENQUEUE_LINE_REFUSED;
            l->why = "its \"id\" contains a NUL character (\\u0000)";
        } else if (json_object_is_type(idv, json_type_string) && idlen > 0) {
            l->kind = ENQUEUE_LINE_JOB;
            l->klen = idlen;
            l->key = malloc(idlen + 1);
            rc = l->key ? SY_OK : SY_ERR;
            if (l->key) {
                memcpy(l->key, id, idlen);
                l->key[idlen] = '\0';
            }
        }
    } else if (line[lead] != '{') {
        /* NOT_JOB: a comment before the '{' (json-c skips them; the worker
         * refuses them): there is no brace at line[lead] to insert after */
    } else {
        /* line[lead] is the object's '{'; an empty object takes no comma */
        int empty = json_object_object_length(o) == 0;
        size_t idl = strlen(new_id), cap = len + idl + 16;
        l->kind = ENQUEUE_LINE_ID_ADDED;
        l->klen = idl;
        l->key = strdup(new_id);
        l->owned = malloc(cap);
        if (!l->key || !l->owned) {
            rc = SY_ERR;
        } else {
            int n = snprintf(l->owned, cap, "%.*s\"id\":\"%s\"%s", (int)lead + 1, line, new_id,
                             empty ? "}" : ",");
            l->vlen = (size_t)n;
            if (!empty) {
                memcpy(l->owned + l->vlen, line + lead + 1, len - lead - 1);
                l->vlen += len - lead - 1;
            }
            l->value = l->owned;
        }
    }
    json_object_put(o);
    json_tokener_free(tok);
    if (rc != SY_OK)
        enqueue_line_cleanup(l);
    return rc;
}

void enqueue_line_cleanup(struct enqueue_line *l)
{
    free(l->key);
    free(l->owned);
    memset(l, 0, sizeof *l);
}
