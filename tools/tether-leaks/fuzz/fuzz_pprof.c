/* libFuzzer target: the pprof parser alone, with grouping and reports. */
#include "fuzz_common.h"

FUZZ_TARGET(FUZZ_PPROF)
