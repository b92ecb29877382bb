/* testrng.h — the fixed-seed PRNG the property tests drive their random walks
 * with. Header-only: each test binary gets its own copy; a given seed always
 * yields the same sequence, so a failing walk replays exactly. */
#ifndef TESTS_TESTRNG_H
#define TESTS_TESTRNG_H

#include <stdint.h>

/* Marsaglia xorshift64 (13, 7, 17): advances *s and returns the new state.
 * *s must not be 0 (0 stays 0). */
static inline uint64_t testrng_xorshift64(uint64_t *s)
{
    uint64_t x = *s;

    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    *s = x;
    return x;
}

#endif
