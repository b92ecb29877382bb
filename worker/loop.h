/* loop.h — libuv + curl_multi glue: every outgoing HTTP request (the
 * providers') goes through here. The metrics and callback listeners and
 * librdkafka keep sockets of their own.
 *
 * One curl multi handle driven by curl_multi_socket_action from one epoll
 * set of curl's sockets (loopsock.h, watched by libuv as one fd) and one
 * libuv timer. Requests are sent with keep-alive connection
 * reuse, a per-host connection cap, connect/total timeouts and a cap on the
 * reply body. Completion callbacks run on the loop thread, outside any curl
 * callback, so they may start or cancel other requests. */
#ifndef WORKER_LOOP_H
#define WORKER_LOOP_H

#include <stddef.h>
#include <stdint.h>

#include <uv.h>

#include "providers/provider.h"

struct loop;
struct loop_req;

struct loop_opts {
    int max_host_connections;  /* CURLMOPT_MAX_HOST_CONNECTIONS */
    int max_total_connections; /* CURLMOPT_MAX_TOTAL_CONNECTIONS; 0 = none */
    size_t max_body_bytes;     /* replies larger than this fail as transport errors */
    const char *user_agent;    /* copied */
    int max_in_curl; /* transfers handed to curl at once (more wait in a FIFO per origin; a plain-HTTP
                                  origin gets at most max_host_connections); 0 = the connection cache size */
};

/* Per-request settings (from the provider's config). */
struct loop_send {
    const char *bearer; /* API key; sent as "Authorization: Bearer …", never logged; may be NULL */
    const char *proxy;  /* NULL = none */
    long connect_timeout_ms;
    long total_timeout_ms; /* the request's hold_s is added on top */
};

/* What came back. Borrowed for the duration of the callback only. */
struct loop_response {
    enum prov_class failure; /* PROV_C_NONE when an HTTP reply arrived, else TRANSPORT / TIMEOUT */
    const char *error;       /* transport error text ("" when none) */
    struct prov_reply reply; /* status/body/headers; http_status 0 when none */
    int64_t elapsed_ms;
};

typedef void (*loop_http_fn)(void *ud, const struct loop_response *resp);

/* Create on an initialised uv loop. NULL with err on failure. */
struct loop *loop_new(uv_loop_t *uv, const struct loop_opts *o, char *err, size_t errlen);

/* Cancel every request still in flight (their callbacks are not called), close
 * the libuv handles and free. The caller then runs the uv loop until it has no
 * more handles, and closes it. */
void loop_free(struct loop *l);

/* Send req; takes ownership of its strings (req is left empty). cb runs exactly
 * once unless the request is cancelled first, always from a loop callback of
 * its own (never inside loop_http or loop_cancel). Returns a handle valid until cb
 * runs or loop_cancel is called, or NULL (cb not called) if curl refused. */
struct loop_req *loop_http(struct loop *l, struct prov_request *req, const struct loop_send *s,
                           loop_http_fn cb, void *ud);

/* Abandon a request: its callback will not run, and no other request's
 * callback runs inside this call (a request curl refuses while this one's slot
 * is handed on gets its failure later, from a loop timer). Safe from any loop
 * callback. */
void loop_cancel(struct loop_req *r);

/* Requests in flight. */
size_t loop_active(const struct loop *l);

/* Counters for metrics and benchmarks. */
struct loop_stats {
    uint64_t requests; /* completed */
    uint64_t transport_errors;
    uint64_t timeouts;
    uint64_t connects; /* new connections opened */
};
void loop_get_stats(const struct loop *l, struct loop_stats *out);

/* The uv loop l was created on (borrowed: l does not own it). */
uv_loop_t *loop_uv(struct loop *l);

/* Whether a curl debug line (len bytes, need not be NUL-terminated) may carry
 * a credential: it contains "authorization:" or "cookie:" anywhere, in any
 * case. That covers the plain header lines and the HTTP/2 and HTTP/3 info
 * lines curl prints per stream ("h2h3 [authorization: …]", "h2 [cookie: …]",
 * "[HTTP/2] [1] [authorization: …]", "[HTTP/3] [3] [proxy-authorization: …]").
 * Pure; any thread. */
int loop_debug_line_secret(const char *line, size_t len);

#endif
