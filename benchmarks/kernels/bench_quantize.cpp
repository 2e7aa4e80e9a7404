// Quantize / dequantize / min-max of a 4096×4096 f32 tensor against a memcpy of the same input
// bytes in the same run (bytes_per_second of each = input bytes / time; the contract is
// per-channel int8 quantization ≥ 0.5× memcpy). Correctness is checked before timing.
#include <hone/core/threads.hpp>
#include <hone/kernels/isa.hpp>
#include <hone/kernels/quantize.hpp>
#include <hone/kernels/reduce.hpp>

#include <benchmark/benchmark.h>
#include <cmath>
#include <cstring>
#include <random>
#include <stdexcept>
#include <string>
#include <vector>

namespace {

using hone::dtype;
using hone::kernels::granularity;
using hone::kernels::quant_axis;

constexpr std::int64_t rows = 4096, cols = 4096;
const hone::shape dims{rows, cols};
constexpr std::int64_t input_bytes = rows * cols * 4;

const hone::tensor& weights() {
    static const hone::tensor w = [] {
        hone::tensor t(dtype::f32, dims);
        std::mt19937 rng(1);
        std::normal_distribution<float> normal(0.0f, 0.05f);
        for (float& x : t.span<float>())
            x = normal(rng);
        return t;
    }();
    return w;
}

std::string label() {
    return std::string(hone::name_of(hone::active_isa())) + ", " +
           std::to_string(hone::num_threads()) + " threads";
}

void finish(benchmark::State& state) {
    state.SetBytesProcessed(state.iterations() * input_bytes);
    state.SetLabel(label());
}

void require(bool ok, const char* what) {
    if (!ok) throw std::runtime_error(std::string("bench_quantize: wrong result: ") + what);
}

/// Scale and zero point tensors for g, chosen from the data.
struct qp {
    hone::tensor scale, zero_point;
};
qp choose(const quant_axis& g, dtype type, hone::kernels::quant_scheme scheme) {
    const hone::shape ps = hone::kernels::reduced_shape(dims, g);
    hone::tensor mn(dtype::f32, ps), mx(dtype::f32, ps);
    hone::kernels::min_max(weights(), g, mn, mx);
    qp out{hone::tensor(dtype::f32, ps), hone::tensor(type, ps)};
    hone::kernels::choose_qparams(mn, mx, type, scheme, out.scale, out.zero_point);
    return out;
}

/// Spot-checks q against the ONNX formula at a stride of elements.
void check_quantized(const hone::tensor& q, const qp& p, const quant_axis& g) {
    const auto x = weights().span<float>();
    const auto* bytes = static_cast<const std::uint8_t*>(q.data());
    const auto* zb = static_cast<const std::uint8_t*>(p.zero_point.data());
    const bool packed = hone::is_packed(q.type()), is_signed = hone::is_signed_integer(q.type());
    const auto r = hone::kernels::quant_range_of(q.type());
    const auto nibble = [&](const std::uint8_t* b, std::int64_t i) {
        int v = packed ? (b[i / 2] >> (4 * (i % 2))) & 15 : b[i];
        if (is_signed) v = packed ? (v ^ 8) - 8 : static_cast<std::int8_t>(v);
        return v;
    };
    for (std::int64_t e = 0; e < rows * cols; e += 4093) {
        const std::int64_t k = g.kind == granularity::per_tensor    ? 0
                               : g.kind == granularity::per_channel ? e / cols
                                                                    : e / g.group_size;
        const float s = p.scale.span<float>()[static_cast<std::size_t>(k)];
        const double want =
            std::clamp(double(std::nearbyint(x[static_cast<std::size_t>(e)] / s)) + nibble(zb, k),
                       double(r.min), double(r.max));
        require(nibble(bytes, e) == static_cast<int>(want), "quantize");
    }
}

void BM_quantize_memcpy_f32_4096x4096(benchmark::State& state) {
    const auto& src = weights();
    std::vector<float> dst(static_cast<std::size_t>(rows * cols));
    for (auto _ : state) {
        std::memcpy(dst.data(), src.data(), static_cast<std::size_t>(input_bytes));
        benchmark::DoNotOptimize(dst.data());
    }
    state.SetBytesProcessed(state.iterations() * input_bytes);
}

void run_quantize(benchmark::State& state, const quant_axis& g, dtype type,
                  hone::kernels::quant_scheme scheme) {
    const qp p = choose(g, type, scheme);
    const hone::kernels::quant_params prm{p.scale.view(), p.zero_point.view(), g.axis,
                                          g.kind == granularity::per_group ? g.group_size : 0};
    hone::tensor q(type, dims);
    hone::kernels::quantize_linear(weights(), prm, q);
    check_quantized(q, p, g);
    for (auto _ : state) {
        hone::kernels::quantize_linear(weights(), prm, q);
        benchmark::DoNotOptimize(q.data());
    }
    finish(state);
}

void BM_quantize_per_channel_i8(benchmark::State& state) {
    run_quantize(state, {granularity::per_channel, 0}, dtype::i8,
                 hone::kernels::quant_scheme::symmetric);
}
void BM_quantize_per_tensor_u8(benchmark::State& state) {
    run_quantize(state, {granularity::per_tensor}, dtype::u8, hone::kernels::quant_scheme::affine);
}
void BM_quantize_group128_i4(benchmark::State& state) {
    run_quantize(state, {granularity::per_group, 1, 128}, dtype::i4,
                 hone::kernels::quant_scheme::symmetric);
}

void BM_dequantize_per_channel_i8(benchmark::State& state) {
    const quant_axis g{granularity::per_channel, 0};
    const qp p = choose(g, dtype::i8, hone::kernels::quant_scheme::symmetric);
    const hone::kernels::quant_params prm{p.scale.view(), p.zero_point.view(), 0, 0};
    hone::tensor q(dtype::i8, dims), d(dtype::f32, dims);
    hone::kernels::quantize_linear(weights(), prm, q);
    hone::kernels::dequantize_linear(q, prm, d);
    const auto* qi = static_cast<const std::int8_t*>(q.data());
    for (std::int64_t e = 0; e < rows * cols; e += 4093)
        require(d.span<float>()[e] == float(qi[e]) * p.scale.span<float>()[e / cols], "dequantize");
    for (auto _ : state) {
        hone::kernels::dequantize_linear(q, prm, d);
        benchmark::DoNotOptimize(d.data());
    }
    finish(state);
}

void BM_min_max_rows(benchmark::State& state) {
    const auto x = weights().span<float>();
    std::vector<float> mn(rows), mx(rows);
    hone::kernels::min_max_rows(x, rows, cols, mn, mx);
    for (std::int64_t r = 0; r < rows; r += 97) {
        const auto row = x.subspan(static_cast<std::size_t>(r * cols), cols);
        require(mn[r] == *std::min_element(row.begin(), row.end()), "min_max_rows");
        require(mx[r] == *std::max_element(row.begin(), row.end()), "min_max_rows");
    }
    for (auto _ : state) {
        hone::kernels::min_max_rows(x, rows, cols, mn, mx);
        benchmark::DoNotOptimize(mn.data());
    }
    finish(state);
}

} // namespace

BENCHMARK(BM_quantize_memcpy_f32_4096x4096)->UseRealTime();
BENCHMARK(BM_quantize_per_channel_i8)->UseRealTime();
BENCHMARK(BM_quantize_per_tensor_u8)->UseRealTime();
BENCHMARK(BM_quantize_group128_i4)->UseRealTime();
BENCHMARK(BM_dequantize_per_channel_i8)->UseRealTime();
BENCHMARK(BM_min_max_rows)->UseRealTime();
