#!/usr/bin/env bash
# Feed tether's dumps to the tools Go developers read Go's dumps with, and set
# them beside Go's own.
#
#   run.sh CHECK BUILD_DIR SOURCE_DIR
#
#   firstframe  the six seed patterns in Go (patterns/*.go, built here) and in
#               C (examples/pattern*_leak.c): in every leaked goroutine's
#               debug=2 block the first frame is the user's blocking call, on
#               both sides, and the C side's verify-none report shows no
#               runtime frame either
#   parsers     dump_subject's debug=2 dump, from code built with and without
#               -g, read whole by panicparse and goleak's parser
#   running     the same while two tasks spin on other workers: each running
#               goroutine has its real stack (the spinning function), and
#               the longest pause a spinner saw during the dump is printed
#
# Go is /usr/lib/go-1.19/bin/go (or $TT_GO); panicparse and goleak are
# Debian's golang-github-maruel-panicparse-dev and golang-uber-goleak-dev,
# built in GOPATH mode (scripts/deps.sh go installs all three). Without them
# the check fails, unless TT_SKIP_GO=1, which makes it a skip (exit 77).
set -euo pipefail

check=${1:?check}
build=$(cd "${2:?build dir}" && pwd)
src=$(cd "${3:?source dir}" && pwd)
here=$src/tests/gotools

go=${TT_GO:-/usr/lib/go-1.19/bin/go}
gocode=/usr/share/gocode/src
missing=""
[ -x "$go" ] || missing="$missing $go"
[ -d "$gocode/github.com/maruel/panicparse/v2/stack" ] || missing="$missing panicparse"
[ -f "$gocode/go.uber.org/goleak/internal/stack/stacks.go" ] || missing="$missing goleak"
if [ -n "$missing" ]; then
  if [ "${TT_SKIP_GO:-}" = 1 ]; then
    echo "SKIP: missing$missing (TT_SKIP_GO=1)"
    exit 77
  fi
  echo "FAIL: missing$missing: run scripts/deps.sh go (as root), or set TT_SKIP_GO=1" >&2
  exit 1
fi

tmp=$(mktemp -d "${TMPDIR:-/tmp}/tt-gotools-XXXXXX")
trap 'rm -rf "$tmp"' EXIT
export GO111MODULE=off GOPATH=$tmp/gopath:/usr/share/gocode GOFLAGS=
[ -n "${HOME:-}" ] || export GOCACHE=$tmp/gocache

fail() {
  echo "FAIL: $*" >&2
  exit 1
}

# goleak's parser, copied from the installed package into a package of our
# own, reading a buffer instead of runtime.Stack (dumpcheck/main.go).
build_dumpcheck() {
  local pkg=$tmp/gopath/src/goleakstack
  mkdir -p "$pkg" "$tmp/gopath/src/dumpcheck"
  sed 's/^func getStackBuffer(/func getStackBufferOfRuntime(/' \
    "$gocode/go.uber.org/goleak/internal/stack/stacks.go" > "$pkg/stacks.go"
  grep -q '^func getStackBufferOfRuntime(' "$pkg/stacks.go" ||
    fail "goleak's stacks.go has no getStackBuffer to hook"
  cat > "$pkg/input.go" <<'GO'
package stack

var input []byte

func getStackBuffer(all bool) []byte { return input }

// Parse runs goleak's parser on a dump.
func Parse(dump []byte) []Stack {
	input = dump
	return All()
}
GO
  cp "$here/dumpcheck/main.go" "$tmp/gopath/src/dumpcheck/"
  (cd "$tmp" && "$go" build -o "$tmp/dumpcheck" dumpcheck) || fail "cannot build dumpcheck"
}

# The line `n` of file `f`.
source_line() { sed -n "${2}p" "$1" 2>/dev/null; }

# A debug=2 dump without its running goroutines' blocks.
without_running() {
  awk -v RS= -v ORS='\n\n' '!/^goroutine [0-9]+ \[running\]:/' "$1"
}

check_firstframe() {
  local i
  for i in 1 2 3 4 5 6; do
    local gosrc=$tmp/go$i/pattern$i.go csrc=$src/examples/pattern${i}_leak.c
    mkdir -p "$tmp/go$i"
    cp "$here/patterns/pattern$i.go" "$gosrc"
    (cd "$tmp/go$i" && "$go" build -o "$tmp/go$i/pattern" "$gosrc") || fail "cannot build pattern$i.go"
    "$tmp/go$i/pattern" > "$tmp/go$i.txt"
    TT_EXAMPLE_DUMP=$tmp/c$i.txt "$build/examples/pattern${i}_leak" > "$tmp/c$i.out" ||
      fail "pattern${i}_leak did not catch its leak: $(cat "$tmp/c$i.out")"
    # The dumping goroutine is left out on both sides: on the C side its
    # frame is in examples/expect_leaks.h, and Go's parsers take only .c,
    # .go and .s files (the parsers check reads a whole dump).
    without_running "$tmp/go$i.txt" > "$tmp/go$i.leaked"
    without_running "$tmp/c$i.txt" > "$tmp/c$i.leaked"
    "$tmp/dumpcheck" "$tmp/go$i.leaked" > "$tmp/go$i.tab" || fail "Go's own dump of pattern $i"
    "$tmp/dumpcheck" "$tmp/c$i.leaked" > "$tmp/c$i.tab" ||
      fail "tether's dump of pattern $i: $(cat "$tmp/c$i.txt")"

    # Every goroutine but the dumping one (running): its state, and whether
    # its first frame is the user's blocking call.
    local side tab id state fn loc file line text verdict
    for side in go c; do
      : > "$tmp/$side$i.sum"
      while IFS=$'\t' read -r id state fn loc; do
        file=${loc%:*} line=${loc##*:}
        text=$(source_line "$file" "$line")
        verdict=not-user
        if [ $side = go ]; then
          case "$fn" in runtime.*) verdict=runtime ;; esac
          if [ "$file" = "$gosrc" ] && [[ $fn == main.* ]] &&
            grep -Eq '<-|range |\.Read\(' <<< "$text"; then
            verdict=user-call
          elif [ "$state" = "IO wait" ] && [[ $fn == internal/poll.* ]]; then
            verdict=user-call # Go's I/O wait: the poller's frame is shown, not the runtime's
          fi
        else
          case "$file" in "$src"/src/*) verdict=runtime ;; esac
          if [ "$file" = "$csrc" ] && grep -Eq 'tt_(chan_(send|recv)|blocking|fd_(read|read_full|write_all|wait)|tcp_(accept|connect))[a-z_]*\(' <<< "$text"; then
            verdict=user-call
          fi
        fi
        [ "$verdict" = user-call ] ||
          fail "pattern $i ($side): goroutine $id [$state]: first frame $fn at $loc ($verdict): '$text'"
        echo "$state $verdict" >> "$tmp/$side$i.sum"
      done < "$tmp/$side$i.tab"
      sort -o "$tmp/$side$i.sum" "$tmp/$side$i.sum"
    done
    [ -s "$tmp/go$i.sum" ] || fail "pattern $i: Go's dump shows no leaked goroutine"
    cmp -s "$tmp/go$i.sum" "$tmp/c$i.sum" ||
      fail "pattern $i: Go and tether differ:$(printf '\nGo:\n'; cat "$tmp/go$i.sum"; printf 'tether:\n'; cat "$tmp/c$i.sum")"
    # verify-none's report hides the runtime's frames too.
    if grep -q "^ *$src/src/" "$tmp/c$i.out"; then
      fail "pattern $i: a runtime frame in the reports: $(cat "$tmp/c$i.out")"
    fi
    echo "pattern $i: $(wc -l < "$tmp/go$i.sum") leaked goroutine(s), first frame the user's call in Go and in tether"
  done
}

check_parsers() {
  local variant
  for variant in g nog; do
    local subj=$build/tests/dump_subject_$variant
    "$subj" "$tmp/$variant.txt" > "$tmp/$variant.out" || fail "dump_subject_$variant failed"
    "$tmp/dumpcheck" "$tmp/$variant.txt" > "$tmp/$variant.tab" ||
      fail "dump of code built $variant: $(cat "$tmp/$variant.txt")"
    local want_file
    [ $variant = g ] && want_file=$here/dump_subject.c || want_file='??'
    local fn
    for fn in receiver sleeper locker; do
      grep -Eq "^[0-9]+	[^	]+	$fn	$(sed 's/[?.]/\\&/g' <<< "$want_file"):[0-9]+$" "$tmp/$variant.tab" ||
        fail "$variant: no goroutine with $fn at $want_file on top: $(cat "$tmp/$variant.tab")"
    done
    echo "dump of code built $variant: $(wc -l < "$tmp/$variant.tab") goroutines read by panicparse and goleak's parser"
  done
  grep -q '^	??:0' "$tmp/nog.txt" || fail "without -g the file should read ??:0: $(cat "$tmp/nog.txt")"
  if grep -q '^	?:' "$tmp/nog.txt"; then fail "a ?: file line: $(cat "$tmp/nog.txt")"; fi
}

check_running() {
  local variant
  for variant in g nog; do
    local subj=$build/tests/dump_subject_$variant
    "$subj" "$tmp/$variant.txt" 2 > "$tmp/$variant.out" || fail "dump_subject_$variant failed"
    "$tmp/dumpcheck" "$tmp/$variant.txt" > "$tmp/$variant.tab" ||
      fail "dump with running tasks, code built $variant: $(cat "$tmp/$variant.txt")"
    # Goroutine 1 is the dumping one; the two others running are the spinners.
    local blocks
    blocks=$(awk -v RS= '/^goroutine [0-9]+ \[running\]:/ && !/^goroutine 1 / && /\nspinner\(\.\.\.\)\n/' \
      "$tmp/$variant.txt" | grep -c '^goroutine ' || true)
    [ "$blocks" = 2 ] || fail "$variant: $blocks of 2 spinners show their stack: $(cat "$tmp/$variant.txt")"
    if grep -q 'stack unavailable' "$tmp/$variant.txt"; then fail "$variant: a stack unavailable"; fi
    echo "code built $variant: 2 running tasks with their stacks; $(tr '\n' ' ' < "$tmp/$variant.out")"
  done
}

build_dumpcheck
case "$check" in
  firstframe) check_firstframe ;;
  parsers) check_parsers ;;
  running) check_running ;;
  *) fail "unknown check '$check'" ;;
esac
echo PASS
