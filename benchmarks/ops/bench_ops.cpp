// The operator library's Conv against the same FLOPs through a plain matrix product.
//
// A 3×3 convolution, stride 1, pad 1, on a CNN-sized input (N = 4, C = OC = 64, 56×56) does
// 2·N·OH·OW·OC·C·9 FLOPs; kernels::matmul_f32 with M = N·OH·OW, K = C·9, N = OC does exactly as
// many. Rows:
//   matmul_same_flops   the reference: one oneDNN matmul [25088 × 576] · [576 × 64]
//   conv_op_run         ops::conv_op::run (weights reordered once; per call: input copy, output
//                       allocation, oneDNN's NCHW ↔ blocked reorders and the convolution)
//   conv_pure           ops::conv (builds the conv_op each call: weight reorder + primitive)
// Each conv row reports `vs_matmul` = its time / the matmul's time in the same run (the
// matmul row must run first; it does, in registration order). Correctness is checked before
// timing against a direct double-precision sum on sampled outputs.
#include "../../src/graph/ops/ops.hpp"

#include <hone/kernels/gemm.hpp>

#include <benchmark/benchmark.h>
#include <chrono>
#include <cmath>
#include <random>
#include <stdexcept>
#include <vector>

namespace {

namespace ops = hone::ops;
constexpr std::int64_t batch = 4, channels = 64, out_channels = 64, size = 56;
constexpr std::int64_t m_rows = batch * size * size, k_cols = channels * 9;

struct inputs {
    hone::tensor x, w, b;
    std::vector<float> a, bm; // matmul operands of the same FLOPs
};

const inputs& data() {
    static const inputs d = [] {
        inputs r;
        std::mt19937 rng(3);
        std::normal_distribution<float> normal;
        r.x = hone::tensor(hone::dtype::f32, {batch, channels, size, size});
        r.w = hone::tensor(hone::dtype::f32, {out_channels, channels, 3, 3});
        r.b = hone::tensor(hone::dtype::f32, {out_channels});
        for (auto* t : {&r.x, &r.w, &r.b})
            for (auto& v : t->span<float>())
                v = normal(rng) * 0.1f;
        r.a.resize(std::size_t(m_rows * k_cols));
        r.bm.resize(std::size_t(k_cols * out_channels));
        for (auto& v : r.a)
            v = normal(rng);
        for (auto& v : r.bm)
            v = normal(rng);
        return r;
    }();
    return d;
}

double matmul_seconds = 0; // per iteration, set by the reference row

ops::conv_params params() {
    ops::conv_params p;
    p.spatial.pads = {1, 1, 1, 1};
    return p;
}

void check_conv(const hone::tensor& y) {
    const auto& d = data();
    const auto x = d.x.span<float>(), w = d.w.span<float>(), b = d.b.span<float>();
    const auto out = y.span<float>();
    for (std::int64_t idx = 0; idx < y.numel(); idx += 4099) {
        const std::int64_t ox = idx % size, oy = (idx / size) % size,
                           oc = (idx / (size * size)) % out_channels,
                           n = idx / (size * size * out_channels);
        double s = b[std::size_t(oc)];
        for (std::int64_t c = 0; c < channels; ++c)
            for (std::int64_t ky = 0; ky < 3; ++ky)
                for (std::int64_t kx = 0; kx < 3; ++kx) {
                    const std::int64_t iy = oy + ky - 1, ix = ox + kx - 1;
                    if (iy < 0 || iy >= size || ix < 0 || ix >= size) continue;
                    s += double(w[std::size_t(((oc * channels + c) * 3 + ky) * 3 + kx)]) *
                         x[std::size_t(((n * channels + c) * size + iy) * size + ix)];
                }
        if (std::fabs(s - out[std::size_t(idx)]) > 1e-3 * (1 + std::fabs(s)))
            throw std::runtime_error("bench_ops: conv result differs from the reference");
    }
}

void set_counters(benchmark::State& state, double seconds_per_iteration) {
    const double flops = 2.0 * double(m_rows) * double(k_cols) * double(out_channels);
    state.counters["GFLOP/s"] = flops / seconds_per_iteration * 1e-9;
    if (matmul_seconds > 0) state.counters["vs_matmul"] = seconds_per_iteration / matmul_seconds;
}

void BM_matmul_same_flops(benchmark::State& state) {
    const auto& d = data();
    std::vector<float> c(std::size_t(m_rows * out_channels));
    hone::kernels::matmul_f32(d.a.data(), d.bm.data(), c.data(), m_rows, k_cols, out_channels,
                              hone::kernels::weight_layout::k_by_n, nullptr);
    for (std::int64_t j = 0; j < out_channels; j += 13) { // check one row
        double s = 0;
        for (std::int64_t k = 0; k < k_cols; ++k)
            s += double(d.a[std::size_t(k)]) * d.bm[std::size_t(k * out_channels + j)];
        if (std::fabs(s - c[std::size_t(j)]) > 1e-3 * (1 + std::fabs(s)))
            throw std::runtime_error("bench_ops: matmul result differs from the reference");
    }
    double total = 0;
    for (auto _ : state) {
        const auto t0 = std::chrono::steady_clock::now();
        hone::kernels::matmul_f32(d.a.data(), d.bm.data(), c.data(), m_rows, k_cols, out_channels,
                                  hone::kernels::weight_layout::k_by_n, nullptr);
        benchmark::ClobberMemory();
        total += std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    }
    matmul_seconds = total / double(state.iterations());
    set_counters(state, matmul_seconds);
}

void BM_conv_op_run(benchmark::State& state) {
    const auto& d = data();
    const ops::conv_op op(d.w, d.b.view(), params());
    check_conv(op.run(d.x));
    double total = 0;
    for (auto _ : state) {
        const auto t0 = std::chrono::steady_clock::now();
        auto y = op.run(d.x);
        benchmark::DoNotOptimize(y.data());
        total += std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    }
    set_counters(state, total / double(state.iterations()));
}

void BM_conv_pure(benchmark::State& state) {
    const auto& d = data();
    check_conv(ops::conv(d.x, d.w, d.b.view(), params()));
    double total = 0;
    for (auto _ : state) {
        const auto t0 = std::chrono::steady_clock::now();
        auto y = ops::conv(d.x, d.w, d.b.view(), params());
        benchmark::DoNotOptimize(y.data());
        total += std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    }
    set_counters(state, total / double(state.iterations()));
}

} // namespace

BENCHMARK(BM_matmul_same_flops)->Unit(benchmark::kMillisecond)->MinTime(0.5);
BENCHMARK(BM_conv_op_run)->Unit(benchmark::kMillisecond)->MinTime(0.5);
BENCHMARK(BM_conv_pure)->Unit(benchmark::kMillisecond)->MinTime(0.5);
