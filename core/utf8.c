/* utf8.c — strict UTF-8 (see utf8.h). The second byte's range is what rules
 * out overlongs (E0, F0), surrogates (ED) and code points above U+10FFFF (F4). */
#include "core/utf8.h"

#include <string.h>

/* How many bytes of s[0..n) match a valid sequence; *len gets the length the
 * lead byte announces (0 for a byte that cannot start one). */
static size_t seq_prefix(const unsigned char *s, size_t n, size_t *len)
{
    unsigned char c = s[0];
    unsigned char lo = 0x80, hi = 0xBF;

    if (c < 0x80) {
        *len = 1;
        return 1;
    }
    if (c >= 0xC2 && c <= 0xDF) {
        *len = 2;
    } else if (c >= 0xE0 && c <= 0xEF) {
        *len = 3;
        if (c == 0xE0)
            lo = 0xA0;
        else if (c == 0xED)
            hi = 0x9F;
    } else if (c >= 0xF0 && c <= 0xF4) {
        *len = 4;
        if (c == 0xF0)
            lo = 0x90;
        else if (c == 0xF4)
            hi = 0x8F;
    } else {
        *len = 0;
        return 0;
    }
    size_t i = 1;
    if (i < n && s[1] >= lo && s[1] <= hi)
        i++;
    else
        return i;
    while (i < *len && i < n && s[i] >= 0x80 && s[i] <= 0xBF)
        i++;
    return i;
}

size_t utf8_seq(const unsigned char *s, size_t n)
{
    size_t len;
    size_t ok = seq_prefix(s, n, &len);
    return len > 0 && ok == len ? len : 0;
}

size_t utf8_count(const char *s, size_t n)
{
    size_t count = 0;

    for (size_t i = 0; i < n; i++)
        if (((unsigned char)s[i] & 0xC0) != 0x80)
            count++;
    return count;
}

void utf8_sanitize(char *s)
{
    unsigned char *p = (unsigned char *)s;
    size_t n = strlen(s);

    while (n > 0) {
        size_t len;
        size_t ok = seq_prefix(p, n, &len);
        if (len > 0 && ok == len) {
            p += len;
            n -= len;
        } else if (len > 0 && ok == n) {
            *p = '\0'; /* cut mid-sequence by truncation */
            return;
        } else {
            *p++ = '?';
            n--;
        }
    }
}
