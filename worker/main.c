/* main.c — the switchyard command line. The only file that exits.
 *
 *   switchyard -c FILE --check-config          validate a config file
 *   switchyard run -c FILE --jobs IN [--out OUT] batch mode, no Kafka
 *   switchyard -c FILE [--workers N]            Kafka worker (not in this build yet)
 *
 * Exit codes: 0 success (failed jobs included), 1 runtime error, 2 usage or
 * config error. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>

#include "conf/config.h"
#include "sy.h"
#include "worker/batch.h"
#include "worker/log.h"

static const char usage[] =
    "usage: switchyard -c FILE [--check-config] [-v]\n"
    "       switchyard run -c FILE --jobs IN.jsonl [--out OUT.jsonl] [-v]\n"
    "\n"
    "  -c, --config FILE    configuration file (libconfig syntax)\n"
    "      --check-config   validate FILE and exit: 0 good, 2 bad (FILE:LINE: reason)\n"
    "      --jobs FILE      run: JSONL jobs, one per line (\"-\" = stdin)\n"
    "      --out FILE       run: write result lines here (default stdout)\n"
    "  -v, --verbose        debug logging (JSON lines on stderr)\n"
    "  -h, --help           this text\n"
    "      --version        print the version\n"
    "\n"
    "Exit: 0 ok (failed jobs are results, not errors), 1 runtime error, 2 usage/config error.\n";

enum { OPT_CHECK = 256, OPT_JOBS, OPT_OUT, OPT_VERSION };

int main(int argc, char **argv)
{
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
        { NULL, 0, NULL, 0 },
    };
    const char *config_path = NULL, *jobs = NULL, *out = NULL;
    int check = 0, verbose = 0, c;
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
        case 'h':
            fputs(usage, stdout);
            return 0;
        case OPT_VERSION:
            printf("switchyard %s (libcurl %s)\n", SY_VERSION, curl_version_info(CURLVERSION_NOW)->version);
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
    char err[1024];
    struct conf *conf = conf_load(config_path, err, sizeof err);
    if (!conf) {
        fprintf(stderr, "%s\n", err);
        return 2;
    }
    if (check) {
        printf("%s: ok (%zu providers)\n", config_path, conf->n_providers);
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
        if (batch_run(conf, &bo, NULL, err, sizeof err) != SY_OK) {
            LOG_ERROR(NULL, "%s", err);
            rc = 1;
        }
    } else {
        fprintf(stderr, "switchyard: the Kafka worker mode is not in this build yet; use 'switchyard run'\n");
        rc = 2;
    }
    conf_free(conf);
    curl_global_cleanup();
    return rc;
}
