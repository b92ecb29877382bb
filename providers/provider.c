/* provider.c — the lifetime of prov_request / prov_result and the outcome
 * names (the registry is registry.c; the implementer toolkit prov_util.c).
 *
 * Invariants: pure (no I/O, no clock, no globals); a result's owned pointers
 * are either NULL or heap memory freed by prov_result_cleanup(). */
#include "provider.h"

#include <stdlib.h>
#include <string.h>

void prov_request_cleanup(struct prov_request *r)
{
    if (!r)
        return;
    free(r->url);
    free(r->body);
    for (int i = 0; i < r->n_headers && i < PROV_MAX_HEADERS; i++)
        free(r->headers[i]);
    memset(r, 0, sizeof(*r));
}

void prov_result_init(struct prov_result *r)
{
    memset(r, 0, sizeof(*r));
    r->retry_after_ms = -1;
    r->duration_ms = -1;
}

void prov_result_cleanup(struct prov_result *r)
{
    if (!r)
        return;
    free(r->task_id);
    for (size_t i = 0; i < r->n_urls; i++)
        free(r->urls[i]);
    free(r->urls);
    prov_result_init(r);
}

const char *prov_class_name(enum prov_class c)
{
    switch (c) {
    case PROV_C_NONE:
        return "succeeded";
    case PROV_C_TRANSPORT:
        return "transport";
    case PROV_C_TIMEOUT:
        return "timeout";
    case PROV_C_HTTP:
        return "http_status";
    case PROV_C_PROVIDER:
        return "provider_code";
    case PROV_C_TASK_FAILED:
        return "task_failed";
    case PROV_C_INVALID_REPLY:
        return "invalid_reply";
    }
    return "unknown";
}
