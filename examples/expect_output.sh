#!/usr/bin/env bash
# Run an example and check its output: expect_output.sh PROGRAM [ARG...] --
# LINE... Passes when the program exits 0 and prints every LINE (a fixed
# string, matched within one line of its output); otherwise prints what
# was missing and the output. (CTest's PASS_REGULAR_EXPRESSION backtracks
# badly over long outputs: this is one grep per expected line.)
set -uo pipefail
cmd=()
while [ $# -gt 0 ] && [ "$1" != "--" ]; do cmd+=("$1"); shift; done
[ $# -gt 0 ] && shift
out=$(mktemp)
trap 'rm -f "$out"' EXIT
"${cmd[@]}" >"$out" 2>&1
rc=$?
bad=0
if [ $rc -ne 0 ]; then echo "expect_output: ${cmd[0]} exited with status $rc"; bad=1; fi
for want in "$@"; do
  if ! grep -qF -- "$want" "$out"; then echo "expect_output: missing: $want"; bad=1; fi
done
if [ $bad -ne 0 ]; then echo "---- output of ${cmd[*]} ----"; cat "$out"; exit 1; fi
echo "expect_output: ${cmd[0]}: all $# expected lines found"
