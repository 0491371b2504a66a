#!/usr/bin/env bash
# Install test: install a built tree into a temporary prefix and build a small
# consumer program against the installed copy, the two ways a user would:
#
#   1. pkg-config --cflags --libs tether      (shared libtether.so)
#   2. CMake: find_package(tether CONFIG REQUIRED) + tether::tether (static),
#      and tether::tether_shared
#
# then run each consumer and check its output; and
#
#   3. a fresh clone of the repository's HEAD, where `make demo` (README's
#      first command) is the only build before `cmake --install build`: the
#      install must find everything it installs (TT_SKIP_CLONE=1 skips it).
#
#   scripts/test-install.sh [BUILD_DIR]      (default: build; configured and
#                                             built here if it is not yet)
#
# Ends with "install test: N passed, M failed"; exits non-zero on any failure.
# TT_KEEP_TMP=1 keeps the temporary directory for a look afterwards.
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"
build=${1:-build}
case "$build" in /*) ;; *) build="$root/$build" ;; esac

if [ ! -f "$build/CMakeCache.txt" ]; then
  cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo
fi
cmake --build "$build" --target tether tether_shared -j"$(nproc 2>/dev/null || echo 2)" >/dev/null

version=$(sed -n 's/^CMAKE_PROJECT_VERSION:[A-Z]*=//p' "$build/CMakeCache.txt")
major=${version%%.*}

tmp=$(mktemp -d "${TMPDIR:-/tmp}/tether-install-test.XXXXXX")
if [ -n "${TT_KEEP_TMP:-}" ]; then
  echo "install test: keeping $tmp"
else
  trap 'rm -rf "$tmp"' EXIT
fi
prefix="$tmp/prefix"
log="$tmp/log"

# Stay away from whatever the calling environment points at.
unset PKG_CONFIG_PATH PKG_CONFIG_LIBDIR CMAKE_PREFIX_PATH LD_LIBRARY_PATH tether_DIR || true

cmake --install "$build" --prefix "$prefix" >"$tmp/install.log"

# The leak analyzer is installed with the library and runs from there.
if [ ! -x "$prefix/bin/tether-leaks" ]; then
  echo "FAIL: tether-leaks is not installed in $prefix/bin" >&2
  exit 1
fi
printf 'goroutine 7 [chan send]:\nmain.f()\n\t/a.go:3 +0x1\n' | "$prefix/bin/tether-leaks" |
  grep -q 'abandoned sender' || { echo "FAIL: the installed tether-leaks did not run" >&2; exit 1; }

# ---- The consumer program -----------------------------------------------------

mkdir -p "$tmp/src"
cat >"$tmp/src/consumer.c" <<'EOF'
/* Written by scripts/test-install.sh: builds against an installed tether. */
#include <tether.h>

#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>

enum { NTASKS = 16 };

static atomic_long sum;
static atomic_int ran;
static int failed = 1;

static void add(void *arg) {
  atomic_fetch_add(&sum, (long)(intptr_t)arg);
  atomic_fetch_add(&ran, 1);
}

static void main_task(void *arg) {
  (void)arg;
  if (tt_self() <= 0) {
    fprintf(stderr, "consumer: tt_self() = %lld inside a task\n", (long long)tt_self());
    return;
  }
  tt_wg *wg = tt_wg_make();
  if (wg == NULL) {
    fprintf(stderr, "consumer: tt_wg_make failed\n");
    return;
  }
  for (int i = 1; i <= NTASKS; i++) {
    int64_t id = tt_wg_go(wg, add, (void *)(intptr_t)i);
    if (id <= 0) {
      fprintf(stderr, "consumer: tt_wg_go: %s\n", tt_strerror((int)id));
      return;
    }
  }
  int rc = tt_wg_wait(wg);
  if (rc < 0) {
    fprintf(stderr, "consumer: tt_wg_wait: %s\n", tt_strerror(rc));
    return;
  }
  rc = tt_wg_free(wg);
  if (rc < 0) {
    fprintf(stderr, "consumer: tt_wg_free: %s\n", tt_strerror(rc));
    return;
  }
  failed = 0;
}

int main(void) {
  int rc = tt_main(main_task, NULL);
  if (rc != 0) {
    fprintf(stderr, "consumer: tt_main: %s\n", tt_strerror(rc));
    return 2;
  }
  printf("tether %d.%d.%d: %d tasks, sum %ld\n", TETHER_VERSION_MAJOR, TETHER_VERSION_MINOR,
         TETHER_VERSION_PATCH, atomic_load(&ran), atomic_load(&sum));
  return failed;
}
EOF
expected="tether $version: 16 tasks, sum 136"

passed=0
failed=0
pass() { echo "install test: PASS $1"; passed=$((passed + 1)); }
fail() {
  echo "install test: FAIL $1" >&2
  [ -s "$log" ] && sed 's/^/    /' "$log" >&2
  failed=$((failed + 1))
}

check_output() { # check_output NAME CMD...: run CMD, compare stdout to $expected
  local name=$1 out
  shift
  if ! out=$(timeout 60 "$@" 2>"$log"); then
    echo "$name exited non-zero; stdout: $out" >>"$log"
    return 1
  fi
  if [ "$out" != "$expected" ]; then
    printf '%s printed:\n  %s\nexpected:\n  %s\n' "$name" "$out" "$expected" >>"$log"
    return 1
  fi
}

# ---- 1. pkg-config ---------------------------------------------------------------

test_pkgconfig() {
  export PKG_CONFIG_PATH
  PKG_CONFIG_PATH=$(dirname "$(find "$prefix" -name tether.pc -print -quit)")
  [ -f "$PKG_CONFIG_PATH/tether.pc" ] || { echo "no tether.pc under $prefix" >"$log"; return 1; }
  local modversion cflags libs libdir
  modversion=$(pkg-config --modversion tether 2>"$log") || return 1
  [ "$modversion" = "$version" ] || { echo "pkg-config --modversion: $modversion, want $version" >"$log"; return 1; }
  cflags=$(pkg-config --cflags tether 2>"$log") || return 1
  libs=$(pkg-config --libs tether 2>"$log") || return 1
  libdir=$(pkg-config --variable=libdir tether 2>"$log") || return 1
  case " $libs " in *" -pthread "*) ;; *) echo "Libs lacks -pthread: $libs" >"$log"; return 1 ;; esac
  local flag
  for flag in -g -fno-omit-frame-pointer -fno-optimize-sibling-calls -fstack-clash-protection; do
    case " $cflags " in *" $flag "*) ;; *) echo "Cflags lacks $flag: $cflags" >"$log"; return 1 ;; esac
  done
  # shellcheck disable=SC2086 # cflags and libs are lists of words
  cc -std=c11 -Wall -Wextra -Werror -o "$tmp/consumer-pc" "$tmp/src/consumer.c" \
    $cflags $libs >"$log" 2>&1 || return 1
  # It must have linked the shared library (the soname), not a copy. (grep reads all:
  # grep -q could end the pipe early and pipefail would count readelf's SIGPIPE.)
  if ! readelf -d "$tmp/consumer-pc" | grep "NEEDED.*\[libtether\.so\.$major\]" >/dev/null; then
    { echo "consumer-pc does not need libtether.so.$major:"; readelf -d "$tmp/consumer-pc"; } >"$log"
    return 1
  fi
  LD_LIBRARY_PATH="$libdir" check_output consumer-pc "$tmp/consumer-pc"
}

# ---- 2. CMake package config ----------------------------------------------------

test_cmake() {
  mkdir -p "$tmp/cmake-src"
  cp "$tmp/src/consumer.c" "$tmp/cmake-src/"
  cat >"$tmp/cmake-src/CMakeLists.txt" <<EOF
cmake_minimum_required(VERSION 3.16)
project(tether_consumer LANGUAGES C)
find_package(tether $version CONFIG REQUIRED)
if(NOT tether_VERSION VERSION_EQUAL "$version")
  message(FATAL_ERROR "found tether \${tether_VERSION}, want $version")
endif()
add_executable(consumer consumer.c)
target_link_libraries(consumer PRIVATE tether::tether)
add_executable(consumer_shared consumer.c)
target_link_libraries(consumer_shared PRIVATE tether::tether_shared)
foreach(t consumer consumer_shared)
  set_target_properties(\${t} PROPERTIES C_STANDARD 11 C_STANDARD_REQUIRED ON)
  target_compile_options(\${t} PRIVATE -Wall -Wextra -Werror)
endforeach()
EOF
  cmake -S "$tmp/cmake-src" -B "$tmp/cmake-build" -DCMAKE_PREFIX_PATH="$prefix" \
    -DCMAKE_FIND_USE_PACKAGE_REGISTRY=OFF -DCMAKE_BUILD_TYPE=RelWithDebInfo >"$log" 2>&1 || return 1
  cmake --build "$tmp/cmake-build" >"$log" 2>&1 || return 1
  # tether::tether is the static library: nothing of tether to load at run time.
  if readelf -d "$tmp/cmake-build/consumer" | grep 'NEEDED.*libtether' >/dev/null; then
    echo "consumer (tether::tether) links libtether.so, want the static library" >"$log"
    return 1
  fi
  check_output consumer "$tmp/cmake-build/consumer" || return 1
  # tether::tether_shared: CMake puts the imported library's directory in the
  # build RPATH, so no LD_LIBRARY_PATH is needed.
  check_output consumer_shared "$tmp/cmake-build/consumer_shared"
}

: >"$log"
if test_pkgconfig; then pass "pkg-config (shared library)"; else fail "pkg-config (shared library)"; fi
: >"$log"
if test_cmake; then pass "CMake find_package (tether::tether, tether::tether_shared)"; else fail "CMake find_package (tether::tether, tether::tether_shared)"; fi


# ---- 3. make demo, then install, in a fresh clone ----------------------------------

test_demo_then_install() {
  if ! git -C "$root" rev-parse --verify -q HEAD >/dev/null; then
    echo "$root is not a git checkout" >"$log"
    return 1
  fi
  git clone -q --no-hardlinks "$root" "$tmp/clone" >"$log" 2>&1 || return 1
  # The clone shares nothing with $build: what install needs, make demo built.
  if ! (cd "$tmp/clone" && make demo) >"$tmp/demo.log" 2>&1; then
    { echo "make demo failed:"; tail -30 "$tmp/demo.log"; } >"$log"
    return 1
  fi
  cmake --install "$tmp/clone/build" --prefix "$tmp/prefix-demo" >"$log" 2>&1 || return 1
  local libdir lib
  libdir=$(dirname "$(find "$tmp/prefix-demo" -name libtether.a -print -quit)")
  for lib in libtether.a "libtether.so.$version" "libtether.so.$major" libtether.so; do
    if [ ! -e "$libdir/$lib" ]; then
      echo "after make demo, cmake --install did not install $lib in $libdir" >>"$log"
      return 1
    fi
  done
  # The installed copy works, linked as README's "Install and link" says:
  # pkg-config and an rpath to the non-system prefix, no LD_LIBRARY_PATH.
  PKG_CONFIG_PATH=$(dirname "$(find "$tmp/prefix-demo" -name tether.pc -print -quit)")
  export PKG_CONFIG_PATH
  # shellcheck disable=SC2046 # a list of words
  cc -std=c11 -Wall -Wextra -Werror -o "$tmp/consumer-demo" "$tmp/src/consumer.c" \
    $(pkg-config --cflags --libs tether) -Wl,-rpath,"$(pkg-config --variable=libdir tether)" \
    >"$log" 2>&1 || return 1
  check_output consumer-demo "$tmp/consumer-demo"
}

if [ -n "${TT_SKIP_CLONE:-}" ]; then
  echo "install test: SKIP make demo then install in a fresh clone (TT_SKIP_CLONE set)"
else
  : >"$log"
  if test_demo_then_install; then pass "make demo, then cmake --install (fresh clone)"; else fail "make demo, then cmake --install (fresh clone)"; fi
fi

echo "install test: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
