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

struct callbacks;
struct engine;
struct prov_desc;
struct metrics;

/* One accepted callback. Strings owned by the event. */
struct callbacks_event {
    char provider[65];  /* configured provider name */
    const struct prov_desc *desc; /* its provider type (providers/registry.h) */
    int32_t partition;  /* input partition of the job; -1 = batch ("b") */
    char *job_id;
    char task_id[128];
    int is_signed;      /* its signature was checked with a configured key */
    int body_trusted;   /* the signature covers body (Replicate): it may complete the job */
    char *body;         /* the body when trusted (NUL-terminated, body_len bytes), else "" */
    size_t body_len;
    /* Replicate's webhook-id / -timestamp / -signature, carried in the
     * handoff envelope so the owner verifies the body again ("" = none). */
    char wh_id[128], wh_ts[24], wh_sig[512];
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

/* Act on ev for its job (through job_callback): a trusted body completes
 * it, anything else makes it poll now. SY_OK when it did; SY_DECLINED when
 * no such task is in flight here (logged at debug). Loop thread. */
int callbacks_complete(struct engine *e, const struct callbacks_event *ev);

/* The handoff envelope: {"provider","job","task_id","partition","event"}
 * plus, for a trusted Replicate body, "wh_id","wh_ts","wh_sig". An event
 * whose envelope would exceed CALLBACKS_MAX_ENVELOPE is sent without its
 * body (the owner polls). No header value but those, and no secret.
 * Caller frees; NULL on out of memory. */
#define CALLBACKS_MAX_ENVELOPE (256 * 1024)
char *callbacks_envelope(const struct callbacks_event *ev, size_t *len);
/* Parse an envelope into ev (cleaned up with callbacks_event_cleanup()):
 * untrusted (body_trusted 0, is_signed 0) whatever it says. SY_OK, or
 * SY_ERR when it is not one (an event body with an embedded NUL included). */
int callbacks_envelope_parse(const char *data, size_t len, struct callbacks_event *ev);

/* A record from the callback topic: parse it, take the provider's type
 * from cb's list (unknown provider: SY_ERR), verify a carried Replicate
 * signature again with cb's secret (only then is the body trusted; else
 * the job just polls now) and complete it. SY_OK / SY_DECLINED as
 * callbacks_complete; SY_ERR when it is not an envelope. Loop thread. */
int callbacks_handoff(const struct callbacks *cb, struct engine *e, const char *data, size_t len);

#endif
