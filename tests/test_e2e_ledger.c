/* test_e2e_ledger.c — crash-safe jobs (the task ledger) on a real broker. */
#include <criterion/criterion.h>
