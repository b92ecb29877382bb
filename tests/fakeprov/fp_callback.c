/* fakeprov callback delivery: KIE callBackUrl POSTs (docs/providers.md §KIE callbacks)
 * and Replicate webhooks (docs/providers.md §Replicate webhooks).
 *
 * A create that carries a callback URL schedules one delivery at the task's
 * end (+ --callback-delay-ms). One delivery thread keeps a min-heap of due
 * deliveries (the same pattern as the suspend scheduler) and POSTs each with
 * one reused libcurl easy handle (5 s timeout), so no MHD thread ever waits
 * on a callback. The body is rendered at send time from the task table.
 * Signing: KIE with --kie-hmac-key (X-Webhook-Timestamp / X-Webhook-
 * Signature over taskId.timestamp); Replicate with --replicate-webhook-secret
 * (webhook-id = "msg_<id>", the same on every retry, webhook-timestamp,
 * webhook-signature "v1,<base64>" over id.timestamp.body). A failed
 * Replicate delivery (transport error or non-2xx) is retried with backoff
 * 1, 2, 4, … s for about 60 s; KIE's retry policy is undocumented, so a KIE
 * callback is sent once. --callback-dup sends each successful delivery a
 * second time; --callback-drop never sends. */
#include "fp_common.h"

#include <curl/curl.h>
#include <gnutls/crypto.h>
#include <gnutls/gnutls.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define CB_RETRY_WINDOW_US (60LL * 1000000)

struct fp_delivery {
    int64_t due_us, first_us;
    int provider, attempt;
    char task_id[48];
    char *url;
};

struct fp_cbq {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    struct fp_delivery **heap;
    size_t len, cap;
    int stop;
    pthread_t thread;
    unsigned char rep_key[256];
    size_t rep_key_len;
};

static void cb_push(struct fp_cbq *q, struct fp_delivery *d)
{
    FP_GROW(q->heap, q->len, q->cap, 256);
    size_t i = q->len++;
    q->heap[i] = d;
    while (i > 0 && q->heap[(i - 1) / 2]->due_us > q->heap[i]->due_us) {
        struct fp_delivery *t = q->heap[(i - 1) / 2];
        q->heap[(i - 1) / 2] = q->heap[i];
        q->heap[i] = t;
        i = (i - 1) / 2;
    }
}

static struct fp_delivery *cb_pop(struct fp_cbq *q)
{
    struct fp_delivery *top = q->heap[0];
    q->heap[0] = q->heap[--q->len];
    size_t i = 0;
    for (;;) {
        size_t l = 2 * i + 1, r = l + 1, m = i;
        if (l < q->len && q->heap[l]->due_us < q->heap[m]->due_us)
            m = l;
        if (r < q->len && q->heap[r]->due_us < q->heap[m]->due_us)
            m = r;
        if (m == i)
            break;
        struct fp_delivery *t = q->heap[m];
        q->heap[m] = q->heap[i];
        q->heap[i] = t;
        i = m;
    }
    return top;
}

/* The fake never talks to anything but this machine: a callback URL must be
 * http on a loopback address, else it is not sent. */
static int loopback_url(const char *url)
{
    static const char *const ok[] = { "http://127.", "http://localhost:", "http://localhost/",
                                      "http://[::1]" };
    for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++)
        if (strncmp(url, ok[i], strlen(ok[i])) == 0)
            return 1;
    return 0;
}

void fp_cb_schedule(struct fp_server *srv, int prov, const char *task_id, const char *url,
                    int64_t due_us)
{
    struct fp_cbq *q = srv->cbq;
    if (!q || !url || !*url || srv->cb_drop)
        return;
    if (!loopback_url(url)) {
        atomic_fetch_add(&srv->callbacks_failed, 1);
        return;
    }
    struct fp_delivery *d = calloc(1, sizeof *d);
    if (!d || !(d->url = strdup(url)))
        abort();
    d->provider = prov;
    d->due_us = due_us + srv->cb_delay_ms * 1000;
    snprintf(d->task_id, sizeof d->task_id, "%s", task_id);
    pthread_mutex_lock(&q->mu);
    cb_push(q, d);
    if (q->heap[0] == d)
        pthread_cond_signal(&q->cv);
    pthread_mutex_unlock(&q->mu);
}

/* base64(HMAC-SHA256(key, msg)) into out (cap >= 64); "" on failure. */
static void sign(const void *key, size_t klen, const char *msg, size_t mlen, char *out)
{
    unsigned char mac[32];
    out[0] = 0;
    if (gnutls_hmac_fast(GNUTLS_MAC_SHA256, key, klen, msg, mlen, mac) < 0)
        return;
    gnutls_datum_t in = { mac, sizeof mac }, b64 = { NULL, 0 };
    if (gnutls_base64_encode2(&in, &b64) == 0 && b64.size < 64) {
        memcpy(out, b64.data, b64.size);
        out[b64.size] = 0;
    }
    gnutls_free(b64.data);
}

static void mark_delivered(struct fp_task *t, void *arg)
{
    if (t->cb_delivered_us == 0)
        t->cb_delivered_us = *(int64_t *)arg;
}

static size_t discard(char *p, size_t s, size_t n, void *ud)
{
    (void)p;
    (void)ud;
    return s * n;
}

/* POST d once: 1 on a 2xx reply. */
static int post(struct fp_server *srv, CURL *c, const struct fp_delivery *d,
                const struct fp_buf *body)
{
    struct curl_slist *h = curl_slist_append(NULL, "Content-Type: application/json");
    char line[256], sig[64];
    long long ts = (long long)(fp_now_us() / 1000000);
    if (d->provider == FP_KIE && srv->kie_hmac_key[0]) {
        char msg[128];
        int n = snprintf(msg, sizeof msg, "%s.%lld", d->task_id, ts);
        sign(srv->kie_hmac_key, strlen(srv->kie_hmac_key), msg, (size_t)n, sig);
        snprintf(line, sizeof line, "X-Webhook-Timestamp: %lld", ts);
        h = curl_slist_append(h, line);
        snprintf(line, sizeof line, "X-Webhook-Signature: %s", sig);
        h = curl_slist_append(h, line);
    } else if (d->provider == FP_REPLICATE && srv->cbq->rep_key_len) {
        struct fp_buf m = { 0 };
        fp_buf_fmt(&m, "msg_%s.%lld.", d->task_id, ts);
        fp_buf_add(&m, body->p, body->len);
        sign(srv->cbq->rep_key, srv->cbq->rep_key_len, m.p, m.len, sig);
        free(m.p);
        snprintf(line, sizeof line, "webhook-id: msg_%s", d->task_id);
        h = curl_slist_append(h, line);
        snprintf(line, sizeof line, "webhook-timestamp: %lld", ts);
        h = curl_slist_append(h, line);
        snprintf(line, sizeof line, "webhook-signature: v1,%s", sig);
        h = curl_slist_append(h, line);
    }
    curl_easy_setopt(c, CURLOPT_URL, d->url);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
    curl_easy_setopt(c, CURLOPT_POSTFIELDS, body->p);
    curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE, (long)body->len);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, discard);
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, 5000L);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 0L); /* Replicate does not follow redirects */
    long status = 0;
    if (curl_easy_perform(c) == CURLE_OK)
        curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
    curl_slist_free_all(h);
    if (srv->verbose)
        fprintf(stderr, "fakeprov: callback %s -> %ld\n", d->url, status);
    return status >= 200 && status < 300;
}

/* Send d; returns 1 when d was re-queued for a retry (else the caller frees it). */
static int deliver(struct fp_server *srv, CURL *c, struct fp_delivery *d)
{
    struct fp_buf body = { 0 };
    int found = d->provider == FP_KIE ? fp_kie_callback_body(srv, d->task_id, &body)
                                      : fp_rep_callback_body(srv, d->task_id, &body);
    if (found != 0) {
        free(body.p);
        return 0; /* expired from the table */
    }
    int ok = post(srv, c, d, &body);
    if (ok) {
        atomic_fetch_add(&srv->callbacks_sent, 1);
        int64_t now = fp_now_us();
        fp_tasks_with(srv, d->task_id, mark_delivered, &now);
        fp_task_seen_id(srv, d->task_id,
                        now); /* a delivered callback reports the task terminal (/_detect) */
        if (srv->cb_dup && post(srv, c, d, &body))
            atomic_fetch_add(&srv->callbacks_sent, 1);
    } else {
        atomic_fetch_add(&srv->callbacks_failed, 1);
    }
    free(body.p);
    if (ok || d->provider != FP_REPLICATE)
        return 0;
    if (d->attempt == 0)
        d->first_us = fp_now_us();
    int64_t backoff = 1000000LL << (d->attempt < 6 ? d->attempt : 6);
    d->attempt++;
    d->due_us = fp_now_us() + backoff;
    if (d->due_us - d->first_us > CB_RETRY_WINDOW_US)
        return 0;
    atomic_fetch_add(&srv->callbacks_retried, 1);
    pthread_mutex_lock(&srv->cbq->mu);
    cb_push(srv->cbq, d);
    pthread_mutex_unlock(&srv->cbq->mu);
    return 1;
}

static void *cb_main(void *arg)
{
    struct fp_server *srv = arg;
    struct fp_cbq *q = srv->cbq;
    CURL *c = curl_easy_init();
    pthread_mutex_lock(&q->mu);
    while (!q->stop) {
        if (q->len == 0) {
            pthread_cond_wait(&q->cv, &q->mu);
            continue;
        }
        int64_t now = fp_now_us();
        if (q->heap[0]->due_us <= now) {
            struct fp_delivery *d = cb_pop(q);
            pthread_mutex_unlock(&q->mu);
            if (!c || !deliver(srv, c, d)) {
                free(d->url);
                free(d);
            }
            pthread_mutex_lock(&q->mu);
            continue;
        }
        struct timespec ts = fp_mono_after(q->heap[0]->due_us - now);
        pthread_cond_timedwait(&q->cv, &q->mu, &ts);
    }
    pthread_mutex_unlock(&q->mu);
    if (c)
        curl_easy_cleanup(c);
    return NULL;
}

int fp_cb_start(struct fp_server *srv)
{
    struct fp_cbq *q = calloc(1, sizeof *q);
    if (!q)
        return -1;
    if (srv->rep_whsec[0]) {
        gnutls_datum_t in = { (unsigned char *)srv->rep_whsec + 6,
                              (unsigned)strlen(srv->rep_whsec + 6) };
        gnutls_datum_t raw = { NULL, 0 };
        if (strncmp(srv->rep_whsec, "whsec_", 6) != 0 || gnutls_base64_decode2(&in, &raw) != 0 ||
            raw.size == 0 || raw.size > sizeof q->rep_key) {
            gnutls_free(raw.data);
            free(q);
            fprintf(stderr, "fakeprov: --replicate-webhook-secret wants whsec_<base64>\n");
            return -1;
        }
        memcpy(q->rep_key, raw.data, raw.size);
        q->rep_key_len = raw.size;
        gnutls_free(raw.data);
    }
    pthread_mutex_init(&q->mu, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&q->cv, &ca);
    pthread_condattr_destroy(&ca);
    srv->cbq = q;
    if (pthread_create(&q->thread, NULL, cb_main, srv) != 0) {
        srv->cbq = NULL;
        free(q);
        return -1;
    }
    return 0;
}

void fp_cb_stop(struct fp_server *srv)
{
    struct fp_cbq *q = srv->cbq;
    if (!q)
        return;
    pthread_mutex_lock(&q->mu);
    q->stop = 1;
    pthread_cond_signal(&q->cv);
    pthread_mutex_unlock(&q->mu);
    pthread_join(q->thread, NULL);
    srv->cbq = NULL;
    for (size_t i = 0; i < q->len; i++) {
        free(q->heap[i]->url);
        free(q->heap[i]);
    }
    free(q->heap);
    pthread_mutex_destroy(&q->mu);
    pthread_cond_destroy(&q->cv);
    free(q);
}
