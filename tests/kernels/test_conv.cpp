// conv2d through oneDNN against a naive NCHW reference (double for f32; exact integers for int8).
#include "../status_of.hpp"
#include "hone/kernels/conv.hpp"
#include "hone/kernels/quantize.hpp"

#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <random>
#include <vector>

using hone::kernels::conv2d;
using hone::kernels::conv2d_params;
using hone::kernels::gemm_type;

namespace {

std::vector<float> randn(std::size_t n, unsigned seed) {
    std::mt19937 rng(seed);
    std::normal_distribution<float> d;
    std::vector<float> v(n);
    for (auto& x : v)
        x = d(rng);
    return v;
}

// Generic naive convolution: value(n, c, y, x) reads the (possibly quantized) input, weight(oc,
// c, kh, kw) the weights; returns Σ per output element (double) and Σ|·| for tolerances.
template <class In, class W>
void naive(const conv2d_params& p, std::int64_t n, std::int64_t h, std::int64_t w, In value,
           W weight, std::vector<double>& sum, std::vector<double>& mag, std::int64_t& oh,
           std::int64_t& ow) {
    oh = (h + p.pad_top + p.pad_bottom - p.dilation_h * (p.kernel_h - 1) - 1) / p.stride_h + 1;
    ow = (w + p.pad_left + p.pad_right - p.dilation_w * (p.kernel_w - 1) - 1) / p.stride_w + 1;
    const std::int64_t cg = p.in_channels / p.groups, og = p.out_channels / p.groups;
    sum.assign(std::size_t(n * p.out_channels * oh * ow), 0.0);
    mag.assign(sum.size(), 0.0);
    for (std::int64_t b = 0; b < n; ++b)
        for (std::int64_t oc = 0; oc < p.out_channels; ++oc)
            for (std::int64_t y = 0; y < oh; ++y)
                for (std::int64_t x = 0; x < ow; ++x) {
                    double s = 0, g = 0;
                    const std::int64_t group = oc / og;
                    for (std::int64_t c = 0; c < cg; ++c)
                        for (std::int64_t kh = 0; kh < p.kernel_h; ++kh)
                            for (std::int64_t kw = 0; kw < p.kernel_w; ++kw) {
                                const std::int64_t iy =
                                    y * p.stride_h - p.pad_top + kh * p.dilation_h;
                                const std::int64_t ix =
                                    x * p.stride_w - p.pad_left + kw * p.dilation_w;
                                if (iy < 0 || iy >= h || ix < 0 || ix >= w) continue;
                                const double v = double(value(b, group * cg + c, iy, ix)) *
                                                 double(weight(oc, c, kh, kw));
                                s += v;
                                g += std::fabs(v);
                            }
                    const std::size_t i =
                        std::size_t(((b * p.out_channels + oc) * oh + y) * ow + x);
                    sum[i] = s;
                    mag[i] = g;
                }
}

struct config {
    std::int64_t c, oc, kh, kw, stride, pad_t, pad_l, pad_b, pad_r, dil, groups, n, h, w;
};

const config configs[] = {
    {3, 8, 3, 3, 1, 1, 1, 1, 1, 1, 1, 2, 9, 7},   // same padding, odd sizes, batch 2
    {4, 6, 3, 3, 2, 0, 1, 1, 0, 1, 2, 1, 11, 8},  // stride 2, asymmetric pads, 2 groups
    {8, 8, 3, 3, 1, 2, 2, 2, 2, 2, 8, 1, 10, 10}, // depthwise, dilation 2
    {5, 3, 1, 1, 1, 0, 0, 0, 0, 1, 1, 3, 1, 1},   // 1×1 on 1×1 images
    {16, 32, 5, 3, 1, 2, 1, 2, 1, 1, 1, 1, 13, 6},
};

conv2d_params params_of(const config& c, gemm_type type, bool relu) {
    conv2d_params p;
    p.type = type;
    p.in_channels = c.c;
    p.out_channels = c.oc;
    p.kernel_h = c.kh;
    p.kernel_w = c.kw;
    p.stride_h = p.stride_w = c.stride;
    p.pad_top = c.pad_t;
    p.pad_left = c.pad_l;
    p.pad_bottom = c.pad_b;
    p.pad_right = c.pad_r;
    p.dilation_h = p.dilation_w = c.dil;
    p.groups = c.groups;
    p.relu = relu;
    return p;
}

} // namespace

TEST_CASE("conv2d f32 matches a double reference: groups, strides, pads, dilation, bias, ReLU") {
    for (const auto& c : configs)
        for (bool relu : {false, true})
            for (bool with_bias : {false, true}) {
                CAPTURE(c.c);
                CAPTURE(c.oc);
                CAPTURE(c.groups);
                CAPTURE(relu);
                CAPTURE(with_bias);
                const auto p = params_of(c, gemm_type::f32, relu);
                const std::size_t wn = std::size_t(c.oc * (c.c / c.groups) * c.kh * c.kw);
                const auto w = randn(wn, 1), bias = randn(std::size_t(c.oc), 2);
                const conv2d conv(
                    p, w, with_bias ? std::span<const float>(bias) : std::span<const float>());
                hone::tensor src(hone::dtype::f32, {c.n, c.c, c.h, c.w});
                const auto x = randn(std::size_t(src.numel()), 3);
                std::copy(x.begin(), x.end(), src.span<float>().begin());
                hone::tensor dst(hone::dtype::f32, conv.output_shape(src.dims()));
                conv.run(src, dst);
                conv.run(src, dst); // second call: cached primitive
                CHECK(conv.cached_shapes() == 1);
                std::vector<double> sum, mag;
                std::int64_t oh = 0, ow = 0;
                const std::int64_t cg = c.c / c.groups;
                naive(
                    p, c.n, c.h, c.w,
                    [&](auto b, auto ch, auto y, auto xx) {
                        return x[std::size_t(((b * c.c + ch) * c.h + y) * c.w + xx)];
                    },
                    [&](auto oc, auto ch, auto kh, auto kw) {
                        return w[std::size_t(((oc * cg + ch) * c.kh + kh) * c.kw + kw)];
                    },
                    sum, mag, oh, ow);
                REQUIRE(dst.dims() == hone::shape{c.n, c.oc, oh, ow});
                const auto y = dst.span<float>();
                for (std::size_t i = 0; i < y.size(); ++i) {
                    const std::size_t oc = (i / std::size_t(oh * ow)) % std::size_t(c.oc);
                    double want = sum[i] + (with_bias ? bias[oc] : 0.0);
                    if (relu) want = std::max(want, 0.0);
                    CAPTURE(i);
                    REQUIRE(std::fabs(y[i] - want) <= 1e-5 * (mag[i] + std::fabs(bias[oc])) + 1e-6);
                }
            }
}

TEST_CASE("conv2d int8: static u8 activations, per-channel s8 weights, exact integer reference") {
    // Full-range weights: on CPUs without VNNI this runs the split (see conv.hpp).
    for (const auto& c : configs)
        for (std::int32_t z : {0, 131})
            for (bool relu : {false, true}) {
                CAPTURE(c.c);
                CAPTURE(c.groups);
                CAPTURE(z);
                CAPTURE(relu);
                auto p = params_of(c, gemm_type::int8, relu);
                p.act_scale = 0.02f;
                p.act_zero_point = z;
                const std::int64_t per = (c.c / c.groups) * c.kh * c.kw;
                std::vector<std::int8_t> q(std::size_t(c.oc * per));
                std::mt19937 rng(7);
                for (auto& v : q)
                    v = std::int8_t(int(rng() % 256) - 128);
                std::vector<float> scales(std::size_t(c.oc)), bias(std::size_t(c.oc));
                for (std::size_t j = 0; j < scales.size(); ++j) {
                    scales[j] = 0.01f * float(j + 1);
                    bias[j] = float(j) - 2.5f;
                }
                const conv2d conv(p, q, scales, bias);
                // f32 input, quantized by hone with (act_scale, act_zero_point).
                hone::tensor src(hone::dtype::f32, {c.n, c.c, c.h, c.w});
                const auto x = randn(std::size_t(src.numel()), 8);
                std::copy(x.begin(), x.end(), src.span<float>().begin());
                hone::tensor dst(hone::dtype::f32, conv.output_shape(src.dims()));
                conv.run(src, dst);
                auto qa = [&](auto b, auto ch, auto y, auto xx) {
                    const float v = x[std::size_t(((b * c.c + ch) * c.h + y) * c.w + xx)];
                    return std::int64_t(
                               std::clamp(std::nearbyint(v / 0.02f) + float(z), 0.0f, 255.0f)) -
                           z;
                };
                std::vector<double> acc, mag;
                std::int64_t oh = 0, ow = 0;
                naive(
                    p, c.n, c.h, c.w, qa,
                    [&](auto oc, auto ch, auto kh, auto kw) {
                        return q[std::size_t(((oc * (c.c / c.groups) + ch) * c.kh + kh) * c.kw +
                                             kw)];
                    },
                    acc, mag, oh, ow);
                const auto y = dst.span<float>();
                for (std::size_t i = 0; i < y.size(); ++i) {
                    const std::size_t oc = (i / std::size_t(oh * ow)) % std::size_t(c.oc);
                    const float scale = 0.02f * scales[oc];
                    float want = scale * float(acc[i]) + bias[oc];
                    if (relu) want = std::max(want, 0.0f);
                    CAPTURE(i);
                    CAPTURE(acc[i]);
                    // Two rounded partial sums when split: tolerance on Σ|terms|.
                    REQUIRE(std::fabs(y[i] - want) <=
                            1e-6 * (scale * mag[i] + std::fabs(bias[oc])) + 1e-7);
                }
            }
}

TEST_CASE("conv2d int8 with a quantized result: QuantizeLinear of the f32 result, u8 and i8") {
    // The same convolution twice: f32 out, then quantized by the reference rule; and u8 / i8 out
    // from the primitive. They agree except where result / dst_scale is within float rounding of
    // a half step (one multiply by a combined scale against a division): there, one step apart.
    using hone::kernels::conv_layout;
    for (const auto& c : configs)
        for (const auto type : {hone::dtype::u8, hone::dtype::i8})
            for (bool relu : {false, true})
                for (const auto layout : {conv_layout::nchw, conv_layout::nhwc}) {
                    CAPTURE(c.c);
                    CAPTURE(c.groups);
                    CAPTURE(name_of(type));
                    CAPTURE(relu);
                    auto p = params_of(c, gemm_type::int8, relu);
                    p.act_scale = 0.02f;
                    p.act_zero_point = 120;
                    const std::int64_t per = (c.c / c.groups) * c.kh * c.kw;
                    const auto w = randn(std::size_t(c.oc * per), 11);
                    const auto b = randn(std::size_t(c.oc), 12);
                    const conv2d f32_out(p, w, b);
                    p.dst_type = type;
                    p.dst_scale = 0.013f;
                    p.dst_zero_point = type == hone::dtype::u8 ? 7 : -5;
                    const conv2d quantized(p, w, b);
                    CHECK(quantized.splits_weights() == f32_out.splits_weights());
                    hone::tensor src(hone::dtype::f32, {c.n, c.c, c.h, c.w});
                    const auto x = randn(std::size_t(src.numel()), 13);
                    std::copy(x.begin(), x.end(), src.span<float>().begin());
                    auto out = f32_out.output_shape(src.dims());
                    if (layout == conv_layout::nhwc) out = {out[0], out[2], out[3], out[1]};
                    const hone::kernels::conv_layouts layouts{conv_layout::nchw, layout};
                    hone::tensor y(hone::dtype::f32, out), q(type, out);
                    f32_out.run(src, y, layouts);
                    quantized.run(src, q, layouts);
                    hone::tensor want(type, out);
                    if (type == hone::dtype::u8)
                        hone::kernels::quantize(y.span<const float>(), p.dst_scale,
                                                p.dst_zero_point, want.span<std::uint8_t>());
                    else
                        hone::kernels::quantize(y.span<const float>(), p.dst_scale,
                                                p.dst_zero_point, want.span<std::int8_t>());
                    std::size_t off_by_one = 0;
                    for (std::int64_t i = 0; i < q.numel(); ++i) {
                        const auto at = [&](const hone::tensor& t) {
                            return type == hone::dtype::u8
                                       ? int(t.span<const std::uint8_t>()[std::size_t(i)])
                                       : int(t.span<const std::int8_t>()[std::size_t(i)]);
                        };
                        const int d = std::abs(at(q) - at(want));
                        CAPTURE(i);
                        REQUIRE(d <= 1);
                        off_by_one += d;
                    }
                    // Ties are rare: far below 1% of the elements.
                    CHECK(double(off_by_one) <= 0.01 * double(q.numel()) + 1);
                }
}

TEST_CASE("conv2d int8 with a quantized result: bad settings are refused") {
    const config c = configs[0];
    auto p = params_of(c, gemm_type::int8, false);
    p.act_scale = 0.02f;
    const auto w = randn(std::size_t(c.oc * c.c * c.kh * c.kw), 14);
    p.dst_type = hone::dtype::u8;
    p.dst_scale = 0.0f;
    CHECK(status_of([&] { conv2d(p, w); }) == hone::status::invalid_argument);
    p.dst_scale = 0.1f;
    p.dst_zero_point = 256;
    CHECK(status_of([&] { conv2d(p, w); }) == hone::status::invalid_argument);
    p.dst_type = hone::dtype::i8;
    p.dst_zero_point = 128;
    CHECK(status_of([&] { conv2d(p, w); }) == hone::status::invalid_argument);
    p.dst_zero_point = 0;
    p.post_ops.push_back({hone::kernels::conv_activation::tanh});
    CHECK(status_of([&] { conv2d(p, w); }) == hone::status::unsupported);
    p.post_ops.clear();
    auto f = p;
    f.type = gemm_type::f32;
    CHECK(status_of([&] { conv2d(f, w); }) == hone::status::unsupported);
    const conv2d ok(p, w);
    hone::tensor src(hone::dtype::f32, {c.n, c.c, c.h, c.w}),
        wrong(hone::dtype::f32, ok.output_shape(src.dims()));
    CHECK(status_of([&] { ok.run(src, wrong); }) == hone::status::dtype_mismatch);
}

TEST_CASE("conv2d int8 from f32 weights: per-channel scales; close to f32 convolution") {
    const config c{8, 16, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 12, 12};
    auto p = params_of(c, gemm_type::int8, false);
    const auto w = randn(std::size_t(c.oc * c.c * 9), 9);
    const auto x = randn(std::size_t(c.c * c.h * c.w), 10);
    float amax = 0;
    for (float v : x)
        amax = std::max(amax, std::fabs(v));
    p.act_scale = 2 * amax / 255.0f;
    p.act_zero_point = 128;
    const conv2d q8(p, w);
    p.type = gemm_type::f32;
    const conv2d f32(p, w);
    REQUIRE(q8.weight_scales().size() == 16);
    float amax0 = 0;
    for (int i = 0; i < c.c * 9; ++i)
        amax0 = std::max(amax0, std::fabs(w[std::size_t(i)]));
    CHECK(q8.weight_scales()[0] == amax0 / 127.0f);
    hone::tensor src(hone::dtype::f32, {1, c.c, c.h, c.w}), a(hone::dtype::f32, {1, c.oc, 12, 12}),
        b(hone::dtype::f32, {1, c.oc, 12, 12});
    std::copy(x.begin(), x.end(), src.span<float>().begin());
    q8.run(src, a);
    f32.run(src, b);
    double err = 0, norm = 0;
    for (std::size_t i = 0; i < a.span<float>().size(); ++i) {
        err += std::fabs(a.span<float>()[i] - b.span<float>()[i]);
        norm += std::fabs(b.span<float>()[i]);
    }
    MESSAGE("int8 vs f32 conv relative L1 error ", err / norm, "; implementation ",
            q8.implementation(src.dims()), " / ", f32.implementation(src.dims()));
    CHECK(err / norm < 0.02);
}

TEST_CASE("conv2d int8 with full-range weights and u8 activations at 255 is exact") {
    // Pairs 255·127 + 255·127 overflow 16 bits: catches oneDNN's saturation without VNNI.
    const config c{4, 4, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 6, 6};
    auto p = params_of(c, gemm_type::int8, false);
    p.act_scale = 1.0f;
    std::vector<std::int8_t> q(std::size_t(4 * 4 * 9));
    for (std::size_t i = 0; i < q.size(); ++i)
        q[i] = std::int8_t(i % 5 == 4 ? -128 : 127);
    const std::vector<float> scales(4, 1.0f);
    const conv2d conv(p, q, scales);
    CHECK(conv.splits_weights() == hone::kernels::int8_pairs_saturate());
    hone::tensor src(hone::dtype::u8, {1, 4, 6, 6}), dst(hone::dtype::f32, {1, 4, 6, 6});
    for (auto& v : src.span<std::uint8_t>())
        v = 255;
    conv.run(src, dst);
    // Centre pixel, channel 0: 36 taps of 255 times the first 36 weights.
    double want = 0;
    for (std::size_t i = 0; i < 36; ++i)
        want += 255.0 * q[i];
    const float got = dst.span<float>()[std::size_t(2 * 6 + 2)];
    MESSAGE("full-range int8 conv centre value ", got, " (exact ", want, ")");
    CHECK(got == want);
}

TEST_CASE("conv2d: bad parameters and inputs give clear errors") {
    conv2d_params p;
    p.in_channels = 4;
    p.out_channels = 6;
    p.kernel_h = p.kernel_w = 3;
    const std::vector<float> w(6 * 4 * 9), bias(6);
    CHECK(status_of([&] {
              auto q = p;
              q.groups = 4;
              conv2d c(q, w);
          }) == hone::status::invalid_argument);
    CHECK(status_of([&] {
              auto q = p;
              q.stride_h = 0;
              conv2d c(q, w);
          }) == hone::status::invalid_argument);
    CHECK(status_of([&] {
              auto q = p;
              q.pad_left = -1;
              conv2d c(q, w);
          }) == hone::status::invalid_argument);
    CHECK(status_of([&] {
              auto q = p;
              q.dilation_w = 0;
              conv2d c(q, w);
          }) == hone::status::invalid_argument);
    CHECK(status_of([&] {
              auto q = p;
              q.type = gemm_type::bf16;
              conv2d c(q, w);
          }) == hone::status::unsupported);
    CHECK(status_of([&] { conv2d c(p, std::span<const float>(w).first(10)); }) ==
          hone::status::shape_mismatch);
    CHECK(status_of([&] { conv2d c(p, w, std::span<const float>(bias).first(5)); }) ==
          hone::status::shape_mismatch);
    CHECK(status_of([&] {
              auto q = p;
              q.type = gemm_type::int8;
              q.act_zero_point = -1;
              conv2d c(q, w);
          }) == hone::status::invalid_argument);
    const std::vector<std::int8_t> qw(w.size());
    CHECK(status_of([&] { conv2d c(p, qw, bias); }) == hone::status::dtype_mismatch);
    const conv2d conv(p, w, bias);
    hone::tensor src(hone::dtype::f32, {1, 4, 5, 5}), dst(hone::dtype::f32, {1, 6, 3, 3});
    conv.run(src, dst);
    hone::tensor wrong_c(hone::dtype::f32, {1, 3, 5, 5}), tiny(hone::dtype::f32, {1, 4, 2, 5}),
        wrong_dst(hone::dtype::f32, {1, 6, 5, 5}), u8(hone::dtype::u8, {1, 4, 5, 5});
    CHECK_THROWS_WITH_AS(
        conv.run(wrong_c, dst),
        doctest::Contains("src is [1, 3, 5, 5] but the layer expects [N, 4, H, W]"), hone::error);
    CHECK_THROWS_WITH_AS(conv.run(tiny, dst), doctest::Contains("output would be empty"),
                         hone::error);
    CHECK_THROWS_WITH_AS(
        conv.run(src, wrong_dst),
        doctest::Contains("dst is [1, 6, 5, 5] but src [1, 4, 5, 5] gives [1, 6, 3, 3]"),
        hone::error);
    CHECK(status_of([&] { conv.run(u8, dst); }) == hone::status::dtype_mismatch);
}
