// Shared by the calibration tests: the Fashion-MNIST MLP's fc2 layer and its input
// relu(fc1(x)) on 2048 training images (calibration) and 2048 test images (held out), plus the
// W8A8 output of fc2 through kernels::linear (int8, static per-tensor activations), and the
// helpers the calibration tests share.
#pragma once

#include "../fixture_layer.hpp"
#include "hone/core/error.hpp"
#include "hone/data/dataset.hpp"
#include "hone/kernels/error.hpp"
#include "hone/kernels/gemm.hpp"
#include "hone/quantize/quantizer.hpp"

#include <doctest/doctest.h>

#include <algorithm>
#include <span>
#include <string>
#include <vector>

namespace calib_fixture {

using fixture::load;

struct layer {
    hone::tensor w1, b1, w2, b2;
    std::int64_t k = 256, n = 128;
    std::vector<float> calib, test; // relu(fc1(x)), [2048, 256] each
    std::int64_t rows = 2048;
};

/// relu(x·W1ᵀ + b1) for the first `rows` images of a split.
inline std::vector<float> hidden(const layer& l, const char* split) {
    const hone::dataset d = hone::dataset::fashion_mnist(split);
    const auto x = d.inputs().span<float>();
    std::vector<float> h(static_cast<std::size_t>(l.rows * l.k));
    hone::kernels::matmul_f32(x.data(), l.w1.span<float>().data(), h.data(), l.rows, 784, l.k,
                              hone::kernels::weight_layout::n_by_k, l.b1.span<float>().data());
    for (float& v : h)
        v = std::max(v, 0.0f);
    return h;
}

inline const layer& mlp_fc2() {
    static const layer l = [] {
        layer r;
        r.w1 = load("mlp_fc1_weight.npy");
        r.b1 = load("mlp_fc1_bias.npy");
        r.w2 = load("mlp_fc2_weight.npy");
        r.b2 = load("mlp_fc2_bias.npy");
        r.calib = hidden(r, "train");
        r.test = hidden(r, "test");
        return r;
    }();
    return l;
}

/// fc2 in f32.
inline std::vector<float> fc2_f32(const layer& l, const std::vector<float>& x,
                                  const float* weights = nullptr, const float* bias = nullptr) {
    const std::int64_t m = static_cast<std::int64_t>(x.size()) / l.k;
    std::vector<float> y(static_cast<std::size_t>(m * l.n));
    hone::kernels::matmul_f32(x.data(), weights ? weights : l.w2.span<float>().data(), y.data(), m,
                              l.k, l.n, hone::kernels::weight_layout::n_by_k,
                              bias ? bias : l.b2.span<float>().data());
    return y;
}

/// fc2 as W8A8 through kernels::linear: weights per-channel int8 RTN, activations u8 with the
/// static (scale, zero point).
inline std::vector<float> fc2_w8a8(const layer& l, const std::vector<float>& x, float scale,
                                   std::int32_t zero_point, const float* weights = nullptr,
                                   const float* bias = nullptr) {
    hone::kernels::linear_params p;
    p.type = hone::kernels::gemm_type::int8;
    p.k = l.k;
    p.n = l.n;
    p.activations = hone::kernels::act_quant::static_per_tensor;
    p.act_scale = scale;
    p.act_zero_point = zero_point;
    const auto w = weights ? std::span<const float>(weights, static_cast<std::size_t>(l.n * l.k))
                           : l.w2.span<float>();
    const auto b =
        bias ? std::span<const float>(bias, static_cast<std::size_t>(l.n)) : l.b2.span<float>();
    const hone::kernels::linear lin(p, w, b);
    const std::int64_t m = static_cast<std::int64_t>(x.size()) / l.k;
    std::vector<float> y(static_cast<std::size_t>(m * l.n));
    lin.run(x.data(), y.data(), m);
    return y;
}

/// 10·log10(Σ ref² / Σ (ref − out)²), by kernels::compare.
inline double sqnr_db(const std::vector<float>& ref, const std::vector<float>& out) {
    return hone::kernels::compare(ref, out, "sqnr_db").sqnr_db();
}

/// The same from the sums (kernels::error_sums' conventions).
inline double sqnr_db(double reference_sq, double error_sq) {
    return hone::kernels::error_sums{.reference_sq = reference_sq, .error_sq = error_sq}.sqnr_db();
}

/// Ŵ of W [n, k]: per-output-channel symmetric int8 RTN (hone::quantizer's default spec, the
/// int8 weights of kernels::linear), dequantized.
inline std::vector<float> int8_rows_dequantized(std::span<const float> w, std::int64_t n,
                                                std::int64_t k) {
    const hone::tensor dq =
        hone::quantizer()
            .quantize(hone::make_view(w.data(), w.size() * sizeof(float), hone::dtype::f32, {n, k}))
            .dequantize();
    const auto v = dq.span<float>();
    return {v.begin(), v.end()};
}

/// A row-major f32 [r, c] view of v.
inline hone::const_tensor_view view(const std::vector<float>& v, std::int64_t r, std::int64_t c) {
    return hone::make_view(v.data(), v.size() * sizeof(float), hone::dtype::f32, {r, c});
}

/// The message of the hone::error `fn` throws, checking its status; fails when none is thrown.
template <class Fn> std::string error_of(Fn&& fn, hone::status expected) {
    try {
        fn();
    } catch (const hone::error& e) {
        CHECK(e.code() == expected);
        return e.what();
    }
    FAIL("no error thrown");
    return {};
}

} // namespace calib_fixture
