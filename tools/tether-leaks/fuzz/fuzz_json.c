/* libFuzzer target: the json parser alone, with grouping and reports. */
#include "fuzz_common.h"

FUZZ_TARGET(FUZZ_JSON)
