// GPTQ on a 4096×4096 linear layer (Hessian given) against one 4096³ fp32 matmul
// (kernels::matmul_f32, oneDNN) measured in the same run; the goal is ratio ≤ 3. Counters:
// gptq_s, matmul_s, ratio = gptq_s / matmul_s (wall time, best of the runs), ratio_cpu (the
// same with process CPU time: less sensitive to other processes on a loaded machine), and
// hessian_s (the Hessian preparation part of GPTQ: dampening, Cholesky, triangular inverse).
// Correctness first: GPTQ's layer-output error on the calibration inputs must be below RTN's at the
// same spec (int4, group 128), and the matmul is checked against a double dot product on sampled
// entries. Also RTN int8 per-channel throughput on the same weights against a memcpy of them.
// Sizes: HONE_BENCH_GPTQ_K (default 4096) for quicker runs.
#include "../../src/quantize/hessian.hpp"

#include <hone/core/tensor.hpp>
#include <hone/core/threads.hpp>
#include <hone/kernels/gemm.hpp>
#include <hone/quantize/quantizer.hpp>

#include <benchmark/benchmark.h>

#include <chrono>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <random>
#include <stdexcept>
#include <string>
#include <vector>

namespace {

std::int64_t size_k() {
    const char* e = std::getenv("HONE_BENCH_GPTQ_K");
    const long v = e ? std::strtol(e, nullptr, 10) : 0;
    return v >= 128 ? v : 4096;
}

struct problem {
    std::int64_t k = size_k();
    hone::tensor w{hone::dtype::f32, {k, k}};
    hone::tensor x{hone::dtype::f32, {1024, k}}; // calibration rows
    hone::tensor h{hone::dtype::f32, {k, k}};
    problem() {
        std::mt19937 rng(11);
        std::normal_distribution<float> normal;
        for (float& v : w.span<float>())
            v = normal(rng) * 0.02f;
        // Correlated inputs: a shared component per row plus noise, channel scales vary.
        auto xs = x.span<float>();
        for (std::int64_t r = 0; r < 1024; ++r) {
            const float common = normal(rng);
            for (std::int64_t c = 0; c < k; ++c)
                xs[std::size_t(r * k + c)] =
                    (0.7f * common + normal(rng)) * (1.0f + 0.5f * float(c % 3));
        }
        hone::kernels::hessian_accumulate(x, h);
    }
};

const problem& data() {
    static const problem p;
    return p;
}

double seconds_since(std::chrono::steady_clock::time_point t0) {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

void BM_gptq_vs_matmul(benchmark::State& state) {
    const auto& p = data();
    const std::int64_t k = p.k;
    const hone::quant_spec spec{
        .bits = 4, .granularity = hone::quant_granularity::per_group, .group_size = 128};
    // Correctness: GPTQ beats RTN on the calibration inputs' layer output.
    const hone::quantizer gptq({.spec = spec, .method = hone::weight_method::gptq});
    const hone::quantizer rtn({.spec = spec});
    hone::quantized_tensor qg;
    double gptq_s = 0, matmul_s = 1e30, hessian_s = 0;
    {
        const auto t0 = std::chrono::steady_clock::now();
        qg = hone::gptq_quantize(p.w, p.h, spec, {}, "bench");
        gptq_s = seconds_since(t0);
    }
    const auto xs = p.x.view().slice(0, 0, 256);
    const double e_gptq = hone::measure_error(p.w, qg, "bench", xs).output_mse;
    const double e_rtn = hone::measure_error(p.w, rtn.quantize(p.w), "bench", xs).output_mse;
    if (!(e_gptq < e_rtn)) {
        state.SkipWithError("GPTQ output error is not below RTN's");
        return;
    }
    std::vector<float> c(std::size_t(k * k));
    const float* a = p.w.span<float>().data();
    const float* b = p.h.span<float>().data();
    hone::kernels::matmul_f32(a, b, c.data(), k, k, k, hone::kernels::weight_layout::k_by_n,
                              nullptr); // warm-up (primitive creation)
    for (std::int64_t s = 0; s < 16; ++s) {
        const std::int64_t i = (s * 977) % k, j = (s * 311) % k;
        double ref = 0;
        for (std::int64_t t = 0; t < k; ++t)
            ref += double(a[i * k + t]) * b[t * k + j];
        if (std::fabs(ref - c[std::size_t(i * k + j)]) > 1e-3 * (1 + std::fabs(ref))) {
            state.SkipWithError("matmul_f32 result wrong");
            return;
        }
    }
    double gptq_cpu = 1e30, matmul_cpu = 1e30;
    for (auto _ : state) {
        for (int rep = 0; rep < 2; ++rep) {
            const auto t0 = std::chrono::steady_clock::now();
            const std::clock_t c0 = std::clock();
            hone::kernels::matmul_f32(a, b, c.data(), k, k, k, hone::kernels::weight_layout::k_by_n,
                                      nullptr);
            matmul_cpu = std::min(matmul_cpu, double(std::clock() - c0) / CLOCKS_PER_SEC);
            matmul_s = std::min(matmul_s, seconds_since(t0));
        }
        auto t0 = std::chrono::steady_clock::now();
        const auto prep = hone::detail::prepare_hessian(p.h, 0.01, {}, "bench");
        hessian_s = seconds_since(t0);
        benchmark::DoNotOptimize(prep.inverse_cholesky_upper.data());
        t0 = std::chrono::steady_clock::now();
        const std::clock_t c0 = std::clock();
        auto q = hone::gptq_quantize(p.w, p.h, spec, {}, "bench");
        gptq_cpu = double(std::clock() - c0) / CLOCKS_PER_SEC;
        gptq_s = std::min(gptq_s, seconds_since(t0));
        benchmark::DoNotOptimize(q.data.data());
    }
    state.counters["gptq_s"] = gptq_s;
    state.counters["matmul_s"] = matmul_s;
    state.counters["hessian_s"] = hessian_s;
    state.counters["ratio"] = gptq_s / matmul_s;
    state.counters["ratio_cpu"] = gptq_cpu / matmul_cpu;
    state.counters["out_mse_gptq/rtn"] = e_gptq / e_rtn;
    state.SetLabel("K=" + std::to_string(k) + ", " + std::to_string(hone::num_threads()) +
                   " threads, goal ratio <= 3");
}
BENCHMARK(BM_gptq_vs_matmul)->Iterations(1)->UseRealTime()->Unit(benchmark::kSecond);

void BM_rtn_int8_per_channel(benchmark::State& state) {
    const auto& p = data();
    const hone::quantizer q;
    const auto qt = q.quantize(p.w);
    if (hone::measure_error(p.w, qt, "bench").sqnr_db < 35) {
        state.SkipWithError("int8 SQNR too low");
        return;
    }
    for (auto _ : state) {
        auto r = q.quantize(p.w);
        benchmark::DoNotOptimize(r.data.data());
    }
    state.SetBytesProcessed(state.iterations() * std::int64_t(p.w.nbytes()));
}
BENCHMARK(BM_rtn_int8_per_channel)->UseRealTime()->Unit(benchmark::kMillisecond);

void BM_memcpy_weights(benchmark::State& state) {
    const auto& p = data();
    std::vector<float> dst(std::size_t(p.w.numel()));
    for (auto _ : state) {
        std::memcpy(dst.data(), p.w.data(), p.w.nbytes());
        benchmark::DoNotOptimize(dst.data());
    }
    state.SetBytesProcessed(state.iterations() * std::int64_t(p.w.nbytes()));
}
BENCHMARK(BM_memcpy_weights)->UseRealTime()->Unit(benchmark::kMillisecond);

} // namespace
