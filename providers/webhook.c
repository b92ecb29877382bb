/* webhook.c — callback signatures and bodies, as pure functions.
 *
 * HMAC-SHA256 and base64 come from GnuTLS (gnutls_hmac_fast,
 * gnutls_base64_encode2/decode2: plain RFC 4648 base64). Every comparison of
 * a computed signature with a received one goes through gnutls_memcmp
 * (constant time in the length compared); lengths are not secret.
 *
 * Reading a body is the provider's business: webhook_peek / webhook_parse
 * hand it to the hooks in its descriptor (kie.c, replicate.c). */
#include "webhook.h"

#include "prov_util.h"
#include "registry.h"

#include <errno.h>
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <gnutls/crypto.h>
#include <gnutls/gnutls.h>

#include "core/sy.h"

#define WH_SHA256_LEN 32
#define WH_B64_LEN 44 /* base64 of 32 bytes */

int webhook_sign(const void *key, size_t klen, const void *msg, size_t mlen, char *out, size_t cap)
{
    unsigned char mac[WH_SHA256_LEN];
    if (cap < WH_B64_LEN + 1 || gnutls_hmac_fast(GNUTLS_MAC_SHA256, key, klen, msg, mlen, mac) < 0)
        return SY_ERR;
    gnutls_datum_t in = { mac, sizeof mac }, b64 = { NULL, 0 };
    int rc = gnutls_base64_encode2(&in, &b64);
    explicit_bzero(mac, sizeof mac);
    if (rc < 0 || b64.size >= cap) {
        gnutls_free(b64.data);
        return SY_ERR;
    }
    memcpy(out, b64.data, b64.size);
    out[b64.size] = '\0';
    gnutls_free(b64.data);
    return SY_OK;
}

int webhook_key_init(struct webhook_key *k, const char *secret)
{
    memset(k, 0, sizeof *k);
    if (!secret || strncmp(secret, "whsec_", 6) != 0 || secret[6] == '\0')
        return SY_ERR;
    gnutls_datum_t in = { (unsigned char *)(secret + 6), (unsigned)strlen(secret + 6) },
                   raw = { NULL, 0 };
    if (gnutls_base64_decode2(&in, &raw) < 0 || raw.size == 0) {
        gnutls_free(raw.data);
        return SY_ERR;
    }
    k->data = malloc(raw.size);
    if (k->data) {
        memcpy(k->data, raw.data, raw.size);
        k->len = raw.size;
    }
    explicit_bzero(raw.data, raw.size);
    gnutls_free(raw.data);
    return k->data ? SY_OK : SY_ERR;
}

void webhook_key_cleanup(struct webhook_key *k)
{
    if (k->data) {
        explicit_bzero(k->data, k->len);
        free(k->data);
    }
    memset(k, 0, sizeof *k);
}

enum webhook_verdict webhook_check_time(const char *ts_hdr, int64_t now_s, int tolerance_s)
{
    if (!ts_hdr)
        return WEBHOOK_OK;
    if (ts_hdr[0] < '0' || ts_hdr[0] > '9')
        return WEBHOOK_STALE;
    char *end;
    errno = 0;
    long long ts = strtoll(ts_hdr, &end, 10);
    if (errno != 0 || *end != '\0')
        return WEBHOOK_STALE;
    long long d = ts - (long long)now_s;
    return d > tolerance_s || d < -(long long)tolerance_s ? WEBHOOK_STALE : WEBHOOK_OK;
}

/* 1 when the received base64 signature (len bytes) equals want. */
static int sig_equal(const char *got, size_t len, const char *want)
{
    return len == strlen(want) && gnutls_memcmp(got, want, len) == 0;
}

enum webhook_verdict webhook_kie_verify(const char *key, const char *task_id, const char *ts_hdr,
                                        const char *sig_hdr, int64_t now_s, int tolerance_s)
{
    if (!ts_hdr || !*ts_hdr || !sig_hdr || !*sig_hdr)
        return WEBHOOK_MISSING;
    enum webhook_verdict v = webhook_check_time(ts_hdr, now_s, tolerance_s);
    if (v != WEBHOOK_OK)
        return v;
    if (!task_id || !*task_id)
        return WEBHOOK_BAD_SIG;
    char *msg = NULL, want[WH_B64_LEN + 4];
    int n = asprintf(&msg, "%s.%s", task_id, ts_hdr);
    if (n < 0)
        return WEBHOOK_BAD_SIG;
    int ok = webhook_sign(key, strlen(key), msg, (size_t)n, want, sizeof want) == SY_OK &&
             sig_equal(sig_hdr, strlen(sig_hdr), want);
    free(msg);
    return ok ? WEBHOOK_OK : WEBHOOK_BAD_SIG;
}

enum webhook_verdict webhook_replicate_verify(const struct webhook_key *k, const char *id_hdr,
                                              const char *ts_hdr, const char *sig_hdr,
                                              const char *body, size_t body_len, int64_t now_s,
                                              int tolerance_s)
{
    if (!id_hdr || !*id_hdr || !ts_hdr || !*ts_hdr || !sig_hdr || !*sig_hdr)
        return WEBHOOK_MISSING;
    enum webhook_verdict v = webhook_check_time(ts_hdr, now_s, tolerance_s);
    if (v != WEBHOOK_OK)
        return v;
    size_t il = strlen(id_hdr), tl = strlen(ts_hdr);
    char *msg = malloc(il + tl + body_len + 3);
    if (!msg)
        return WEBHOOK_BAD_SIG;
    memcpy(msg, id_hdr, il);
    msg[il] = '.';
    memcpy(msg + il + 1, ts_hdr, tl);
    msg[il + 1 + tl] = '.';
    if (body_len)
        memcpy(msg + il + tl + 2, body, body_len);
    char want[WH_B64_LEN + 4];
    int signed_ok =
            webhook_sign(k->data, k->len, msg, il + tl + 2 + body_len, want, sizeof want) == SY_OK;
    free(msg);
    if (!signed_ok)
        return WEBHOOK_BAD_SIG;
    /* "v1,<b64> v1,<b64> …": entries of other versions are skipped. */
    int match = 0;
    for (const char *p = sig_hdr; *p;) {
        while (*p == ' ')
            p++;
        size_t len = strcspn(p, " ");
        if (len > 3 && strncmp(p, "v1,", 3) == 0)
            match |= sig_equal(p + 3, len - 3, want);
        p += len;
    }
    return match ? WEBHOOK_OK : WEBHOOK_BAD_SIG;
}

int webhook_event_set(struct webhook_event *ev, const char *id, const char *state)
{
    memset(ev, 0, sizeof *ev);
    if (!id || !*id || strlen(id) >= sizeof ev->task_id)
        return SY_ERR;
    snprintf(ev->task_id, sizeof ev->task_id, "%s", id);
    snprintf(ev->state, sizeof ev->state, "%s", state ? state : "");
    return SY_OK;
}

/* Kept for tests, fuzzers and tools that name a type: the provider's own
 * hooks (struct prov_cb_desc in its descriptor) do the work. */
int webhook_peek(enum conf_provider_type type, const char *body, size_t len,
                 struct webhook_event *ev)
{
    const struct prov_desc *d = prov_at((size_t)type - 1);
    if (!d) {
        memset(ev, 0, sizeof *ev);
        return SY_ERR;
    }
    return d->cb.peek(body, len, ev);
}

void webhook_parse(enum conf_provider_type type, const char *body, size_t len,
                   struct prov_result *out)
{
    const struct prov_desc *d = prov_at((size_t)type - 1);
    if (!d) {
        prov_result_fail(out, PROV_C_INVALID_REPLY, PROV_K_UNAVAILABLE, "unknown provider type");
        return;
    }
    d->cb.parse(body, len, out);
}
