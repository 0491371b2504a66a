#!/usr/bin/env bash
# Build the library and the test suite for aarch64 with Debian's cross
# compiler and run the suite under qemu-user, so the aarch64 context switch
# is exercised on every `make test`. Workloads are scaled down (emulation is
# ~20x slower); the x86-64 trees run them at full size.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/deps.sh aarch64
dir=${1:-build-aarch64}
cmake -S . -B "$dir" -DCMAKE_TOOLCHAIN_FILE=cmake/aarch64-linux-gnu.cmake -DTT_REQUIRE_LIBDW=OFF \
  -DCMAKE_BUILD_TYPE=RelWithDebInfo -DTT_BUILD_TESTS=ON -DTT_BUILD_BENCH=OFF \
  -DTT_BUILD_EXAMPLES=OFF -DTT_INSTALL=OFF >/dev/null
cmake --build "$dir" -j"$(nproc)"
# Left out: test_stack checks the SIGSEGV report, which qemu-user delivers
# differently; test_context, test_group, test_leak and test_deadlock
# re-execute themselves through /proc/self/exe, which qemu-user cannot do
# without binfmt_misc; test_gotext, test_verify and test_leakgraph check
# file:line in stacks, which needs libdw, and a cross build has none (it
# names functions through dladdr only; test_leakgraph_corpus, which checks
# the leak classes only, runs); so does test_baseline, whose report must show a task's user frame by name, and test_http_tasks, whose task JSON must
# name a static function among a group's frames, and test_http_debug and
# test_export, whose pages and exports must name static functions too;
# test_signal runs its cases in re-executed children, and test_badinput skips
# its one re-executed case (TT_TEST_NO_REEXEC); test_stress_restart counts
# the process's threads, fds and mappings, which are qemu's own; gotools_*
# feed dumps with file:line to Go's tools. The context switch itself is
# exercised by every other test.
TT_TEST_NO_REEXEC=1 TT_TEST_SCALE=${TT_TEST_SCALE:-0.05} ctest --test-dir "$dir" \
  --output-on-failure -j2 --no-tests=error \
  -E '^(test_stack|test_context|test_group|test_gotext|test_verify|test_leak|test_leakgraph|test_deadlock|test_http_tasks|test_baseline|test_http_debug|test_export|test_signal|test_stress_restart|gotools_parsers|gotools_running)$'
