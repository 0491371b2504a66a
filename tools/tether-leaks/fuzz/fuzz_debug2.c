/* libFuzzer target: the debug2 parser alone, with grouping and reports. */
#include "fuzz_common.h"

FUZZ_TARGET(FUZZ_DEBUG2)
