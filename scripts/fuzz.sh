#!/bin/sh
# Builds the libFuzzer targets with clang (ASan+UBSan) in build-fuzz/ and runs each for
# FUZZ_SECONDS (default 20) from its seed corpus in tests/fuzz/corpus/<target>/.
set -eu
cd "$(dirname "$0")/.."
export HONE_BUILD_DIR=build-fuzz
CC=clang CXX=clang++ ./scripts/setup.sh -DHONE_BUILD_FUZZERS=ON -DHONE_BUILD_TESTS=OFF \
    -DHONE_BUILD_BENCHMARKS=OFF -DHONE_BUILD_EXAMPLES=OFF -DHONE_SANITIZE=address,undefined
export ASAN_OPTIONS="allocator_may_return_null=1:detect_leaks=1"
for fuzzer in build-fuzz/tests/fuzz/fuzz_*; do
    name=$(basename "$fuzzer")
    corpus="build-fuzz/corpus/$name"
    mkdir -p "$corpus"
    seeds=""
    [ -d "tests/fuzz/corpus/$name" ] && seeds="tests/fuzz/corpus/$name"
    echo "fuzz: $name for ${FUZZ_SECONDS:-20} s"
    "$fuzzer" -max_total_time="${FUZZ_SECONDS:-20}" -print_final_stats=1 "$corpus" $seeds
done
