/* kafka_wake.h — the fd that wakes the libuv loop when a librdkafka queue
 * has something for us. Setup without libuv is queue/kafka_conf.h. */
#ifndef QUEUE_KAFKA_WAKE_H
#define QUEUE_KAFKA_WAKE_H

#include <stddef.h>

#include <librdkafka/rdkafka.h>
#include <uv.h>

/* Wakes the loop when queue q turns non-empty (rd_kafka_queue_io_event_enable
 * over a pipe watched by a uv_poll). on_ready runs on the loop thread. */
struct kafka_wake;
typedef void (*kafka_wake_fn)(void *ud);
struct kafka_wake *kafka_wake_new(uv_loop_t *uv, rd_kafka_queue_t *q, kafka_wake_fn on_ready,
                                  void *ud, char *err, size_t errlen);
/* Stop watching, disable the io event, close the pipe (async) and free. Does
 * not destroy q. */
void kafka_wake_free(struct kafka_wake *w);

#endif
