/* sytest.c — process and file helpers for the integration tests. */
#include "sytest.h"
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <criterion/criterion.h>
#include <curl/curl.h>

static void sleep_ms(long ms)
{
    struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };
    nanosleep(&ts, NULL);
}

void sy_tmpdir(char *out, size_t cap)
{
    snprintf(out, cap, "/tmp/sytest.XXXXXX");
    cr_assert_not_null(mkdtemp(out), "mkdtemp: %s", strerror(errno));
}

void fp_start(struct fakeprov *fp, const char *const *args)
{
    memset(fp, 0, sizeof *fp);
    sy_tmpdir(fp->dir, sizeof fp->dir);
    char portfile[300];
    snprintf(portfile, sizeof portfile, "%s/port", fp->dir);
    const char *argv[64];
    int n = 0;
    argv[n++] = SY_FAKEPROV_BIN;
    argv[n++] = "--listen";
    argv[n++] = "127.0.0.1:0";
    argv[n++] = "--port-file";
    argv[n++] = portfile;
    for (int i = 0; args && args[i] && n < 62; i++)
        argv[n++] = args[i];
    argv[n] = NULL;
    pid_t pid = fork();
    cr_assert(pid >= 0);
    if (pid == 0) {
        prctl(PR_SET_PDEATHSIG, SIGKILL); /* never outlive a failed test */
        int devnull = open("/dev/null", O_WRONLY);
        if (devnull >= 0)
            dup2(devnull, 1);
        execv(argv[0], (char *const *)argv);
        _exit(127);
    }
    fp->pid = pid;
    for (int i = 0; i < 200; i++) {
        FILE *f = fopen(portfile, "r");
        if (f) {
            int port = 0;
            if (fscanf(f, "%d", &port) == 1 && port > 0)
                fp->port = port;
            fclose(f);
            if (fp->port)
                return;
        }
        sleep_ms(50);
    }
    kill(pid, SIGKILL);
    waitpid(pid, NULL, 0);
    cr_assert_fail("fakeprov did not start");
}

int fp_stop(struct fakeprov *fp)
{
    if (fp->pid <= 0)
        return -1;
    kill(fp->pid, SIGTERM);
    int status = 0;
    for (int i = 0; i < 100; i++) {
        if (waitpid(fp->pid, &status, WNOHANG) == fp->pid) {
            fp->pid = 0;
            return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
        }
        sleep_ms(50);
    }
    kill(fp->pid, SIGKILL);
    waitpid(fp->pid, &status, 0);
    fp->pid = 0;
    return -1;
}

struct buf {
    char *p;
    size_t n;
};

static size_t on_data(char *d, size_t s, size_t n, void *ud)
{
    struct buf *b = ud;
    char *np = realloc(b->p, b->n + s * n + 1);
    if (!np)
        return 0;
    b->p = np;
    memcpy(b->p + b->n, d, s * n);
    b->n += s * n;
    b->p[b->n] = '\0';
    return s * n;
}

/* bearer (may be NULL) adds "Authorization: Bearer ..." and a User-Agent,
 * as fakeprov's KIE side (like KIE) wants both; headers (NULL-terminated,
 * may be NULL) go on a POST. */
static long http_ex(int port, const char *path, const char *body, const char *bearer,
                    const char *const *headers, struct buf *out)
{
    char url[512];
    snprintf(url, sizeof url, "http://127.0.0.1:%d%s", port, path);
    CURL *c = curl_easy_init();
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_data);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, out);
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, 5000L);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    struct curl_slist *h = NULL;
    if (body) {
        h = curl_slist_append(h, "Content-Type: application/json");
        for (size_t i = 0; headers && headers[i]; i++)
            h = curl_slist_append(h, headers[i]);
        curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
    }
    if (bearer) {
        char auth[256];
        snprintf(auth, sizeof auth, "Authorization: Bearer %s", bearer);
        h = curl_slist_append(h, auth);
        curl_easy_setopt(c, CURLOPT_USERAGENT, "sytest");
    }
    if (h)
        curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
    long status = 0;
    if (curl_easy_perform(c) == CURLE_OK)
        curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
    curl_slist_free_all(h);
    curl_easy_cleanup(c);
    return status;
}

static long http(int port, const char *path, const char *body, struct buf *out)
{
    return http_ex(port, path, body, NULL, NULL, out);
}

long sy_http_post(int port, const char *path, const char *body, const char *const *headers)
{
    struct buf b = { 0 };
    long st = http_ex(port, path, body, NULL, headers, &b);
    free(b.p);
    return st;
}

int sy_free_port(void)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    cr_assert(fd >= 0);
    struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
    socklen_t len = sizeof a;
    cr_assert_eq(bind(fd, (struct sockaddr *)&a, sizeof a), 0);
    cr_assert_eq(getsockname(fd, (struct sockaddr *)&a, &len), 0);
    close(fd);
    return ntohs(a.sin_port);
}

long sy_http_get(int port, const char *path, char **out)
{
    struct buf b = { 0 };
    long st = http(port, path, NULL, &b);
    if (out)
        *out = b.p ? b.p : strdup("");
    else
        free(b.p);
    return st;
}

char *sy_metrics_wait(int port, const char *needle, int timeout_ms)
{
    char *page = NULL;
    for (int waited = 0;; waited += 50) {
        free(page);
        page = NULL;
        cr_assert_eq(sy_http_get(port, "/metrics", &page), 200, "GET /metrics on port %d", port);
        if (strstr(page, needle) || waited >= timeout_ms)
            return page;
        sy_sleep_ms(50);
    }
}

json_object *fp_get_json(const struct fakeprov *fp, const char *path)
{
    return fp_get_json_auth(fp, path, NULL);
}

json_object *fp_get_json_auth(const struct fakeprov *fp, const char *path, const char *bearer)
{
    struct buf b = { 0 };
    long st = http_ex(fp->port, path, NULL, bearer, NULL, &b);
    json_object *o = st == 200 && b.p ? json_tokener_parse(b.p) : NULL;
    free(b.p);
    return o;
}

json_object *fp_post_json_auth(const struct fakeprov *fp, const char *path, const char *body,
                               const char *bearer)
{
    struct buf b = { 0 };
    long st = http_ex(fp->port, path, body, bearer, NULL, &b);
    json_object *o = st >= 200 && st < 300 && b.p ? json_tokener_parse(b.p) : NULL;
    free(b.p);
    return o;
}

int fp_post(const struct fakeprov *fp, const char *path, const char *body)
{
    struct buf b = { 0 };
    long st = http(fp->port, path, body, &b);
    free(b.p);
    return (int)st;
}

long fp_stat(const struct fakeprov *fp, const char *dotted)
{
    json_object *root = fp_get_json(fp, "/_stats");
    if (!root)
        return -1;
    char path[128];
    snprintf(path, sizeof path, "%s", dotted);
    json_object *cur = root;
    long v = -1;
    char *save = NULL;
    for (char *tok = strtok_r(path, ".", &save); tok; tok = strtok_r(NULL, ".", &save)) {
        if (!json_object_object_get_ex(cur, tok, &cur)) {
            cur = NULL;
            break;
        }
    }
    if (cur &&
        (json_object_is_type(cur, json_type_int) || json_object_is_type(cur, json_type_double)))
        v = (long)json_object_get_int64(cur);
    json_object_put(root);
    return v;
}

/* "key = value; " unless extra already sets key (libconfig refuses duplicates). */
static const char *dflt(const char *extra, const char *key, const char *setting)
{
    return extra && strstr(extra, key) ? "" : setting;
}

void sy_write_config(const struct fakeprov *fp, const char *path, const char *worker_extra,
                     const char *prov_extra)
{
    setenv("SYTEST_KIE_KEY", "test-kie-key", 1);
    setenv("SYTEST_REPLICATE_KEY", "test-replicate-key", 1);
    const char *pe = prov_extra ? prov_extra : "";
    const char *we = worker_extra ? worker_extra : "";
    const char *poll =
            dflt(pe, "poll",
                 "poll = { mode = \"fixed\"; first_ms = 100; interval_ms = 200; max_s = 120; };");
    /* fakeprov has no real limits: open them unless the test is about them. */
    const char *rl = dflt(
            pe, "rate_limit",
            "rate_limit = { create_per_s = 100000.0; create_burst = 100000; create_window_max = 0;"
            " poll_per_s = 100000.0; poll_burst = 100000; max_in_flight = 100000; };");
    FILE *f = fopen(path, "w");
    cr_assert_not_null(f);
    fprintf(f,
            "providers = (\n"
            "  { name = \"kie\"; type = \"kie\"; priority = 1;\n"
            "    base_url = \"http://127.0.0.1:%d\"; api_key_env = \"SYTEST_KIE_KEY\"; %s %s %s },\n"
            "  { name = \"replicate\"; type = \"replicate\"; priority = 2;\n"
            "    base_url = \"http://127.0.0.1:%d\"; api_key_env = \"SYTEST_REPLICATE_KEY\"; %s %s %s }\n"
            ");\n"
            "worker = { metrics_listen = \"\"; log_level = \"warn\"; %s %s %s %s };\n",
            fp->port, poll, rl, pe, fp->port, poll, rl, pe,
            dflt(we, "max_in_flight", "max_in_flight = 1000;"),
            dflt(we, "request_timeout_ms", "request_timeout_ms = 5000;"),
            dflt(we, "connect_timeout_ms", "connect_timeout_ms = 2000;"), we);
    fclose(f);
}

void sy_prepare(struct sy_run *r, const struct fakeprov *fp, const char *worker_extra,
                const char *prov_extra, int n, const char *job_fmt)
{
    sy_tmpdir(r->dir, sizeof r->dir);
    snprintf(r->conf, sizeof r->conf, "%s/c.conf", r->dir);
    snprintf(r->jobs, sizeof r->jobs, "%s/jobs.jsonl", r->dir);
    snprintf(r->out, sizeof r->out, "%s/out.jsonl", r->dir);
    sy_write_config(fp, r->conf, worker_extra, prov_extra);
    if (!job_fmt)
        return;
    FILE *f = fopen(r->jobs, "w");
    cr_assert_not_null(f);
    for (int i = 0; i < n; i++) {
        fprintf(f, job_fmt, i);
        fputc('\n', f);
    }
    fclose(f);
}

void sy_sleep_ms(long ms)
{
    sleep_ms(ms);
}

pid_t sy_spawn_batch(const char *conf, const char *jobs, const char *out)
{
    pid_t pid = fork();
    cr_assert(pid >= 0);
    if (pid == 0) {
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        execl(SY_SWITCHYARD_BIN, SY_SWITCHYARD_BIN, "run", "-c", conf, "--jobs", jobs, "--out", out,
              (char *)NULL);
        _exit(127);
    }
    return pid;
}

/* Point fd at path (truncated), or at /dev/null when path is NULL. */
static void redirect(int fd, const char *path)
{
    int f = path ? open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644) : open("/dev/null", O_WRONLY);
    if (f >= 0 && f != fd) {
        dup2(f, fd);
        close(f);
    }
}

pid_t sy_spawn_cmd(const char *const *args, const char *out_path, const char *err_path)
{
    const char *argv[64];
    int n = 0;
    argv[n++] = SY_SWITCHYARD_BIN;
    for (int i = 0; args && args[i] && n < 63; i++)
        argv[n++] = args[i];
    argv[n] = NULL;
    pid_t pid = fork();
    cr_assert(pid >= 0);
    if (pid == 0) {
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        redirect(1, out_path);
        redirect(2, err_path);
        execv(argv[0], (char *const *)argv);
        _exit(127);
    }
    return pid;
}

int sy_run_batch(const char *conf, const char *jobs, const char *out, int timeout_s)
{
    return sy_wait(sy_spawn_batch(conf, jobs, out), timeout_s);
}

int sy_wait(pid_t pid, int timeout_s)
{
    int status = 0;
    for (long waited = 0; waited < (long)timeout_s * 1000; waited += 20) {
        if (waitpid(pid, &status, WNOHANG) == pid)
            return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
        sleep_ms(20);
    }
    kill(pid, SIGKILL);
    waitpid(pid, &status, 0);
    cr_assert_fail("switchyard run did not finish within %d s", timeout_s);
    return -1;
}

json_object *sy_read_results(const char *path)
{
    FILE *f = fopen(path, "r");
    cr_assert_not_null(f, "no results file %s", path);
    json_object *arr = json_object_new_array();
    char *line = NULL;
    size_t cap = 0;
    ssize_t n;
    while ((n = getline(&line, &cap, f)) > 0) {
        json_object *o = json_tokener_parse(line);
        cr_assert_not_null(o, "result line is not JSON: %s", line);
        json_object_array_add(arr, o);
    }
    free(line);
    fclose(f);
    return arr;
}

json_object *sy_find(json_object *arr, const char *id)
{
    size_t n = json_object_array_length(arr);
    for (size_t i = 0; i < n; i++) {
        json_object *o = json_object_array_get_idx(arr, i);
        if (strcmp(sy_str(o, "id"), id) == 0)
            return o;
    }
    return NULL;
}

const char *sy_str(json_object *obj, const char *key)
{
    json_object *v;
    if (obj && json_object_object_get_ex(obj, key, &v) && json_object_is_type(v, json_type_string))
        return json_object_get_string(v);
    return "";
}

const char *sy_error_class(json_object *res)
{
    json_object *e;
    if (!json_object_object_get_ex(res, "error", &e) || !e)
        return "";
    return sy_str(e, "class");
}

static int count_attempts(json_object *res, const char *key, const char *s, int substring)
{
    json_object *att;
    if (!json_object_object_get_ex(res, "attempts", &att))
        return 0;
    int n = 0;
    for (size_t i = 0; i < json_object_array_length(att); i++) {
        const char *v = sy_str(json_object_array_get_idx(att, i), key);
        n += substring ? strstr(v, s) != NULL : strcmp(v, s) == 0;
    }
    return n;
}

int sy_attempts_with(json_object *res, const char *key, const char *value)
{
    return count_attempts(res, key, value, 0);
}

int sy_attempts_matching(json_object *res, const char *key, const char *needle)
{
    return count_attempts(res, key, needle, 1);
}
