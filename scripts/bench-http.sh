#!/usr/bin/env bash
# scripts/bench-http.sh — tether's HTTP server and client beside Go 1.19's
# net/http.
#
#   bash scripts/bench-http.sh [server] [client]   # default both; needs:
#                                                  # scripts/deps.sh httpbench
#
# Server: bench/bench_http_hello.c and its twin bench/go/http_hello.go, each
# with 2 workers (TT_PROCS=2 / GOMAXPROCS=2) under
# `wrk -t2 -c$CONNS -d${SECS}s --latency` (one hello-world handler,
# keep-alive), RUNS times each, alternately, server and wrk sharing the
# machine's CPUs (nothing pinned).
#
# Client: bench/bench_http_client.c (tt_http_client) and its twin
# bench/go/http_client.go (net/http's client), both against the same
# bench_http_hello server (TT_PROCS=2), each with 2 workers: $CLIENT_CONNS
# tasks/goroutines sending keep-alive GETs for ${CLIENT_SECS}s (requests/s,
# p50/p99 latency), then $CLIENT_HELD requests held in flight by the server
# for the resident bytes per in-flight request; RUNS times each, alternately.
#
# Prints the medians of each column and the ratios.
# Environment: HTTPBENCH_RUNS=3, HTTPBENCH_CONNS=50, HTTPBENCH_SECS=10,
# HTTPBENCH_CLIENT_CONNS=64, HTTPBENCH_CLIENT_SECS=5, HTTPBENCH_CLIENT_HELD=1000,
# BENCH_BUILD_DIR=build-bench, GO=/usr/lib/go-1.19/bin/go, WRK=wrk.
# Raw output: <build>/http-bench-logs/.
set -euo pipefail
export LC_ALL=C

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
RUNS=${HTTPBENCH_RUNS:-3}
CONNS=${HTTPBENCH_CONNS:-50}
SECS=${HTTPBENCH_SECS:-10}
CLIENT_CONNS=${HTTPBENCH_CLIENT_CONNS:-64}
CLIENT_SECS=${HTTPBENCH_CLIENT_SECS:-5}
CLIENT_HELD=${HTTPBENCH_CLIENT_HELD:-1000}
PARTS=${*:-server client}
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
cmake --build "$BUILD" -j2 --target bench_http_hello bench_http_client >"$LOGS/build.log" 2>&1
for prog in http_hello http_client; do
  GO111MODULE=off GOFLAGS='' GOPROXY=off GOTOOLCHAIN=local GOCACHE=$BUILD/go/cache \
    GOPATH=$BUILD/go/path "$GO" build -o "$BUILD/go/$prog" "bench/go/$prog.go"
done

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

# start_server NAME PORT: the tether or the Go hello server, in the background
# ($server_pid), answering once this returns.
start_server() {
  if [ "$1" = tether ]; then
    TT_PROCS=2 "$BUILD/bench/bench_http_hello" "$2" >"$LOGS/$1-server.log" 2>&1 &
  else
    GOMAXPROCS=2 "$BUILD/go/http_hello" "$2" >"$LOGS/$1-server.log" 2>&1 &
  fi
  server_pid=$!
  for _ in $(seq 100); do
    curl -s -o /dev/null "http://127.0.0.1:$2/" 2>/dev/null && return
    sleep 0.05
  done
  echo "bench-http: the $1 server did not answer on port $2" >&2
  exit 1
}

stop_server() {
  kill "$server_pid" 2>/dev/null || true
  wait "$server_pid" 2>/dev/null || true
}

# server_run NAME RUN: wrk against one server.
server_run() {
  local name=$1 run=$2 port out
  port=$(free_port)
  out=$LOGS/$name-$run.txt
  start_server "$name" "$port"
  "$WRK" -t2 -c"$CONNS" -d"${SECS}s" --latency "http://127.0.0.1:$port/" >"$out" 2>&1 || true
  stop_server
  local rps p50 p99 errs
  rps=$(awk '/^Requests\/sec:/ {print $2}' "$out")
  p50=$(to_us "$(awk '$1 == "50%" {print $2}' "$out")")
  p99=$(to_us "$(awk '$1 == "99%" {print $2}' "$out")")
  errs=$(awk '/Non-2xx|Socket errors/ {print}' "$out")
  [ -n "$errs" ] && echo "bench-http: $name run $run: $errs" >&2
  echo "$rps $p50 $p99" >>"$LOGS/$name.values"
  echo "bench-http: $name server run $run: ${rps:-?} req/s, p50 ${p50:-?} us, p99 ${p99:-?} us" >&2
}

# client_run NAME RUN: one client against the tether server.
client_run() {
  local name=$1 run=$2 port out line
  port=$(free_port)
  out=$LOGS/client-$name-$run.txt
  start_server tether "$port"
  if [ "$name" = tether ]; then
    TT_PROCS=2 "$BUILD/bench/bench_http_client" "http://127.0.0.1:$port" \
      "$CLIENT_CONNS" "$CLIENT_SECS" "$CLIENT_HELD" >"$out" 2>&1 || true
  else
    GOMAXPROCS=2 "$BUILD/go/http_client" "http://127.0.0.1:$port" \
      "$CLIENT_CONNS" "$CLIENT_SECS" "$CLIENT_HELD" >"$out" 2>&1 || true
  fi
  stop_server
  line=$(grep '^CLIENT ' "$out" || true)
  if [ -z "$line" ]; then
    echo "bench-http: $name client run $run failed:" >&2
    cat "$out" >&2
    exit 1
  fi
  # CLIENT requests=N rps=R p50_us=A p99_us=B inflight_bytes=M
  echo "$line" | tr ' ' '\n' | awk -F= 'NF == 2 {printf "%s ", $2} END {print ""}' \
    | awk '{print $2, $3, $4, $5}' >>"$LOGS/client-$name.values"
  echo "bench-http: $name client run $run: $line" >&2
}

col() { awk -v c="$1" '{print $c}' "$LOGS/$2.values" | median; }

case " $PARTS " in
*" server "*)
  for run in $(seq "$RUNS"); do
    server_run tether "$run"
    server_run go "$run"
  done
  t_rps=$(col 1 tether) g_rps=$(col 1 go)
  echo
  echo "Server: wrk -t2 -c$CONNS -d${SECS}s, keep-alive, 2 workers, median of $RUNS ($(nproc) CPUs, shared with wrk)"
  echo
  echo "| server | requests/s | p50 latency | p99 latency |"
  echo "|---|---|---|---|"
  printf '| tether (tt_http_server) | %.0f | %s us | %s us |\n' "$t_rps" "$(col 2 tether)" "$(col 3 tether)"
  printf '| Go 1.19 net/http | %.0f | %s us | %s us |\n' "$g_rps" "$(col 2 go)" "$(col 3 go)"
  echo
  awk -v t="$t_rps" -v g="$g_rps" 'BEGIN { if (g > 0) printf "tether / Go requests/s: %.2f\n", t / g }'
  ;;
esac

case " $PARTS " in
*" client "*)
  for run in $(seq "$RUNS"); do
    client_run tether "$run"
    client_run go "$run"
  done
  t_rps=$(col 1 client-tether) g_rps=$(col 1 client-go)
  t_mem=$(col 4 client-tether) g_mem=$(col 4 client-go)
  echo
  echo "Client: $CLIENT_CONNS concurrent keep-alive GETs for ${CLIENT_SECS}s, then $CLIENT_HELD held in flight;"
  echo "both against tt_http_server (2 workers), 2 workers each, median of $RUNS ($(nproc) CPUs, shared with the server)"
  echo
  echo "| client | requests/s | p50 latency | p99 latency | bytes per in-flight request |"
  echo "|---|---|---|---|---|"
  printf '| tether (tt_http_client, libcurl) | %.0f | %s us | %s us | %.0f |\n' "$t_rps" \
    "$(col 2 client-tether)" "$(col 3 client-tether)" "$t_mem"
  printf '| Go 1.19 net/http | %.0f | %s us | %s us | %.0f |\n' "$g_rps" \
    "$(col 2 client-go)" "$(col 3 client-go)" "$g_mem"
  echo
  awk -v t="$t_rps" -v g="$g_rps" -v tm="$t_mem" -v gm="$g_mem" 'BEGIN {
    if (g > 0) printf "tether / Go requests/s: %.2f (target >= 1)\n", t / g
    if (gm > 0) printf "tether / Go memory per in-flight request: %.2f (target <= 0.33)\n", tm / gm }'
  ;;
esac
