/* breaker.c — per-provider circuit breaker (see breaker.h for the states and
 * the outcome table). Pure: no I/O, no clock, no globals.
 *
 * The closed-state window is a ring of the last `window` outcomes, one byte
 * each (1 = failure). Invariants:
 *   - 0 <= n <= win <= cap (cap only grows: a reload to a smaller window
 *     keeps the buffer); the n live outcomes are the n slots before head,
 *     modulo cap, newest first;
 *   - failures = number of live entries that are 1;
 *   - open: opened_ms is when it (re)opened; half-open is due at
 *     opened_ms + open_s * 1000, checked lazily by advance();
 *   - half-open: probes_out + probes_ok <= half_open_probes at the time the
 *     slots were taken (a reload may lower the limit; slots already taken stay
 *     taken). A success keeps its slot, so at most half_open_probes probes are
 *     ever let through per half-open period.
 * Trade-off: the API has no per-request ticket, so a late outcome of a request
 * let through while closed cannot be told from a probe's when probes are out;
 * it then counts as a probe's. With no probe out it is dropped. */
#include "providers/breaker.h"

#include <stdlib.h>
#include <string.h>

#include "core/sy.h"

struct breaker {
    struct conf_breaker c; /* sanitised copy */
    enum breaker_state state;
    unsigned char *ring;   /* cap entries */
    int cap, win;          /* allocated size; window in use (<= cap) */
    int head, n, failures; /* next write index; live entries; live failures */
    int64_t opened_ms;
    int probes_out, probes_ok;
    uint64_t opened, rejected;
};

static void sanitise(struct conf_breaker *d, const struct conf_breaker *c)
{
    *d = *c;
    if (d->window < 1)
        d->window = 1;
    if (d->min_calls < 1)
        d->min_calls = 1;
    if (!(d->failure_rate > 0))
        d->failure_rate = 1e-9; /* "> 0": one failure among min_calls opens */
    if (d->failure_rate > 1)
        d->failure_rate = 1;
    if (d->open_s < 0)
        d->open_s = 0;
    if (d->half_open_probes < 1)
        d->half_open_probes = 1;
}

struct breaker *breaker_new(const struct conf_breaker *c)
{
    struct breaker *b = calloc(1, sizeof *b);

    if (!b)
        return NULL;
    sanitise(&b->c, c);
    b->ring = calloc((size_t)b->c.window, 1);
    if (!b->ring) {
        free(b);
        return NULL;
    }
    b->cap = b->win = b->c.window;
    b->state = BREAKER_CLOSED;
    return b;
}

void breaker_free(struct breaker *b)
{
    if (!b)
        return;
    free(b->ring);
    free(b);
}

/* The i-th newest live outcome (0 = newest). */
static unsigned char ring_get(const struct breaker *b, int i)
{
    int k = (b->head - 1 - i) % b->cap;

    return b->ring[k < 0 ? k + b->cap : k];
}

static void window_clear(struct breaker *b)
{
    b->head = b->n = b->failures = 0;
}

void breaker_configure(struct breaker *b, const struct conf_breaker *c)
{
    struct conf_breaker nc;

    sanitise(&nc, c);
    int want = nc.window;
    if (want > b->cap) {
        unsigned char *r = calloc((size_t)want, 1);
        if (r) {
            int keep = b->n;
            /* Oldest first, so the newest ends just before the new head. */
            for (int i = 0; i < keep; i++)
                r[i] = ring_get(b, keep - 1 - i);
            free(b->ring);
            b->ring = r;
            b->cap = want;
            b->head = keep % want;
        } else {
            want = b->cap; /* keep the old ring: a smaller window than asked */
        }
    }
    b->c = nc;
    b->win = want;
    if (b->n > want) {
        /* Drop the oldest n - want live entries from the failure count. */
        for (int i = want; i < b->n; i++)
            b->failures -= ring_get(b, i);
        b->n = want;
    }
}

static void open_at(struct breaker *b, int64_t now_ms)
{
    b->state = BREAKER_OPEN;
    b->opened_ms = now_ms;
    b->probes_out = b->probes_ok = 0;
    b->opened++;
}

/* Lazily moves open → half-open once the cool-down has passed. */
static void advance(struct breaker *b, int64_t now_ms)
{
    if (b->state == BREAKER_OPEN && now_ms - b->opened_ms >= (int64_t)b->c.open_s * 1000) {
        b->state = BREAKER_HALF_OPEN;
        b->probes_out = b->probes_ok = 0;
    }
}

int breaker_allow(struct breaker *b, int64_t now_ms)
{
    advance(b, now_ms);
    switch (b->state) {
    case BREAKER_CLOSED:
        return SY_OK;
    case BREAKER_HALF_OPEN:
        if (b->probes_out + b->probes_ok < b->c.half_open_probes) {
            b->probes_out++;
            return SY_OK;
        }
        break;
    case BREAKER_OPEN:
        break;
    }
    b->rejected++;
    return SY_DECLINED;
}

static void record_closed(struct breaker *b, enum breaker_outcome o, int64_t now_ms)
{
    if (o == BREAKER_TRIP) {
        open_at(b, now_ms);
        return;
    }
    unsigned char fail = o == BREAKER_FAILURE;
    if (b->n == b->win) {
        b->failures -= ring_get(b, b->win - 1); /* the oldest falls out */
        b->n--;
    }
    b->ring[b->head] = fail;
    b->head = (b->head + 1) % b->cap;
    b->n++;
    b->failures += fail;
    if (b->n >= b->c.min_calls && (double)b->failures / b->n >= b->c.failure_rate)
        open_at(b, now_ms);
}

static void record_half_open(struct breaker *b, enum breaker_outcome o, int64_t now_ms)
{
    if (b->probes_out == 0)
        return; /* not a probe's: a request from before the breaker opened */
    b->probes_out--;
    switch (o) {
    case BREAKER_SUCCESS:
        b->probes_ok++;
        if (b->probes_ok >= b->c.half_open_probes) {
            b->state = BREAKER_CLOSED;
            b->probes_out = b->probes_ok = 0;
            window_clear(b);
        }
        break;
    case BREAKER_FAILURE:
    case BREAKER_TRIP:
        open_at(b, now_ms);
        break;
    case BREAKER_IGNORE:
        break;
    }
}

void breaker_record(struct breaker *b, enum breaker_outcome o, int64_t now_ms)
{
    advance(b, now_ms);
    if (o == BREAKER_IGNORE && b->state != BREAKER_HALF_OPEN)
        return;
    switch (b->state) {
    case BREAKER_CLOSED:
        record_closed(b, o, now_ms);
        break;
    case BREAKER_HALF_OPEN:
        record_half_open(b, o, now_ms);
        break;
    case BREAKER_OPEN:
        break; /* let through before it opened: already judged */
    }
}

enum breaker_state breaker_state(struct breaker *b, int64_t now_ms)
{
    advance(b, now_ms);
    return b->state;
}

const char *breaker_state_name(enum breaker_state s)
{
    switch (s) {
    case BREAKER_CLOSED:
        return "closed";
    case BREAKER_OPEN:
        return "open";
    case BREAKER_HALF_OPEN:
        return "half_open";
    }
    return "unknown";
}

enum breaker_outcome breaker_classify(int succeeded, enum prov_class cls, enum prov_kind kind)
{
    if (succeeded)
        return BREAKER_SUCCESS;
    switch (kind) {
    case PROV_K_AUTH:
    case PROV_K_NO_CREDIT:
        return BREAKER_TRIP;
    case PROV_K_INVALID_INPUT:
    case PROV_K_RATE_LIMITED:
    case PROV_K_NOT_READY:
    case PROV_K_NOT_FOUND:
        return BREAKER_IGNORE;
    case PROV_K_UNAVAILABLE:
    case PROV_K_TASK_FAILED:
        return BREAKER_FAILURE;
    case PROV_K_NONE:
        break;
    }
    return cls == PROV_C_NONE ? BREAKER_IGNORE : BREAKER_FAILURE;
}

void breaker_get_stats(struct breaker *b, int64_t now_ms, struct breaker_stats *out)
{
    advance(b, now_ms);
    memset(out, 0, sizeof *out);
    out->state = b->state;
    out->calls = b->n;
    out->failures = b->failures;
    out->opened = b->opened;
    out->rejected = b->rejected;
}
