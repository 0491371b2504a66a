#!/usr/bin/env bash
# scripts/bench.sh — tether vs Go benchmarks (this is what `make bench` runs).
#
#   bash scripts/bench.sh            # from the repository root (or anywhere)
#
# 1. builds a Release (-O2) tree in build-bench/ with the C benchmarks
#    (bench/bench_<workload>.c);
# 2. builds the Go twins (bench/go/<workload>.go) with Go 1.19, offline
#    (GO111MODULE=off, GOCACHE/GOPATH inside build-bench/);
# 3. runs every workload with TT_PROCS=GOMAXPROCS=1 and 2 (some workloads
#    with only one of them, see procs_of below), BENCH_RUNS times each
#    (tether and Go alternately), takes the medians and prints a table:
#    workload | procs | tether | Go | ratio | target | status.
#    For times the ratio is Go/tether (higher is better for tether; for
#    tcp_echo's ns/msg that is tether's messages/s over Go's); for
#    bytes/task and bytes/conn it is tether/Go (lower is better); for `mutex` it is
#    tether/pthread_mutex, both measured by the C program (`ref=` in its
#    RESULT line), with Go's sync.Mutex beside them for reference.
#
# Environment:
#   BENCH_RUNS=5              runs per workload, procs and side (median taken)
#   BENCH_TIMEOUT=60          seconds before one run is killed
#   BENCH_PROCS="1 2"         worker counts
#   BENCH_WORKLOADS="spawn_join yield skynet idle pingpong pingpong_xworker
#                    buffered select2 threadring sieve fanout cancel_fanout
#                    mutex mutex_contended timer context_cancel waitgroup
#                    ticker tcp_pingpong tcp_echo tcp_idle"
#   BENCH_BUILD_DIR=build-bench
#   GO=/usr/lib/go-1.19/bin/go
#
# A workload that fails (build error, crash, timeout, wrong result, wrong
# procs) gets an ERROR row; the script goes on and exits 1 at the end.
# Targets that are not met do not change the exit status.
# Raw values: <build>/bench-raw.txt; table: <build>/bench-table.md.

set -u
export LC_ALL=C

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT" || exit 2

BUILD=${BENCH_BUILD_DIR:-build-bench}
RUNS=${BENCH_RUNS:-5}
TIMEOUT=${BENCH_TIMEOUT:-60}
PROCS_LIST=${BENCH_PROCS:-"1 2"}
WORKLOADS=${BENCH_WORKLOADS:-"spawn_join yield skynet idle pingpong pingpong_xworker buffered select2 threadring sieve fanout cancel_fanout mutex mutex_contended timer context_cancel waitgroup ticker tcp_pingpong tcp_echo tcp_idle"}
GO=${GO:-/usr/lib/go-1.19/bin/go}
JOBS=$(nproc 2>/dev/null || echo 2)

case "$RUNS" in '' | *[!0-9]* | 0) echo "bench: BENCH_RUNS must be a positive integer" >&2; exit 2 ;; esac

failed=0
log() { printf '%s\n' "$*" >&2; }

mkdir -p "$BUILD" || exit 2
BUILD=$(cd "$BUILD" && pwd)
LOGDIR=$BUILD/bench-logs
rm -rf "$LOGDIR"
mkdir -p "$LOGDIR" "$BUILD/go" || exit 2
RAW=$BUILD/bench-raw.txt
TABLE=$BUILD/bench-table.md
: >"$RAW"

# ---- Go toolchain ------------------------------------------------------------
if [ ! -x "$GO" ]; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    log "bench: Go not found at $GO; running: apt-get install -y golang-1.19-go"
    if ! DEBIAN_FRONTEND=noninteractive apt-get install -y golang-1.19-go >&2; then
      log "bench: retrying after apt-get update"
      DEBIAN_FRONTEND=noninteractive apt-get update >&2 &&
        DEBIAN_FRONTEND=noninteractive apt-get install -y golang-1.19-go >&2
    fi
  fi
  if [ ! -x "$GO" ]; then
    log "bench: Go 1.19 is required at $GO. Install it (as root) with:"
    log "    apt-get install -y golang-1.19-go"
    exit 2
  fi
fi

# ---- Build: C side -------------------------------------------------------------
declare -A C_OK GO_OK C_WHY GO_WHY
log "bench: configuring $BUILD (Release, -O2)"
if cmake -S . -B "$BUILD" -DCMAKE_BUILD_TYPE=Release -DCMAKE_C_FLAGS_RELEASE="-O2 -DNDEBUG" \
  -DTT_BUILD_TESTS=OFF >"$LOGDIR/cmake-configure.log" 2>&1; then
  for w in $WORKLOADS; do
    if [ ! -f "bench/bench_$w.c" ]; then
      C_WHY[$w]="no bench/bench_$w.c"
    elif cmake --build "$BUILD" -j "$JOBS" --target "bench_$w" >"$LOGDIR/build-bench_$w.log" 2>&1; then
      C_OK[$w]=1
    else
      C_WHY[$w]="build failed (see $LOGDIR/build-bench_$w.log)"
    fi
  done
else
  log "bench: cmake configure failed; see $LOGDIR/cmake-configure.log"
  tail -n 20 "$LOGDIR/cmake-configure.log" >&2
  for w in $WORKLOADS; do C_WHY[$w]="cmake configure failed"; done
fi
for w in $WORKLOADS; do
  if [ -z "${C_OK[$w]:-}" ]; then
    log "bench: tether bench_$w: ${C_WHY[$w]}"
    [ -f "$LOGDIR/build-bench_$w.log" ] && grep -m 5 -E 'error|Error' "$LOGDIR/build-bench_$w.log" >&2
    failed=1
  fi
done

# ---- Build: Go side ------------------------------------------------------------
export GO111MODULE=off GOFLAGS='' GOPROXY=off GOTOOLCHAIN=local
export GOCACHE=$BUILD/go/cache GOPATH=$BUILD/go/path
for w in $WORKLOADS; do
  if [ ! -f "bench/go/$w.go" ]; then
    GO_WHY[$w]="no bench/go/$w.go"
  elif "$GO" build -o "$BUILD/go/$w" "bench/go/$w.go" >"$LOGDIR/go-build-$w.log" 2>&1; then
    GO_OK[$w]=1
  else
    GO_WHY[$w]="go build failed (see $LOGDIR/go-build-$w.log)"
  fi
  if [ -z "${GO_OK[$w]:-}" ]; then
    log "bench: Go $w: ${GO_WHY[$w]}"
    failed=1
  fi
done

# ---- Running -------------------------------------------------------------------
# run_one <binary> <workload> <procs> <logfile>: prints the value (followed by
# the reference value when the RESULT line has `ref=`), or an error reason on
# stdout with status 1.
run_one() {
  local bin=$1 w=$2 p=$3 logf=$4 out rc line got_name got_procs value ref
  out=$(env TT_PROCS="$p" GOMAXPROCS="$p" timeout -k 5 "$TIMEOUT" "$bin" 2>>"$logf")
  rc=$?
  printf '%s\n' "$out" >>"$logf"
  if [ "$rc" = 124 ] || [ "$rc" = 137 ]; then
    echo "timeout after ${TIMEOUT}s"
    return 1
  fi
  line=$(printf '%s\n' "$out" | grep '^RESULT ' | tail -n 1)
  if [ "$rc" != 0 ] || [ -z "$line" ]; then
    local why
    why=$(grep -m 1 '^ERROR' "$logf" | tail -n 1)
    [ -z "$why" ] && why=$(grep -v '^idle:' "$logf" | tail -n 1)
    if [ "$rc" -gt 128 ] 2>/dev/null; then
      echo "killed by signal $((rc - 128))${why:+: $why}"
    else
      echo "exit status $rc${why:+: $why}"
    fi
    return 1
  fi
  got_name=$(printf '%s\n' "$line" | sed -n 's/.* name=\([^ ]*\).*/\1/p')
  got_procs=$(printf '%s\n' "$line" | sed -n 's/.* procs=\([^ ]*\).*/\1/p')
  value=$(printf '%s\n' "$line" | sed -n 's/.* value=\([^ ]*\).*/\1/p')
  ref=$(printf '%s\n' "$line" | sed -n 's/.* ref=\([^ ]*\).*/\1/p')
  if [ "$got_name" != "$w" ]; then
    echo "printed name=$got_name"
    return 1
  fi
  if [ "$got_procs" != "$p" ]; then
    echo "ran with procs=$got_procs, wanted $p"
    return 1
  fi
  if ! printf '%s' "$value" | grep -Eq '^[0-9]+(\.[0-9]+)?$'; then
    echo "bad value '$value'"
    return 1
  fi
  if [ -n "$ref" ] && ! printf '%s' "$ref" | grep -Eq '^[0-9]+(\.[0-9]+)?$'; then
    echo "bad ref value '$ref'"
    return 1
  fi
  echo "$value${ref:+ $ref}"
}

# CPU time (clock ticks) used by the whole machine, and by this script's
# finished children; their difference over a run is CPU that something else
# on the machine used meanwhile ("other load"), which skews the figures.
machine_busy() { awk '/^cpu / { print $2 + $3 + $4 + $7 + $8 + $9; exit }' /proc/stat; }
own_busy() { sed 's/.*) //' "/proc/$$/stat" | awk '{ print $14 + $15 }'; }
HZ=$(getconf CLK_TCK 2>/dev/null || echo 100)
other_load() { # other_load <busy0> <own0> <ns0>: average CPUs used by others
  local b1 o1 n1
  b1=$(machine_busy) o1=$(own_busy) n1=$(date +%s%N)
  awk -v b="$((b1 - $1))" -v o="$((o1 - $2))" -v ns="$((n1 - $3))" -v hz="$HZ" \
    'BEGIN { x = (b - o) / hz / (ns / 1e9); if (x < 0) x = 0; printf "%.2f", x }'
}

median() { # values on stdin, one per line
  sort -g | awk '{ v[NR] = $1 } END {
    if (NR == 0) exit 1
    if (NR % 2) printf "%.1f\n", v[(NR + 1) / 2]
    else printf "%.1f\n", (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}

unit_of() {
  case $1 in
  spawn_join | yield | pingpong | pingpong_xworker | buffered | select2 | threadring | \
    fanout | cancel_fanout | mutex | mutex_contended | timer | context_cancel | waitgroup | \
    ticker | tcp_pingpong) echo "ns/op" ;;
  tcp_echo) echo "ns/msg" ;;
  skynet | sieve) echo "ms" ;;
  idle) echo "bytes/task" ;;
  tcp_idle) echo "bytes/conn" ;;
  *) echo "?" ;;
  esac
}

# procs_of <workload>: the worker counts it runs with (those of BENCH_PROCS it
# supports). pingpong_xworker and mutex_contended are about two workers; the
# timer, the uncontended mutex and context make+cancel (one task each, nothing
# for a second worker to do) run on one. tcp_echo is specified at 2 workers.
procs_of() {
  local want p out=""
  case $1 in
  pingpong_xworker | mutex_contended | tcp_echo) want="2" ;;
  timer | mutex | context_cancel) want="1" ;;
  *) want=$PROCS_LIST ;;
  esac
  for p in $PROCS_LIST; do
    case " $want " in *" $p "*) out+="$p " ;; esac
  done
  echo "$out"
}

# target <workload> <procs> -> "kind|threshold|text"; kind: speedup,
# maxbytes, maxgo (tether / Go at most), maxref (tether / the program's
# ref= value), none
target_of() {
  case "$1:$2" in
  spawn_join:*) echo "speedup|3|>= 3x faster than Go" ;;
  skynet:2) echo "speedup|4|>= 4x faster than Go (2 workers)" ;;
  idle:*) echo "maxbytes|4608|<= 4.5 KiB (4608 B) per task" ;;
  pingpong:* | timer:*) echo "speedup|3|>= 3x faster than Go" ;;
  buffered:* | select2:* | cancel_fanout:*) echo "speedup|2|>= 2x faster than Go" ;;
  threadring:*) echo "speedup|2.5|>= 2.5x faster than Go" ;;
  mutex:*) echo "maxref|1.2|within 1.2x of pthread_mutex (same program)" ;;
  tcp_pingpong:*) echo "speedup|1|>= Go's speed" ;;
  tcp_echo:*) echo "speedup|1.3|>= 1.3x Go's messages/s" ;;
  tcp_idle:*) echo "maxgo|1|<= Go's bytes per connection" ;;
  *) echo "none||-" ;;
  esac
}

# second_of <workload> -> "label|unit|sed expression": a second figure some
# programs print on stderr (both sides, or tether only), reported as the
# median over the runs under the table.
second_of() {
  case $1 in
  context_cancel) printf '%s\n' 'child of background|ns|s/.*child of background \([0-9.]*\) ns.*/\1/p' ;;
  waitgroup) printf '%s\n' 'tt_wg_go instead of add + go + done|ns/task|s/.*tt_wg_go \([0-9.]*\) ns.task.*/\1/p' ;;
  ticker) printf '%s\n' 'mean interval between ticks of a 50 us ticker|us|s/.*mean interval \([0-9.]*\) us.*/\1/p' ;;
  esac
}

# second_median <side> <workload> <procs> <sed expression>
second_median() {
  cat "$LOGDIR"/run-"$1"-"$2"-p"$3"-r*.log 2>/dev/null | sed -n "$4" | median 2>/dev/null
}

ROWS=()
LOADS=()
NOTES=()
for w in $WORKLOADS; do
  unit=$(unit_of "$w")
  wprocs=$(procs_of "$w")
  if [ -z "$wprocs" ]; then
    log "bench: $w: skipped (it does not run with BENCH_PROCS=\"$PROCS_LIST\")"
    continue
  fi
  for p in $wprocs; do
    declare -a tv=() gv=() rv=()
    terr=${C_WHY[$w]:-} gerr=${GO_WHY[$w]:-}
    for ((r = 1; r <= RUNS; r++)); do
      msg="bench: $w procs=$p run $r/$RUNS:"
      b0=$(machine_busy) o0=$(own_busy) n0=$(date +%s%N)
      if [ -z "$terr" ]; then
        if v=$(run_one "$BUILD/bench/bench_$w" "$w" "$p" "$LOGDIR/run-tether-$w-p$p-r$r.log"); then
          read -r v ref <<<"$v"
          tv+=("$v")
          [ -n "$ref" ] && rv+=("$ref")
          echo "tether $w $p $r $v${ref:+ ref=$ref}" >>"$RAW"
          msg+=" tether=$v${ref:+ (ref $ref)}"
        else
          terr=$v
          msg+=" tether=ERROR($v)"
        fi
      fi
      if [ -z "$gerr" ]; then
        if v=$(run_one "$BUILD/go/$w" "$w" "$p" "$LOGDIR/run-go-$w-p$p-r$r.log"); then
          v=${v%% *}
          gv+=("$v")
          echo "go $w $p $r $v" >>"$RAW"
          msg+=" go=$v"
        else
          gerr=$v
          msg+=" go=ERROR($v)"
        fi
      fi
      ol=$(other_load "$b0" "$o0" "$n0")
      echo "other-load $w $p $r $ol" >>"$RAW"
      LOADS+=("$ol")
      log "$msg $unit (other load: $ol CPUs)"
      [ -n "$terr" ] && [ -n "$gerr" ] && break
    done

    IFS='|' read -r kind thr ttext <<<"$(target_of "$w" "$p")"
    tmed="" gmed="" rmed=""
    if [ -n "$terr" ]; then tcell="ERROR: $terr"; failed=1; else
      tmed=$(printf '%s\n' "${tv[@]}" | median)
      tcell="$tmed $unit"
      [ ${#rv[@]} -gt 0 ] && rmed=$(printf '%s\n' "${rv[@]}" | median)
    fi
    if [ -n "$gerr" ]; then gcell="ERROR: $gerr"; failed=1; else
      gmed=$(printf '%s\n' "${gv[@]}" | median)
      gcell="$gmed $unit"
    fi
    ratio="-" status="-"
    if [ "$kind" = maxref ]; then
      if [ -n "$tmed" ] && [ -n "$rmed" ]; then
        ratio=$(awk -v t="$tmed" -v r="$rmed" 'BEGIN { if (r > 0) printf "%.2f (tether/pthread %s ns/op)", t / r, r; else print "-" }')
      fi
    elif [ -n "$tmed" ] && [ -n "$gmed" ]; then
      if [ "${unit#bytes/}" != "$unit" ]; then
        ratio=$(awk -v t="$tmed" -v g="$gmed" 'BEGIN { if (g > 0) printf "%.2f (tether/Go)", t / g; else print "-" }')
      else
        ratio=$(awk -v t="$tmed" -v g="$gmed" 'BEGIN { if (t > 0) printf "%.2fx (Go/tether)", g / t; else print "-" }')
      fi
    fi
    case $kind in
    speedup)
      if [ -n "$tmed" ] && [ -n "$gmed" ]; then
        status=$(awk -v t="$tmed" -v g="$gmed" -v k="$thr" 'BEGIN { print (t > 0 && g / t >= k) ? "met" : "NOT met" }')
      else status="unknown (error)"; fi ;;
    maxbytes)
      if [ -n "$tmed" ]; then
        status=$(awk -v t="$tmed" -v k="$thr" 'BEGIN { print (t <= k) ? "met" : "NOT met" }')
      else status="unknown (error)"; fi ;;
    maxgo)
      if [ -n "$tmed" ] && [ -n "$gmed" ]; then
        status=$(awk -v t="$tmed" -v g="$gmed" -v k="$thr" 'BEGIN { print (g > 0 && t / g <= k) ? "met" : "NOT met" }')
      else status="unknown (error)"; fi ;;
    maxref)
      if [ -n "$tmed" ] && [ -n "$rmed" ]; then
        status=$(awk -v t="$tmed" -v r="$rmed" -v k="$thr" 'BEGIN { print (r > 0 && t / r <= k) ? "met" : "NOT met" }')
      else status="unknown (error)"; fi ;;
    esac
    # Where the two tasks of pingpong_xworker ran (the C program says so on
    # stderr, in each run's log).
    if [ "$w" = pingpong_xworker ] && [ -z "$terr" ]; then
      apart=$(grep -l 'the two sides never shared a worker' "$LOGDIR"/run-tether-$w-p$p-r*.log 2>/dev/null | wc -l)
      NOTES+=("$w procs=$p: tether's two tasks were on different workers for every round trip in $apart of ${#tv[@]} runs (worker ids per run: $LOGDIR/run-tether-$w-p$p-r*.log); Go places its goroutines itself.")
    fi
    IFS='|' read -r slabel sunit sexpr <<<"$(second_of "$w")"
    if [ -n "$slabel" ]; then
      st=$(second_median tether "$w" "$p" "$sexpr") sg=$(second_median go "$w" "$p" "$sexpr")
      NOTES+=("$w procs=$p, $slabel (median of what the runs print on stderr): tether ${st:-n/a} $sunit${sg:+, Go $sg $sunit}")
    fi
    ROWS+=("| $w | $p | $tcell | $gcell | $ratio | $ttext | $status |")
    unset tv gv rv
  done
done

# ---- Report --------------------------------------------------------------------
cpu=$(grep -m 1 'model name' /proc/cpuinfo 2>/dev/null | sed 's/.*: //')
{
  echo "tether benchmarks: median of $RUNS runs, TT_PROCS=GOMAXPROCS=procs"
  echo "machine: $(nproc) CPUs, ${cpu:-unknown CPU}, Linux $(uname -r); $("$GO" version 2>/dev/null); $(cc --version 2>/dev/null | head -n 1)"
  echo "date: $(date -u +%Y-%m-%dT%H:%M:%SZ); tree: $(git rev-parse --short HEAD 2>/dev/null || echo 'no commit')$(git status --porcelain -- src include 2>/dev/null | grep -q . && echo ' + uncommitted changes in src/ include/')"
  if [ ${#LOADS[@]} -gt 0 ]; then
    printf '%s\n' "${LOADS[@]}" | awk '{ s += $1; if ($1 > m) m = $1 } END {
      printf "other load on the machine during the runs: mean %.2f CPUs, max %.2f CPUs", s / NR, m
      if (s / NR > 0.1 || m > 0.5) printf " (WARNING: other processes were busy; times may be skewed)"
      printf "\n" }'
  fi
  echo
  echo "| workload | procs | tether | Go | ratio | target | status |"
  echo "|---|---|---|---|---|---|---|"
  printf '%s\n' "${ROWS[@]}"
  if [ ${#NOTES[@]} -gt 0 ]; then
    echo
    printf '%s\n' "${NOTES[@]}"
  fi
} | tee "$TABLE"

if [ "$failed" != 0 ]; then
  log "bench: some workloads failed (logs in $LOGDIR)"
  exit 1
fi
exit 0
