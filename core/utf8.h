/* utf8.h — the one strict UTF-8 check (RFC 3629: no overlongs, no
 * surrogates, nothing above U+10FFFF) used by the job codec, the result
 * writer and the providers' messages. Pure: no I/O, no globals. */
#ifndef QUEUE_UTF8_H
#define QUEUE_UTF8_H

#include <stddef.h>

/* Length of the valid UTF-8 sequence at s[0..n) (n ≥ 1), or 0 if it is
 * invalid or truncated. */
size_t utf8_seq(const unsigned char *s, size_t n);

/* Number of code points in n bytes of valid UTF-8. */
size_t utf8_count(const char *s, size_t n);

/* Make the C string s valid UTF-8 in place: a sequence cut at the end (by
 * truncation) is dropped, any other invalid byte becomes '?'. */
void utf8_sanitize(char *s);

#endif
