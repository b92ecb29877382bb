/* fuzz_replicate_parse.c — Replicate parse_create / parse_poll on arbitrary
 * replies (layout in fuzz_prov_common.h). */
#include "tests/fuzz/fuzz_prov_common.h"

extern const struct prov_ops replicate_ops; /* providers/replicate.c, exported for tests */

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    return fuzz_prov_reply(&replicate_ops, data, size);
}
