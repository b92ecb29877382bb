/* main.c — the switchyard command line. The only file that exits.
 *
 *   switchyard -c FILE --check-config          validate a config file
 *   switchyard run -c FILE --jobs IN [--out OUT] batch mode, no Kafka
 *   switchyard -c FILE [--workers N]            Kafka worker, or a supervisor of N of them
 *
 * Exit codes: 0 success (failed jobs included), 1 runtime error, 2 usage or
 * config error. */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <curl/curl.h>

#include "conf/config.h"
#include "queue/ledgerk.h"
#include "core/sy.h"
#include "worker/batch.h"
#include "worker/kworker.h"
#include "core/log.h"

static const char usage[] =
        "usage: switchyard -c FILE [--workers N] [-v]       Kafka worker (N processes)\n"
        "       switchyard -c FILE --check-config\n"
        "       switchyard run -c FILE --jobs IN.jsonl [--out OUT.jsonl] [-v]\n"
        "\n"
        "  -c, --config FILE    configuration file (libconfig syntax)\n"
        "      --check-config   validate FILE, exit 0 if good, 2 if bad (FILE:LINE: why)\n"
        "      --workers N      supervise N workers (restart on crash, forward signals)\n"
        "      --jobs FILE      run: JSONL jobs, one per line (\"-\" = stdin)\n"
        "      --out FILE       run: write result lines here (default stdout)\n"
        "  -v, --verbose        debug logging (JSON lines on stderr)\n"
        "  -h, --help           this text\n"
        "      --version        print the version\n"
        "\n"
        "Exit: 0 ok (failed jobs are results, not errors), 1 runtime error,\n"
        "      2 usage or config error.\n";

enum { OPT_CHECK = 256, OPT_JOBS, OPT_OUT, OPT_VERSION, OPT_WORKERS };

/* The supervisor's only state shared with its signal handler: one pending
 * flag per signal, so a SIGTERM followed at once by a SIGHUP is not lost. */
static volatile sig_atomic_t sup_term, sup_int, sup_hup;

static void sup_on_signal(int sig)
{
    if (sig == SIGTERM)
        sup_term = 1;
    else if (sig == SIGINT)
        sup_int = 1;
    else if (sig == SIGHUP)
        sup_hup = 1;
}

/* Take a pending flag (a second arrival in between is the same request). */
static int sup_take(volatile sig_atomic_t *flag)
{
    if (!*flag)
        return 0;
    *flag = 0;
    return 1;
}

static void sup_forward(const pid_t *pids, int n, int sig)
{
    for (int i = 0; i < n; i++)
        if (pids[i] > 0)
            kill(pids[i], sig);
    LOG_INFO(NULL, "supervisor: forwarded signal %d", sig);
}

/* Worker `index` of a --workers pool serves its metrics on the configured
 * port + index (they cannot share one listening socket). */
static int offset_metrics_port(struct conf *c, int index)
{
    char *addr = c->worker.metrics_listen;
    char *colon = addr ? strrchr(addr, ':') : NULL;
    if (index == 0 || !addr || !addr[0] || !colon)
        return SY_OK;
    long port = strtol(colon + 1, NULL, 10) + index;
    if (port <= 0 || port > 65535)
        return SY_ERR;
    char buf[256];
    snprintf(buf, sizeof buf, "%.*s:%ld", (int)(colon - addr), addr, port);
    char *copy = strdup(buf);
    if (!copy)
        return SY_ERR;
    free(c->worker.metrics_listen);
    c->worker.metrics_listen = copy;
    return SY_OK;
}

/* Runs worker `index` on its own copy of the config; returns its exit status. */
static int run_worker(const struct conf *conf, int index)
{
    char err[1024];
    struct conf *own = conf_load(conf->path, err, sizeof err);
    if (!own || offset_metrics_port(own, index) != SY_OK) {
        LOG_ERROR(NULL, "worker: %s", own ? "metrics port out of range" : err);
        conf_free(own);
        return 2;
    }
    if (kworker_run(own, err, sizeof err) == SY_OK)
        return 0;
    LOG_ERROR(NULL, "worker: %s", err);
    return 1; /* results lost, setup failed or a handle left open */
}

static pid_t spawn_worker(const struct conf *conf, int index)
{
    pid_t pid = fork();
    if (pid == 0) {
        prctl(PR_SET_PDEATHSIG, SIGTERM); /* a killed supervisor stops its workers cleanly */
        signal(SIGTERM, SIG_DFL);
        signal(SIGINT, SIG_DFL);
        signal(SIGHUP, SIG_DFL);
        sigset_t none;
        sigemptyset(&none);
        sigprocmask(SIG_SETMASK, &none, NULL);
        exit(run_worker(conf, index));
    }
    return pid;
}

/* The config may hold a SASL password in kafka.properties: say so when the
 * file is readable by others than its owner. */
static void warn_exposed_config(const struct conf *c, const char *path)
{
    struct stat st;
    const char *key = stat(path, &st) == 0 ? conf_exposed_secret(c, (unsigned)st.st_mode) : NULL;
    if (key)
        LOG_WARN(
                NULL,
                "%s is readable by group or others (mode %03o) and holds kafka.properties %s: chmod 600 it",
                path, (unsigned)st.st_mode & 0777, key);
}

/* --workers N: keep N worker processes running. A worker that dies is
 * restarted after a backoff (1 s doubling to 30 s, reset after 60 s of
 * uptime); SIGTERM/SIGINT/SIGHUP are forwarded; the supervisor exits when
 * every worker has exited after a stop signal (0 when all exited 0). */
static int supervise(const struct conf *conf, int n)
{
    pid_t *pids = calloc((size_t)n, sizeof *pids);
    time_t *started = calloc((size_t)n, sizeof *started);
    time_t *restart_at = calloc((size_t)n, sizeof *restart_at);
    int *backoff = calloc((size_t)n, sizeof *backoff);
    if (!pids || !started || !restart_at || !backoff) {
        fprintf(stderr, "switchyard: out of memory\n");
        return 1;
    }
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = sup_on_signal;
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGHUP, &sa, NULL);
    int stopping = 0, rc = 0;
    for (int i = 0; i < n; i++) {
        pids[i] = spawn_worker(conf, i);
        started[i] = time(NULL);
        backoff[i] = 1;
    }
    LOG_INFO(NULL, "supervising %d workers", n);
    for (;;) {
        /* stops first; a reload is not forwarded to workers that are stopping */
        if (sup_take(&sup_term)) {
            stopping = 1;
            sup_forward(pids, n, SIGTERM);
        }
        if (sup_take(&sup_int)) {
            stopping = 1;
            sup_forward(pids, n, SIGINT);
        }
        if (sup_take(&sup_hup) && !stopping)
            sup_forward(pids, n, SIGHUP);
        int status;
        pid_t pid = waitpid(-1, &status, WNOHANG);
        if (pid > 0) {
            for (int i = 0; i < n; i++) {
                if (pids[i] != pid)
                    continue;
                pids[i] = 0;
                int clean = WIFEXITED(status) && WEXITSTATUS(status) == 0;
                if (!clean)
                    rc = 1;
                if (stopping)
                    break;
                if (time(NULL) - started[i] > 60)
                    backoff[i] = 1;
                restart_at[i] = time(NULL) + backoff[i];
                LOG_WARN(NULL, "worker %ld exited (%s %d); restarting in %d s", (long)pid,
                         WIFEXITED(status) ? "status" : "signal",
                         WIFEXITED(status) ? WEXITSTATUS(status) : WTERMSIG(status), backoff[i]);
                backoff[i] = backoff[i] * 2 > 30 ? 30 : backoff[i] * 2;
            }
            continue;
        }
        int alive = 0;
        for (int i = 0; i < n; i++) {
            if (pids[i] > 0) {
                alive++;
            } else if (!stopping && restart_at[i] && time(NULL) >= restart_at[i]) {
                pids[i] = spawn_worker(conf, i);
                started[i] = time(NULL);
                restart_at[i] = 0;
                alive++;
            }
        }
        if (stopping && alive == 0)
            break;
        struct timespec ts = { 0, 100 * 1000 * 1000 };
        nanosleep(&ts, NULL); /* a signal cuts it short */
    }
    LOG_INFO(NULL, "supervisor: all workers stopped");
    free(pids);
    free(started);
    free(restart_at);
    free(backoff);
    return rc;
}

int main(int argc, char **argv)
{
    /* A closed stderr pipe (or any socket write curl and MHD do not guard)
     * must be an EPIPE error, not a kill in the middle of a job. */
    signal(SIGPIPE, SIG_IGN);
    int run_mode = 0;
    if (argc > 1 && strcmp(argv[1], "run") == 0) {
        run_mode = 1;
        argv[1] = argv[0];
        argv++;
        argc--;
    }
    static const struct option opts[] = {
        { "config", required_argument, NULL, 'c' },
        { "check-config", no_argument, NULL, OPT_CHECK },
        { "jobs", required_argument, NULL, OPT_JOBS },
        { "out", required_argument, NULL, OPT_OUT },
        { "verbose", no_argument, NULL, 'v' },
        { "help", no_argument, NULL, 'h' },
        { "version", no_argument, NULL, OPT_VERSION },
        { "workers", required_argument, NULL, OPT_WORKERS },
        { NULL, 0, NULL, 0 },
    };
    const char *config_path = NULL, *jobs = NULL, *out = NULL;
    int check = 0, verbose = 0, workers = 0, c;
    while ((c = getopt_long(argc, argv, "c:vh", opts, NULL)) != -1) {
        switch (c) {
        case 'c':
            config_path = optarg;
            break;
        case OPT_CHECK:
            check = 1;
            break;
        case OPT_JOBS:
            jobs = optarg;
            break;
        case OPT_OUT:
            out = optarg;
            break;
        case 'v':
            verbose = 1;
            break;
        case OPT_WORKERS: {
            char *end;
            long n = strtol(optarg, &end, 10);
            if (*end || n < 1 || n > 256) {
                fprintf(stderr, "switchyard: --workers takes 1..256\n");
                return 2;
            }
            workers = (int)n;
            break;
        }
        case 'h':
            fputs(usage, stdout);
            return 0;
        case OPT_VERSION:
            printf("switchyard %s (libcurl %s)\n", SY_VERSION,
                   curl_version_info(CURLVERSION_NOW)->version);
            return 0;
        default:
            fputs(usage, stderr);
            return 2;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "switchyard: unexpected argument '%s'\n%s", argv[optind], usage);
        return 2;
    }
    if (!config_path) {
        fprintf(stderr, "switchyard: -c FILE is required\n%s", usage);
        return 2;
    }
    /* API keys and SASL secrets are on the heap from here on: no core dump,
     * and no ptrace or /proc/PID/mem access by other processes of the same
     * user. Workers forked by --workers inherit it. SWITCHYARD_DUMPABLE=1
     * keeps the process debuggable (gdb -p, core files). */
    const char *dumpable = getenv("SWITCHYARD_DUMPABLE");
    if (!(dumpable && strcmp(dumpable, "1") == 0))
        prctl(PR_SET_DUMPABLE, 0L, 0L, 0L, 0L);
    char err[1024];
    struct conf *conf = conf_load(config_path, err, sizeof err);
    if (!conf) {
        fprintf(stderr, "%s\n", err);
        return 2;
    }
    warn_exposed_config(conf, config_path);
    if (check) {
        /* The ledger topic, when the broker answers: a bad one stops a worker at start. */
        int lrc = conf->kafka.present && conf->kafka.ledger_topic[0]
                          ? ledgerk_check(conf, err, sizeof err)
                          : SY_OK;
        if (lrc == SY_ERR) {
            fprintf(stderr, "%s: %s\n", config_path, err);
            conf_free(conf);
            return 2;
        }
        if (lrc == SY_AGAIN)
            fprintf(stderr, "%s: kafka.ledger_topic not checked: %s\n", config_path, err);
        printf("%s: ok (%zu providers, %zu templates)\n", config_path, conf->n_providers,
               conf->n_templates);
        conf_free(conf);
        return 0;
    }
    enum log_level lvl = LOG_LVL_INFO;
    if (log_parse_level(conf->worker.log_level, &lvl) != SY_OK)
        lvl = LOG_LVL_INFO;
    log_set_level(verbose ? LOG_LVL_DEBUG : lvl);

    int rc = 0;
    if (run_mode) {
        if (!jobs) {
            fprintf(stderr, "switchyard run: --jobs FILE is required\n%s", usage);
            conf_free(conf);
            return 2;
        }
        struct batch_opts bo = { .jobs_path = jobs, .out_path = out };
        struct conf *own = conf;
        conf = NULL; /* batch_run owns it now */
        if (batch_run(own, &bo, NULL, err, sizeof err) != SY_OK) {
            LOG_ERROR(NULL, "%s", err);
            rc = 1;
        }
    } else if (!conf->kafka.present) {
        fprintf(stderr, "%s: no kafka group: the worker needs one (or use 'switchyard run')\n",
                config_path);
        rc = 2;
    } else if (workers > 1) {
        rc = supervise(conf, workers);
    } else {
        rc = run_worker(conf, 0);
    }
    conf_free(conf);
    curl_global_cleanup();
    return rc;
}
