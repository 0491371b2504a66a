/*
 * Baselines (baseline.c): what tt_baseline_check and the growth monitor
 * share, the comparison of the population now with a baseline.
 */
#ifndef TT_OBSERVE_BASELINE_H
#define TT_OBSERVE_BASELINE_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "tether.h"

#define TT__NEWEST 2 /* stacks shown per growing site */

typedef struct tt__newest {
  int64_t id, created;
  char reason[32];
} tt__newest;

typedef struct tt__grower {
  tt_site_count site; /* now */
  int64_t before, growth;
  tt__newest newest[TT__NEWEST];
  int nnewest;
} tt__grower;

typedef struct tt__baseline_diff {
  int64_t total, total_before;
  tt__grower *growers; /* largest growth first */
  int n;
} tt__baseline_diff;

/* The sites that grew by more than tolerance since b, with their newest
 * tasks: how many (d filled; free it), or a TT_E* code. */
int tt__baseline_compare(const tt_baseline *b, int64_t tolerance, tt__baseline_diff *d);
void tt__baseline_diff_free(tt__baseline_diff *d);
/* The report tt_baseline_check writes: a summary line, then each site with
 * the stacks of its newest tasks. */
void tt__baseline_print(const tt__baseline_diff *d, int64_t tolerance, FILE *out);

#endif
