/* fakeprov: a fake KIE.AI + Replicate server for tests and benchmarks.
 *
 * This file is the shell: command line, the libmicrohttpd daemon (thread
 * pool + epoll), request routing, reply helpers, the /_stats /_detect
 * /_control /_reset /files endpoints, and the suspend scheduler. The scheduler is one
 * thread with a min-heap of suspended connections (Prefer: wait, hang
 * faults); it resumes each at its due time, so no MHD worker thread ever
 * sleeps. Shutdown order: resume every suspended connection and wait for
 * their handlers to run (MHD forbids stopping with suspended connections),
 * stop the scheduler, stop the daemon, free the task table. */
#include "fp_common.h"

#include <arpa/inet.h>
#include <curl/curl.h>
#include <errno.h>
#include <getopt.h>
#include <json-c/json.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#define FP_MAX_BODY (1u << 20)

struct fp_sleep {
    int64_t due_us;
    struct MHD_Connection *conn;
};

/* ------------------------------------------------------------ replies */

static void count_status(struct fp_server *srv, int prov, unsigned status)
{
    if (status < 600)
        atomic_fetch_add_explicit(&srv->st[prov].by_status[status], 1, memory_order_relaxed);
    if (status == 429)
        atomic_fetch_add_explicit(&srv->st[prov].rate_limited, 1, memory_order_relaxed);
}

static enum MHD_Result queue(struct fp_server *srv, struct MHD_Connection *c, int prov,
                             unsigned status, const char *ctype, struct MHD_Response *r,
                             const char *hn, const char *hv)
{
    if (!r)
        return MHD_NO;
    if (ctype)
        MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, ctype);
    if (hn && hv)
        MHD_add_response_header(r, hn, hv);
    count_status(srv, prov, status);
    enum MHD_Result rc = MHD_queue_response(c, status, r);
    MHD_destroy_response(r);
    return rc;
}

enum MHD_Result fp_reply(struct fp_server *srv, struct MHD_Connection *c, int prov, unsigned status,
                         const char *ctype, struct fp_buf *body, const char *hn, const char *hv)
{
    struct MHD_Response *r = MHD_create_response_from_buffer(
            body->len, body->p ? body->p : (char *)"",
            body->p ? MHD_RESPMEM_MUST_FREE : MHD_RESPMEM_PERSISTENT);
    if (!r)
        free(body->p);
    body->p = NULL;
    body->len = body->cap = 0;
    return queue(srv, c, prov, status, ctype, r, hn, hv);
}

enum MHD_Result fp_reply_static(struct fp_server *srv, struct MHD_Connection *c, int prov,
                                unsigned status, const char *ctype, const char *body,
                                const char *hn, const char *hv)
{
    struct MHD_Response *r =
            MHD_create_response_from_buffer(strlen(body), (void *)body, MHD_RESPMEM_PERSISTENT);
    return queue(srv, c, prov, status, ctype, r, hn, hv);
}

struct trunc_ctx {
    size_t len;
    char data[];
};

static ssize_t trunc_read(void *cls, uint64_t pos, char *buf, size_t max)
{
    struct trunc_ctx *t = cls;
    if (pos >= t->len)
        return MHD_CONTENT_READER_END_WITH_ERROR; /* MHD closes the socket */
    size_t n = t->len - (size_t)pos;
    if (n > max)
        n = max;
    memcpy(buf, t->data + pos, n);
    return (ssize_t)n;
}

enum MHD_Result fp_reply_truncated(struct fp_server *srv, struct MHD_Connection *c, int prov,
                                   unsigned status, const char *body, size_t declared_len)
{
    size_t n = strlen(body);
    struct trunc_ctx *t = malloc(sizeof *t + n);
    if (!t)
        return MHD_NO;
    t->len = n;
    memcpy(t->data, body, n);
    struct MHD_Response *r =
            MHD_create_response_from_callback(declared_len, 4096, trunc_read, t, free);
    if (!r) {
        free(t);
        return MHD_NO;
    }
    return queue(srv, c, prov, status, "application/json", r, NULL, NULL);
}

int fp_auth_ok(struct MHD_Connection *c, const char *key)
{
    const char *h = MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_AUTHORIZATION);
    if (!h || strncmp(h, "Bearer ", 7) != 0)
        return 0;
    return strcmp(h + 7, key) == 0;
}

/* ---------------------------------------------------------- scheduler */

static void heap_swap(struct fp_sleep *a, struct fp_sleep *b)
{
    struct fp_sleep t = *a;
    *a = *b;
    *b = t;
}

static void heap_push(struct fp_server *srv, struct fp_sleep e)
{
    FP_GROW(srv->heap, srv->heap_len, srv->heap_cap, 1024);
    size_t i = srv->heap_len++;
    srv->heap[i] = e;
    while (i > 0 && srv->heap[(i - 1) / 2].due_us > srv->heap[i].due_us) {
        heap_swap(&srv->heap[(i - 1) / 2], &srv->heap[i]);
        i = (i - 1) / 2;
    }
}

static struct fp_sleep heap_pop(struct fp_server *srv)
{
    struct fp_sleep top = srv->heap[0];
    srv->heap[0] = srv->heap[--srv->heap_len];
    size_t i = 0;
    for (;;) {
        size_t l = 2 * i + 1, r = l + 1, m = i;
        if (l < srv->heap_len && srv->heap[l].due_us < srv->heap[m].due_us)
            m = l;
        if (r < srv->heap_len && srv->heap[r].due_us < srv->heap[m].due_us)
            m = r;
        if (m == i)
            break;
        heap_swap(&srv->heap[m], &srv->heap[i]);
        i = m;
    }
    return top;
}

int fp_suspend(struct fp_server *srv, struct MHD_Connection *c, struct fp_req *req, int64_t due_us)
{
    pthread_mutex_lock(&srv->sch_mu);
    if (srv->sch_draining) {
        pthread_mutex_unlock(&srv->sch_mu);
        return 1;
    }
    MHD_suspend_connection(c);
    req->suspended = 1;
    atomic_fetch_add(&srv->suspended, 1);
    heap_push(srv, (struct fp_sleep){ .due_us = due_us, .conn = c });
    if (srv->heap[0].conn == c)
        pthread_cond_signal(&srv->sch_cv);
    pthread_mutex_unlock(&srv->sch_mu);
    return 0;
}

static void *sched_main(void *arg)
{
    struct fp_server *srv = arg;
    pthread_mutex_lock(&srv->sch_mu);
    while (!srv->sch_stop) {
        if (srv->heap_len == 0) {
            pthread_cond_wait(&srv->sch_cv, &srv->sch_mu);
            continue;
        }
        int64_t now = fp_now_us();
        if (srv->heap[0].due_us <= now || srv->sch_draining) {
            struct fp_sleep e = heap_pop(srv);
            MHD_resume_connection(e.conn);
            continue;
        }
        struct timespec ts = fp_mono_after(srv->heap[0].due_us - now);
        pthread_cond_timedwait(&srv->sch_cv, &srv->sch_mu, &ts);
    }
    pthread_mutex_unlock(&srv->sch_mu);
    return NULL;
}

/* ------------------------------------------------------ control routes */

static enum MHD_Result control_err(struct fp_server *srv, struct MHD_Connection *c, const char *msg)
{
    struct fp_buf b = { 0 };
    fp_buf_str(&b, "{\"ok\":false,\"error\":");
    fp_buf_json(&b, msg);
    fp_buf_str(&b, "}");
    return fp_reply(srv, c, FP_OTHER, 400, "application/json", &b, NULL, NULL);
}

static int control_provider(const char *p, int *lo, int *hi)
{
    if (!p || strcmp(p, "any") == 0) {
        *lo = FP_KIE;
        *hi = FP_REPLICATE;
    } else if (strcmp(p, "kie") == 0) {
        *lo = *hi = FP_KIE;
    } else if (strcmp(p, "replicate") == 0) {
        *lo = *hi = FP_REPLICATE;
    } else {
        return -1;
    }
    return 0;
}

static enum MHD_Result handle_control(struct fp_server *srv, struct MHD_Connection *c,
                                      struct fp_req *req)
{
    json_object *root = json_tokener_parse(req->body ? req->body : "");
    if (!root || !json_object_is_type(root, json_type_object)) {
        json_object_put(root);
        return control_err(srv, c, "body must be a JSON object");
    }
    json_object *v;
    const char *prov =
            json_object_object_get_ex(root, "provider", &v) ? json_object_get_string(v) : NULL;
    int lo, hi;
    if (control_provider(prov, &lo, &hi) != 0) {
        json_object_put(root);
        return control_err(srv, c, "provider must be kie, replicate or any");
    }
    if (json_object_object_get_ex(root, "fault", &v)) {
        int k = fp_fault_parse(json_object_get_string(v));
        double rate = 1.0;
        json_object *r;
        if (json_object_object_get_ex(root, "rate", &r))
            rate = json_object_get_double(r);
        if (k < 0 || rate < 0 || rate > 1) {
            json_object_put(root);
            return control_err(srv, c, "unknown fault kind or rate outside 0..1");
        }
        for (int p = lo; p <= hi; p++) {
            atomic_store(&srv->ctl_rate_ppm[p], (long long)(rate * 1e6));
            atomic_store(&srv->ctl_fault[p], k);
        }
    }
    json_object *wl, *ws;
    int has_wl = json_object_object_get_ex(root, "window_limit", &wl);
    int has_ws = json_object_object_get_ex(root, "window_s", &ws);
    if (has_wl || has_ws) {
        long long l = has_wl ? json_object_get_int64(wl) : 0,
                  s = has_ws ? json_object_get_int64(ws) : 1;
        if (l < 0 || s < 1) {
            json_object_put(root);
            return control_err(srv, c, "window_limit must be >= 0 and window_s >= 1");
        }
        pthread_mutex_lock(&srv->win_mu);
        if (has_wl)
            srv->win_limit = (int)l;
        if (has_ws)
            srv->win_s = s;
        pthread_mutex_unlock(&srv->win_mu);
    }
    if (json_object_object_get_ex(root, "gen_ms", &v)) {
        long long g = json_object_get_int64(v);
        if (g < 0) {
            json_object_put(root);
            return control_err(srv, c, "gen_ms must be >= 0");
        }
        atomic_store(&srv->gen_ms, g);
    }
    json_object_put(root);
    return fp_reply_static(srv, c, FP_OTHER, 200, "application/json", "{\"ok\":true}", NULL, NULL);
}

static int parse_ll(const char *s, long long lo, long long hi, long long *out);

static enum MHD_Result route(struct fp_server *srv, struct MHD_Connection *c, struct fp_req *req,
                             const char *method, const char *url)
{
    int is_get = strcmp(method, "GET") == 0, is_post = strcmp(method, "POST") == 0;
    if (req->too_big)
        return fp_reply_static(srv, c, FP_OTHER, 413, "application/json",
                               "{\"error\":\"request body too large\"}", NULL, NULL);
    if (strncmp(url, "/api/v1/", 8) == 0)
        return kie_handle(srv, c, req, method, url);
    if (strncmp(url, "/v1/", 4) == 0)
        return replicate_handle(srv, c, req, method, url);
    if (is_get && strncmp(url, "/files/", 7) == 0 && url[7]) {
        static const char png[] = "\x89PNG\r\n\x1a\n\0\0\0\rIHDR";
        struct MHD_Response *r = MHD_create_response_from_buffer(sizeof png - 1, (void *)png,
                                                                 MHD_RESPMEM_PERSISTENT);
        return queue(srv, c, FP_OTHER, 200, "image/png", r, NULL, NULL);
    }
    if (is_get && strcmp(url, "/_stats") == 0) {
        struct fp_buf b = { 0 };
        fp_stats_json(srv, &b);
        return fp_reply(srv, c, FP_OTHER, 200, "application/json", &b, NULL, NULL);
    }
    if (is_get && strcmp(url, "/_detect") == 0) {
        const char *sk = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "skip");
        long long skip = 0;
        if (sk && parse_ll(sk, 0, INT64_MAX, &skip) != 0)
            return control_err(srv, c, "skip must be an integer >= 0");
        struct fp_buf b = { 0 };
        fp_detect_json(srv, &b, (size_t)skip);
        return fp_reply(srv, c, FP_OTHER, 200, "application/json", &b, NULL, NULL);
    }
    if (is_post && strcmp(url, "/_control") == 0)
        return handle_control(srv, c, req);
    if (is_post && strcmp(url, "/_reset") == 0) {
        fp_stats_reset(srv);
        fp_detect_reset(srv);
        return fp_reply_static(srv, c, FP_OTHER, 200, "application/json", "{\"ok\":true}", NULL,
                               NULL);
    }
    return fp_reply_static(srv, c, FP_OTHER, 404, "application/json",
                           "{\"error\":\"no such endpoint\"}", NULL, NULL);
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *c, const char *url,
                                  const char *method, const char *version, const char *upload,
                                  size_t *upload_size, void **con_cls)
{
    struct fp_server *srv = cls;
    struct fp_req *req = *con_cls;
    (void)version;
    if (!req) {
        req = calloc(1, sizeof *req);
        if (!req)
            return MHD_NO;
        *con_cls = req;
        atomic_fetch_add_explicit(&srv->requests, 1, memory_order_relaxed);
        return MHD_YES;
    }
    if (*upload_size) {
        if (!req->too_big && req->len + *upload_size <= FP_MAX_BODY) {
            if (req->len + *upload_size + 1 > req->cap) {
                size_t nc = req->cap ? req->cap : 1024;
                while (nc < req->len + *upload_size + 1)
                    nc *= 2;
                char *p = realloc(req->body, nc);
                if (!p)
                    return MHD_NO;
                req->body = p;
                req->cap = nc;
            }
            memcpy(req->body + req->len, upload, *upload_size);
            req->len += *upload_size;
            req->body[req->len] = 0;
        } else {
            req->too_big = 1;
        }
        *upload_size = 0;
        return MHD_YES;
    }
    if (req->suspended) {
        req->suspended = 0;
        atomic_fetch_sub(&srv->suspended, 1);
    } else if (srv->verbose) {
        fprintf(stderr, "fakeprov: %s %s (%zu body bytes)\n", method, url, req->len);
    }
    return route(srv, c, req, method, url);
}

static void on_completed(void *cls, struct MHD_Connection *c, void **con_cls,
                         enum MHD_RequestTerminationCode toe)
{
    struct fp_server *srv = cls;
    struct fp_req *req = *con_cls;
    (void)c;
    (void)toe;
    if (!req)
        return;
    if (req->suspended)
        atomic_fetch_sub(&srv->suspended, 1);
    free(req->body);
    free(req);
    *con_cls = NULL;
}

static void on_connection(void *cls, struct MHD_Connection *c, void **socket_ctx,
                          enum MHD_ConnectionNotificationCode toe)
{
    struct fp_server *srv = cls;
    (void)c;
    (void)socket_ctx;
    if (toe == MHD_CONNECTION_NOTIFY_STARTED) {
        atomic_fetch_add(&srv->connections_total, 1);
        unsigned long long n = atomic_fetch_add(&srv->connections_open, 1) + 1;
        fp_atomic_max(&srv->max_connections_open, n);
    } else {
        atomic_fetch_sub(&srv->connections_open, 1);
    }
}

/* ------------------------------------------------------------ options */

static int parse_ll(const char *s, long long lo, long long hi, long long *out)
{
    char *e;
    errno = 0;
    long long v = strtoll(s, &e, 10);
    if (errno || e == s || *e || v < lo || v > hi)
        return -1;
    *out = v;
    return 0;
}

static int parse_fault_opt(struct fp_server *srv, const char *arg)
{
    /* KIND@PROVIDER=RATE */
    const char *at = strchr(arg, '@'), *eq = strchr(arg, '=');
    if (!at || !eq || eq < at ||
        srv->nrfaults >= (int)(sizeof srv->rfaults / sizeof srv->rfaults[0]))
        return -1;
    char kind[32], prov[32];
    size_t kl = (size_t)(at - arg), pl = (size_t)(eq - at - 1);
    if (kl >= sizeof kind || pl >= sizeof prov)
        return -1;
    memcpy(kind, arg, kl);
    kind[kl] = 0;
    memcpy(prov, at + 1, pl);
    prov[pl] = 0;
    struct fp_rfault *f = &srv->rfaults[srv->nrfaults];
    f->kind = fp_fault_parse(kind);
    if (f->kind <= FP_F_NONE)
        return -1;
    if (strcmp(prov, "kie") == 0)
        f->provider = FP_KIE;
    else if (strcmp(prov, "replicate") == 0)
        f->provider = FP_REPLICATE;
    else if (strcmp(prov, "any") == 0)
        f->provider = -1;
    else
        return -1;
    char *e;
    errno = 0;
    f->rate = strtod(eq + 1, &e);
    if (errno || e == eq + 1 || *e || f->rate < 0 || f->rate > 1)
        return -1;
    srv->nrfaults++;
    return 0;
}

static void usage(FILE *out)
{
    fputs("usage: fakeprov [--listen 127.0.0.1:0] [--port-file FILE]\n"
          "         [--gen-ms N] [--gen-dist fixed|uniform|lognormal] [--gen-sigma S]\n"
          "         [--kie-key KEY] [--replicate-key KEY]\n"
          "         [--kie-window-limit N] [--kie-window-s S] [--kie-null-ms N]\n"
          "         [--fault KIND@PROVIDER=RATE]... [--hang-ms N] [--threads N]\n"
          "         [--kie-hmac-key KEY] [--replicate-webhook-secret whsec_...]\n"
          "         [--callback-delay-ms N] [--callback-dup] [--callback-drop]\n"
          "         [--seed N] [-v]\n",
          out);
}

static int parse_args(struct fp_server *srv, int argc, char **argv, char *port_file, size_t pfcap,
                      int *threads)
{
    static const struct option opts[] = { { "listen", required_argument, 0, 'l' },
                                          { "port-file", required_argument, 0, 'p' },
                                          { "gen-ms", required_argument, 0, 'g' },
                                          { "gen-dist", required_argument, 0, 'd' },
                                          { "gen-sigma", required_argument, 0, 's' },
                                          { "kie-key", required_argument, 0, 'k' },
                                          { "replicate-key", required_argument, 0, 'r' },
                                          { "kie-window-limit", required_argument, 0, 'W' },
                                          { "kie-window-s", required_argument, 0, 'S' },
                                          { "kie-null-ms", required_argument, 0, 'N' },
                                          { "fault", required_argument, 0, 'f' },
                                          { "hang-ms", required_argument, 0, 'H' },
                                          { "threads", required_argument, 0, 't' },
                                          { "seed", required_argument, 0, 'x' },
                                          { "kie-hmac-key", required_argument, 0, 'K' },
                                          { "replicate-webhook-secret", required_argument, 0, 'R' },
                                          { "callback-delay-ms", required_argument, 0, 'D' },
                                          { "callback-dup", no_argument, 0, 'U' },
                                          { "callback-drop", no_argument, 0, 'X' },
                                          { "verbose", no_argument, 0, 'v' },
                                          { "help", no_argument, 0, 'h' },
                                          { 0, 0, 0, 0 } };
    int o;
    long long v;
    while ((o = getopt_long(argc, argv, "vh", opts, NULL)) != -1) {
        const char *bad = NULL;
        switch (o) {
        case 'l': {
            const char *colon = strrchr(optarg, ':');
            size_t hl = colon ? (size_t)(colon - optarg) : 0;
            struct in_addr a;
            if (!colon || hl == 0 || hl >= sizeof srv->host || parse_ll(colon + 1, 0, 65535, &v)) {
                bad = "--listen wants HOST:PORT";
                break;
            }
            memcpy(srv->host, optarg, hl);
            srv->host[hl] = 0;
            srv->port = (int)v;
            if (inet_pton(AF_INET, srv->host, &a) != 1)
                bad = "--listen host must be an IPv4 address";
            break;
        }
        case 'p':
            if (snprintf(port_file, pfcap, "%s", optarg) >= (int)pfcap)
                bad = "--port-file path too long";
            break;
        case 'g':
            if (parse_ll(optarg, 0, 86400000, &v))
                bad = "--gen-ms wants 0..86400000";
            else
                atomic_store(&srv->gen_ms, v);
            break;
        case 'd':
            if (strcmp(optarg, "fixed") == 0)
                srv->dist = FP_DIST_FIXED;
            else if (strcmp(optarg, "uniform") == 0)
                srv->dist = FP_DIST_UNIFORM;
            else if (strcmp(optarg, "lognormal") == 0)
                srv->dist = FP_DIST_LOGNORMAL;
            else
                bad = "--gen-dist wants fixed, uniform or lognormal";
            break;
        case 's': {
            char *e;
            srv->gen_sigma = strtod(optarg, &e);
            if (e == optarg || *e || srv->gen_sigma < 0 || srv->gen_sigma > 10)
                bad = "--gen-sigma wants 0..10";
            break;
        }
        case 'k':
        case 'r': {
            char *dst = o == 'k' ? srv->kie_key : srv->replicate_key;
            if (snprintf(dst, sizeof srv->kie_key, "%s", optarg) >= (int)sizeof srv->kie_key)
                bad = "key too long";
            break;
        }
        case 'W':
            if (parse_ll(optarg, 0, 100000000, &v))
                bad = "--kie-window-limit wants a count >= 0";
            else
                srv->win_limit = (int)v;
            break;
        case 'S':
            if (parse_ll(optarg, 1, 86400, &v))
                bad = "--kie-window-s wants 1..86400";
            else
                srv->win_s = v;
            break;
        case 'N':
            if (parse_ll(optarg, 0, 86400000, &v))
                bad = "--kie-null-ms wants ms >= 0";
            else
                srv->kie_null_ms = v;
            break;
        case 'f':
            if (parse_fault_opt(srv, optarg))
                bad = "--fault wants KIND@kie|replicate|any=RATE (rate 0..1, at most 16)";
            break;
        case 'H':
            if (parse_ll(optarg, 0, 86400000, &v))
                bad = "--hang-ms wants ms >= 0";
            else
                srv->hang_ms = v;
            break;
        case 't':
            if (parse_ll(optarg, 1, 256, &v))
                bad = "--threads wants 1..256";
            else
                *threads = (int)v;
            break;
        case 'x':
            if (parse_ll(optarg, 0, INT64_MAX, &v))
                bad = "--seed wants an integer >= 0";
            else
                srv->seed = (uint64_t)v;
            break;
        case 'K':
        case 'R': {
            char *dst = o == 'K' ? srv->kie_hmac_key : srv->rep_whsec;
            if (snprintf(dst, sizeof srv->kie_hmac_key, "%s", optarg) >=
                (int)sizeof srv->kie_hmac_key)
                bad = "key too long";
            else if (o == 'R' && strncmp(optarg, "whsec_", 6) != 0)
                bad = "--replicate-webhook-secret wants whsec_<base64>";
            break;
        }
        case 'D':
            if (parse_ll(optarg, 0, 86400000, &v))
                bad = "--callback-delay-ms wants ms >= 0";
            else
                srv->cb_delay_ms = v;
            break;
        case 'U':
            srv->cb_dup = 1;
            break;
        case 'X':
            srv->cb_drop = 1;
            break;
        case 'v':
            srv->verbose = 1;
            break;
        case 'h':
            usage(stdout);
            exit(0);
        default:
            usage(stderr);
            return -1;
        }
        if (bad) {
            fprintf(stderr, "fakeprov: %s (got \"%s\")\n", bad, optarg);
            return -1;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "fakeprov: unexpected argument \"%s\"\n", argv[optind]);
        return -1;
    }
    return 0;
}

static int write_port_file(const char *path, int port)
{
    char tmp[4200];
    if (snprintf(tmp, sizeof tmp, "%s.tmp.%ld", path, (long)getpid()) >= (int)sizeof tmp)
        return -1;
    FILE *f = fopen(tmp, "w");
    if (!f)
        return -1;
    int ok = fprintf(f, "%d\n", port) > 0;
    ok = (fclose(f) == 0) && ok;
    if (!ok || rename(tmp, path) != 0) {
        unlink(tmp);
        return -1;
    }
    return 0;
}

static int listen_socket(struct fp_server *srv)
{
    struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons((uint16_t)srv->port) };
    socklen_t sl = sizeof sa;
    int one = 1;
    inet_pton(AF_INET, srv->host, &sa.sin_addr);
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (fd < 0)
        return -1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (bind(fd, (struct sockaddr *)&sa, sizeof sa) != 0 || listen(fd, 4096) != 0 ||
        getsockname(fd, (struct sockaddr *)&sa, &sl) != 0) {
        int e = errno;
        close(fd);
        errno = e;
        return -1;
    }
    srv->port = ntohs(sa.sin_port);
    return fd;
}

/* Resume everything suspended and wait (bounded) for the handlers to run. */
static void drain_suspended(struct fp_server *srv)
{
    pthread_mutex_lock(&srv->sch_mu);
    srv->sch_draining = 1;
    pthread_cond_signal(&srv->sch_cv);
    pthread_mutex_unlock(&srv->sch_mu);
    for (int i = 0; i < 500 && atomic_load(&srv->suspended) > 0; i++)
        usleep(10000);
}

int main(int argc, char **argv)
{
    static struct fp_server srv; /* large (stats arrays); zeroed */
    char port_file[4096] = "";
    int threads = 2;
    snprintf(srv.host, sizeof srv.host, "127.0.0.1");
    snprintf(srv.kie_key, sizeof srv.kie_key, "test-kie-key");
    snprintf(srv.replicate_key, sizeof srv.replicate_key, "test-replicate-key");
    atomic_store(&srv.gen_ms, 1000);
    srv.gen_sigma = 0.35;
    srv.hang_ms = 60000;
    srv.win_s = 10;
    srv.seed = 1;
    if (parse_args(&srv, argc, argv, port_file, sizeof port_file, &threads) != 0)
        return 2;

    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
    }
    signal(SIGPIPE, SIG_IGN);
    sigset_t sigs;
    sigemptyset(&sigs);
    sigaddset(&sigs, SIGINT);
    sigaddset(&sigs, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &sigs, NULL); /* every thread inherits this */

    pthread_mutex_init(&srv.win_mu, NULL);
    pthread_mutex_init(&srv.det_mu, NULL);
    pthread_mutex_init(&srv.sch_mu, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&srv.sch_cv, &ca);
    pthread_condattr_destroy(&ca);
    int rc = 1;
    if (fp_tasks_init(&srv) != 0) {
        fprintf(stderr, "fakeprov: out of memory\n");
        goto out;
    }
    curl_global_init(CURL_GLOBAL_DEFAULT);
    if (fp_cb_start(&srv) != 0) {
        fprintf(stderr, "fakeprov: cannot start the callback thread\n");
        goto out;
    }
    if (pthread_create(&srv.sch_thread, NULL, sched_main, &srv) != 0) {
        fprintf(stderr, "fakeprov: cannot start the scheduler thread\n");
        goto out;
    }

    /* Bind first so the port (and base_url, used in every reply) is known
   * before the first request can arrive. MHD closes the socket on stop. */
    int lfd = listen_socket(&srv);
    if (lfd < 0) {
        fprintf(stderr, "fakeprov: cannot listen on %s:%d: %s\n", srv.host, srv.port,
                strerror(errno));
        goto stop_sched;
    }
    snprintf(srv.base_url, sizeof srv.base_url, "http://%s:%d", srv.host, srv.port);
    unsigned conn_limit = 20000;
    if (rl.rlim_max != RLIM_INFINITY && rl.rlim_max < conn_limit + 64)
        conn_limit = rl.rlim_max > 128 ? (unsigned)rl.rlim_max - 64 : 64;
    unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL | MHD_ALLOW_SUSPEND_RESUME |
                     MHD_USE_TURBO | (srv.verbose ? MHD_USE_ERROR_LOG : 0);
    struct MHD_Daemon *d = MHD_start_daemon(
            flags, 0, NULL, NULL, on_request, &srv, MHD_OPTION_LISTEN_SOCKET, lfd,
            MHD_OPTION_THREAD_POOL_SIZE, (unsigned)threads, MHD_OPTION_CONNECTION_LIMIT, conn_limit,
            MHD_OPTION_CONNECTION_TIMEOUT, 120u, MHD_OPTION_NOTIFY_COMPLETED, on_completed, &srv,
            MHD_OPTION_NOTIFY_CONNECTION, on_connection, &srv, MHD_OPTION_END);
    if (!d) {
        fprintf(stderr, "fakeprov: cannot start the HTTP daemon\n");
        close(lfd);
        goto stop_sched;
    }
    if (port_file[0] && write_port_file(port_file, srv.port) != 0) {
        fprintf(stderr, "fakeprov: cannot write %s: %s\n", port_file, strerror(errno));
        drain_suspended(&srv);
        MHD_stop_daemon(d);
        goto stop_sched;
    }
    printf("fakeprov listening on %s:%d\n", srv.host, srv.port);
    fflush(stdout);

    int sig = 0;
    while (sigwait(&sigs, &sig) != 0)
        ;
    drain_suspended(&srv);
    MHD_stop_daemon(d);
    rc = 0;
stop_sched:
    pthread_mutex_lock(&srv.sch_mu);
    srv.sch_stop = 1;
    pthread_cond_signal(&srv.sch_cv);
    pthread_mutex_unlock(&srv.sch_mu);
    pthread_join(srv.sch_thread, NULL);
out:
    fp_cb_stop(&srv); /* before the task table: deliveries read it */
    curl_global_cleanup();
    fp_tasks_free(&srv);
    free(srv.heap);
    free(srv.win_ring);
    free(srv.det);
    return rc;
}
