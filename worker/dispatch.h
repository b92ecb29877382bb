/* dispatch.h — which provider a job tries, in what order (pure functions
 * over the config and a job's wishes), and the per-provider policy states
 * with the reference-counted active config. What a failure means for a job
 * is jobpolicy.h's. */
#ifndef WORKER_DISPATCH_H
#define WORKER_DISPATCH_H

#include <stddef.h>
#include <stdint.h>

#include "conf/config.h"
#include "providers/breaker.h"
#include "providers/pollplan.h"
#include "providers/provider.h"
#include "providers/ratelimit.h"
#include "providers/retry_budget.h"

#define DISPATCH_MAX_PROVIDERS 16
#define DISPATCH_MAX_PLANS 8 /* provider models with a poll plan, per provider */

struct metrics;
struct pollsched_entry;

/* Providers for a job: config priority order, or — when the job names
 * providers — those names in the job's order, skipping unknown names.
 * Writes indices into c->providers to order[] (cap entries) and returns the
 * count; 0 means no configured provider matches. */
size_t dispatch_order(const struct conf *c, const char *const *names, size_t n_names, size_t *order,
                      size_t cap);

/* ---- runtime state: one per provider name, for the life of the process ---- */

/* The poll planner of one provider model ("google/nano-banana-edit"). */
struct pstate_plan {
    char model[96];
    struct pollplan *pp;
};

/* A provider's policies. Survives reloads (a provider keeps its limiter
 * history, breaker window, budget and learned generation times); a provider
 * that a reload removes keeps its state, unused. */
struct pstate {
    char name[64];
    struct ratelimit *rl;
    struct breaker *br;
    struct budget *bud;
    uint64_t requests, rate_limit_waits, skipped_open; /* counters for logs and metrics */
    int held; /* creates held open by Prefer: wait right now */
    struct pollsched_entry
            *first_polls;     /* jobs whose first poll is planned, not sent yet (pollsched.h) */
    enum prov_kind trip_kind; /* why the breaker last tripped (401 / 402), until a success */
    struct metrics
            *metrics; /* the engine's, for requests that outlive their job (cancel); may be NULL */
    struct conf_poll poll; /* the active config's poll settings (plans are configured from it) */
    struct pstate_plan plans[DISPATCH_MAX_PLANS];
    size_t n_plans;
};

struct dispatch;

/* Takes ownership of c. NULL on out of memory. */
struct dispatch *dispatch_new(struct conf *c, int64_t now_ms);

/* Frees the states and the active config (no job may hold a reference). */
void dispatch_free(struct dispatch *d);

/* The active config with one more reference; give it back with
 * conf_ref_put(). */
struct conf_ref *dispatch_conf_get(struct dispatch *d);

/* The active config (borrowed until the next reload). */
const struct conf *dispatch_conf(const struct dispatch *d);

/* The state of provider `name` (created on first use). Never NULL for a
 * configured name; borrowed for the life of d. */
struct pstate *dispatch_pstate(struct dispatch *d, const char *name);

/* Make c (ownership taken) the active config: new decisions use its
 * priorities, limits, breaker, budget, poll settings and model maps; jobs in
 * flight keep theirs. SY_OK or SY_ERR (out of memory: nothing changes, c freed). */
int dispatch_reload(struct dispatch *d, struct conf *c, int64_t now_ms);

/* SIGHUP: load path again; on success make it active (logged), otherwise
 * keep the running config and log the FILE:LINE reason. SY_OK or SY_ERR. */
int dispatch_reload_file(struct dispatch *d, const char *path);

/* This worker's share of fleet-scope limits (its fraction of the input
 * partitions; 1 in batch mode). */
void dispatch_set_share(struct dispatch *d, double share, int64_t now_ms);

/* The poll plan of provider model `model` on ps, created on first use from
 * the active poll settings; a reload reconfigures every plan. Borrowed for
 * the life of the dispatch. NULL when out of memory, when model does not fit
 * struct pstate_plan (≥ 96 bytes) or when ps already has DISPATCH_MAX_PLANS
 * plans (the caller then polls with the fixed settings). Pass only names
 * from dispatch_plan_model(): a plan is also a /metrics label. */
struct pollplan *dispatch_pollplan(struct pstate *ps, const char *model);

/* The provider model p maps logical model `logical` to for the operation
 * (edit 1 = "edit"), borrowed from the config; NULL when p does not map it.
 * Only these names get poll plans: a job's own model string never does. */
const char *dispatch_plan_model(const struct conf_provider *p, const char *logical, int edit);

/* A job's deadline in seconds: its own deadline_s (0 = none given) or
 * worker.default_deadline_s, clamped to worker.max_deadline_s. */
int dispatch_deadline_s(const struct conf *c, int job_deadline_s);

/* A random source for backoff jitter (xorshift state). */
uint64_t *dispatch_rng(struct dispatch *d);

#endif
