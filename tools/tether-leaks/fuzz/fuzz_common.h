/*
 * What every fuzz target does with its input: parse it (one parser, or
 * detection first), group it, rank suspects, and write all three reports
 * to a memory stream, so the whole path from bytes to report is covered.
 * Each parser must return an error or succeed; a crash, a sanitizer report
 * or a hang is the bug.
 */
#ifndef TETHER_LEAKS_FUZZ_COMMON_H
#define TETHER_LEAKS_FUZZ_COMMON_H

#include "report.h"

#include <stdlib.h>
#include <string.h>

enum { FUZZ_ANY, FUZZ_DEBUG2, FUZZ_DEBUG1, FUZZ_PPROF, FUZZ_JSON };

static void fuzz_reports(lk_groups *g, lk_format f) {
  char *buf = NULL;
  size_t len = 0;
  FILE *out = open_memstream(&buf, &len);
  if (!out)
    return;
  lk_snap s = {g, f, "fuzz"};
  lk_view v = {0};
  lk_text_snap(out, &s, &v);
  lk_json_snap(out, &s, &v);
  lk_html_snap(out, &s, &v);
  lk_diff d = {.old = s, .new = s, .max_growth = 0};
  if (lk_diff_build(&d) == 0) {
    lk_text_diff(out, &d, &v);
    lk_json_diff(out, &d, &v);
  }
  lk_diff_free(&d);
  fclose(out);
  free(buf);
}

static int fuzz_run(const uint8_t *data, size_t size, int mode) {
  lk_memsrc m;
  lk_src src = lk_memsrc_init(&m, data, size);
  lk_gunzip *gz = NULL;
  if (mode == FUZZ_ANY && size >= 2 && data[0] == 0x1f && data[1] == 0x8b) {
    gz = lk_gunzip_new(src);
    if (!gz)
      return 0;
    src = lk_gunzip_src(gz);
  }
  lk_lines lr;
  if (lk_lines_init(&lr, src) < 0) {
    lk_gunzip_free(gz);
    return 0;
  }
  lk_groups *g = lk_groups_new((lk_gopts){.exact_args = size & 1, .fold = (int)(size % 5)});
  lk_sink sink = lk_groups_sink(g);
  lk_err e = {{0}};
  lk_format f = LK_FMT_UNKNOWN;
  int rc;
  switch (mode) {
  case FUZZ_DEBUG2: rc = lk_parse_gotext(&lr, f = LK_FMT_GO_DEBUG2, &sink, &e); break;
  case FUZZ_DEBUG1: rc = lk_parse_gotext(&lr, f = LK_FMT_GO_DEBUG1, &sink, &e); break;
  case FUZZ_PPROF: rc = lk_parse_pprof(&lr, size & 2, &sink, &e); break;
  case FUZZ_JSON: rc = lk_parse_json(&lr, &sink, &e); break;
  default: rc = lk_parse_any(&lr, false, &f, &sink, &e); break;
  }
  /* A failure must say why. */
  if (rc < 0 && !e.msg[0])
    abort();
  if (rc == 0) {
    lk_groups_finish(g);
    lk_suspects_rank(g, (lk_sopts){.pool_min = 3, .io_min_s = 0});
    fuzz_reports(g, f);
  }
  lk_groups_free(g);
  lk_lines_free(&lr);
  lk_gunzip_free(gz);
  return 0;
}

#define FUZZ_TARGET(mode) \
  int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size); \
  int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) { \
    return fuzz_run(data, size, mode); \
  }

#endif
