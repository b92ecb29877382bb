/* prov_util.h — internal to providers/: the toolkit a provider implementation
 * uses (bounded JSON reading, Retry-After, result and request building, URL
 * escaping, model lookup, the checks every provider makes), like
 * conf/loader.h for conf/. The interface every provider implements is
 * provider.h. All pure: no I/O, no clock, no globals. */
#ifndef PROVIDERS_PROV_UTIL_H
#define PROVIDERS_PROV_UTIL_H

#include <stddef.h>

#include "providers/provider.h"

/* Parse a Retry-After value (delta-seconds; HTTP dates are ignored) into ms, or -1. */
long prov_parse_retry_after(const char *value);

struct json_object;
/* Parse len bytes (no NUL needed) as one JSON value, depth <= 64; NULL when
 * empty, invalid, truncated or followed by garbage. Caller json_object_put()s. */
struct json_object *prov_json_parse(const char *body, size_t len);
/* o[key] as a string (borrowed from o), or NULL when absent / not a string. */
const char *prov_json_str(struct json_object *o, const char *key);
/* o[key] as an integer (int, integral double or numeric string): 1, else 0. */
int prov_json_int(struct json_object *o, const char *key, long *val);
/* Set outcome FAILED, cls, kind and a printf-style message (truncated). */
void prov_result_fail(struct prov_result *r, enum prov_class cls, enum prov_kind kind,
                      const char *fmt, ...) __attribute__((format(printf, 4, 5)));
void prov_result_set_code(struct prov_result *r, const char *code); /* copies, truncated */
int prov_result_add_url(struct prov_result *r, const char *url);    /* copies; SY_OK / SY_ERR */
/* Why url[0..n) is not an acceptable result URL ("not http(s)", ...), or
 * NULL when it is: http:// or https:// and a host, at most
 * PROV_MAX_URL_BYTES, no NUL, control character or whitespace. Pure. */
const char *prov_result_url_problem(const char *url, size_t n);
/* Add result URL url[0..n) from a provider reply (copied) when
 * prov_result_url_problem() finds nothing and r has fewer than
 * PROV_MAX_RESULT_URLS. SY_OK; SY_DECLINED when refused: r's URLs are then
 * dropped and r fails as invalid_reply, naming the URL's index (never the
 * URL); SY_ERR when out of memory. */
int prov_result_take_url(struct prov_result *r, const char *url, size_t n);
int prov_request_add_header(struct prov_request *r,
                            const char *header); /* copies; SY_ERR when full */
/* Percent-encode everything but RFC 3986 unreserved chars. Caller frees. */
char *prov_url_escape(const char *s);
/* The provider model for spec (its generate or edit name) and its entry in *m;
 * NULL with a reason in err when not mapped or the operation is unsupported. */
const char *prov_model_for(const struct conf_provider *p, const struct prov_task_spec *spec,
                           const struct conf_model **m, char *err, size_t errlen);
/* NULL/"png" → "png"; "jpeg"/"jpg" → m->jpeg_name (or dflt); anything else → NULL. */
const char *prov_output_format(const struct conf_model *m, const char *fmt, const char *dflt);
/* Length of base_url without trailing '/', for "%.*s". */
int prov_base_len(const char *base_url);
/* base_url without its trailing '/' followed by the parts a, b, c (each may
 * be NULL): a new string, or NULL without memory. No printf: it runs on
 * every request. */
char *prov_url_join(const char *base_url, const char *a, const char *b, const char *c);
/* Checks every provider makes: a prompt, at most max_images non-NULL image
 * URLs, a known output format (its spelling for m stored in *fmt).
 * SY_OK, or SY_DECLINED with a reason in err. */
int prov_check_spec(const struct conf_provider *p, const struct prov_task_spec *spec,
                    const struct conf_model *m, size_t max_images, const char *jpeg_default,
                    const char **fmt, char *err, size_t errlen);
/* Finish a JSON POST in out (url already set): body = plain text of root,
 * plus Content-Type. Drops root. SY_OK, or SY_ERR with out cleaned up. */
int prov_request_json(struct prov_request *out, struct json_object *root);
/* out = method {base_url}{prefix}{url-escaped task_id}{suffix}. SY_OK / SY_ERR. */
int prov_request_task(struct prov_request *out, enum prov_method method, const char *base_url,
                      const char *prefix, const char *task_id, const char *suffix);
/* Kind implied by an HTTP error status alone (401 AUTH, 429 RATE_LIMITED, 5xx UNAVAILABLE …). */
enum prov_kind prov_kind_from_status(long status);

/* Result URL u of a reply read with core/jread: prov_result_take_url() of
 * its bytes when u is a non-empty string (skipped, SY_OK, otherwise); SY_ERR
 * when out of memory. */
struct jread_val;
int prov_result_take_jread_url(struct prov_result *out, const struct jread_val *u);

#endif
