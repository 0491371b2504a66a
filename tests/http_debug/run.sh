#!/usr/bin/env bash
# The debug endpoints of a running program, read by the tools people point at
# Go's: debug_subject (7 tasks in pool_worker on a channel, 3 in locked_out
# on a mutex, 1 in leaked_forever on a nil channel) serves them on an
# ephemeral loopback port.
#
#   run.sh CHECK SUBJECT SOURCE_DIR WORKDIR
#
#   pprof    `go tool pprof -traces` (Go 1.19) reads /debug/pprof/goroutine over
#            HTTP: one trace of 7 through pool_worker, one of 3 through
#            locked_out, one of 1 through leaked_forever; and
#            /debug/pprof/goroutineleak holds the leaked task and nothing else
#   metrics  Prometheus' own Python parser (python3-prometheus-client) reads
#            /metrics: the task gauges by state and reason, pool_worker's
#            spawn site with 7 tasks, the leak counter
#   page     headless Chromium opens /debug/tasks: the groups of 7, 3 and 1
#            with their wait reasons and the leaked one marked, the function
#            search and the wait filter; a screenshot is left in WORKDIR
#
# Installs what each check needs (scripts/deps.sh go | metrics | browser).
set -euo pipefail

check=${1:?check}
subject=${2:?subject}
src=$(cd "${3:?source dir}" && pwd)
work=${4:?workdir}
mkdir -p "$work"

fail() {
  echo "FAIL: $*" >&2
  exit 1
}

case "$check" in
  pprof) bash "$src/scripts/deps.sh" go ;;
  metrics) bash "$src/scripts/deps.sh" metrics ;;
  page) bash "$src/scripts/deps.sh" browser ;;
  *) fail "unknown check '$check' (pprof, metrics, page)" ;;
esac

# The subject runs until its stdin closes: hold a pipe to it open.
fifo=$work/stdin
rm -f "$fifo"
mkfifo "$fifo"
"$subject" <"$fifo" >"$work/subject.out" 2>"$work/subject.err" &
pid=$!
exec 3>"$fifo"
stop_subject() {
  exec 3>&- || true
  wait "$pid"
}
trap 'exec 3>&- 2>/dev/null || true; kill "$pid" 2>/dev/null || true' EXIT

port=
for _ in $(seq 200); do
  port=$(sed -n 's/^port \([0-9][0-9]*\)$/\1/p' "$work/subject.out")
  [ -n "$port" ] && break
  kill -0 "$pid" 2>/dev/null || fail "debug_subject exited early: $(cat "$work/subject.err")"
  sleep 0.05
done
[ -n "$port" ] || fail "debug_subject printed no port"
base=http://127.0.0.1:$port
echo "# debug_subject serves $base"

# The count of the trace that passes through FUNCTION in `pprof -traces`
# output: blocks separated by dashes, the count first on a block's first line.
trace_count() {
  awk -v fn="$2" '
    /^-----------/ { if (inblock && hit) { print count; found = 1 } inblock = 1; hit = 0; count = ""; next }
    inblock && count == "" && $1 ~ /^[0-9]+$/ { count = $1 }
    inblock && index($0, fn) { hit = 1 }
    END { if (inblock && hit) print count }' "$1" | paste -sd, -
}

case "$check" in
  pprof)
    go=${TT_GO:-/usr/lib/go-1.19/bin/go}
    tmp=$work/go
    mkdir -p "$tmp"
    export HOME=${HOME:-$tmp} PPROF_TMPDIR=$tmp GOCACHE=$tmp/cache
    "$go" tool pprof -traces "$base/debug/pprof/goroutine" >"$work/goroutine.traces" \
      2>"$work/pprof.err" || fail "go tool pprof: $(cat "$work/pprof.err")"
    got=$(trace_count "$work/goroutine.traces" pool_worker)
    [ "$got" = 7 ] || fail "pool_worker traces: '$got', want 7 (see $work/goroutine.traces)"
    got=$(trace_count "$work/goroutine.traces" locked_out)
    [ "$got" = 3 ] || fail "locked_out traces: '$got', want 3"
    got=$(trace_count "$work/goroutine.traces" leaked_forever)
    [ "$got" = 1 ] || fail "leaked_forever traces: '$got', want 1"
    grep -q 'Type: goroutine' "$work/goroutine.traces" || fail "profile type is not goroutine"
    echo "ok: go tool pprof reads /debug/pprof/goroutine: 7 pool_worker, 3 locked_out, 1 leaked_forever"

    "$go" tool pprof -traces "$base/debug/pprof/goroutineleak" >"$work/leak.traces" \
      2>"$work/pprof.err" || fail "go tool pprof goroutineleak: $(cat "$work/pprof.err")"
    got=$(trace_count "$work/leak.traces" leaked_forever)
    [ "$got" = 1 ] || fail "goroutineleak: leaked_forever '$got', want 1 (see $work/leak.traces)"
    if grep -q 'pool_worker\|locked_out' "$work/leak.traces"; then
      fail "goroutineleak lists tasks that are not leaked (see $work/leak.traces)"
    fi
    echo "ok: go tool pprof reads /debug/pprof/goroutineleak: only the leaked task"
    ;;

  metrics)
    /usr/bin/python3 - "$base/metrics" <<'EOF' || fail "/metrics did not read as Prometheus expects"
import sys, urllib.request
from prometheus_client.parser import text_string_to_metric_families

resp = urllib.request.urlopen(sys.argv[1], timeout=10)
ctype = resp.headers.get("Content-Type", "")
assert ctype.startswith("text/plain; version=0.0.4"), "content type %r" % ctype
text = resp.read().decode("utf-8")
samples = {}
for fam in text_string_to_metric_families(text):
    for s in fam.samples:
        samples[(s.name, tuple(sorted(s.labels.items())))] = s.value

def value(name, **labels):
    return samples.get((name, tuple(sorted(labels.items()))))

def expect(what, got, want):
    if got != want:
        print("FAIL: %s: got %r, want %r" % (what, got, want), file=sys.stderr)
        sys.exit(1)
    print("ok: %s = %r" % (what, want))

waiting = value("tether_tasks", state="waiting")
# The eleven parked tasks, and whatever the server parks (its accept loop).
if waiting is None or waiting < 11:
    print("FAIL: tether_tasks{state=waiting} = %r, want >= 11" % waiting, file=sys.stderr)
    sys.exit(1)
print("ok: tether_tasks{state=waiting} = %r" % waiting)
expect("mutex waits", value("tether_tasks_waiting", reason="sync.Mutex.Lock"), 3.0)
expect("nil channel waits", value("tether_tasks_waiting", reason="chan receive (nil chan)"), 1.0)
pool = [v for (n, l), v in samples.items()
        if n == "tether_tasks_by_site" and dict(l).get("function") == "pool_worker"]
expect("pool_worker's spawn site", pool, [7.0])
leaks = value("tether_leaks_found_total")
if leaks is None or leaks < 1:
    print("FAIL: tether_leaks_found_total = %r, want >= 1" % leaks, file=sys.stderr)
    sys.exit(1)
print("ok: tether_leaks_found_total = %r" % leaks)
EOF
    ;;

  page)
    here=$src/tests/http_debug
    # The npm project of tether-leaks' browser test: the same pinned
    # playwright-core, installed once per work directory.
    cp "$src/tools/tether-leaks/tests/html/package.json" \
      "$src/tools/tether-leaks/tests/html/package-lock.json" "$here/page_test.mjs" "$work/"
    if [ ! -d "$work/node_modules/playwright-core" ]; then
      (cd "$work" && npm ci --no-audit --no-fund --loglevel=error)
    fi
    (cd "$work" && node page_test.mjs "$base/debug/tasks" "$work/tasks-page.png")
    ;;
esac

stop_subject || fail "debug_subject exited with status $?: $(cat "$work/subject.err")"
trap - EXIT
echo "ok: debug_subject stopped its server and exited 0"
