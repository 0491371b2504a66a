#!/usr/bin/env bash
# Real Go dumps: leaky.go (Go 1.19) leaks each seed pattern at known counts
# and writes two snapshots in debug=2, debug=1 and pprof form. The analyzer
# must find every pattern's group at its site (the line marked "// P:name")
# with the exact count, name the pattern where the format shows the wait,
# and its diff must show the exact growth per site.
#
#   check_go.sh TETHER_LEAKS WORKDIR
#
# Exit 77 (skipped) when Go 1.19 is missing and TT_SKIP_GO=1; otherwise a
# missing Go is installed by scripts/deps.sh go (as root) or is a failure.
set -euo pipefail
bin=$1
work=$2
here=$(cd "$(dirname "$0")" && pwd)
src=$here/leaky.go
go=/usr/lib/go-1.19/bin/go
if [ ! -x "$go" ]; then
  [ "${TT_SKIP_GO:-}" = 1 ] && { echo "Go 1.19 missing: skipped"; exit 77; }
  bash "$here/../../../scripts/deps.sh" go
fi
command -v jq >/dev/null || bash "$here/../../../scripts/deps.sh" test

rm -rf "$work" && mkdir -p "$work"
GO111MODULE=off GOCACHE="$work/gocache" GOPATH="$work/gopath" "$go" run "$src" "$work"

# pattern  count-before  added  pattern-id (debug=2 and pprof)  shown-by-debug=1
table="sender 3 4 abandoned-sender no
receiver 2 2 abandoned-receiver no
selfwait 1 1 abandoned-receiver no
io 2 1 io-without-deadline yes
pool 10 10 worker-pool-never-shut-down no
conditional 1 2 abandoned-receiver no
select 3 3 select-no-live-case no
mutex 3 2 mutex-wait yes
waitgroup 2 1 waitgroup-wait yes
cond 2 2 cond-wait yes"

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

for snap in 1 2; do
  for fmt in debug2 debug1 pb.gz; do
    out=$work/go-$snap.$fmt.json
    "$bin" --format json --io-min 0 "$work/go-$snap.$fmt" >"$out"
    while read -r p before added pattern in_debug1; do
      line=$(line_of "$p")
      want=$before
      [ "$snap" = 2 ] && want=$((before + added))
      sel=".groups[] | select((.site.frame.file | endswith(\"leaky.go\")) and .site.frame.line == $line)"
      check "snapshot $snap $fmt $p count" "$(jq "[$sel | .count] | add" "$out")" "$want"
      if [ "$fmt" != debug1 ] || [ "$in_debug1" = yes ]; then
        check "snapshot $snap $fmt $p pattern" \
          "$(jq -r "[$sel | .suspect.pattern] | unique | join(\",\")" "$out")" "$pattern"
      fi
      if [ "$fmt" = debug2 ]; then
        check "snapshot $snap $fmt $p site kind" \
          "$(jq -r "[$sel | .site.kind] | unique | join(\",\")" "$out")" created_by
      fi
    done <<<"$table"
  done
done

for fmt in debug2 debug1 pb.gz; do
  out=$work/diff.$fmt.json
  "$bin" diff --format json "$work/go-1.$fmt" "$work/go-2.$fmt" >"$out"
  while read -r p before added pattern in_debug1; do
    line=$(line_of "$p")
    sel=".sites[] | select((.site.frame.file | endswith(\"leaky.go\")) and .site.frame.line == $line)"
    check "diff $fmt $p delta" "$(jq "[$sel | .delta] | add" "$out")" "$added"
    check "diff $fmt $p before" "$(jq "[$sel | .before] | add" "$out")" "$before"
  done <<<"$table"
  # The pool grew by 10: a threshold of 9 fails the run, 10 does not.
  rc=0
  "$bin" diff --max-growth 9 "$work/go-1.$fmt" "$work/go-2.$fmt" >"$work/diff9.txt" || rc=$?
  check "diff $fmt --max-growth 9 exit status" "$rc" 1
  check "diff $fmt sites over 9" "$(grep -c 'grew beyond the threshold' "$work/diff9.txt")" 1
  rc=0
  "$bin" diff --max-growth 10 "$work/go-1.$fmt" "$work/go-2.$fmt" >/dev/null || rc=$?
  check "diff $fmt --max-growth 10 exit status" "$rc" 0
done

# The same dump from stdin, gzipped text too.
check "stdin debug=2 total" "$("$bin" --format json - <"$work/go-2.debug2" | jq .total)" \
  "$(grep -c '^goroutine [0-9]* \[' "$work/go-2.debug2")"
gzip -c "$work/go-2.debug2" >"$work/go-2.debug2.gz"
check "gzipped debug=2 total" "$("$bin" --format json "$work/go-2.debug2.gz" | jq .total)" \
  "$(grep -c '^goroutine [0-9]* \[' "$work/go-2.debug2")"

[ $fail = 0 ] && echo "all Go dump checks passed"
exit $fail
