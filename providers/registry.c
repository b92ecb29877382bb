/* registry.c — the list of providers (after Redis connTypeRegister and
 * nginx's ngx_modules[]): one line per provider.
 *
 * It also answers conf/'s one question about provider types
 * (conf_ptype_at, declared in conf/config.h), so the loader reads each
 * descriptor's defaults without including providers/.
 * Order matters once: a type's id (enum conf_provider_type) is its
 * position + 1. */
#include "registry.h"

#include <string.h>

extern const struct prov_desc kie_desc;
extern const struct prov_desc replicate_desc;

static const struct prov_desc *const registry[] = {
    &kie_desc,       /* CONF_PROV_KIE */
    &replicate_desc, /* CONF_PROV_REPLICATE */
    NULL,
};

const struct prov_desc *prov_at(size_t i)
{
    return i < sizeof registry / sizeof registry[0] ? registry[i] : NULL;
}

const struct prov_desc *prov_find(const char *type)
{
    for (size_t i = 0; type && registry[i]; i++) {
        if (strcmp(registry[i]->type, type) == 0)
            return registry[i];
    }
    return NULL;
}

const struct prov_ops *prov_lookup(enum conf_provider_type type)
{
    const struct prov_desc *d = type >= 1 ? prov_at((size_t)type - 1) : NULL;
    return d ? d->ops : NULL;
}

const struct conf_ptype *conf_ptype_at(size_t i)
{
    const struct prov_desc *d = prov_at(i);
    return d ? d->conf : NULL;
}
