#include <criterion/criterion.h>
Test(placeholder, kie) { cr_assert(1); }
