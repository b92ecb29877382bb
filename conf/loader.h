/* loader.h — internal to conf/: the table-driven machinery the libconfig
 * loader is built from. Not part of the public interface (that is
 * conf/config.h); only conf/config*.c and conf/loader.c include it.
 *
 * Every function that reports an error writes "FILE:LINE: message" through
 * conf_ld_fail() into the loader state and returns -1; 0 means success. All
 * of it runs at load time only, never from a loop callback. Setting pointers
 * are borrowed from the libconfig tree being loaded. */
#ifndef CONF_LOADER_H
#define CONF_LOADER_H

#include <libconfig.h>
#include <limits.h>
#include <stddef.h>

#include "conf/config.h"

/* Loader state: where messages go and which file they name. */
struct conf_ld {
    const char *file; /* file name (or the name given to conf_load_string) */
    char *err;
    size_t errlen;
};

/* ---- field tables ------------------------------------------------------- */

/* CLD_K_ENUM: a string from choices, stored as its index (int). */
enum conf_ld_kind { CLD_K_INT, CLD_K_DBL, CLD_K_STR, CLD_K_ENUM };

enum {
    CLD_F_REQ = 1u << 0,      /* missing is an error */
    CLD_F_LO_OPEN = 1u << 1,  /* numeric: must be > lo rather than >= lo */
    CLD_F_NONEMPTY = 1u << 2, /* string: "" is an error */
};

struct conf_ld_field {
    const char *key;
    enum conf_ld_kind kind;
    size_t off;    /* offset of the int / double / char * in the target struct */
    double lo, hi; /* numeric range; hi inclusive */
    unsigned flags;
    const char *const *choices; /* CLD_K_STR: allowed values, NULL-terminated; NULL = any */
};

#define CLD_NOMAX ((double)INT_MAX)
/* clang-format 14 breaks these up (a brace initializer that starts with #K). */
/* clang-format off */
#define CLD_FINT(S, K, LO, HI, FL) { #K, CLD_K_INT, offsetof(S, K), LO, HI, FL, NULL }
#define CLD_FDBL(S, K, LO, HI, FL) { #K, CLD_K_DBL, offsetof(S, K), LO, HI, FL, NULL }
#define CLD_FSTR(S, K, FL, CH) { #K, CLD_K_STR, offsetof(S, K), 0, 0, FL, CH }
#define CLD_FENUM(S, K, CH) { #K, CLD_K_ENUM, offsetof(S, K), 0, 0, 0, CH }
/* clang-format on */
#define CLD_NFIELDS(a) (sizeof(a) / sizeof((a)[0]))

/* ---- messages and strings ----------------------------------------------- */

/* Writes "FILE:LINE: message" for setting s (LINE 1 for the root, which has
 * none of its own; s may be NULL) and returns -1 so callers can
 * `return conf_ld_fail(...)`. */
int conf_ld_fail(struct conf_ld *ld, const config_setting_t *s, const char *fmt, ...)
        __attribute__((format(printf, 3, 4)));

/* "path.key", or just "key" when path is ""; written into buf (cut to n),
 * which is returned. */
const char *conf_ld_join(char *buf, size_t n, const char *path, const char *key);

/* "an integer", "a group", ... for a CONFIG_TYPE_* value; static storage. */
const char *conf_ld_type_name(int t);

/* Frees *dst and replaces it with a copy of src (NULL stays NULL). Returns
 * -1 on out of memory, *dst then unchanged; sets no message. */
int conf_ld_set_str(char **dst, const char *src);

/* ---- groups ------------------------------------------------------------- */

/* Loads string setting s (message name p) per field f into dst: a char * the
 * copy replaces (freed first), or for CLD_K_ENUM the int index of the choice. */
int conf_ld_load_string(struct conf_ld *ld, config_setting_t *s, const char *p,
                        const struct conf_ld_field *f, void *dst);

/* Rejects any member of group g that is neither one of the nf fields nor
 * in the NULL-terminated extra (which may be NULL). */
int conf_ld_check_keys(struct conf_ld *ld, config_setting_t *g, const char *path,
                       const struct conf_ld_field *f, size_t nf, const char *const *extra);

/* Checks the keys of group g, then loads every present field into base
 * (the struct the offsets refer to), over the defaults already there. */
int conf_ld_load_fields(struct conf_ld *ld, config_setting_t *g, const char *path,
                        const struct conf_ld_field *f, size_t nf, void *base,
                        const char *const *extra);

/* *out = member key of parent when it is a group, NULL when absent; an
 * error when it is present but not a group. */
int conf_ld_get_group(struct conf_ld *ld, config_setting_t *parent, const char *path,
                      const char *key, config_setting_t **out);

/* Member key of g for pointing a message at, or g itself when key is absent. */
config_setting_t *conf_ld_member_or_self(config_setting_t *g, const char *key);

/* Loads optional group `key` of parent through a field table into base. */
int conf_ld_load_subgroup(struct conf_ld *ld, config_setting_t *parent, const char *path,
                          const char *key, const struct conf_ld_field *f, size_t nf, void *base);

/* ---- shared checks ------------------------------------------------------ */

/* Reads the secret named by setting s (its value `env`, at `field`) from the
 * environment into *dst (freed with explicit_bzero by conf_free()). The
 * value never reaches a message. */
int conf_ld_resolve_secret(struct conf_ld *ld, config_setting_t *s, const char *field,
                           const char *env, char **dst);

/* 1 when v is "" or "host:port" with a numeric port 1..65535 (host may be "[v6]"). */
int conf_ld_valid_listen(const char *v);

/* 1 when u is "http(s)://host…". */
int conf_ld_valid_base_url(const char *u);

/* Removes trailing '/' from u in place. */
void conf_ld_strip_slashes(char *u);

/* 1 when s is at most 64 letters, digits, '-' or '_'. */
int conf_ld_valid_name(const char *s);

/* ---- group loaders in their own files ----------------------------------- */

/* kafka = { ... } (config_kafka.c): defaults, then the group and its
 * properties; the derived topic names when not given. */
int conf_ld_load_kafka(struct conf_ld *ld, config_setting_t *root, struct conf_kafka *k);

/* callbacks = { ... } (config_callbacks.c): defaults, then the group, then
 * the two secrets it names. */
int conf_ld_load_callbacks(struct conf_ld *ld, config_setting_t *root, struct conf_callbacks *cb);

/* templates = { name = { prompt = "..."; ... }; ... } (config_templates.c)
 * into c->templates; what it allocates is freed by conf_free(). */
int conf_ld_load_templates(struct conf_ld *ld, config_setting_t *root, struct conf *c);

#endif
