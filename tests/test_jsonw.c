/* test_jsonw.c — core/jsonw's strings byte for byte against json-c, with
 * each byte value at each position of a plain run (the eight-byte steps
 * must stop at every byte that needs work, wherever it falls in a word),
 * and the buffer's reserve and failure rules. Pure. */
#include "core/jsonw.h"

#include <criterion/criterion.h>
#include <json-c/json.h>
#include <stdlib.h>
#include <string.h>

#include "core/utf8.h"

#define JC_FLAGS (JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE)

static void expect_json_c(const struct jsonw *w, const char *s, size_t n, int flags,
                          const char *what, int c, size_t pos)
{
    struct json_object *o = json_object_new_string_len(s, (int)n);
    cr_assert_eq(w->failed, 0);
    cr_assert_eq(w->len, strlen(w->buf));
    cr_assert_str_eq(w->buf, json_object_to_json_string_ext(o, flags), "%s: byte 0x%02x at %zu",
                     what, c, pos);
    json_object_put(o);
}

Test(jsonw, every_byte_at_every_position)
{
    char s[40];
    for (int c = 1; c < 256; c++) {
        for (size_t pos = 0; pos < sizeof s - 1; pos++) {
            memset(s, 'a', sizeof s);
            s[pos] = (char)c;
            s[sizeof s - 1] = '\0';
            struct jsonw w = { 0 };
            jsonw_str(&w, s, 0);
            expect_json_c(&w, s, sizeof s - 1, JC_FLAGS, "str", c, pos);
            jsonw_free(&w);
            jsonw_str(&w, s, JSONW_SLASH);
            expect_json_c(&w, s, sizeof s - 1, JSON_C_TO_STRING_PLAIN, "slash", c, pos);
            jsonw_free(&w);
            jsonw_str_utf8(&w, s, SIZE_MAX);
            if (c < 0x80) {
                expect_json_c(&w, s, sizeof s - 1, JC_FLAGS, "utf8", c, pos);
            } else { /* a lone byte >= 0x80 is never valid: U+FFFD */
                char want[64];
                memcpy(want, s, pos);
                memcpy(want + pos, "\xef\xbf\xbd", 3);
                memcpy(want + pos + 3, s + pos + 1, sizeof s - pos - 1);
                expect_json_c(&w, want, sizeof s - 1 + 2, JC_FLAGS, "utf8", c, pos);
            }
            jsonw_free(&w);
        }
    }
    /* a NUL at each position: jsonw_escaped writes it, jsonw_str_utf8 stops */
    for (size_t pos = 0; pos < 24; pos++) {
        memset(s, 'a', sizeof s);
        s[pos] = '\0';
        struct jsonw w = { 0 };
        JSONW_LIT(&w, "\"");
        jsonw_escaped(&w, s, sizeof s, 0);
        JSONW_LIT(&w, "\"");
        expect_json_c(&w, s, sizeof s, JC_FLAGS, "escaped NUL", 0, pos);
        jsonw_free(&w);
        jsonw_str_utf8(&w, s, sizeof s);
        expect_json_c(&w, s, pos, JC_FLAGS, "utf8 NUL", 0, pos);
        jsonw_free(&w);
    }
}

/* Valid sequences straddling the eight-byte words go out as they are; one
 * cut by max or by a NUL becomes one U+FFFD per byte. */
Test(jsonw, utf8_sequences_across_words_and_cut)
{
    static const char *const seqs[] = { "\xc3\xa9", "\xe2\x82\xac", "\xf0\x9f\x8c\xbf" };
    char s[40];
    for (size_t q = 0; q < 3; q++) {
        size_t k = strlen(seqs[q]);
        for (size_t pos = 0; pos + k < sizeof s; pos++) {
            memset(s, 'b', sizeof s);
            memcpy(s + pos, seqs[q], k);
            s[sizeof s - 1] = '\0';
            struct jsonw w = { 0 };
            jsonw_str_utf8(&w, s, SIZE_MAX);
            expect_json_c(&w, s, sizeof s - 1, JC_FLAGS, "seq", (unsigned char)seqs[q][0], pos);
            jsonw_free(&w);
            /* cut after the lead byte by max: each byte of the cut part is U+FFFD */
            jsonw_str_utf8(&w, s, pos + k - 1);
            char want[64];
            memcpy(want, s, pos);
            for (size_t i = 0; i < k - 1; i++)
                memcpy(want + pos + 3 * i, "\xef\xbf\xbd", 3);
            expect_json_c(&w, want, pos + 3 * (k - 1), JC_FLAGS, "cut", (unsigned char)seqs[q][0],
                          pos);
            jsonw_free(&w);
        }
    }
}

/* A reserve makes the whole text fit one allocation; a string that needs
 * more (every byte escaped to six) still grows it. */
Test(jsonw, reserve_then_grow)
{
    struct jsonw w = { 0 };
    cr_assert_eq(jsonw_reserve(&w, 1000), 1);
    cr_assert_geq(w.cap, 1001);
    char *first = w.buf;
    size_t cap = w.cap;
    JSONW_LIT(&w, "{\"k\":");
    jsonw_i64(&w, INT64_MIN);
    cr_assert_eq(w.buf, first);
    cr_assert_eq(w.cap, cap);
    char ctl[600];
    memset(ctl, '\x01', sizeof ctl - 1);
    ctl[sizeof ctl - 1] = '\0';
    jsonw_str(&w, ctl, 0);
    JSONW_LIT(&w, "}");
    cr_assert_eq(w.failed, 0);
    cr_assert_eq(w.len, strlen("{\"k\":-9223372036854775808") + 2 + 6 * (sizeof ctl - 1) + 1);
    cr_assert_eq(strncmp(w.buf + w.len - 8, "\\u0001\"}", 8), 0);
    jsonw_free(&w);
    w.failed = 1;
    cr_assert_eq(jsonw_reserve(&w, 10), 0);
    jsonw_str_utf8(&w, "x", 1);
    cr_assert_null(w.buf);
}
