#!/bin/sh
# The whole test suite: set-up (packages, configure, build), then every test through CTest.
#   scripts/test.sh                          the normal build (g++), in build/
#   scripts/test.sh --sanitize address,undefined
#                                            clang with ASan+UBSan, in build-sanitize/ (the
#                                            libFuzzer targets are built there too: fuzz.sh)
#   scripts/test.sh --sanitize thread        clang with ThreadSanitizer, in build-tsan/: only
#                                            the tests labelled `threads` are built and run
# Extra CTest arguments may follow, e.g. scripts/test.sh -L fast.
set -eu
cd "$(dirname "$0")/.."

sanitize=""
if [ "${1:-}" = "--sanitize" ]; then
    sanitize="$2"
    shift 2
fi

case "$sanitize" in
"")
    export HONE_BUILD_DIR="${HONE_BUILD_DIR:-build}"
    ./scripts/setup.sh
    ;;
thread)
    export HONE_BUILD_DIR="${HONE_BUILD_DIR:-build-tsan}"
    # OpenMP under TSan: clang's libomp with its Archer tool, which tells TSan about OpenMP's
    # barriers and tasks (tests/tsan.supp has the rest, each entry justified).
    export TSAN_OPTIONS="halt_on_error=1:second_deadlock_stack=1:history_size=4:suppressions=$PWD/tests/tsan.supp"
    export OMP_TOOL_LIBRARIES=/usr/lib/llvm-14/lib/libarcher.so
    export ARCHER_OPTIONS="verbose=0"
    CC=clang CXX=clang++ HONE_BUILD_TARGETS=hone ./scripts/setup.sh -DHONE_SANITIZE=thread \
        -DHONE_BUILD_BENCHMARKS=OFF -DHONE_BUILD_EXAMPLES=OFF
    [ -f "$OMP_TOOL_LIBRARIES" ] || { echo "test.sh: $OMP_TOOL_LIBRARIES missing (Debian package libomp-14-dev)" >&2; exit 1; }
    # Build only the programs of the `threads` tests (test names that are targets).
    targets=$(ninja -C "$HONE_BUILD_DIR" -t targets all | sed -n 's/^\([A-Za-z0-9_]*\): phony$/\1/p')
    wanted=""
    for t in $(ctest --test-dir "$HONE_BUILD_DIR" -N -L threads | sed -n 's/^ *Test *#[0-9]*: //p'); do
        if echo "$targets" | grep -qx "$t"; then wanted="$wanted $t"; fi
    done
    cmake --build "$HONE_BUILD_DIR" --parallel "$(nproc)" --target $wanted
    set -- -L threads "$@"
    ;;
*)
    export HONE_BUILD_DIR="${HONE_BUILD_DIR:-build-sanitize}"
    # Fail on the first report; let huge allocations fail with an error as libc would.
    export ASAN_OPTIONS="abort_on_error=0:halt_on_error=1:allocator_may_return_null=1:detect_leaks=1"
    export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1"
    export LSAN_OPTIONS="suppressions=$PWD/tests/lsan.supp:print_suppressions=0"
    fuzzers=OFF
    case "$sanitize" in *address*) fuzzers=ON ;; esac
    CC=clang CXX=clang++ ./scripts/setup.sh -DHONE_SANITIZE="$sanitize" \
        -DHONE_BUILD_FUZZERS=$fuzzers -DHONE_BUILD_BENCHMARKS=OFF -DHONE_BUILD_EXAMPLES=OFF
    ;;
esac
ctest --test-dir "$HONE_BUILD_DIR" --output-on-failure --parallel "$(nproc)" "$@"
