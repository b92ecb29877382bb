/* test_utf8.c — the one strict UTF-8 check (queue/utf8): what a sequence is,
 * code point counts, and the in-place sanitizer providers use for messages. */
#include "core/utf8.h"

#include <criterion/criterion.h>
#include <string.h>

static size_t seq(const char *s)
{
    return utf8_seq((const unsigned char *)s, strlen(s));
}

Test(utf8, valid_sequences_have_their_length)
{
    cr_assert_eq(seq("A"), 1);
    cr_assert_eq(seq("\xC2\x80"), 2);         /* U+0080 */
    cr_assert_eq(seq("\xDF\xBF"), 2);         /* U+07FF */
    cr_assert_eq(seq("\xE0\xA0\x80"), 3);     /* U+0800 */
    cr_assert_eq(seq("\xED\x9F\xBF"), 3);     /* U+D7FF */
    cr_assert_eq(seq("\xEE\x80\x80"), 3);     /* U+E000 */
    cr_assert_eq(seq("\xEF\xBF\xBD"), 3);     /* U+FFFD */
    cr_assert_eq(seq("\xF0\x90\x80\x80"), 4); /* U+10000 */
    cr_assert_eq(seq("\xF4\x8F\xBF\xBF"), 4); /* U+10FFFF */
    cr_assert_eq(seq("\xC3\xA9rest"), 2);     /* only the first sequence */
}

Test(utf8, overlongs_surrogates_and_past_10ffff_are_invalid)
{
    cr_assert_eq(seq("\xC0\x80"), 0); /* overlong NUL */
    cr_assert_eq(seq("\xC1\xBF"), 0);
    cr_assert_eq(seq("\xE0\x9F\xBF"), 0);     /* overlong U+07FF */
    cr_assert_eq(seq("\xF0\x8F\xBF\xBF"), 0); /* overlong U+FFFF */
    cr_assert_eq(seq("\xED\xA0\x80"), 0);     /* U+D800 */
    cr_assert_eq(seq("\xED\xBF\xBF"), 0);     /* U+DFFF */
    cr_assert_eq(seq("\xF4\x90\x80\x80"), 0); /* U+110000 */
    cr_assert_eq(seq("\xF5\x80\x80\x80"), 0);
    cr_assert_eq(seq("\xFF"), 0);
    cr_assert_eq(seq("\x80"), 0);                                        /* lone continuation */
    cr_assert_eq(seq("\xE2\x82"), 0);                                    /* truncated */
    cr_assert_eq(seq("\xE2\x28\xA1"), 0);                                /* bad continuation */
    cr_assert_eq(utf8_seq((const unsigned char *)"\xE2\x82\xAC", 2), 0); /* n bounds the read */
}

Test(utf8, count_is_in_code_points)
{
    const char *s = "a\xC3\xA9\xE2\x82\xAC\xF0\x9F\x98\x80";
    cr_assert_eq(utf8_count(s, strlen(s)), 4);
    cr_assert_eq(utf8_count("", 0), 0);
}

static void sanitized(const char *in, const char *want)
{
    char buf[64];
    memcpy(buf, in, strlen(in) + 1);
    utf8_sanitize(buf);
    cr_assert_str_eq(buf, want, "sanitize(%s)", in);
}

Test(utf8, sanitize_replaces_invalid_bytes_and_drops_a_cut_sequence)
{
    sanitized("plain", "plain");
    sanitized("caf\xC3\xA9 \xF0\x9F\x98\x80", "caf\xC3\xA9 \xF0\x9F\x98\x80");
    sanitized("a\xC0\x80z", "a??z");
    sanitized("a\xED\xA0\x80z", "a???z");
    sanitized("a\xF4\x90\x80\x80z", "a????z");
    sanitized("a\xFFz", "a?z");
    sanitized("a\xE2\x28\xA1z", "a?(?z");
    sanitized("end\xE2\x82", "end"); /* cut by truncation: dropped */
    sanitized("end\xF0\x9F\x98", "end");
    sanitized("end\xC3", "end");
    sanitized("end\xE0\x80", "end??"); /* not a prefix of any valid sequence */
}
