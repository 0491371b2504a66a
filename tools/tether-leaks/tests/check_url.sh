#!/usr/bin/env bash
# URLs and watch against a live Go 1.19 program (live.go: net/http/pprof,
# one site that grows by 2 goroutines every 200 ms, a steady pool of 4, a
# site that comes and goes): the analyzer fetches every format Go serves,
# finds the sites with the counts the program has, watch names the growing
# site and only it, and a refused, unknown, hanging or non-dump URL gets a
# clear error and exit status 2.
#
#   check_url.sh TETHER_LEAKS WORKDIR
#
# Exit 77 (skipped) when Go 1.19 is missing and TT_SKIP_GO=1.
set -euo pipefail
bin=$1
work=$2
here=$(cd "$(dirname "$0")" && pwd)
src=$here/live.go
go=/usr/lib/go-1.19/bin/go
if [ ! -x "$go" ]; then
  [ "${TT_SKIP_GO:-}" = 1 ] && { echo "Go 1.19 missing: skipped"; exit 77; }
  bash "$here/../../../scripts/deps.sh" go
fi
command -v jq >/dev/null || bash "$here/../../../scripts/deps.sh" test

rm -rf "$work" && mkdir -p "$work"
GO111MODULE=off GOCACHE="$work/gocache" GOPATH="$work/gopath" "$go" build -o "$work/live" "$src"
"$work/live" >"$work/port" 2>"$work/live.err" &
live=$!
trap 'kill $live 2>/dev/null || true; wait $live 2>/dev/null || true' EXIT
for _ in $(seq 100); do
  [ -s "$work/port" ] && break
  sleep 0.05
done
base=http://127.0.0.1:$(cat "$work/port")
sleep 0.5 # a few rounds of leaks

fail=0
check() { # check WHAT GOT WANT
  if [ "$2" != "$3" ]; then
    echo "FAIL: $1: got '$2', want '$3'" >&2
    fail=1
  else
    echo "ok: $1 = $3"
  fi
}
line_of() { grep -n "// P:$1\$" "$src" | cut -d: -f1; }
grow=$(line_of grow) steady=$(line_of steady)

# One snapshot per format. The growing site's count is even (two per round)
# and at least 4; the pool is exactly 4 workers in every format.
for q in "debug=2" "debug=1" ""; do
  url="$base/debug/pprof/goroutine${q:+?$q}"
  out=$work/snap-${q:-pprof}.json
  "$bin" -f json "$url" >"$out"
  n=$(jq "[.groups[] | select(any(.frames[]; (.file | endswith(\"live.go\")) and .line == $grow)) | .count] | add" "$out")
  check "${q:-pprof}: growing site found, even count >= 4" "$(( n >= 4 && n % 2 == 0 ))" 1
  w=$(jq "[.groups[] | select(any(.frames[]; (.file | endswith(\"live.go\")) and .line == $steady)) | .count] | add" "$out")
  check "${q:-pprof}: steady pool" "$w" 4
done
check "debug=2: pattern of the growing group" \
  "$(jq -r "[.groups[] | select(any(.frames[]; .line == $grow)) | .suspect.pattern] | unique | join(\",\")" "$work/snap-debug=2.json")" \
  "abandoned-sender"

# watch: 4 snapshots 500 ms apart, judged over the last 3; a growing site
# must have risen by 10 (it gains about 5 per 500 ms: 10 over two intervals
# of at least 500 ms each), which the coming-and-going site (at most 5)
# cannot.
set +e
"$bin" watch -f json --every 500ms --keep 3 --count 4 --min-growth 10 \
  "$base/debug/pprof/goroutine?debug=2" >"$work/watch.jsonl"
rc=$?
set -e
check "watch: exit status 1 (a site kept growing at the end)" "$rc" 1
check "watch: one line per snapshot" "$(wc -l <"$work/watch.jsonl")" 4
last=$(tail -1 "$work/watch.jsonl")
check "watch: snapshots kept" "$(jq '.snapshots | length' <<<"$last")" 3
check "watch: newest snapshot number" "$(jq '.snapshots[-1].seq' <<<"$last")" 4
check "watch: growing sites" "$(jq -r '[.sites[] | select(.growing) | .site.frame.file + ":" + (.site.frame.line | tostring)] | join(" ")' <<<"$last" | sed 's|.*/||')" "live.go:$((grow - 1))"
counts=$(jq -c '[.sites[] | select(.growing)][0].counts' <<<"$last")
check "watch: its counts rise at every step" "$(jq '.[0] < .[1] and .[1] < .[2]' <<<"$counts")" true
check "watch: the pool is seen and not growing" \
  "$(jq -c "[.sites[] | select(.group.frames | any(.line == $steady)) | {counts, growing}]" <<<"$last")" \
  '[{"counts":[4,4,4],"growing":false}]'
check "watch: the first two lines judge nothing yet" \
  "$(head -2 "$work/watch.jsonl" | jq -s '[.[].ngrowing] | add')" 0

# Text watch: says what grew (about 10 in 1 s; the coming-and-going site
# reaches 5 at most), with the stack.
set +e
"$bin" watch --every 1s --keep 2 --count 2 --min-growth 6 --depth 3 "$base/debug/pprof/goroutine?debug=2" >"$work/watch.txt"
set -e
check "watch text: names the growing site" \
  "$(grep -c "1 site kept growing over the last 2 snapshots" "$work/watch.txt")" 1
check "watch text: shows its stack" "$(grep -c "main.leak.func1.*live.go:$grow" "$work/watch.txt")" 1

# Errors: exit status 2 with the reason, quickly.
expect_err() { # expect_err WHAT PATTERN ARGS...
  local what=$1 pat=$2
  shift 2
  local rc=0
  "$bin" "$@" >"$work/err.out" 2>"$work/err.txt" || rc=$?
  check "$what: exit status" "$rc" 2
  check "$what: message" "$(grep -c -- "$pat" "$work/err.txt")" 1
}
expect_err "refused" "connection refused" "http://127.0.0.1:1/debug/pprof/goroutine"
expect_err "unknown profile" "HTTP 404: Unknown profile" "$base/debug/pprof/nosuch"
expect_err "not a dump" "not a goroutine dump" "$base/debug/pprof/"
start=$(date +%s%N)
expect_err "hanging URL" "no complete answer within 1 s" --timeout 1s "$base/hang"
ms=$((($(date +%s%N) - start) / 1000000))
check "hanging URL: gave up within 3 s" "$((ms < 3000))" 1
expect_err "watch: every snapshot failed" "snapshot 2: .*connection refused" \
  watch --every 100ms --count 2 "http://127.0.0.1:1/"

[ "$fail" = 0 ] && echo "all URL checks passed"
exit "$fail"
