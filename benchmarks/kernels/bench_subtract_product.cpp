// SparseGPT's update product C −= A·B (kernels::subtract_product), tiers side by side: the first
// argument is the tier (0 scalar, 1 AVX2, 2 AVX-512; skipped where absent), the others the shape
// m × k × n — the lazy update of a 4096-row layer's block (m = 1024 later columns, k = 128 block
// columns, n = 4096 rows) and the in-block update of a row chunk (m = 112, k = 16, n = 128).
// Before timing, each tier's result must equal the scalar reference bit for bit and a double
// product within 1e-4 relative. Counters: GFLOP/s (2·m·k·n per call) and x_matmul, the time over
// that of oneDNN's f32 matmul C = A·B of the same shape in the same iterations (no promise of
// bits across thread counts; the reason SparseGPT does not use it). Read the ratios of one run.
#include <hone/core/threads.hpp>
#include <hone/kernels/gemm.hpp>
#include <hone/kernels/isa.hpp>
#include <hone/kernels/subtract_product.hpp>

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

std::vector<float> normals(std::size_t n, unsigned seed) {
    std::vector<float> v(n);
    std::mt19937 rng(seed);
    std::normal_distribution<float> normal;
    for (float& x : v)
        x = normal(rng) * 0.1f;
    return v;
}

double seconds_of(auto&& fn) {
    const auto t0 = std::chrono::steady_clock::now();
    fn();
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

void BM_subtract_product(benchmark::State& state) {
    const auto tier = static_cast<hone::isa>(state.range(0));
    const std::int64_t m = state.range(1), k = state.range(2), n = state.range(3);
    if (static_cast<int>(tier) > static_cast<int>(hone::detected_cpu().best)) {
        state.SkipWithError("tier not available on this CPU");
        return;
    }
    const auto a = normals(std::size_t(m * k), 1), b = normals(std::size_t(k * n), 2);
    const auto c0 = normals(std::size_t(m * n), 3);
    // Correctness first: the scalar reference, then this tier, bit for bit; a double check.
    hone::set_max_isa(hone::isa::scalar);
    auto want = c0;
    hk::subtract_product(a, b, want, m, k, n);
    hone::set_max_isa(tier);
    auto c = c0;
    hk::subtract_product(a, b, c, m, k, n);
    if (std::memcmp(c.data(), want.data(), c.size() * sizeof(float)) != 0)
        throw std::runtime_error("subtract_product: tier differs from the scalar reference");
    for (std::int64_t i = 0; i < m; i += 97)
        for (std::int64_t x = 0; x < n; x += 89) {
            double s = 0, mag = 0;
            for (std::int64_t j = 0; j < k; ++j) {
                const double p = double(a[std::size_t(i * k + j)]) * b[std::size_t(j * n + x)];
                s += p;
                mag += std::fabs(p);
            }
            const double e = double(c0[std::size_t(i * n + x)]) - s;
            if (std::fabs(c[std::size_t(i * n + x)] - e) > 1e-4 * (mag + std::fabs(e)) + 1e-30)
                throw std::runtime_error("subtract_product: wrong product");
        }
    std::vector<float> product(c.size());
    double t_kernel = 0, t_matmul = 0;
    for (auto _ : state) {
        t_kernel += seconds_of([&] {
            hk::subtract_product(a, b, c, m, k, n);
            benchmark::DoNotOptimize(c.data());
        });
        t_matmul += seconds_of([&] {
            hk::matmul_f32(a.data(), b.data(), product.data(), m, k, n, hk::weight_layout::k_by_n,
                           nullptr);
            benchmark::DoNotOptimize(product.data());
        });
    }
    const double calls = double(state.iterations());
    state.counters["GFLOP/s"] = 2.0 * double(m * k * n) * calls / t_kernel * 1e-9;
    state.counters["x_matmul"] = t_kernel / t_matmul;
    state.SetLabel(std::string(hone::name_of(hone::active_isa())) + ", " +
                   std::to_string(hone::num_threads()) + " threads");
    hone::set_max_isa(hone::isa::avx512);
}

BENCHMARK(BM_subtract_product)
    ->ArgsProduct({{0, 1, 2}, {1024}, {128}, {4096}})
    ->ArgsProduct({{0, 1, 2}, {112}, {16}, {128}})
    ->ArgNames({"isa", "m", "k", "n"})
    ->UseRealTime();

} // namespace
