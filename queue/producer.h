/* producer.h — the idempotent result/DLQ producer (enable.idempotence=true,
 * acks=all). Delivery reports are served on the loop thread. */
#ifndef QUEUE_PRODUCER_H
#define QUEUE_PRODUCER_H

#include <stddef.h>
#include <stdint.h>

#include <librdkafka/rdkafka.h>
#include <uv.h>

#include "conf/config.h"

struct producer;

/* Delivery report: ok = 1 when the broker acknowledged the message; otherwise
 * code/err say why and m (borrowed for the call) still carries the payload,
 * key and headers, so the owner may send it again. opaque is what
 * producer_send got. Runs on the loop. */
typedef void (*producer_dr_fn)(void *ud, void *opaque, int ok, rd_kafka_resp_err_t code,
                               const char *err, const rd_kafka_message_t *m);

/* Fatal producer error (e.g. the idempotent producer lost its state). */
typedef void (*producer_fatal_fn)(void *ud, const char *reason);

/* The result/DLQ producer for c->kafka (read during the call only). dr and
 * fatal run on the loop thread with ud; uv is borrowed and must outlive the
 * producer. Caller frees with producer_free(). NULL with err on failure. */
struct producer *producer_new(uv_loop_t *uv, const struct conf *c, producer_dr_fn dr,
                              producer_fatal_fn fatal, void *ud, char *err, size_t errlen);

/* Queue one message (key, value and headers are copied; hdrs is taken over on
 * SY_OK and left to the caller otherwise; may be NULL). SY_OK; SY_AGAIN when
 * the local queue is full (caller retries after some deliveries); SY_ERR with
 * err filled (producer_last_error() says which error). */
int producer_send(struct producer *p, const char *topic, const void *key, size_t klen,
                  const void *val, size_t vlen, rd_kafka_headers_t *hdrs, void *opaque, char *err,
                  size_t errlen);

/* Same, to one partition (RD_KAFKA_PARTITION_UA = the partitioner's choice). */
int producer_send_to(struct producer *p, const char *topic, int32_t partition, const void *key,
                     size_t klen, const void *val, size_t vlen, rd_kafka_headers_t *hdrs,
                     void *opaque, char *err, size_t errlen);

/* The librdkafka error of the last producer_send()/producer_send_to() (0 after
 * a success; __QUEUE_FULL after SY_AGAIN). */
rd_kafka_resp_err_t producer_last_error(const struct producer *p);

/* What a produce or delivery error means for a retry. Pure. TRANSIENT: the
 * same message may get through later (timeouts, transport, leader changes,
 * full local queue); PERMANENT: sending it again cannot help (size, record,
 * authorization); UNKNOWN: neither list names it (retry a bounded number of
 * times). */
enum producer_errkind { PRODUCER_TRANSIENT, PRODUCER_PERMANENT, PRODUCER_UNKNOWN };
enum producer_errkind producer_classify(rd_kafka_resp_err_t e);

/* Messages queued and not yet reported. */
size_t producer_outstanding(const struct producer *p);

/* Serve delivery reports now (non-blocking). */
void producer_serve(struct producer *p);

/* Shutdown only (blocks up to timeout_ms): send what linger.ms still holds
 * back at once and wait for outstanding deliveries, serving their reports;
 * then purge the rest (reported as failures). Returns the number that were
 * not delivered. */
int producer_flush(struct producer *p, int timeout_ms);

/* Stop watching the producer and free it (NULL is fine). The memory goes once
 * the loop has run the timer's close callback: run the loop afterwards.
 * Undelivered messages are dropped without reports: producer_flush() first. */
void producer_free(struct producer *p);

/* Learn topic's partition leaders now (blocks up to timeout_ms; startup
 * only), so its first message is not held for librdkafka's 1 s topic scan.
 * Returns the partition count, 0 when unknown (the first send then waits as
 * before). */
int producer_warm(struct producer *p, const char *topic, int timeout_ms);

#endif
