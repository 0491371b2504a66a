#!/usr/bin/env bash
# scripts/bench-http.sh — tether's HTTP server beside Go 1.19's net/http,
# under wrk, on one hello-world handler with keep-alive.
#
#   bash scripts/bench-http.sh          # from anywhere; needs: scripts/deps.sh httpbench
#
# 1. builds bench/bench_http_hello.c in a Release (-O2) tree (build-bench/)
#    and bench/go/http_hello.go with Go 1.19, offline;
# 2. runs each server with 2 workers (TT_PROCS=2 / GOMAXPROCS=2) and
#    `wrk -t2 -c$CONNS -d${SECS}s --latency` against it, RUNS times each,
#    the two servers alternately, server and wrk sharing the machine's
#    CPUs (nothing pinned);
# 3. prints the medians: requests/s and p50/p99 latency, and Go/tether.
#
# Environment: HTTPBENCH_RUNS=3, HTTPBENCH_CONNS=50, HTTPBENCH_SECS=10,
# BENCH_BUILD_DIR=build-bench, GO=/usr/lib/go-1.19/bin/go, WRK=wrk.
# Raw wrk output: <build>/http-bench-logs/.
set -euo pipefail
export LC_ALL=C

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
RUNS=${HTTPBENCH_RUNS:-3}
CONNS=${HTTPBENCH_CONNS:-50}
SECS=${HTTPBENCH_SECS:-10}
BUILD=${BENCH_BUILD_DIR:-build-bench}
GO=${GO:-/usr/lib/go-1.19/bin/go}
WRK=${WRK:-wrk}

command -v "$WRK" >/dev/null || { echo "bench-http: no wrk; run scripts/deps.sh httpbench" >&2; exit 2; }
[ -x "$GO" ] || { echo "bench-http: no Go at $GO; run scripts/deps.sh httpbench" >&2; exit 2; }

mkdir -p "$BUILD"
BUILD=$(cd "$BUILD" && pwd)
LOGS=$BUILD/http-bench-logs
rm -rf "$LOGS"
mkdir -p "$LOGS" "$BUILD/go"

echo "bench-http: building" >&2
cmake -S . -B "$BUILD" -DCMAKE_BUILD_TYPE=Release -DCMAKE_C_FLAGS_RELEASE="-O2 -DNDEBUG" \
  -DTT_BUILD_TESTS=OFF >"$LOGS/cmake.log" 2>&1
cmake --build "$BUILD" -j2 --target bench_http_hello >"$LOGS/build.log" 2>&1
GO111MODULE=off GOFLAGS='' GOPROXY=off GOTOOLCHAIN=local GOCACHE=$BUILD/go/cache \
  GOPATH=$BUILD/go/path "$GO" build -o "$BUILD/go/http_hello" bench/go/http_hello.go

# A free port: bind 0, read it back, let it go.
free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

# wrk's latency lines are "50%  1.23ms"; in microseconds.
to_us() {
  awk -v v="$1" 'BEGIN {
    n = v + 0; u = v; sub(/^[0-9.]+/, "", u)
    if (u == "us") print n; else if (u == "ms") print n * 1000; else if (u == "s") print n * 1000000; else print n }'
}

median() { sort -g | awk '{a[NR] = $1} END {print a[int((NR + 1) / 2)]}'; }

# run_one NAME RUN: starts the server, waits for its port, runs wrk, stops it.
run_one() {
  local name=$1 run=$2 port pid out
  port=$(free_port)
  out=$LOGS/$name-$run.txt
  if [ "$name" = tether ]; then
    TT_PROCS=2 "$BUILD/bench/bench_http_hello" "$port" >"$LOGS/$name-server.log" 2>&1 &
  else
    GOMAXPROCS=2 "$BUILD/go/http_hello" "$port" >"$LOGS/$name-server.log" 2>&1 &
  fi
  pid=$!
  for _ in $(seq 100); do
    curl -s -o /dev/null "http://127.0.0.1:$port/" 2>/dev/null && break
    sleep 0.05
  done
  "$WRK" -t2 -c"$CONNS" -d"${SECS}s" --latency "http://127.0.0.1:$port/" >"$out" 2>&1 || true
  kill "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
  local rps p50 p99 errs
  rps=$(awk '/^Requests\/sec:/ {print $2}' "$out")
  p50=$(to_us "$(awk '$1 == "50%" {print $2}' "$out")")
  p99=$(to_us "$(awk '$1 == "99%" {print $2}' "$out")")
  errs=$(awk '/Non-2xx|Socket errors/ {print}' "$out")
  [ -n "$errs" ] && echo "bench-http: $name run $run: $errs" >&2
  echo "$rps $p50 $p99" >>"$LOGS/$name.values"
  echo "bench-http: $name run $run: ${rps:-?} req/s, p50 ${p50:-?} us, p99 ${p99:-?} us" >&2
}

for run in $(seq "$RUNS"); do
  run_one tether "$run"
  run_one go "$run"
done

col() { awk -v c="$1" '{print $c}' "$LOGS/$2.values" | median; }
t_rps=$(col 1 tether) g_rps=$(col 1 go)
echo
echo "wrk -t2 -c$CONNS -d${SECS}s, keep-alive, 2 workers, median of $RUNS ($(nproc) CPUs, shared with wrk)"
echo
echo "| server | requests/s | p50 latency | p99 latency |"
echo "|---|---|---|---|"
printf '| tether (tt_http_server) | %.0f | %s us | %s us |\n' "$t_rps" "$(col 2 tether)" "$(col 3 tether)"
printf '| Go 1.19 net/http | %.0f | %s us | %s us |\n' "$g_rps" "$(col 2 go)" "$(col 3 go)"
echo
awk -v t="$t_rps" -v g="$g_rps" 'BEGIN { if (g > 0) printf "tether / Go requests/s: %.2f\n", t / g }'
