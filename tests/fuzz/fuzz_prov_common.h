/* fuzz_prov_common.h — the provider-reply harness shared by the KIE and
 * Replicate targets. Input layout: byte 0 picks parse_create (even) or
 * parse_poll (odd); bytes 1-2 are the HTTP status (big-endian, mod 600);
 * then a Retry-After value up to the first '\n'; the rest is the body. */
#ifndef TESTS_FUZZ_PROV_COMMON_H
#define TESTS_FUZZ_PROV_COMMON_H

#include "providers/prov_util.h"
#include "tests/fuzz/fuzz.h"

static inline void fuzz_check_prov_result(const struct prov_result *r, int create)
{
    FUZZ_CHECK(fuzz_cstr_ok(r->message, sizeof r->message));
    FUZZ_CHECK(fuzz_cstr_ok(r->code, sizeof r->code));
    FUZZ_CHECK((r->outcome == PROV_SUCCEEDED) == (r->n_urls > 0));
    FUZZ_CHECK(r->n_urls == 0 || r->urls != NULL);
    for (size_t i = 0; i < r->n_urls; i++)
        FUZZ_CHECK(r->urls[i] != NULL);
    if (r->outcome == PROV_CREATED)
        FUZZ_CHECK(r->task_id != NULL && r->task_id[0] != '\0');
    if (!create)
        FUZZ_CHECK(r->outcome != PROV_CREATED);
    FUZZ_CHECK(r->duration_ms == -1 || (r->duration_ms >= 0 && r->duration_ms <= 86400000L));
    FUZZ_CHECK(r->retry_after_ms >= -1);
    if (r->outcome == PROV_FAILED)
        FUZZ_CHECK(r->cls != PROV_C_NONE);
}

static inline int fuzz_prov_reply(const struct prov_ops *ops, const uint8_t *data, size_t size)
{
    if (size < 3)
        return 0;
    int create = (data[0] & 1) == 0;
    long status = (long)(((unsigned)data[1] << 8 | data[2]) % 600);
    data += 3, size -= 3;
    const uint8_t *nl = memchr(data, '\n', size);
    size_t ral = nl ? (size_t)(nl - data) : 0;
    char *retry_after = nl ? fuzz_strndup(data, ral) : NULL;
    if (nl)
        data += ral + 1, size -= ral + 1;
    char *body = fuzz_dup(data, size);

    if (retry_after) {
        long ms = prov_parse_retry_after(retry_after);
        FUZZ_CHECK(ms >= -1);
    }
    struct prov_reply reply = {
        .http_status = status, .body = body, .body_len = size, .retry_after = retry_after
    };
    struct prov_result res;
    prov_result_init(&res);
    if (create)
        ops->parse_create(&reply, &res);
    else
        ops->parse_poll(&reply, &res);
    fuzz_check_prov_result(&res, create);
    prov_result_cleanup(&res);
    free(body);
    free(retry_after);
    return 0;
}

#endif
