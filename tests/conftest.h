/* conftest.h — what test_config.c and test_config_reject.c share: the
 * environment the test configs name (keys a message must never echo), the
 * fixtures folder and a one-line kie / replicate provider to build on.
 * Header-only, like testutil.h. */
#ifndef TESTS_CONFTEST_H
#define TESTS_CONFTEST_H

#include <criterion/criterion.h>
#include <stdlib.h>

#include "conf/config.h"

#define KIE_KEY "kie-SECRET-7f3a9c1e"
#define REP_KEY "rep-SECRET-2b8e41d0"
#define HMAC_KEY "hmac-SECRET-5d1c"
#define WHSEC "whsec_c2VjcmV0LVNFQ1JFVC1iYXNlNjQ="
#define FIX SY_FIXTURES "/config/"

/* The suite's .init: the variables the configs below name. */
static inline void conftest_set_env(void)
{
    setenv("SY_T_KIE_KEY", KIE_KEY, 1);
    setenv("SY_T_REP_KEY", REP_KEY, 1);
    setenv("SY_T_EMPTY", "", 1);
    setenv("SY_T_HMAC", HMAC_KEY, 1);
    setenv("SY_T_WHSEC", WHSEC, 1);
    unsetenv("SY_T_UNSET");
}

/* One valid kie provider on one line; tests append to it. */
#define KIE                                                                                        \
    "{ name = \"kie\"; type = \"kie\"; priority = 1; base_url = \"https://api.kie.ai\"; api_key_env = \"SY_T_KIE_KEY\"; "
#define REP                                                                                        \
    "{ name = \"replicate\"; type = \"replicate\"; priority = 2; base_url = \"https://api.replicate.com\"; api_key_env = \"SY_T_REP_KEY\"; "
#define MIN "providers = ( " KIE "} );\n"

/* text loaded as "t.conf"; fails the test if it does not load. */
static inline struct conf *conftest_load_ok(const char *text)
{
    char err[512] = "";
    struct conf *c = conf_load_string(text, "t.conf", err, sizeof err);
    cr_assert_not_null(c, "unexpected error: %s", err);
    return c;
}

#endif
