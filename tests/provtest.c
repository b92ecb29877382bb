/* provtest.c — fixture reading and checks shared by the provider tests. */
#include "provtest.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <criterion/criterion.h>

char *provtest_read_fixture(const char *dir, const char *name, size_t *len)
{
    char path[512];
    snprintf(path, sizeof(path), "%s/%s/%s", SY_FIXTURES, dir, name);
    FILE *f = fopen(path, "rb");
    cr_assert_not_null(f, "cannot open %s", path);
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *buf = n > 0 ? malloc((size_t)n) : NULL;
    if (n > 0)
        cr_assert_eq(fread(buf, 1, (size_t)n, f), (size_t)n);
    fclose(f);
    *len = (size_t)(n > 0 ? n : 0);
    return buf;
}

void provtest_parse(const struct prov_ops *ops, enum provtest_parser w, const char *body,
                    size_t len, long http, const char *retry_after, struct prov_result *res)
{
    struct prov_reply r = {
        .http_status = http, .body = body, .body_len = len, .retry_after = retry_after
    };
    prov_result_init(res);
    if (w == PROVTEST_CREATE)
        ops->parse_create(&r, res);
    else
        ops->parse_poll(&r, res);
}

void provtest_expect_duration(const struct prov_ops *ops, const char *dir, const char *file,
                              const char *body, enum provtest_parser w, long http, long want_ms)
{
    size_t len = body ? strlen(body) : 0;
    char *fx = file ? provtest_read_fixture(dir, file, &len) : NULL;
    struct prov_result res;
    provtest_parse(ops, w, file ? fx : body, len, http, NULL, &res);
    if (!file)
        cr_expect_eq(res.outcome, PROV_SUCCEEDED, "%s", body);
    cr_expect_eq(res.duration_ms, want_ms, "%s: %ld ms", file ? file : body, res.duration_ms);
    prov_result_cleanup(&res);
    free(fx);
}

void provtest_check_fixture(const struct prov_ops *ops, const char *dir,
                            const struct provtest_fx *t, const char *url_prefix)
{
    size_t len;
    char *body = provtest_read_fixture(dir, t->file, &len);
    struct prov_result res;
    provtest_parse(ops, t->parser, body, len, t->http, t->retry_after[0] ? t->retry_after : NULL,
                   &res);
    cr_expect_eq(res.outcome, t->outcome, "%s: outcome %d, want %d (%s)", t->file, res.outcome,
                 t->outcome, res.message);
    cr_expect_eq(res.cls, t->cls, "%s: class %s, want %s", t->file, prov_class_name(res.cls),
                 prov_class_name(t->cls));
    cr_expect_eq(res.kind, t->kind, "%s: kind %d, want %d", t->file, res.kind, t->kind);
    cr_expect_str_eq(res.code, t->code, "%s: code \"%s\", want \"%s\"", t->file, res.code, t->code);
    cr_expect_eq(res.n_urls, t->n_urls, "%s: %zu urls", t->file, res.n_urls);
    cr_expect_eq(res.http_status, t->http);
    cr_expect_eq(res.retry_after_ms, t->retry_after_ms, "%s: retry_after_ms %ld", t->file,
                 res.retry_after_ms);
    if (t->task_id[0])
        cr_expect(res.task_id && strcmp(res.task_id, t->task_id) == 0, "%s: task_id %s", t->file,
                  res.task_id ? res.task_id : "(null)");
    else
        cr_expect_null(res.task_id, "%s: unexpected task_id", t->file);
    if (t->msg_has[0])
        cr_expect(strstr(res.message, t->msg_has) != NULL, "%s: message \"%s\" lacks \"%s\"",
                  t->file, res.message, t->msg_has);
    if (res.outcome == PROV_FAILED)
        cr_expect(res.message[0] != '\0', "%s: failure without a message", t->file);
    size_t plen = strlen(url_prefix);
    for (size_t i = 0; i < res.n_urls; i++)
        cr_expect(strncmp(res.urls[i], url_prefix, plen) == 0, "%s: url %s", t->file, res.urls[i]);
    prov_result_cleanup(&res);
    free(body);
}

void provtest_sweep(const struct prov_ops *ops, const char *dir, const struct provtest_fx *t,
                    unsigned flags)
{
    size_t len;
    char *body = provtest_read_fixture(dir, t->file, &len);
    const char *ra =
            (flags & PROVTEST_PREFIX_RETRY_AFTER) && t->retry_after[0] ? t->retry_after : NULL;
    size_t whole = len; /* the document without its trailing newline is complete */
    while (whole > 0 && (body[whole - 1] == '\n' || body[whole - 1] == '\r'))
        whole--;
    for (size_t n = 0; n < len; n++) {
        char *cut = n ? malloc(n) : NULL;
        if (n)
            memcpy(cut, body, n);
        for (int w = PROVTEST_CREATE; w <= PROVTEST_POLL; w++) {
            struct prov_result res;
            provtest_parse(ops, (enum provtest_parser)w, cut, n, t->http, ra, &res);
            cr_expect(memchr(res.message, '\0', sizeof(res.message)) != NULL);
            cr_expect(memchr(res.code, '\0', sizeof(res.code)) != NULL);
            if (n < whole)
                cr_expect_neq(res.outcome, PROV_SUCCEEDED, "%s: prefix %zu parsed as success",
                              t->file, n);
            if ((flags & PROVTEST_PREFIX_URLS) && res.outcome == PROV_SUCCEEDED)
                cr_expect_gt(res.n_urls, 0);
            if (res.outcome == PROV_CREATED)
                cr_expect(res.task_id && res.task_id[0]);
            prov_result_cleanup(&res);
        }
        free(cut);
    }
    /* single-byte mutations: quotes, brackets, digits, NUL, invalid UTF-8 */
    static const char subst[] = { '"', '{', ']', '0', '\0', '\xff', ' ' };
    char *mut = len ? malloc(len) : NULL;
    for (size_t i = 0; i < len; i++) {
        for (size_t k = 0; k < sizeof(subst); k++) {
            memcpy(mut, body, len);
            mut[i] = subst[k];
            struct prov_result res;
            provtest_parse(ops, (enum provtest_parser)(k % 2), mut, len, t->http, NULL, &res);
            cr_expect(memchr(res.message, '\0', sizeof(res.message)) != NULL);
            cr_expect(res.outcome != PROV_SUCCEEDED || res.n_urls > 0);
            prov_result_cleanup(&res);
        }
    }
    free(mut);
    free(body);
}

const char *provtest_jstr(struct json_object *o, const char *k1, const char *k2)
{
    struct json_object *v = NULL;
    if (!json_object_object_get_ex(o, k1, &v))
        return NULL;
    if (k2 && !json_object_object_get_ex(v, k2, &v))
        return NULL;
    return json_object_is_type(v, json_type_string) ? json_object_get_string(v) : NULL;
}

int provtest_has(struct json_object *o, const char *k1, const char *k2)
{
    struct json_object *v = NULL;
    if (!json_object_object_get_ex(o, k1, &v))
        return 0;
    return k2 ? json_object_object_get_ex(v, k2, NULL) : 1;
}
