#!/usr/bin/env bash
# tether's own dumps: tether_leaky leaks each seed pattern at known counts
# and dumps two snapshots in debug=2, debug=1, pprof, JSON and the leaked-
# only pprof profile. The analyzer must find each pattern's group at its
# site with the exact count and pattern, show the self-wait the leak
# detector proved as proven, and diff the exact growth.
#
#   check_tether.sh TETHER_LEAKS TETHER_LEAKY WORKDIR
set -euo pipefail
bin=$1
leaky=$2
work=$3
here=$(cd "$(dirname "$0")" && pwd)
src=$here/tether_leaky.c
command -v jq >/dev/null || bash "$here/../../../scripts/deps.sh" test

rm -rf "$work" && mkdir -p "$work"
"$leaky" "$work"

# pattern  count-before  added  pattern-id
table="sender 2 3 abandoned-sender
receiver 2 1 abandoned-receiver
pool 6 6 worker-pool-never-shut-down
select 2 2 select-no-live-case
mutex 2 1 mutex-wait
waitgroup 1 1 waitgroup-wait
cond 1 2 cond-wait
selfwait 1 1 abandoned-receiver"

fail=0
check() { # check WHAT GOT WANT
  if [ "$2" != "$3" ]; then
    echo "FAIL: $1: got '$2', want '$3'" >&2
    fail=1
  else
    echo "ok: $1 = $3"
  fi
}

# The spawn line ("// P:x") is the site where a dump has "created by"
# (debug=2, JSON); the blocking line ("// B:x") is the stack's outermost
# frame, the site where it does not (debug=1, pprof).
line_of() { grep -n "// $1:$2\$" "$src" | cut -d: -f1; }
marker_for() { case $1 in debug2 | json) echo P ;; *) echo B ;; esac; }

for snap in 1 2; do
  for fmt in debug2 debug1 pb.gz json; do
    out=$work/tt-$snap.$fmt.json
    "$bin" --format json "$work/tt-$snap.$fmt" >"$out"
    while read -r p before added pattern; do
      line=$(line_of "$(marker_for $fmt)" "$p")
      want=$before
      [ "$snap" = 2 ] && want=$((before + added))
      sel=".groups[] | select((.site.frame.file | endswith(\"tether_leaky.c\")) and .site.frame.line == $line)"
      check "snapshot $snap $fmt $p count" "$(jq "[$sel | .count] | add" "$out")" "$want"
      check "snapshot $snap $fmt $p pattern" \
        "$(jq -r "[$sel | .suspect.pattern] | unique | join(\",\")" "$out")" "$pattern"
      proven=false
      if [ "$p" = selfwait ] && { [ "$fmt" = debug2 ] || [ "$fmt" = json ]; }; then
        proven=true
      fi
      check "snapshot $snap $fmt $p proven" \
        "$(jq -r "[$sel | .leaked] | unique | join(\",\")" "$out")" "$proven"
    done <<<"$table"
  done
  # The leaked-only profile holds just the proven self-waiters.
  out=$work/tt-$snap.leaked.json
  "$bin" --format json --leaked "$work/tt-$snap.leaked.pb.gz" >"$out"
  want=1
  [ "$snap" = 2 ] && want=2
  check "snapshot $snap leaked profile total" "$(jq .total "$out")" "$want"
  check "snapshot $snap leaked profile all proven" \
    "$(jq -r '[.groups[] | .suspect.proven] | unique | join(",")' "$out")" true
done

for fmt in debug2 debug1 pb.gz json; do
  out=$work/diff.$fmt.json
  "$bin" diff --format json "$work/tt-1.$fmt" "$work/tt-2.$fmt" >"$out"
  while read -r p before added pattern; do
    line=$(line_of "$(marker_for $fmt)" "$p")
    sel=".sites[] | select((.site.frame.file | endswith(\"tether_leaky.c\")) and .site.frame.line == $line)"
    check "diff $fmt $p delta" "$(jq "[$sel | .delta] | add" "$out")" "$added"
  done <<<"$table"
  rc=0
  "$bin" diff --max-growth 5 "$work/tt-1.$fmt" "$work/tt-2.$fmt" >/dev/null || rc=$?
  check "diff $fmt --max-growth 5 exit status (the pool grew by 6)" "$rc" 1
done

[ $fail = 0 ] && echo "all tether dump checks passed"
exit $fail
