#!/usr/bin/env bash
# Fuzz the HTTP/1.1 request parser with libFuzzer for a bounded time.
#
#   scripts/fuzz-http.sh [SECONDS] [BUILD_DIR]    (default: 30, build-fuzz)
#
# Builds tests/fuzz/fuzz_http_parser.c with the parser under
# clang -fsanitize=fuzzer,address,undefined, then runs it from the seed
# corpus (tests/fuzz/http_corpus/, read only) plus a working corpus in
# BUILD_DIR/corpus that grows between runs. A crash, sanitizer report or
# broken invariant leaves its input in BUILD_DIR/ and fails the script.
# Needs clang (scripts/deps.sh clang).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
secs=${1:-30}
out=${2:-"$root/build-fuzz"}
CLANG=${CLANG:-clang}
command -v "$CLANG" >/dev/null || { echo "fuzz-http: clang is needed (scripts/deps.sh clang)" >&2; exit 1; }
mkdir -p "$out/corpus"
"$CLANG" -std=gnu11 -O1 -g -Wall -Wextra -Werror -fsanitize=fuzzer,address,undefined \
  -fno-sanitize-recover=undefined -D_GNU_SOURCE -I"$root/src" -I"$root/tests" \
  "$root/src/http/parser.c" "$root/tests/fuzz/fuzz_http_parser.c" -o "$out/fuzz_http_parser"
cd "$out"
# -max_len: the byte-at-a-time feed copies the head on every byte, so long
# inputs only slow the search down; the small limits reach every limit
# within 4 KiB.
set +e
ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 \
  ./fuzz_http_parser -max_total_time="$secs" -max_len=4096 -timeout=20 -rss_limit_mb=1024 \
  -print_final_stats=1 -artifact_prefix="$out/" corpus "$root/tests/fuzz/http_corpus" \
  >fuzz.log 2>&1
rc=$?
set -e
# The progress lines are many; the summary and any report are at the end.
grep -v -E '^#[0-9]+\s+(NEW|REDUCE|pulse|INITED)' fuzz.log | tail -40
exit "$rc"
