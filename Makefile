# Thin driver around CMake. The real build is CMakeLists.txt.
#
#   make [build]   RelWithDebInfo build in build/ (with compile_commands.json)
#   make demo      build and run build/examples/demo
#   make test      ctest in build/, build-asan/ (ASan+UBSan), build-tsan/ (TSan),
#                  build-ucontext/ (portable switch), build-aarch64/ (cross, under
#                  qemu-user), then the install test (scripts/test-install.sh)
#   make test-build | test-asan | test-tsan | test-install   one step of `make test`
#   make stress    the race tests (tests/test_stress_*.c) in build/ with STRESS_SCALE
#                  (100) times the rounds `make test` runs (millions of timer
#                  stop-versus-fire rounds, thousands of shutdown races and restarts);
#                  STRESS_TREES='build build-asan build-tsan' runs them in the
#                  sanitizer trees too (after make test-asan / test-tsan built them)
#   make bench     scripts/bench.sh, bench-visibility.sh, bench-http.sh (C beside Go)
#   make format    clang-format -i over the C sources
#   make lint      the layer check (scripts/check-layers.sh), clang-format --dry-run
#                  --Werror, clang-tidy on src/*/*.c
#   make clean     remove build/, build-asan/, build-tsan/ (and build-bench/ of make bench)
#
# Variables: BUILD_TYPE (RelWithDebInfo), JOBS (nproc), CMAKE_ARGS (extra -D...),
# CTEST_ARGS (extra ctest arguments, e.g. CTEST_ARGS='-R wg'), CC.

SHELL := /bin/bash
.SHELLFLAGS := -eo pipefail -c
.DEFAULT_GOAL := build
# Each recipe's steps run in order and the first failure stops make; the
# sanitizer trees are never built side by side even under make -j.
.NOTPARALLEL:

CMAKE ?= cmake
CTEST ?= ctest
BUILD_TYPE ?= RelWithDebInfo
JOBS ?= $(shell nproc 2>/dev/null || echo 2)
CMAKE_ARGS ?=
CTEST_ARGS ?=
CTEST_FLAGS := --output-on-failure -j2 --no-tests=error $(CTEST_ARGS)
CLANG_FORMAT ?= clang-format
CLANG_TIDY ?= clang-tidy

# compile_commands.json in build/ for clang-tidy and editors.
export CMAKE_EXPORT_COMPILE_COMMANDS := ON

# Sanitizer run-time options (override from the environment if needed).
ASAN_OPTIONS ?= detect_leaks=1:halt_on_error=1:detect_stack_use_after_return=0:print_summary=1
UBSAN_OPTIONS ?= print_stacktrace=1:halt_on_error=1:print_summary=1
LSAN_OPTIONS ?= print_suppressions=0
TSAN_OPTIONS ?= halt_on_error=1:second_deadlock_stack=1:print_summary=1
export ASAN_OPTIONS UBSAN_OPTIONS LSAN_OPTIONS TSAN_OPTIONS

# Files for clang-format: the C sources in these folders and at the top level.
FORMAT_DIRS := include src tests bench examples tools
FORMAT_FILES = $(sort $(wildcard $(addsuffix /*.[ch],$(FORMAT_DIRS)) \
                 $(addsuffix /*/*.[ch],$(FORMAT_DIRS)) *.c *.h))

DEPS := scripts/deps.sh

# configure_tree DIR EXTRA-CMAKE-ARGS. The options each tree relies on are set
# every time, so a cache left by a hand-run cmake (-DTT_BUILD_TESTS=OFF, say)
# cannot make `make test` run no tests. CMAKE_ARGS come last and win.
define configure_tree
$(CMAKE) -S . -B $(1) -DCMAKE_BUILD_TYPE=$(BUILD_TYPE) -DTT_BUILD_TESTS=ON $(2) $(CMAKE_ARGS)
endef

.PHONY: all build configure deps demo test test-build test-asan test-tsan test-ucontext \
        test-aarch64 test-install stress \
        bench format lint clean

all: build

deps:
	@bash $(DEPS) build

configure:
	@bash $(DEPS) build
	$(call configure_tree,build,-DTT_SANITIZE= -DTT_BUILD_EXAMPLES=ON -DTT_BUILD_BENCH=ON \
	  -DCMAKE_EXPORT_COMPILE_COMMANDS=ON)

build: configure
	$(CMAKE) --build build -j$(JOBS)

demo: configure
	$(CMAKE) --build build -j$(JOBS) --target demo
	./build/examples/demo

# ---- Tests -------------------------------------------------------------------

test:
	@bash $(DEPS) test go
	$(MAKE) --no-print-directory test-build
	$(MAKE) --no-print-directory test-asan
	$(MAKE) --no-print-directory test-tsan
	$(MAKE) --no-print-directory test-ucontext
	$(MAKE) --no-print-directory test-aarch64
	$(MAKE) --no-print-directory test-install

test-build: build
	cd build && $(CTEST) $(CTEST_FLAGS)

# ASan + UBSan. The benchmarks are left out of the sanitizer trees.
test-asan:
	@bash $(DEPS) build
	$(call configure_tree,build-asan,-DTT_SANITIZE=address -DTT_BUILD_EXAMPLES=ON -DTT_BUILD_BENCH=OFF)
	$(CMAKE) --build build-asan -j$(JOBS)
	@wrap=$$(bash scripts/sanitizer-wrap.sh address); \
	if [ -n "$$wrap" ]; then echo "ASan: running the tests under '$$wrap'"; fi; \
	cd build-asan && echo "+ $$wrap $(CTEST) $(CTEST_FLAGS)" && $$wrap $(CTEST) $(CTEST_FLAGS)

# TSan. On kernels with high-entropy mmap (vm.mmap_rnd_bits > 28) older TSan
# runtimes die with "FATAL: ThreadSanitizer: unexpected memory mapping";
# scripts/sanitizer-wrap.sh detects that with a trivial binary and then the
# tests run under `setarch $(uname -m) -R` (ASLR off).
test-tsan:
	@bash $(DEPS) build
	$(call configure_tree,build-tsan,-DTT_SANITIZE=thread -DTT_BUILD_EXAMPLES=ON -DTT_BUILD_BENCH=OFF)
	$(CMAKE) --build build-tsan -j$(JOBS)
	@wrap=$$(bash scripts/sanitizer-wrap.sh thread); \
	if [ -n "$$wrap" ]; then echo "TSan: running the tests under '$$wrap'"; fi; \
	cd build-tsan && echo "+ $$wrap $(CTEST) $(CTEST_FLAGS)" && $$wrap $(CTEST) $(CTEST_FLAGS)

# The portable (swapcontext) context switch, which other architectures use.
test-ucontext:
	@bash $(DEPS) build
	$(call configure_tree,build-ucontext,-DTT_CONTEXT_UCONTEXT=ON -DTT_BUILD_EXAMPLES=OFF -DTT_BUILD_BENCH=OFF)
	$(CMAKE) --build build-ucontext -j$(JOBS)
	cd build-ucontext && $(CTEST) $(CTEST_FLAGS)

# The aarch64 context switch: cross-built, run under qemu-user, scaled down.
test-aarch64:
	bash scripts/test-aarch64.sh build-aarch64

test-install: build
	bash scripts/test-install.sh build

# Longer runs of the race tests: each scales its rounds and its watchdog by
# TT_TEST_SCALE, so the ctest timeout is lifted here.
STRESS_SCALE ?= 100
STRESS_TREES ?= build
stress: build
	@for tree in $(STRESS_TREES); do \
	  test -f $$tree/CTestTestfile.cmake || { echo "stress: $$tree is not built" >&2; exit 1; }; \
	  wrap=; case $$tree in \
	    *asan*) wrap=$$(bash scripts/sanitizer-wrap.sh address);; \
	    *tsan*) wrap=$$(bash scripts/sanitizer-wrap.sh thread);; \
	  esac; \
	  echo "+ cd $$tree && TT_TEST_SCALE=$(STRESS_SCALE) $$wrap $(CTEST) -R '^test_stress_'"; \
	  (cd $$tree && TT_TEST_SCALE=$(STRESS_SCALE) $$wrap $(CTEST) --output-on-failure \
	    --timeout 100000 --no-tests=error -R '^test_stress_' $(CTEST_ARGS)) || exit 1; \
	done

# ---- Benchmarks, formatting, lint ---------------------------------------------

bench:
	@bash $(DEPS) build go httpbench
	bash scripts/bench.sh
	bash scripts/bench-visibility.sh
	bash scripts/bench-http.sh

format:
	@bash $(DEPS) lint
	$(CLANG_FORMAT) -i $(FORMAT_FILES)

lint: configure
	@bash $(DEPS) lint
	@test -f build/compile_commands.json || { echo "lint: no build/compile_commands.json" >&2; exit 1; }
	@rc=0; \
	echo "+ bash scripts/check-layers.sh"; \
	bash scripts/check-layers.sh || rc=1; \
	echo "+ $(CLANG_FORMAT) --dry-run --Werror <$(words $(FORMAT_FILES)) files>"; \
	$(CLANG_FORMAT) --dry-run --Werror $(FORMAT_FILES) || rc=1; \
	srcs=$$(ls src/*/*.c 2>/dev/null || true); \
	if [ -z "$$srcs" ]; then echo "lint: no src/*/*.c to check" >&2; exit 1; fi; \
	echo "+ $(CLANG_TIDY) -p build --quiet src/*/*.c"; \
	$(CLANG_TIDY) -p build --quiet $$srcs || rc=1; \
	exit $$rc

clean:
	rm -rf build build-asan build-tsan build-ucontext build-aarch64 build-bench
