// Elementwise operators: broadcasting arithmetic, Equal, Where, activations, Clip, Cast.
#include "ops_test_util.hpp"

#include "hone/core/half.hpp"
#include "hone/core/threads.hpp"

#include <limits>

namespace ops = hone::ops;
using namespace ops_test;
using hone::dtype;
using hone::shape;
using hone::status;

TEST_CASE("binary arithmetic with numpy broadcasting: known values") {
    const auto a = f32({2, 3}, {1, 2, 3, 4, 5, 6});
    const auto row = f32({3}, {10, 20, 30});
    const auto col = f32({2, 1}, {100, 200});
    check_values(ops::add(a, row), {2, 3}, {11, 22, 33, 14, 25, 36});
    check_values(ops::sub(a, col), {2, 3}, {-99, -98, -97, -196, -195, -194});
    check_values(ops::mul(row, col), {2, 3}, {1000, 2000, 3000, 2000, 4000, 6000});
    check_values(ops::div(a, f32({}, {2})), {2, 3}, {0.5f, 1, 1.5f, 2, 2.5f, 3});
    check_values(ops::pow(a, f32({}, {2})), {2, 3}, {1, 4, 9, 16, 25, 36});
    check_values(ops::pow(f32({3}, {4, 9, 2}), f32({3}, {0.5f, 0.5f, 3})), {3}, {2, 3, 8});
    // Exponent of another dtype (ONNX Pow's T2).
    check_values(ops::pow(f32({2}, {2, 3}), i64({1}, {3})), {2}, {8, 27});
    // Rank-expanding broadcast: [2,1,3] with [4,1] → [2,4,3].
    const auto x = random_f32({2, 1, 3}, 1), y = random_f32({4, 1}, 2);
    const auto z = ops::add(x, y);
    REQUIRE(z.dims() == shape{2, 4, 3});
    for (std::int64_t i = 0; i < 2; ++i)
        for (std::int64_t j = 0; j < 4; ++j)
            for (std::int64_t k = 0; k < 3; ++k)
                CHECK(z.view().at<float>({i, j, k}) ==
                      x.view().at<float>({i, 0, k}) + y.view().at<float>({j, 0}));
}

TEST_CASE("binary arithmetic: empty and strided operands, errors") {
    const auto e = ops::add(f32({0, 3}, {}), f32({3}, {1, 2, 3}));
    CHECK(e.dims() == shape{0, 3});
    CHECK(ops::mul(f32({2, 0}, {}), f32({1, 1}, {5})).dims() == shape{2, 0});
    // A transposed (strided) view.
    const auto a = f32({2, 3}, {1, 2, 3, 4, 5, 6});
    const std::array<std::int64_t, 2> st{1, 3};
    const auto at = hone::make_view(a.data(), a.nbytes(), dtype::f32, shape{3, 2}, st);
    check_values(ops::add(at, f32({2}, {0, 10})), {3, 2}, {1, 14, 2, 15, 3, 16});
    auto msg = error_of(
        [&] {
            (void)ops::add(f32({2, 3}, {1, 2, 3, 4, 5, 6}), f32({2}, {1, 2}));
        },
        status::shape_mismatch);
    CHECK(msg.find("[2, 3]") != std::string::npos);
    error_of([&] { (void)ops::add(a, i64({1}, {1})); }, status::dtype_mismatch);
    error_of([&] { (void)ops::add(ops::cast(a, dtype::f16), ops::cast(a, dtype::f16)); },
             status::dtype_mismatch);
}

TEST_CASE("integer arithmetic for shape computations") {
    const auto s = i64({3}, {8, -7, 6});
    CHECK(values<std::int64_t>(ops::mul(s, i64({}, {2}))) ==
          std::vector<std::int64_t>{16, -14, 12});
    CHECK(values<std::int64_t>(ops::add(s, i64({1}, {1}))) == std::vector<std::int64_t>{9, -6, 7});
    CHECK(values<std::int64_t>(ops::sub(s, s)) == std::vector<std::int64_t>{0, 0, 0});
    // Truncation toward zero.
    CHECK(values<std::int64_t>(ops::div(s, i64({}, {2}))) == std::vector<std::int64_t>{4, -3, 3});
    CHECK(values<std::int64_t>(ops::pow(i64({2}, {3, -2}), i64({}, {3}))) ==
          std::vector<std::int64_t>{27, -8});
    const auto m = make<std::int32_t>({2}, {std::numeric_limits<std::int32_t>::min(), 7});
    CHECK(values<std::int32_t>(ops::div(m, make<std::int32_t>({}, {-1})))[1] == -7);
    error_of([&] { (void)ops::div(s, i64({3}, {1, 0, 1})); }, status::invalid_argument);
    error_of([&] { (void)ops::pow(s, i64({}, {-1})); }, status::invalid_argument);
}

TEST_CASE("equal and where") {
    const auto eq = ops::equal(i64({3}, {1, 2, 3}), i64({1}, {2}));
    CHECK(values<bool>(eq) == std::vector<bool>{false, true, false});
    const auto c = make<bool>({2, 1}, {true, false});
    const auto w = ops::where(c, f32({3}, {1, 2, 3}), f32({}, {-1}));
    check_values(w, {2, 3}, {1, 2, 3, -1, -1, -1});
    const auto wi = ops::where(make<bool>({2}, {false, true}), i64({2}, {1, 2}), i64({2}, {3, 4}));
    CHECK(values<std::int64_t>(wi) == std::vector<std::int64_t>{3, 2});
    error_of([&] { (void)ops::where(f32({1}, {1}), f32({1}, {1}), f32({1}, {1})); },
             status::dtype_mismatch);
    error_of([&] { (void)ops::where(c, f32({1}, {1}), i64({1}, {1})); }, status::dtype_mismatch);
}

TEST_CASE("unary activations: known values") {
    const auto x = f32({6}, {-3, -1, -0.5f, 0, 0.5f, 3});
    check_values(ops::relu(x), {6}, {0, 0, 0, 0, 0.5f, 3});
    check_values(ops::leaky_relu(x, 0.1f), {6}, {-0.3f, -0.1f, -0.05f, 0, 0.5f, 3});
    check_values(ops::hard_sigmoid(x), {6}, {0, 0.3f, 0.4f, 0.5f, 0.6f, 1});
    check_values(ops::hard_swish(x), {6},
                 {0, -1.0f / 3, -0.5f * (2.5f / 6), 0, 0.5f * (3.5f / 6), 3});
    std::vector<float> sig, th, er, ge, gt;
    for (const float v : {-3.0f, -1.0f, -0.5f, 0.0f, 0.5f, 3.0f}) {
        const double d = v;
        sig.push_back(float(1 / (1 + std::exp(-d))));
        th.push_back(float(std::tanh(d)));
        er.push_back(float(std::erf(d)));
        ge.push_back(float(0.5 * d * (1 + std::erf(d / std::sqrt(2.0)))));
        gt.push_back(
            float(0.5 * d * (1 + std::tanh(std::sqrt(2 / M_PI) * (d + 0.044715 * d * d * d)))));
    }
    check_values(ops::sigmoid(x), {6}, sig);
    check_values(ops::tanh(x), {6}, th);
    check_values(ops::erf(x), {6}, er);
    check_values(ops::gelu(x), {6}, ge);
    check_values(ops::gelu(x, ops::gelu_approximation::tanh), {6}, gt);
    // Known figures: GELU(1) = 0.8413447; tanh form 0.8411920.
    CHECK(ops::gelu(f32({1}, {1})).span<float>()[0] == doctest::Approx(0.8413447).epsilon(1e-6));
    CHECK(ops::gelu(f32({1}, {1}), ops::gelu_approximation::tanh).span<float>()[0] ==
          doctest::Approx(0.8411920).epsilon(1e-6));
    // Sigmoid does not overflow at the extremes.
    const auto s = ops::sigmoid(f32({2}, {-1000, 1000}));
    CHECK(s.span<float>()[0] == 0.0f);
    CHECK(s.span<float>()[1] == 1.0f);
    check_values(ops::sqrt(f32({3}, {0, 4, 2.25f})), {3}, {0, 2, 1.5f});
    CHECK(std::isnan(ops::sqrt(f32({1}, {-1})).span<float>()[0]));
    CHECK(std::isnan(ops::relu(f32({1}, {NAN})).span<float>()[0]));
    check_values(ops::clip(x, -1, 0.5f), {6}, {-1, -1, -0.5f, 0, 0.5f, 0.5f});
    check_values(ops::clip(x, 0), {6}, {0, 0, 0, 0, 0.5f, 3});
    error_of([&] { (void)ops::relu(i64({1}, {1})); }, status::dtype_mismatch);
    CHECK(ops::relu(f32({0, 4}, {})).dims() == shape{0, 4});
}

TEST_CASE("unary activations are identical at any thread count") {
    const auto x = random_f32({300, 257}, 7);
    const int before = hone::num_threads();
    hone::set_num_threads(1);
    const auto a = ops::gelu(x), b = ops::softmax(x, 1);
    hone::set_num_threads(4);
    const auto c = ops::gelu(x), d = ops::softmax(x, 1);
    hone::set_num_threads(before);
    CHECK(std::memcmp(a.data(), c.data(), a.nbytes()) == 0);
    CHECK(std::memcmp(b.data(), d.data(), b.nbytes()) == 0);
}

TEST_CASE("cast between f32, f16, bf16, integers and bool") {
    const auto x = f32({7}, {-2.7f, -0.5f, 0, 0.5f, 2.7f, 300, NAN});
    CHECK(values<std::int64_t>(ops::cast(x, dtype::i64)) ==
          std::vector<std::int64_t>{-2, 0, 0, 0, 2, 300, 0});
    CHECK(values<std::int8_t>(ops::cast(x, dtype::i8)) ==
          std::vector<std::int8_t>{-2, 0, 0, 0, 2, 127, 0});
    CHECK(values<std::uint8_t>(ops::cast(x, dtype::u8)) ==
          std::vector<std::uint8_t>{0, 0, 0, 0, 2, 255, 0});
    CHECK(values<bool>(ops::cast(x, dtype::boolean)) ==
          std::vector<bool>{true, true, false, true, true, true, true});
    const auto h = ops::cast(f32({2}, {1.0f / 3, 65520.0f}), dtype::f16);
    CHECK(h.span<hone::half>()[0] == hone::to_half(1.0f / 3));
    CHECK(std::isinf(hone::to_float(h.span<hone::half>()[1])));
    const auto back = ops::cast(h, dtype::f32);
    CHECK(back.span<float>()[0] == hone::to_float(hone::to_half(1.0f / 3)));
    // Integer narrowing wraps (two's complement); widening and int → float exact.
    const auto big = i64({3}, {300, -129, 1LL << 40});
    CHECK(values<std::int8_t>(ops::cast(big, dtype::i8)) == std::vector<std::int8_t>{44, 127, 0});
    CHECK(values<std::int32_t>(ops::cast(big, dtype::i32)) ==
          std::vector<std::int32_t>{300, -129, 0});
    CHECK(values<float>(ops::cast(big, dtype::f32)) ==
          std::vector<float>{300.0f, -129.0f, 1099511627776.0f});
    const auto b = make<bool>({3}, {true, false, true});
    CHECK(values<float>(ops::cast(b, dtype::f32)) == std::vector<float>{1, 0, 1});
    CHECK(values<std::int64_t>(ops::cast(b, dtype::i64)) == std::vector<std::int64_t>{1, 0, 1});
    const auto bf = ops::cast(f32({1}, {1.00390625f}), dtype::bf16); // tie → even (1.0)
    CHECK(hone::to_float(bf.span<hone::bfloat16>()[0]) == 1.0f);
    error_of([&] { (void)ops::cast(x, dtype::i4); }, status::dtype_mismatch);
}
