/* log.h — one JSON object per line on stderr.
 *
 * Every line has ts, level, msg and, where given, job / provider / task.
 * Callers must never pass an API key or an Authorization value. The level is
 * process-wide (logger settings are one of the few allowed globals). */
#ifndef WORKER_LOG_H
#define WORKER_LOG_H

enum log_level { LOG_LVL_DEBUG = 0, LOG_LVL_INFO = 1, LOG_LVL_WARN = 2, LOG_LVL_ERROR = 3 };

/* Context fields; any may be NULL. partition/offset are written only when
 * has_offset is set (Kafka mode). */
struct log_ctx {
    const char *job;
    const char *provider;
    const char *task;
    int has_offset;
    int partition;
    long long offset;
};

void log_set_level(enum log_level lvl);

/* Parse "debug" | "info" | "warn" | "error"; returns SY_OK or SY_ERR. */
int log_parse_level(const char *name, enum log_level *out);

/* True when lvl would be written: check it before costly formatting. */
int log_enabled(enum log_level lvl);

/* Write one line. ctx may be NULL. */
void log_write(enum log_level lvl, const struct log_ctx *ctx, const char *fmt, ...)
        __attribute__((format(printf, 3, 4)));

#define LOG_DEBUG(ctx, ...)                                                                        \
    do {                                                                                           \
        if (log_enabled(LOG_LVL_DEBUG))                                                            \
            log_write(LOG_LVL_DEBUG, ctx, __VA_ARGS__);                                            \
    } while (0)
#define LOG_INFO(ctx, ...)                                                                         \
    do {                                                                                           \
        if (log_enabled(LOG_LVL_INFO))                                                             \
            log_write(LOG_LVL_INFO, ctx, __VA_ARGS__);                                             \
    } while (0)
#define LOG_WARN(ctx, ...)                                                                         \
    do {                                                                                           \
        if (log_enabled(LOG_LVL_WARN))                                                             \
            log_write(LOG_LVL_WARN, ctx, __VA_ARGS__);                                             \
    } while (0)
#define LOG_ERROR(ctx, ...) log_write(LOG_LVL_ERROR, ctx, __VA_ARGS__)

#endif
