/* config_callbacks.c — the callbacks group: where the callback listener
 * binds, the public URL providers post to, and the two secrets that verify
 * them (KIE's HMAC key, Replicate's whsec_ webhook secret), read from the
 * environment variables the group names. Secrets never reach a message.
 *
 * Defaults leave the listener off (listen = ""); the group is optional.
 * A listener on an address other than loopback needs both keys, or
 * allow_unsigned = true written out: an unsigned receiver reachable from
 * outside lets anyone post events (review H-4). */
#include "conf/loader.h"

#include <arpa/inet.h>
#include <libconfig.h>
#include <string.h>

static const struct conf_ld_field callbacks_fields[] = {
    CLD_FSTR(struct conf_callbacks, listen, 0, NULL),
    CLD_FSTR(struct conf_callbacks, public_url, 0, NULL),
    CLD_FSTR(struct conf_callbacks, kie_hmac_key_env, CLD_F_NONEMPTY, NULL),
    CLD_FSTR(struct conf_callbacks, webhook_secret_env, CLD_F_NONEMPTY, NULL),
    CLD_FINT(struct conf_callbacks, tolerance_s, 1, 86400, 0),
    CLD_FINT(struct conf_callbacks, safety_poll_s, 1, CLD_NOMAX, 0),
    CLD_FINT(struct conf_callbacks, max_connections, 1, 4096, 0),
    CLD_FINT(struct conf_callbacks, max_connections_per_ip, 1, 4096, 0),
};
static const char *const callbacks_extra[] = { "allow_unsigned", NULL };

/* 1 when the host of "host:port" is a loopback address (127/8, ::1,
 * localhost); "" and wildcard hosts are not. */
static int listen_is_loopback(const char *listen)
{
    const char *colon = strrchr(listen, ':');
    size_t n = colon ? (size_t)(colon - listen) : 0;
    char host[64];
    if (n >= 2 && listen[0] == '[' && listen[n - 1] == ']') {
        listen++;
        n -= 2;
    }
    if (n == 0 || n >= sizeof host)
        return 0;
    memcpy(host, listen, n);
    host[n] = '\0';
    unsigned char a[16];
    if (inet_pton(AF_INET, host, a) == 1)
        return a[0] == 127;
    if (inet_pton(AF_INET6, host, a) == 1)
        return memcmp(a, (const unsigned char[16]){ [15] = 1 }, 16) == 0;
    return strcmp(host, "localhost") == 0;
}

/* allow_unsigned: a boolean when present. */
static int load_allow_unsigned(struct conf_ld *ld, config_setting_t *g, struct conf_callbacks *cb)
{
    config_setting_t *s = config_setting_get_member(g, "allow_unsigned");
    if (!s)
        return 0;
    if (config_setting_type(s) != CONFIG_TYPE_BOOL)
        return conf_ld_fail(ld, s, "callbacks.allow_unsigned: must be true or false");
    cb->allow_unsigned = config_setting_get_bool(s);
    return 0;
}

int conf_ld_load_callbacks(struct conf_ld *ld, config_setting_t *root, struct conf_callbacks *cb)
{
    config_setting_t *g;
    cb->tolerance_s = 300;
    cb->safety_poll_s = 60;
    cb->max_connections = 128;
    cb->max_connections_per_ip = 16;
    if (conf_ld_set_str(&cb->listen, "") != 0 || conf_ld_set_str(&cb->public_url, "") != 0)
        return conf_ld_fail(ld, root, "out of memory");
    if (conf_ld_get_group(ld, root, "", "callbacks", &g) != 0)
        return -1;
    if (!g)
        return 0;
    if (conf_ld_load_fields(ld, g, "callbacks", callbacks_fields, CLD_NFIELDS(callbacks_fields), cb,
                            callbacks_extra) != 0 ||
        load_allow_unsigned(ld, g, cb) != 0)
        return -1;
    if (!conf_ld_valid_listen(cb->listen))
        return conf_ld_fail(
                ld, conf_ld_member_or_self(g, "listen"),
                "callbacks.listen: must be \"host:port\" (port 1..65535) or \"\" to disable");
    if (cb->listen[0] != '\0' && cb->public_url[0] == '\0')
        return conf_ld_fail(
                ld, conf_ld_member_or_self(g, "public_url"),
                "callbacks.public_url: required when callbacks.listen is set (the base URL providers can reach)");
    if (cb->public_url[0] != '\0' && !conf_ld_valid_base_url(cb->public_url))
        return conf_ld_fail(
                ld, conf_ld_member_or_self(g, "public_url"),
                "callbacks.public_url: must start with http:// or https:// and name a host");
    conf_ld_strip_slashes(cb->public_url);
    if (cb->kie_hmac_key_env &&
        conf_ld_resolve_secret(ld, conf_ld_member_or_self(g, "kie_hmac_key_env"),
                               "callbacks.kie_hmac_key_env", cb->kie_hmac_key_env,
                               &cb->kie_hmac_key) != 0)
        return -1;
    if (cb->webhook_secret_env) {
        config_setting_t *s = conf_ld_member_or_self(g, "webhook_secret_env");
        if (conf_ld_resolve_secret(ld, s, "callbacks.webhook_secret_env", cb->webhook_secret_env,
                                   &cb->webhook_secret) != 0)
            return -1;
        if (strncmp(cb->webhook_secret, "whsec_", 6) != 0 || cb->webhook_secret[6] == '\0')
            return conf_ld_fail(
                    ld, s,
                    "callbacks.webhook_secret_env: environment variable %s does not hold a whsec_... secret",
                    cb->webhook_secret_env);
    }
    if (cb->listen[0] != '\0' && !listen_is_loopback(cb->listen) && !cb->allow_unsigned &&
        (!cb->kie_hmac_key || !cb->webhook_secret))
        return conf_ld_fail(
                ld, conf_ld_member_or_self(g, "listen"),
                "callbacks.listen: %s is not a loopback address, so both kie_hmac_key_env and "
                "webhook_secret_env are required (%s missing); or write allow_unsigned = true "
                "to accept unsigned callbacks from anywhere",
                cb->listen, !cb->kie_hmac_key ? "kie_hmac_key_env" : "webhook_secret_env");
    if (cb->max_connections_per_ip > cb->max_connections)
        return conf_ld_fail(
                ld, conf_ld_member_or_self(g, "max_connections_per_ip"),
                "callbacks.max_connections_per_ip: must not exceed max_connections (%d)",
                cb->max_connections);
    return 0;
}
