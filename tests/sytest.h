/* sytest.h — helpers for integration tests: start fakeprov on a free
 * loopback port, write a config for it, run `switchyard run`, read results.
 * Every process started here is killed and reaped by the helpers. */
#ifndef TESTS_SYTEST_H
#define TESTS_SYTEST_H

#include <stddef.h>
#include <sys/types.h>

#include <json-c/json.h>

struct fakeprov {
    pid_t pid;
    int port;
    char dir[256];
};

/* Start fakeprov with extra arguments (NULL-terminated list). Asserts it came up. */
void fp_start(struct fakeprov *fp, const char *const *args);
/* SIGTERM it and wait; returns its exit status (0 on a clean exit). */
int fp_stop(struct fakeprov *fp);
/* GET/POST a path on fakeprov; returns the parsed JSON body (caller puts) or NULL. */
json_object *fp_get_json(const struct fakeprov *fp, const char *path);
int fp_post(const struct fakeprov *fp, const char *path, const char *body);
/* GET with "Authorization: Bearer <bearer>" (and a User-Agent): for the
 * provider APIs themselves, e.g. KIE's recordInfo. Parsed body or NULL. */
json_object *fp_get_json_auth(const struct fakeprov *fp, const char *path, const char *bearer);
/* POST body with "Authorization: Bearer <bearer>": the parsed 2xx body or
 * NULL (e.g. to create a provider task by hand). */
json_object *fp_post_json_auth(const struct fakeprov *fp, const char *path, const char *body,
                               const char *bearer);
/* GET http://127.0.0.1:port/path: the HTTP status (0 = no reply); *out (may
 * be NULL) gets the body, caller frees. */
long sy_http_get(int port, const char *path, char **out);
/* GET /metrics at port until the page holds needle or timeout_ms passes
 * (the worker's page is a snapshot taken every 250 ms, so a counter shows up
 * to 250 ms after the event). Returns the last page (caller frees); asserts
 * each GET answers 200. */
char *sy_metrics_wait(int port, const char *needle, int timeout_ms);
/* POST body (JSON) to http://127.0.0.1:port/path with extra "Name: value"
 * headers (NULL-terminated list, may be NULL): the HTTP status (0 = none). */
long sy_http_post(int port, const char *path, const char *body, const char *const *headers);
/* A loopback port nobody listens on now (bind :0, read it, close). */
int sy_free_port(void);
/* /_stats value at a dotted path ("kie.creates"), or -1. */
long fp_stat(const struct fakeprov *fp, const char *dotted);

/* Write to path a config pointing both providers at fp. worker_extra is
 * appended inside the worker group, prov_extra inside each provider group
 * (either may be NULL); a default key the extra text names is left out. */
void sy_write_config(const struct fakeprov *fp, const char *path, const char *worker_extra,
                     const char *prov_extra);

/* One batch run's files: a fresh temporary directory holding c.conf,
 * jobs.jsonl and out.jsonl. */
struct sy_run {
    char dir[256], conf[300], jobs[300], out[300];
};

/* Make r's directory, name its files and write the config there (as
 * sy_write_config). With job_fmt, also write n job lines: job_fmt is a printf
 * format taking the line's index (one %d), each line ended with '\n'. With
 * job_fmt NULL no jobs file is written: the caller writes r->jobs itself. */
void sy_prepare(struct sy_run *r, const struct fakeprov *fp, const char *worker_extra,
                const char *prov_extra, int n, const char *job_fmt);

/* Run `switchyard run -c conf --jobs jobs --out out`; returns its exit status
 * (-1 if it died of a signal). Kills it after timeout_s. */
int sy_run_batch(const char *conf, const char *jobs, const char *out, int timeout_s);

/* Start `switchyard run` in the background; sy_wait() reaps it (exit
 * status, or -1 after a signal; kills it and fails the test after timeout_s). */
pid_t sy_spawn_batch(const char *conf, const char *jobs, const char *out);
int sy_wait(pid_t pid, int timeout_s);

/* Start `switchyard ARGS...` (args: the arguments after the program name,
 * NULL-terminated) in the background with stdout written to out_path and
 * stderr to err_path (each truncated first; NULL = /dev/null). sy_wait()
 * reaps it. */
pid_t sy_spawn_cmd(const char *const *args, const char *out_path, const char *err_path);

/* Sleep for ms milliseconds. */
void sy_sleep_ms(long ms);

/* Read a JSONL file into an array of parsed objects (caller puts it). */
json_object *sy_read_results(const char *path);

/* The result object with this id in arr, or NULL (borrowed). */
json_object *sy_find(json_object *arr, const char *id);

/* String at key of obj ("" when missing or not a string). */
const char *sy_str(json_object *obj, const char *key);

/* A result's error.class ("" when it has no error). Borrowed from res. */
const char *sy_error_class(json_object *res);

/* How many of a result's attempts have the string value at key equal to
 * value (sy_attempts_with) or containing needle (sy_attempts_matching). */
int sy_attempts_with(json_object *res, const char *key, const char *value);
int sy_attempts_matching(json_object *res, const char *key, const char *needle);

/* A fresh temporary directory for this test (mkdtemp). */
void sy_tmpdir(char *out, size_t cap);

#endif
