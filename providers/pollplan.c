/* pollplan.c — the generation-time estimate and the poll schedule built from it.
 *
 * Estimate: PP_BINS bins; bin 0 is [0, 250 ms), the others are log-spaced up
 * to 1 h (each ~10.5 % wider than the last: about 2.5 s wide around 25 s,
 * finer than the 48–64 bins one might start from, because the schedule's
 * cost grows with how wide the estimate is, and a 4 s bin would smear a
 * 20–30 s distribution by a third). Times past 1 h land in the last bin.
 * Inside a bin the density is flat, so the survival S is linear there and
 * everything below — Λ(t), its inverse, the expected lag — is integrated
 * exactly per bin, with no sampling grid.
 *
 * Schedule: with density f, survival S and hazard h = f/S, a poll rate λ(t)
 * costs N = ∫ λ S dt polls and leaves a mean lag D = ∫ f / (2λ) dt; the
 * optimum of N at fixed D is λ = c·sqrt(h). Polls go where Λ(t) = c ∫
 * sqrt(h) crosses 1, 2, 3, ...; in a flat-density bin ∫ sqrt(f/S) dt =
 * 2 (sqrt(S_a) - sqrt(S_b)) / sqrt(f), which inverts in closed form. The
 * continuous optimum c = K / (2D), K = ∫ sqrt(f S) dt, is only a start: the
 * discrete schedule's exact lag differs (polls are few: ~3 around the mode),
 * so c is bisected until the discrete expected lag equals max_lag_ms (≤, to
 * 1 %). Gaps are clamped to [min_interval_ms, max_interval_ms]; once less
 * than 0.01 % of the mass is left, the schedule ends and polls fall back to
 * every max_interval_ms.
 *
 * Invariants: w[] >= 0 and total = Σ w > 0; sched[] ascending. */
#include "pollplan.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define PP_BINS 96
#define PP_T0_MS 250.0
#define PP_T1_MS 3600000.0
#define PP_MEMORY 150.0      /* effective memory, in observations */
#define PP_PRIOR_WEIGHT 10.0 /* the prior counts as this many observations */
#define PP_REBUILD_EVERY 8   /* observations between schedule rebuilds */
#define PP_MAX_POLLS 64
#define PP_TAIL_MASS 1e-4    /* the schedule ends when less mass is left */
#define PP_STRAGGLERS 0.002  /* see get_shape() */

struct pollplan {
    struct conf_poll cfg;
    double edge[PP_BINS + 1];
    double w[PP_BINS];
    double total;
    uint64_t n_obs;
    int since_build; /* observations since the schedule was built; < 0 = never built */
    int64_t sched[PP_MAX_POLLS];
    size_t n_sched;
};

/* Per-bin density and the survival at each edge, from the weights. */
struct shape {
    double f[PP_BINS];
    double s[PP_BINS + 1];
};

static void seed_prior(struct pollplan *pp)
{
    double mu = log((double)pp->cfg.expect_median_ms), sg = pp->cfg.expect_sigma;
    double prev = 0;
    for (int k = 0; k < PP_BINS; k++) {
        double cdf = k == PP_BINS - 1 ? 1.0 : 0.5 * erfc(-(log(pp->edge[k + 1]) - mu) / (sg * M_SQRT2));
        pp->w[k] = PP_PRIOR_WEIGHT * (cdf - prev) + 1e-12; /* never exactly 0: a tail stays reachable */
        prev = cdf;
    }
    pp->total = 0;
    for (int k = 0; k < PP_BINS; k++)
        pp->total += pp->w[k];
    pp->since_build = -1;
}

struct pollplan *pollplan_new(const struct conf_poll *cfg)
{
    struct pollplan *pp = calloc(1, sizeof *pp);
    if (!pp)
        return NULL;
    pp->cfg = *cfg;
    double r = pow(PP_T1_MS / PP_T0_MS, 1.0 / (PP_BINS - 1));
    pp->edge[0] = 0;
    for (int k = 1; k <= PP_BINS; k++)
        pp->edge[k] = PP_T0_MS * pow(r, k - 1);
    seed_prior(pp);
    return pp;
}

void pollplan_free(struct pollplan *pp)
{
    free(pp);
}

void pollplan_configure(struct pollplan *pp, const struct conf_poll *cfg)
{
    int reprior = cfg->expect_median_ms != pp->cfg.expect_median_ms || cfg->expect_sigma != pp->cfg.expect_sigma;
    pp->cfg = *cfg;
    if (reprior)
        seed_prior(pp);
    pp->since_build = -1;
}

uint64_t pollplan_observations(const struct pollplan *pp)
{
    return pp->n_obs;
}

/* The distribution the schedule is planned over: the estimate, mixed with
 * PP_STRAGGLERS of mass spread evenly in log time over the whole range.
 * Past the observed bulk the estimate says nothing reliable (a task still
 * running at p99.9 of a narrow distribution is more likely stuck than about
 * to finish); the straggler part gives that tail a falling hazard, so gaps
 * there grow to max_interval_ms instead of shrinking, and its lag is paid
 * for inside max_lag_ms like everything else. */
static void get_shape(const struct pollplan *pp, struct shape *sh)
{
    double log_span = log(PP_T1_MS / PP_T0_MS);
    sh->s[0] = 1.0;
    for (int k = 0; k < PP_BINS; k++) {
        double u = k == 0 ? 0 : log(pp->edge[k + 1] / pp->edge[k]) / log_span;
        double p = (1.0 - PP_STRAGGLERS) * pp->w[k] / pp->total + PP_STRAGGLERS * u;
        sh->f[k] = p / (pp->edge[k + 1] - pp->edge[k]);
        sh->s[k + 1] = sh->s[k] - p;
        if (sh->s[k + 1] < 0)
            sh->s[k + 1] = 0;
    }
}

/* The bin holding t (t past the last edge: the last bin). */
static int bin_of(const struct pollplan *pp, double t)
{
    if (t >= pp->edge[PP_BINS])
        return PP_BINS - 1;
    int lo = 0, hi = PP_BINS - 1;
    while (lo < hi) {
        int mid = (lo + hi + 1) / 2;
        if (pp->edge[mid] <= t)
            lo = mid;
        else
            hi = mid - 1;
    }
    return lo;
}

static double surv(const struct pollplan *pp, const struct shape *sh, double t)
{
    if (t <= 0)
        return 1.0;
    if (t >= pp->edge[PP_BINS])
        return 0.0;
    int k = bin_of(pp, t);
    double s = sh->s[k] - sh->f[k] * (t - pp->edge[k]);
    return s > 0 ? s : 0;
}

void pollplan_observe(struct pollplan *pp, int64_t lo_ms, int64_t hi_ms)
{
    double lo = lo_ms > 0 ? (double)lo_ms : 0, hi = (double)hi_ms;
    if (lo > PP_T1_MS)
        lo = PP_T1_MS;
    if (hi > PP_T1_MS)
        hi = PP_T1_MS;
    if (hi <= lo)
        hi = lo + 1;
    double decay = 1.0 - 1.0 / PP_MEMORY;
    for (int k = 0; k < PP_BINS; k++)
        pp->w[k] *= decay;
    int k0 = bin_of(pp, lo), k1 = bin_of(pp, hi - 1e-9);
    double share[PP_BINS], em = 0, flat = 0;
    for (int k = k0; k <= k1; k++) {
        double a = fmax(lo, pp->edge[k]), b = fmin(hi, pp->edge[k + 1]);
        double width = pp->edge[k + 1] - pp->edge[k];
        double ov = b > a ? (b - a) / width : 0;
        if (lo >= pp->edge[PP_BINS - 1] && k == PP_BINS - 1)
            ov = 1; /* everything past the last edge */
        share[k] = ov;
        flat += ov * width;
        em += ov * pp->w[k];
    }
    for (int k = k0; k <= k1; k++) {
        double width = pp->edge[k + 1] - pp->edge[k];
        pp->w[k] += em > 1e-300 ? share[k] * pp->w[k] / em : share[k] * width / flat;
    }
    pp->total = 0;
    for (int k = 0; k < PP_BINS; k++)
        pp->total += pp->w[k];
    pp->n_obs++;
    if (pp->since_build >= 0)
        pp->since_build++;
}

double pollplan_quantile(const struct pollplan *pp, double q)
{
    double want = q * pp->total, acc = 0;
    for (int k = 0; k < PP_BINS; k++) {
        if (acc + pp->w[k] >= want) {
            double frac = pp->w[k] > 0 ? (want - acc) / pp->w[k] : 0;
            return pp->edge[k] + frac * (pp->edge[k + 1] - pp->edge[k]);
        }
        acc += pp->w[k];
    }
    return pp->edge[PP_BINS];
}

/* Append t to the schedule, clamped: no gap under min_interval_ms, and
 * forced polls wherever a gap would exceed max_interval_ms (so a stretch
 * with no hazard, e.g. before the mass, still sees one every max). */
static void emit(const struct conf_poll *cfg, int64_t *out, size_t *n, double t)
{
    double prev = *n ? (double)out[*n - 1] : 0;
    while (*n < PP_MAX_POLLS && t > prev + cfg->max_interval_ms) {
        prev += cfg->max_interval_ms;
        out[(*n)++] = (int64_t)prev;
    }
    if (t < prev + cfg->min_interval_ms)
        t = prev + cfg->min_interval_ms;
    if (*n < PP_MAX_POLLS)
        out[(*n)++] = (int64_t)ceil(t);
}

/* The schedule for rate constant c: polls where c ∫ sqrt(h) crosses each integer. */
static size_t build(const struct pollplan *pp, const struct shape *sh, double c, int64_t *out)
{
    size_t n = 0;
    double lam = 0, target = 1;
    for (int k = 0; k < PP_BINS && n < PP_MAX_POLLS; k++) {
        double sa = sh->s[k], sb = sh->s[k + 1], f = sh->f[k];
        if (sa < PP_TAIL_MASS)
            break;
        if (f <= 0)
            continue;
        double rf = sqrt(f), d = 2.0 * c * (sqrt(sa) - sqrt(sb)) / rf;
        while (lam + d >= target && n < PP_MAX_POLLS) {
            double r = sqrt(sa) - (target - lam) * rf / (2.0 * c);
            double st = r > 0 ? r * r : 0;
            emit(&pp->cfg, out, &n, pp->edge[k] + (sa - st) / f);
            target += 1;
        }
        lam += d;
    }
    return n;
}

/* ∫_x^y (p - t) f(t) dt over the piecewise-flat density. */
static double lag_between(const struct pollplan *pp, const struct shape *sh, double x, double y, double p)
{
    double sum = 0;
    if (y > pp->edge[PP_BINS])
        y = pp->edge[PP_BINS];
    for (int k = bin_of(pp, x); k < PP_BINS && pp->edge[k] < y; k++) {
        double a = fmax(x, pp->edge[k]), b = fmin(y, pp->edge[k + 1]);
        if (b > a)
            sum += sh->f[k] * ((p - a) * (p - a) - (p - b) * (p - b)) / 2.0;
    }
    return sum;
}

static void evaluate(const struct pollplan *pp, const struct shape *sh, const int64_t *sched, size_t n,
                     double *polls, double *lag)
{
    double np = 0, d = 0, prev = 0;
    for (size_t i = 0; i < n; i++) {
        double p = (double)sched[i];
        np += surv(pp, sh, prev); /* poll i is sent if the task outlived poll i-1 */
        d += lag_between(pp, sh, prev, p, p);
        prev = p;
    }
    /* Past the schedule: a poll every max_interval_ms, half of one late on average. */
    double tail = surv(pp, sh, prev), mi = pp->cfg.max_interval_ms;
    if (tail > 0) {
        double resid = 0;
        for (int k = bin_of(pp, prev); k < PP_BINS; k++) {
            double a = fmax(prev, pp->edge[k]), b = pp->edge[k + 1];
            if (b > a)
                resid += sh->f[k] * (b - a) * ((a + b) / 2.0 - prev);
        }
        np += tail + resid / mi;
        d += tail * mi / 2.0;
    }
    *polls = np;
    *lag = d;
}

void pollplan_evaluate(const struct pollplan *pp, const int64_t *sched, size_t n, double *polls, double *lag_ms)
{
    struct shape sh;
    get_shape(pp, &sh);
    evaluate(pp, &sh, sched, n, polls, lag_ms);
}

static void rebuild(struct pollplan *pp)
{
    struct shape sh;
    get_shape(pp, &sh);
    double k_int = 0; /* K = ∫ sqrt(f S) dt, per bin with S linear: Simpson's rule */
    for (int k = 0; k < PP_BINS; k++) {
        double wdt = pp->edge[k + 1] - pp->edge[k], sm = (sh.s[k] + sh.s[k + 1]) / 2.0;
        k_int += wdt * sqrt(sh.f[k]) * (sqrt(sh.s[k]) + 4.0 * sqrt(sm) + sqrt(sh.s[k + 1])) / 6.0;
    }
    double target = pp->cfg.max_lag_ms;
    double c0 = k_int / (2.0 * target);
    double lo = c0 / 8.0, hi = c0 * 8.0; /* find the smallest c whose lag is within target */
    int64_t tmp[PP_MAX_POLLS];
    size_t n = build(pp, &sh, hi, pp->sched);
    for (int it = 0; it < 30 && hi / lo > 1.002; it++) {
        double mid = sqrt(lo * hi), np, d;
        size_t m = build(pp, &sh, mid, tmp);
        evaluate(pp, &sh, tmp, m, &np, &d);
        if (d <= target) {
            hi = mid;
            memcpy(pp->sched, tmp, m * sizeof *tmp);
            n = m;
        } else {
            lo = mid;
        }
    }
    pp->n_sched = n;
    pp->since_build = 0;
}

static void ensure_built(struct pollplan *pp)
{
    if (pp->since_build < 0 || pp->since_build >= PP_REBUILD_EVERY)
        rebuild(pp);
}

int64_t pollplan_next_ms(struct pollplan *pp, int64_t elapsed_ms, int first)
{
    const struct conf_poll *c = &pp->cfg;
    if (c->mode == CONF_POLL_FIXED)
        return first ? c->first_ms : c->interval_ms;
    ensure_built(pp);
    size_t lo = 0, hi = pp->n_sched; /* first instant > elapsed */
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        if (pp->sched[mid] <= elapsed_ms)
            lo = mid + 1;
        else
            hi = mid;
    }
    int64_t d = lo < pp->n_sched ? pp->sched[lo] - elapsed_ms : c->max_interval_ms;
    if (d < c->min_interval_ms)
        d = c->min_interval_ms;
    if (d > c->max_interval_ms)
        d = c->max_interval_ms;
    return d;
}

size_t pollplan_schedule(struct pollplan *pp, int64_t *out, size_t cap)
{
    ensure_built(pp);
    for (size_t i = 0; i < pp->n_sched && i < cap; i++)
        out[i] = pp->sched[i];
    return pp->n_sched;
}

void pollplan_expect(struct pollplan *pp, double *polls, double *lag_ms)
{
    if (pp->since_build != 0)
        rebuild(pp); /* the schedule of the estimate as it is now */
    pollplan_evaluate(pp, pp->sched, pp->n_sched, polls, lag_ms);
}
