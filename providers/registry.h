/* registry.h — a provider is one descriptor, found by name.
 *
 * Each provider file (providers/kie.c, providers/replicate.c) exports one
 * const struct prov_desc: its pure request/reply ops, the plain data the
 * config loader needs (defaults, built-in models), and how its callbacks
 * are signed and read. providers/registry.c lists the descriptors; nothing
 * else names a provider. Adding one: docs/adding-a-provider.md. */
#ifndef PROVIDERS_REGISTRY_H
#define PROVIDERS_REGISTRY_H

#include <stddef.h>
#include <stdint.h>

#include "provider.h"
#include "webhook.h"

/* One callback as received (everything borrowed; header values NULL when
 * absent). task_id is the body's, read by peek (NULL before that). */
struct prov_cb_req {
    const char *id, *ts, *sig; /* values of the descriptor's id/ts/sig headers */
    const char *task_id;
    const char *body;
    size_t body_len;
};

/* How a provider calls back. All hooks pure; see webhook.h for the
 * primitives they are built from. */
struct prov_cb_desc {
    /* Header names (NULL = the provider sends none). */
    const char *id_header;
    const char *ts_header;
    const char *sig_header;
    /* 1: the signature covers the raw body, so it is checked before the body
     * is read and a verified body may complete the job; 0: the signature
     * covers the body's task id only, so the body is read first and only
     * ever makes the job poll. */
    int signs_body;

    /* The configured secret (struct conf_callbacks, by offset) and the name
     * of its *_env field for messages. */
    size_t secret_off;
    const char *secret_env_key;
    size_t secret_env_off;
    /* Turn the secret into a signing key. SY_OK, or SY_ERR with k zeroed;
     * bad_secret (NULL = only out of memory can fail) says why. */
    int (*key_init)(struct webhook_key *k, const char *secret);
    const char *bad_secret;
    /* Check the signature and the timestamp of rq with key k. */
    enum webhook_verdict (*verify)(const struct webhook_key *k, const struct prov_cb_req *rq,
                                   int64_t now_s, int tolerance_s);
    /* Task id and state of a body: SY_OK, or SY_ERR when it is not JSON or has no task id. */
    int (*peek)(const char *body, size_t len, struct webhook_event *ev);
    /* The body as a poll reply would read (see webhook_parse()). */
    void (*parse)(const char *body, size_t len, struct prov_result *out);
};

struct prov_desc {
    const char *type;              /* the config's type = "..." (== ops->type) */
    const char *label;             /* for people: "KIE" */
    const struct prov_ops *ops;    /* build requests, parse replies */
    const struct conf_ptype *conf; /* config defaults and built-in models */
    struct prov_cb_desc cb;        /* callbacks */
};

/* The descriptor for a type name, or NULL. */
const struct prov_desc *prov_find(const char *type);

/* The i-th descriptor in registry order (type id i + 1), or NULL past the end. */
const struct prov_desc *prov_at(size_t i);

#endif
