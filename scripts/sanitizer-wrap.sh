#!/usr/bin/env bash
# Print the command prefix that sanitized test binaries need on this machine:
# nothing when a trivial sanitized program runs as it is, or
# "setarch <arch> -R" (address-space randomization off) when it only runs that
# way. Sanitizer runtimes older than the kernel's high-entropy mmap
# (vm.mmap_rnd_bits = 32 on Linux >= 6.5 distributions) fail with
#   FATAL: ThreadSanitizer: unexpected memory mapping 0x...
# (TSan) or loop on AddressSanitizer:DEADLYSIGNAL (ASan).
#
#   scripts/sanitizer-wrap.sh thread|address     (CC selects the compiler, default cc)
#
# Exits non-zero, with the probe's output on stderr, if the program fails
# both ways: the toolchain itself is broken and the tests would fail anyway.
set -euo pipefail

kind=${1:?usage: sanitizer-wrap.sh thread|address}
case "$kind" in
  thread) flags=(-fsanitize=thread) ;;
  address) flags=('-fsanitize=address,undefined') ;;
  *) echo "sanitizer-wrap.sh: unknown sanitizer '$kind'" >&2; exit 2 ;;
esac
cc=${CC:-cc}

tmp=$(mktemp -d "${TMPDIR:-/tmp}/tether-sanprobe.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
cat >"$tmp/probe.c" <<'C'
#include <pthread.h>
#include <stdlib.h>
static void *run(void *p) { return p; }
int main(void) {
  pthread_t t;
  char *p = malloc(16);
  if (pthread_create(&t, NULL, run, p) != 0 || pthread_join(t, NULL) != 0) return 1;
  free(p);
  return 0;
}
C
if ! "$cc" "${flags[@]}" -pthread -o "$tmp/probe" "$tmp/probe.c" 2>"$tmp/cc.log"; then
  echo "sanitizer-wrap.sh: $cc cannot build a -fsanitize=$kind program:" >&2
  cat "$tmp/cc.log" >&2
  exit 1
fi

if timeout 30 "$tmp/probe" >"$tmp/run.log" 2>&1; then
  exit 0 # runs as it is: no prefix
fi
wrap="setarch $(uname -m) -R"
if timeout 30 setarch "$(uname -m)" -R "$tmp/probe" >"$tmp/run2.log" 2>&1; then
  if grep -q "unexpected memory mapping" "$tmp/run.log"; then
    echo "sanitizer-wrap.sh: $kind sanitizer needs ASLR off here (high-entropy mmap); using '$wrap'" >&2
  else
    echo "sanitizer-wrap.sh: $kind sanitizer probe only runs with ASLR off; using '$wrap'" >&2
  fi
  echo "$wrap"
  exit 0
fi
echo "sanitizer-wrap.sh: a trivial -fsanitize=$kind program fails even under '$wrap':" >&2
head -20 "$tmp/run.log" >&2
exit 1
