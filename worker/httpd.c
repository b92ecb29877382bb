/* httpd.c — see httpd.h. */
#include "httpd.h"

#include <errno.h>
#include <netdb.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

/* Bind addr with SO_REUSEADDR and listen. Returns the fd (*v6 set for an IPv6
 * address), or -1 with err starting "what: " (errno set when socket/bind/listen
 * failed, e.g. EADDRINUSE). */
static int listen_open(const char *what, const char *addr, int *v6, char *err, size_t errlen)
{
    char host[256];
    const char *colon = strrchr(addr, ':');
    size_t hl = colon ? (size_t)(colon - addr) : 0;
    if (!colon || hl == 0 || hl >= sizeof host) {
        snprintf(err, errlen, "%s: bad listen address \"%s\" (want host:port)", what, addr);
        return -1;
    }
    memcpy(host, addr, hl);
    host[hl] = '\0';
    if (host[0] == '[' && hl > 2 && host[hl - 1] == ']') {
        memmove(host, host + 1, hl - 2);
        host[hl - 2] = '\0';
    }
    struct addrinfo hints = { .ai_family = AF_UNSPEC,
                              .ai_socktype = SOCK_STREAM,
                              .ai_flags = AI_PASSIVE };
    struct addrinfo *ai = NULL;
    int gai = getaddrinfo(host, colon + 1, &hints, &ai);
    if (gai != 0) {
        snprintf(err, errlen, "%s: cannot resolve %s: %s", what, addr, gai_strerror(gai));
        return -1;
    }
    int fd = socket(ai->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    int one = 1;
    int e = 0;
    if (fd < 0 || setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) != 0 ||
        bind(fd, ai->ai_addr, ai->ai_addrlen) != 0 || listen(fd, 64) != 0) {
        e = errno;
        if (fd >= 0)
            close(fd);
        fd = -1;
        snprintf(err, errlen, "%s: cannot listen on %s: %s", what, addr, strerror(e));
    }
    *v6 = ai->ai_family == AF_INET6;
    freeaddrinfo(ai);
    if (fd < 0)
        errno = e; /* for the caller's advice (EADDRINUSE) */
    return fd;
}


struct MHD_Daemon *httpd_start(const struct httpd_opts *o, char *err, size_t errlen)
{
    int v6 = 0;
    errno = 0;
    int fd = listen_open(o->what, o->listen, &v6, err, errlen);
    if (fd < 0)
        return NULL;
    struct MHD_OptionItem opts[8];
    size_t n = 0;
    if (o->logger) /* the external logger must be the first option, or MHD logs to stderr before it */
        opts[n++] =
                (struct MHD_OptionItem){ MHD_OPTION_EXTERNAL_LOGGER, (intptr_t)o->logger, o->ud };
    opts[n++] = (struct MHD_OptionItem){ MHD_OPTION_LISTEN_SOCKET, fd, NULL };
    opts[n++] = (struct MHD_OptionItem){ MHD_OPTION_CONNECTION_LIMIT, (intptr_t)o->max_connections,
                                         NULL };
    if (o->max_per_ip)
        opts[n++] = (struct MHD_OptionItem){ MHD_OPTION_PER_IP_CONNECTION_LIMIT,
                                             (intptr_t)o->max_per_ip, NULL };
    opts[n++] =
            (struct MHD_OptionItem){ MHD_OPTION_CONNECTION_TIMEOUT, (intptr_t)o->timeout_s, NULL };
    if (o->on_completed)
        opts[n++] = (struct MHD_OptionItem){ MHD_OPTION_NOTIFY_COMPLETED, (intptr_t)o->on_completed,
                                             o->ud };
    opts[n++] = (struct MHD_OptionItem){ MHD_OPTION_END, 0, NULL };
    /* MHD_USE_AUTO: epoll (or poll), never select(), which refuses fds >= 1024 */
    unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_AUTO | MHD_USE_ERROR_LOG |
                     (v6 ? MHD_USE_IPv6 : 0);
    struct MHD_Daemon *d = MHD_start_daemon(flags, 0, NULL, NULL, o->on_request, o->ud,
                                            MHD_OPTION_ARRAY, opts, MHD_OPTION_END);
    if (!d) {
        close(fd);
        snprintf(err, errlen, "%s: cannot start the HTTP listener on %s", o->what, o->listen);
        errno = 0;
    }
    return d;
}

enum MHD_Result httpd_reply(struct MHD_Connection *c, unsigned code, const char *type,
                            const char *body, enum MHD_ResponseMemoryMode mode)
{
    if (!body)
        return MHD_NO;
    struct MHD_Response *r = MHD_create_response_from_buffer(strlen(body), (void *)body, mode);
    if (!r) {
        if (mode == MHD_RESPMEM_MUST_FREE)
            free((void *)body);
        return MHD_NO;
    }
    MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, type);
    enum MHD_Result rc = MHD_queue_response(c, code, r);
    MHD_destroy_response(r);
    return rc;
}
