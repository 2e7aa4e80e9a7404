// Conv (1-D, 2-D through oneDNN, 3-D direct) against an im2col + matrix-product reference
// written here; ConvTranspose against a scatter-form reference and known values.
#include "ops_test_util.hpp"

#include "hone/core/threads.hpp"

#include <array>

namespace ops = hone::ops;
using namespace ops_test;
using hone::shape;
using hone::status;
using v64 = std::vector<std::int64_t>;

namespace {

struct geometry {
    std::array<std::int64_t, 3> in{1, 1, 1}, k{1, 1, 1}, s{1, 1, 1}, d{1, 1, 1}, pb{0, 0, 0},
        pe{0, 0, 0}, out{1, 1, 1};
};

// im2col reference: for each (n, group), columns [cg·kvol, out positions], then W_g · cols in
// double. Explicit pads (already resolved) per axis; up to 3 spatial axes (unused axes 1).
std::vector<float> im2col_conv(const std::vector<float>& x, const std::vector<float>& w,
                               const std::vector<float>& bias, std::int64_t n, std::int64_t c,
                               std::int64_t m, std::int64_t group, geometry g) {
    for (int a = 0; a < 3; ++a)
        g.out[a] = (g.in[a] + g.pb[a] + g.pe[a] - g.d[a] * (g.k[a] - 1) - 1) / g.s[a] + 1;
    const std::int64_t cg = c / group, mg = m / group;
    const std::int64_t kvol = g.k[0] * g.k[1] * g.k[2];
    const std::int64_t opos = g.out[0] * g.out[1] * g.out[2];
    const std::int64_t ipos = g.in[0] * g.in[1] * g.in[2];
    std::vector<float> y(static_cast<std::size_t>(n * m * opos));
    std::vector<double> cols(static_cast<std::size_t>(cg * kvol * opos));
    for (std::int64_t b = 0; b < n; ++b)
        for (std::int64_t gr = 0; gr < group; ++gr) {
            for (std::int64_t ci = 0; ci < cg; ++ci)
                for (std::int64_t k0 = 0; k0 < g.k[0]; ++k0)
                    for (std::int64_t k1 = 0; k1 < g.k[1]; ++k1)
                        for (std::int64_t k2 = 0; k2 < g.k[2]; ++k2) {
                            const std::int64_t row =
                                ((ci * g.k[0] + k0) * g.k[1] + k1) * g.k[2] + k2;
                            for (std::int64_t o0 = 0; o0 < g.out[0]; ++o0)
                                for (std::int64_t o1 = 0; o1 < g.out[1]; ++o1)
                                    for (std::int64_t o2 = 0; o2 < g.out[2]; ++o2) {
                                        const std::int64_t i0 = o0 * g.s[0] - g.pb[0] + k0 * g.d[0];
                                        const std::int64_t i1 = o1 * g.s[1] - g.pb[1] + k1 * g.d[1];
                                        const std::int64_t i2 = o2 * g.s[2] - g.pb[2] + k2 * g.d[2];
                                        const bool inside = i0 >= 0 && i0 < g.in[0] && i1 >= 0 &&
                                                            i1 < g.in[1] && i2 >= 0 && i2 < g.in[2];
                                        const std::int64_t col =
                                            (o0 * g.out[1] + o1) * g.out[2] + o2;
                                        cols[std::size_t(row * opos + col)] =
                                            inside
                                                ? x[std::size_t((b * c + gr * cg + ci) * ipos +
                                                                (i0 * g.in[1] + i1) * g.in[2] + i2)]
                                                : 0.0;
                                    }
                        }
            for (std::int64_t mo = 0; mo < mg; ++mo) {
                const std::int64_t oc = gr * mg + mo;
                for (std::int64_t col = 0; col < opos; ++col) {
                    double s = bias.empty() ? 0.0 : bias[std::size_t(oc)];
                    for (std::int64_t row = 0; row < cg * kvol; ++row)
                        s += double(w[std::size_t(oc * cg * kvol + row)]) *
                             cols[std::size_t(row * opos + col)];
                    y[std::size_t((b * m + oc) * opos + col)] = float(s);
                }
            }
        }
    return y;
}

struct conv_case {
    const char* name;
    std::size_t k; // spatial rank
    std::int64_t n, c, m, group;
    geometry g;
    ops::auto_pad padding = ops::auto_pad::notset;
};

void run_case(const conv_case& cc, unsigned seed) {
    CAPTURE(cc.name);
    std::vector<std::int64_t> xd{cc.n, cc.c}, wd{cc.m, cc.c / cc.group};
    ops::conv_params p;
    p.group = cc.group;
    p.spatial.padding = cc.padding;
    for (std::size_t a = 0; a < cc.k; ++a) {
        xd.push_back(cc.g.in[a]);
        wd.push_back(cc.g.k[a]);
        p.spatial.strides.push_back(cc.g.s[a]);
        p.spatial.dilations.push_back(cc.g.d[a]);
    }
    if (cc.padding == ops::auto_pad::notset) {
        for (std::size_t a = 0; a < cc.k; ++a)
            p.spatial.pads.push_back(cc.g.pb[a]);
        for (std::size_t a = 0; a < cc.k; ++a)
            p.spatial.pads.push_back(cc.g.pe[a]);
    }
    const auto x = random_f32(shape(std::span<const std::int64_t>(xd)), seed);
    const auto w = random_f32(shape(std::span<const std::int64_t>(wd)), seed + 1);
    const auto b = random_f32({cc.m}, seed + 2);
    const auto y = ops::conv(x, w, b.view(), p);
    const auto ref = im2col_conv(values<float>(x), values<float>(w), values<float>(b), cc.n, cc.c,
                                 cc.m, cc.group, cc.g);
    std::vector<std::int64_t> yd{cc.n, cc.m};
    for (std::size_t a = 0; a < cc.k; ++a)
        yd.push_back((cc.g.in[a] + cc.g.pb[a] + cc.g.pe[a] - cc.g.d[a] * (cc.g.k[a] - 1) - 1) /
                         cc.g.s[a] +
                     1);
    check_values(y, shape(std::span<const std::int64_t>(yd)), ref, 1e-4);
}

geometry geo2(std::int64_t h, std::int64_t w, std::int64_t kh, std::int64_t kw, std::int64_t s,
              std::int64_t d, std::array<std::int64_t, 4> pads) {
    geometry g;
    g.in = {h, w, 1};
    g.k = {kh, kw, 1};
    g.s = {s, s, 1};
    g.d = {d, d, 1};
    g.pb = {pads[0], pads[1], 0};
    g.pe = {pads[2], pads[3], 0};
    return g;
}

} // namespace

TEST_CASE("conv 2-D against im2col + matmul: strides, pads, dilations, groups, depthwise") {
    const conv_case cases[] = {
        {"3x3 same pads", 2, 2, 3, 4, 1, geo2(7, 6, 3, 3, 1, 1, {1, 1, 1, 1})},
        {"stride 2, asymmetric pads", 2, 1, 4, 6, 1, geo2(9, 8, 3, 3, 2, 1, {0, 1, 1, 0})},
        {"dilation 2", 2, 1, 2, 3, 1, geo2(9, 9, 3, 3, 1, 2, {2, 2, 2, 2})},
        {"groups 2", 2, 2, 4, 6, 2, geo2(5, 5, 3, 3, 1, 1, {1, 1, 1, 1})},
        {"depthwise", 2, 1, 8, 8, 8, geo2(6, 7, 3, 3, 2, 1, {1, 1, 1, 1})},
        {"1x1", 2, 3, 5, 2, 1, geo2(4, 3, 1, 1, 1, 1, {0, 0, 0, 0})},
        {"rectangular kernel", 2, 1, 3, 2, 1, geo2(6, 8, 2, 5, 1, 1, {0, 2, 1, 2})},
    };
    unsigned seed = 100;
    for (const auto& c : cases)
        run_case(c, seed += 3);
}

TEST_CASE("conv 1-D and 3-D against im2col + matmul") {
    geometry g1;
    g1.in = {11, 1, 1};
    g1.k = {3, 1, 1};
    g1.s = {2, 1, 1};
    g1.d = {2, 1, 1};
    g1.pb = {1, 0, 0};
    g1.pe = {2, 0, 0};
    run_case({"1-D", 1, 2, 4, 3, 1, g1}, 7);
    run_case({"1-D depthwise", 1, 1, 4, 4, 4, g1}, 8);
    geometry g3;
    g3.in = {4, 5, 3};
    g3.k = {2, 3, 2};
    g3.s = {1, 2, 1};
    g3.d = {1, 1, 2};
    g3.pb = {1, 1, 0};
    g3.pe = {0, 1, 2};
    run_case({"3-D", 3, 2, 4, 2, 2, g3}, 9);
}

TEST_CASE("conv auto_pad SAME_UPPER, SAME_LOWER, VALID") {
    // Input 7 wide, kernel 4, stride 2: output 4, total pad (4−1)·2 + 4 − 7 = 3.
    conv_case up{"same_upper",
                 2,
                 1,
                 2,
                 3,
                 1,
                 geo2(7, 7, 4, 4, 2, 1, {1, 1, 2, 2}),
                 ops::auto_pad::same_upper};
    run_case(up, 21);
    conv_case low{"same_lower",
                  2,
                  1,
                  2,
                  3,
                  1,
                  geo2(7, 7, 4, 4, 2, 1, {2, 2, 1, 1}),
                  ops::auto_pad::same_lower};
    run_case(low, 22);
    conv_case valid{
        "valid", 2, 1, 2, 3, 1, geo2(7, 7, 4, 4, 2, 1, {0, 0, 0, 0}), ops::auto_pad::valid};
    run_case(valid, 23);
}

TEST_CASE("conv: known values, conv_op reuse, determinism, errors") {
    // 1 channel 3x3 input, 2x2 ones kernel, no pad: sums of 2x2 windows; bias 1.
    const auto x = f32({1, 1, 3, 3}, {1, 2, 3, 4, 5, 6, 7, 8, 9});
    const auto w = f32({1, 1, 2, 2}, {1, 1, 1, 1});
    check_values(ops::conv(x, w, f32({1}, {1}).view()), {1, 1, 2, 2}, {13, 17, 25, 29});
    // conv_op: one object, several input sizes.
    const auto wr = random_f32({4, 3, 3, 3}, 40);
    ops::conv_params p;
    p.spatial.pads = {1, 1, 1, 1};
    const ops::conv_op op(wr, std::nullopt, p);
    for (const std::int64_t h : {5, 8}) {
        const auto xi = random_f32({2, 3, h, h}, unsigned(h));
        check_close(op.run(xi), ops::conv(xi, wr, std::nullopt, p), 0);
        const auto ref = im2col_conv(values<float>(xi), values<float>(wr), {}, 2, 3, 4, 1,
                                     geo2(h, h, 3, 3, 1, 1, {1, 1, 1, 1}));
        check_values(op.run(xi), {2, 4, h, h}, ref, 1e-4);
    }
    // Same bytes at 1 and several threads (3-D takes hone's own loop).
    const auto x3 = random_f32({1, 4, 6, 6, 6}, 50), w3 = random_f32({4, 4, 3, 3, 3}, 51);
    const int before = hone::num_threads();
    hone::set_num_threads(1);
    const auto a = ops::conv(x3, w3);
    hone::set_num_threads(3);
    const auto b = ops::conv(x3, w3);
    hone::set_num_threads(before);
    CHECK(values<float>(a) == values<float>(b));
    // Empty batch.
    CHECK(ops::conv(f32({0, 3, 5, 5}, {}), wr, std::nullopt, p).dims() == shape{0, 4, 5, 5});
    // Errors.
    error_of([&] { (void)ops::conv(random_f32({1, 2, 5, 5}, 1), wr); }, status::shape_mismatch);
    error_of([&] { (void)ops::conv(random_f32({1, 3, 2, 2}, 1), wr); }, status::shape_mismatch);
    error_of([&] { (void)ops::conv(x, w, f32({2}, {1, 1}).view()); }, status::shape_mismatch);
    ops::conv_params bad;
    bad.spatial.strides = {0, 1};
    error_of([&] { (void)ops::conv(x, w, std::nullopt, bad); }, status::invalid_argument);
    bad = {};
    bad.spatial.pads = {1, 1};
    error_of([&] { (void)ops::conv(x, w, std::nullopt, bad); }, status::invalid_argument);
    bad = {};
    bad.group = 2;
    error_of([&] { (void)ops::conv(x, w, std::nullopt, bad); }, status::shape_mismatch);
    bad = {};
    bad.spatial.kernel_shape = {3, 3};
    error_of([&] { (void)ops::conv(x, w, std::nullopt, bad); }, status::shape_mismatch);
}

namespace {

// Scatter-form reference: each input element adds x·w into the full output, then crop by pads.
std::vector<float> scatter_conv_transpose(const std::vector<float>& x, const std::vector<float>& w,
                                          std::int64_t n, std::int64_t c, std::int64_t h,
                                          std::int64_t wd, std::int64_t mg, std::int64_t group,
                                          std::int64_t kh, std::int64_t kw, std::int64_t s,
                                          std::int64_t d, std::int64_t pt, std::int64_t pl,
                                          std::int64_t oh, std::int64_t ow) {
    const std::int64_t m = mg * group, cg = c / group;
    std::vector<double> y(std::size_t(n * m * oh * ow), 0.0);
    for (std::int64_t b = 0; b < n; ++b)
        for (std::int64_t ch = 0; ch < c; ++ch)
            for (std::int64_t i = 0; i < h; ++i)
                for (std::int64_t j = 0; j < wd; ++j)
                    for (std::int64_t o = 0; o < mg; ++o)
                        for (std::int64_t a = 0; a < kh; ++a)
                            for (std::int64_t e = 0; e < kw; ++e) {
                                const std::int64_t yy = i * s + a * d - pt, xx = j * s + e * d - pl;
                                if (yy < 0 || yy >= oh || xx < 0 || xx >= ow) continue;
                                const std::int64_t oc = (ch / cg) * mg + o;
                                y[std::size_t(((b * m + oc) * oh + yy) * ow + xx)] +=
                                    double(x[std::size_t(((b * c + ch) * h + i) * wd + j)]) *
                                    w[std::size_t(((ch * mg + o) * kh + a) * kw + e)];
                            }
    return {y.begin(), y.end()};
}

} // namespace

TEST_CASE("conv_transpose: known values and a scatter reference") {
    // Stride 2 with a 2x2 ones kernel places each input value in its own 2x2 block.
    const auto x = f32({1, 1, 2, 2}, {1, 2, 3, 4});
    ops::conv_transpose_params p;
    p.spatial.strides = {2, 2};
    check_values(ops::conv_transpose(x, f32({1, 1, 2, 2}, {1, 1, 1, 1}), std::nullopt, p),
                 {1, 1, 4, 4}, {1, 1, 2, 2, 1, 1, 2, 2, 3, 3, 4, 4, 3, 3, 4, 4});
    struct tc {
        std::int64_t c, mg, group, h, w, k, s, d, pt, pl, pb, pr, opad;
    };
    const tc cases[] = {{3, 2, 1, 4, 5, 3, 2, 1, 1, 1, 1, 1, 1},
                        {4, 1, 4, 5, 4, 3, 2, 1, 1, 0, 1, 2, 0},
                        {4, 3, 2, 3, 3, 2, 1, 2, 0, 0, 0, 0, 0},
                        {2, 2, 1, 4, 4, 4, 2, 1, 1, 1, 1, 1, 0}};
    unsigned seed = 60;
    for (const auto& t : cases) {
        const std::int64_t n = 2;
        const auto xi = random_f32({n, t.c, t.h, t.w}, seed++);
        const auto wi = random_f32({t.c, t.mg, t.k, t.k}, seed++);
        const auto bi = random_f32({t.mg * t.group}, seed++);
        ops::conv_transpose_params q;
        q.group = t.group;
        q.spatial.strides = {t.s, t.s};
        q.spatial.dilations = {t.d, t.d};
        q.spatial.pads = {t.pt, t.pl, t.pb, t.pr};
        q.output_padding = {t.opad, t.opad};
        const std::int64_t oh = t.s * (t.h - 1) + t.opad + (t.k - 1) * t.d + 1 - t.pt - t.pb;
        const std::int64_t ow = t.s * (t.w - 1) + t.opad + (t.k - 1) * t.d + 1 - t.pl - t.pr;
        auto ref = scatter_conv_transpose(values<float>(xi), values<float>(wi), n, t.c, t.h, t.w,
                                          t.mg, t.group, t.k, t.k, t.s, t.d, t.pt, t.pl, oh, ow);
        const auto bv = values<float>(bi);
        const std::int64_t m = t.mg * t.group;
        for (std::size_t i = 0; i < ref.size(); ++i)
            ref[i] += bv[(i / std::size_t(oh * ow)) % std::size_t(m)];
        check_values(ops::conv_transpose(xi, wi, bi.view(), q), {n, m, oh, ow}, ref, 1e-4);
        // output_shape gives the same result as the equivalent pads (NOTSET: begin gets
        // total − total/2).
        if (t.pt == t.pl && t.pb == t.pr && t.pt >= t.pb && t.pt - t.pb <= 1 && oh == ow) {
            ops::conv_transpose_params r = q;
            r.spatial.pads.clear();
            r.output_shape = {oh, ow};
            check_values(ops::conv_transpose(xi, wi, bi.view(), r), {n, m, oh, ow}, ref, 1e-4);
        }
    }
    error_of(
        [&] {
            (void)ops::conv_transpose(x, f32({2, 1, 2, 2}, {1, 1, 1, 1, 1, 1, 1, 1}));
        },
        status::shape_mismatch);
}
