/* test_ledger.c — the task ledger's records and takeover map (queue/ledger).
 * Pure: no sockets, no sleeping. */
#include "queue/ledger.h"

#include <criterion/criterion.h>
#include <json-c/json.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/sy.h"

#include "testutil.h"

static struct ledger_rec created(int64_t offset, const char *task)
{
    struct ledger_rec r = {
        .state = LEDGER_CREATED, .offset = offset, .created_ms = 1764620000123LL, .attempt = 2
    };
    snprintf(r.provider, sizeof r.provider, "kie");
    snprintf(r.task_id, sizeof r.task_id, "%s", task);
    snprintf(r.worker, sizeof r.worker, "host-a:4242");
    return r;
}

static struct ledger_rec done(int64_t offset)
{
    struct ledger_rec r = { .state = LEDGER_DONE, .offset = offset };
    snprintf(r.status, sizeof r.status, "succeeded");
    return r;
}

/* Apply r encoded, as a record read from the topic. */
static void put(struct ledger_map *m, int32_t p, const char *id, const struct ledger_rec *r)
{
    size_t len = 0;
    char *v = r ? ledger_encode(r, &len) : NULL;
    if (r)
        cr_assert_not_null(v);
    cr_assert_eq(ledger_map_apply(m, p, id, strlen(id), v, len), SY_OK);
    free(v);
}

Test(ledger, created_round_trip)
{
    struct ledger_rec in = created(42, "task_google_7"), out;
    size_t len = 0;
    char *v = ledger_encode(&in, &len);
    cr_assert_not_null(v);
    cr_assert_eq(len, strlen(v));
    cr_assert(strstr(v, "\"v\":1") && strstr(v, "\"state\":\"created\"") &&
                      strstr(v, "\"offset\":42"),
              "%s", v);
    cr_assert_eq(ledger_decode(v, len, &out), SY_OK);
    cr_assert_eq(out.state, LEDGER_CREATED);
    cr_assert_eq(out.offset, 42);
    cr_assert_str_eq(out.provider, "kie");
    cr_assert_str_eq(out.task_id, "task_google_7");
    cr_assert_eq(out.created_ms, 1764620000123LL);
    cr_assert_eq(out.attempt, 2);
    cr_assert_str_eq(out.worker, "host-a:4242");
    free(v);
    assert_no_leaks();
}

Test(ledger, done_round_trip)
{
    struct ledger_rec in = done(7), out;
    size_t len = 0;
    char *v = ledger_encode(&in, &len);
    cr_assert_eq(ledger_decode(v, len, &out), SY_OK);
    cr_assert_eq(out.state, LEDGER_DONE);
    cr_assert_eq(out.offset, 7);
    cr_assert_str_eq(out.status, "succeeded");
    free(v);
    struct ledger_rec none = { .state = LEDGER_NONE };
    cr_assert_null(ledger_encode(&none, &len));
    assert_no_leaks();
}

struct bad_value {
    const char *json;
    int rc;
};

static const struct bad_value bad_values[] = {
    { "", SY_ERR },
    { "null", SY_ERR },
    { "[]", SY_ERR },
    { "{\"v\":1,\"state\":\"created\"", SY_ERR },                    /* cut */
    { "{\"v\":2,\"state\":\"created\",\"offset\":1}", SY_DECLINED }, /* a later version: skipped */
    { "{\"state\":\"done\",\"offset\":1}", SY_ERR },                 /* no version */
    { "{\"v\":1,\"state\":\"done\"}", SY_ERR },                      /* no offset */
    { "{\"v\":1,\"state\":\"done\",\"offset\":-1}", SY_ERR },
    { "{\"v\":1,\"state\":\"paid\",\"offset\":1}", SY_ERR },
    { "{\"v\":1,\"state\":\"created\",\"offset\":1,\"provider\":\"kie\",\"created_ms\":1}",
      SY_ERR }, /* no task */
    { "{\"v\":1,\"state\":\"created\",\"offset\":1,\"provider\":\"kie\",\"task_id\":\"\",\"created_ms\":1}",
      SY_ERR },
    { "{\"v\":1,\"state\":\"created\",\"offset\":1,\"provider\":5,\"task_id\":\"t\",\"created_ms\":1}",
      SY_ERR },
    { "{\"v\":1,\"state\":\"done\",\"offset\":\"1\"}", SY_ERR },
};

Test(ledger, bad_values)
{
    for (size_t i = 0; i < sizeof bad_values / sizeof bad_values[0]; i++) {
        struct ledger_rec out;
        int rc = ledger_decode(bad_values[i].json, strlen(bad_values[i].json), &out);
        cr_assert_eq(rc, bad_values[i].rc, "%s: %d", bad_values[i].json, rc);
        cr_assert_eq(out.state, LEDGER_NONE);
    }
    struct ledger_rec out;
    cr_assert_eq(ledger_decode(NULL, 0, &out), SY_ERR);
    assert_no_leaks();
}

/* A record applies to its own (partition, offset) only: the same id at
 * another offset (enqueued again) or on another partition runs as new. */
Test(ledger, take_matches_partition_offset_and_id)
{
    struct ledger_map *m = ledger_map_new();
    struct ledger_rec a = created(10, "t1"), b = done(11), out;
    put(m, 0, "job-a", &a);
    put(m, 0, "job-b", &b);
    put(m, 1, "job-c", &a);
    cr_assert_eq(ledger_map_count(m, 0), 2);
    cr_assert_eq(ledger_map_count(m, 1), 1);
    cr_assert_eq(ledger_map_count(m, 9), 0);
    cr_assert_eq(ledger_map_take(m, 0, 11, "job-a", &out), SY_DECLINED, "other offset");
    cr_assert_eq(ledger_map_take(m, 1, 10, "job-a", &out), SY_DECLINED, "other partition");
    cr_assert_eq(ledger_map_take(m, 0, 10, "job-x", &out), SY_DECLINED, "other id");
    cr_assert_eq(ledger_map_take(m, 5, 10, "job-a", &out), SY_DECLINED, "unknown partition");
    cr_assert_eq(ledger_map_take(m, 0, 10, "job-a", &out), SY_OK);
    cr_assert_eq(out.state, LEDGER_CREATED);
    cr_assert_str_eq(out.task_id, "t1");
    cr_assert_eq(ledger_map_take(m, 0, 10, "job-a", &out), SY_DECLINED, "taken once");
    cr_assert_eq(ledger_map_take(m, 0, 11, "job-b", &out), SY_OK);
    cr_assert_eq(out.state, LEDGER_DONE);
    cr_assert_eq(ledger_map_count(m, 0), 0);
    ledger_map_free(m);
    assert_no_leaks();
}

/* The last record per key wins; a tombstone (or garbage) removes it. */
Test(ledger, last_record_wins_and_tombstones)
{
    struct ledger_map *m = ledger_map_new();
    struct ledger_rec a = created(3, "t1"), d = done(3), out;
    put(m, 2, "j", &a);
    put(m, 2, "j", &d);
    cr_assert_eq(ledger_map_count(m, 2), 1);
    cr_assert_eq(ledger_map_take(m, 2, 3, "j", &out), SY_OK);
    cr_assert_eq(out.state, LEDGER_DONE);
    put(m, 2, "j", &a);
    put(m, 2, "j", NULL);
    cr_assert_eq(ledger_map_count(m, 2), 0);
    put(m, 2, "k", &a);
    cr_assert_eq(ledger_map_apply(m, 2, "k", 1, "{garbage", 8), SY_OK);
    cr_assert_eq(ledger_map_count(m, 2), 0, "an unreadable value drops the key");
    cr_assert_eq(ledger_map_apply(m, 2, "", 0, "{}", 2), SY_OK, "no key: ignored");
    cr_assert_eq(ledger_map_count(m, 2), 0);
    ledger_map_free(m);
    assert_no_leaks();
}

/* The floor (where the input resumes) drops stale records, hands their ids
 * back for tombstones, and keeps later stale ones out. */
Test(ledger, floor_drops_stale)
{
    struct ledger_map *m = ledger_map_new();
    char id[32];
    for (int i = 0; i < 1000; i++) {
        struct ledger_rec r = i % 2 ? done(i) : created(i, "t");
        snprintf(id, sizeof id, "job-%d", i);
        put(m, 0, id, &r);
    }
    cr_assert_eq(ledger_map_count(m, 0), 1000);
    char *ids[8];
    size_t n = ledger_map_floor(m, 0, 995, ids, 8);
    cr_assert_eq(n, 995);
    for (int i = 0; i < 8; i++) {
        cr_assert_not_null(ids[i]);
        cr_assert_eq(strncmp(ids[i], "job-", 4), 0);
        cr_assert_lt(strtol(ids[i] + 4, NULL, 10), 995);
        free(ids[i]);
    }
    cr_assert_eq(ledger_map_count(m, 0), 5);
    struct ledger_rec out, late = created(100, "t");
    put(m, 0, "late", &late);
    cr_assert_eq(ledger_map_take(m, 0, 100, "late", &out), SY_DECLINED,
                 "below the floor: not kept");
    cr_assert_eq(ledger_map_take(m, 0, 999, "job-999", &out), SY_OK);
    cr_assert_eq(ledger_map_floor(m, 0, 10, NULL, 0), 0, "the floor never moves back");
    cr_assert_eq(ledger_map_count(m, 0), 4);
    ledger_map_drop(m, 0);
    cr_assert_eq(ledger_map_count(m, 0), 0);
    ledger_map_drop(m, 77);
    ledger_map_free(m);
    ledger_map_free(NULL);
    assert_no_leaks();
}

/* The reference: the json-c tree ledger_encode used to build. */
static char *encode_tree(const struct ledger_rec *r)
{
    json_object *o = json_object_new_object();
    json_object_object_add(o, "v", json_object_new_int(LEDGER_VERSION));
    json_object_object_add(o, "state",
                           json_object_new_string(r->state == LEDGER_CREATED ? "created" : "done"));
    if (r->state == LEDGER_CREATED) {
        json_object_object_add(o, "provider", json_object_new_string(r->provider));
        json_object_object_add(o, "task_id", json_object_new_string(r->task_id));
        json_object_object_add(o, "created_ms", json_object_new_int64(r->created_ms));
        json_object_object_add(o, "attempt", json_object_new_int(r->attempt));
        json_object_object_add(o, "worker", json_object_new_string(r->worker));
    } else {
        json_object_object_add(o, "status", json_object_new_string(r->status));
    }
    json_object_object_add(o, "offset", json_object_new_int64(r->offset));
    char *s = strdup(json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN));
    json_object_put(o);
    return s;
}

static uint64_t rng = 0x9e3779b97f4a7c15ULL;

static uint64_t next_rand(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return rng;
}

/* Random bytes 1..255 (control bytes, quotes, slashes, invalid UTF-8), up to
 * the field's capacity, often short. */
static void rand_str(char *dst, size_t cap)
{
    size_t n = next_rand() % 4 == 0 ? cap - 1 : next_rand() % 12;
    for (size_t i = 0; i < n; i++)
        dst[i] = (char)(1 + next_rand() % 255);
    dst[n] = '\0';
}

static int64_t rand_i64(void)
{
    static const int64_t edge[] = { 0, -1, 1, INT64_MAX, INT64_MIN, 1764620000123LL };
    return next_rand() % 3 == 0 ? edge[next_rand() % 6] : (int64_t)next_rand();
}

Test(ledger, encode_matches_json_c)
{
    for (int i = 0; i < 20000; i++) {
        struct ledger_rec r = { .state = i % 3 ? LEDGER_CREATED : LEDGER_DONE,
                                .offset = rand_i64(),
                                .created_ms = rand_i64(),
                                .attempt = (int)next_rand() };
        rand_str(r.provider, sizeof r.provider);
        rand_str(r.task_id, sizeof r.task_id);
        rand_str(r.worker, sizeof r.worker);
        rand_str(r.status, sizeof r.status);
        size_t len = 0;
        char *got = ledger_encode(&r, &len);
        char *want = encode_tree(&r);
        cr_assert_not_null(got);
        cr_assert_eq(len, strlen(got));
        cr_assert_str_eq(got, want, "record %d", i);
        free(got);
        free(want);
    }
    assert_no_leaks();
}
