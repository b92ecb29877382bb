/* test_jread.c — providers/jread: what a document is (valid / invalid tables,
 * depth, UTF-8, escapes), finding members, iterating, unescaping, numbers,
 * and the provider-reply mode's json-c compatibility. */
#include "core/jread.h"

#include <criterion/criterion.h>
#include <criterion/parameterized.h>
#include <stdio.h>
#include <string.h>

#include "core/sy.h"

struct doc {
    char text[96];
    int ok; /* expected from jread_parse(…, 0, …) */
};

ParameterizedTestParameters(jread, documents)
{
    static struct doc t[] = {
        { "{}", 1 },
        { " [ ] ", 1 },
        { "\"\"", 1 },
        { "0", 1 },
        { "-0.5e+10", 1 },
        { "1E-2", 1 },
        { "true", 1 },
        { "null", 1 },
        { "{\"a\":[1,{\"b\":null}],\"c\":\"d\"}", 1 },
        { "\t\r\n{\"a\" : 1 }\n", 1 },
        { "\"\\\"\\\\\\/\\b\\f\\n\\r\\t\\u00e9\"", 1 },
        { "\"\\ud83d\\ude00\"", 1 },
        { "\"\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80\"", 1 },
        { "\"\x7f\"", 1 },
        { "", 0 },
        { " ", 0 },
        { "{", 0 },
        { "{\"a\":1", 0 },
        { "{\"a\":1,}", 0 }, /* trailing comma (json-c takes it) */
        { "[1,]", 0 },
        { "[,1]", 0 },
        { "{a:1}", 0 },
        { "{'a':1}", 0 }, /* single quotes (json-c takes them) */
        { "{\"a\" 1}", 0 },
        { "{\"a\":1 \"b\":2}", 0 },
        { "[1 2]", 0 },
        { "{} {}", 0 }, /* two values */
        { "{}x", 0 },   /* trailing garbage */
        { "01", 0 },    /* leading zero */
        { "1.", 0 },
        { ".5", 0 },
        { "+1", 0 },
        { "-", 0 },
        { "1e", 0 },
        { "1e+", 0 },
        { "0x10", 0 },
        { "NaN", 0 },
        { "Infinity", 0 },
        { "TRUE", 0 },
        { "nul", 0 },
        { "truex", 0 },
        { "/*c*/1", 0 }, /* comments (json-c takes them) */
        { "\f1", 0 },    /* only RFC whitespace */
        { "[1]\v", 0 },
        { "\"a", 0 },
        { "\"\\x\"", 0 },
        { "\"\\'\"", 0 },
        { "\"\\u12\"", 0 },
        { "\"\\u12g4\"", 0 },
        { "\"\\ud800\"", 0 }, /* lone high surrogate */
        { "\"\\ud800\\u0041\"", 0 },
        { "\"\\udc00\"", 0 }, /* lone low surrogate */
        { "\"\\ud800\\ud800\"", 0 },
        { "\"\x01\"", 0 }, /* raw control character */
        { "\"a\nb\"", 0 },
        { "\"\xff\"", 0 },             /* invalid UTF-8 */
        { "\"\xc0\x80\"", 0 },         /* overlong NUL */
        { "\"\xed\xa0\x80\"", 0 },     /* encoded surrogate */
        { "\"\xf4\x90\x80\x80\"", 0 }, /* past U+10FFFF */
        { "\"\xe2\x82\"", 0 },         /* truncated sequence */
        { "\"\x80\"", 0 },             /* lone continuation byte */
    };
    return cr_make_param_array(struct doc, t, sizeof t / sizeof t[0]);
}

ParameterizedTest(struct doc *d, jread, documents)
{
    struct jread_val v;
    int rc = jread_parse(d->text, strlen(d->text), 0, &v);
    cr_expect_eq(rc == SY_OK, d->ok, "\"%s\": %s", d->text, rc == SY_OK ? "accepted" : "refused");
    if (rc != SY_OK)
        cr_expect_eq(v.type, JREAD_NONE);
}

Test(jread, embedded_nul_byte_is_refused_outside_escapes)
{
    struct jread_val v;
    cr_expect_eq(jread_parse("\"a\0b\"", 5, 0, &v), SY_ERR);
    cr_expect_eq(jread_parse("{}\0", 3, 0, &v), SY_ERR);
    cr_expect_eq(jread_parse("{}", 2, 0, &v), SY_OK, "the length, not a NUL, ends the document");
}

static char *nested(int depth, char *buf)
{
    for (int i = 0; i < depth; i++)
        buf[i] = '[';
    for (int i = 0; i < depth; i++)
        buf[depth + i] = ']';
    buf[2 * depth] = '\0';
    return buf;
}

Test(jread, depth_limit_is_json_c_s)
{
    char buf[2 * (JREAD_MAX_DEPTH + 2) + 1];
    struct jread_val v;
    cr_expect_eq(jread_parse(nested(JREAD_MAX_DEPTH, buf), 2 * JREAD_MAX_DEPTH, 0, &v), SY_OK);
    cr_expect_eq(jread_parse(nested(JREAD_MAX_DEPTH + 1, buf), 2 * (JREAD_MAX_DEPTH + 1), 0, &v),
                 SY_ERR);
    const char *deep_obj = "{\"a\":{\"a\":{\"a\":1}}}";
    cr_expect_eq(jread_parse(deep_obj, strlen(deep_obj), 0, &v), SY_OK);
}

Test(jread, raw_bytes_mode_passes_invalid_utf8_only)
{
    struct jread_val v;
    const char *bad = "{\"msg\":\"bad \xff\xc3x\"}";
    cr_expect_eq(jread_parse(bad, strlen(bad), 0, &v), SY_ERR);
    cr_expect_eq(jread_parse(bad, strlen(bad), JREAD_RAW_BYTES, &v), SY_OK);
    cr_expect_eq(jread_parse("\"\x01\"", 3, JREAD_RAW_BYTES, &v), SY_ERR,
                 "control characters stay refused");
}

Test(jread, reply_mode_refuses_what_json_c_reads_as_nothing)
{
    struct jread_val v;
    cr_expect_eq(jread_parse_reply("null ", 5, &v), SY_ERR);
    cr_expect_eq(jread_parse_reply("1", 1, &v), SY_ERR, "json-c waits for more digits");
    cr_expect_eq(jread_parse_reply("true", 4, &v), SY_ERR);
    cr_expect_eq(jread_parse_reply("1 ", 2, &v), SY_OK);
    cr_expect_eq(v.type, JREAD_NUMBER);
    cr_expect_eq(jread_parse_reply("\"s\"", 3, &v), SY_OK);
    cr_expect_eq(jread_parse_reply("{}", 2, &v), SY_OK);
}

struct esc {
    char text[48];
    char want[16];
    size_t len;
};

ParameterizedTestParameters(jread, escapes)
{
    static struct esc t[] = {
        { "\"plain\"", "plain", 5 },
        { "\"\\\"\\\\\\/\"", "\"\\/", 3 },
        { "\"\\b\\f\\n\\r\\t\"", "\b\f\n\r\t", 5 },
        { "\"\\u0041\\u00e9\"", "A\xc3\xa9", 3 },
        { "\"\\u20AC\"", "\xe2\x82\xac", 3 },
        { "\"\\uD83D\\uDE00\"", "\xf0\x9f\x98\x80", 4 },
        { "\"\\ud836\\ude00\"", "\xf0\x9d\xa8\x80", 4 }, /* json-c 0.16 gives U+FFFD here */
        { "\"\\udbff\\udfff\"", "\xf4\x8f\xbf\xbf", 4 },
        { "\"a\\u0000b\"", "a\0b", 3 },
        { "\"\"", "", 0 },
    };
    return cr_make_param_array(struct esc, t, sizeof t / sizeof t[0]);
}

ParameterizedTest(struct esc *e, jread, escapes)
{
    struct jread_val v;
    cr_assert_eq(jread_parse(e->text, strlen(e->text), 0, &v), SY_OK, "%s", e->text);
    char buf[32];
    size_t n = jread_str(&v, buf, sizeof buf);
    cr_expect_eq(n, e->len, "%s: %zu bytes", e->text, n);
    cr_expect(memcmp(buf, e->want, e->len) == 0, "%s", e->text);
    cr_expect_eq(buf[n], '\0');
}

Test(jread, str_cuts_to_the_buffer_and_reports_the_full_length)
{
    const char *d = "\"abc\\u00e9def\"";
    struct jread_val v;
    cr_assert_eq(jread_parse(d, strlen(d), 0, &v), SY_OK);
    char buf[5];
    cr_expect_eq(jread_str(&v, buf, sizeof buf), 8);
    cr_expect_str_eq(buf, "abc\xc3");
    struct jread_val num = { .type = JREAD_NUMBER, .p = "1", .n = 1 };
    cr_expect_eq(jread_str(&num, buf, sizeof buf), (size_t)-1);
}

Test(jread, take_holds_long_strings_on_the_heap)
{
    char d[2100];
    d[0] = '"';
    memset(d + 1, 'x', 2000);
    strcpy(d + 2001, "\\n\"");
    struct jread_val v;
    cr_assert_eq(jread_parse(d, strlen(d), 0, &v), SY_OK);
    struct jread_buf b;
    cr_assert_not_null(jread_take(&v, &b));
    cr_expect_eq(b.len, 2001);
    cr_expect_not_null(b.heap);
    cr_expect_eq(b.s[2000], '\n');
    cr_expect_eq(b.s[2001], '\0');
    jread_buf_free(&b);
}

Test(jread, get_finds_the_last_duplicate_and_nul_cut_keys)
{
    const char *d =
            "{\"a\":1,\"b\":{\"a\":9},\"a\":\"two\",\"k\\u0000junk\":3,\"x\\u0079\":4,\"\\u0041\":[]}";
    struct jread_val root, v;
    cr_assert_eq(jread_parse(d, strlen(d), 0, &root), SY_OK);
    cr_expect(jread_get(&root, "a", &v));
    cr_expect_eq(v.type, JREAD_STRING, "the last 'a' wins, as in json-c");
    cr_expect(jread_get(&root, "k", &v), "a key is compared up to its first NUL");
    cr_expect_eq(v.type, JREAD_NUMBER);
    cr_expect(jread_get(&root, "xy", &v), "escaped keys are unescaped");
    cr_expect(jread_get(&root, "A", &v));
    cr_expect_eq(v.type, JREAD_ARRAY);
    cr_expect_not(jread_get(&root, "kjunk", &v));
    cr_expect_not(jread_get(&root, "zz", &v));
    cr_expect_eq(v.type, JREAD_NONE);
    struct jread_val arr = v;
    jread_get(&root, "b", &arr);
    cr_expect(jread_get(&arr, "a", &v), "nested object");
    struct jread_val num = { .type = JREAD_NUMBER, .p = "1", .n = 1 };
    cr_expect_not(jread_get(&num, "a", &v), "not an object");
    cr_expect_not(jread_get(NULL, "a", &v));
}

Test(jread, long_escaped_keys_are_compared_in_full)
{
    /* 70-byte key written with an escape: the fuzzer's first finding */
    char key[71], doc[128];
    memset(key, 'k', 70);
    key[70] = '\0';
    snprintf(doc, sizeof doc, "{\"\\u006b%s\":1}", key + 1);
    struct jread_val root, v;
    cr_assert_eq(jread_parse(doc, strlen(doc), 0, &root), SY_OK, "%s", doc);
    cr_expect(jread_get(&root, key, &v), "%s", doc);
    key[69] = '\0';
    cr_expect_not(jread_get(&root, key, &v), "a prefix of the key is another key");
}

Test(jread, get_many_reads_every_key_in_one_pass)
{
    const char *d = "{\"state\":\"success\",\"taskId\":\"t\\\"1\",\"n\":null}";
    static const char *const keys[] = { "taskId", "missing", "state", "n" };
    struct jread_val root, out[4];
    cr_assert_eq(jread_parse(d, strlen(d), 0, &root), SY_OK);
    jread_get_many(&root, keys, 4, out);
    cr_expect_eq(out[0].type, JREAD_STRING);
    cr_expect_eq(out[1].type, JREAD_NONE);
    cr_expect_eq(out[2].type, JREAD_STRING);
    cr_expect_eq(out[3].type, JREAD_NULL);
    char buf[16];
    jread_str(&out[0], buf, sizeof buf);
    cr_expect_str_eq(buf, "t\"1");
}

Test(jread, iterates_arrays_and_objects_in_order)
{
    const char *d = "[ \"a\\\\\" , {\"k\":[1,2]} ,3,[],\"]\" ]";
    struct jread_val root, v, k;
    cr_assert_eq(jread_parse(d, strlen(d), 0, &root), SY_OK);
    enum jread_type want[] = { JREAD_STRING, JREAD_OBJECT, JREAD_NUMBER, JREAD_ARRAY,
                               JREAD_STRING };
    struct jread_iter it;
    size_t n = 0;
    jread_iter_init(&it, &root);
    while (jread_iter_next(&it, &k, &v)) {
        cr_assert_lt(n, 5);
        cr_expect_eq(v.type, want[n], "element %zu", n);
        cr_expect_eq(k.type, JREAD_NONE, "array elements have no key");
        n++;
    }
    cr_expect_eq(n, 5);
    const char *o = "{\"x\":1,\"y\":\"2\"}";
    cr_assert_eq(jread_parse(o, strlen(o), 0, &root), SY_OK);
    jread_iter_init(&it, &root);
    cr_assert(jread_iter_next(&it, &k, &v));
    cr_expect_eq(k.type, JREAD_STRING);
    cr_expect_eq(v.type, JREAD_NUMBER);
    cr_assert(jread_iter_next(&it, &k, &v));
    cr_expect_eq(v.type, JREAD_STRING);
    cr_expect_not(jread_iter_next(&it, &k, &v));
    struct jread_val s = { .type = JREAD_STRING, .p = "\"\"", .n = 2 };
    jread_iter_init(&it, &s);
    cr_expect_not(jread_iter_next(&it, NULL, &v), "a scalar yields nothing");
}

Test(jread, numbers_as_json_c_reads_them)
{
    const char *d = "[42,-7,1.5,1e3,9223372036854775807,9223372036854775808,-9223372036854775809,"
                    "99999999999999999999999,1700000000000]";
    struct jread_val root, v;
    cr_assert_eq(jread_parse(d, strlen(d), 0, &root), SY_OK);
    struct {
        int dbl;
        int64_t i;
        double d;
    } want[] = { { 0, 42, 42 },
                 { 0, -7, -7 },
                 { 1, 1, 1.5 },
                 { 1, 1000, 1000 },
                 { 0, INT64_MAX, 9223372036854775807.0 },
                 { 0, INT64_MAX, 9223372036854775808.0 },
                 { 0, INT64_MIN, -9223372036854775808.0 },
                 { 0, INT64_MAX, 18446744073709551615.0 },
                 { 0, 1700000000000, 1700000000000.0 } };
    struct jread_iter it;
    size_t n = 0;
    jread_iter_init(&it, &root);
    while (jread_iter_next(&it, NULL, &v)) {
        int dbl;
        int64_t i;
        double x;
        cr_assert_eq(jread_number(&v, &dbl, &i, &x), SY_OK);
        cr_expect_eq(dbl, want[n].dbl, "number %zu", n);
        cr_expect_eq(i, want[n].i, "number %zu: %lld", n, (long long)i);
        cr_expect_eq(x, want[n].d, "number %zu: %g", n, x);
        n++;
    }
    cr_expect_eq(n, 9);
}

Test(jread, get_int_as_prov_json_int)
{
    const char *d =
            "{\"a\":200,\"b\":\"422\",\"c\":2.0,\"d\":2.5,\"e\":\"12x\",\"f\":2000000000,\"g\":\"-5\","
            "\"h\":\"1\\u00002\",\"i\":true,\"j\":\"1234567890\"}";
    struct jread_val root;
    long n = 0;
    cr_assert_eq(jread_parse(d, strlen(d), 0, &root), SY_OK);
    cr_expect(jread_get_int(&root, "a", &n) && n == 200);
    cr_expect(jread_get_int(&root, "b", &n) && n == 422);
    cr_expect(jread_get_int(&root, "c", &n) && n == 2);
    cr_expect_not(jread_get_int(&root, "d", &n));
    cr_expect_not(jread_get_int(&root, "e", &n));
    cr_expect_not(jread_get_int(&root, "f", &n), "beyond 1e9");
    cr_expect(jread_get_int(&root, "g", &n) && n == -5);
    cr_expect(jread_get_int(&root, "h", &n) && n == 1,
              "a string is read up to its NUL, as json-c gives it");
    cr_expect_not(jread_get_int(&root, "i", &n));
    cr_expect_not(jread_get_int(&root, "j", &n), "10 digits");
    cr_expect_not(jread_get_int(&root, "zz", &n));
}

/* jread_parse_reply_want() records, while validating, what
 * jread_get_many() finds afterwards: last duplicate wins (for the members
 * of the sub-object too: only the last "data" counts), keys match through
 * escapes and up to a NUL, and a refused document records nothing. */
Test(jread, parse_reply_want_is_get_many_in_one_pass)
{
    static const char *const keys[] = { "code", "msg", "data", "x" };
    static const char *const sub_keys[] = { "taskId", "state", "n" };
    const char *docs[] = {
        "{\"code\":200,\"data\":{\"taskId\":\"a\",\"state\":\"s\"},\"msg\":\"m\"}",
        "{\"data\":{\"taskId\":\"a\",\"n\":1},\"code\":1,\"data\":{\"state\":\"w\"},\"code\":2}",
        "{\"data\":{\"taskId\":\"a\"},\"data\":[{\"taskId\":\"b\"}],\"x\":{\"code\":3}}",
        "{\"c\\u006fde\":5,\"ms\\u0067\\u0000zz\":\"n\",\"d\\\"ata\":{},\"data\":{\"st\\u0061te\":1}}",
        "{\"\\u0000\":0,\"x\":{\"data\":{\"taskId\":\"deep\"}},\"data\":{\"data\":{\"n\":2}}}",
        "[{\"code\":1}]",
        "\"code\"",
    };
    for (size_t d = 0; d < sizeof docs / sizeof docs[0]; d++) {
        struct jread_val root, root2, out[4], sub[3], g[4], gs[3];
        const struct jread_want sw = { sub_keys, 3, sub, 0, NULL };
        const struct jread_want w = { keys, 4, out, 2, &sw };
        cr_assert_eq(jread_parse_reply_want(docs[d], strlen(docs[d]), &root, &w), SY_OK, "doc %zu",
                     d);
        cr_assert_eq(jread_parse_reply(docs[d], strlen(docs[d]), &root2), SY_OK);
        cr_expect(root.p == root2.p && root.n == root2.n && root.type == root2.type);
        jread_get_many(&root2, keys, 4, g);
        jread_get_many(&g[2], sub_keys, 3, gs);
        for (size_t i = 0; i < 4; i++)
            cr_expect(out[i].type == g[i].type && out[i].p == g[i].p && out[i].n == g[i].n,
                      "doc %zu key %s", d, keys[i]);
        for (size_t i = 0; i < 3; i++)
            cr_expect(sub[i].type == gs[i].type && sub[i].p == gs[i].p && sub[i].n == gs[i].n,
                      "doc %zu data.%s", d, sub_keys[i]);
    }
    /* spot checks of the above against what json-c keeps */
    struct jread_val root, out[4], sub[3];
    const struct jread_want sw = { sub_keys, 3, sub, 0, NULL };
    const struct jread_want w = { keys, 4, out, 2, &sw };
    cr_assert_eq(jread_parse_reply_want(docs[1], strlen(docs[1]), &root, &w), SY_OK);
    cr_expect(out[0].n == 1 && out[0].p[0] == '2', "the last code");
    cr_expect_eq(sub[0].type, JREAD_NONE, "taskId was in the first data only");
    cr_expect(sub[1].type == JREAD_STRING && sub[1].n == 3);
    cr_expect_eq(sub[2].type, JREAD_NONE);
    cr_assert_eq(jread_parse_reply_want(docs[2], strlen(docs[2]), &root, &w), SY_OK);
    cr_expect_eq(out[2].type, JREAD_ARRAY);
    cr_expect_eq(sub[0].type, JREAD_NONE, "the last data is not an object");
    cr_expect_eq(out[0].type, JREAD_NONE, "x.code is not a root member");
    cr_assert_eq(jread_parse_reply_want(docs[3], strlen(docs[3]), &root, &w), SY_OK);
    cr_expect(out[0].type == JREAD_NUMBER && out[1].type == JREAD_STRING,
              "keys match through escapes and up to their NUL");
    cr_expect_eq(sub[1].type, JREAD_NUMBER);
    /* refused, also after members were seen: nothing recorded */
    const char *bad = "{\"code\":200,\"data\":{\"taskId\":\"a\"},\"msg\":\"m\"";
    cr_expect_eq(jread_parse_reply_want(bad, strlen(bad), &root, &w), SY_ERR);
    cr_expect(out[0].type == JREAD_NONE && out[2].type == JREAD_NONE && sub[0].type == JREAD_NONE);
    cr_expect_eq(root.type, JREAD_NONE);
}
