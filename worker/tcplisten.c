/* tcplisten.c — see tcplisten.h. */
#include "tcplisten.h"

#include <errno.h>
#include <netdb.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

int tcplisten_open(const char *what, const char *addr, int *v6, char *err, size_t errlen)
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
    struct addrinfo hints = { .ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM, .ai_flags = AI_PASSIVE };
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

