/* loopxfer.c — the loop's per-transfer state and packed header lists (see
 * loopxfer.h). */
#include "loopxfer.h"

#include <stdlib.h>
#include <string.h>

#include "core/sy.h"
#include "worker/loopdebug.h"

static size_t on_body(char *data, size_t size, size_t n, void *ud)
{
    struct loop_xfer *x = ud;
    size_t add = size * n;
    if (x->len + add > x->max_body) {
        x->too_large = 1;
        return 0; /* aborts the transfer with CURLE_WRITE_ERROR */
    }
    return sy_append(&x->buf, &x->len, &x->cap, data, add, 4096) == SY_OK ? add : 0;
}

/* The value of the last header name of the final response (not a 1xx, not
 * a trailer) into dst, cut to cap; "" when there is none. curl keeps every
 * header of the transfer and trims the value's surrounding blanks. */
static void grab_header(CURL *e, const char *name, char *dst, size_t cap)
{
    struct curl_header *h;
    dst[0] = '\0';
    if (curl_easy_header(e, name, 0, CURLH_HEADER, -1, &h) != CURLHE_OK)
        return;
    if (h->amount > 1 &&
        curl_easy_header(e, name, h->amount - 1, CURLH_HEADER, -1, &h) != CURLHE_OK)
        return;
    size_t vl = strnlen(h->value, cap - 1);
    memcpy(dst, h->value, vl);
    dst[vl] = '\0';
}

void loopxfer_read_headers(struct loop_xfer *x)
{
    grab_header(x->easy, "Retry-After", x->retry_after, sizeof x->retry_after);
}

int loopxfer_headers_api(void)
{
    CURL *e = curl_easy_init();
    struct curl_header *h;
    int ok =
            e && curl_easy_header(e, "Retry-After", 0, CURLH_HEADER, -1, &h) != CURLHE_NOT_BUILT_IN;
    curl_easy_cleanup(e);
    return ok;
}

/* The options every request of the loop shares, set once per easy handle. */
static void set_invariants(const struct loopxfer_pool *p, struct loop_xfer *x)
{
    CURL *e = x->easy;
    curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(e, CURLOPT_WRITEDATA, x);
    curl_easy_setopt(e, CURLOPT_ERRORBUFFER, x->errbuf);
    curl_easy_setopt(e, CURLOPT_USERAGENT, p->user_agent);
    curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(e, CURLOPT_TCP_KEEPALIVE, 1L);
    curl_easy_setopt(e, CURLOPT_TCP_NODELAY, 1L);
    curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https");
    /* Connection sockets are opened and closed where the loop watches them. */
    curl_easy_setopt(e, CURLOPT_OPENSOCKETFUNCTION, loopsock_open);
    curl_easy_setopt(e, CURLOPT_OPENSOCKETDATA, p->socks);
    curl_easy_setopt(e, CURLOPT_CLOSESOCKETFUNCTION, loopsock_close);
    curl_easy_setopt(e, CURLOPT_CLOSESOCKETDATA, p->socks);
    loop_debug_setopt(e); /* the log level is set at start-up, before any request */
    if (!p->env_noproxy) /* same as curl's NULL without the variable, minus two getenv per transfer */
        curl_easy_setopt(e, CURLOPT_NOPROXY, "");
}

void loopxfer_pool_init(struct loopxfer_pool *p, size_t max, const char *user_agent,
                        struct loopsock *socks)
{
    /* Every variable curl may read for an http(s) URL (it ignores HTTP_PROXY;
     * an empty one still counts: curl would use it rather than the next). */
    static const char *const vars[] = { "http_proxy",  "HTTP_PROXY", "https_proxy",
                                        "HTTPS_PROXY", "all_proxy",  "ALL_PROXY" };
    int env_proxy = 0;
    for (size_t i = 0; i < sizeof vars / sizeof vars[0]; i++)
        env_proxy |= getenv(vars[i]) != NULL;
    memset(p, 0, sizeof *p);
    p->max = max;
    p->user_agent = user_agent;
    p->socks = socks;
    p->no_proxy = env_proxy ? NULL : "";
    p->env_noproxy = getenv("no_proxy") != NULL || getenv("NO_PROXY") != NULL;
}

struct loop_xfer *loopxfer_get(struct loopxfer_pool *p, size_t max_body)
{
    struct loop_xfer *x = p->free;
    if (x) {
        /* No curl_easy_reset: the options below stay set, and the caller
         * sets every per-request option on each use (loopxfer.h). */
        p->free = x->next;
        p->n--;
    } else {
        x = calloc(1, sizeof *x);
        if (!x)
            return NULL;
        x->easy = curl_easy_init();
        if (!x->easy) {
            free(x);
            return NULL;
        }
        set_invariants(p, x);
    }
    x->next = NULL;
    x->len = 0;
    x->max_body = max_body;
    x->too_large = 0;
    x->start_ms = 0;
    x->retry_after[0] = '\0';
    x->errbuf[0] = '\0';
    return x;
}

static void xfer_free(struct loop_xfer *x)
{
    curl_easy_cleanup(x->easy);
    free(x->buf);
    free(x);
}

void loopxfer_put(struct loopxfer_pool *p, struct loop_xfer *x)
{
    if (p->n >= p->max) {
        xfer_free(x);
        return;
    }
    if (x->cap > LOOPXFER_KEEP_BUF) {
        free(x->buf);
        x->buf = NULL;
        x->cap = 0;
    }
    x->len = 0;
    x->next = p->free;
    p->free = x;
    p->n++;
}

void loopxfer_pool_cleanup(struct loopxfer_pool *p)
{
    while (p->free) {
        struct loop_xfer *x = p->free;
        p->free = x->next;
        xfer_free(x);
    }
    p->n = 0;
}

struct curl_slist *loopxfer_headers(const char *const *lines, size_t n)
{
    if (n == 0)
        return NULL;
    size_t bytes = n * sizeof(struct curl_slist);
    for (size_t i = 0; i < n; i++)
        bytes += strlen(lines[i]) + 1;
    struct curl_slist *nodes = malloc(bytes);
    if (!nodes)
        return NULL;
    char *text = (char *)(nodes + n);
    for (size_t i = 0; i < n; i++) {
        size_t len = strlen(lines[i]) + 1;
        memcpy(text, lines[i], len);
        nodes[i].data = text;
        nodes[i].next = i + 1 < n ? &nodes[i + 1] : NULL;
        text += len;
    }
    return nodes;
}

void loopxfer_headers_free(struct curl_slist *h)
{
    for (struct curl_slist *l = h; l; l = l->next)
        explicit_bzero(l->data, strlen(l->data));
    free(h);
}
