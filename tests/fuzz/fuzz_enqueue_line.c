/* fuzz_enqueue_line.c — enqueue_line_prepare() and the id set
 * (queue/enqueue_line.c, queue/enqueue_ids.c). A message that carries a key
 * must be one JSON object whose "id" is exactly key[0..klen); an inserted id
 * leaves every other byte of the line as it was. The id set is file-static,
 * reset every 10 000 inputs. */
#include <json-c/json.h>

#include "queue/enqueue_ids.h"
#include "queue/enqueue_line.h"
#include "tests/fuzz/fuzz.h"

#define NEW_ID "fz-00000001"

static struct enqueue_ids ids;
static unsigned long runs;

/* The value as one JSON object (caller puts), or NULL. */
static json_object *parse_value(const char *v, size_t n)
{
    json_tokener *tok = json_tokener_new();
    FUZZ_CHECK(tok != NULL);
    json_object *o = n <= INT32_MAX ? json_tokener_parse_ex(tok, v, (int)n) : NULL;
    if (o && (json_tokener_get_parse_end(tok) != n || !json_object_is_type(o, json_type_object))) {
        json_object_put(o);
        o = NULL;
    }
    json_tokener_free(tok);
    return o;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (++runs % 10000 == 0)
        enqueue_ids_cleanup(&ids);
    char *line = fuzz_dup(data, size);
    struct enqueue_line l;
    FUZZ_CHECK(enqueue_line_prepare(&l, line, size, NEW_ID) == 0);
    FUZZ_CHECK(l.vlen <= size + strlen(NEW_ID) + 16);
    if (l.kind == ENQUEUE_LINE_JOB || l.kind == ENQUEUE_LINE_ID_ADDED) {
        FUZZ_CHECK(l.key != NULL && l.klen > 0 && strlen(l.key) == l.klen);
        /* A copy, so that a value pointing past the line is an ASan report. */
        char *v = fuzz_dup((const uint8_t *)l.value, l.vlen);
        json_object *o = parse_value(v, l.vlen), *idv = NULL;
        FUZZ_CHECK(o != NULL);
        FUZZ_CHECK(json_object_object_get_ex(o, "id", &idv) &&
                   json_object_is_type(idv, json_type_string));
        FUZZ_CHECK((size_t)json_object_get_string_len(idv) == l.klen);
        FUZZ_CHECK(memcmp(json_object_get_string(idv), l.key, l.klen) == 0);
        json_object_put(o);
        free(v);
        if (l.kind == ENQUEUE_LINE_ID_ADDED) {
            /* owned = line[0..lead] + "\"id\":\"NEW_ID\"" + ("," line[lead+1..] | "}") */
            FUZZ_CHECK(strcmp(l.key, NEW_ID) == 0);
            const char *brace = memchr(l.value, '{', l.vlen);
            FUZZ_CHECK(brace != NULL);
            size_t lead = (size_t)(brace - l.value);
            FUZZ_CHECK(memcmp(l.value, line, lead + 1) == 0);
            static const char ins[] = "\"id\":\"" NEW_ID "\"";
            FUZZ_CHECK(memcmp(l.value + lead + 1, ins, sizeof ins - 1) == 0);
            size_t rest = lead + 1 + sizeof ins - 1;
            if (l.value[rest] == ',') {
                FUZZ_CHECK(l.vlen - rest - 1 <= size - lead - 1);
                FUZZ_CHECK(memcmp(l.value + rest + 1, line + lead + 1, l.vlen - rest - 1) == 0);
            } else {
                FUZZ_CHECK(l.value[rest] == '}' && l.vlen == rest + 1);
            }
        }
        int added = enqueue_ids_add(&ids, l.key, l.klen);
        FUZZ_CHECK(added == 0 || added == 1);
        struct enqueue_id *e = enqueue_ids_find(&ids, l.key, l.klen);
        FUZZ_CHECK(e != NULL && e->len == l.klen && memcmp(e->id, l.key, l.klen) == 0);
    } else { /* BLANK, NOT_JOB, REFUSED: no key, the line as it is */
        FUZZ_CHECK(l.key == NULL && l.value == line && l.vlen <= size);
    }
    enqueue_line_cleanup(&l);
    free(line);
    return 0;
}
