#!/usr/bin/env bash
# tether-leaks beside panicparse: parse and group a debug=2 dump of 100,000
# and of 1,000,000 goroutines made by a Go program (tools/tether-leaks/bench/
# gen_dump.go), each tool on the same file, timed with GNU time (wall
# seconds, peak RSS). panicparse is Debian's golang-github-maruel-panicparse-
# dev, built in GOPATH mode (tools/tether-leaks/bench/pp_group.go).
#
#   scripts/bench-analyzer.sh [BUILD_DIR] [COUNTS...]    (default: build 100000 1000000)
#
# Needs a built tree (make build). Prints a Markdown table. Run by hand; the
# 1,000,000 case wants about 10 GB of memory (the Go program and panicparse).
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
build=${1:-$here/build}
shift || true
counts=("$@")
[ ${#counts[@]} -gt 0 ] || counts=(100000 1000000)
bash "$here/scripts/deps.sh" go panicparse test
go=/usr/lib/go-1.19/bin/go
bin=$build/tools/tether-leaks/tether-leaks
[ -x "$bin" ] || { echo "bench-analyzer: build first (make build): no $bin" >&2; exit 1; }
work=$(mktemp -d "${TMPDIR:-/tmp}/tether-leaks-bench.XXXXXX")
trap 'rm -rf "$work"' EXIT
export GO111MODULE=off GOPATH=/usr/share/gocode GOCACHE=$work/gocache GOFLAGS=
"$go" build -o "$work/gen_dump" "$here/tools/tether-leaks/bench/gen_dump.go"
"$go" build -o "$work/pp_group" "$here/tools/tether-leaks/bench/pp_group.go"

measure() { # measure OUT CMD...: wall seconds and peak RSS (KiB) into OUT
  /usr/bin/time -f '%e %M' -o "$1" "${@:2}" >"$1.stdout"
}

echo "| goroutines | dump size | tether-leaks | panicparse | speed-up | tether-leaks peak RSS | panicparse peak RSS |"
echo "|---:|---:|---:|---:|---:|---:|---:|"
for n in "${counts[@]}"; do
  dump=$work/dump-$n.txt
  "$work/gen_dump" "$n" "$dump"
  size=$(stat -c %s "$dump")
  measure "$work/tl" "$bin" -f json "$dump"
  measure "$work/pp" "$work/pp_group" "$dump"
  read -r tl_s tl_kb <"$work/tl"
  read -r pp_s pp_kb <"$work/pp"
  tl_total=$(jq .total "$work/tl.stdout")
  pp_total=$(awk '{print $1}' "$work/pp.stdout")
  if [ "$tl_total" != "$pp_total" ]; then
    echo "bench-analyzer: the tools disagree: $tl_total vs $pp_total goroutines" >&2
    exit 1
  fi
  awk -v n="$n" -v size="$size" -v ts="$tl_s" -v tk="$tl_kb" -v ps="$pp_s" -v pk="$pp_kb" \
    -v g="$(jq .ngroups "$work/tl.stdout")" -v b="$(awk '{print $4}' "$work/pp.stdout")" 'BEGIN {
    printf "| %d (%d groups; panicparse: %d buckets) | %.0f MiB | %.2f s | %.2f s | %.1fx | %.1f MiB | %.0f MiB |\n",
      n, g, b, size / 1048576, ts, ps, ps / (ts > 0 ? ts : 0.01), tk / 1024, pk / 1024 }'
  rm -f "$dump"
done
