/* kafka_wake.c — librdkafka queue → libuv loop wake-up.
 *
 * librdkafka writes one byte to a pipe whenever a queue goes from empty to
 * non-empty; the loop polls the read end, drains it, and the owner then
 * serves the queue with a zero timeout until it is empty. Because the event
 * fires only on that edge, owners must drain fully (or re-arm a timer). */
#include "kafka_wake.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

struct kafka_wake {
    uv_poll_t poll;
    int fds[2];
    rd_kafka_queue_t *q;
    kafka_wake_fn on_ready;
    void *ud;
};

static void on_readable(uv_poll_t *h, int status, int events)
{
    (void)status;
    (void)events;
    struct kafka_wake *w = h->data;
    char buf[256];
    while (read(w->fds[0], buf, sizeof buf) > 0)
        ;
    w->on_ready(w->ud);
}

struct kafka_wake *kafka_wake_new(uv_loop_t *uv, rd_kafka_queue_t *q, kafka_wake_fn on_ready,
                                  void *ud, char *err, size_t errlen)
{
    struct kafka_wake *w = calloc(1, sizeof *w);
    if (!w) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    if (pipe2(w->fds, O_NONBLOCK | O_CLOEXEC) != 0) {
        snprintf(err, errlen, "pipe: %s", strerror(errno));
        free(w);
        return NULL;
    }
    w->q = q;
    w->on_ready = on_ready;
    w->ud = ud;
    uv_poll_init(uv, &w->poll, w->fds[0]);
    w->poll.data = w;
    uv_poll_start(&w->poll, UV_READABLE, on_readable);
    rd_kafka_queue_io_event_enable(q, w->fds[1], "1", 1);
    return w;
}

static void on_closed(uv_handle_t *h)
{
    struct kafka_wake *w = h->data;
    close(w->fds[0]);
    close(w->fds[1]);
    free(w);
}

void kafka_wake_free(struct kafka_wake *w)
{
    if (!w)
        return;
    rd_kafka_queue_io_event_enable(w->q, -1, NULL, 0);
    uv_poll_stop(&w->poll);
    uv_close((uv_handle_t *)&w->poll, on_closed);
}
