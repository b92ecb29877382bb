/* sy.h — the small vocabulary shared by every module: return codes and a
 * monotonic clock. Nothing here allocates. */
#ifndef SY_H
#define SY_H

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

/* Milliseconds from a monotonic clock. Only the imperative shell calls this;
 * pure modules take now_ms as an argument. */
int64_t sy_now_ms(void);

/* Milliseconds since the Unix epoch (wall clock), for logs and results. */
int64_t sy_wall_ms(void);

#endif
