// GGUF block quantization (Q8_0, Q4_0, Q4_K; with and without an importance matrix) and
// dequantization of a 4096×4096 f32 matrix, against a memcpy of the same f32 bytes.
// bytes_per_second is always the f32 bytes (64 MiB per call); the x_memcpy counter is that
// speed divided by the memcpy speed measured once in the same process (the best of 5 copies, so
// BM_gguf_memcpy_f32 itself shows about 1). Correctness (relative RMSE within the bounds of
// tests/kernels/test_gguf_blocks.cpp) is checked before timing. There is one tier, the scalar
// reference (compiler-vectorized where it can be): quantization time is the scale search (Q4_0
// with an importance matrix, Q4_K), or two passes over the f32 weights, the input check and
// the rounding (Q8_0, Q4_0 without importance).
#include <hone/core/tensor.hpp>
#include <hone/core/threads.hpp>
#include <hone/kernels/gguf_blocks.hpp>

#include <algorithm>
#include <benchmark/benchmark.h>
#include <chrono>
#include <cmath>
#include <cstring>
#include <random>
#include <stdexcept>
#include <string>
#include <vector>

namespace {

namespace hk = hone::kernels;
using hk::gguf_block_type;

constexpr std::int64_t N = 4096, K = 4096;
constexpr std::int64_t f32_bytes = N * K * 4;

struct problem {
    hone::tensor w{hone::dtype::f32, {N, K}};
    std::vector<float> importance = std::vector<float>(K);
    problem() {
        std::mt19937 rng(7);
        std::normal_distribution<float> normal;
        for (float& v : w.span<float>())
            v = normal(rng) * 0.02f;
        std::lognormal_distribution<float> act(0.0f, 1.5f); // skewed, as activations are
        for (float& v : importance)
            v = act(rng);
    }
};

const problem& data() {
    static const problem p;
    return p;
}

/// memcpy bandwidth of the f32 matrix in bytes/s: the best of 5 copies, measured once.
double memcpy_bytes_per_second() {
    static const double bw = [] {
        std::vector<float> dst(std::size_t(N * K));
        const float* src = data().w.span<float>().data();
        double best = 1e30;
        for (int i = 0; i < 5; ++i) {
            const auto t0 = std::chrono::steady_clock::now();
            std::memcpy(dst.data(), src, std::size_t(f32_bytes));
            benchmark::DoNotOptimize(dst.data());
            best = std::min(
                best, std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
        }
        return double(f32_bytes) / best;
    }();
    return bw;
}

/// Sets bytes_per_second (f32 bytes) and x_memcpy = that speed / memcpy's, from the wall time
/// of the timed loop (measured here, so the ratio is a plain number).
void report(benchmark::State& state, double loop_seconds, const std::string& label) {
    state.SetBytesProcessed(state.iterations() * f32_bytes);
    state.counters["x_memcpy"] =
        double(state.iterations()) * double(f32_bytes) / loop_seconds / memcpy_bytes_per_second();
    state.SetLabel(label + ", scalar reference, " + std::to_string(hone::num_threads()) +
                   " threads");
}

double seconds_since(std::chrono::steady_clock::time_point t0) {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

double bound_of(gguf_block_type type) {
    switch (type) {
    case gguf_block_type::q8_0: return 0.0056;
    case gguf_block_type::q4_0: return 0.088;
    case gguf_block_type::q4_k: return 0.073;
    }
    return 0.0;
}

/// Throws unless dequantize(q) is within the tested relative RMSE of the f32 matrix (weighted
/// by the importance when one was used: that is what it minimises).
void check(gguf_block_type type, const std::vector<std::byte>& q, std::span<const float> imp) {
    hone::tensor y(hone::dtype::f32, {N, K});
    hk::dequantize_gguf_rows(type, q, y);
    const std::span<const float> a = data().w.span<float>(), b = y.span<float>();
    double e = 0, s = 0;
    for (std::size_t i = 0; i < a.size(); ++i) {
        const double w = imp.empty() ? 1.0 : double(imp[i % std::size_t(K)]);
        e += w * (double(a[i]) - b[i]) * (double(a[i]) - b[i]);
        s += w * double(a[i]) * a[i];
    }
    if (!(std::sqrt(e / s) < bound_of(type)))
        throw std::runtime_error(std::string(hk::name_of(type)) +
                                 " RMSE out of bounds: " + std::to_string(std::sqrt(e / s)));
}

std::vector<std::byte> buffer(gguf_block_type type) {
    return std::vector<std::byte>(std::size_t(N) * hk::gguf_row_bytes(type, K));
}

void BM_gguf_memcpy_f32(benchmark::State& state) {
    std::vector<float> dst(std::size_t(N * K));
    const float* src = data().w.span<float>().data();
    const auto t0 = std::chrono::steady_clock::now();
    for (auto _ : state) {
        std::memcpy(dst.data(), src, std::size_t(f32_bytes));
        benchmark::DoNotOptimize(dst.data());
    }
    report(state, seconds_since(t0), "memcpy");
}

void BM_gguf_quantize(benchmark::State& state, gguf_block_type type, bool with_importance) {
    const std::span<const float> imp =
        with_importance ? std::span<const float>(data().importance) : std::span<const float>();
    auto q = buffer(type);
    hk::quantize_gguf_rows(type, data().w, imp, q);
    check(type, q, imp);
    const auto t0 = std::chrono::steady_clock::now();
    for (auto _ : state) {
        hk::quantize_gguf_rows(type, data().w, imp, q);
        benchmark::DoNotOptimize(q.data());
    }
    report(state, seconds_since(t0),
           std::string(hk::name_of(type)) + (with_importance ? " imatrix" : ""));
}

void BM_gguf_dequantize(benchmark::State& state, gguf_block_type type) {
    auto q = buffer(type);
    hk::quantize_gguf_rows(type, data().w, {}, q);
    check(type, q, {});
    hone::tensor y(hone::dtype::f32, {N, K});
    const auto t0 = std::chrono::steady_clock::now();
    for (auto _ : state) {
        hk::dequantize_gguf_rows(type, q, y);
        benchmark::DoNotOptimize(y.data());
    }
    report(state, seconds_since(t0), std::string(hk::name_of(type)));
}

} // namespace

BENCHMARK(BM_gguf_memcpy_f32)->UseRealTime();
BENCHMARK_CAPTURE(BM_gguf_quantize, q8_0, gguf_block_type::q8_0, false)->UseRealTime();
BENCHMARK_CAPTURE(BM_gguf_quantize, q4_0, gguf_block_type::q4_0, false)->UseRealTime();
BENCHMARK_CAPTURE(BM_gguf_quantize, q4_0_imatrix, gguf_block_type::q4_0, true)->UseRealTime();
BENCHMARK_CAPTURE(BM_gguf_quantize, q4_k, gguf_block_type::q4_k, false)->UseRealTime();
BENCHMARK_CAPTURE(BM_gguf_quantize, q4_k_imatrix, gguf_block_type::q4_k, true)->UseRealTime();
BENCHMARK_CAPTURE(BM_gguf_dequantize, q8_0, gguf_block_type::q8_0)->UseRealTime();
BENCHMARK_CAPTURE(BM_gguf_dequantize, q4_0, gguf_block_type::q4_0)->UseRealTime();
BENCHMARK_CAPTURE(BM_gguf_dequantize, q4_k, gguf_block_type::q4_k)->UseRealTime();
