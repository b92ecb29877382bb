#include <criterion/criterion.h>
Test(placeholder, codec) { cr_assert(1); }
