/* test_enqueue.c — the pure parts of switchyard-enqueue: line → message
 * (id insertion, byte-for-byte pass-through) and the id set. */
#include <stdio.h>
#include <string.h>

#include <criterion/criterion.h>
#include <json-c/json.h>

#include "queue/enqueue_ids.h"
#include "queue/enqueue_line.h"

static const char *value_str(const struct enqueue_line *l, char *buf, size_t cap)
{
    snprintf(buf, cap, "%.*s", (int)l->vlen, l->value);
    return buf;
}

Test(enqueue_line, job_with_id_is_sent_verbatim)
{
    const char *in = "{\"id\":\"j-1\",\"prompt\":\"a room\"}\n";
    struct enqueue_line l;
    cr_assert_eq(enqueue_line_prepare(&l, in, strlen(in), "new-1"), 0);
    char buf[256];
    cr_assert_eq(l.kind, ENQUEUE_LINE_JOB);
    cr_assert_str_eq(l.key, "j-1");
    cr_assert_str_eq(value_str(&l, buf, sizeof buf), "{\"id\":\"j-1\",\"prompt\":\"a room\"}");
    enqueue_line_cleanup(&l);
}

Test(enqueue_line, missing_id_is_inserted_and_rest_kept)
{
    const char *in = "  {\"prompt\":\"a  spaced   room\", \"metadata\":{\"k\":[1,2]}}  ";
    struct enqueue_line l;
    cr_assert_eq(enqueue_line_prepare(&l, in, strlen(in), "enq-7"), 0);
    cr_assert_eq(l.kind, ENQUEUE_LINE_ID_ADDED);
    cr_assert_str_eq(l.key, "enq-7");
    char buf[256];
    json_object *o = json_tokener_parse(value_str(&l, buf, sizeof buf));
    cr_assert_not_null(o, "not JSON: %s", buf);
    json_object *v;
    cr_assert(json_object_object_get_ex(o, "id", &v));
    cr_assert_str_eq(json_object_get_string(v), "enq-7");
    cr_assert(json_object_object_get_ex(o, "prompt", &v));
    cr_assert_str_eq(json_object_get_string(v), "a  spaced   room", "the rest goes byte for byte");
    json_object_put(o);
    enqueue_line_cleanup(&l);
}

Test(enqueue_line, blank_and_not_job)
{
    struct enqueue_line l;
    cr_assert_eq(enqueue_line_prepare(&l, " \t\n", 3, "x"), 0);
    cr_assert_eq(l.kind, ENQUEUE_LINE_BLANK);
    enqueue_line_cleanup(&l);
    const char *bad[] = { "not json", "[1,2]", "{\"id\":42,\"prompt\":\"p\"}", "{\"id\":\"\"}" };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        cr_assert_eq(enqueue_line_prepare(&l, bad[i], strlen(bad[i]), "x"), 0);
        cr_assert_eq(l.kind, ENQUEUE_LINE_NOT_JOB, "%s", bad[i]);
        cr_assert_null(l.key, "%s", bad[i]);
        cr_assert_eq(l.vlen, strlen(bad[i]), "sent unchanged: %s", bad[i]);
        enqueue_line_cleanup(&l);
    }
}

Test(enqueue_ids, add_find_state)
{
    struct enqueue_ids s = { 0 };
    char id[32];
    for (int i = 0; i < 5000; i++) {
        snprintf(id, sizeof id, "job-%d", i);
        cr_assert_eq(enqueue_ids_add(&s, id, strlen(id)), 1);
    }
    cr_assert_eq(enqueue_ids_add(&s, "job-42", 6), 0, "duplicates are not added twice");
    struct enqueue_id *e =
            enqueue_ids_find(&s, "job-4999xyz", 8); /* len-bounded, not NUL-terminated */
    cr_assert_not_null(e);
    cr_assert_str_eq(e->id, "job-4999");
    cr_assert_eq(e->state, ENQUEUE_ID_WAITING);
    e->state = ENQUEUE_ID_DONE;
    cr_assert_eq(enqueue_ids_find(&s, "job-4999", 8)->state, ENQUEUE_ID_DONE);
    cr_assert_null(enqueue_ids_find(&s, "job-5000", 8));
    cr_assert_null(enqueue_ids_find(&s, NULL, 0));
    enqueue_ids_cleanup(&s);
}

/* M-5: json-c keeps a "\u0000" inside a string and counts it in the length.
 * The key must be exactly the id's bytes (it was a 1-byte strndup copy with
 * the full length, so producing it read past the allocation), and such a line
 * is refused, since no worker accepts that id. */
Test(enqueue_line, id_with_nul_is_refused_not_overread)
{
    const char *in = "{\"id\":\"\\u0000abcdefghijklmnopqrstuvwxyz0123456789\",\"prompt\":\"p\"}";
    static const char id[] = "\0abcdefghijklmnopqrstuvwxyz0123456789";
    struct enqueue_line l;
    cr_assert_eq(enqueue_line_prepare(&l, in, strlen(in), "new-1"), 0);
    if (l.kind == ENQUEUE_LINE_JOB) {
        /* what switchyard-enqueue does with a keyed line: key bytes to Kafka, then to the id set */
        cr_assert_eq(l.klen, sizeof id - 1);
        cr_expect_eq(memcmp(l.key, id, l.klen), 0, "the key is not the id's bytes");
        struct enqueue_ids s = { 0 };
        cr_expect_eq(enqueue_ids_add(&s, l.key, l.klen), 1);
        enqueue_ids_cleanup(&s);
    }
    cr_assert_eq(l.kind, ENQUEUE_LINE_REFUSED, "a NUL in the id must refuse the line (kind %d)",
                 (int)l.kind);
    cr_assert_null(l.key);
    cr_assert_not_null(l.why);
    cr_assert(strstr(l.why, "NUL"), "%s", l.why);
    enqueue_line_cleanup(&l);

    /* a NUL anywhere else in the line is the worker's business: sent as is */
    const char *other = "{\"id\":\"j-1\",\"prompt\":\"a\\u0000b\"}";
    cr_assert_eq(enqueue_line_prepare(&l, other, strlen(other), "new-1"), 0);
    cr_assert_eq(l.kind, ENQUEUE_LINE_JOB);
    cr_assert_eq(l.klen, 3);
    cr_assert_str_eq(l.key, "j-1");
    enqueue_line_cleanup(&l);
}

Test(enqueue_ids, ids_are_length_bounded_bytes)
{
    struct enqueue_ids s = { 0 };
    cr_assert_eq(enqueue_ids_add(&s, "a\0b", 3), 1);
    cr_assert_eq(enqueue_ids_add(&s, "a", 1), 1, "\"a\" is another id than \"a\\0b\"");
    struct enqueue_id *e = enqueue_ids_find(&s, "a\0b", 3);
    cr_assert_not_null(e);
    cr_assert_eq(e->len, 3);
    cr_assert_eq(memcmp(e->id, "a\0b", 4), 0, "copied with its length and a terminating NUL");
    enqueue_ids_cleanup(&s);
}
