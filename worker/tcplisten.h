/* tcplisten.h — a listening TCP socket for the libmicrohttpd listeners
 * (/metrics, callbacks). */
#ifndef WORKER_TCPLISTEN_H
#define WORKER_TCPLISTEN_H

#include <stddef.h>

/* Bind addr ("host:port", "[v6]:port") with SO_REUSEADDR and listen. Returns
 * the fd (*v6 set for an IPv6 address), or -1 with err starting "what: "
 * (errno set when socket/bind/listen failed, e.g. EADDRINUSE). */
int tcplisten_open(const char *what, const char *addr, int *v6, char *err, size_t errlen);

#endif
