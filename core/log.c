/* log.c — JSON-lines logger on stderr.
 *
 * Lines are built in one buffer and written with one write(2) so lines from
 * librdkafka's threads (routed here later) never interleave mid-line. */
#include "log.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "sy.h"

static enum log_level g_level = LOG_LVL_INFO;

static const char *const level_names[] = { "debug", "info", "warn", "error" };

void log_set_level(enum log_level lvl)
{
    g_level = lvl;
}

int log_parse_level(const char *name, enum log_level *out)
{
    for (int i = 0; i < 4; i++) {
        if (strcmp(name, level_names[i]) == 0) {
            *out = (enum log_level)i;
            return SY_OK;
        }
    }
    return SY_ERR;
}

int log_enabled(enum log_level lvl)
{
    return lvl >= g_level;
}

/* Append s as a JSON string body (without quotes) to buf at *pos. */
static void put_escaped(char *buf, size_t cap, size_t *pos, const char *s)
{
    for (const unsigned char *p = (const unsigned char *)s; *p && *pos + 8 < cap; p++) {
        unsigned char c = *p;
        if (c == '"' || c == '\\') {
            buf[(*pos)++] = '\\';
            buf[(*pos)++] = (char)c;
        } else if (c == '\n') {
            buf[(*pos)++] = '\\';
            buf[(*pos)++] = 'n';
        } else if (c < 0x20) {
            *pos += (size_t)snprintf(buf + *pos, cap - *pos, "\\u%04x", c);
        } else {
            buf[(*pos)++] = (char)c;
        }
    }
}

static void put_raw(char *buf, size_t cap, size_t *pos, const char *s)
{
    size_t n = strlen(s);
    if (*pos + n >= cap)
        n = cap - *pos - 1;
    memcpy(buf + *pos, s, n);
    *pos += n;
}

static void put_field(char *buf, size_t cap, size_t *pos, const char *key, const char *val)
{
    if (!val)
        return;
    put_raw(buf, cap, pos, ",\"");
    put_raw(buf, cap, pos, key);
    put_raw(buf, cap, pos, "\":\"");
    put_escaped(buf, cap, pos, val);
    put_raw(buf, cap, pos, "\"");
}

void log_write(enum log_level lvl, const struct log_ctx *ctx, const char *fmt, ...)
{
    char msg[2048];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);

    char ts[40];
    int64_t now = sy_wall_ms();
    time_t secs = (time_t)(now / 1000);
    struct tm tm;
    gmtime_r(&secs, &tm);
    size_t tl = strftime(ts, sizeof ts, "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(ts + tl, sizeof ts - tl, ".%03dZ", (int)(now % 1000));

    char line[4096];
    size_t pos = 0;
    const size_t cap = sizeof line - 2; /* room for the closing "}\n" */
    put_raw(line, cap, &pos, "{\"ts\":\"");
    put_raw(line, cap, &pos, ts);
    put_raw(line, cap, &pos, "\",\"level\":\"");
    put_raw(line, cap, &pos, level_names[lvl]);
    put_raw(line, cap, &pos, "\"");
    put_field(line, cap, &pos, "msg", msg);
    if (ctx) {
        put_field(line, cap, &pos, "job", ctx->job);
        put_field(line, cap, &pos, "provider", ctx->provider);
        put_field(line, cap, &pos, "task", ctx->task);
        char num[32];
        if (ctx->has_offset) {
            snprintf(num, sizeof num, ",\"partition\":%d,\"offset\":%lld", ctx->partition,
                     ctx->offset);
            put_raw(line, cap, &pos, num);
        }
    }
    line[pos++] = '}';
    line[pos++] = '\n';
    ssize_t w = write(STDERR_FILENO, line, pos);
    (void)w;
}
