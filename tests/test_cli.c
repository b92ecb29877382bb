/* test_cli.c — the command line itself: --help fits a terminal (24 lines,
 * 80 columns) and goes to stdout with exit 0, --version prints the version,
 * a usage error exits 2 with the usage on stderr, --check-config accepts the
 * shipped example config (keys in the environment) and rejects a broken
 * file with exit 2 and "FILE:LINE: reason"; a closed stderr pipe does not
 * kill a run (SIGPIPE); a supervisor sent TERM then HUP at once stops. */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <criterion/criterion.h>

#include "core/sy.h"
#include "sytest.h"

/* Runs switchyard with args; fills out/err (caller frees) and returns the exit status. */
static int run(const char *const *args, char **out, char **err)
{
    char dir[256], op[320], ep[320];
    sy_tmpdir(dir, sizeof dir);
    snprintf(op, sizeof op, "%s/stdout", dir);
    snprintf(ep, sizeof ep, "%s/stderr", dir);
    int rc = sy_wait(sy_spawn_cmd(args, op, ep), 20);
    const char *paths[] = { op, ep };
    char **dst[] = { out, err };
    for (int i = 0; i < 2; i++) {
        FILE *f = fopen(paths[i], "r");
        cr_assert_not_null(f, "%s: %s", paths[i], strerror(errno));
        size_t cap = 0;
        *dst[i] = NULL;
        ssize_t n = getdelim(dst[i], &cap, '\0', f);
        if (n < 0) {
            free(*dst[i]);
            *dst[i] = strdup("");
        }
        fclose(f);
    }
    return rc;
}

/* Lines in s, asserting none is wider than 80 columns (s is ASCII). */
static int count_lines(const char *s)
{
    int lines = 0;
    for (const char *p = s; *p;) {
        size_t len = strcspn(p, "\n");
        lines++;
        cr_assert_leq(len, 80, "line %d is %zu columns: %.*s", lines, len, (int)len, p);
        for (size_t i = 0; i < len; i++)
            cr_assert(isprint((unsigned char)p[i]), "line %d has a non-printable byte", lines);
        p += len + (p[len] == '\n');
    }
    return lines;
}

Test(cli, help_fits_a_terminal, .timeout = 30)
{
    const char *args[] = { "--help", NULL };
    char *out, *err;
    cr_assert_eq(run(args, &out, &err), 0);
    cr_assert_str_empty(err, "stderr: %s", err);
    cr_assert(strstr(out, "usage: switchyard"), "%s", out);
    int lines = count_lines(out);
    cr_assert_leq(lines, 24, "--help is %d lines", lines);
    free(out);
    free(err);
    const char *args_h[] = { "-h", NULL };
    cr_assert_eq(run(args_h, &out, &err), 0);
    cr_assert(strstr(out, "usage: switchyard"), "%s", out);
    free(out);
    free(err);
}

Test(cli, version, .timeout = 30)
{
    const char *args[] = { "--version", NULL };
    char *out, *err;
    cr_assert_eq(run(args, &out, &err), 0);
    char want[64];
    snprintf(want, sizeof want, "switchyard %s", SY_VERSION);
    cr_assert(strncmp(out, want, strlen(want)) == 0,
              "--version printed \"%s\", want it to start with \"%s\"", out, want);
    cr_assert_eq(count_lines(out), 1, "%s", out);
    free(out);
    free(err);
}

Test(cli, usage_errors_exit_2, .timeout = 30)
{
    const char *const cases[][4] = {
        { "--no-such-option", NULL },
        { NULL },                                                     /* no -c */
        { "-c", "x.conf", "extra", NULL },                            /* stray argument */
        { "--workers", "0", "-c", "x.conf" },                         /* out of range */
        { "run", "-c", SY_SOURCE_DIR "/conf/switchyard.conf", NULL }, /* run without --jobs */
    };
    setenv("KIE_API_KEY", "cli-test-kie", 1);
    setenv("REPLICATE_API_TOKEN", "cli-test-replicate", 1);
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        const char *args[5] = { 0 };
        for (int k = 0; k < 4 && cases[i][k]; k++)
            args[k] = cases[i][k];
        char *out, *err;
        int rc = run(args, &out, &err);
        cr_assert_eq(rc, 2, "case %zu (%s): exit %d, want 2; stderr: %s", i,
                     args[0] ? args[0] : "(none)", rc, err);
        cr_assert_str_empty(out, "case %zu: usage error printed on stdout: %s", i, out);
        cr_assert(err[0] != '\0', "case %zu: nothing on stderr", i);
        if (i == 0)
            cr_assert_not_null(strstr(err, "usage:"), "no usage on stderr: %s", err);
        free(out);
        free(err);
    }
}

Test(cli, check_config_example_ok, .timeout = 30)
{
    setenv("KIE_API_KEY", "cli-test-kie", 1);
    setenv("REPLICATE_API_TOKEN", "cli-test-replicate", 1);
    const char *conf = SY_SOURCE_DIR "/conf/switchyard.conf";
    const char *args[] = { "-c", conf, "--check-config", NULL };
    char *out, *err;
    int rc = run(args, &out, &err);
    cr_assert_eq(rc, 0, "exit %d: %s%s", rc, out, err);
    cr_assert(strncmp(out, conf, strlen(conf)) == 0 && strstr(out, ": ok"), "stdout: %s", out);
    cr_assert(strstr(out, "(2 providers, 3 templates)"), "stdout: %s", out);
    free(out);
    free(err);
}

/* H-4: --check-config refuses an unsigned receiver on a public address,
 * naming file, line and field. */
Test(cli, check_config_unsigned_public_listen, .timeout = 30)
{
    setenv("KIE_API_KEY", "cli-test-kie", 1);
    char dir[256], conf[320];
    sy_tmpdir(dir, sizeof dir);
    snprintf(conf, sizeof conf, "%s/open.conf", dir);
    FILE *f = fopen(conf, "w");
    cr_assert_not_null(f);
    fputs("providers = ( { name = \"kie\"; type = \"kie\"; priority = 1; api_key_env = \"KIE_API_KEY\";\n"
          "  base_url = \"https://api.kie.ai\"; } );\n"
          "callbacks = {\n  public_url = \"https://hooks.example.com\";\n  listen = \"0.0.0.0:8088\";\n};\n",
          f);
    fclose(f);
    const char *args[] = { "-c", conf, "--check-config", NULL };
    char *out, *err;
    int rc = run(args, &out, &err);
    cr_assert_eq(rc, 2, "exit %d: %s%s", rc, out, err);
    char want[400];
    snprintf(want, sizeof want, "%s:5: callbacks.listen:", conf);
    cr_assert_not_null(strstr(err, want), "stderr: %s", err);
    free(out);
    free(err);
}

Test(cli, check_config_bad_file, .timeout = 30)
{
    char dir[256], conf[320];
    sy_tmpdir(dir, sizeof dir);
    snprintf(conf, sizeof conf, "%s/bad.conf", dir);
    FILE *f = fopen(conf, "w");
    cr_assert_not_null(f);
    fputs("# line 1\nworker = {\n  max_in_flight = ;\n  log_level = \"info\";\n};\n",
          f); /* no value */
    fclose(f);
    const char *args[] = { "-c", conf, "--check-config", NULL };
    char *out, *err;
    int rc = run(args, &out, &err);
    cr_assert_eq(rc, 2, "exit %d: %s%s", rc, out, err);
    size_t cl = strlen(conf);
    cr_assert(strncmp(err, conf, cl) == 0 && err[cl] == ':' && isdigit((unsigned char)err[cl + 1]),
              "stderr does not start with \"%s:LINE\": %s", conf, err);
    long line = strtol(err + cl + 1, NULL, 10);
    cr_assert(line >= 3 && line <= 4, "error line %ld, want 3 or 4: %s", line, err);
    free(out);
    free(err);

    /* a file that does not exist: also exit 2, and names the file */
    const char *args2[] = { "-c", "/nonexistent/switchyard.conf", "--check-config", NULL };
    rc = run(args2, &out, &err);
    cr_assert_eq(rc, 2, "exit %d: %s", rc, err);
    cr_assert_not_null(strstr(err, "/nonexistent/switchyard.conf"), "%s", err);
    free(out);
    free(err);
}

/* L-6: a worker whose stderr reader went away keeps working (SIGPIPE is
 * ignored; the failed log writes are dropped), instead of dying mid-job. */
Test(cli, closed_stderr_pipe_does_not_kill, .timeout = 60)
{
    struct fakeprov fp;
    fp_start(&fp, NULL);
    struct sy_run r;
    sy_prepare(&r, &fp, "", "", 3, "{\"id\":\"pipe-%d\",\"prompt\":\"a room\"}");
    pid_t pid = fork();
    cr_assert(pid >= 0);
    if (pid == 0) {
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        signal(SIGPIPE, SIG_DFL); /* as a shell would leave it, whatever the test runner does */
        int p[2];
        if (pipe(p) != 0)
            _exit(126);
        close(p[0]); /* the reader is gone before the first write */
        dup2(p[1], 2);
        close(p[1]);
        execl(SY_SWITCHYARD_BIN, SY_SWITCHYARD_BIN, "run", "-v", "-c", r.conf, "--jobs", r.jobs,
              "--out", r.out, (char *)NULL);
        _exit(127);
    }
    int rc = sy_wait(pid, 45);
    cr_assert_eq(rc, 0, "exit %d (-1: killed by a signal, e.g. SIGPIPE)", rc);
    json_object *res = sy_read_results(r.out);
    cr_assert_eq(json_object_array_length(res), 3, "every job has its result");
    json_object_put(res);
    cr_assert_eq(fp_stop(&fp), 0);
}

/* L-7: a supervisor sent SIGTERM and, at once, SIGHUP still stops (the HUP
 * used to overwrite the pending TERM: the workers reloaded and ran on). */
Test(cli, supervisor_term_then_hup_stops, .timeout = 90)
{
    char dir[256], conf[320], errp[320], name[96];
    sy_tmpdir(dir, sizeof dir);
    snprintf(conf, sizeof conf, "%s/c.conf", dir);
    snprintf(errp, sizeof errp, "%s/stderr", dir);
    snprintf(name, sizeof name, "cli-sup-%ld-%ld", (long)getpid(), (long)time(NULL));
    struct fakeprov fp = { .port = 1 }; /* no job is sent: never contacted */
    sy_write_config(&fp, conf, "", "");
    const char *brokers = getenv("SY_KAFKA_BROKERS");
    FILE *f = fopen(conf, "a");
    cr_assert_not_null(f);
    fprintf(f,
            "kafka = { brokers = \"%s\"; group = \"%s\"; input_topic = \"%s-in\"; output_topic = \"%s-out\";\n"
            "  dlq_topic = \"%s-dlq\"; };\n",
            brokers && brokers[0] ? brokers : "127.0.0.1:9092", name, name, name, name);
    fclose(f);
    const char *args[] = { "-c", conf, "--workers", "2", "-v", NULL }; /* -v: info lines show */
    pid_t pid = sy_spawn_cmd(args, NULL, errp);
    /* wait until the supervisor has its handlers and workers */
    int up = 0;
    for (int i = 0; i < 200 && !up; i++) {
        sy_sleep_ms(50);
        FILE *e = fopen(errp, "r");
        char text[65536] = "";
        if (e) {
            text[fread(text, 1, sizeof text - 1, e)] = '\0';
            fclose(e);
        }
        up = strstr(text, "supervising 2 workers") != NULL;
    }
    cr_assert(up, "the supervisor did not start");
    sy_sleep_ms(1000); /* let the workers install their own handlers */
    cr_assert_eq(kill(pid, SIGTERM), 0);
    cr_assert_eq(kill(pid, SIGHUP), 0);
    int status = 0, exited = 0;
    for (int i = 0; i < 300 && !exited; i++) { /* up to 30 s */
        exited = waitpid(pid, &status, WNOHANG) == pid;
        if (!exited)
            sy_sleep_ms(100);
    }
    if (!exited) {
        kill(pid, SIGKILL);
        waitpid(pid, &status, 0);
    }
    cr_assert(exited, "the supervisor lost SIGTERM: still running 30 s after TERM+HUP");
    cr_assert(WIFEXITED(status), "the supervisor died of signal %d",
              WIFSIGNALED(status) ? WTERMSIG(status) : 0);
}

/* L-8: a config file that others can read and that holds a SASL password
 * gets a warning naming the file and the key (never the value). */
Test(cli, warns_about_a_readable_config_with_a_password, .timeout = 30)
{
    char dir[256], conf[320];
    sy_tmpdir(dir, sizeof dir);
    snprintf(conf, sizeof conf, "%s/c.conf", dir);
    struct fakeprov fp = { .port = 1 };
    sy_write_config(&fp, conf, "", "");
    FILE *f = fopen(conf, "a");
    cr_assert_not_null(f);
    fputs("kafka = { brokers = \"127.0.0.1:9092\"; properties = { sasl_password = \"pw-cli-secret-77\"; }; };\n",
          f);
    fclose(f);
    const char *args[] = { "-c", conf, "--check-config", NULL };
    char *out, *err;
    cr_assert_eq(chmod(conf, 0644), 0);
    cr_assert_eq(run(args, &out, &err), 0, "%s", err);
    cr_assert(strstr(err, "readable by group or others") && strstr(err, "sasl.password") &&
                      strstr(err, conf),
              "no warning: %s", err);
    cr_assert_null(strstr(err, "pw-cli-secret-77"), "the password was printed: %s", err);
    free(out);
    free(err);
    cr_assert_eq(chmod(conf, 0600), 0);
    cr_assert_eq(run(args, &out, &err), 0, "%s", err);
    cr_assert_null(strstr(err, "readable by group"), "warned about a private file: %s", err);
    free(out);
    free(err);
}

/* Runs switchyard-enqueue (next to switchyard) with stdin from /dev/null;
 * *err gets its stderr (caller frees); returns the exit status. */
static int run_enqueue(const char *const *args, char **err)
{
    char bin[512], dir[256], ep[320];
    snprintf(bin, sizeof bin, "%s-enqueue", SY_SWITCHYARD_BIN);
    sy_tmpdir(dir, sizeof dir);
    snprintf(ep, sizeof ep, "%s/stderr", dir);
    const char *argv[16] = { bin };
    for (int i = 0; args[i] && i < 14; i++)
        argv[i + 1] = args[i];
    pid_t pid = fork();
    cr_assert(pid >= 0);
    if (pid == 0) {
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        int in = open("/dev/null", O_RDONLY), e = open(ep, O_WRONLY | O_CREAT | O_TRUNC, 0600);
        dup2(in, 0);
        dup2(e, 2);
        execv(bin, (char *const *)argv);
        _exit(127);
    }
    int rc = sy_wait(pid, 30);
    FILE *f = fopen(ep, "r");
    cr_assert_not_null(f);
    size_t cap = 0;
    *err = NULL;
    if (getdelim(err, &cap, '\0', f) < 0) {
        free(*err);
        *err = strdup("");
    }
    fclose(f);
    return rc;
}

/* L-8: -X PROP=@FILE reads the value from FILE; a secret given inline on the
 * command line gets a warning; a missing FILE is a usage error naming it. */
Test(cli, enqueue_secret_from_file, .timeout = 60)
{
    char dir[256], pw[320], missing[320];
    sy_tmpdir(dir, sizeof dir);
    snprintf(pw, sizeof pw, "%s/pw", dir);
    snprintf(missing, sizeof missing, "%s/none", dir);
    FILE *f = fopen(pw, "w");
    cr_assert_not_null(f);
    fputs("from-file-id-4242\n", f);
    fclose(f);
    const char *brokers = getenv("SY_KAFKA_BROKERS");
    brokers = brokers && brokers[0] ? brokers : "127.0.0.1:9092";
    char xid[400], xpw[400], xmissing[400];
    snprintf(xid, sizeof xid, "client.id=@%s", pw);
    snprintf(xpw, sizeof xpw, "sasl.password=@%s", pw);
    snprintf(xmissing, sizeof xmissing, "sasl.password=@%s", missing);
    char *err;

    /* the value comes from the file (librdkafka's conf dump shows client.id) */
    const char *a1[] = { "-b", brokers, "-t", "cli-enq-unused", "-X", xid,
                         "-X", xpw,     "-X", "debug=conf",     NULL };
    cr_assert_eq(run_enqueue(a1, &err), 0, "%s", err);
    cr_assert(strstr(err, "client.id = from-file-id-4242"), "client.id not read from the file: %s",
              err);
    cr_assert_null(strstr(err, "warning: -X"), "warned about @FILE: %s", err);
    free(err);

    const char *a2[] = { "-b", brokers, "-t", "cli-enq-unused", "-X", xmissing, NULL };
    cr_assert_eq(run_enqueue(a2, &err), 2, "%s", err);
    cr_assert(strstr(err, missing), "does not name the file: %s", err);
    free(err);

    const char *a3[] = { "-b", brokers, "-t", "cli-enq-unused", "-X", "sasl.password=inline-pw-9",
                         NULL };
    cr_assert_eq(run_enqueue(a3, &err), 0, "%s", err);
    cr_assert(strstr(err, "warning: -X sasl.password=... puts a secret on the command line"),
              "no warning: %s", err);
    cr_assert_null(strstr(err, "inline-pw-9"), "the password was echoed: %s", err);
    free(err);
}
