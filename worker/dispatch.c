/* dispatch.c — provider order (a pure function), and the
 * per-provider policy states (rate limiter, breaker, retry budget, poll plans) with the
 * reference-counted active config they are configured from. */
#include "dispatch.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/log.h"
#include "core/sy.h"

size_t dispatch_order(const struct conf *c, const char *const *names, size_t n_names, size_t *order,
                      size_t cap)
{
    size_t n = 0;
    if (n_names == 0) {
        for (size_t i = 0; i < c->n_providers && n < cap; i++)
            order[n++] = i;
        return n;
    }
    for (size_t k = 0; k < n_names && n < cap; k++) {
        for (size_t i = 0; i < c->n_providers; i++) {
            if (strcmp(c->providers[i].name, names[k]) == 0) {
                order[n++] = i;
                break;
            }
        }
    }
    return n;
}

/* ---- runtime state ---- */

struct dispatch {
    struct conf_ref *active;
    struct pstate **states;
    size_t n_states;
    double share;
    uint64_t rng;
};

static void configure(struct pstate *s, const struct conf_provider *p, double share, int64_t now_ms)
{
    ratelimit_configure(s->rl, &p->rate_limit, share, now_ms);
    breaker_configure(s->br, &p->breaker);
    budget_configure(s->bud, &p->retry);
    s->poll = p->poll;
    for (size_t i = 0; i < s->n_plans; i++)
        pollplan_configure(s->plans[i].pp, &p->poll);
}

static struct pstate *pstate_new(const struct conf_provider *p, double share, int64_t now_ms)
{
    struct pstate *s = calloc(1, sizeof *s);
    if (!s)
        return NULL;
    snprintf(s->name, sizeof s->name, "%s", p->name);
    s->rl = ratelimit_new(&p->rate_limit, now_ms);
    s->br = breaker_new(&p->breaker);
    s->bud = budget_new(&p->retry);
    if (!s->rl || !s->br || !s->bud) {
        ratelimit_free(s->rl);
        breaker_free(s->br);
        budget_free(s->bud);
        free(s);
        return NULL;
    }
    configure(s, p, share, now_ms);
    return s;
}

static struct pstate *find(struct dispatch *d, const char *name)
{
    for (size_t i = 0; i < d->n_states; i++) {
        if (strcmp(d->states[i]->name, name) == 0)
            return d->states[i];
    }
    return NULL;
}

/* Create or reconfigure the state of every provider of c. */
static int apply(struct dispatch *d, const struct conf *c, int64_t now_ms)
{
    for (size_t i = 0; i < c->n_providers; i++) {
        const struct conf_provider *p = &c->providers[i];
        struct pstate *s = find(d, p->name);
        if (s) {
            configure(s, p, d->share, now_ms);
            continue;
        }
        struct pstate **ns = realloc(d->states, (d->n_states + 1) * sizeof *ns);
        if (!ns)
            return SY_ERR;
        d->states = ns;
        s = pstate_new(p, d->share, now_ms);
        if (!s)
            return SY_ERR;
        d->states[d->n_states++] = s;
    }
    return SY_OK;
}

struct dispatch *dispatch_new(struct conf *c, int64_t now_ms)
{
    struct dispatch *d = calloc(1, sizeof *d);
    struct conf_ref *r = d ? conf_ref_new(c) : NULL;
    if (!r) {
        free(d);
        conf_free(c);
        return NULL;
    }
    d->active = r;
    d->share = 1.0;
    d->rng = (uint64_t)now_ms * 0x9E3779B97F4A7C15ull + 1;
    if (apply(d, c, now_ms) != SY_OK) {
        dispatch_free(d);
        return NULL;
    }
    return d;
}

void dispatch_free(struct dispatch *d)
{
    if (!d)
        return;
    for (size_t i = 0; i < d->n_states; i++) {
        ratelimit_free(d->states[i]->rl);
        breaker_free(d->states[i]->br);
        budget_free(d->states[i]->bud);
        for (size_t k = 0; k < d->states[i]->n_plans; k++)
            pollplan_free(d->states[i]->plans[k].pp);
        free(d->states[i]);
    }
    free(d->states);
    conf_ref_put(d->active);
    free(d);
}

struct conf_ref *dispatch_conf_get(struct dispatch *d)
{
    return conf_ref_get(d->active);
}

const struct conf *dispatch_conf(const struct dispatch *d)
{
    return d->active->c;
}

struct pstate *dispatch_pstate(struct dispatch *d, const char *name)
{
    return find(d, name);
}

int dispatch_reload(struct dispatch *d, struct conf *c, int64_t now_ms)
{
    struct conf_ref *r = conf_ref_new(c);
    if (!r || apply(d, c, now_ms) != SY_OK) {
        free(r);
        conf_free(c);
        return SY_ERR;
    }
    conf_ref_put(d->active);
    d->active = r;
    return SY_OK;
}

void dispatch_set_share(struct dispatch *d, double share, int64_t now_ms)
{
    d->share = share;
    const struct conf *c = d->active->c;
    for (size_t i = 0; i < c->n_providers; i++) {
        struct pstate *s = find(d, c->providers[i].name);
        if (s)
            ratelimit_configure(s->rl, &c->providers[i].rate_limit, share, now_ms);
    }
}

struct pollplan *dispatch_pollplan(struct pstate *ps, const char *model)
{
    if (strlen(model) >= sizeof ps->plans[0].model)
        return NULL; /* a cut copy would never match again: one plan per poll */
    for (size_t i = 0; i < ps->n_plans; i++) {
        if (strcmp(ps->plans[i].model, model) == 0)
            return ps->plans[i].pp;
    }
    if (ps->n_plans == DISPATCH_MAX_PLANS)
        return NULL;
    struct pstate_plan *pl = &ps->plans[ps->n_plans];
    pl->pp = pollplan_new(&ps->poll);
    if (!pl->pp)
        return NULL;
    snprintf(pl->model, sizeof pl->model, "%s", model);
    ps->n_plans++;
    return pl->pp;
}

const char *dispatch_plan_model(const struct conf_provider *p, const char *logical, int edit)
{
    const struct conf_model *m = logical ? conf_provider_model(p, logical) : NULL;
    if (!m)
        return NULL;
    return edit ? m->edit : m->generate;
}

int dispatch_deadline_s(const struct conf *c, int job_deadline_s)
{
    int d = job_deadline_s > 0 ? job_deadline_s : c->worker.default_deadline_s;
    return d < c->worker.max_deadline_s ? d : c->worker.max_deadline_s;
}

uint64_t *dispatch_rng(struct dispatch *d)
{
    return &d->rng;
}

int dispatch_reload_file(struct dispatch *d, const char *path)
{
    char err[1024];
    struct conf *c = conf_load(path, err, sizeof err);
    if (!c) {
        LOG_ERROR(NULL, "config reload refused, the running config stays: %s", err);
        return SY_ERR;
    }
    size_t n = c->n_providers;
    char first[64];
    snprintf(first, sizeof first, "%s", n ? c->providers[0].name : "");
    if (dispatch_reload(d, c, sy_now_ms()) != SY_OK) {
        LOG_ERROR(NULL, "config reload failed: out of memory; the running config stays");
        return SY_ERR;
    }
    LOG_INFO(NULL, "config reloaded from %s: %zu providers, first by priority: %s", path, n, first);
    return SY_OK;
}
