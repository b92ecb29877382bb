/* sy.c — clocks for the imperative shell, and the byte buffer. */
#include "sy.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

int64_t sy_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int64_t sy_wall_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int sy_append(char **buf, size_t *len, size_t *cap, const void *data, size_t n, size_t first_cap)
{
    if (*len + n + 1 > *cap) {
        size_t c = *cap ? *cap : (first_cap ? first_cap : 64);
        while (c < *len + n + 1)
            c *= 2;
        char *nb = realloc(*buf, c);
        if (!nb)
            return SY_ERR;
        *buf = nb;
        *cap = c;
    }
    memcpy(*buf + *len, data, n);
    *len += n;
    (*buf)[*len] = '\0';
    return SY_OK;
}

void *sy_grow_zeroed(void *arr, size_t n, size_t want, size_t size)
{
    if (want < n || want > SIZE_MAX / size)
        return NULL;
    char *p = realloc(arr, want * size);
    if (p)
        memset(p + n * size, 0, (want - n) * size);
    return p;
}

const char *sy_i64_dec(int64_t v, char buf[SY_DEC_MAX])
{
    char *p = buf + SY_DEC_MAX - 1;
    uint64_t u = v < 0 ? 0 - (uint64_t)v : (uint64_t)v; /* INT64_MIN too */
    *p = '\0';
    do {
        *--p = (char)('0' + u % 10);
        u /= 10;
    } while (u);
    if (v < 0)
        *--p = '-';
    return p;
}
