/* testutil.h — small helpers shared by the Criterion test files. Header-only,
 * so a pure unit test links nothing beyond the module it tests. */
#ifndef TESTS_TESTUTIL_H
#define TESTS_TESTUTIL_H

#include <criterion/criterion.h>

/* Criterion counts a test as passed even when LeakSanitizer reports at exit,
 * so a test calls assert_no_leaks() before it returns: it fails the test
 * itself when anything allocated so far is unreachable. A no-op without ASan. */
#if defined(__SANITIZE_ADDRESS__)
#include <sanitizer/lsan_interface.h>
#define assert_no_leaks()                                                                          \
    cr_assert_eq(__lsan_do_recoverable_leak_check(), 0, "leaked (LeakSanitizer report above)")
#else
#define assert_no_leaks() ((void)0)
#endif

#endif
