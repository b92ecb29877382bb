/* provider.h — the interface every provider implements.
 *
 * A provider is one const table of pure functions: they build HTTP requests
 * and parse replies over buffers. No I/O, no clock, no globals. The loop adds
 * the Authorization and User-Agent headers, so a provider never sees how a
 * request is sent and never handles an API key.
 *
 * A provider file exports one descriptor (struct prov_desc, registry.h)
 * holding its ops; docs/adding-a-provider.md walks through adding one. */
#ifndef PROVIDERS_PROVIDER_H
#define PROVIDERS_PROVIDER_H

#include <stddef.h>

#include "../conf/config.h"

enum prov_method { PROV_GET, PROV_POST };

#define PROV_MAX_HEADERS 6
#define PROV_MAX_RESULT_URLS 16 /* result URLs one reply may carry */
#define PROV_MAX_URL_BYTES 2048 /* bytes of one result URL */

/* A request to send. All strings owned; free with prov_request_cleanup(). */
struct prov_request {
    enum prov_method method;
    char *url;
    char *body;                      /* NULL for GET */
    char *headers[PROV_MAX_HEADERS]; /* "Name: value"; never Authorization / User-Agent */
    int n_headers;
    int hold_s; /* seconds the server may hold the reply (Prefer: wait); 0 = none */
};

/* A reply as received. Everything borrowed from the caller. */
struct prov_reply {
    long http_status;
    const char *body; /* not NUL-terminated necessarily; use body_len */
    size_t body_len;
    const char *retry_after; /* Retry-After header value, or NULL */
};

enum prov_outcome {
    PROV_CREATED,   /* task accepted: task_id set */
    PROV_PENDING,   /* task still running */
    PROV_SUCCEEDED, /* task done: urls set (n_urls >= 1) */
    PROV_FAILED,    /* this request or the task failed: cls, kind set */
};

/* What went wrong, by where it went wrong (the attempt's "outcome" string). */
enum prov_class {
    PROV_C_NONE = 0,
    PROV_C_TRANSPORT,     /* "transport": refused, reset, DNS, TLS, body over the cap */
    PROV_C_TIMEOUT,       /* "timeout": connect or total timeout */
    PROV_C_HTTP,          /* "http_status": HTTP error without a recognised provider body */
    PROV_C_PROVIDER,      /* "provider_code": provider error code / problem+json */
    PROV_C_TASK_FAILED,   /* "task_failed": the task ran and failed, or was canceled/aborted */
    PROV_C_INVALID_REPLY, /* "invalid_reply": unparsable or unexpected reply */
};

/* What it means for the job (drives retry/fallback and error.class). */
enum prov_kind {
    PROV_K_NONE = 0,
    PROV_K_AUTH,          /* 401: bad key */
    PROV_K_NO_CREDIT,     /* 402 */
    PROV_K_RATE_LIMITED,  /* 429 (or KIE 433): retry_after_ms may be set */
    PROV_K_INVALID_INPUT, /* 400/422: the provider rejected the job's input */
    PROV_K_NOT_FOUND,     /* 404: task unknown */
    PROV_K_NOT_READY,     /* KIE "recordInfo is null" right after create: tolerated a few times */
    PROV_K_UNAVAILABLE,   /* 5xx, KIE 455 / 505, transport, timeout: try again / elsewhere */
    PROV_K_TASK_FAILED,   /* generation failed */
};

struct prov_result {
    enum prov_outcome outcome;
    enum prov_class cls;
    enum prov_kind kind;
    long http_status;
    char code
            [32]; /* provider code as text: KIE body code or failCode, Replicate E#### or problem status; "" if none */
    char message[256]; /* human-readable reason; never contains secrets */
    char *task_id; /* owned; set on PROV_CREATED (and on PENDING/SUCCEEDED when the reply carries it) */
    char **urls; /* owned array of owned strings */
    size_t n_urls;
    long retry_after_ms; /* -1 when the reply gives no hint */
    long duration_ms; /* provider-reported time from the task's creation to its completion; -1 = unknown */
};

/* What a job asks of a provider. Everything borrowed. */
struct prov_task_spec {
    enum conf_op op; /* CONF_OP_GENERATE (0) or CONF_OP_EDIT */
    const char *prompt;
    const char *const *image_urls; /* n_image_urls entries */
    size_t n_image_urls;
    const char *output_format; /* "png" | "jpeg" | NULL */
    const char *aspect_ratio;  /* e.g. "16:9", "auto", or NULL */
    const char *model;         /* logical model, e.g. "nano-banana" */
    const char *callback_url;  /* NULL = none */
    int no_wait;               /* 1 = no Prefer: wait hold, whatever the provider's wait_s */
};

struct prov_ops {
    const char *type; /* "kie", "replicate" */

    /* Build the create request. SY_OK, or SY_DECLINED with a reason in err when
     * this provider cannot run the spec (model not mapped, too many images …). */
    int (*build_create)(const struct conf_provider *p, const struct prov_task_spec *spec,
                        struct prov_request *out, char *err, size_t errlen);
    /* Build the status request for task_id. SY_OK or SY_ERR. */
    int (*build_poll)(const struct conf_provider *p, const char *task_id, struct prov_request *out);
    /* Build a cancel request; NULL when the provider has no cancel. */
    int (*build_cancel)(const struct conf_provider *p, const char *task_id,
                        struct prov_request *out);

    /* Parse replies. Always fill out (outcome PROV_FAILED on any problem);
     * out must be zeroed / cleaned before the call. */
    void (*parse_create)(const struct prov_reply *r, struct prov_result *out);
    void (*parse_poll)(const struct prov_reply *r, struct prov_result *out);
};

/* The ops table for a provider type id, or NULL (providers/registry.c;
 * by name: prov_find(p->type_name)->ops). */
const struct prov_ops *prov_lookup(enum conf_provider_type type);

void prov_request_cleanup(struct prov_request *r);
void prov_result_init(struct prov_result *r);    /* zero + retry_after_ms = duration_ms = -1 */
void prov_result_cleanup(struct prov_result *r); /* frees, then re-inits */

/* Outcome string for the result's attempts[]: "succeeded", "transport", … */
const char *prov_class_name(enum prov_class c);

#endif
