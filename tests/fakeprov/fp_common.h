/* fakeprov shared interface: server state, task table, stats, faults, the
 * reply helpers and the suspend scheduler used by the provider emulations. */
#ifndef FP_COMMON_H
#define FP_COMMON_H

#include <microhttpd.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <time.h>

/* Make room for one more element in a growing array (len == cap doubles
 * it, from first): a test server aborts on out of memory. */
#define FP_GROW(arr, len, cap, first)                                                              \
    do {                                                                                           \
        if ((len) == (cap)) {                                                                      \
            size_t fp_nc_ = (cap) ? (cap)*2 : (first);                                             \
            void *fp_p_ = realloc((arr), fp_nc_ * sizeof *(arr));                                  \
            if (!fp_p_)                                                                            \
                abort();                                                                           \
            (arr) = fp_p_;                                                                         \
            (cap) = fp_nc_;                                                                        \
        }                                                                                          \
    } while (0)

enum fp_provider { FP_KIE = 0, FP_REPLICATE = 1, FP_OTHER = 2, FP_NPROV = 3 };

enum fp_fault {
    FP_F_NONE = 0,
    FP_F_HTTP500,
    FP_F_HTTP502,
    FP_F_HTTP503,
    FP_F_429,
    FP_F_429_NORETRY,
    FP_F_401,
    FP_F_402,
    FP_F_422,
    FP_F_455,
    FP_F_MALFORMED,
    FP_F_TRUNCATED,
    FP_F_HANG,
    FP_F_FAIL,
    FP_F_COUNT
};

enum fp_dist { FP_DIST_FIXED, FP_DIST_UNIFORM, FP_DIST_LOGNORMAL };

struct fp_pstats {
    atomic_ullong creates, polls, cancels, tasks_created, rate_limited, faults_injected;
    atomic_ullong max_creates_in_window;
    atomic_ullong by_status[600];
};

/* A random create fault from --fault KIND@PROVIDER=RATE. */
struct fp_rfault {
    int kind;
    int provider; /* FP_KIE, FP_REPLICATE or -1 for any */
    double rate;
};

/* One emulated task (KIE task or Replicate prediction). Owned by the task
 * table; only read or changed inside fp_tasks_with() callbacks. */
struct fp_task {
    struct fp_task *hnext; /* bucket chain */
    struct fp_task *onext; /* shard list in creation order, for expiry */
    int provider;
    int fail;      /* ends in fail / failed */
    int pollfault; /* enum fp_fault applied to every poll */
    int64_t created_us;
    int64_t gen_ms;
    int64_t canceled_us; /* 0 = never; may lie in the future (Cancel-After) */
    int deadline;        /* canceled_us came from Cancel-After: "aborted" before start */
    /* detection bookkeeping (GET /_detect) */
    unsigned polls;          /* status requests received for this task */
    int64_t seen_us;         /* first reply that reported it terminal; 0 = not yet */
    int64_t cb_delivered_us; /* first successful (2xx) callback delivery for this task; 0 = none yet */
    const char *id, *model, *version, *param; /* point into the same allocation */
};

struct fp_shard;
struct fp_cbq;

/* One task seen terminal, for /_detect. */
struct fp_detect_rec {
    int64_t created_us, delay_us;
    unsigned polls;
};

struct fp_server {
    /* configuration (read-only after start unless noted) */
    char host[64];
    int port;
    char base_url[96]; /* http://HOST:PORT */
    char kie_key[256], replicate_key[256];
    int verbose;
    int64_t hang_ms;
    int64_t kie_null_ms;
    int dist;
    double gen_sigma;
    atomic_llong gen_ms; /* changeable by /_control */
    uint64_t seed;
    struct fp_rfault rfaults[16];
    int nrfaults;
    /* runtime random create+poll fault per provider from /_control */
    atomic_int ctl_fault[2];
    atomic_llong ctl_rate_ppm[2];

    /* KIE sliding window (limit 0 = off; the ring is kept for the stat anyway) */
    pthread_mutex_t win_mu;
    int win_limit;
    int64_t win_s;
    int64_t *win_ring;
    size_t win_cap, win_head, win_len;

    /* stats */
    struct fp_pstats st[FP_NPROV];
    atomic_ullong requests, connections_open, max_connections_open, connections_total, suspended;
    atomic_ullong id_counter;

    /* task table */
    struct fp_shard *shards;

    /* detection records of tasks created since the last /_reset (det_mu) */
    pthread_mutex_t det_mu;
    struct fp_detect_rec *det;
    size_t det_len, det_cap;
    int64_t det_epoch_us;
    /* callback delivery (fp_callback.c) */
    char kie_hmac_key[256]; /* "" = KIE callbacks unsigned */
    char rep_whsec[256];    /* "whsec_..."; "" = Replicate webhooks unsigned */
    long long cb_delay_ms;  /* added to each callback's due time */
    int cb_dup, cb_drop;    /* send every callback twice / never */
    atomic_ullong callbacks_sent, callbacks_failed, callbacks_retried;
    struct fp_cbq *cbq;

    /* suspend scheduler (fakeprov.c) */
    pthread_mutex_t sch_mu;
    pthread_cond_t sch_cv;
    struct fp_sleep *heap;
    size_t heap_len, heap_cap;
    int sch_stop, sch_draining;
    pthread_t sch_thread;
};

/* Per-request state, the MHD con_cls. Freed by the completed callback. */
struct fp_req {
    char *body;
    size_t len, cap;
    int too_big;
    int counted;    /* create/poll counters already bumped */
    int fault_done; /* a hang fault already ran: skip fault selection */
    int wait_done;  /* Prefer: wait already ran */
    int suspended;
    char task_id[48];
};

struct fp_buf {
    char *p;
    size_t len, cap;
};

/* --- clock and randomness --- */
/* Microseconds since the epoch, from a monotonic clock anchored at start. */
int64_t fp_now_us(void);
/* CLOCK_MONOTONIC now + wait_us, for pthread_cond_timedwait on a monotonic cv. */
struct timespec fp_mono_after(int64_t wait_us);
/* Uniform double in [0,1) from a per-thread generator seeded from srv->seed. */
double fp_rand01(const struct fp_server *srv);
/* Draw a generation time in ms from the configured distribution. */
int64_t fp_draw_gen_ms(const struct fp_server *srv);

/* --- faults and markers --- */
/* Parse a fault kind name ("http500", "hang", ...); returns FP_F_NONE for
 * "none" and -1 for an unknown name. */
int fp_fault_parse(const char *name);
const char *fp_fault_name(int kind);
/* Scan a prompt for [fault(@P):K], [pollfault(@P):K], [gen:MS] markers that
 * apply to provider prov. gen_ms is -1 when absent. */
void fp_markers(const char *prompt, int prov, int *fault, int *pollfault, int64_t *gen_ms);
/* Pick a random fault for a request: the CLI faults (creates only) then the
 * /_control fault. Returns FP_F_NONE when nothing fires. */
int fp_random_fault(const struct fp_server *srv, int prov, int is_create);
/* A provider's reply for an injected fault other than hang and fail. */
typedef enum MHD_Result (*fp_fault_reply_fn)(struct fp_server *srv, struct MHD_Connection *c,
                                             int kind, int is_poll);
/* A create's markers and fault: *fault, *pollfault and *gen_ms from the
 * prompt's markers (fp_markers); unless req already had its fault, a random
 * one may replace "none". Returns 1 when the request is answered here — a
 * hang suspends it (*rc = MHD_YES), any other fault but "fail" gets
 * fault_reply's answer in *rc — else 0 ("fail" marks the task). */
int fp_create_fault(struct fp_server *srv, struct MHD_Connection *c, struct fp_req *req, int prov,
                    const char *prompt, fp_fault_reply_fn fault_reply, int *fault, int *pollfault,
                    int64_t *gen_ms, enum MHD_Result *rc);

/* --- task table --- */
int fp_tasks_init(struct fp_server *srv);
void fp_tasks_free(struct fp_server *srv);
/* Create and insert a task; strings are copied. Returns the task id in
 * id_out (cap >= 48). Tasks older than an hour are dropped on insert. */
void fp_task_add(struct fp_server *srv, int prov, const char *model, const char *version,
                 const char *param, size_t param_len, int64_t gen_ms, int fail, int pollfault,
                 char *id_out);
typedef void (*fp_task_fn)(struct fp_task *t, void *arg);
/* Run fn on the task with this id under its shard lock. Returns 0 if found. */
int fp_tasks_with(struct fp_server *srv, const char *id, fp_task_fn fn, void *arg);
/* Number of tasks of provider prov not yet finished at now_us. */
uint64_t fp_tasks_active(struct fp_server *srv, int prov, int64_t now_us);

/* --- detection (GET /_detect) --- */
/* The task's true completion instant: created + generation time, or the
 * cancel if that came first. */
int64_t fp_task_done_us(const struct fp_task *t);
/* A reply is about to tell the client that t is terminal (a poll reply, a
 * create reply after Prefer: wait, or — for whoever delivers callbacks — a
 * callback). The first call per task records the detection delay (now_us -
 * completion, >= 0) and the polls the task had received; later calls do
 * nothing. Tasks created before the last /_reset are not recorded. Call with
 * the task's shard lock held, i.e. from an fp_tasks_with() callback. */
void fp_task_mark_seen(struct fp_server *srv, struct fp_task *t, int64_t now_us);
/* fp_task_mark_seen() on the task with this id (takes its shard lock).
 * Returns 0 if the task exists. */
int fp_task_seen_id(struct fp_server *srv, const char *id, int64_t now_us);
/* Forget every record; only tasks created from now on count. */
void fp_detect_reset(struct fp_server *srv);
/* The /_detect document over the records, skipping the skip earliest-created. */
void fp_detect_json(struct fp_server *srv, struct fp_buf *b, size_t skip);

/* --- KIE window --- */
/* Record an accepted create at now_us if the window allows it. Returns 0 when
 * accepted, -1 when over the limit (nothing recorded). */
int fp_window_take(struct fp_server *srv, int64_t now_us);

/* --- stats --- */
void fp_stats_reset(struct fp_server *srv);
/* Fill buf with the /_stats JSON document. */
void fp_stats_json(struct fp_server *srv, struct fp_buf *buf);
void fp_atomic_max(atomic_ullong *a, unsigned long long v);

/* --- buffers --- */
void fp_buf_add(struct fp_buf *b, const char *s, size_t n);
void fp_buf_str(struct fp_buf *b, const char *s);
void fp_buf_fmt(struct fp_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Append s as a quoted, escaped JSON string. */
void fp_buf_json(struct fp_buf *b, const char *s);
/* Format an ISO-8601 UTC time with microseconds into out (cap >= 32). */
void fp_iso_time(int64_t us, char *out, size_t cap);

/* --- replies (fakeprov.c) --- */
/* Queue a reply; takes ownership of body->p. hdr_name/hdr_val may be NULL.
 * Counts the status in the provider's and the global stats. */
enum MHD_Result fp_reply(struct fp_server *srv, struct MHD_Connection *c, int prov, unsigned status,
                         const char *ctype, struct fp_buf *body, const char *hdr_name,
                         const char *hdr_val);
/* Same with a static body (not copied, not freed). */
enum MHD_Result fp_reply_static(struct fp_server *srv, struct MHD_Connection *c, int prov,
                                unsigned status, const char *ctype, const char *body,
                                const char *hdr_name, const char *hdr_val);
/* Declare declared_len bytes of Content-Length, send body, then drop the
 * connection. */
enum MHD_Result fp_reply_truncated(struct fp_server *srv, struct MHD_Connection *c, int prov,
                                   unsigned status, const char *body, size_t declared_len);
/* Suspend the connection until due_us; the access handler is called again
 * after that with req->suspended cleared. Falls back to answering at once
 * (returns 1) when the server is shutting down; 0 when suspended. */
int fp_suspend(struct fp_server *srv, struct MHD_Connection *c, struct fp_req *req, int64_t due_us);
/* Bearer token check. Returns 1 when the Authorization header matches key. */
int fp_auth_ok(struct MHD_Connection *c, const char *key);

/* --- callbacks (fp_callback.c) --- */
int fp_cb_start(struct fp_server *srv);
void fp_cb_stop(struct fp_server *srv);
/* Deliver a callback for task_id of provider prov to url at due_us (plus
 * --callback-delay-ms). No-op for an empty url. Any thread. */
void fp_cb_schedule(struct fp_server *srv, int prov, const char *task_id, const char *url,
                    int64_t due_us);
/* The callback body for a task, rendered now into b. 0, or -1 if unknown. */
int fp_kie_callback_body(struct fp_server *srv, const char *id, struct fp_buf *b);
int fp_rep_callback_body(struct fp_server *srv, const char *id, struct fp_buf *b);

/* --- providers --- */
enum MHD_Result kie_handle(struct fp_server *srv, struct MHD_Connection *c, struct fp_req *req,
                           const char *method, const char *url);
enum MHD_Result replicate_handle(struct fp_server *srv, struct MHD_Connection *c,
                                 struct fp_req *req, const char *method, const char *url);

#endif
