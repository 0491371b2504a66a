/* libFuzzer target: format detection (gzip included), then the detected parser, with grouping and
 * reports. */
#include "fuzz_common.h"

FUZZ_TARGET(FUZZ_ANY)
