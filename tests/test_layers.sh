#!/usr/bin/env bash
# The layer check (scripts/check-layers.sh) passes on the tree, and fails on
# a copy of it with one upward include added: a check that cannot fail
# proves nothing.
set -euo pipefail
top=${1:?usage: test_layers.sh PROJECT_DIR}
check="$top/scripts/check-layers.sh"

bash "$check" "$top/src"

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cp -r "$top/src" "$tmp/src"
expect_fail() { # what, then the line to add to core/sched.c
  cp "$top/src/core/sched.c" "$tmp/src/core/sched.c"
  echo "$2" >>"$tmp/src/core/sched.c"
  if out=$(bash "$check" "$tmp/src" 2>&1); then
    echo "FAIL: the check accepted $1"
    exit 1
  fi
  grep -q "core/sched.c" <<<"$out" || { echo "FAIL: no file:line for $1: $out"; exit 1; }
  echo "ok: rejects $1"
}
expect_fail "an upward include" '#include "leak/leak.h"'
expect_fail "an include without its folder" '#include "sched.h"'
# A hooks header is the one allowed arrow upward.
cp "$top/src/core/sched.c" "$tmp/src/core/sched.c"
echo '#include "observe/hooks.h"' >>"$tmp/src/core/sched.c"
bash "$check" "$tmp/src" >/dev/null
echo "ok: accepts a hooks.h"
