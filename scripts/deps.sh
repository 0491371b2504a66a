#!/usr/bin/env bash
# Check (and, as root, install) the Debian packages that tether's build, tests,
# benchmarks and linters need.
#
#   scripts/deps.sh [FEATURE...]     FEATURE: build test go httpbench lint clang browser
#                                    metrics all
#                                    (default: build test)
#
#   build  cmake, make, gcc (with its sanitizer runtimes), libc6-dev, pkg-config,
#          libdw-dev (stack symbolization), zlib1g-dev (gzipped pprof) and
#          libcurl4-openssl-dev (the HTTP client)
#   test   build + git, setarch (TSan fallback), and what scripts/test-install.sh
#          uses (pkg-config, mktemp, readelf); libhttp-parser-dev (the oracle
#          test_http_oracle checks the HTTP parser against) and clang (the
#          HTTP parser's fuzz smoke, scripts/fuzz-http.sh), nodejs (checks the
#          live task page's script and reads its JSON in test_http_tasks), jq
#          and GNU time (tether-leaks' tests)
#   go     Go 1.19 for the Go side of the benchmarks (/usr/lib/go-1.19/bin/go),
#          and panicparse and goleak, whose stack parsers the dump tests run
#   httpbench  wrk, curl and Go 1.19 for scripts/bench-http.sh (the HTTP server
#          beside Go's net/http)
#   panicparse  Debian's panicparse library (scripts/bench-analyzer.sh)
#   lint   clang-format, clang-tidy
#   clang  clang (optional second compiler: make CC=clang ...; libFuzzer for
#          scripts/fuzz-analyzer.sh)
#   metrics  Python 3 and Prometheus' Python client, whose text-format parser
#          reads /metrics in tests/http_debug/run.sh
#   browser  Chromium, ChromeDriver, Node.js and npm (the HTML report test of
#          tools/tether-leaks and the live task page's test drive Chromium with
#          playwright-core from npm)
#   aarch64  the aarch64 cross compiler and qemu-user (scripts/test-aarch64.sh)
#   all    all of the above
#
# Prints nothing when everything is there. When something is missing: as root,
# runs `apt-get update` once and `apt-get install -y --no-install-recommends`
# for the missing packages; otherwise prints the sudo command to run and exits
# 1. Uses no network other than apt's.
set -euo pipefail

usage() {
  sed -n '2,/^set -euo/p' "$0" | sed -e '$d' -e 's/^# \{0,1\}//' >&2
  exit 2
}

features=("$@")
[ ${#features[@]} -gt 0 ] || features=(build test)

missing=() # Debian packages to install, in first-seen order

need_pkg() { # need_pkg PKG: add PKG to the install list once
  local p
  for p in "${missing[@]+"${missing[@]}"}"; do [ "$p" = "$1" ] && return 0; done
  missing+=("$1")
}

pkg_installed() { # pkg_installed PKG: is the Debian package installed?
  [ "$(dpkg-query -W -f='${Status}' "$1" 2>/dev/null)" = "install ok installed" ]
}

need_cmd() { # need_cmd COMMAND PACKAGE
  command -v "$1" >/dev/null 2>&1 || need_pkg "$2"
}

need_file() { # need_file PATH PACKAGE
  [ -e "$1" ] || need_pkg "$2"
}

gcc_dev_pkg() { # the libgcc-N-dev package that ships gcc's sanitizer runtimes
  local major
  major=$(gcc -dumpversion 2>/dev/null | cut -d. -f1)
  echo "libgcc-${major:-12}-dev"
}

check_build() {
  need_cmd cmake cmake
  need_cmd make make
  need_cmd gcc gcc
  need_cmd pkg-config pkg-config
  pkg_installed libdw-dev || need_pkg libdw-dev
  pkg_installed zlib1g-dev || need_pkg zlib1g-dev
  pkg_installed libcurl4-openssl-dev || need_pkg libcurl4-openssl-dev
  if ! pkg_installed libc6-dev && [ ! -e /usr/include/stdio.h ]; then
    need_pkg libc6-dev
  fi
  # gcc's sanitizer runtimes (libasan, libubsan, libtsan) for the ASan/TSan
  # trees of `make test`; they come with gcc, but check rather than assume.
  if command -v gcc >/dev/null 2>&1; then
    local lib
    for lib in libasan.so libubsan.so libtsan.so; do
      case "$(gcc -print-file-name="$lib")" in
        /*) ;;
        *) need_pkg "$(gcc_dev_pkg)" ;;
      esac
    done
  fi
}

check_test() {
  check_build
  need_cmd git git
  need_cmd setarch util-linux
  need_cmd mktemp coreutils
  need_cmd readelf binutils
  need_file /usr/include/http_parser.h libhttp-parser-dev
  need_cmd node nodejs
  check_clang
  need_cmd jq jq
  need_file /usr/bin/time time
}

check_go() {
  need_file /usr/lib/go-1.19/bin/go golang-1.19-go
  # Go's stack parsers, built in GOPATH mode by tests/gotools/run.sh.
  need_file /usr/share/gocode/src/github.com/maruel/panicparse/v2/stack \
    golang-github-maruel-panicparse-dev
  need_file /usr/share/gocode/src/go.uber.org/goleak/internal/stack/stacks.go \
    golang-uber-goleak-dev
}

check_httpbench() {
  need_cmd wrk wrk
  need_cmd curl curl
  need_cmd python3 python3
  need_file /usr/lib/go-1.19/bin/go golang-1.19-go
}

check_panicparse() {
  pkg_installed golang-github-maruel-panicparse-dev || need_pkg golang-github-maruel-panicparse-dev
}

check_lint() {
  need_cmd clang-format clang-format
  need_cmd clang-tidy clang-tidy
}

check_clang() {
  need_cmd clang clang
}

check_metrics() {
  need_file /usr/bin/python3 python3
  need_file /usr/lib/python3/dist-packages/prometheus_client/parser.py python3-prometheus-client
}

check_browser() {
  need_file /usr/bin/chromium chromium
  need_file /usr/bin/chromedriver chromium-driver
  need_cmd node nodejs
  need_cmd npm npm
}

check_aarch64() {
  need_cmd aarch64-linux-gnu-gcc gcc-aarch64-linux-gnu
  need_file /usr/aarch64-linux-gnu/include/stdio.h libc6-dev-arm64-cross
  need_cmd qemu-aarch64 qemu-user
}

for f in "${features[@]}"; do
  case "$f" in
    build) check_build ;;
    test) check_test ;;
    go) check_go ;;
    lint) check_lint ;;
    clang) check_clang ;;
    aarch64) check_aarch64 ;;
    browser) check_browser ;;
    metrics) check_metrics ;;
    panicparse) check_panicparse ;;
    httpbench) check_httpbench ;;
    all) check_test; check_go; check_httpbench; check_lint; check_clang; check_browser; check_metrics ;;
    -h | --help) usage ;;
    *) echo "deps.sh: unknown feature '$f' (build, test, go, httpbench, lint, clang, aarch64, browser, metrics, panicparse, all)" >&2; exit 2 ;;
  esac
done

[ ${#missing[@]} -eq 0 ] && exit 0

if [ -n "${TT_DEPS_RECHECK:-}" ]; then
  echo "deps.sh: still missing after apt-get install: ${missing[*]}" >&2
  exit 1
fi

if [ "$(id -u)" -ne 0 ]; then
  echo "deps.sh: missing packages for '${features[*]}'. Install them with:" >&2
  echo "  sudo apt-get install -y --no-install-recommends ${missing[*]}" >&2
  exit 1
fi

echo "deps.sh: installing ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}"
# Check again, so that a package that installed but did not bring what was
# looked for is reported rather than silently ignored.
TT_DEPS_RECHECK=1 exec bash "$0" "${features[@]}"
