/* config.h — the switchyard configuration: libconfig file → one typed,
 * validated, read-only struct. Reload builds a new struct and swaps it.
 *
 * Every error reads "FILE:LINE: message" (LINE is the line of the offending
 * setting, or of its enclosing group when the setting is missing). A file
 * that cannot be opened has no line: "FILE: cannot open: <strerror>". */
#ifndef CONF_CONFIG_H
#define CONF_CONFIG_H

#include <stddef.h>

/* A provider type's id: 1 + its position in the registry
 * (providers/registry.c). The names are for callers that compare; a new
 * provider needs none. */
enum conf_provider_type { CONF_PROV_KIE = 1, CONF_PROV_REPLICATE = 2 };

/* One logical model ("nano-banana") as one provider runs it. */
struct conf_model {
    char *name; /* logical name used in jobs, e.g. "nano-banana" */
    char *generate; /* provider model for operation "generate", e.g. "google/nano-banana"; NULL = unsupported */
    char *edit; /* provider model for operation "edit", e.g. "google/nano-banana-edit"; NULL = unsupported */
    char *image_field; /* input field carrying image URLs: "image_urls" or "image_input" */
    char *jpeg_name;   /* how this model spells JPEG in output_format: "jpeg" or "jpg" */
    int line;
};

enum conf_poll_mode { CONF_POLL_ADAPTIVE = 0, CONF_POLL_FIXED = 1 };

/* A template's operation (the values of queue/codec.h's enum codec_op). */
enum conf_op { CONF_OP_UNSET = -1, CONF_OP_GENERATE = 0, CONF_OP_EDIT = 1 };

struct conf_poll {
    int first_ms;    /* fixed mode: delay from create to first poll */
    int interval_ms; /* fixed mode: delay between polls */
    int max_s;       /* give up on a task after this many seconds */
    enum conf_poll_mode mode;
    int max_lag_ms;       /* adaptive: target mean delay from completion to detection */
    int expect_median_ms; /* adaptive prior: median generation time ... */
    double expect_sigma;  /* ... and the sigma of its logarithm (lognormal) */
    int min_interval_ms;  /* adaptive: bounds of every delay between polls */
    int max_interval_ms;
};

/* A provider's request rates (providers/ratelimit.h); per-type defaults come
 * from the provider's descriptor, documented in conf/README-config.md. */
struct conf_rate_limit {
    double create_per_s;
    int create_burst;
    int create_window_max; /* 0 = no sliding window */
    int create_window_s;
    double poll_per_s;
    int poll_burst;
    int max_in_flight;
    char *scope; /* "worker" | "fleet" */
};

struct conf_breaker {
    int window;
    int min_calls;
    double failure_rate;
    int open_s;
    int half_open_probes;
};

struct conf_retry {
    int max_attempts;
    int backoff_base_ms;
    int backoff_max_ms;
    double budget_ratio;
    double budget_min_per_s;
};

struct conf_provider {
    char *name;                   /* unique */
    enum conf_provider_type type; /* "kie" | "replicate" */
    const char *type_name;        /* the type as written ("kie"); static, from the registry */
    int priority;                 /* unique, lower = tried first */
    char *base_url;               /* no trailing slash */
    char *api_key_env;            /* name of the environment variable */
    char *api_key;                /* its value, resolved at load; NEVER log it */
    char *proxy;                  /* NULL = none; passed to CURLOPT_PROXY */
    int wait_s;                   /* Replicate Prefer: wait=N (1..60); 0 = off */
    int connect_timeout_ms;       /* inherits worker.connect_timeout_ms */
    int request_timeout_ms;       /* inherits worker.request_timeout_ms */
    int max_connections;     /* per-host connection cap; inherits worker.max_host_connections */
    int not_ready_tolerance; /* KIE "recordInfo is null" replies tolerated per task */
    struct conf_poll poll;
    struct conf_rate_limit rate_limit;
    struct conf_breaker breaker;
    struct conf_retry retry;
    struct conf_model *models; /* always at least the built-in defaults for the type */
    size_t n_models;
    int line;
};

struct conf_worker {
    int max_in_flight; /* jobs in flight per process */
    int shutdown_grace_s;
    int connect_timeout_ms;
    int request_timeout_ms;    /* total time for one HTTP request */
    int max_body_bytes;        /* cap on a provider reply body */
    int max_host_connections;  /* default per-host connection cap */
    int max_total_connections; /* cap over all hosts (0 = none) */
    int default_deadline_s;    /* job deadline when the job sets none */
    int max_deadline_s;        /* a job's deadline_s is clamped to this; ≥ default_deadline_s */
    char *user_agent;
    char *metrics_listen; /* "" = disabled */
    char *log_level;      /* debug | info | warn | error */
    int allow_plain_http; /* 1 = base_url / callbacks.public_url may be http:// to a non-loopback host */
    int max_in_flight_bytes; /* bytes held by jobs in flight per process (pause above it) */
};

struct conf_kv {
    char *key;
    char *value;
};

struct conf_kafka {
    char *brokers;
    char *group;
    char *input_topic;
    char *output_topic;
    char *dlq_topic;
    char *callback_topic; /* callbacks handed between workers; default "<input_topic>.callbacks" */
    int max_result_bytes; /* bound on one result line (codec_result_json_max) */
    char *ledger_topic; /* the task ledger (crash-safe jobs); default "<input_topic>.ledger", "" = off */
    int ledger_read_timeout_ms; /* bound on reading a ledger partition at takeover */
    struct conf_kv *properties; /* passed verbatim to librdkafka */
    size_t n_properties;
    int present; /* 1 if the file has a kafka group; the fields above hold defaults either way */
};

/* One placeholder of a prompt template. */
struct conf_tvar {
    char *name;     /* [a-z0-9_]+ */
    char **choices; /* allowed values (exact match); NULL = any value */
    size_t n_choices;
    char *def; /* used when the job's vars lack it; NULL = the job must give it */
};

/* A prompt template (top-level group "templates"), rendered by conf/template.h. */
struct conf_template {
    char *name;      /* the setting's name; jobs name it in "template" */
    enum conf_op op; /* CONF_OP_UNSET when the file gives no "operation" */
    char *prompt; /* text with {name} placeholders and {{ / }} for literal braces; syntax checked at load */
    struct conf_tvar *vars; /* each placeholder once, in order of first use */
    size_t n_vars;
    int line;
};

/* Provider callbacks instead of polls (read at start only: not reloadable). */
struct conf_callbacks {
    char *listen;     /* "host:port" of the receiver; "" = callbacks off */
    char *public_url; /* base URL providers reach the receiver at, no trailing '/'; "" when off */
    char *kie_hmac_key_env;   /* NULL = KIE callbacks are not signature-checked */
    char *kie_hmac_key;       /* its value; NEVER log it */
    char *webhook_secret_env; /* NULL = Replicate webhooks are not signature-checked */
    char *webhook_secret;     /* its value ("whsec_..."); NEVER log it */
    int tolerance_s;          /* accepted distance of a signed timestamp from now */
    int safety_poll_s;        /* poll interval while a callback is awaited */
    int allow_unsigned; /* 1 = a non-loopback listen may run without both keys (written out explicitly) */
    int max_connections;        /* receiver connections in all */
    int max_connections_per_ip; /* receiver connections from one address */
};

struct conf {
    char *path;
    struct conf_worker worker;
    struct conf_kafka kafka;
    struct conf_callbacks callbacks;
    struct conf_provider *providers; /* sorted by priority, ascending */
    size_t n_providers;
    struct conf_template *templates; /* file order; NULL when the file has none */
    size_t n_templates;
};

/* A model mapping a provider type brings along. */
struct conf_builtin_model {
    const char *name, *generate, *edit, *image_field, *jpeg_name;
};

/* What the loader knows of a provider type: plain data, owned by the
 * provider's descriptor (providers/<type>.c, struct prov_desc). */
struct conf_ptype {
    const char *name;                  /* the value of "type", e.g. "kie" */
    struct conf_poll poll;             /* defaults of the poll group */
    struct conf_rate_limit rate_limit; /* defaults of rate_limit (scope ignored: always "worker") */
    const struct conf_builtin_model *models; /* used when the provider has no models list */
    size_t n_models;
    const char *image_field, *jpeg_name; /* for model entries the built-ins do not name */
};

/* The i-th provider type in registry order (its id is i + 1), or NULL past
 * the end. Defined by the provider registry (providers/registry.c), so that
 * conf/ reads the descriptors' data without including providers/. */
const struct conf_ptype *conf_ptype_at(size_t i);
#define CONF_MAX_PTYPES 16 /* provider types the loader looks at */

/* Load and validate FILE. Returns the config (caller frees with conf_free())
 * or NULL with "FILE:LINE: message" in err. Reads the environment for API keys. */
struct conf *conf_load(const char *path, char *err, size_t errlen);

/* Same, from a string; name is used in messages in place of a file name. */
struct conf *conf_load_string(const char *text, const char *name, char *err, size_t errlen);

/* Free c and every string it owns (NULL is fine). Pointers into it (a
 * provider, a model, a template) die with it. */
void conf_free(struct conf *c);

/* A config with a reference count: jobs keep the one they started with
 * until they end, so a reload never pulls a provider from under them. One
 * thread (the loop's). */
struct conf_ref {
    struct conf *c;
    int refs;
};

/* Takes c on success (refs = 1). NULL on out of memory, c left to the caller. */
struct conf_ref *conf_ref_new(struct conf *c);
/* One more reference; returns r. */
struct conf_ref *conf_ref_get(struct conf_ref *r);
/* Drops a reference; the last frees the config. NULL is fine. */
void conf_ref_put(struct conf_ref *r);

/* 1 when url is plain "http://" to a host that is not loopback (127.0.0.0/8,
 * ::1, localhost): an API key or a signed callback would cross the network in
 * the clear. 0 for https://, loopback hosts and anything else. Pure. */
int conf_url_plain_remote(const char *url);

/* The first kafka.properties key naming a secret ("password" or "secret" in
 * it, e.g. sasl.password) when a file of this st_mode is readable by group or
 * others; NULL when there is none or the mode is private. Pure; borrowed. */
const char *conf_exposed_secret(const struct conf *c, unsigned mode);

/* Provider by name, or NULL. Borrowed from c. */
const struct conf_provider *conf_provider_by_name(const struct conf *c, const char *name);

/* The provider's mapping of a logical model, or NULL if it has none. */
const struct conf_model *conf_provider_model(const struct conf_provider *p, const char *logical);

/* Template by name, or NULL. Borrowed from c. */
const struct conf_template *conf_template_by_name(const struct conf *c, const char *name);

#endif
