/* kafka_common.c — librdkafka configuration and loop wake-up.
 *
 * librdkafka writes one byte to a pipe whenever a queue goes from empty to
 * non-empty; the loop polls the read end, drains it, and the owner then
 * serves the queue with a zero timeout until it is empty. Because the event
 * fires only on that edge, owners must drain fully (or re-arm a timer). */
#include "kafka_common.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "worker/sy.h"
#include "worker/log.h"

static void on_kafka_log(const rd_kafka_t *rk, int level, const char *fac, const char *buf)
{
    (void)rk;
    enum log_level lvl = level <= 3 ? LOG_LVL_ERROR : level <= 4 ? LOG_LVL_WARN : level <= 6 ? LOG_LVL_INFO
                                                                                            : LOG_LVL_DEBUG;
    if (log_enabled(lvl))
        log_write(lvl, NULL, "kafka %s: %s", fac, buf);
}

static int set(rd_kafka_conf_t *kc, const char *k, const char *v, char *err, size_t errlen)
{
    char e[512];
    if (rd_kafka_conf_set(kc, k, v, e, sizeof e) != RD_KAFKA_CONF_OK) {
        snprintf(err, errlen, "kafka property %s: %s", k, e);
        return SY_ERR;
    }
    return SY_OK;
}

rd_kafka_conf_t *kafka_conf_new(const struct conf *c, const char *const *fixed, char *err, size_t errlen)
{
    rd_kafka_conf_t *kc = rd_kafka_conf_new();
    rd_kafka_conf_set_log_cb(kc, on_kafka_log);
    int rc = set(kc, "bootstrap.servers", c->kafka.brokers, err, errlen);
    for (size_t i = 0; rc == SY_OK && i < c->kafka.n_properties; i++)
        rc = set(kc, c->kafka.properties[i].key, c->kafka.properties[i].value, err, errlen);
    for (size_t i = 0; rc == SY_OK && fixed && fixed[i]; i += 2)
        rc = set(kc, fixed[i], fixed[i + 1], err, errlen);
    if (rc != SY_OK) {
        rd_kafka_conf_destroy(kc);
        return NULL;
    }
    return kc;
}

void kafka_conf_soft(rd_kafka_conf_t *kc, const struct conf *c, const char *const *soft)
{
    for (size_t i = 0; soft[i]; i += 2) {
        int given = 0;
        for (size_t j = 0; j < c->kafka.n_properties; j++)
            given |= strcmp(c->kafka.properties[j].key, soft[i]) == 0;
        char e[256];
        if (!given && rd_kafka_conf_set(kc, soft[i], soft[i + 1], e, sizeof e) != RD_KAFKA_CONF_OK)
            LOG_WARN(NULL, "kafka default %s=%s refused: %s", soft[i], soft[i + 1], e);
    }
}

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

struct kafka_wake *kafka_wake_new(uv_loop_t *uv, rd_kafka_queue_t *q, kafka_wake_fn on_ready, void *ud,
                                  char *err, size_t errlen)
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

rd_kafka_resp_err_t kafka_commit_and_close(rd_kafka_t *rk)
{
    rd_kafka_resp_err_t e = rd_kafka_commit(rk, NULL, 0);
    if (e == RD_KAFKA_RESP_ERR__NO_OFFSET)
        e = RD_KAFKA_RESP_ERR_NO_ERROR;
    rd_kafka_consumer_close(rk);
    return e;
}
