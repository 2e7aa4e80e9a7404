#!/bin/sh
# Runs each libFuzzer target for FUZZ_SECONDS (default 20) from its seed corpus in
# tests/fuzz/corpus/<target>/. The targets live in the clang ASan+UBSan tree that
# `scripts/test.sh --sanitize address,undefined` builds (build-sanitize/); this brings it up to
# date first (a no-op right after that command).
set -eu
cd "$(dirname "$0")/.."
export HONE_BUILD_DIR="${HONE_BUILD_DIR:-build-sanitize}"
CC=clang CXX=clang++ ./scripts/setup.sh -DHONE_SANITIZE=address,undefined -DHONE_BUILD_FUZZERS=ON \
    -DHONE_BUILD_BENCHMARKS=OFF -DHONE_BUILD_EXAMPLES=OFF
export ASAN_OPTIONS="allocator_may_return_null=1:detect_leaks=1"
export LSAN_OPTIONS="suppressions=$PWD/tests/lsan.supp:print_suppressions=0"
for fuzzer in "$HONE_BUILD_DIR"/tests/fuzz/fuzz_*; do
    name=$(basename "$fuzzer")
    corpus="$HONE_BUILD_DIR/corpus/$name"
    mkdir -p "$corpus"
    seeds=""
    [ -d "tests/fuzz/corpus/$name" ] && seeds="tests/fuzz/corpus/$name"
    echo "fuzz: $name for ${FUZZ_SECONDS:-20} s"
    "$fuzzer" -max_total_time="${FUZZ_SECONDS:-20}" -print_final_stats=1 "$corpus" $seeds
done
