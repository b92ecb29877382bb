/* test_webhook.c — callback signature checks and callback body parsing.
 *
 * Test vectors were computed independently of this code with python3:
 *   base64.b64encode(hmac.new(KEY, MSG, hashlib.sha256).digest())
 * - KIE: KEY = b"kie-test-hmac-key", MSG = b"task_google_1765178608584.1786428635"
 * - Replicate: KEY = b"replicate-test-key-0123456789abc" (the secret below is
 *   "whsec_" + its base64), MSG = b"msg_2abc.1786428635." + REP_BODY
 * - Standard Webhooks' published example (secret
 *   whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw), re-checked with the same code. */
#include <stdio.h>
#include <string.h>

#include <criterion/criterion.h>

#include "providers/provider.h"
#include "providers/webhook.h"
#include "core/sy.h"

#define KIE_KEY "kie-test-hmac-key"
#define KIE_TASK "task_google_1765178608584"
#define TS "1786428635"
#define NOW 1786428635
#define KIE_SIG "/JPVPIpyi4wOiDqWeYsu3GgLJWO2YkqNCXxG1ZSgSFk="

#define REP_SECRET "whsec_cmVwbGljYXRlLXRlc3Qta2V5LTAxMjM0NTY3ODlhYmM="
#define REP_BODY                                                                                   \
    "{\"id\":\"gm3qorzdhgbfurvjtvhg6dckhu\",\"status\":\"succeeded\",\"output\":\"https://replicate.delivery/x.png\",\"error\":null}"
#define REP_SIG "5uUPP596bi0I9VN3VvqMyXTHvHKW2nJXWOvjJ65Ji74="
/* The same body signed at TS + 1 (a valid signature for another timestamp). */
#define REP_SIG_TS1 "A7d1Qg3BehDWHRMUxSYq9GQxue5t3kcjSAjaCbv+sok="

Test(webhook, kie_valid)
{
    cr_assert_eq(webhook_kie_verify(KIE_KEY, KIE_TASK, TS, KIE_SIG, NOW, 300), WEBHOOK_OK);
    /* Inside the tolerance either way. */
    cr_assert_eq(webhook_kie_verify(KIE_KEY, KIE_TASK, TS, KIE_SIG, NOW + 300, 300), WEBHOOK_OK);
    cr_assert_eq(webhook_kie_verify(KIE_KEY, KIE_TASK, TS, KIE_SIG, NOW - 300, 300), WEBHOOK_OK);
}

Test(webhook, kie_forged)
{
    cr_assert_eq(webhook_kie_verify("another-key", KIE_TASK, TS, KIE_SIG, NOW, 300),
                 WEBHOOK_BAD_SIG);
    cr_assert_eq(webhook_kie_verify(KIE_KEY, "task_google_1765178608585", TS, KIE_SIG, NOW, 300),
                 WEBHOOK_BAD_SIG);
    /* The signature covers the timestamp. */
    cr_assert_eq(webhook_kie_verify(KIE_KEY, KIE_TASK, "1786428636", KIE_SIG, NOW, 300),
                 WEBHOOK_BAD_SIG);
    cr_assert_eq(webhook_kie_verify(KIE_KEY, KIE_TASK, TS,
                                    "/JPVPIpyi4wOiDqWeYsu3GgLJWO2YkqNCXxG1ZSgSFk", NOW, 300),
                 WEBHOOK_BAD_SIG, "truncated");
    cr_assert_eq(webhook_kie_verify(KIE_KEY, KIE_TASK, TS,
                                    "/JPVPIpyi4wOiDqWeYsu3GgLJWO2YkqNCXxG1ZSgSFk=x", NOW, 300),
                 WEBHOOK_BAD_SIG, "trailing byte");
    cr_assert_eq(webhook_kie_verify(KIE_KEY, NULL, TS, KIE_SIG, NOW, 300), WEBHOOK_BAD_SIG);
}

Test(webhook, kie_stale_and_missing)
{
    cr_assert_eq(webhook_kie_verify(KIE_KEY, KIE_TASK, TS, KIE_SIG, NOW + 301, 300), WEBHOOK_STALE);
    cr_assert_eq(webhook_kie_verify(KIE_KEY, KIE_TASK, TS, KIE_SIG, NOW - 301, 300), WEBHOOK_STALE);
    cr_assert_eq(webhook_kie_verify(KIE_KEY, KIE_TASK, "1786428635ms", KIE_SIG, NOW, 300),
                 WEBHOOK_STALE);
    cr_assert_eq(webhook_kie_verify(KIE_KEY, KIE_TASK, "-5", KIE_SIG, NOW, 300), WEBHOOK_STALE);
    cr_assert_eq(webhook_kie_verify(KIE_KEY, KIE_TASK, NULL, KIE_SIG, NOW, 300), WEBHOOK_MISSING);
    cr_assert_eq(webhook_kie_verify(KIE_KEY, KIE_TASK, TS, NULL, NOW, 300), WEBHOOK_MISSING);
    cr_assert_eq(webhook_kie_verify(KIE_KEY, KIE_TASK, TS, "", NOW, 300), WEBHOOK_MISSING);
}

static struct webhook_key rep_key(void)
{
    struct webhook_key k;
    cr_assert_eq(webhook_key_init(&k, REP_SECRET), SY_OK);
    cr_assert_eq(k.len, 32);
    cr_assert_eq(memcmp(k.data, "replicate-test-key-0123456789abc", 32), 0);
    return k;
}

static enum webhook_verdict rep_verify(const struct webhook_key *k, const char *id, const char *ts,
                                       const char *sig, const char *body, int64_t now)
{
    return webhook_replicate_verify(k, id, ts, sig, body, body ? strlen(body) : 0, now, 300);
}

Test(webhook, replicate_valid)
{
    struct webhook_key k = rep_key();
    cr_assert_eq(rep_verify(&k, "msg_2abc", TS, "v1," REP_SIG, REP_BODY, NOW), WEBHOOK_OK);
    webhook_key_cleanup(&k);
    cr_assert_null(k.data);
}

Test(webhook, replicate_multi_signature)
{
    struct webhook_key k = rep_key();
    /* Key rotation: several entries, any match passes; other versions are skipped. */
    cr_assert_eq(rep_verify(&k, "msg_2abc", TS, "v1," REP_SIG_TS1 " v1," REP_SIG, REP_BODY, NOW),
                 WEBHOOK_OK);
    cr_assert_eq(rep_verify(&k, "msg_2abc", TS, "v2,xyz  v1," REP_SIG, REP_BODY, NOW), WEBHOOK_OK);
    cr_assert_eq(rep_verify(&k, "msg_2abc", TS, "v1," REP_SIG_TS1 " v1,AAAA", REP_BODY, NOW),
                 WEBHOOK_BAD_SIG);
    webhook_key_cleanup(&k);
}

Test(webhook, replicate_forged)
{
    struct webhook_key k = rep_key();
    cr_assert_eq(rep_verify(&k, "msg_2abd", TS, "v1," REP_SIG, REP_BODY, NOW), WEBHOOK_BAD_SIG,
                 "other id");
    cr_assert_eq(rep_verify(&k, "msg_2abc", TS, "v1," REP_SIG_TS1, REP_BODY, NOW), WEBHOOK_BAD_SIG,
                 "other ts");
    const char *tampered =
            "{\"id\":\"gm3qorzdhgbfurvjtvhg6dckhu\",\"status\":\"succeeded\",\"output\":\"https://evil.example/x.png\",\"error\":null}";
    cr_assert_eq(rep_verify(&k, "msg_2abc", TS, "v1," REP_SIG, tampered, NOW), WEBHOOK_BAD_SIG,
                 "body changed");
    struct webhook_key other;
    cr_assert_eq(webhook_key_init(&other, "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"), SY_OK);
    cr_assert_eq(rep_verify(&other, "msg_2abc", TS, "v1," REP_SIG, REP_BODY, NOW), WEBHOOK_BAD_SIG,
                 "other key");
    webhook_key_cleanup(&other);
    webhook_key_cleanup(&k);
}

Test(webhook, replicate_malformed_headers)
{
    struct webhook_key k = rep_key();
    cr_assert_eq(rep_verify(&k, "msg_2abc", TS, REP_SIG, REP_BODY, NOW), WEBHOOK_BAD_SIG,
                 "no v1, prefix");
    cr_assert_eq(rep_verify(&k, "msg_2abc", TS, "v1,", REP_BODY, NOW), WEBHOOK_BAD_SIG);
    cr_assert_eq(rep_verify(&k, "msg_2abc", TS, "   ", REP_BODY, NOW), WEBHOOK_BAD_SIG);
    cr_assert_eq(rep_verify(&k, "msg_2abc", TS, "v1;" REP_SIG, REP_BODY, NOW), WEBHOOK_BAD_SIG);
    cr_assert_eq(rep_verify(&k, NULL, TS, "v1," REP_SIG, REP_BODY, NOW), WEBHOOK_MISSING);
    cr_assert_eq(rep_verify(&k, "msg_2abc", NULL, "v1," REP_SIG, REP_BODY, NOW), WEBHOOK_MISSING);
    cr_assert_eq(rep_verify(&k, "msg_2abc", TS, NULL, REP_BODY, NOW), WEBHOOK_MISSING);
    cr_assert_eq(rep_verify(&k, "msg_2abc", "soon", "v1," REP_SIG, REP_BODY, NOW), WEBHOOK_STALE);
    webhook_key_cleanup(&k);
}

Test(webhook, replicate_stale)
{
    struct webhook_key k = rep_key();
    cr_assert_eq(rep_verify(&k, "msg_2abc", TS, "v1," REP_SIG, REP_BODY, NOW + 301), WEBHOOK_STALE);
    cr_assert_eq(rep_verify(&k, "msg_2abc", TS, "v1," REP_SIG, REP_BODY, NOW - 301), WEBHOOK_STALE);
    webhook_key_cleanup(&k);
}

Test(webhook, standard_webhooks_vector)
{
    struct webhook_key k;
    cr_assert_eq(webhook_key_init(&k, "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"), SY_OK);
    const char *body = "{\"test\": 2432232314}";
    cr_assert_eq(webhook_replicate_verify(&k, "msg_p5jXN8AQM9LWM0D4loKWxJek", "1614265330",
                                          "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=", body,
                                          strlen(body), 1614265330, 300),
                 WEBHOOK_OK);
    webhook_key_cleanup(&k);
}

Test(webhook, bad_secrets)
{
    struct webhook_key k;
    cr_assert_eq(webhook_key_init(&k, "cmVwbGljYXRl"), SY_ERR, "no whsec_ prefix");
    cr_assert_eq(webhook_key_init(&k, "whsec_"), SY_ERR);
    cr_assert_eq(webhook_key_init(&k, "whsec_@@@@"), SY_ERR);
    cr_assert_eq(webhook_key_init(&k, NULL), SY_ERR);
    cr_assert_null(k.data);
}

/* The same body twice verifies twice: dedupe is the receiver's job, and the
 * peeked id/state is what it dedupes on. */
Test(webhook, duplicate_delivery_same_identity)
{
    struct webhook_key k = rep_key();
    for (int i = 0; i < 2; i++)
        cr_assert_eq(rep_verify(&k, "msg_2abc", TS, "v1," REP_SIG, REP_BODY, NOW), WEBHOOK_OK);
    struct webhook_event a, b;
    cr_assert_eq(webhook_peek(CONF_PROV_REPLICATE, REP_BODY, strlen(REP_BODY), &a), SY_OK);
    cr_assert_eq(webhook_peek(CONF_PROV_REPLICATE, REP_BODY, strlen(REP_BODY), &b), SY_OK);
    cr_assert_str_eq(a.task_id, "gm3qorzdhgbfurvjtvhg6dckhu");
    cr_assert_str_eq(a.state, "succeeded");
    cr_assert_str_eq(a.task_id, b.task_id);
    webhook_key_cleanup(&k);
}

Test(webhook, sign_matches_vector)
{
    char out[64];
    cr_assert_eq(webhook_sign(KIE_KEY, strlen(KIE_KEY), KIE_TASK "." TS, strlen(KIE_TASK "." TS),
                              out, sizeof out),
                 SY_OK);
    cr_assert_str_eq(out, KIE_SIG);
    cr_assert_eq(webhook_sign(KIE_KEY, strlen(KIE_KEY), "x", 1, out, 20), SY_ERR,
                 "buffer too small");
}

/* ---- bodies ---- */

static const char kie_ok[] =
        "{\"code\":200,\"msg\":\"Playground task completed successfully.\",\"data\":{\"taskId\":\"t1\","
        "\"model\":\"google/nano-banana\",\"state\":\"success\",\"param\":\"{}\","
        "\"resultJson\":\"{\\\"resultUrls\\\":[\\\"https://tempfile.aiquickdraw.com/a.png\\\"]}\","
        "\"costTime\":11,\"completeTime\":1786428635000,\"createTime\":1786428622000,\"creditsConsumed\":3}}";
static const char kie_fail[] =
        "{\"code\":501,\"msg\":\"Playground task failed.\",\"data\":{\"taskId\":\"t2\",\"model\":\"google/nano-banana\","
        "\"state\":\"fail\",\"failCode\":\"500\",\"failMsg\":\"Internal server error\",\"resultJson\":null,"
        "\"completeTime\":1786428635000}}";

Test(webhook, parse_kie_success)
{
    struct prov_result r;
    prov_result_init(&r);
    webhook_parse(CONF_PROV_KIE, kie_ok, strlen(kie_ok), &r);
    cr_assert_eq(r.outcome, PROV_SUCCEEDED);
    cr_assert_eq(r.n_urls, 1);
    cr_assert_str_eq(r.urls[0], "https://tempfile.aiquickdraw.com/a.png");
    cr_assert_str_eq(r.task_id, "t1");
    prov_result_cleanup(&r);
    struct webhook_event ev;
    cr_assert_eq(webhook_peek(CONF_PROV_KIE, kie_ok, strlen(kie_ok), &ev), SY_OK);
    cr_assert_str_eq(ev.task_id, "t1");
    cr_assert_str_eq(ev.state, "success");
}

Test(webhook, parse_kie_failure_is_a_task_failure)
{
    struct prov_result r;
    prov_result_init(&r);
    webhook_parse(CONF_PROV_KIE, kie_fail, strlen(kie_fail), &r);
    cr_assert_eq(r.outcome, PROV_FAILED);
    cr_assert_eq(r.cls, PROV_C_TASK_FAILED,
                 "code 501 + state fail is the task failing, not an error reply");
    cr_assert_str_eq(r.code, "500");
    cr_assert_str_eq(r.message, "Internal server error");
    prov_result_cleanup(&r);
}

Test(webhook, parse_replicate)
{
    struct prov_result r;
    prov_result_init(&r);
    webhook_parse(CONF_PROV_REPLICATE, REP_BODY, strlen(REP_BODY), &r);
    cr_assert_eq(r.outcome, PROV_SUCCEEDED);
    cr_assert_str_eq(r.urls[0], "https://replicate.delivery/x.png");
    prov_result_cleanup(&r);
    const char *failed =
            "{\"id\":\"p2\",\"status\":\"failed\",\"output\":null,\"error\":\"E1001: out of memory\"}";
    webhook_parse(CONF_PROV_REPLICATE, failed, strlen(failed), &r);
    cr_assert_eq(r.outcome, PROV_FAILED);
    cr_assert_eq(r.cls, PROV_C_TASK_FAILED);
    prov_result_cleanup(&r);
    const char *running =
            "{\"id\":\"p3\",\"status\":\"processing\",\"output\":null,\"error\":null}";
    webhook_parse(CONF_PROV_REPLICATE, running, strlen(running), &r);
    cr_assert_eq(r.outcome, PROV_PENDING);
    prov_result_cleanup(&r);
}

Test(webhook, parse_garbage)
{
    struct prov_result r;
    struct webhook_event ev;
    const char *bodies[] = {
        "", "{", "[]", "{\"code\":200}", "{\"data\":[1]}", "{\"data\":{\"state\":\"success\"}}"
    };
    for (size_t i = 0; i < sizeof bodies / sizeof bodies[0]; i++) {
        prov_result_init(&r);
        webhook_parse(CONF_PROV_KIE, bodies[i], strlen(bodies[i]), &r);
        cr_assert_eq(r.outcome, PROV_FAILED, "body %zu", i);
        prov_result_cleanup(&r);
        cr_assert_eq(webhook_peek(CONF_PROV_KIE, bodies[i], strlen(bodies[i]), &ev), SY_ERR,
                     "body %zu", i);
        cr_assert_eq(webhook_peek(CONF_PROV_REPLICATE, bodies[i], strlen(bodies[i]), &ev), SY_ERR,
                     "body %zu", i);
    }
}
