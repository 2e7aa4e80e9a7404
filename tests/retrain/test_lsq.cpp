// Backward passes checked by central finite differences: L = Σ r ⊙ f(x) with a random r, so
// dL/dx is backward(x, dY = r). Every input element (or a deterministic sample of them) is
// perturbed by ±eps; the forward is f32 and L is accumulated in double. Inputs avoid kinks
// (ReLU at 0, MaxPool ties). The tolerance is relative to the gradient's size: a missing factor
// or a wrong transpose fails by orders of magnitude.
#include "hone/core/error.hpp"
#include "hone/retrain/backward.hpp"

#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <functional>
#include <random>

using namespace hone;
using namespace hone::retrain;

namespace {

tensor random_tensor(const shape& s, unsigned seed, float lo = -1.0f, float hi = 1.0f) {
    tensor t(dtype::f32, s);
    std::mt19937 rng(seed);
    std::uniform_real_distribution<float> u(lo, hi);
    for (float& v : t.span<float>())
        v = u(rng);
    return t;
}

/// Values ±[0.1, 1] (no kink within eps of 0).
tensor away_from_zero(const shape& s, unsigned seed) {
    tensor t = random_tensor(s, seed);
    for (float& v : t.span<float>())
        v = (v >= 0 ? 1.0f : -1.0f) * (0.1f + 0.9f * std::abs(v));
    return t;
}

double dot(const tensor& a, const tensor& r) {
    double s = 0;
    auto x = a.span<float>();
    auto y = r.span<float>();
    REQUIRE(x.size() == y.size());
    for (std::size_t i = 0; i < x.size(); ++i)
        s += double(x[i]) * y[i];
    return s;
}

/// Compares `analytic` with central differences of L(x) = Σ r·f(x) over (up to 300) elements.
void check_gradient(tensor& x, const std::function<tensor()>& f, const tensor& r,
                    const tensor& analytic, double eps = 1e-2, double tol = 2e-3) {
    REQUIRE(analytic.dims() == x.dims());
    auto xs = x.span<float>();
    auto g = analytic.span<float>();
    double gmax = 0;
    for (float v : g)
        gmax = std::max(gmax, double(std::abs(v)));
    REQUIRE(gmax > 0);
    const std::size_t n = xs.size();
    const std::size_t stride = std::max<std::size_t>(1, n / 300);
    double worst = 0;
    for (std::size_t i = 0; i < n; i += stride) {
        const float keep = xs[i];
        xs[i] = keep + float(eps);
        const double lp = dot(f(), r);
        xs[i] = keep - float(eps);
        const double lm = dot(f(), r);
        xs[i] = keep;
        const double num = (lp - lm) / (2 * eps);
        worst = std::max(worst, std::abs(num - g[i]));
    }
    INFO("max |numeric − analytic| = " << worst << ", max |analytic| = " << gmax);
    CHECK(worst <= tol * std::max(1.0, gmax) + 1e-4);
}

} // namespace

TEST_CASE("gemm backward: every transpose combination, alpha, beta, broadcast C") {
    for (int ta = 0; ta < 2; ++ta)
        for (int tb = 0; tb < 2; ++tb) {
            CAPTURE(ta);
            CAPTURE(tb);
            const std::int64_t m = 5, k = 7, n = 3;
            gemm_attrs at{0.7f, 1.3f, ta != 0, tb != 0};
            tensor a = random_tensor(ta ? shape{k, m} : shape{m, k}, 1);
            tensor b = random_tensor(tb ? shape{n, k} : shape{k, n}, 2);
            tensor c = random_tensor(shape{n}, 3);
            tensor r = random_tensor(shape{m, n}, 4);
            auto f = [&] { return gemm_forward(a, b, c, at); };
            // forward against a direct loop
            tensor y = f();
            for (std::int64_t i = 0; i < m; ++i)
                for (std::int64_t j = 0; j < n; ++j) {
                    double s = 0;
                    for (std::int64_t q = 0; q < k; ++q)
                        s += double(ta ? a.span<float>()[q * m + i] : a.span<float>()[i * k + q]) *
                             (tb ? b.span<float>()[j * k + q] : b.span<float>()[q * n + j]);
                    CHECK(y.span<float>()[i * n + j] ==
                          doctest::Approx(0.7 * s + 1.3 * c.span<float>()[j]).epsilon(1e-5));
                }
            auto g = gemm_backward(a, b, r, at, true, c.dims());
            check_gradient(a, f, r, g.da);
            check_gradient(b, f, r, g.db);
            check_gradient(c, f, r, g.dc);
        }
    SUBCASE("C as a column [M, 1]") {
        tensor a = random_tensor(shape{4, 6}, 5), b = random_tensor(shape{6, 2}, 6);
        tensor c = random_tensor(shape{4, 1}, 7), r = random_tensor(shape{4, 2}, 8);
        auto f = [&] { return gemm_forward(a, b, c); };
        auto g = gemm_backward(a, b, r, {}, true, c.dims());
        check_gradient(c, f, r, g.dc);
    }
    SUBCASE("matmul") {
        tensor a = random_tensor(shape{3, 8}, 9), b = random_tensor(shape{8, 4}, 10);
        tensor r = random_tensor(shape{3, 4}, 11);
        auto f = [&] { return gemm_forward(a, b, {}); };
        auto g = matmul_backward(a, b, r);
        check_gradient(a, f, r, g.da);
        check_gradient(b, f, r, g.db);
    }
    CHECK_THROWS_AS(gemm_forward(random_tensor(shape{2, 3}, 1), random_tensor(shape{4, 2}, 1), {}),
                    hone::error);
}

TEST_CASE("conv2d backward: strides, pads, dilations, groups, bias") {
    struct cfg {
        conv2d_attrs a;
        std::int64_t c, m, kh, kw;
    };
    const cfg cases[] = {
        {{{1, 1}, {1, 1, 1, 1}, {1, 1}, 1}, 2, 3, 3, 3},
        {{{2, 1}, {0, 1, 2, 0}, {1, 2}, 1}, 3, 2, 3, 2},
        {{{1, 2}, {1, 0, 0, 1}, {1, 1}, 2}, 4, 6, 2, 3},
    };
    for (const auto& c : cases) {
        tensor x = random_tensor(shape{2, c.c, 7, 6}, 21);
        tensor w = random_tensor(shape{c.m, c.c / c.a.group, c.kh, c.kw}, 22);
        tensor bias = random_tensor(shape{c.m}, 23);
        auto f = [&] { return conv2d_forward(x, w, bias, c.a); };
        tensor y = f();
        // one output value against a direct sum
        {
            const std::int64_t n = 1, o = c.m - 1, oy = y.dims()[2] - 1, ox = 0;
            const std::int64_t cg = c.c / c.a.group, g = o / (c.m / c.a.group);
            double s = bias.span<float>()[o];
            for (std::int64_t ci = 0; ci < cg; ++ci)
                for (std::int64_t ky = 0; ky < c.kh; ++ky)
                    for (std::int64_t kx = 0; kx < c.kw; ++kx) {
                        const auto iy = oy * c.a.strides[0] - c.a.pads[0] + ky * c.a.dilations[0];
                        const auto ix = ox * c.a.strides[1] - c.a.pads[1] + kx * c.a.dilations[1];
                        if (iy < 0 || iy >= 7 || ix < 0 || ix >= 6) continue;
                        s += double(x.span<float>()[((n * c.c + g * cg + ci) * 7 + iy) * 6 + ix]) *
                             w.span<float>()[((o * cg + ci) * c.kh + ky) * c.kw + kx];
                    }
            CHECK(y.span<float>()[((n * c.m + o) * y.dims()[2] + oy) * y.dims()[3] + ox] ==
                  doctest::Approx(s).epsilon(1e-5));
        }
        tensor r = random_tensor(y.dims(), 24);
        auto g = conv2d_backward(x, w, r, c.a, true);
        check_gradient(x, f, r, g.dx);
        check_gradient(w, f, r, g.dw);
        check_gradient(bias, f, r, g.dbias);
    }
    CHECK_THROWS_AS(conv2d_forward(random_tensor(shape{1, 3, 5, 5}, 1),
                                   random_tensor(shape{2, 2, 3, 3}, 1), {}),
                    hone::error);
}

TEST_CASE("add backward sums over broadcast axes") {
    tensor a = random_tensor(shape{2, 3, 4}, 31), b = random_tensor(shape{3, 1}, 32);
    auto f = [&] { return add_forward(a, b); };
    tensor y = f();
    REQUIRE(y.dims() == (shape{2, 3, 4}));
    CHECK(y.span<float>()[1 * 12 + 2 * 4 + 3] ==
          a.span<float>()[1 * 12 + 2 * 4 + 3] + b.span<float>()[2]);
    tensor r = random_tensor(y.dims(), 33);
    check_gradient(a, f, r, reduce_to_shape(r, a.dims()));
    check_gradient(b, f, r, reduce_to_shape(r, b.dims()));
    CHECK_THROWS_AS(reduce_to_shape(r, shape{5}), hone::error);
}

TEST_CASE("activation backward passes") {
    const shape s{3, 5};
    tensor r = random_tensor(s, 41);
    SUBCASE("relu") {
        tensor x = away_from_zero(s, 42);
        auto f = [&] { return relu_forward(x); };
        check_gradient(x, f, r, relu_backward(x, r), 1e-2);
    }
    SUBCASE("leaky relu") {
        tensor x = away_from_zero(s, 43);
        auto f = [&] { return leaky_relu_forward(x, 0.2f); };
        check_gradient(x, f, r, leaky_relu_backward(x, r, 0.2f), 1e-2);
    }
    SUBCASE("sigmoid") {
        tensor x = random_tensor(s, 44, -3, 3);
        auto f = [&] { return sigmoid_forward(x); };
        check_gradient(x, f, r, sigmoid_backward(f(), r));
    }
    SUBCASE("tanh") {
        tensor x = random_tensor(s, 45, -2, 2);
        auto f = [&] { return tanh_forward(x); };
        check_gradient(x, f, r, tanh_backward(f(), r));
    }
    SUBCASE("gelu exact and tanh") {
        for (bool approx : {false, true}) {
            tensor x = random_tensor(s, 46, -3, 3);
            auto f = [&] { return gelu_forward(x, approx); };
            check_gradient(x, f, r, gelu_backward(x, r, approx));
        }
        tensor one(dtype::f32, shape{1});
        one.span<float>()[0] = 1.0f;
        CHECK(gelu_forward(one).span<float>()[0] == doctest::Approx(0.8413447).epsilon(1e-6));
    }
    SUBCASE("softmax and log_softmax on a middle axis") {
        const shape s3{2, 4, 3};
        tensor r3 = random_tensor(s3, 47);
        tensor x = random_tensor(s3, 48, -2, 2);
        auto f = [&] { return softmax_forward(x, 1); };
        check_gradient(x, f, r3, softmax_backward(f(), r3, 1));
        auto fl = [&] { return log_softmax_forward(x, -2); };
        check_gradient(x, fl, r3, log_softmax_backward(fl(), r3, -2));
        // rows sum to 1
        tensor y = f();
        double sum = 0;
        for (int j = 0; j < 4; ++j)
            sum += y.span<float>()[j * 3 + 1];
        CHECK(sum == doctest::Approx(1.0).epsilon(1e-6));
    }
}

TEST_CASE("pooling backward passes") {
    // distinct values with gaps ≫ eps so the arg-max never flips
    tensor x(dtype::f32, shape{2, 2, 6, 5});
    {
        std::vector<float> v(std::size_t(x.numel()));
        for (std::size_t i = 0; i < v.size(); ++i)
            v[i] = 0.05f * float(i);
        std::mt19937 rng(51);
        std::shuffle(v.begin(), v.end(), rng);
        std::copy(v.begin(), v.end(), x.span<float>().begin());
    }
    pool2d_attrs a{{3, 2}, {2, 2}, {1, 0, 1, 1}, false};
    SUBCASE("max") {
        auto f = [&] { return max_pool2d_forward(x, a); };
        tensor r = random_tensor(f().dims(), 52);
        check_gradient(x, f, r, max_pool2d_backward(x, r, a), 1e-2);
    }
    SUBCASE("average, with and without padding counted") {
        for (bool inc : {false, true}) {
            a.count_include_pad = inc;
            auto f = [&] { return average_pool2d_forward(x, a); };
            tensor r = random_tensor(f().dims(), 53);
            check_gradient(x, f, r, average_pool2d_backward(x.dims(), r, a));
        }
    }
    SUBCASE("global average") {
        auto f = [&] { return global_average_pool_forward(x); };
        tensor r = random_tensor(f().dims(), 54);
        REQUIRE(r.dims() == (shape{2, 2, 1, 1}));
        check_gradient(x, f, r, global_average_pool_backward(x.dims(), r));
    }
    SUBCASE("reshape") {
        tensor r = random_tensor(shape{4, 30}, 55);
        auto f = [&] {
            tensor y(dtype::f32, shape{4, 30});
            std::copy(x.span<float>().begin(), x.span<float>().end(), y.span<float>().begin());
            return y;
        };
        check_gradient(x, f, r, reshape_backward(r, x.dims()));
        CHECK_THROWS_AS(reshape_backward(r, shape{7}), hone::error);
    }
}

TEST_CASE("frozen batch norm backward: x, scale, bias") {
    const shape s{3, 4, 2, 2};
    tensor x = random_tensor(s, 61), scale = random_tensor(shape{4}, 62, 0.5f, 2.0f);
    tensor bias = random_tensor(shape{4}, 63), mean = random_tensor(shape{4}, 64);
    tensor var = random_tensor(shape{4}, 65, 0.2f, 1.5f);
    auto f = [&] { return batch_norm_forward(x, scale, bias, mean, var, 1e-5f); };
    tensor r = random_tensor(s, 66);
    auto g = batch_norm_frozen_backward(x, scale, mean, var, r, 1e-5f);
    check_gradient(x, f, r, g.dx);
    check_gradient(scale, f, r, g.dscale);
    check_gradient(bias, f, r, g.dbias);
}

TEST_CASE("a wrong gradient fails the checker (the tolerance can fail)") {
    tensor x = random_tensor(shape{3, 4}, 71, -2, 2), r = random_tensor(shape{3, 4}, 72);
    auto f = [&] { return tanh_forward(x); };
    tensor wrong = tanh_backward(f(), r);
    for (float& v : wrong.span<float>())
        v *= 1.05f; // 5% off
    auto xs = x.span<float>();
    double worst = 0;
    for (std::size_t i = 0; i < xs.size(); ++i) {
        const float keep = xs[i];
        xs[i] = keep + 1e-2f;
        const double lp = dot(f(), r);
        xs[i] = keep - 1e-2f;
        const double lm = dot(f(), r);
        xs[i] = keep;
        worst = std::max(worst, std::abs((lp - lm) / 2e-2 - wrong.span<float>()[i]));
    }
    CHECK(worst > 2e-3 + 1e-4);
}

TEST_CASE("LSQ: forward values and the scale gradient on a hand-computed case") {
    // int4 signed symmetric per channel: [qmin, qmax] = [−8, 7], zero point 0
    quant_spec spec;
    spec.bits = 4;
    spec.granularity = quant_granularity::per_channel;
    tensor w(dtype::f32, shape{2, 3});
    const float wv[] = {0.3f, -1.1f, 4.0f, 0.125f, -3.0f, 0.7f};
    std::copy(wv, wv + 6, w.span<float>().begin());
    const std::vector<float> s{0.5f, 0.25f};
    // v = w/s: row 0 [0.6, −2.2, 8 (clipped at 7)], row 1 [0.5 (ties to even: 0), −12 (−8), 2.8]
    std::vector<std::int32_t> q;
    const tensor y = lsq_forward(w, spec, s, {}, &q);
    CHECK(q == std::vector<std::int32_t>{1, -2, 7, 0, -8, 3});
    const float want[] = {0.5f, -1.0f, 3.5f, 0.0f, -2.0f, 0.75f};
    for (int i = 0; i < 6; ++i)
        CHECK(y.span<float>()[std::size_t(i)] == want[i]);

    tensor dy(dtype::f32, shape{2, 3});
    const float dv[] = {1.0f, 2.0f, -1.0f, 4.0f, 0.5f, -2.0f};
    std::copy(dv, dv + 6, dy.span<float>().begin());
    const lsq_grads g = lsq_backward(w, spec, s, {}, dy);
    // STE: the gradient passes where not clipped
    const float dw[] = {1.0f, 2.0f, 0.0f, 4.0f, 0.0f, -2.0f};
    for (int i = 0; i < 6; ++i)
        CHECK(g.dw.span<float>()[std::size_t(i)] == dw[i]);
    // ds: Σ dy·(round(v) − v | qp | qn), times 1/√(N·Qp) = 1/√(3·7)
    //   row 0: 1·(1 − 0.6) + 2·(−2 + 2.2) + (−1)·7 = −6.2
    //   row 1: 4·(0 − 0.5) + 0.5·(−8) + (−2)·(3 − 2.8) = −6.4
    REQUIRE(g.dscales.size() == 2);
    CHECK(g.dscales[0] == doctest::Approx(-6.2 / std::sqrt(21.0)).epsilon(1e-5));
    CHECK(g.dscales[1] == doctest::Approx(-6.4 / std::sqrt(21.0)).epsilon(1e-5));

    // per tensor: one scale 0.5 over all six, gradient scale 1/√(6·7)
    spec.granularity = quant_granularity::per_tensor;
    const std::vector<float> s1{0.5f};
    const lsq_grads g1 = lsq_backward(w, spec, s1, {}, dy);
    // v = [0.6, −2.2, 8→7, 0.25, −6, 1.4]: 0.4 + 0.4 − 7 + 4·(−0.25) + 0.5·0 + (−2)·(1 − 1.4)
    CHECK(g1.dscales[0] ==
          doctest::Approx((0.4 + 0.4 - 7 - 1.0 + 0.0 + 0.8) / std::sqrt(42.0)).epsilon(1e-5));

    // unsigned symmetric (zero point 8 fixed): qn = −8, qp = 7 as for signed
    spec.is_signed = false;
    spec.granularity = quant_granularity::per_channel;
    const std::vector<std::int32_t> z{8, 8};
    std::vector<std::int32_t> qu;
    const tensor yu = lsq_forward(w, spec, s, z, &qu);
    CHECK(qu == std::vector<std::int32_t>{9, 6, 15, 8, 0, 11});
    for (int i = 0; i < 6; ++i)
        CHECK(yu.span<float>()[std::size_t(i)] == want[i]);
    const lsq_grads gu = lsq_backward(w, spec, s, z, dy);
    CHECK(gu.dscales[0] == doctest::Approx(g.dscales[0]).epsilon(1e-6));

    // errors name what is wrong
    const std::vector<float> bad{0.5f, 0.0f};
    CHECK_THROWS_AS(lsq_forward(w, spec, bad, z), hone::error);
    CHECK_THROWS_AS(lsq_forward(w, spec, s1, {}), hone::error);
    w.span<float>()[4] = NAN;
    CHECK_THROWS_AS(lsq_forward(w, spec, s, z), hone::error);
    w.span<float>()[4] = -3.0f;
    CHECK_THROWS_AS(lsq_backward(w, spec, s, z, tensor(dtype::f32, shape{3, 2})), hone::error);
}

TEST_CASE("LSQ: the scale gradient matches finite differences of a smooth surrogate") {
    // LSQ differentiates w'(s) = s·round(w/s) with the straight-through estimator, i.e. as if
    // round(w/t) were R + (w/t − w/s) near t = s (R the clamped integers at s): the smooth
    // surrogate w̃(t) = t·(R + w/t − w/s) inside the range and t·R where clipped. Central
    // differences of Σ dY·w̃(t) at t = s, times 1/√(N·Qp), must equal the scale gradient.
    quant_spec spec;
    spec.bits = 4;
    spec.granularity = quant_granularity::per_channel;
    const tensor w = random_tensor(shape{4, 16}, 5, -0.9f, 0.9f);
    const std::vector<float> s{0.11f, 0.13f, 0.07f, 0.2f};
    const tensor dy = random_tensor(shape{4, 16}, 6);
    std::vector<std::int32_t> q;
    lsq_forward(w, spec, s, {}, &q);
    const lsq_grads g = lsq_backward(w, spec, s, {}, dy);
    for (std::size_t c = 0; c < 4; ++c) {
        auto f = [&](double t) {
            double acc = 0;
            for (std::size_t k = 0; k < 16; ++k) {
                const std::size_t i = c * 16 + k;
                const double wi = w.span<float>()[i], v = wi / s[c];
                const double r = q[i];
                const bool clipped = v <= -8 || v >= 7;
                acc += dy.span<float>()[i] * (clipped ? t * r : t * (r + wi / t - v));
            }
            return acc;
        };
        const double eps = 1e-4;
        const double fd = (f(s[c] + eps) - f(s[c] - eps)) / (2 * eps);
        CHECK(g.dscales[c] == doctest::Approx(fd / std::sqrt(16.0 * 7.0)).epsilon(1e-3));
    }
}

TEST_CASE("LSQ: scale groups follow quantized_tensor's order (per channel axis 1, per group)") {
    quant_spec spec;
    spec.granularity = quant_granularity::per_channel;
    spec.channel_axis = 1;
    const auto g = scale_groups(spec, shape{2, 3});
    CHECK(g == std::vector<std::int64_t>{0, 1, 2, 0, 1, 2});
    spec.granularity = quant_granularity::per_group;
    spec.group_axis = -1;
    spec.group_size = 2;
    const auto g2 = scale_groups(spec, shape{2, 4});
    CHECK(g2 == std::vector<std::int64_t>{0, 0, 1, 1, 2, 2, 3, 3});
    spec.group_axis = 0;
    const auto g3 = scale_groups(spec, shape{4, 2});
    CHECK(g3 == std::vector<std::int64_t>{0, 1, 0, 1, 2, 3, 2, 3});
}
