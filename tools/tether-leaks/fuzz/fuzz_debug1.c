/* libFuzzer target: the debug1 parser alone, with grouping and reports. */
#include "fuzz_common.h"

FUZZ_TARGET(FUZZ_DEBUG1)
