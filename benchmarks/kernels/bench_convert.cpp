// f32 → f16 / bf16 bulk conversion against memcpy of the same input bytes (ratio = speed
// relative to memory bandwidth). Correctness is checked before timing.
#include <hone/kernels/convert.hpp>
#include <hone/kernels/isa.hpp>

#include <benchmark/benchmark.h>
#include <cstring>
#include <random>
#include <stdexcept>
#include <vector>

namespace {

constexpr std::size_t count = 4096 * 1024;

std::vector<float> random_floats() {
    std::vector<float> v(count);
    std::mt19937 rng(1);
    std::normal_distribution<float> normal;
    for (float& x : v)
        x = normal(rng);
    return v;
}

void BM_convert_memcpy_f32(benchmark::State& state) {
    const auto src = random_floats();
    std::vector<float> dst(count);
    for (auto _ : state) {
        std::memcpy(dst.data(), src.data(), count * sizeof(float));
        benchmark::DoNotOptimize(dst.data());
    }
    state.SetBytesProcessed(state.iterations() * std::int64_t(count * sizeof(float)));
}

template <class T> void run(benchmark::State& state) {
    const auto src = random_floats();
    std::vector<T> dst(count);
    hone::kernels::convert(src, std::span<T>(dst));
    for (std::size_t i = 0; i < count; i += 4099) {
        const T expected = [&] {
            if constexpr (std::is_same_v<T, hone::half>)
                return hone::to_half(src[i]);
            else
                return hone::to_bfloat16(src[i]);
        }();
        if (!(dst[i] == expected)) throw std::runtime_error("conversion mismatch");
    }
    for (auto _ : state) {
        hone::kernels::convert(src, std::span<T>(dst));
        benchmark::DoNotOptimize(dst.data());
    }
    state.SetBytesProcessed(state.iterations() * std::int64_t(count * sizeof(float)));
    state.SetLabel(std::string(hone::name_of(hone::active_isa())));
}

void BM_convert_f32_to_f16(benchmark::State& state) { run<hone::half>(state); }
void BM_convert_f32_to_bf16(benchmark::State& state) { run<hone::bfloat16>(state); }

} // namespace

BENCHMARK(BM_convert_memcpy_f32);
BENCHMARK(BM_convert_f32_to_f16);
BENCHMARK(BM_convert_f32_to_bf16);
