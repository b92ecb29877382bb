/* dispatch.c — provider order and failure meaning (pure). */
#include "dispatch.h"

#include <string.h>

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

enum dispatch_action dispatch_on_failure(enum prov_kind kind)
{
    return kind == PROV_K_RATE_LIMITED ? DISPATCH_RETRY_SAME : DISPATCH_NEXT;
}

const char *dispatch_error_class(enum prov_kind kind)
{
    switch (kind) {
    case PROV_K_AUTH:
        return "provider_auth";
    case PROV_K_NO_CREDIT:
        return "no_credit";
    case PROV_K_INVALID_INPUT:
        return "rejected";
    case PROV_K_TASK_FAILED:
        return "task_failed";
    default:
        return "exhausted";
    }
}

long dispatch_rate_limit_delay_ms(enum conf_provider_type type, long retry_after_ms)
{
    if (retry_after_ms > 0)
        return retry_after_ms;
    return type == CONF_PROV_KIE ? 10000 : 2000;
}
