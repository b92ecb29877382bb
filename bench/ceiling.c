/* ceiling.c — the benchmark's ceiling: a bare curl_multi client with no job
 * logic. Each "job" is one KIE createTask POST followed by one recordInfo GET
 * for the taskId it returned; C jobs stay in flight over at most H keep-alive
 * connections. The ceiling is C = H (every transfer has a connection: the
 * fastest a bare curl client goes); switchyard's requests/s against the same
 * fakeprov, divided by this client's at C = H, is the engine's ratio
 * (scripts/bench.sh engine). C > H (transfers queued inside curl behind the
 * connection cap) is curl's slow case, kept as a reference row only.
 *
 *   bench_ceiling --url-base http://127.0.0.1:PORT --jobs N --concurrency C
 *                 --max-host-connections H
 *
 * Prints one JSON line on stdout. Exit 0 when every reply was HTTP 200 with a
 * taskId (create) or a finished task (poll), 1 otherwise, 2 on bad usage.
 * The plain curl_multi_perform/curl_multi_poll driver is deliberate: it is
 * the simplest correct one. Its cost per pass grows with C, since curl walks
 * every added handle, including those queued behind the connection cap. */
#include <curl/curl.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

struct slot {
    CURL *easy;
    int polling; /* 0: createTask in flight, 1: recordInfo in flight */
    size_t len;
    char body[2048]; /* the reply, truncated; the fields we look for come early */
    char url[512];
};

static const char create_body[] =
        "{\"model\":\"google/nano-banana\",\"input\":{\"prompt\":\"bench\"}}";

static size_t on_body(char *p, size_t sz, size_t n, void *ud)
{
    struct slot *s = ud;
    size_t k = sz * n, room = sizeof s->body - 1 - s->len, take = k < room ? k : room;
    memcpy(s->body + s->len, p, take);
    s->len += take;
    s->body[s->len] = '\0';
    return k;
}

static long arg_long(const char *name, const char *v)
{
    char *end;
    errno = 0;
    long x = strtol(v, &end, 10);
    if (errno || end == v || *end || x < 1) {
        fprintf(stderr, "bench_ceiling: %s wants a positive integer (got \"%s\")\n", name, v);
        exit(2);
    }
    return x;
}

/* (Re)starts slot s: a create, or a poll for task_id. */
static void start(CURLM *m, struct slot *s, const char *base, const char *task_id)
{
    s->polling = task_id != NULL;
    s->len = 0;
    if (task_id) {
        snprintf(s->url, sizeof s->url, "%s/api/v1/jobs/recordInfo?taskId=%s", base, task_id);
        curl_easy_setopt(s->easy, CURLOPT_HTTPGET, 1L);
    } else {
        snprintf(s->url, sizeof s->url, "%s/api/v1/jobs/createTask", base);
        curl_easy_setopt(s->easy, CURLOPT_POSTFIELDS, create_body);
        curl_easy_setopt(s->easy, CURLOPT_POSTFIELDSIZE, (long)(sizeof create_body - 1));
    }
    curl_easy_setopt(s->easy, CURLOPT_URL, s->url);
    curl_easy_setopt(s->easy, CURLOPT_USERAGENT,
                     "bench_ceiling/1"); /* KIE (and fakeprov) refuse requests without one */
    curl_multi_add_handle(m, s->easy);
}

int main(int argc, char **argv)
{
    const char *base = NULL;
    long jobs = 0, conc = 0, hosts = 0;
    for (int i = 1; i + 1 < argc; i += 2) {
        if (strcmp(argv[i], "--url-base") == 0)
            base = argv[i + 1];
        else if (strcmp(argv[i], "--jobs") == 0)
            jobs = arg_long(argv[i], argv[i + 1]);
        else if (strcmp(argv[i], "--concurrency") == 0)
            conc = arg_long(argv[i], argv[i + 1]);
        else if (strcmp(argv[i], "--max-host-connections") == 0)
            hosts = arg_long(argv[i], argv[i + 1]);
    }
    if (!base || !jobs || !conc || !hosts || argc % 2 == 0) {
        fputs("usage: bench_ceiling --url-base URL --jobs N --concurrency C --max-host-connections H\n",
              stderr);
        return 2;
    }
    conc = conc < jobs ? conc : jobs;

    curl_global_init(CURL_GLOBAL_DEFAULT);
    CURLM *m = curl_multi_init();
    struct curl_slist *hdr = curl_slist_append(NULL, "Authorization: Bearer test-kie-key");
    hdr = curl_slist_append(hdr, "Content-Type: application/json");
    struct slot *slots = calloc((size_t)conc, sizeof *slots);
    if (!m || !hdr || !slots) {
        fputs("bench_ceiling: out of memory\n", stderr);
        return 1;
    }
    curl_multi_setopt(m, CURLMOPT_MAX_HOST_CONNECTIONS, hosts);
    curl_multi_setopt(m, CURLMOPT_MAXCONNECTS,
                      hosts * 4); /* the idle cache rule of worker/loop.c */

    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    long started = 0, done = 0, requests = 0, errors = 0;
    for (; started < conc; started++) {
        struct slot *s = &slots[started];
        s->easy = curl_easy_init();
        curl_easy_setopt(s->easy, CURLOPT_PRIVATE, s);
        curl_easy_setopt(s->easy, CURLOPT_HTTPHEADER, hdr);
        curl_easy_setopt(s->easy, CURLOPT_WRITEFUNCTION, on_body);
        curl_easy_setopt(s->easy, CURLOPT_WRITEDATA, s);
        curl_easy_setopt(s->easy, CURLOPT_NOSIGNAL, 1L);
        start(m, s, base, NULL);
    }
    while (done < jobs) {
        int running, left;
        if (curl_multi_perform(m, &running) != CURLM_OK) {
            fputs("bench_ceiling: curl_multi_perform failed\n", stderr);
            return 1;
        }
        for (;;) {
            CURLMsg *msg = curl_multi_info_read(m, &left);
            if (!msg)
                break;
            char *priv = NULL, id[128] = "";
            long code = 0;
            curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, &priv);
            curl_easy_getinfo(msg->easy_handle, CURLINFO_RESPONSE_CODE, &code);
            struct slot *s = (struct slot *)priv;
            curl_multi_remove_handle(m, s->easy);
            requests++;
            const char *p = s->polling ? NULL : strstr(s->body, "\"taskId\":\"");
            size_t n = p ? strcspn(p + 10, "\"") : 0;
            if (n > 0 && n < sizeof id)
                memcpy(id, p + 10, n);
            int ok =
                    msg->data.result == CURLE_OK && code == 200 &&
                    (s->polling ? strstr(s->body, "\"state\":\"success\"") != NULL : id[0] != '\0');
            if (!ok && errors < 5) /* the first few are enough to diagnose */
                fprintf(stderr, "bench_ceiling: %s: %s, HTTP %ld: %.200s\n",
                        s->polling ? "recordInfo" : "createTask",
                        curl_easy_strerror(msg->data.result), code, s->body);
            errors += !ok;
            if (ok && !s->polling) {
                start(m, s, base, id);
                continue;
            }
            done++;
            if (started < jobs) {
                start(m, s, base, NULL);
                started++;
            }
        }
        /* Wait only once finished transfers are replaced, or the poll sleeps
         * on sockets that have nothing more to say. */
        if (done < jobs && curl_multi_poll(m, NULL, 0, 1000, NULL) != CURLM_OK) {
            fputs("bench_ceiling: curl_multi_poll failed\n", stderr);
            return 1;
        }
    }
    clock_gettime(CLOCK_MONOTONIC, &t1);
    double secs = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
    printf("{\"jobs\":%ld,\"requests\":%ld,\"errors\":%ld,\"seconds\":%.3f,\"requests_per_s\":%.1f,\"jobs_per_s\":%.1f}\n",
           jobs, requests, errors, secs, (double)requests / secs, (double)jobs / secs);
    for (long i = 0; i < conc; i++)
        curl_easy_cleanup(slots[i].easy);
    curl_multi_cleanup(m);
    curl_slist_free_all(hdr);
    free(slots);
    curl_global_cleanup();
    return errors ? 1 : 0;
}
