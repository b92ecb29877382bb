/* pollplan.c — the generation-time estimate and the poll schedule built from it.
 *
 * Estimate: two views of the same observations, both with exponential
 * forgetting and both seeded by the prior at PP_PRIOR_WEIGHT observations.
 * - The fit: a lognormal from forgetting-weighted moments of y = ln T (Σw,
 *   Σw·y, Σw·y²). An exact observation adds y and y²; an interval adds the
 *   moments of y truncated to the interval under the current fit (one
 *   streaming EM step). Sharp: for 20–30 s generations (sigma 0.11) the
 *   whole spread is ~3 s, which a histogram bin of ~10 % would smear.
 * - The histogram: PP_BINS bins; bin 0 is [0, 250 ms), the others are
 *   log-spaced up to 1 h (each ~10.5 % wider than the last). Times past 1 h
 *   land in the last bin. Interval observations are spread over it by one
 *   EM step of the self-consistent (Turnbull) estimator. It is there for
 *   shapes a lognormal does not fit (two modes, a heavy shoulder).
 * The planning density is the fit, or — as far as the histogram departs
 * from the fit by more than sampling noise explains (total variation,
 * checked at each rebuild) — a blend toward the histogram, plus a small
 * straggler mass (get_shape()). It lives on a grid PP_SUB times finer than
 * the histogram (~3.4 % per cell); inside a cell the density is flat, so
 * the survival S is linear there and everything below — Λ(t), its inverse,
 * the expected lag — is integrated exactly per cell, with no sampling grid.
 *
 * Schedule: with density f, survival S and hazard h = f/S, a poll rate λ(t)
 * costs N = ∫ λ S dt polls and leaves a mean lag D = ∫ f / (2λ) dt; the
 * optimum of N at fixed D is λ = c·sqrt(h). Polls go where Λ(t) = c ∫
 * sqrt(h) crosses 1, 2, 3, ...; in a flat-density cell ∫ sqrt(f/S) dt =
 * 2 (sqrt(S_a) - sqrt(S_b)) / sqrt(f), which inverts in closed form. The
 * continuous optimum c = K / (2D), K = ∫ sqrt(f S) dt, is only a start: the
 * discrete schedule's exact lag differs (polls are few: ~3 around the mode),
 * so c is bisected until the discrete expected lag equals max_lag_ms (≤, to
 * 1 %). Gaps are clamped to [min_interval_ms, max_interval_ms]; once less
 * than 0.01 % of the mass is left, the schedule ends and polls fall back to
 * every max_interval_ms.
 *
 * Invariants: w[] >= 0, total = Σ w > 0, fw > 0; sched[] ascending. */
#include "pollplan.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define PP_BINS 96
#define PP_SUB 3 /* planning cells per histogram bin (bin 0: one) */
#define PP_CELLS (1 + (PP_BINS - 1) * PP_SUB)
#define PP_T0_MS 250.0
#define PP_T1_MS 3600000.0
#define PP_MEMORY 150.0     /* effective memory, in observations */
#define PP_PRIOR_WEIGHT 2.0 /* the prior counts as this many observations */
#define PP_MIN_SIGMA 0.01   /* the fit's sigma never goes below this */
#define PP_EXACT_REL 0.02   /* an interval narrower than this share of its end is a point */
#define PP_REBUILD_EVERY 8  /* observations between schedule rebuilds */
#define PP_MAX_POLLS 64
#define PP_TAIL_MASS 1e-4   /* the schedule ends when less mass is left */
#define PP_STRAGGLERS 0.002 /* see get_shape() */

struct pollplan {
    struct conf_poll cfg;
    double edge[PP_BINS + 1]; /* histogram bin edges, ms */
    double w[PP_BINS];
    double total;
    double cedge[PP_CELLS + 1]; /* planning cell edges, ms; cedge[1 + PP_SUB (k-1)] = edge[k] */
    double fw, fw2, fy, fy2;    /* the fit: Σw, Σw², Σw·y, Σw·y² over y = ln(ms) */
    double mix;                 /* histogram share of the planning density; 0 = the fit alone */
    uint64_t n_obs;
    int since_build; /* observations since the schedule was built; < 0 = never built */
    int64_t sched[PP_MAX_POLLS];
    size_t n_sched;
};

/* Per-cell density and the survival at each cell edge. */
struct shape {
    double f[PP_CELLS];
    double s[PP_CELLS + 1];
};

static double lognormal_cdf(double mu, double sg, double t)
{
    return t <= 0 ? 0.0 : 0.5 * erfc(-(log(t) - mu) / (sg * M_SQRT2));
}

static void fit_params(const struct pollplan *pp, double *mu, double *sg)
{
    *mu = pp->fy / pp->fw;
    double var = pp->fy2 / pp->fw - *mu * *mu;
    *sg = var > PP_MIN_SIGMA * PP_MIN_SIGMA ? sqrt(var) : PP_MIN_SIGMA;
}

static void seed_prior(struct pollplan *pp)
{
    double mu = log((double)pp->cfg.expect_median_ms), sg = pp->cfg.expect_sigma;
    double prev = 0;
    for (int k = 0; k < PP_BINS; k++) {
        double cdf = k == PP_BINS - 1 ? 1.0 : lognormal_cdf(mu, sg, pp->edge[k + 1]);
        pp->w[k] = PP_PRIOR_WEIGHT * (cdf - prev) +
                   1e-12; /* never exactly 0: a tail stays reachable */
        prev = cdf;
    }
    pp->total = 0;
    for (int k = 0; k < PP_BINS; k++)
        pp->total += pp->w[k];
    pp->fw = PP_PRIOR_WEIGHT;
    pp->fw2 = PP_PRIOR_WEIGHT * PP_PRIOR_WEIGHT;
    pp->fy = PP_PRIOR_WEIGHT * mu;
    pp->fy2 = PP_PRIOR_WEIGHT * (mu * mu + sg * sg);
    pp->mix = 0;
    pp->since_build = -1;
}

struct pollplan *pollplan_new(const struct conf_poll *cfg)
{
    struct pollplan *pp = calloc(1, sizeof *pp);
    if (!pp)
        return NULL;
    pp->cfg = *cfg;
    double r = pow(PP_T1_MS / PP_T0_MS, 1.0 / (PP_BINS - 1)), rc = pow(r, 1.0 / PP_SUB);
    pp->edge[0] = 0;
    for (int k = 1; k <= PP_BINS; k++)
        pp->edge[k] = PP_T0_MS * pow(r, k - 1);
    pp->cedge[0] = 0;
    for (int j = 1; j <= PP_CELLS; j++)
        pp->cedge[j] = PP_T0_MS * pow(rc, j - 1);
    pp->cedge[PP_CELLS] = PP_T1_MS;
    seed_prior(pp);
    return pp;
}

void pollplan_free(struct pollplan *pp)
{
    free(pp);
}

void pollplan_configure(struct pollplan *pp, const struct conf_poll *cfg)
{
    int reprior = cfg->expect_median_ms != pp->cfg.expect_median_ms ||
                  cfg->expect_sigma != pp->cfg.expect_sigma;
    pp->cfg = *cfg;
    if (reprior)
        seed_prior(pp);
    pp->since_build = -1;
}

uint64_t pollplan_observations(const struct pollplan *pp)
{
    return pp->n_obs;
}

/* The histogram bin holding t (t past the last edge: the last bin). */
static int hist_bin(const struct pollplan *pp, double t)
{
    if (t >= pp->edge[PP_BINS])
        return PP_BINS - 1;
    if (t < PP_T0_MS)
        return 0;
    int k = 1 + (int)floor(log(t / PP_T0_MS) / log(pp->edge[2] / pp->edge[1]));
    if (k > PP_BINS - 1)
        k = PP_BINS - 1;
    while (k > 1 && pp->edge[k] > t) /* rounding at an edge */
        k--;
    while (k < PP_BINS - 1 && pp->edge[k + 1] <= t)
        k++;
    return k;
}

/* The planning cell holding t (t past the last edge: the last cell). */
static int cell_of(const struct pollplan *pp, double t)
{
    if (t >= pp->cedge[PP_CELLS])
        return PP_CELLS - 1;
    int lo = 0, hi = PP_CELLS - 1;
    while (lo < hi) {
        int mid = (lo + hi + 1) / 2;
        if (pp->cedge[mid] <= t)
            lo = mid;
        else
            hi = mid - 1;
    }
    return lo;
}

/* The distribution the schedule is planned over: the fit, blended with the
 * histogram by mix, and PP_STRAGGLERS of mass spread evenly in log time over
 * the whole range. Past the observed bulk the estimate says nothing
 * reliable (a task still running at p99.9 of a narrow distribution is more
 * likely stuck than about to finish); the straggler part gives that tail a
 * falling hazard, so gaps there grow to max_interval_ms instead of
 * shrinking, and its lag is paid for inside max_lag_ms like everything else. */
static void get_shape(const struct pollplan *pp, struct shape *sh)
{
    double mu, sg, log_span = log(PP_T1_MS / PP_T0_MS), prev = 0;
    fit_params(pp, &mu, &sg);
    sh->s[0] = 1.0;
    for (int j = 0; j < PP_CELLS; j++) {
        double a = pp->cedge[j], b = pp->cedge[j + 1];
        double cdf = j == PP_CELLS - 1 ? 1.0 : lognormal_cdf(mu, sg, b);
        double g = cdf - prev;
        prev = cdf;
        int k = j == 0 ? 0 : 1 + (j - 1) / PP_SUB;
        double h = pp->w[k] / pp->total * (b - a) / (pp->edge[k + 1] - pp->edge[k]);
        double u = j == 0 ? 0 : log(b / a) / log_span;
        double p = (1.0 - PP_STRAGGLERS) * ((1.0 - pp->mix) * g + pp->mix * h) + PP_STRAGGLERS * u;
        sh->f[j] = p / (b - a);
        sh->s[j + 1] = sh->s[j] - p;
        if (sh->s[j + 1] < 0)
            sh->s[j + 1] = 0;
    }
}

/* How far the histogram departs from the fit, beyond sampling noise: the
 * total variation between them over the histogram bins, less twice what it
 * would be for an exact lognormal sample of the same effective size
 * (Σw)²/Σw², mapped to [0, 1]. 0 for a lognormal truth; near 1 for two
 * modes, where a single lognormal would be far too wide. */
static void update_mix(struct pollplan *pp)
{
    double mu, sg, prev = 0, tv = 0, noise = 0, n_eff = pp->fw * pp->fw / pp->fw2;
    fit_params(pp, &mu, &sg);
    for (int k = 0; k < PP_BINS; k++) {
        double cdf = k == PP_BINS - 1 ? 1.0 : lognormal_cdf(mu, sg, pp->edge[k + 1]);
        double g = cdf - prev;
        prev = cdf;
        tv += fabs(pp->w[k] / pp->total - g);
        noise += sqrt(g * (1.0 - g) / n_eff);
    }
    tv /= 2.0;
    noise *= 0.5 * sqrt(2.0 / M_PI); /* E|X| of a normal is sd·sqrt(2/π) */
    double m = (tv - 2.0 * noise - 0.05) / 0.25;
    pp->mix = m < 0 ? 0 : m > 1 ? 1 : m;
}

static double cell_surv(const struct pollplan *pp, const struct shape *sh, double t)
{
    if (t <= 0)
        return 1.0;
    if (t >= pp->cedge[PP_CELLS])
        return 0.0;
    int j = cell_of(pp, t);
    double s = sh->s[j] - sh->f[j] * (t - pp->cedge[j]);
    return s > 0 ? s : 0;
}

/* One EM step of the histogram on an observation in (lo, hi]. */
static void hist_add(struct pollplan *pp, double lo, double hi)
{
    double decay = 1.0 - 1.0 / PP_MEMORY;
    for (int k = 0; k < PP_BINS; k++)
        pp->w[k] *= decay;
    int k0 = hist_bin(pp, lo), k1 = hist_bin(pp, hi - 1e-9);
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
}

/* One streaming EM step of the fit on an observation in (lo, hi]: a narrow
 * interval counts as its midpoint; a wide one by the moments of ln T under
 * the current fit, truncated to the interval. */
static void fit_add(struct pollplan *pp, double lo, double hi)
{
    double ey, ey2;
    if (hi - lo <= PP_EXACT_REL * hi) {
        ey = log(fmax((lo + hi) / 2.0, 1.0));
        ey2 = ey * ey;
    } else {
        double mu, sg;
        fit_params(pp, &mu, &sg);
        double b = log(hi), beta = (b - mu) / sg;
        double alpha = lo > 0 ? (log(lo) - mu) / sg : -INFINITY;
        double pa = lo > 0 ? exp(-0.5 * alpha * alpha) / sqrt(2.0 * M_PI) : 0;
        double pb = exp(-0.5 * beta * beta) / sqrt(2.0 * M_PI);
        double z = 0.5 * erfc(-beta / M_SQRT2) - (lo > 0 ? 0.5 * erfc(-alpha / M_SQRT2) : 0);
        double apa = lo > 0 ? alpha * pa : 0;
        if (z > 1e-9) {
            double m = (pa - pb) / z;
            ey = mu + sg * m;
            double var = sg * sg * (1.0 + (apa - beta * pb) / z - m * m);
            ey2 = ey * ey + (var > 0 ? var : 0);
        } else { /* the interval is far out in the fit's tail: take it at face value */
            double a = lo > 0 ? log(lo) : b;
            ey = (a + b) / 2.0;
            ey2 = ey * ey + (b - a) * (b - a) / 12.0;
        }
    }
    double d = 1.0 - 1.0 / PP_MEMORY;
    pp->fw = pp->fw * d + 1.0;
    pp->fw2 = pp->fw2 * d * d + 1.0;
    pp->fy = pp->fy * d + ey;
    pp->fy2 = pp->fy2 * d + ey2;
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
    hist_add(pp, lo, hi);
    fit_add(pp, lo, hi);
    pp->n_obs++;
    if (pp->since_build >= 0)
        pp->since_build++;
}

void pollplan_observe_reported(struct pollplan *pp, int64_t lo_ms, int64_t hi_ms,
                               int64_t reported_ms)
{
    int64_t t = reported_ms;
    if (t < lo_ms)
        t = lo_ms;
    if (t > hi_ms)
        t = hi_ms;
    pollplan_observe(pp, t, t);
}

/* The planning density's CDF without the stragglers. */
static double mix_cdf(const struct pollplan *pp, double mu, double sg, double t)
{
    double h = 0;
    for (int k = 0; k < PP_BINS && pp->edge[k] < t; k++) {
        double frac =
                t >= pp->edge[k + 1] ? 1.0 : (t - pp->edge[k]) / (pp->edge[k + 1] - pp->edge[k]);
        h += frac * pp->w[k];
    }
    return (1.0 - pp->mix) * lognormal_cdf(mu, sg, t) + pp->mix * h / pp->total;
}

double pollplan_quantile(const struct pollplan *pp, double q)
{
    double mu, sg, lo = 0, hi = log(PP_T1_MS); /* bisect in ln(ms) */
    fit_params(pp, &mu, &sg);
    for (int it = 0; it < 60; it++) {
        double mid = (lo + hi) / 2.0;
        if (mix_cdf(pp, mu, sg, exp(mid)) < q)
            lo = mid;
        else
            hi = mid;
    }
    return exp((lo + hi) / 2.0);
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
    for (int j = 0; j < PP_CELLS && n < PP_MAX_POLLS; j++) {
        double sa = sh->s[j], sb = sh->s[j + 1], f = sh->f[j];
        if (sa < PP_TAIL_MASS)
            break;
        if (f <= 0)
            continue;
        double rf = sqrt(f), d = 2.0 * c * (sqrt(sa) - sqrt(sb)) / rf;
        while (lam + d >= target && n < PP_MAX_POLLS) {
            double r = sqrt(sa) - (target - lam) * rf / (2.0 * c);
            double st = r > 0 ? r * r : 0;
            emit(&pp->cfg, out, &n, pp->cedge[j] + (sa - st) / f);
            target += 1;
        }
        lam += d;
    }
    return n;
}

/* ∫_x^y (p - t) f(t) dt over the piecewise-flat density. */
static double lag_between(const struct pollplan *pp, const struct shape *sh, double x, double y,
                          double p)
{
    double sum = 0;
    if (y > pp->cedge[PP_CELLS])
        y = pp->cedge[PP_CELLS];
    for (int j = cell_of(pp, x); j < PP_CELLS && pp->cedge[j] < y; j++) {
        double a = fmax(x, pp->cedge[j]), b = fmin(y, pp->cedge[j + 1]);
        if (b > a)
            sum += sh->f[j] * ((p - a) * (p - a) - (p - b) * (p - b)) / 2.0;
    }
    return sum;
}

static void evaluate(const struct pollplan *pp, const struct shape *sh, const int64_t *sched,
                     size_t n, double *polls, double *lag)
{
    double np = 0, d = 0, prev = 0;
    for (size_t i = 0; i < n; i++) {
        double p = (double)sched[i];
        np += cell_surv(pp, sh, prev); /* poll i is sent if the task outlived poll i-1 */
        d += lag_between(pp, sh, prev, p, p);
        prev = p;
    }
    /* Past the schedule: a poll every max_interval_ms, half of one late on average. */
    double tail = cell_surv(pp, sh, prev), mi = pp->cfg.max_interval_ms;
    if (tail > 0) {
        double resid = 0;
        for (int j = cell_of(pp, prev); j < PP_CELLS; j++) {
            double a = fmax(prev, pp->cedge[j]), b = pp->cedge[j + 1];
            if (b > a)
                resid += sh->f[j] * (b - a) * ((a + b) / 2.0 - prev);
        }
        np += tail + resid / mi;
        d += tail * mi / 2.0;
    }
    *polls = np;
    *lag = d;
}

void pollplan_evaluate(const struct pollplan *pp, const int64_t *sched, size_t n, double *polls,
                       double *lag_ms)
{
    struct shape sh;
    get_shape(pp, &sh);
    evaluate(pp, &sh, sched, n, polls, lag_ms);
}

static void rebuild(struct pollplan *pp)
{
    update_mix(pp);
    struct shape sh;
    get_shape(pp, &sh);
    double k_int = 0; /* K = ∫ sqrt(f S) dt, per cell with S linear: Simpson's rule */
    for (int j = 0; j < PP_CELLS; j++) {
        double wdt = pp->cedge[j + 1] - pp->cedge[j], sm = (sh.s[j] + sh.s[j + 1]) / 2.0;
        k_int += wdt * sqrt(sh.f[j]) * (sqrt(sh.s[j]) + 4.0 * sqrt(sm) + sqrt(sh.s[j + 1])) / 6.0;
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
    /* The schedule may have been rebuilt since this task's last poll, and
     * shifted a little: an instant less than half its own gap ahead (the
     * gap before it; for the first instant, the one after) stands for the
     * poll this task just had, so the next one is meant. */
    if (!first && lo + 1 < pp->n_sched) {
        int64_t gap = lo > 0 ? pp->sched[lo] - pp->sched[lo - 1] : pp->sched[1] - pp->sched[0];
        if (2 * (pp->sched[lo] - elapsed_ms) < gap)
            lo++;
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
