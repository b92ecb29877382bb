/* loopxfer.h — the loop's per-transfer state (internal to loop.c): what a
 * request needs only while it is inside curl — its easy handle, the reply
 * buffer, the Retry-After header read at its end and curl's error
 * text — pooled up to the loop's transfer cap, so a request waiting in the
 * FIFO costs none of it. Also the request's header list packed in one
 * block. Loop thread only. */
#ifndef WORKER_LOOPXFER_H
#define WORKER_LOOPXFER_H

#include <stddef.h>
#include <stdint.h>

#include <curl/curl.h>

#include "worker/loopsock.h"

#define LOOPXFER_HDR_MAX 256
#define LOOPXFER_KEEP_BUF 16384 /* a pooled transfer keeps a reply buffer up to this size */

struct loop_xfer {
    CURL *easy;
    char *buf; /* the reply body so far (NULL until the first byte) */
    size_t len, cap;
    size_t max_body; /* more fails the transfer: too_large */
    int too_large;
    int64_t start_ms;
    char retry_after[LOOPXFER_HDR_MAX];
    char errbuf[CURL_ERROR_SIZE];
    struct loop_xfer *next; /* in the pool */
};

/* Free transfers kept for reuse: at most max, each with its easy handle. */
struct loopxfer_pool {
    struct loop_xfer *free;
    size_t n, max;
    const char *user_agent; /* not owned */
    struct loopsock *socks; /* opens and closes the handles' sockets; not owned */
    /* From the environment at loopxfer_pool_init: "" when no proxy variable
     * curl reads is set (requests without a proxy of their own go direct
     * and curl need not read them per transfer), else NULL (curl applies
     * the variables). */
    const char *no_proxy;
    int env_noproxy; /* no_proxy or NO_PROXY is set */
};

/* An empty pool of at most max transfers whose handles send user_agent
 * and open and close their sockets through socks (both kept, not copied);
 * reads the proxy variables of the environment once. */
void loopxfer_pool_init(struct loopxfer_pool *p, size_t max, const char *user_agent,
                        struct loopsock *socks);

/* A clean transfer (empty buffer and captures), or NULL when out of memory.
 * Its easy handle is not reset between uses: it carries the options every
 * request shares (body callback, error buffer, user agent,
 * NOSIGNAL, TCP keep-alive and no-delay, http/https only, debug output,
 * the socket open and close callbacks),
 * set once when created, and the last request's own options — the caller
 * must set all of those on every use: PRIVATE, URL, HTTPHEADER, PIPEWAIT,
 * both timeouts, PROXY (the pool's no_proxy when none) and the method
 * (HTTPGET, or POST with POSTFIELDS and POSTFIELDSIZE). */
struct loop_xfer *loopxfer_get(struct loopxfer_pool *p, size_t max_body);

/* Back to the pool (its easy handle must be out of the multi handle); a
 * buffer above LOOPXFER_KEEP_BUF is freed, and past the pool's max the
 * whole transfer. */
void loopxfer_put(struct loopxfer_pool *p, struct loop_xfer *x);

/* Copy the final response's Retry-After (the last one; cut to
 * LOOPXFER_HDR_MAX - 1 bytes) into x, from curl's header store: no
 * header callback runs per line. */
void loopxfer_read_headers(struct loop_xfer *x);

/* 1 when libcurl has its headers API (curl_easy_header, 7.84+, not
 * disabled at build time), which loopxfer_read_headers needs. */
int loopxfer_headers_api(void);

/* Free every pooled transfer; p is empty afterwards. */
void loopxfer_pool_cleanup(struct loopxfer_pool *p);

/* The lines as one curl header list in a single allocation (copies), or
 * NULL when out of memory or n is 0. Free with loopxfer_headers_free. */
struct curl_slist *loopxfer_headers(const char *const *lines, size_t n);

/* Zero the lines (the Authorization line holds the API key) and free. */
void loopxfer_headers_free(struct curl_slist *h);

#endif
