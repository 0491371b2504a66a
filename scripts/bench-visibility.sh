#!/usr/bin/env bash
# The leak-visibility benchmarks (run by `make bench` after scripts/bench.sh):
#
#  1. dump: the time to write a dump of 100,000 parked tasks in each format
#     (bench/bench_dump.c), beside Go's runtime/pprof goroutine profile of
#     100,000 parked goroutines (bench/go/dump.go) at debug=2, debug=1 and
#     protobuf. Target: debug=2 within 1 s.
#  2. bookkeeping: what the always-on leak bookkeeping costs. spawn_join and
#     pingpong are built twice, normally and in a bench-only tree configured
#     with -DTT_NO_BOOKKEEPING=ON (spawn sites, wait records, task lists and
#     the counters stack walks use compiled out), and run alternately.
#     Target: <= 5%.
#  3. leakcheck: tt_leak_check over 1,000,000 blocked tasks
#     (bench/bench_leakcheck.c): "live" (none leaked, median of 5 checks)
#     and "leaky" (1% leaked, the first check, which proves them all),
#     beside a runtime.GC() over as many goroutines (bench/go/leakcheck.go:
#     Go finds leaks during a GC cycle). Target: <= 200 ms.
#  4. instant mode: what TT_LEAKCHECK=report costs spawn_join, pingpong
#     and buffered (the runs after task exits and unrefs), against the
#     default mode, run alternately. Target: <= 10%.
#
# Medians of BENCH_RUNS runs (default 5; 3 for the dumps). Prints a table
# and writes it to $BENCH_BUILD_DIR/visibility-table.md.
set -uo pipefail
cd "$(dirname "$0")/.."

BUILD=${BENCH_BUILD_DIR:-build-bench}
NOBK=${BUILD}-nobk
RUNS=${BENCH_RUNS:-5}
GO=${GO:-/usr/lib/go-1.19/bin/go}
JOBS=$(nproc 2>/dev/null || echo 2)
log() { printf '%s\n' "$*" >&2; }

mkdir -p "$BUILD/bench-logs" "$BUILD/go" || exit 2
BUILD=$(cd "$BUILD" && pwd)
LOGS=$BUILD/bench-logs
export GO111MODULE=off GOFLAGS='' GOPROXY=off GOTOOLCHAIN=local
export GOCACHE=$BUILD/go/cache GOPATH=$BUILD/go/path

[ -x "$GO" ] || { log "bench-visibility: Go 1.19 is required at $GO (scripts/deps.sh go)"; exit 2; }

configure() { # configure DIR EXTRA...
  local dir=$1
  shift
  cmake -S . -B "$dir" -DCMAKE_BUILD_TYPE=Release -DCMAKE_C_FLAGS_RELEASE="-O2 -DNDEBUG" \
    -DTT_BUILD_TESTS=OFF "$@" >"$LOGS/visibility-configure-$(basename "$dir").log" 2>&1
}

log "bench-visibility: building $BUILD and the bench-only $NOBK"
configure "$BUILD" || { log "configure failed: $LOGS"; exit 1; }
configure "$NOBK" -DTT_NO_BOOKKEEPING=ON -DTT_BUILD_EXAMPLES=OFF ||
  { log "configure (no bookkeeping) failed"; exit 1; }
cmake --build "$BUILD" -j "$JOBS" --target bench_dump bench_spawn_join bench_pingpong \
  bench_buffered bench_leakcheck \
  >"$LOGS/visibility-build.log" 2>&1 || { log "build failed: $LOGS/visibility-build.log"; exit 1; }
cmake --build "$NOBK" -j "$JOBS" --target bench_spawn_join bench_pingpong \
  >"$LOGS/visibility-build-nobk.log" 2>&1 || { log "build failed: $LOGS/visibility-build-nobk.log"; exit 1; }
for g in dump leakcheck; do
  "$GO" build -o "$BUILD/go/$g" "bench/go/$g.go" >"$LOGS/visibility-go.log" 2>&1 ||
    { log "go build failed: $LOGS/visibility-go.log"; exit 1; }
done

value() { sed -n 's/^RESULT .* value=\([0-9.]*\) .*/\1/p' | tail -n 1; }
median() { sort -g | awk '{v[NR]=$1} END {if (NR) print (NR%2 ? v[(NR+1)/2] : (v[NR/2]+v[NR/2+1])/2)}'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (a > 0 && b > 0) printf "%.2f", a / b; else print "-" }'; }

TABLE=$BUILD/visibility-table.md
{
  echo "| dump of 100,000 parked tasks | tether ms | Go ms | Go / tether | tether stall ms | Go stall ms |"
  echo "|---|---|---|---|---|---|"
} >"$TABLE"
DRUNS=${BENCH_DUMP_RUNS:-3}
stall() { sed -n 's/^RESULT name=[a-z0-9_]*_stall .* value=\([0-9.]*\) .*/\1/p'; }
# dumps BIN FORMAT: DRUNS runs; the median dump time and the median stall.
dumps() {
  local out times=() stalls=()
  for _ in $(seq "$DRUNS"); do
    out=$("$1" "$2" 2>>"$LOGS/dump.err") || true
    times+=("$(value <<<"$out")")
    stalls+=("$(stall <<<"$out")")
  done
  echo "$(printf '%s\n' "${times[@]}" | median) $(printf '%s\n' "${stalls[@]}" | median)"
}
for f in debug2 debug1 pprof json; do
  read -r c cs <<<"$(dumps "$BUILD/bench/bench_dump" "$f")"
  g="-" gs="-"
  [ "$f" != json ] && read -r g gs <<<"$(dumps "$BUILD/go/dump" "$f")"
  echo "| $f | $c | $g | $(ratio "$g" "$c") | ${cs:--} | ${gs:--} |" >>"$TABLE"
done

# cost ROW "ENV..." BIN_WITH "ENV..." BIN_WITHOUT: run both RUNS times,
# alternately so that drift hits both alike, and add a table row with the
# medians and what the first costs over the second.
cost() {
  local row=$1 env_a=$2 bin_a=$3 env_b=$4 bin_b=$5 with=() without=()
  for _ in $(seq "$RUNS"); do
    # shellcheck disable=SC2086 # each env_* is a list of VAR=value words
    with+=("$(env $env_a "$bin_a" 2>/dev/null | value)")
    # shellcheck disable=SC2086
    without+=("$(env $env_b "$bin_b" 2>/dev/null | value)")
  done
  local a b
  a=$(printf '%s\n' "${with[@]}" | median)
  b=$(printf '%s\n' "${without[@]}" | median)
  echo "| $row | $a | $b | $(awk -v a="$a" -v b="$b" 'BEGIN { if (b > 0) printf "%+.1f%%", (a / b - 1) * 100; else print "-" }') |" >>"$TABLE"
}

{
  echo
  echo "| bookkeeping cost (procs=1) | with ns/op | without ns/op | cost |"
  echo "|---|---|---|---|"
} >>"$TABLE"
for w in spawn_join pingpong; do
  cost "$w" TT_PROCS=1 "$BUILD/bench/bench_$w" TT_PROCS=1 "$NOBK/bench/bench_$w"
done

{
  echo
  echo "| leak check over 1,000,000 blocked tasks | tether ms | Go GC ms | Go / tether |"
  echo "|---|---|---|---|"
} >>"$TABLE"
for s in live leaky; do
  c=$(for _ in $(seq "$DRUNS"); do "$BUILD/bench/bench_leakcheck" "$s" 2>>"$LOGS/leakcheck.err" | value; done | median)
  g=$(for _ in $(seq "$DRUNS"); do "$BUILD/go/leakcheck" "$s" 2>>"$LOGS/leakcheck.err" | value; done | median)
  echo "| $s | $c | $g | $(ratio "$g" "$c") |" >>"$TABLE"
done

{
  echo
  echo "| instant mode cost (procs=2) | TT_LEAKCHECK=report ns/op | default ns/op | cost |"
  echo "|---|---|---|---|"
} >>"$TABLE"
for w in spawn_join pingpong buffered; do
  cost "$w" "TT_PROCS=2 TT_LEAKCHECK=report" "$BUILD/bench/bench_$w" TT_PROCS=2 "$BUILD/bench/bench_$w"
done
cat "$TABLE"
