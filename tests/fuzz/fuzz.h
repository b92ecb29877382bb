/* fuzz.h — helpers shared by the libFuzzer harnesses in tests/fuzz/: an
 * exact-size copy of the input, a UTF-8 check and an abort-on-violation
 * assertion. Each harness defines LLVMFuzzerTestOneInput (and may define
 * LLVMFuzzerInitialize); built with -fsanitize=fuzzer it runs under
 * libFuzzer, linked with replay.c it replays a corpus in CTest. */
#ifndef TESTS_FUZZ_FUZZ_H
#define TESTS_FUZZ_FUZZ_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerInitialize(int *argc, char ***argv);

/* Whether data holds a \uXXXX escape json-c 0.16 decodes wrongly: a
 * surrogate pair whose high half has (hi & 0xFC3E) == 0xD836 comes out as
 * U+FFFD, where RFC 8259 (and jread) decode the pair. The differential
 * harnesses do not compare such inputs. */
static inline int fuzz_jsonc_surrogate_bug(const uint8_t *d, size_t n)
{
    for (size_t i = 0; i + 6 <= n; i++) {
        if (d[i] != '\\' || d[i + 1] != 'u')
            continue;
        int v = 0;
        for (int k = 2; k < 6 && v >= 0; k++) {
            unsigned char c = d[i + k];
            int h = c >= '0' && c <= '9'   ? c - '0'
                    : c >= 'a' && c <= 'f' ? c - 'a' + 10
                    : c >= 'A' && c <= 'F' ? c - 'A' + 10
                                           : -1;
            v = h < 0 ? -1 : v * 16 + h;
        }
        if (v >= 0 && (v & 0xFC3E) == 0xD836)
            return 1;
    }
    return 0;
}

/* Abort with a message when an invariant does not hold. */
#define FUZZ_CHECK(cond)                                                                           \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            fprintf(stderr, "%s:%d: invariant failed: %s\n", __FILE__, __LINE__, #cond);           \
            abort();                                                                               \
        }                                                                                          \
    } while (0)

/* An exact-size heap copy of data with no NUL after it, so that any read past
 * size bytes is an ASan report. Never NULL (aborts when out of memory). */
static inline char *fuzz_dup(const uint8_t *data, size_t size)
{
    char *p = malloc(size ? size : 1);
    FUZZ_CHECK(p != NULL);
    if (size)
        memcpy(p, data, size);
    return p;
}

/* A NUL-terminated heap copy of data[0..size). Caller frees. */
static inline char *fuzz_strndup(const uint8_t *data, size_t size)
{
    char *p = malloc(size + 1);
    FUZZ_CHECK(p != NULL);
    if (size)
        memcpy(p, data, size);
    p[size] = '\0';
    return p;
}

/* 1 when s[0..n) is well-formed UTF-8 (no overlongs, no surrogates, ≤ U+10FFFF). */
static inline int fuzz_utf8_valid(const char *s, size_t n)
{
    const unsigned char *p = (const unsigned char *)s;
    size_t i = 0;
    while (i < n) {
        unsigned c = p[i];
        size_t k;
        unsigned cp, min;
        if (c < 0x80) {
            i++;
            continue;
        } else if ((c & 0xE0) == 0xC0) {
            k = 1, cp = c & 0x1F, min = 0x80;
        } else if ((c & 0xF0) == 0xE0) {
            k = 2, cp = c & 0x0F, min = 0x800;
        } else if ((c & 0xF8) == 0xF0) {
            k = 3, cp = c & 0x07, min = 0x10000;
        } else {
            return 0;
        }
        if (n - i <= k)
            return 0;
        for (size_t j = 1; j <= k; j++) {
            if ((p[i + j] & 0xC0) != 0x80)
                return 0;
            cp = (cp << 6) | (p[i + j] & 0x3F);
        }
        if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
            return 0;
        i += k + 1;
    }
    return 1;
}

/* 1 when s is NUL-terminated within cap bytes and valid UTF-8. */
static inline int fuzz_cstr_ok(const char *s, size_t cap)
{
    size_t n = strnlen(s, cap);
    return n < cap && fuzz_utf8_valid(s, n);
}

#endif
