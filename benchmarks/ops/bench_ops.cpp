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
//
// Pooling rows: ONNX MaxPool 2×2 stride 2 on the CNN fixture's shapes [64, 8, 28, 28] and
// [64, 16, 14, 14] (and AveragePool on the first), each against a memcpy of the input bytes
// measured in the same run (`vs_memcpy` = pool time / memcpy time), for ops::max_pool (the
// row-wise path) and ops::detail::pool_reference (the direct per-output loops it replaced).
// The fast result is checked bitwise against the reference before timing.
//
// Quantized-chain rows (BM_quantized_chain): the byte and float tables and the int8 Add of the
// executor's QDQ chains against a memcpy of the same bytes; see the function.
#include "../../src/graph/ops/ops.hpp"
#include "../../src/graph/ops/pool_reference.hpp"

#include <hone/kernels/gemm.hpp>
#include <hone/kernels/quantize.hpp>

#include <algorithm>
#include <array>
#include <benchmark/benchmark.h>
#include <chrono>
#include <cmath>
#include <cstring>
#include <optional>
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

// ---- pooling ------------------------------------------------------------------------------------

const hone::tensor& pool_input(std::int64_t which) {
    static const std::array<hone::tensor, 2> inputs = [] {
        std::mt19937 rng(5);
        std::normal_distribution<float> normal;
        std::array<hone::tensor, 2> r{hone::tensor(hone::dtype::f32, {64, 8, 28, 28}),
                                      hone::tensor(hone::dtype::f32, {64, 16, 14, 14})};
        for (auto& t : r)
            for (auto& v : t.span<float>())
                v = std::max(0.0f, normal(rng)); // post-Relu: half zeros
        return r;
    }();
    return inputs[std::size_t(which)];
}

double memcpy_seconds[2] = {0, 0};

ops::pool_params pool_2x2() {
    ops::pool_params p;
    p.spatial.kernel_shape = {2, 2};
    p.spatial.strides = {2, 2};
    return p;
}

// Timing loop shared by the pool rows; returns seconds per iteration.
template <class Fn> double time_loop(benchmark::State& state, Fn&& fn) {
    double total = 0;
    for (auto _ : state) {
        const auto t0 = std::chrono::steady_clock::now();
        fn();
        benchmark::ClobberMemory();
        total += std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    }
    return total / double(state.iterations());
}

void BM_pool_memcpy(benchmark::State& state) {
    const auto& x = pool_input(state.range(0));
    std::vector<float> dst(std::size_t(x.numel()));
    memcpy_seconds[state.range(0)] = time_loop(state, [&] {
        std::memcpy(dst.data(), x.data(), x.nbytes());
        benchmark::DoNotOptimize(dst.data());
    });
    state.SetBytesProcessed(std::int64_t(state.iterations()) * std::int64_t(x.nbytes()));
}

// kind: 0 max_pool (fast), 1 max reference, 2 average_pool (fast), 3 average reference,
// 4 max_pool_nhwc, 5 average_pool_nhwc (on the input held NHWC, as the executor holds it
// between convolutions; memcpy of the same bytes is the reference either way).
void BM_pool(benchmark::State& state) {
    const auto& x = pool_input(state.range(0));
    const int kind = int(state.range(1));
    const bool reference = kind == 1 || kind == 3, nhwc = kind >= 4;
    const bool is_max = kind == 0 || kind == 1 || kind == 4;
    const std::int64_t to_nhwc[] = {0, 2, 3, 1}, to_nchw[] = {0, 3, 1, 2};
    const auto xt = ops::transpose(x, to_nhwc);
    const auto p = pool_2x2();
    const auto run = [&] {
        if (nhwc) return is_max ? ops::max_pool_nhwc(xt, p) : ops::average_pool_nhwc(xt, p);
        return reference ? ops::detail::pool_reference(x, p, is_max)
                         : (is_max ? ops::max_pool(x, p) : ops::average_pool(x, p));
    };
    const auto ref = ops::detail::pool_reference(x, p, is_max);
    const auto y = nhwc ? ops::transpose(run(), to_nchw) : run();
    if (std::memcmp(y.data(), ref.data(), ref.nbytes()) != 0)
        throw std::runtime_error("bench_ops: pool result differs from the reference loops");
    const double s = time_loop(state, [&] {
        auto out = run();
        benchmark::DoNotOptimize(out.data());
    });
    state.SetBytesProcessed(std::int64_t(state.iterations()) * std::int64_t(x.nbytes()));
    if (memcpy_seconds[state.range(0)] > 0)
        state.counters["vs_memcpy"] = s / memcpy_seconds[state.range(0)];
}

// Quantized chains (docs/performance.md): on 4 MiB of u8 (a mobilenet_v2 expansion at b64),
// kind 0 memcpy of the bytes (the reference), 1 ops::byte_table, 2 ops::float_table (u8 → f32),
// 3 ops::quantized_add (two u8 operands → u8), 4 the steps it replaces (dequantize both, add,
// quantize: kernels::dequantize_linear / quantize_linear and an f32 add, into buffers made
// once; the int8 Add's result buffer is reused too). Rows 1–4 report vs_memcpy; rows 3 and 4
// are checked for the same bytes before timing.
double chain_memcpy_seconds = 0;
// Hands back the result tensor of the previous call (returned with give()), as the executor's
// pool does on warm runs: no fresh pages to fault in.
struct reused_result : ops::result_source {
    std::optional<hone::tensor> spare;
    hone::tensor take(hone::dtype type, const hone::shape& dims) override {
        if (spare && spare->type() == type && spare->dims() == dims) {
            hone::tensor t = std::move(*spare);
            spare.reset();
            return t;
        }
        return hone::tensor(type, dims);
    }
    void give(hone::tensor t) { spare = std::move(t); }
};
void BM_quantized_chain(benchmark::State& state) {
    constexpr std::int64_t n = 4 << 20;
    static const auto [a, b] = [] {
        std::pair<hone::tensor, hone::tensor> t{hone::tensor(hone::dtype::u8, hone::shape{n}),
                                                hone::tensor(hone::dtype::u8, hone::shape{n})};
        std::mt19937 rng(5);
        for (auto& v : t.first.span<std::uint8_t>())
            v = std::uint8_t(rng());
        for (auto& v : t.second.span<std::uint8_t>())
            v = std::uint8_t(rng());
        return t;
    }();
    std::array<std::uint8_t, 256> bytes;
    std::array<float, 256> floats;
    for (std::size_t i = 0; i < 256; ++i) {
        bytes[i] = std::uint8_t(std::min<std::size_t>(i, 200));
        floats[i] = 0.05f * float(int(i) - 128);
    }
    const ops::quant_grid ga{0.05f, 128, hone::dtype::u8}, gb{0.03f, 100, hone::dtype::u8},
        gy{0.06f, 120, hone::dtype::u8};
    const auto scalar = [](float v) {
        hone::tensor t(hone::dtype::f32, hone::shape{});
        t.span<float>()[0] = v;
        return t;
    };
    const auto zero = [](std::uint8_t v) {
        hone::tensor t(hone::dtype::u8, hone::shape{});
        t.span<std::uint8_t>()[0] = v;
        return t;
    };
    const hone::tensor sa = scalar(ga.scale), sb = scalar(gb.scale), sy = scalar(gy.scale),
                       za = zero(128), zb = zero(100), zy = zero(120);
    // The steps apart, into buffers made once (as the executor's pool gives them).
    hone::tensor fa(hone::dtype::f32, a.dims()), fb(hone::dtype::f32, a.dims()),
        q(hone::dtype::u8, a.dims());
    const auto operators = [&] {
        hone::kernels::quant_params pa, pb, py;
        pa.scale = sa.view(), pa.zero_point = za.view();
        pb.scale = sb.view(), pb.zero_point = zb.view();
        py.scale = sy.view(), py.zero_point = zy.view();
        hone::kernels::dequantize_linear(a, pa, fa.view());
        hone::kernels::dequantize_linear(b, pb, fb.view());
        auto x = fa.span<float>();
        const auto y = fb.span<const float>();
        for (std::size_t i = 0; i < x.size(); ++i) // ops::add's arithmetic
            x[i] += y[i];
        hone::kernels::quantize_linear(fa, py, q.view());
        return q.view();
    };
    const int kind = int(state.range(0));
    if (kind == 3 || kind == 4) {
        const auto fused = ops::quantized_add(a, ga, b, gb, gy);
        const auto apart = operators();
        if (std::memcmp(fused.data(), apart.data(), std::size_t(n)) != 0)
            throw std::runtime_error("bench_ops: quantized_add differs from its operators");
    }
    reused_result results;
    std::vector<std::uint8_t> dst(static_cast<std::size_t>(n));
    std::vector<float> fdst(static_cast<std::size_t>(n));
    const auto* src = static_cast<const std::uint8_t*>(a.data());
    const double s = time_loop(state, [&] {
        switch (kind) {
        case 0: std::memcpy(dst.data(), src, std::size_t(n)); break;
        case 1: ops::byte_table(src, n, bytes, dst.data()); break;
        case 2: ops::float_table(src, n, floats, fdst.data()); break;
        case 3: {
            const ops::result_scope scope(&results);
            auto y = ops::quantized_add(a, ga, b, gb, gy);
            benchmark::DoNotOptimize(y.data());
            results.give(std::move(y));
            break;
        }
        default: benchmark::DoNotOptimize(operators().data()); break;
        }
        benchmark::DoNotOptimize(dst.data());
        benchmark::DoNotOptimize(fdst.data());
    });
    if (kind == 0)
        chain_memcpy_seconds = s;
    else if (chain_memcpy_seconds > 0)
        state.counters["vs_memcpy"] = s / chain_memcpy_seconds;
    state.SetBytesProcessed(std::int64_t(state.iterations()) * n);
}

} // namespace

BENCHMARK(BM_matmul_same_flops)->Unit(benchmark::kMillisecond)->MinTime(0.5);
BENCHMARK(BM_conv_op_run)->Unit(benchmark::kMillisecond)->MinTime(0.5);
BENCHMARK(BM_conv_pure)->Unit(benchmark::kMillisecond)->MinTime(0.5);
// Pools: the memcpy reference of each input first (registration order), then per input
// {0: [64,8,28,28], 1: [64,16,14,14]} × {0 max fast, 1 max reference, 2 avg fast, 3 avg ref,
// 4 max NHWC, 5 avg NHWC}.
BENCHMARK(BM_pool_memcpy)->Arg(0)->Arg(1)->Unit(benchmark::kMicrosecond)->MinTime(0.2);
BENCHMARK(BM_pool)
    ->ArgsProduct({{0, 1}, {0, 1, 2, 3, 4, 5}})
    ->Unit(benchmark::kMicrosecond)
    ->MinTime(0.2);
// Quantized chains: memcpy first (registration order), then byte table, float table, int8 Add
// and the operators it replaces.
BENCHMARK(BM_quantized_chain)->DenseRange(0, 4)->Unit(benchmark::kMicrosecond)->MinTime(0.2);
