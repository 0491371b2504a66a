#!/usr/bin/env bash
# The command's contract beyond real dumps: bad input of every kind gives
# exit status 2 and a message that says what is wrong (never a crash);
# grouping options, medians, ordering, diff's "new" and "older", colour,
# and memory that stays below the size of a large streamed dump.
#
#   check_cli.sh TETHER_LEAKS WORKDIR
set -euo pipefail
bin=$1
work=$2
here=$(cd "$(dirname "$0")" && pwd)
seeds=$here/../fuzz/seeds
command -v jq >/dev/null || bash "$here/../../../scripts/deps.sh" test
rm -rf "$work" && mkdir -p "$work"
cd "$work"

fail=0
check() { # check WHAT GOT WANT
  if [ "$2" != "$3" ]; then
    echo "FAIL: $1: got '$2', want '$3'" >&2
    fail=1
  else
    echo "ok: $1 = $3"
  fi
}

# expect_error NAME MESSAGE-FRAGMENT ARGS... : exit status 2, the fragment on stderr.
expect_error() {
  local name=$1 frag=$2 rc=0
  shift 2
  "$bin" "$@" >out.txt 2>err.txt </dev/null || rc=$?
  check "$name: exit status" "$rc" 2
  if ! grep -qF -- "$frag" err.txt; then
    echo "FAIL: $name: stderr lacks '$frag': $(cat err.txt)" >&2
    fail=1
  fi
}

# ---- bad input -------------------------------------------------------------
expect_error "missing file" "No such file" nosuch.txt
: >empty.txt
expect_error "empty input" "the input is empty" empty.txt
printf 'hello world\nthis is not a dump\n' >garbage.txt
expect_error "garbage" "not a goroutine dump" garbage.txt
head -c 8192 /bin/sh >elf.bin
expect_error "binary file" "not a goroutine dump" elf.bin
printf 'goroutine 5 [chan send]:\nmain.f()\n' >cut_frame.txt
expect_error "stack cut after a function" "cut off" cut_frame.txt
printf 'goroutine 5 [chan send]:\n' >cut_header.txt
expect_error "header without a stack" "has no stack" cut_header.txt
printf 'goroutine 5 [chan send]:\nmain.f()\n\t/a.go:3 +0x1\n\ngoroutine profile: total 3\n' >mixed.txt
expect_error "debug=2 then debug=1" "mixed input" mixed.txt
printf 'goroutine profile: total 5\n3 @ 0x1\n#\t0x1\tmain.f+0x1\t/a.go:3\n' >short_debug1.txt
expect_error "debug=1 with fewer goroutines than its total" "truncated profile" short_debug1.txt
head -c 400 "$seeds/tether.json" >cut.json
expect_error "truncated JSON" "truncated dump" cut.json
{ cat "$seeds/tether.json"; echo 'goroutine 1 [running]:'; } >trailing.json
expect_error "JSON followed by text" "data after the end" trailing.json
head -c 500 "$seeds/go119.pb.gz" >cut.pb.gz
expect_error "truncated gzip" "truncated" cut.pb.gz
printf '\x5a\x04\x08\x01\x10\x02\x12\x05\x0a\x03\x08\xff' >bad.pb
expect_error "malformed protobuf" "pprof:" bad.pb
head -c $((17 << 20)) /dev/zero | tr '\0' 'x' >longline.txt
printf 'goroutine 1 [running]:\n' | cat - longline.txt >longline2.txt
expect_error "a 17 MiB line" "longer than 16 MiB" longline2.txt
expect_error "URL refused" "connection refused" http://127.0.0.1:1/debug/pprof/goroutine
expect_error "URL scheme" "unsupported" ftp://127.0.0.1:1/x
expect_error "bad duration" "is not a duration" --timeout 5x http://127.0.0.1:1/
expect_error "watch of stdin" "cannot read stdin" watch -
expect_error "watch with two inputs" "watch needs one input" watch a b
expect_error "watch html without --output" "needs --output" watch -f html http://127.0.0.1:1/
expect_error "--keep out of range" "--keep takes 2 to 32" watch --keep 40 http://127.0.0.1:1/
expect_error "--min-growth 0" "--min-growth takes 1" watch --min-growth 0 http://127.0.0.1:1/
expect_error "watch options without watch" "are for watch" --every 1s "$seeds/panic.txt"
expect_error "unknown format" "unknown format" --format xml "$seeds/panic.txt"
expect_error "bad count" "is not a count" --fold x "$seeds/panic.txt"
expect_error "diff with one input" "diff needs two inputs" diff "$seeds/panic.txt"
expect_error "--max-growth without diff" "is for diff" --max-growth 3 "$seeds/panic.txt"

# ---- grouping options -----------------------------------------------------------
cat >args.txt <<'EOT'
goroutine 7 [chan receive, 1 minutes]:
main.worker(0xc000010000, 0x1)
	/src/app.go:20 +0x2b
created by main.start
	/src/app.go:9 +0x45

goroutine 8 [chan receive, 5 minutes]:
main.worker(0xc000020000, 0x2)
	/src/app.go:20 +0x2b
created by main.start
	/src/app.go:9 +0x45

goroutine 9 [chan receive, 9 minutes]:
main.worker(0xc000030000, 0x3)
	/src/app.go:20 +0x2b
created by main.start
	/src/app.go:9 +0x45
EOT
check "arguments ignored: groups" "$("$bin" -f json args.txt | jq .ngroups)" 1
check "arguments ignored: count" "$("$bin" -f json args.txt | jq '.groups[0].count')" 3
check "min/median/max wait" "$("$bin" -f json args.txt | jq -c '.groups[0].wait_s')" \
  '{"min":60,"median":300,"max":540}'
check "--exact-args: groups" "$("$bin" -f json --exact-args args.txt | jq .ngroups)" 3

cat >fold.txt <<'EOT'
goroutine 1 [select]:
main.loop()
	/src/app.go:30 +0x1
main.runA()
	/src/app.go:40 +0x1

goroutine 2 [select]:
main.loop()
	/src/app.go:30 +0x1
main.runB()
	/src/app.go:50 +0x1
created by main.start
	/src/app.go:9 +0x45
EOT
check "whole stacks: groups" "$("$bin" -f json fold.txt | jq .ngroups)" 2
printf 'goroutine 3 [select]:\nmain.loop()\n\t/src/app.go:30 +0x1\nmain.runC()\n\t/src/app.go:60 +0x1\ncreated by main.start\n\t/src/app.go:9 +0x45\n' >>fold.txt
sed -i 's/^goroutine 3/\ngoroutine 3/' fold.txt
check "--fold 1: goroutines of one site with the same top frame" \
  "$("$bin" -f json --fold 1 fold.txt | jq -c '[.groups[] | .count] | sort')" '[1,2]'

# Ordering: count x (1 + median minutes): 2 waiting 30m outrank 10 waiting 0.
{
  for i in 1 2; do printf 'goroutine %d [chan send, 30 minutes]:\nmain.old()\n\t/a.go:1 +0x1\n\n' $i; done
  for i in $(seq 3 12); do printf 'goroutine %d [chan send]:\nmain.young()\n\t/a.go:2 +0x1\n\n' $i; done
} >order.txt
check "sorted by count x wait" "$("$bin" -f json order.txt | jq -c '[.groups[] | .count]')" '[2,10]'

# ---- diff: new groups and groups that got older -------------------------------
printf 'goroutine 1 [chan send, 5 minutes]:\nmain.f()\n\t/a.go:1 +0x1\ncreated by main.g\n\t/a.go:9 +0x1\n' >old.txt
{
  printf 'goroutine 1 [chan send, 9 minutes]:\nmain.f()\n\t/a.go:1 +0x1\ncreated by main.g\n\t/a.go:9 +0x1\n\n'
  printf 'goroutine 2 [select]:\nmain.h()\n\t/a.go:4 +0x1\ncreated by main.g\n\t/a.go:12 +0x1\n'
} >new.txt
"$bin" diff -f json old.txt new.txt >diff.json
check "diff: the old group got older" \
  "$(jq -c '[.groups[] | select(.group.state == "chan send") | .older, .oldest_before_s, .oldest_after_s]' diff.json)" \
  '[true,300,540]'
check "diff: the select group is new" \
  "$(jq -c '[.groups[] | select(.group.state == "select") | .new, .before, .after]' diff.json)" '[true,0,1]'
"$bin" diff old.txt new.txt >diff.txt
check "text diff marks the new group" "$(grep -c 'NEW' diff.txt)" 1
check "text diff shows the oldest member's age" "$(grep -c 'oldest 5m -> 9m' diff.txt)" 1

# ---- proven leaks, colour -----------------------------------------------------------
"$bin" "$seeds/sigquit.txt" >sig.txt
check "(leaked) shown as proven" "$(grep -c '^PROVEN LEAKS' sig.txt)" 1
check "suspects labelled as such" "$(grep -c '^SUSPECTS (a dump shows where goroutines wait' sig.txt)" 1
check "no colour into a file" "$(grep -c $'\033' sig.txt || true)" 0
check "--color always" "$("$bin" --color always "$seeds/sigquit.txt" | grep -c $'\033' || true)" \
  "$("$bin" --color always "$seeds/sigquit.txt" | grep -c $'\033')"
[ "$("$bin" --color always "$seeds/sigquit.txt" | grep -c $'\033')" -gt 0 ] || {
  echo "FAIL: --color always wrote no colour" >&2
  fail=1
}
check "ancestors stay out of the stack" \
  "$("$bin" -f json "$seeds/sigquit.txt" | jq -c '[.groups[] | select(.state == "chan receive") | .frames | length]')" '[2]'
check "locked to thread" \
  "$("$bin" -f json "$seeds/sigquit.txt" | jq -c '[.groups[] | select(.state == "chan receive") | .locked]')" '[true]'

# ---- a large dump streams: peak memory below a quarter of its size --------------------
awk 'BEGIN { for (i = 1; i <= 400000; i++) {
  printf "goroutine %d [chan receive, %d minutes]:\nmain.worker(0xc%09x, 0x%x)\n\t/src/app.go:%d +0x2b\nmain.pool.func%d()\n\t/src/app.go:%d +0x4d\ncreated by main.pool in goroutine 1\n\t/src/app.go:88 +0x1f\n\n", i + 1, i % 60, i, i, 20 + i % 7, i % 3, 40 + i % 3 } }' >big.txt
size=$(stat -c %s big.txt)
/usr/bin/time -f '%M' -o rss.txt "$bin" -f json big.txt >big.json
rss_kb=$(tail -1 rss.txt)
check "large dump: goroutines" "$(jq .total big.json)" 400000
check "large dump: groups (7 lines x 3 closures)" "$(jq .ngroups big.json)" 21
# grep -q would close the pipe early and, under pipefail, fail ldd with SIGPIPE.
libs=$(ldd "$bin")
if grep -q 'libasan\|libtsan' <<<"$libs"; then
  echo "ok: peak RSS not checked in a sanitizer build (${rss_kb} KiB with its shadow memory)"
elif [ $((rss_kb * 1024)) -ge $((size / 4)) ]; then
  echo "FAIL: peak RSS ${rss_kb} KiB is not below a quarter of the ${size}-byte dump" >&2
  fail=1
else
  echo "ok: peak RSS ${rss_kb} KiB for a $((size >> 20)) MiB dump"
fi

[ $fail = 0 ] && echo "all command checks passed"
exit $fail
