/* sy.h — the small vocabulary shared by every module: return codes, a
 * monotonic clock and a growing byte buffer. */
#ifndef SY_H
#define SY_H

#include <stddef.h>
#include <stdint.h>

#define SY_VERSION "0.1.0"

/* Return codes (nginx-style). A failed *job* is never one of these: it is an
 * outcome recorded in its result. */
enum sy_rc {
    SY_OK = 0,        /* done */
    SY_ERR = -1,      /* failed; err buffer (if any) says why */
    SY_AGAIN = -2,    /* not finished, you will be called back */
    SY_DECLINED = -3, /* refused on purpose (e.g. provider cannot run this job) */
};

/* Every function that reports success or failure returns one of these, except
 * four accepted shapes, each said in its prototype's comment:
 *   - iterators and set inserts: 1 = got one / added, 0 = end / already
 *     there, -1 = error (filequeue_next, enqueue_ids_add);
 *   - a file descriptor, or -1 (httpd.c listen_open);
 *   - a count, or -1 (cbtopic_ensure; producer_warm's count has no -1);
 *   - conf/loader.h's conf_ld_* helpers, internal to the config loader:
 *     0 / -1, so a check can `return conf_ld_fail(...)`.
 * Pointers: NULL is the failure, with err filled where the function takes one.
 * Exit statuses are main.c's alone (kworker_run / batch_run return SY_*). */

/* Milliseconds from a monotonic clock. Only the imperative shell calls this;
 * pure modules take now_ms as an argument. */
int64_t sy_now_ms(void);

/* Milliseconds since the Unix epoch (wall clock), for logs and results. */
int64_t sy_wall_ms(void);

/* Append n bytes of data to the heap buffer *buf (length *len, capacity
 * *cap; all 0/NULL to start), doubling it from first_cap as needed, and keep
 * it NUL-terminated. SY_OK, or SY_ERR (out of memory: the buffer is as it
 * was). The caller frees *buf. */
int sy_append(char **buf, size_t *len, size_t *cap, const void *data, size_t n, size_t first_cap);

/* v in decimal, as "%" PRId64 writes it, at the end of buf (SY_DEC_MAX
 * bytes): returns where it starts; NUL-terminated. No printf: it runs per
 * reply and per result. */
#define SY_DEC_MAX 24
const char *sy_i64_dec(int64_t v, char buf[SY_DEC_MAX]);

/* The heap array arr of n elements of size bytes grown to want (> n)
 * elements, the new ones zeroed: the new array (arr is then gone), or NULL
 * when out of memory (arr is as it was). */
void *sy_grow_zeroed(void *arr, size_t n, size_t want, size_t size);

#endif
