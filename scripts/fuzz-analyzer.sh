#!/usr/bin/env bash
# Fuzz tether-leaks' parsers with libFuzzer (clang -fsanitize=fuzzer) plus
# ASan and UBSan: one target per parser (debug2, debug1, pprof, json) and
# one that detects the format first (gzip included), each also grouping,
# ranking and writing every report. Seeds: tools/tether-leaks/fuzz/seeds.
#
#   scripts/fuzz-analyzer.sh [SECONDS_PER_TARGET]     (default 10; 5 targets)
#
# Builds into build-fuzz/ (or $TT_FUZZ_DIR). Exits non-zero when a target
# crashes, leaks, trips a sanitizer or hangs; the reproducer is left in the
# build directory. Needs clang (scripts/deps.sh clang).
set -euo pipefail

here=$(cd "$(dirname "$0")/.." && pwd)
secs=${1:-10}
out=${TT_FUZZ_DIR:-$here/build-fuzz}
src=$here/tools/tether-leaks
command -v clang >/dev/null || bash "$here/scripts/deps.sh" clang
mkdir -p "$out"

core=(lines.c record.c parse_gotext.c parse_pprof.c parse_json.c group.c suspects.c diff.c watch.c
      out_text.c out_json.c out_html.c)
flags=(-g -O1 -D_GNU_SOURCE -std=gnu11 -Wall -Wextra -Werror
       -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined -I"$src")

rc=0
for t in any debug2 debug1 pprof json; do
  bin=$out/fuzz_$t
  clang "${flags[@]}" -o "$bin" "$src/fuzz/fuzz_$t.c" "${core[@]/#/$src/}" -lz
  corpus=$out/corpus_$t
  mkdir -p "$corpus"
  echo "fuzz_$t: ${secs}s"
  if ! (cd "$out" && ASAN_OPTIONS=detect_leaks=1 "$bin" -max_total_time="$secs" -max_len=65536 \
        -timeout=10 -rss_limit_mb=2048 -print_final_stats=0 "$corpus" "$src/fuzz/seeds" \
        >"$out/fuzz_$t.log" 2>&1); then
    echo "fuzz_$t FAILED (log: $out/fuzz_$t.log):" >&2
    tail -40 "$out/fuzz_$t.log" >&2
    rc=1
  else
    grep -E "^#[0-9]+.*(DONE|pulse)" "$out/fuzz_$t.log" | tail -1 || true
  fi
done
exit $rc
