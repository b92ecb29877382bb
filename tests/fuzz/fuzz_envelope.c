/* fuzz_envelope.c — the callback handoff envelope (queue/cbtopic.c):
 * cbtopic_envelope_decode() on arbitrary bytes; an accepted envelope's body
 * must be exactly body_len bytes (L-5), parse as a callback body, and
 * survive cbtopic_envelope_encode() → parse → cbtopic_envelope_encode() byte for byte. */
#include "providers/webhook.h"
#include "tests/fuzz/fuzz_prov_common.h"
#include "worker/callbacks.h"
#include "core/sy.h"

static void check_event(const struct cbtopic_event *ev)
{
    FUZZ_CHECK(strnlen(ev->provider, sizeof ev->provider) < sizeof ev->provider);
    FUZZ_CHECK(strnlen(ev->task_id, sizeof ev->task_id) < sizeof ev->task_id);
    FUZZ_CHECK(ev->job_id != NULL && ev->body != NULL);
    FUZZ_CHECK(strlen(ev->body) == ev->body_len);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *buf = fuzz_dup(data, size);
    struct cbtopic_event ev;
    if (cbtopic_envelope_decode(buf, size, &ev) != SY_OK) {
        free(buf);
        return 0;
    }
    check_event(&ev);

    struct prov_result res;
    prov_result_init(&res);
    webhook_parse(strcmp(ev.provider, "kie") == 0 ? CONF_PROV_KIE : CONF_PROV_REPLICATE, ev.body,
                  ev.body_len, &res);
    fuzz_check_prov_result(&res, 0);
    prov_result_cleanup(&res);

    size_t n1 = 0, n2 = 0;
    char *env1 = cbtopic_envelope_encode(&ev, &n1);
    FUZZ_CHECK(env1 != NULL && n1 == strlen(env1));
    char *copy = fuzz_dup((const uint8_t *)env1, n1);
    struct cbtopic_event ev2;
    FUZZ_CHECK(cbtopic_envelope_decode(copy, n1, &ev2) == SY_OK);
    check_event(&ev2);
    FUZZ_CHECK(strcmp(ev.provider, ev2.provider) == 0 && strcmp(ev.task_id, ev2.task_id) == 0);
    FUZZ_CHECK(strcmp(ev.job_id, ev2.job_id) == 0 && ev.partition == ev2.partition);
    /* the body crosses unchanged, unless the envelope would be over
     * CBTOPIC_MAX_ENVELOPE: then it is left out (the owner polls) */
    FUZZ_CHECK((ev.body_len == ev2.body_len && memcmp(ev.body, ev2.body, ev.body_len) == 0) ||
               ev2.body_len == 0);
    FUZZ_CHECK(n1 <= CBTOPIC_MAX_ENVELOPE);
    FUZZ_CHECK(strcmp(ev.wh_id, ev2.wh_id) == 0 && strcmp(ev.wh_ts, ev2.wh_ts) == 0 &&
               strcmp(ev.wh_sig, ev2.wh_sig) == 0);
    char *env2 = cbtopic_envelope_encode(&ev2, &n2);
    FUZZ_CHECK(env2 != NULL && n1 == n2 && memcmp(env1, env2, n1) == 0);

    free(env2);
    free(copy);
    free(env1);
    cbtopic_event_cleanup(&ev2);
    cbtopic_event_cleanup(&ev);
    free(buf);
    return 0;
}
