// Shape and data-movement operators: Flatten, Reshape, Transpose, Concat, Slice, Squeeze,
// Unsqueeze, Gather, Shape, Expand.
#include "ops_test_util.hpp"

#include <limits>
#include <numeric>

namespace ops = hone::ops;
using namespace ops_test;
using hone::dtype;
using hone::shape;
using hone::status;
using v64 = std::vector<std::int64_t>;

namespace {
hone::tensor iota_f32(const shape& dims) {
    std::vector<float> v(static_cast<std::size_t>(dims.numel()));
    std::iota(v.begin(), v.end(), 0.0f);
    return f32(dims, v);
}
constexpr std::int64_t big = std::numeric_limits<std::int64_t>::max();
constexpr std::int64_t small = std::numeric_limits<std::int64_t>::min();
} // namespace

TEST_CASE("flatten and reshape") {
    const auto x = iota_f32({2, 3, 4});
    CHECK(ops::flatten(x, 1).dims() == shape{2, 12});
    CHECK(ops::flatten(x, 0).dims() == shape{1, 24});
    CHECK(ops::flatten(x, 3).dims() == shape{24, 1});
    CHECK(ops::flatten(x, -1).dims() == shape{6, 4});
    CHECK(values<float>(ops::flatten(x, 2)) == values<float>(x));
    error_of([&] { (void)ops::flatten(x, 4); }, status::out_of_range);

    CHECK(ops::reshape_shape({2, 3, 4}, v64{0, -1}) == shape{2, 12});
    CHECK(ops::reshape_shape({2, 3, 4}, v64{-1}) == shape{24});
    CHECK(ops::reshape_shape({2, 3, 4}, v64{4, 0, 2}) == shape{4, 3, 2});
    CHECK(ops::reshape_shape({0, 3}, v64{0, 3}, true) == shape{0, 3});
    CHECK(ops::reshape_shape({0, 3}, v64{3, 0}, true) == shape{3, 0});
    CHECK(ops::reshape_shape({0, 3}, v64{-1, 3}) == shape{0, 3});
    error_of([&] { (void)ops::reshape_shape({2, 3}, v64{-1, -1}); }, status::invalid_argument);
    error_of([&] { (void)ops::reshape_shape({2, 3}, v64{4, -1}); }, status::shape_mismatch);
    error_of([&] { (void)ops::reshape_shape({2, 3}, v64{5}); }, status::shape_mismatch);
    error_of([&] { (void)ops::reshape_shape({2, 3}, v64{0, 0, 0}); }, status::shape_mismatch);
    error_of([&] { (void)ops::reshape_shape({2, 0}, v64{0, -1}, true); }, status::invalid_argument);
    error_of([&] { (void)ops::reshape_shape({2, 3}, v64{-2, 3}); }, status::invalid_argument);
    const auto r = ops::reshape(x, v64{4, -1});
    CHECK(r.dims() == shape{4, 6});
    CHECK(values<float>(r) == values<float>(x));
    // i64 data reshapes too.
    CHECK(ops::reshape(i64({2, 2}, {1, 2, 3, 4}), v64{4}).dims() == shape{4});
}

TEST_CASE("transpose") {
    const auto x = iota_f32({2, 3, 4});
    const auto t = ops::transpose(x, v64{2, 0, 1});
    REQUIRE(t.dims() == shape{4, 2, 3});
    for (std::int64_t i = 0; i < 4; ++i)
        for (std::int64_t j = 0; j < 2; ++j)
            for (std::int64_t k = 0; k < 3; ++k)
                CHECK(t.view().at<float>({i, j, k}) == x.view().at<float>({j, k, i}));
    const auto rev = ops::transpose(x);
    CHECK(rev.dims() == shape{4, 3, 2});
    CHECK(rev.view().at<float>({3, 1, 0}) == x.view().at<float>({0, 1, 3}));
    // Transposing back restores the input.
    CHECK(values<float>(ops::transpose(t, v64{1, 2, 0})) == values<float>(x));
    error_of([&] { (void)ops::transpose(x, v64{0, 0, 1}); }, status::invalid_argument);
    error_of([&] { (void)ops::transpose(x, v64{0, 1}); }, status::invalid_argument);
    CHECK(ops::transpose(f32({0, 2}, {})).dims() == shape{2, 0});
}

TEST_CASE("concat") {
    const auto a = iota_f32({2, 2}), b = f32({2, 1}, {10, 11});
    const std::vector<hone::const_tensor_view> in{a, b};
    const auto c = ops::concat(in, 1);
    check_values(c, {2, 3}, {0, 1, 10, 2, 3, 11});
    const auto extra = f32({1, 2}, {7, 8});
    const std::vector<hone::const_tensor_view> rows{a, extra};
    check_values(ops::concat(rows, -2), {3, 2}, {0, 1, 2, 3, 7, 8});
    // Shape arithmetic: concat of i64 vectors, including an empty one.
    const auto s1 = i64({2}, {1, 2}), s0 = i64({0}, {}), s2 = i64({1}, {-1});
    const std::vector<hone::const_tensor_view> shapes{s1, s0, s2};
    CHECK(values<std::int64_t>(ops::concat(shapes, 0)) == v64{1, 2, -1});
    const auto tall = f32({3, 1}, {1, 2, 3});
    const std::vector<hone::const_tensor_view> bad{a, tall};
    error_of([&] { (void)ops::concat(bad, 1); }, status::shape_mismatch);
    const auto ints = i64({2, 1}, {1, 2});
    const std::vector<hone::const_tensor_view> mixed{a, ints};
    error_of([&] { (void)ops::concat(mixed, 1); }, status::dtype_mismatch);
}

TEST_CASE("slice: negatives, steps, clamping") {
    const auto x = iota_f32({10});
    check_values(ops::slice(x, v64{2}, v64{5}), {3}, {2, 3, 4});
    check_values(ops::slice(x, v64{-3}, v64{big}), {3}, {7, 8, 9});
    check_values(ops::slice(x, v64{1}, v64{-1}, v64{0}, v64{3}), {3}, {1, 4, 7});
    check_values(ops::slice(x, v64{-1}, v64{small}, {}, v64{-1}), {10},
                 {9, 8, 7, 6, 5, 4, 3, 2, 1, 0});
    check_values(ops::slice(x, v64{8}, v64{1}, {}, v64{-3}), {3}, {8, 5, 2});
    check_values(ops::slice(x, v64{20}, v64{-20}, {}, v64{-4}), {3}, {9, 5, 1});
    CHECK(ops::slice(x, v64{5}, v64{2}).dims() == shape{0});
    CHECK(ops::slice(x, v64{-100}, v64{100}).dims() == shape{10});
    const auto m = iota_f32({3, 4});
    check_values(ops::slice(m, v64{1, 1}, v64{3, 3}, v64{-1, 0}), {2, 2}, {5, 6, 9, 10});
    check_values(ops::slice(m, v64{0}, v64{big}, v64{1}, v64{2}), {3, 2}, {0, 2, 4, 6, 8, 10});
    error_of([&] { (void)ops::slice(x, v64{0}, v64{1}, {}, v64{0}); }, status::invalid_argument);
    error_of(
        [&] {
            (void)ops::slice(m, v64{0, 0}, v64{1, 1}, v64{1, -1});
        },
        status::invalid_argument);
    error_of([&] { (void)ops::slice(m, v64{0}, v64{1}, v64{2}); }, status::out_of_range);
    error_of([&] { (void)ops::slice(m, v64{0}, v64{1, 2}); }, status::invalid_argument);
    // i64 (a shape being sliced, as exporters do with Shape → Slice).
    CHECK(values<std::int64_t>(ops::slice(i64({4}, {8, 3, 28, 28}), v64{2}, v64{big})) ==
          v64{28, 28});
}

TEST_CASE("squeeze and unsqueeze") {
    const auto x = iota_f32({1, 3, 1, 2});
    CHECK(ops::squeeze(x).dims() == shape{3, 2});
    CHECK(ops::squeeze(x, v64{-2}).dims() == shape{1, 3, 2});
    error_of([&] { (void)ops::squeeze(x, v64{1}); }, status::shape_mismatch);
    CHECK(ops::unsqueeze(iota_f32({3, 2}), v64{0, 3}).dims() == shape{1, 3, 2, 1});
    CHECK(ops::unsqueeze(iota_f32({3, 2}), v64{-1}).dims() == shape{3, 2, 1});
    CHECK(ops::unsqueeze(f32({}, {5}), v64{0}).dims() == shape{1});
    error_of([&] { (void)ops::unsqueeze(x, v64{0, 0}); }, status::invalid_argument);
    error_of([&] { (void)ops::unsqueeze(x, v64{6}); }, status::out_of_range);
    CHECK(values<float>(ops::unsqueeze(x, v64{1})) == values<float>(x));
}

TEST_CASE("gather: axes, negative indices, index shapes") {
    const auto x = iota_f32({3, 4});
    check_values(ops::gather(x, i64({2}, {2, -3}), 0), {2, 4}, {8, 9, 10, 11, 0, 1, 2, 3});
    check_values(ops::gather(x, i64({2, 2}, {0, 3, -1, 1}), 1), {3, 2, 2},
                 {0, 3, 3, 1, 4, 7, 7, 5, 8, 11, 11, 9});
    const auto scalar = ops::gather(x, i64({}, {1}), 0);
    check_values(scalar, {4}, {4, 5, 6, 7});
    // Shape[0] the way exporters write it: Gather(Shape(x), 0) with i32 indices.
    const auto s = ops::shape_of(shape{8, 1, 28, 28});
    CHECK(values<std::int64_t>(ops::gather(s, make<std::int32_t>({}, {0}), 0)) == v64{8});
    auto msg = error_of([&] { (void)ops::gather(x, i64({1}, {3}), 0); }, status::out_of_range);
    CHECK(msg.find("index 3") != std::string::npos);
    error_of([&] { (void)ops::gather(x, i64({1}, {-5}), 1); }, status::out_of_range);
    error_of([&] { (void)ops::gather(x, f32({1}, {0}), 0); }, status::dtype_mismatch);
    CHECK(ops::gather(x, i64({0}, {}), 1).dims() == shape{3, 0});
}

TEST_CASE("shape with start and end") {
    const shape s{2, 3, 4, 5};
    CHECK(values<std::int64_t>(ops::shape_of(s)) == v64{2, 3, 4, 5});
    CHECK(values<std::int64_t>(ops::shape_of(s, 1, 3)) == v64{3, 4});
    CHECK(values<std::int64_t>(ops::shape_of(s, -1)) == v64{5});
    CHECK(values<std::int64_t>(ops::shape_of(s, -10, 10)) == v64{2, 3, 4, 5});
    CHECK(ops::shape_of(s, 3, 1).numel() == 0);
    CHECK(ops::shape_of(shape{}).dims() == shape{0});
}

TEST_CASE("expand") {
    const auto x = f32({3, 1}, {1, 2, 3});
    check_values(ops::expand(x, v64{2, 3, 2}), {2, 3, 2}, {1, 1, 2, 2, 3, 3, 1, 1, 2, 2, 3, 3});
    check_values(ops::expand(x, v64{1, 1}), {3, 1}, {1, 2, 3}); // bidirectional: keeps 3
    error_of([&] { (void)ops::expand(x, v64{2, 2}); }, status::shape_mismatch);
    CHECK(ops::expand(x, v64{3, 0}).dims() == shape{3, 0});
}
