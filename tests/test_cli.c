/* test_cli.c — the command line itself: --help fits a terminal (24 lines,
 * 80 columns) and goes to stdout with exit 0, --version prints the version,
 * a usage error exits 2 with the usage on stderr, --check-config accepts the
 * shipped example config (keys in the environment) and rejects a broken
 * file with exit 2 and "FILE:LINE: reason". */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <criterion/criterion.h>

#include "worker/sy.h"
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
    cr_assert(strncmp(out, want, strlen(want)) == 0, "--version printed \"%s\", want it to start with \"%s\"", out,
              want);
    cr_assert_eq(count_lines(out), 1, "%s", out);
    free(out);
    free(err);
}

Test(cli, usage_errors_exit_2, .timeout = 30)
{
    const char *const cases[][4] = {
        { "--no-such-option", NULL },
        { NULL },                                  /* no -c */
        { "-c", "x.conf", "extra", NULL },         /* stray argument */
        { "--workers", "0", "-c", "x.conf" },      /* out of range */
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
        cr_assert_eq(rc, 2, "case %zu (%s): exit %d, want 2; stderr: %s", i, args[0] ? args[0] : "(none)", rc,
                     err);
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
    fputs("# line 1\nworker = {\n  max_in_flight = ;\n  log_level = \"info\";\n};\n", f); /* no value */
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
