// LSQ (hone/retrain/lsq.hpp): forward values, the scale gradient by hand and by finite
// differences of a smooth surrogate, and the scale groups' order.
#include "../graph/grad_check.hpp"
#include "hone/core/error.hpp"
#include "hone/retrain/lsq.hpp"

#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>

using namespace hone;
using namespace hone::retrain;
using hone::test::random_tensor;

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
