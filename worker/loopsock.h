/* loopsock.h — the loop's watch on curl's sockets (internal to loop.c): an
 * epoll set of its own, which libuv watches as one fd.
 *
 * Why not a uv_poll_t per socket (curl's multi-uv.c): curl drops its
 * interest in a connection's socket (CURL_POLL_REMOVE) when a transfer
 * ends and asks for it again when the next transfer takes the connection,
 * usually within the same loop pass. libuv 1.44 turns that into six
 * epoll_ctl calls per request (the stop and the close of the old handle,
 * the init's probe of the fd, the start's stop, the add) and an ioctl —
 * about half of the worker's system time at full load. Here the kernel's
 * registration outlives CURL_POLL_REMOVE: a socket curl watches again for
 * what it is registered for costs no system call, one whose interest
 * changes costs one epoll_ctl, and an unwatched socket is taken out of the
 * set only when an event arrives for it.
 *
 * That is safe only while the set knows which file an fd number stands for.
 * Connection sockets are opened and closed through loopsock_open and
 * loopsock_close (curl's CURLOPT_OPENSOCKETFUNCTION and
 * CURLOPT_CLOSESOCKETFUNCTION), so a reused number is always seen fresh.
 * Any other socket curl asks to watch (its resolver's) is taken out of the
 * set at CURL_POLL_REMOVE, before curl closes it. Closing a socket takes it
 * out of the set only while no other process holds it: connection sockets
 * are opened close-on-exec, and the worker forks only before its loop
 * exists (main.c). Linux only (epoll). Loop thread only. */
#ifndef WORKER_LOOPSOCK_H
#define WORKER_LOOPSOCK_H

#include <stddef.h>

#include <curl/curl.h>
#include <uv.h>

/* An event on a socket curl watches: flags are CURL_CSELECT_* for
 * curl_multi_socket_action. The callback may watch, unwatch, open and close
 * sockets. */
typedef void (*loopsock_ready_fn)(void *ud, curl_socket_t fd, int flags);
/* After the events of one wake-up have all been delivered. */
typedef void (*loopsock_done_fn)(void *ud);

struct loopsock_ent; /* per fd number */

/* Embedded in the loop: its uv handle must outlive it until closed. */
struct loopsock {
    uv_poll_t poll; /* on epfd */
    int epfd;
    struct loopsock_ent *ent; /* indexed by fd */
    size_t n_ent;
    size_t n_watched; /* fds curl watches now */
    loopsock_ready_fn ready;
    loopsock_done_fn done;
    void *ud;
};

/* Create the epoll set and start watching it on uv. SY_OK, or SY_ERR with
 * err (nothing to clean up). */
int loopsock_init(struct loopsock *s, uv_loop_t *uv, loopsock_ready_fn ready, loopsock_done_fn done,
                  void *ud, char *err, size_t errlen);

/* curl's socket callback's work: what is CURL_POLL_IN / OUT / INOUT /
 * REMOVE. SY_OK, or SY_ERR (out of memory, or the kernel refused the fd). */
int loopsock_watch(struct loopsock *s, curl_socket_t fd, int what);

/* CURLOPT_OPENSOCKETFUNCTION and CURLOPT_CLOSESOCKETFUNCTION, with the
 * loopsock as their data pointer. */
curl_socket_t loopsock_open(void *clientp, curlsocktype purpose, struct curl_sockaddr *addr);
int loopsock_close(void *clientp, curl_socket_t fd);

/* Stop watching and close the uv handle; cb gets it once closed. Curl must
 * be done with the set (curl_multi_cleanup) before loopsock_cleanup. */
void loopsock_close_handle(struct loopsock *s, uv_close_cb cb);

/* Close the epoll fd and free the table (after the handle is closed). */
void loopsock_cleanup(struct loopsock *s);

#endif
