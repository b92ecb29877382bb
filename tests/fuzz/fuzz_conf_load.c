/* fuzz_conf_load.c — conf_load_string() (conf/config.c and the loaders) on
 * arbitrary text. Every error is a non-empty sentence naming the source, and
 * no secret (the values of the key variables) ever appears in one. Inputs
 * with "@include" are skipped (libconfig would read files), and so are those
 * that spell a secret themselves. */
#include "conf/config.h"
#include "tests/fuzz/fuzz.h"

#define KIE_SECRET "kie-fuzz-SECRET-1"
#define REP_SECRET "rep-fuzz-SECRET-2"
#define WH_SECRET "whsec_cmVwbGljYXRlLXRlc3Qta2V5LTAxMjM0NTY3ODlhYmM="

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc, (void)argv;
    setenv("SY_T_KIE_KEY", KIE_SECRET, 1);
    setenv("SY_T_REP_KEY", REP_SECRET, 1);
    setenv("SY_T_WH_SECRET", WH_SECRET, 1);
    setenv("SY_T_KIE_HMAC", KIE_SECRET, 1);
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (memmem(data, size, "@include", 8) != NULL || memmem(data, size, "SECRET", 6) != NULL ||
        memmem(data, size, "cmVwbGljYXRl", 12) != NULL)
        return 0;
    char *text = fuzz_strndup(data, size);
    char err[512];
    memset(err, 0, sizeof err);
    struct conf *c = conf_load_string(text, "fuzz.conf", err, sizeof err);
    FUZZ_CHECK(strnlen(err, sizeof err) < sizeof err);
    if (!c) {
        FUZZ_CHECK(err[0] != '\0');
        FUZZ_CHECK(strncmp(err, "fuzz.conf", 9) == 0);
    }
    FUZZ_CHECK(strstr(err, "SECRET") == NULL && strstr(err, "cmVwbGljYXRl") == NULL);
    conf_free(c);
    free(text);
    return 0;
}
