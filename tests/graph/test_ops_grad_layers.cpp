// The layers' backward passes (src/graph/ops/grad.hpp: Gemm, Conv 1-D to 3-D with groups and
// depthwise, MaxPool / AveragePool with ceil_mode and dilations, GlobalAveragePool, frozen
// BatchNormalization) checked by central finite differences of the executor's own forwards.
#include "../../src/graph/ops/grad.hpp"
#include "../../src/graph/ops/ops.hpp"
#include "grad_check.hpp"
#include "hone/core/error.hpp"

#include <doctest/doctest.h>

#include <algorithm>
#include <random>

using namespace hone;
using hone::test::check_gradient;
using hone::test::random_tensor;

TEST_CASE("gemm backward: every transpose combination, alpha, beta, broadcast C") {
    for (int ta = 0; ta < 2; ++ta)
        for (int tb = 0; tb < 2; ++tb) {
            CAPTURE(ta);
            CAPTURE(tb);
            const std::int64_t m = 5, k = 7, n = 3;
            const ops::gemm_params p{0.7f, 1.3f, ta != 0, tb != 0};
            tensor a = random_tensor(ta ? shape{k, m} : shape{m, k}, 1);
            tensor b = random_tensor(tb ? shape{n, k} : shape{k, n}, 2);
            tensor c = random_tensor(shape{n}, 3);
            tensor r = random_tensor(shape{m, n}, 4);
            auto f = [&] { return ops::gemm(a, b, c.view(), p); };
            const shape cd = c.dims();
            auto g = ops::gemm_backward(a, b, &cd, r, p);
            check_gradient(a, f, r, g.da);
            check_gradient(b, f, r, g.db);
            check_gradient(c, f, r, g.dc);
        }
    SUBCASE("C as a column [M, 1]; only dB asked for") {
        tensor a = random_tensor(shape{4, 6}, 5), b = random_tensor(shape{6, 2}, 6);
        tensor c = random_tensor(shape{4, 1}, 7), r = random_tensor(shape{4, 2}, 8);
        auto f = [&] { return ops::gemm(a, b, c.view()); };
        const shape cd = c.dims();
        auto g = ops::gemm_backward(a, b, &cd, r, {}, false, true);
        CHECK(g.da.numel() == 0);
        check_gradient(c, f, r, g.dc);
        check_gradient(b, f, r, g.db);
    }
    CHECK_THROWS_AS(ops::gemm_backward(random_tensor(shape{2, 3}, 1), random_tensor(shape{4, 2}, 1),
                                       nullptr, random_tensor(shape{2, 2}, 1), {}),
                    hone::error);
}

namespace {

void check_conv(const shape& xd, const shape& wd, const ops::conv_params& p, unsigned seed) {
    tensor x = random_tensor(xd, seed), w = random_tensor(wd, seed + 1);
    tensor bias = random_tensor(shape{wd[0]}, seed + 2);
    auto f = [&] { return ops::conv(x, w, bias.view(), p); };
    tensor r = random_tensor(f().dims(), seed + 3);
    auto g = ops::conv_backward(x, w, true, r, p);
    check_gradient(x, f, r, g.dx);
    check_gradient(w, f, r, g.dw);
    check_gradient(bias, f, r, g.dbias);
}

ops::conv_params conv_of(std::vector<std::int64_t> strides, std::vector<std::int64_t> pads,
                         std::vector<std::int64_t> dilations, std::int64_t group,
                         ops::auto_pad padding = ops::auto_pad::notset) {
    ops::conv_params p;
    p.spatial.strides = std::move(strides);
    p.spatial.pads = std::move(pads);
    p.spatial.dilations = std::move(dilations);
    p.spatial.padding = padding;
    p.group = group;
    return p;
}

} // namespace

TEST_CASE("conv backward: 2-D strides, pads, dilations, groups; depthwise; 1-D; 3-D; SAME") {
    SUBCASE("2-D dense") {
        check_conv(shape{2, 2, 7, 6}, shape{3, 2, 3, 3}, conv_of({1, 1}, {1, 1, 1, 1}, {1, 1}, 1),
                   21);
    }
    SUBCASE("2-D strided, dilated, uneven pads") {
        check_conv(shape{2, 3, 7, 6}, shape{2, 3, 3, 2}, conv_of({2, 1}, {0, 1, 2, 0}, {1, 2}, 1),
                   31);
    }
    SUBCASE("2-D groups") {
        check_conv(shape{2, 4, 7, 6}, shape{6, 2, 2, 3}, conv_of({1, 2}, {1, 0, 0, 1}, {1, 1}, 2),
                   41);
    }
    SUBCASE("depthwise 3×3 stride 2 (one channel per group)") {
        check_conv(shape{2, 5, 9, 8}, shape{5, 1, 3, 3}, conv_of({2, 2}, {1, 1, 1, 1}, {1, 1}, 5),
                   51);
    }
    SUBCASE("depthwise with a channel multiplier (two outputs per group)") {
        check_conv(shape{1, 3, 6, 6}, shape{6, 1, 3, 3}, conv_of({1, 1}, {1, 1, 1, 1}, {1, 1}, 3),
                   61);
    }
    SUBCASE("1-D") {
        check_conv(shape{2, 3, 11}, shape{4, 3, 3}, conv_of({2}, {1, 2}, {2}, 1), 71);
    }
    SUBCASE("3-D") {
        check_conv(shape{1, 2, 4, 5, 4}, shape{3, 2, 2, 3, 2},
                   conv_of({1, 2, 1}, {1, 0, 1, 0, 1, 0}, {1, 1, 2}, 1), 81);
    }
    SUBCASE("SAME_UPPER") {
        check_conv(shape{1, 2, 6, 7}, shape{2, 2, 3, 3},
                   conv_of({2, 2}, {}, {}, 1, ops::auto_pad::same_upper), 91);
    }
    CHECK_THROWS_AS(ops::conv_backward(random_tensor(shape{1, 3, 5, 5}, 1),
                                       random_tensor(shape{2, 2, 3, 3}, 1), false,
                                       random_tensor(shape{1, 2, 3, 3}, 1), {}),
                    hone::error);
    CHECK_THROWS_AS(ops::conv_backward(random_tensor(shape{1, 2, 5, 5}, 1),
                                       random_tensor(shape{2, 2, 3, 3}, 1), false,
                                       random_tensor(shape{1, 2, 4, 3}, 1), {}),
                    hone::error);
}

namespace {

/// Distinct values with gaps ≫ eps, so no window's maximum changes under a perturbation.
tensor distinct(const shape& s, unsigned seed) {
    tensor x(dtype::f32, s);
    std::vector<float> v(std::size_t(x.numel()));
    for (std::size_t i = 0; i < v.size(); ++i)
        v[i] = 0.05f * float(i);
    std::mt19937 rng(seed);
    std::shuffle(v.begin(), v.end(), rng);
    std::copy(v.begin(), v.end(), x.span<float>().begin());
    return x;
}

ops::pool_params pool_of(std::vector<std::int64_t> kernel, std::vector<std::int64_t> strides,
                         std::vector<std::int64_t> pads, bool ceil_mode,
                         std::vector<std::int64_t> dilations = {}) {
    ops::pool_params p;
    p.spatial.kernel_shape = std::move(kernel);
    p.spatial.strides = std::move(strides);
    p.spatial.pads = std::move(pads);
    p.spatial.dilations = std::move(dilations);
    p.ceil_mode = ceil_mode;
    return p;
}

} // namespace

TEST_CASE("pooling backward passes: 1-D to 3-D, ceil_mode, dilations, count_include_pad") {
    struct pool_case {
        shape x;
        ops::pool_params p;
    };
    const pool_case cases[] = {
        {shape{2, 2, 6, 5}, pool_of({3, 2}, {2, 2}, {1, 0, 1, 1}, false)},
        {shape{1, 3, 7, 7}, pool_of({3, 3}, {2, 2}, {0, 0, 0, 0}, true)},
        {shape{1, 2, 8, 7}, pool_of({2, 2}, {1, 2}, {1, 1, 0, 0}, true, {2, 1})},
        {shape{2, 2, 9}, pool_of({3}, {2}, {1, 1}, true)},
        {shape{1, 2, 4, 5, 4}, pool_of({2, 2, 2}, {2, 2, 1}, {0, 1, 0, 0, 0, 1}, false)},
    };
    for (std::size_t i = 0; i < std::size(cases); ++i) {
        CAPTURE(i);
        tensor x = distinct(cases[i].x, unsigned(51 + i));
        ops::pool_params p = cases[i].p;
        auto fm = [&] { return ops::max_pool(x, p); };
        tensor rm = random_tensor(fm().dims(), unsigned(61 + i));
        check_gradient(x, fm, rm, ops::max_pool_backward(x, rm, p), 1e-2);
        for (bool include : {false, true}) {
            p.count_include_pad = include;
            auto fa = [&] { return ops::average_pool(x, p); };
            tensor ra = random_tensor(fa().dims(), unsigned(71 + i));
            check_gradient(x, fa, ra, ops::average_pool_backward(x.dims(), ra, p));
        }
    }
    SUBCASE("global average") {
        tensor x = random_tensor(shape{2, 3, 4, 5}, 81);
        auto f = [&] { return ops::global_average_pool(x); };
        tensor r = random_tensor(shape{2, 3, 1, 1}, 82);
        check_gradient(x, f, r, ops::global_average_pool_backward(x.dims(), r));
    }
    CHECK_THROWS_AS(ops::max_pool_backward(random_tensor(shape{1, 1, 4, 4}, 1),
                                           random_tensor(shape{1, 1, 3, 3}, 1),
                                           pool_of({2, 2}, {2, 2}, {}, false)),
                    hone::error);
}

TEST_CASE("resize backward: nearest, linear and cubic; scales and sizes; every transform") {
    using ops::coordinate_transform;
    struct resize_case {
        ops::resize_mode mode;
        coordinate_transform transform;
        std::vector<float> scales;
        std::vector<std::int64_t> sizes;
    };
    const resize_case cases[] = {
        {ops::resize_mode::nearest, coordinate_transform::asymmetric, {1, 1, 2, 2}, {}},
        {ops::resize_mode::nearest, coordinate_transform::half_pixel, {}, {1, 2, 5, 3}},
        {ops::resize_mode::linear, coordinate_transform::half_pixel, {1, 1, 2, 1.5f}, {}},
        {ops::resize_mode::linear, coordinate_transform::align_corners, {}, {1, 2, 7, 2}},
        {ops::resize_mode::linear, coordinate_transform::pytorch_half_pixel, {}, {1, 2, 1, 6}},
        {ops::resize_mode::cubic, coordinate_transform::half_pixel, {1, 1, 1.5f, 2}, {}},
    };
    for (std::size_t i = 0; i < std::size(cases); ++i) {
        CAPTURE(i);
        ops::resize_params p;
        p.mode = cases[i].mode;
        p.transform = cases[i].transform;
        p.scales = cases[i].scales;
        p.sizes = cases[i].sizes;
        tensor x = random_tensor(shape{1, 2, 4, 3}, unsigned(90 + i));
        auto f = [&] { return ops::resize(x, p); };
        tensor r = random_tensor(f().dims(), unsigned(100 + i));
        check_gradient(x, f, r, ops::resize_backward(x.dims(), r, p));
    }
    ops::resize_params p;
    p.scales = {1, 1, 2, 2};
    CHECK_THROWS_AS(ops::resize_backward(shape{1, 1, 2, 2}, random_tensor(shape{1, 1, 3, 4}, 1), p),
                    hone::error);
}

TEST_CASE("frozen batch norm backward: x, scale, bias") {
    const shape s{3, 4, 2, 2};
    tensor x = random_tensor(s, 61), scale = random_tensor(shape{4}, 62, 0.5f, 2.0f);
    tensor bias = random_tensor(shape{4}, 63), mean = random_tensor(shape{4}, 64);
    tensor var = random_tensor(shape{4}, 65, 0.2f, 1.5f);
    auto f = [&] { return ops::batch_normalization(x, scale, bias, mean, var, 1e-5f); };
    tensor r = random_tensor(s, 66);
    auto g = ops::batch_normalization_backward(x, scale, mean, var, r, 1e-5f);
    check_gradient(x, f, r, g.dx);
    check_gradient(scale, f, r, g.dscale);
    check_gradient(bias, f, r, g.dbias);
}
