/* fuzz_webhook.c — callback bodies and signatures (providers/webhook.c).
 * Input: byte 0 picks the provider (even KIE, odd Replicate); the rest is
 * "id\nts\nsig\nbody". Runs peek, parse and both verifiers on the fuzzed
 * headers, then the sign/verify property: the fuzzed body (Replicate) or
 * task id (KIE) signed with the fixed key verifies, and no longer does after
 * one byte is changed. */
#include <inttypes.h>

#include "providers/webhook.h"
#include "tests/fuzz/fuzz_prov_common.h"
#include "core/sy.h"

#define KIE_KEY "kie-fuzz-hmac-key"
#define REP_SECRET "whsec_cmVwbGljYXRlLXRlc3Qta2V5LTAxMjM0NTY3ODlhYmM="
#define NOW 1786428635
#define TOL 300

static struct webhook_key rep_key;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc, (void)argv;
    FUZZ_CHECK(webhook_key_init(&rep_key, REP_SECRET) == SY_OK);
    return 0;
}

/* Next '\n'-terminated piece of *p as a C string (caller frees), or NULL
 * when there is no '\n' left (then *p is unchanged). */
static char *take_line(const uint8_t **p, size_t *n)
{
    const uint8_t *nl = memchr(*p, '\n', *n);
    if (!nl)
        return NULL;
    size_t l = (size_t)(nl - *p);
    char *s = fuzz_strndup(*p, l);
    *p += l + 1, *n -= l + 1;
    return s;
}

static int valid_verdict(enum webhook_verdict v)
{
    return v == WEBHOOK_OK || v == WEBHOOK_MISSING || v == WEBHOOK_BAD_SIG || v == WEBHOOK_STALE;
}

/* Replicate: sign id.ts.body with the key, check OK; change one body byte (or
 * the signature when the body is empty), check BAD_SIG. */
static void replicate_property(const char *id, char *body, size_t len)
{
    const char *use_id = id && *id ? id : "msg_fuzz";
    char ts[24], sig[64], hdr[80];
    snprintf(ts, sizeof ts, "%" PRId64, (int64_t)NOW);
    size_t il = strlen(use_id), tl = strlen(ts);
    char *msg = malloc(il + tl + len + 2);
    FUZZ_CHECK(msg != NULL);
    memcpy(msg, use_id, il);
    msg[il] = '.';
    memcpy(msg + il + 1, ts, tl);
    msg[il + 1 + tl] = '.';
    if (len)
        memcpy(msg + il + tl + 2, body, len);
    FUZZ_CHECK(webhook_sign(rep_key.data, rep_key.len, msg, il + tl + 2 + len, sig, sizeof sig) ==
               SY_OK);
    free(msg);
    snprintf(hdr, sizeof hdr, "v1,%s", sig);
    FUZZ_CHECK(webhook_replicate_verify(&rep_key, use_id, ts, hdr, body, len, NOW, TOL) ==
               WEBHOOK_OK);
    if (len) {
        body[len / 2] ^= 0x01;
        FUZZ_CHECK(webhook_replicate_verify(&rep_key, use_id, ts, hdr, body, len, NOW, TOL) ==
                   WEBHOOK_BAD_SIG);
        body[len / 2] ^= 0x01;
    }
    hdr[3] ^= 0x01;
    FUZZ_CHECK(webhook_replicate_verify(&rep_key, use_id, ts, hdr, body, len, NOW, TOL) ==
               WEBHOOK_BAD_SIG);
}

/* KIE: sign task_id.ts, check OK; change the signature, check BAD_SIG. */
static void kie_property(const char *task_id)
{
    char ts[24], sig[64];
    snprintf(ts, sizeof ts, "%" PRId64, (int64_t)NOW);
    char *msg = NULL;
    int n = asprintf(&msg, "%s.%s", task_id, ts);
    FUZZ_CHECK(n >= 0);
    FUZZ_CHECK(webhook_sign(KIE_KEY, strlen(KIE_KEY), msg, (size_t)n, sig, sizeof sig) == SY_OK);
    free(msg);
    FUZZ_CHECK(webhook_kie_verify(KIE_KEY, task_id, ts, sig, NOW, TOL) == WEBHOOK_OK);
    sig[0] ^= 0x01;
    FUZZ_CHECK(webhook_kie_verify(KIE_KEY, task_id, ts, sig, NOW, TOL) == WEBHOOK_BAD_SIG);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    enum conf_provider_type type = (data[0] & 1) ? CONF_PROV_REPLICATE : CONF_PROV_KIE;
    data++, size--;
    char *id = take_line(&data, &size);
    char *ts = id ? take_line(&data, &size) : NULL;
    char *sig = ts ? take_line(&data, &size) : NULL;
    char *body = fuzz_dup(data, size);

    struct webhook_event ev;
    memset(&ev, 0x5a, sizeof ev);
    int peek = webhook_peek(type, body, size, &ev);
    FUZZ_CHECK(peek == SY_OK || peek == SY_ERR);
    if (peek == SY_OK) {
        FUZZ_CHECK(strnlen(ev.task_id, sizeof ev.task_id) < sizeof ev.task_id &&
                   ev.task_id[0] != '\0');
        FUZZ_CHECK(strnlen(ev.state, sizeof ev.state) < sizeof ev.state);
    }

    struct prov_result res;
    prov_result_init(&res);
    webhook_parse(type, body, size, &res);
    fuzz_check_prov_result(&res, 0);
    prov_result_cleanup(&res);

    if (type == CONF_PROV_REPLICATE) {
        FUZZ_CHECK(valid_verdict(
                webhook_replicate_verify(&rep_key, id, ts, sig, body, size, NOW, TOL)));
        replicate_property(id, body, size);
    } else {
        const char *task = peek == SY_OK ? ev.task_id : id;
        FUZZ_CHECK(valid_verdict(webhook_kie_verify(KIE_KEY, task, ts, sig, NOW, TOL)));
        if (task && *task)
            kie_property(task);
    }
    FUZZ_CHECK(valid_verdict(webhook_check_time(ts, NOW, TOL)));
    free(id);
    free(ts);
    free(sig);
    free(body);
    return 0;
}
