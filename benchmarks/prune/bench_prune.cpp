// Pruner benchmarks. Each checks its result before timing and reports a ratio to a reference
// measured in the same iteration (counters), never an absolute claim:
//  - magnitude pruning of 16M f32 weights to 50 % (select + mask + apply, in place) against a
//    memcpy of the same 64 MiB: counter prune_over_memcpy;
//  - SparseGPT on a 4096×4096 layer, Hessian given (its preparation included), against one
//    4096³ f32 matmul (kernels::matmul_f32): counter sparsegpt_over_matmul (goal ≤ 3).
#include <hone/core/threads.hpp>
#include <hone/kernels/gemm.hpp>
#include <hone/kernels/isa.hpp>
#include <hone/prune/pruner.hpp>

#include <benchmark/benchmark.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstring>
#include <ctime>
#include <random>
#include <stdexcept>
#include <string>
#include <vector>

namespace {

constexpr std::int64_t dim = 4096;

hone::tensor normal_tensor(const hone::shape& s, unsigned seed) {
    hone::tensor t(hone::dtype::f32, s);
    std::mt19937 rng(seed);
    std::normal_distribution<float> normal;
    for (float& x : t.span<float>())
        x = normal(rng);
    return t;
}

double seconds_of(auto&& fn) {
    const auto t0 = std::chrono::steady_clock::now();
    fn();
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

// Process CPU seconds of fn (all threads): less sensitive than wall time to other processes on a
// loaded machine; read it with OMP_WAIT_POLICY=passive (spinning threads would count).
double cpu_seconds_of(auto&& fn) {
    const std::clock_t c0 = std::clock();
    fn();
    return double(std::clock() - c0) / CLOCKS_PER_SEC;
}

void label(benchmark::State& state) {
    state.SetLabel(std::string(hone::name_of(hone::active_isa())) + ", " +
                   std::to_string(hone::num_threads()) + " threads");
}

void BM_magnitude_50pct_16M_vs_memcpy(benchmark::State& state) {
    const auto src = normal_tensor({dim, dim}, 1);
    auto w = src.clone();
    std::vector<float> copy(std::size_t(dim * dim));
    // correctness first: exactly half pruned, every kept |w| ≥ every pruned |w|
    const auto r = hone::prune_magnitude(w, 0.5);
    if (r.pruned != dim * dim / 2) throw std::runtime_error("magnitude: wrong count");
    const std::span<const float> ws = w.span<float>(), ss = src.span<float>();
    for (std::size_t i = 0; i < ws.size(); i += 4093)
        if ((ws[i] == 0.0f) != (std::fabs(ss[i]) < r.threshold) && std::fabs(ss[i]) != r.threshold)
            throw std::runtime_error("magnitude: threshold");
    double t_prune = 0, t_copy = 0;
    for (auto _ : state) {
        state.PauseTiming();
        std::memcpy(w.data(), src.data(), src.nbytes());
        state.ResumeTiming();
        t_copy += seconds_of([&] {
            std::memcpy(copy.data(), src.data(), src.nbytes());
            benchmark::DoNotOptimize(copy.data());
        });
        t_prune += seconds_of([&] {
            hone::prune_magnitude(w, 0.5);
            benchmark::DoNotOptimize(w.data());
        });
    }
    state.counters["prune_over_memcpy"] = t_prune / t_copy;
    state.counters["prune_ms"] = 1e3 * t_prune / double(state.iterations());
    state.counters["memcpy_ms"] = 1e3 * t_copy / double(state.iterations());
    label(state);
}

void BM_sparsegpt_4096_vs_matmul_4096(benchmark::State& state) {
    const bool nm = state.range(0) != 0;
    const auto w0 = normal_tensor({dim, dim}, 2);
    hone::tensor h(hone::dtype::f32, {dim, dim});
    {
        const auto x = normal_tensor({dim, dim}, 3);
        hone::kernels::hessian_accumulate(x, h);
    }
    const auto a = normal_tensor({dim, dim}, 4);
    std::vector<float> c(std::size_t(dim * dim));
    hone::sparsegpt_config cfg;
    cfg.sparsity = 0.5;
    if (nm) {
        cfg.n = 2;
        cfg.m = 4;
    }
    double t_sgpt = 0, t_mm = 0, c_sgpt = 0, c_mm = 0;
    bool checked = false;
    for (auto _ : state) {
        state.PauseTiming();
        auto w = w0.clone();
        state.ResumeTiming();
        c_mm += cpu_seconds_of([&] {
            t_mm += seconds_of([&] {
                hone::kernels::matmul_f32(a.span<float>().data(), w0.span<float>().data(), c.data(),
                                          dim, dim, dim, hone::kernels::weight_layout::n_by_k,
                                          nullptr);
                benchmark::DoNotOptimize(c.data());
            });
        });
        hone::sparsegpt_report rep;
        c_sgpt += cpu_seconds_of(
            [&] { t_sgpt += seconds_of([&] { rep = hone::prune_sparsegpt(w, h, cfg); }); });
        if (!checked) { // correctness of the timed run: exact count, all finite, half zero
            state.PauseTiming();
            std::int64_t zeros = 0;
            for (float v : w.span<float>()) {
                if (!std::isfinite(v)) throw std::runtime_error("sparsegpt: non-finite weight");
                zeros += v == 0.0f;
            }
            if (rep.pruned != dim * dim / 2 || zeros < dim * dim / 2)
                throw std::runtime_error("sparsegpt: wrong count");
            checked = true;
            state.ResumeTiming();
        }
    }
    state.counters["sparsegpt_over_matmul"] = t_sgpt / t_mm;
    state.counters["cpu_sparsegpt_over_matmul"] = c_sgpt / c_mm;
    state.counters["sparsegpt_s"] = t_sgpt / double(state.iterations());
    state.counters["matmul_s"] = t_mm / double(state.iterations());
    label(state);
}

} // namespace

BENCHMARK(BM_magnitude_50pct_16M_vs_memcpy)->Unit(benchmark::kMillisecond)->Iterations(5);
BENCHMARK(BM_sparsegpt_4096_vs_matmul_4096)
    ->Arg(0)
    ->Arg(1)
    ->ArgName("n_m")
    ->Unit(benchmark::kSecond)
    ->Iterations(1)
    ->UseRealTime();
