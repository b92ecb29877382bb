#include <criterion/criterion.h>
Test(placeholder, integration) { cr_assert(1); }
