/* fuzz_kie_parse.c — KIE parse_create / parse_poll on arbitrary replies
 * (layout in fuzz_prov_common.h). */
#include "tests/fuzz/fuzz_prov_common.h"

extern const struct prov_ops kie_ops; /* providers/kie.c, exported for tests */

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    return fuzz_prov_reply(&kie_ops, data, size);
}
