/* callbacks.h — the provider callback receiver.
 *
 * A libmicrohttpd listener on callbacks.listen takes POST
 * /cb/<provider>/<partition|"b">/<job id> (the URL jobs hand to providers
 * as callBackUrl / webhook). Its thread only verifies (signature, timestamp,
 * body), dedupes and answers: 200 accepted or duplicate, 401 bad or missing
 * signature (when a key is configured), 400 stale timestamp or unreadable
 * body, 404 unknown path, 405 not a POST, 413 body over 1 MiB. Accepted
 * events go to the loop through a mutex-protected queue and a uv_async_t;
 * the loop owns every job, so only the loop's event callback touches them.
 * Secrets are read from the config and never logged or forwarded. */
#ifndef WORKER_CALLBACKS_H
#define WORKER_CALLBACKS_H

#include <stddef.h>
#include <stdint.h>

#include <uv.h>

#include "conf/config.h"

struct callbacks;
struct engine;
struct metrics;

/* One verified callback. Strings owned by the event. */
struct callbacks_event {
    char provider[65];  /* configured provider name */
    int32_t partition;  /* input partition of the job; -1 = batch ("b") */
    char *job_id;
    char task_id[128];
    char *body;         /* the provider's body, as received (NUL-terminated) */
    size_t body_len;
};

void callbacks_event_cleanup(struct callbacks_event *ev);

/* Runs on the loop thread for each accepted event (borrowed for the call). */
typedef void (*callbacks_event_fn)(void *ud, const struct callbacks_event *ev);

/* Start the listener on c->callbacks.listen (must be non-empty) with the
 * providers and secrets of c (copied). m (may be NULL) gets the counters and
 * must outlive the listener. NULL with err on failure (bad key, bind). Loop
 * thread. */
struct callbacks *callbacks_start(uv_loop_t *uv, const struct conf *c, struct metrics *m, callbacks_event_fn fn,
                                  void *ud, char *err, size_t errlen);

/* Stop the listener (joins its thread), drop queued events, close the async
 * handle; the struct is freed by the loop afterwards. NULL ok. Safe from a
 * loop callback; fn is not called again. */
void callbacks_close(struct callbacks *cb);

/* Complete the job ev is for (through job_callback). SY_OK when it did,
 * SY_DECLINED when no such task is in flight here (logged at debug). Loop
 * thread. */
int callbacks_complete(struct engine *e, const struct callbacks_event *ev);

/* The handoff envelope: {"provider","job","task_id","partition","event"}
 * with the body as a string. No header, signature or secret is in it.
 * Caller frees; NULL on out of memory. */
char *callbacks_envelope(const struct callbacks_event *ev, size_t *len);
/* Parse an envelope into ev (cleaned up with callbacks_event_cleanup()).
 * SY_OK, or SY_ERR when it is not one. */
int callbacks_envelope_parse(const char *data, size_t len, struct callbacks_event *ev);

#endif
