// ONNX DequantizeLinear of INT32 values (quantized biases): known values per tensor and per axis,
// bad input.
#include "ops_test_util.hpp"

namespace ops = hone::ops;
using namespace ops_test;
using hone::shape;

TEST_CASE("dequantize_int32: per tensor and per axis, exactly x · scale") {
    const auto x = make<std::int32_t>(shape{2, 3}, {-3, 0, 7, 100000, -1, 2});
    const auto one = f32(shape{}, {0.5f});
    CHECK(values<float>(ops::dequantize_int32(x.view(), one.view(), std::nullopt, 0)) ==
          std::vector<float>{-1.5f, 0.0f, 3.5f, 50000.0f, -0.5f, 1.0f});
    const auto rows = f32(shape{2}, {0.25f, 2.0f});
    CHECK(values<float>(ops::dequantize_int32(x.view(), rows.view(), std::nullopt, 0)) ==
          std::vector<float>{-0.75f, 0.0f, 1.75f, 200000.0f, -2.0f, 4.0f});
    const auto cols = f32(shape{3}, {1.0f, 2.0f, 3.0f});
    CHECK(values<float>(ops::dequantize_int32(x.view(), cols.view(), std::nullopt, -1)) ==
          std::vector<float>{-3.0f, 0.0f, 21.0f, 100000.0f, -2.0f, 6.0f});
}

TEST_CASE("dequantize_int32: an INT32 zero point per axis is subtracted exactly") {
    const auto x = make<std::int32_t>(shape{2, 2}, {2147483647, 5, -2147483647 - 1, 5});
    const auto s = f32(shape{2}, {1.0f, 0.5f});
    const auto z = make<std::int32_t>(shape{2}, {-1, 5});
    CHECK(values<float>(ops::dequantize_int32(x.view(), s.view(), z.view(), 1)) ==
          std::vector<float>{2147483648.0f, 0.0f, -2147483647.0f, 0.0f});
    const auto bad = f32(shape{2}, {1, 2});
    CHECK_THROWS_AS(ops::dequantize_int32(x.view(), s.view(), bad.view(), 1), hone::error);
}

TEST_CASE("dequantize_int32: wrong types, scale length and axis are refused") {
    const auto x = make<std::int32_t>(shape{2, 3}, {1, 2, 3, 4, 5, 6});
    const auto s3 = f32(shape{3}, {1, 2, 3});
    CHECK_THROWS_AS(ops::dequantize_int32(x.view(), s3.view(), std::nullopt, 0), hone::error);
    CHECK_THROWS_AS(ops::dequantize_int32(x.view(), s3.view(), std::nullopt, 2), hone::error);
    CHECK_THROWS_AS(ops::dequantize_int32(s3.view(), s3.view(), std::nullopt, 0), hone::error);
    const auto wrong = make<std::int32_t>(shape{3}, {1, 2, 3});
    CHECK_THROWS_AS(ops::dequantize_int32(x.view(), wrong.view(), std::nullopt, 1), hone::error);
}
