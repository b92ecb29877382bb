/* callbacks.h — the provider callback receiver.
 *
 * A libmicrohttpd listener on callbacks.listen takes POST
 * /cb/<provider>/<partition|"b">/<job id> (the URL jobs hand to providers
 * as callBackUrl / webhook). Its thread only verifies (signature, timestamp,
 * body), dedupes and answers: 200 accepted or duplicate, 401 bad or missing
 * signature (when a key is configured), 400 stale timestamp or unreadable
 * body, and, before any body byte is read, 404 unknown path or provider,
 * 405 not a POST, 413 Content-Length over 1 MiB; 503 when the queue to the
 * loop is full. Accepted events go to the loop through a bounded queue and
 * a uv_async_t; the loop owns every job, so only the loop's event callback
 * touches them.
 *
 * Trust: only a Replicate body under a valid webhook signature is read as a
 * result. A KIE callback (its signature covers taskId and timestamp only)
 * and any unsigned callback are triggers: the job polls the task with its
 * own key at once. Secrets are read from the config and never logged or
 * forwarded. The provider list is copied at start (not reloadable). */
#ifndef WORKER_CALLBACKS_H
#define WORKER_CALLBACKS_H

#include <stddef.h>
#include <stdint.h>

#include <uv.h>

#include "conf/config.h"
#include "queue/cbtopic.h"

struct callbacks;
struct engine;
struct prov_desc;
struct metrics;

/* Runs on the loop thread for each accepted event (borrowed for the call). */
typedef void (*callbacks_event_fn)(void *ud, const struct cbtopic_event *ev);

/* Start the listener on c->callbacks.listen (must be non-empty) with the
 * providers and secrets of c (copied). m (may be NULL) gets the counters and
 * must outlive the listener. NULL with err on failure (bad key, bind). Loop
 * thread. */
struct callbacks *callbacks_start(uv_loop_t *uv, const struct conf *c, struct metrics *m,
                                  callbacks_event_fn fn, void *ud, char *err, size_t errlen);

/* Stop the listener (joins its thread), drop queued events, close the async
 * handle; the struct is freed by the loop afterwards. NULL ok. Safe from a
 * loop callback; fn is not called again. */
void callbacks_close(struct callbacks *cb);

/* Act on ev for its job (through job_callback): a trusted body completes
 * it, anything else makes it poll now. SY_OK when it did; SY_DECLINED when
 * no such task is in flight here (logged at debug). Loop thread. */
int callbacks_complete(struct engine *e, const struct cbtopic_event *ev);

/* A record from the callback topic: parse it, take the provider's type
 * from cb's list (unknown provider: SY_ERR), verify a carried Replicate
 * signature again with cb's secret (only then is the body trusted; else
 * the job just polls now) and complete it. SY_OK / SY_DECLINED as
 * callbacks_complete; SY_ERR when it is not an envelope. Loop thread. */
int callbacks_handoff(const struct callbacks *cb, struct engine *e, const char *data, size_t len);

#endif
