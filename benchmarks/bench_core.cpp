// Core conversions against memcpy of the same input bytes, measured in one run.
// Reports bytes/s; the ratio to BM_memcpy is the figure to read. Not a test.
#include <hone/hone.hpp>

#include <benchmark/benchmark.h>
#include <cstring>
#include <random>
#include <stdexcept>

namespace {

constexpr std::int64_t rows = 1024, cols = 1024;

hone::tensor random_f32() {
    hone::tensor t(hone::dtype::f32, {rows, cols});
    std::mt19937 rng(1);
    std::normal_distribution<float> normal;
    for (float& v : t.span<float>())
        v = normal(rng);
    return t;
}

void BM_memcpy(benchmark::State& state) {
    const hone::tensor src = random_f32();
    hone::tensor dst(hone::dtype::f32, src.dims());
    for (auto _ : state) {
        std::memcpy(dst.data(), src.data(), src.nbytes());
        benchmark::DoNotOptimize(dst.data());
    }
    state.SetBytesProcessed(state.iterations() * std::int64_t(src.nbytes()));
}

void convert(benchmark::State& state, hone::dtype to) {
    const hone::tensor src = random_f32();
    hone::tensor dst(to, src.dims());
    hone::copy(src, dst); // correctness before timing: spot-check against the scalar function
    const auto s = src.span<float>();
    for (std::size_t i = 0; i < s.size(); i += 997) {
        const std::uint16_t expected =
            to == hone::dtype::f16 ? hone::to_half(s[i]).bits : hone::to_bfloat16(s[i]).bits;
        if (static_cast<const std::uint16_t*>(dst.data())[i] != expected)
            throw std::runtime_error("conversion mismatch");
    }
    for (auto _ : state) {
        hone::copy(src, dst);
        benchmark::DoNotOptimize(dst.data());
    }
    state.SetBytesProcessed(state.iterations() * std::int64_t(src.nbytes()));
    state.SetLabel("scalar core path");
}

void BM_copy_f32_to_f16(benchmark::State& state) { convert(state, hone::dtype::f16); }
void BM_copy_f32_to_bf16(benchmark::State& state) { convert(state, hone::dtype::bf16); }

} // namespace

BENCHMARK(BM_memcpy);
BENCHMARK(BM_copy_f32_to_f16);
BENCHMARK(BM_copy_f32_to_bf16);
BENCHMARK_MAIN();
