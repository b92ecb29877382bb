/* ledger.c — ledger records (JSON) and the takeover map.
 *
 * The map is one chained hash table per partition, keyed by job id, holding
 * the last record read for each key. Its size is bounded by the ledger
 * partition's live keys; entries leave when the input message they belong
 * to arrives (take), when the floor passes them, or with the partition. */
#include "ledger.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "core/jsonw.h"
#include "core/sy.h"

#define LM_MIN_BUCKETS 64

struct lm_entry {
    char *id;
    struct ledger_rec rec;
    struct lm_entry *next;
};

struct lm_part {
    struct lm_entry **b;
    size_t nb, n;
    int64_t floor; /* records below it are stale; -1 = unknown yet */
};

struct ledger_map {
    struct lm_part *parts;
    size_t n_parts;
};

static const char *state_name(enum ledger_state s)
{
    return s == LEDGER_CREATED ? "created" : s == LEDGER_DONE ? "done" : NULL;
}

/* Written directly (a json-c tree cost ~12k instructions per record, two
 * records per job); the output is what the tree gave, key order included:
 * json_object_to_json_string_ext(JSON_C_TO_STRING_PLAIN), so '/' is
 * escaped (JSONW_SLASH). */
char *ledger_encode(const struct ledger_rec *r, size_t *len)
{
    const char *st = state_name(r->state);
    if (!st)
        return NULL;
    struct jsonw o = { 0 };
    jsonw_lit(&o, "{\"v\":");
    jsonw_i64(&o, LEDGER_VERSION);
    jsonw_lit(&o, ",\"state\":");
    jsonw_str(&o, st, JSONW_SLASH);
    if (r->state == LEDGER_CREATED) {
        jsonw_lit(&o, ",\"provider\":");
        jsonw_str(&o, r->provider, JSONW_SLASH);
        jsonw_lit(&o, ",\"task_id\":");
        jsonw_str(&o, r->task_id, JSONW_SLASH);
        jsonw_lit(&o, ",\"created_ms\":");
        jsonw_i64(&o, r->created_ms);
        jsonw_lit(&o, ",\"attempt\":");
        jsonw_i64(&o, r->attempt);
        jsonw_lit(&o, ",\"worker\":");
        jsonw_str(&o, r->worker, JSONW_SLASH);
    } else {
        jsonw_lit(&o, ",\"status\":");
        jsonw_str(&o, r->status, JSONW_SLASH);
    }
    jsonw_lit(&o, ",\"offset\":");
    jsonw_i64(&o, r->offset);
    jsonw_lit(&o, "}");
    if (o.failed) {
        free(o.buf);
        return NULL;
    }
    if (len)
        *len = o.len;
    return o.buf;
}

static int get_str(json_object *o, const char *key, char *dst, size_t cap, int required)
{
    json_object *v;
    if (!json_object_object_get_ex(o, key, &v) || !json_object_is_type(v, json_type_string))
        return required ? SY_ERR : SY_OK;
    const char *s = json_object_get_string(v);
    size_t n = strlen(s);
    if (n == 0 || n >= cap)
        return SY_ERR;
    memcpy(dst, s, n + 1);
    return SY_OK;
}

static int get_int(json_object *o, const char *key, int64_t *dst, int required)
{
    json_object *v;
    if (!json_object_object_get_ex(o, key, &v) || !json_object_is_type(v, json_type_int))
        return required ? SY_ERR : SY_OK;
    *dst = json_object_get_int64(v);
    return SY_OK;
}

int ledger_decode(const void *val, size_t len, struct ledger_rec *out)
{
    memset(out, 0, sizeof *out);
    if (!val || len == 0 || len > 65536)
        return SY_ERR;
    json_tokener *tok = json_tokener_new();
    if (!tok)
        return SY_ERR;
    json_object *o = json_tokener_parse_ex(tok, val, (int)len);
    int complete = json_tokener_get_error(tok) == json_tokener_success;
    json_tokener_free(tok);
    int rc = SY_ERR;
    int64_t v = 0, attempt = 0;
    char st[16] = "";
    if (!complete || !o || !json_object_is_type(o, json_type_object) ||
        get_int(o, "v", &v, 1) != SY_OK)
        goto out;
    if (v != LEDGER_VERSION) {
        rc = SY_DECLINED;
        goto out;
    }
    if (get_str(o, "state", st, sizeof st, 1) != SY_OK ||
        get_int(o, "offset", &out->offset, 1) != SY_OK || out->offset < 0)
        goto out;
    if (strcmp(st, "created") == 0) {
        out->state = LEDGER_CREATED;
        if (get_str(o, "provider", out->provider, sizeof out->provider, 1) != SY_OK ||
            get_str(o, "task_id", out->task_id, sizeof out->task_id, 1) != SY_OK ||
            get_int(o, "created_ms", &out->created_ms, 1) != SY_OK ||
            get_int(o, "attempt", &attempt, 0) != SY_OK ||
            get_str(o, "worker", out->worker, sizeof out->worker, 0) != SY_OK || attempt < 0 ||
            attempt > 1000000)
            goto out;
        out->attempt = (int)attempt;
    } else if (strcmp(st, "done") == 0) {
        out->state = LEDGER_DONE;
        if (get_str(o, "status", out->status, sizeof out->status, 0) != SY_OK)
            goto out;
    } else {
        goto out;
    }
    rc = SY_OK;
out:
    json_object_put(o);
    if (rc != SY_OK)
        out->state = LEDGER_NONE;
    return rc;
}

/* ---- the map ---- */

static uint64_t hash(const char *s, size_t n)
{
    uint64_t h = 1469598103934665603ULL;
    for (size_t i = 0; i < n; i++) {
        h ^= (unsigned char)s[i];
        h *= 1099511628211ULL;
    }
    return h;
}

struct ledger_map *ledger_map_new(void)
{
    return calloc(1, sizeof(struct ledger_map));
}

static void part_clear(struct lm_part *lp)
{
    for (size_t i = 0; i < lp->nb; i++) {
        struct lm_entry *e = lp->b[i];
        while (e) {
            struct lm_entry *next = e->next;
            free(e->id);
            free(e);
            e = next;
        }
    }
    free(lp->b);
    lp->b = NULL;
    lp->nb = lp->n = 0;
    lp->floor = -1;
}

void ledger_map_free(struct ledger_map *m)
{
    if (!m)
        return;
    for (size_t p = 0; p < m->n_parts; p++)
        part_clear(&m->parts[p]);
    free(m->parts);
    free(m);
}

static struct lm_part *get_part(struct ledger_map *m, int32_t p, int create)
{
    if (p < 0)
        return NULL;
    if ((size_t)p >= m->n_parts) {
        if (!create)
            return NULL;
        size_t n = (size_t)p + 1;
        struct lm_part *np = realloc(m->parts, n * sizeof *np);
        if (!np)
            return NULL;
        for (size_t i = m->n_parts; i < n; i++) {
            memset(&np[i], 0, sizeof np[i]);
            np[i].floor = -1;
        }
        m->parts = np;
        m->n_parts = n;
    }
    return &m->parts[p];
}

static struct lm_entry **find(struct lm_part *lp, const char *id, size_t idlen)
{
    if (lp->nb == 0)
        return NULL;
    struct lm_entry **pp = &lp->b[hash(id, idlen) % lp->nb];
    while (*pp && !(strlen((*pp)->id) == idlen && memcmp((*pp)->id, id, idlen) == 0))
        pp = &(*pp)->next;
    return pp;
}

static int grow(struct lm_part *lp)
{
    size_t nb = lp->nb ? lp->nb * 2 : LM_MIN_BUCKETS;
    struct lm_entry **b = calloc(nb, sizeof *b);
    if (!b)
        return SY_ERR;
    for (size_t i = 0; i < lp->nb; i++) {
        struct lm_entry *e = lp->b[i];
        while (e) {
            struct lm_entry *next = e->next;
            size_t k = hash(e->id, strlen(e->id)) % nb;
            e->next = b[k];
            b[k] = e;
            e = next;
        }
    }
    free(lp->b);
    lp->b = b;
    lp->nb = nb;
    return SY_OK;
}

static void unlink_entry(struct lm_part *lp, struct lm_entry **pp)
{
    struct lm_entry *e = *pp;
    *pp = e->next;
    free(e->id);
    free(e);
    lp->n--;
}

int ledger_map_apply(struct ledger_map *m, int32_t p, const char *id, size_t idlen, const void *val,
                     size_t vlen)
{
    struct lm_part *lp = get_part(m, p, 1);
    if (!lp)
        return SY_ERR;
    if (!id || idlen == 0 || memchr(id, '\0', idlen))
        return SY_OK; /* not a job id: ignored */
    struct ledger_rec r;
    int ok = val && ledger_decode(val, vlen, &r) == SY_OK;
    struct lm_entry **pp = find(lp, id, idlen);
    if (!ok || (lp->floor >= 0 && r.offset < lp->floor)) {
        if (pp && *pp)
            unlink_entry(lp, pp); /* a tombstone (or a stale record) replaces what was there */
        return SY_OK;
    }
    if (pp && *pp) {
        (*pp)->rec = r;
        return SY_OK;
    }
    if (lp->n >= lp->nb * 2 && grow(lp) != SY_OK)
        return SY_ERR;
    struct lm_entry *e = calloc(1, sizeof *e);
    char *dup = e ? strndup(id, idlen) : NULL;
    if (!dup) {
        free(e);
        return SY_ERR;
    }
    e->id = dup;
    e->rec = r;
    pp = find(lp, id, idlen);
    e->next = *pp;
    *pp = e;
    lp->n++;
    return SY_OK;
}

size_t ledger_map_floor(struct ledger_map *m, int32_t p, int64_t next, char **ids, size_t cap)
{
    struct lm_part *lp = get_part(m, p, 1);
    if (!lp)
        return 0;
    if (next > lp->floor)
        lp->floor = next;
    size_t dropped = 0;
    for (size_t i = 0; i < lp->nb; i++) {
        struct lm_entry **pp = &lp->b[i];
        while (*pp) {
            if ((*pp)->rec.offset < lp->floor) {
                if (dropped < cap) {
                    ids[dropped] = (*pp)->id;
                    (*pp)->id = NULL;
                }
                dropped++;
                unlink_entry(lp, pp);
            } else {
                pp = &(*pp)->next;
            }
        }
    }
    return dropped;
}

int ledger_map_take(struct ledger_map *m, int32_t p, int64_t offset, const char *id,
                    struct ledger_rec *out)
{
    struct lm_part *lp = get_part(m, p, 0);
    if (!lp || !id)
        return SY_DECLINED;
    struct lm_entry **pp = find(lp, id, strlen(id));
    if (!pp || !*pp || (*pp)->rec.offset != offset)
        return SY_DECLINED;
    *out = (*pp)->rec;
    unlink_entry(lp, pp);
    return SY_OK;
}

size_t ledger_map_count(const struct ledger_map *m, int32_t p)
{
    return p >= 0 && (size_t)p < m->n_parts ? m->parts[p].n : 0;
}

void ledger_map_drop(struct ledger_map *m, int32_t p)
{
    struct lm_part *lp = get_part(m, p, 0);
    if (lp)
        part_clear(lp);
}
