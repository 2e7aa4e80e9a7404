#!/bin/sh
# The whole test suite: set-up (packages, configure, build), then every test through CTest.
#   scripts/test.sh                       the normal build, in build/
#   scripts/test.sh --sanitize LIST       e.g. address,undefined, in build-sanitize/
set -eu
cd "$(dirname "$0")/.."

if [ "${1:-}" = "--sanitize" ]; then
    export HONE_BUILD_DIR="${HONE_BUILD_DIR:-build-sanitize}"
    # Fail on the first report; let huge allocations fail with an error as libc would.
    export ASAN_OPTIONS="abort_on_error=0:halt_on_error=1:allocator_may_return_null=1:detect_leaks=1"
    export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1"
    ./scripts/setup.sh -DHONE_SANITIZE="$2" -DHONE_BUILD_BENCHMARKS=OFF -DHONE_BUILD_EXAMPLES=OFF
else
    export HONE_BUILD_DIR="${HONE_BUILD_DIR:-build}"
    ./scripts/setup.sh
fi
ctest --test-dir "$HONE_BUILD_DIR" --output-on-failure --parallel "$(nproc)"
