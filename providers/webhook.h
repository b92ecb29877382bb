/* webhook.h — verifying and reading provider callbacks (pure functions).
 *
 * KIE (docs/providers.md §KIE callbacks): X-Webhook-Signature =
 * base64(HMAC-SHA256(key, taskId + "." + X-Webhook-Timestamp)); the body is
 * not signed.
 * Replicate (docs/providers.md §Replicate webhooks, Standard Webhooks):
 * webhook-signature is a space-separated list of "v1,<base64>", each
 * base64(HMAC-SHA256(base64-decode(secret after "whsec_"), webhook-id + "." +
 * webhook-timestamp + "." + raw body)); any one match passes. Both reject a
 * timestamp (Unix seconds) further than tolerance_s from now_s. Comparisons
 * are constant-time. No I/O, no clock: callers pass now_s. Safe from any
 * thread. Nothing here logs, and no key ever reaches an output. */
#ifndef PROVIDERS_WEBHOOK_H
#define PROVIDERS_WEBHOOK_H

#include <stddef.h>
#include <stdint.h>

#include "provider.h"

enum webhook_verdict {
    WEBHOOK_OK = 0,
    WEBHOOK_MISSING, /* a signature header is absent or empty → 401 */
    WEBHOOK_BAD_SIG, /* no signature matches, or a header is malformed → 401 */
    WEBHOOK_STALE,   /* timestamp outside ± tolerance (or not a number) → 400 */
};

/* A decoded Replicate signing key. Wipe with webhook_key_cleanup(). */
struct webhook_key {
    unsigned char *data;
    size_t len;
};

/* Decode "whsec_<base64>" into k. SY_OK, or SY_ERR (not whsec_, bad base64,
 * empty) with k zeroed. The secret is borrowed; k owns its copy. */
int webhook_key_init(struct webhook_key *k, const char *secret);
void webhook_key_cleanup(struct webhook_key *k);

/* KIE: check ts_hdr (X-Webhook-Timestamp) and sig_hdr (X-Webhook-Signature)
 * for task_id (data.taskId of the body). Any argument but key may be NULL. */
enum webhook_verdict webhook_kie_verify(const char *key, const char *task_id, const char *ts_hdr,
                                        const char *sig_hdr, int64_t now_s, int tolerance_s);

/* Replicate: check the webhook-id / webhook-timestamp / webhook-signature
 * headers over body (body_len bytes, as received). */
enum webhook_verdict webhook_replicate_verify(const struct webhook_key *k, const char *id_hdr,
                                              const char *ts_hdr, const char *sig_hdr,
                                              const char *body, size_t body_len, int64_t now_s,
                                              int tolerance_s);

/* Only the timestamp check (for callbacks accepted without a key that still
 * carry one): WEBHOOK_OK when ts_hdr is NULL. */
enum webhook_verdict webhook_check_time(const char *ts_hdr, int64_t now_s, int tolerance_s);

/* base64(HMAC-SHA256(key, msg)) into out (cap >= 45). SY_OK / SY_ERR. For
 * tests and tools that sign. */
int webhook_sign(const void *key, size_t klen, const void *msg, size_t mlen, char *out, size_t cap);

/* What a callback body says. Strings point into fixed buffers. */
struct webhook_event {
    char task_id[128]; /* KIE data.taskId / Replicate id */
    char state[32];    /* KIE data.state / Replicate status */
};

/* Fill ev from the task id and state a cb.peek read (state may be NULL):
 * SY_OK, or SY_ERR (ev left empty) when id is missing, empty or too long. */
int webhook_event_set(struct webhook_event *ev, const char *id, const char *state);

/* Read task id and state from a callback body of provider type `type`
 * (the descriptor's cb.peek; kept for tests and fuzzers that name a type).
 * SY_OK, or SY_ERR when the body is not JSON or has no task id. */
int webhook_peek(enum conf_provider_type type, const char *body, size_t len,
                 struct webhook_event *ev);

/* Parse a callback body into out (prov_result_init()ed by the caller; the
 * descriptor's cb.parse, kept like webhook_peek), as the
 * provider's parse_poll would a status reply: PROV_SUCCEEDED with urls,
 * PROV_FAILED with cls TASK_FAILED, PROV_PENDING for a non-terminal event,
 * or PROV_FAILED / INVALID_REPLY for a body it cannot read. */
void webhook_parse(enum conf_provider_type type, const char *body, size_t len,
                   struct prov_result *out);

#endif
