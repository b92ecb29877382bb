/* lookup.c — lookups over a loaded config that every layer needs: a provider
 * by name, a provider's model by logical name, a template by name. */
#include "config.h"

#include <string.h>

const struct conf_provider *conf_provider_by_name(const struct conf *c, const char *name)
{
    for (size_t i = 0; i < c->n_providers; i++) {
        if (strcmp(c->providers[i].name, name) == 0)
            return &c->providers[i];
    }
    return NULL;
}

const struct conf_model *conf_provider_model(const struct conf_provider *p, const char *logical)
{
    for (size_t i = 0; i < p->n_models; i++) {
        if (strcmp(p->models[i].name, logical) == 0)
            return &p->models[i];
    }
    return NULL;
}

const struct conf_template *conf_template_by_name(const struct conf *c, const char *name)
{
    for (size_t i = 0; i < c->n_templates; i++) {
        if (strcmp(c->templates[i].name, name) == 0)
            return &c->templates[i];
    }
    return NULL;
}
