/* httpd.h — what the two libmicrohttpd listeners (/metrics, callbacks) share:
 * bind a TCP address, start the daemon on its own polling thread, answer. */
#ifndef WORKER_HTTPD_H
#define WORKER_HTTPD_H

#include <stddef.h>

#include <microhttpd.h>

struct httpd_opts {
    const char *what;   /* "metrics", "callbacks": starts every err sentence */
    const char *listen; /* "host:port", "[v6]:port" */
    MHD_AccessHandlerCallback on_request;
    void *ud; /* cls of every callback; borrowed while the daemon runs */
    MHD_RequestCompletedCallback on_completed; /* NULL = none */
    MHD_LogCallback logger;                    /* NULL = MHD's own (stderr) */
    unsigned max_connections;
    unsigned max_per_ip; /* 0 = no per-IP limit */
    unsigned timeout_s;  /* idle connection timeout */
};

/* Bind o->listen (SO_REUSEADDR) and start a daemon serving it from its own
 * thread (MHD_USE_AUTO: epoll or poll, never select()). Call from the loop's
 * thread. The daemon, stopped with MHD_stop_daemon(), or NULL with err set
 * and errno EADDRINUSE when the address is taken (0 when the daemon itself
 * would not start). */
struct MHD_Daemon *httpd_start(const struct httpd_opts *o, char *err, size_t errlen);

/* Queue a reply of code with body (a C string) as Content-Type type. mode is
 * MHD_RESPMEM_PERSISTENT for static text, MHD_RESPMEM_MUST_FREE for heap text
 * (freed in every case; NULL answers MHD_NO). Listener thread. */
enum MHD_Result httpd_reply(struct MHD_Connection *c, unsigned code, const char *type,
                            const char *body, enum MHD_ResponseMemoryMode mode);

#endif
