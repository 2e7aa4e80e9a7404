// Softmax, LogSoftmax (opset 13 and the ≤ 12 coerce-to-2D form), BatchNormalization,
// LayerNormalization, ReduceMean.
#include "ops_test_util.hpp"

namespace ops = hone::ops;
using namespace ops_test;
using hone::shape;
using hone::status;
using v64 = std::vector<std::int64_t>;

TEST_CASE("softmax and log_softmax along one axis") {
    const auto x = f32({2, 3}, {1, 2, 3, 0, 0, 0});
    const double e1 = std::exp(1.0), e2 = std::exp(2.0), e3 = std::exp(3.0), s = e1 + e2 + e3;
    check_values(ops::softmax(x), {2, 3},
                 {float(e1 / s), float(e2 / s), float(e3 / s), 1.0f / 3, 1.0f / 3, 1.0f / 3});
    check_values(ops::log_softmax(x), {2, 3},
                 {float(1 - std::log(s)), float(2 - std::log(s)), float(3 - std::log(s)),
                  float(-std::log(3.0)), float(-std::log(3.0)), float(-std::log(3.0))});
    // Axis 0: columns.
    const auto c = ops::softmax(x, 0);
    for (int j = 0; j < 3; ++j) {
        const double a = std::exp(double(j + 1)), b = 1.0;
        CHECK(c.span<float>()[j] == doctest::Approx(a / (a + b)).epsilon(1e-6));
    }
    // Large values do not overflow.
    check_values(ops::softmax(f32({2}, {1000, 1000})), {2}, {0.5f, 0.5f});
    error_of([&] { (void)ops::softmax(x, 2); }, status::out_of_range);
}

TEST_CASE("softmax: opset 13 along an axis vs opset ≤ 12 coerced to 2-D") {
    const auto x = random_f32({2, 3, 4}, 5);
    // Opset 13, axis 1: each [n, :, k] sums to 1.
    const auto y = ops::softmax(x, 1);
    for (std::int64_t n = 0; n < 2; ++n)
        for (std::int64_t k = 0; k < 4; ++k) {
            double sum = 0;
            for (std::int64_t c = 0; c < 3; ++c)
                sum += y.view().at<float>({n, c, k});
            CHECK(sum == doctest::Approx(1.0).epsilon(1e-6));
        }
    // Coerced, axis 1: the 12 values of each batch item sum to 1; equals softmax over a
    // reshaped [2, 12].
    const auto z = ops::softmax(x, 1, true);
    const auto flat = ops::softmax(ops::reshape(x, v64{2, 12}), -1);
    CHECK(values<float>(z) == values<float>(flat));
    const auto lz = ops::log_softmax(x, 1, true);
    check_close(lz, ops::reshape(ops::log_softmax(ops::reshape(x, v64{2, 12}), 1), v64{2, 3, 4}));
    // Opset 13 with axis = last equals the coerced form with axis = last.
    CHECK(values<float>(ops::softmax(x, -1)) == values<float>(ops::softmax(x, 2, true)));
}

TEST_CASE("batch normalization (inference)") {
    const auto x = f32({1, 2, 2}, {1, 2, 3, 4});
    const auto y = ops::batch_normalization(x, f32({2}, {2, 1}), f32({2}, {0.5f, -1}),
                                            f32({2}, {1.5f, 3}), f32({2}, {0.25f, 4}), 0.0f);
    // channel 0: (v − 1.5)/0.5·2 + 0.5; channel 1: (v − 3)/2 − 1.
    check_values(y, {1, 2, 2}, {-1.5f, 2.5f, -1, -0.5f});
    error_of(
        [&] {
            (void)ops::batch_normalization(x, f32({3}, {1, 1, 1}), f32({2}, {0, 0}),
                                           f32({2}, {0, 0}), f32({2}, {1, 1}));
        },
        status::shape_mismatch);
    CHECK(ops::batch_normalization(f32({0, 2, 3}, {}), f32({2}, {1, 1}), f32({2}, {0, 0}),
                                   f32({2}, {0, 0}), f32({2}, {1, 1}))
              .dims() == shape{0, 2, 3});
}

TEST_CASE("layer normalization") {
    const auto x = f32({2, 4}, {1, 2, 3, 4, 2, 2, 2, 2});
    const auto g = f32({4}, {1, 1, 2, 2}), b = f32({4}, {0, 0, 0, 1});
    const auto y = ops::layer_normalization(x, g, b.view(), -1, 1e-5f);
    const double sd = std::sqrt(1.25 + 1e-5);
    check_values(y, {2, 4},
                 {float(-1.5 / sd), float(-0.5 / sd), float(2 * 0.5 / sd), float(2 * 1.5 / sd + 1),
                  0, 0, 0, 1},
                 1e-5);
    // axis 1 of [2, 2, 2] normalizes over the last 4 values: same as a [2, 4] along −1.
    const auto x3 = random_f32({2, 2, 2}, 9), g3 = random_f32({2, 2}, 10);
    const auto a = ops::layer_normalization(x3, g3, std::nullopt, 1, 1e-5f);
    const auto r = ops::layer_normalization(ops::reshape(x3, v64{2, 4}), ops::reshape(g3, v64{4}),
                                            std::nullopt, -1, 1e-5f);
    CHECK(values<float>(a) == values<float>(r));
    error_of(
        [&] {
            (void)ops::layer_normalization(x, f32({3}, {1, 1, 1}));
        },
        status::shape_mismatch);
}

TEST_CASE("reduce_mean") {
    const auto x = f32({2, 3}, {1, 2, 3, 4, 5, 6});
    check_values(ops::reduce_mean(x, v64{1}), {2, 1}, {2, 5});
    check_values(ops::reduce_mean(x, v64{0}, false), {3}, {2.5f, 3.5f, 4.5f});
    check_values(ops::reduce_mean(x), {1, 1}, {3.5f});
    check_values(ops::reduce_mean(x, {}, false), {}, {3.5f});
    check_values(ops::reduce_mean(x, {}, true, true), {2, 3}, {1, 2, 3, 4, 5, 6});
    const auto y = random_f32({2, 3, 4}, 3);
    const auto m = ops::reduce_mean(y, v64{-1, 0});
    REQUIRE(m.dims() == shape{1, 3, 1});
    for (std::int64_t c = 0; c < 3; ++c) {
        double s = 0;
        for (std::int64_t n = 0; n < 2; ++n)
            for (std::int64_t k = 0; k < 4; ++k)
                s += y.view().at<float>({n, c, k});
        CHECK(m.view().at<float>({0, c, 0}) == doctest::Approx(s / 8).epsilon(1e-6));
    }
    CHECK(std::isnan(ops::reduce_mean(f32({2, 0}, {}), v64{1}).span<float>()[0]));
    error_of([&] { (void)ops::reduce_mean(x, v64{1, -1}); }, status::invalid_argument);
    error_of([&] { (void)ops::reduce_mean(x, v64{2}); }, status::out_of_range);
}

TEST_CASE("reduce_mean: the trailing-axes fast path agrees with the strided path") {
    const auto x = random_f32({3, 4, 5}, 17);
    // Trailing axes of a contiguous tensor (fast) vs the same data through a transposed copy
    // reduced over leading axes (general path).
    const auto fast = ops::reduce_mean(x, v64{1, 2}, false);
    const auto moved = ops::transpose(x, v64{1, 2, 0});
    const auto general = ops::reduce_mean(moved, v64{0, 1}, false);
    check_close(fast, general, 1e-6);
    // And a strided (non-contiguous) view reduced over its trailing axis.
    const std::array<std::int64_t, 2> st{1, 6}; // the transpose of base
    const auto base = random_f32({4, 6}, 18);
    const auto view =
        hone::make_view(base.data(), base.nbytes(), hone::dtype::f32, shape{6, 4}, st);
    const auto m = ops::reduce_mean(view, v64{1}, false);
    const auto m_ref = ops::reduce_mean(base, v64{0}, false);
    check_close(m, m_ref, 1e-6);
}
