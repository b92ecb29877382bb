/* dispatch.h — which provider a job tries, in what order, and what a failure
 * means for it. Pure functions over the config and a job's wishes; the
 * resilience policies (rate limits, breakers, budgets) will plug in here. */
#ifndef WORKER_DISPATCH_H
#define WORKER_DISPATCH_H

#include <stddef.h>

#include "conf/config.h"
#include "providers/provider.h"

#define DISPATCH_MAX_PROVIDERS 16

/* Providers for a job: config priority order, or — when the job names
 * providers — those names in the job's order, skipping unknown names.
 * Writes indices into c->providers to order[] (cap entries) and returns the
 * count; 0 means no configured provider matches. */
size_t dispatch_order(const struct conf *c, const char *const *names, size_t n_names, size_t *order,
                      size_t cap);

/* What a failed provider step means. */
enum dispatch_action {
    DISPATCH_RETRY_SAME, /* wait (rate limit hint) and repeat the same request */
    DISPATCH_NEXT,       /* give up on this provider, try the next one */
};

/* Action for a failure of kind during phase ("create" = is_poll 0). Poll
 * request failures are handled by the job (it re-polls, never re-creates). */
enum dispatch_action dispatch_on_failure(enum prov_kind kind);

/* error.class for a job whose last failure had this kind (after every
 * provider was tried): provider_auth, no_credit, rejected, task_failed, exhausted. */
const char *dispatch_error_class(enum prov_kind kind);

/* Delay before repeating a rate-limited request: the provider's hint when it
 * gave one, else a full window (KIE drops requests over its limit) or 2 s. */
long dispatch_rate_limit_delay_ms(enum conf_provider_type type, long retry_after_ms);

#endif
