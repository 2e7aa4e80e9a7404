// Indexing operators: Pad, Split, Tile, Range, Trilu, TopK, GatherElements, ScatterND,
// ScatterElements, Size, NonZero, OneHot — directly (known values, independent formulas) and
// through hone::executor on small hand-built models.
#include "../../src/graph/ops/indexing.hpp"
#include "ops_test_util.hpp"

#include <hone/core/half.hpp>
#include <hone/core/threads.hpp>
#include <hone/graph/executor.hpp>
#include <hone/model/model.hpp>

#include <algorithm>
#include <limits>
#include <map>
#include <numeric>

// executor_options are given as designated initializers naming only what a test changes.
#pragma GCC diagnostic ignored "-Wmissing-field-initializers"

namespace ops = hone::ops;
using namespace ops_test;
using hone::dtype;
using hone::shape;
using hone::status;
using hone::tensor;
using v64 = std::vector<std::int64_t>;

namespace {

tensor iota_f32(const shape& dims, float from = 0.0f) {
    std::vector<float> v(static_cast<std::size_t>(dims.numel()));
    std::iota(v.begin(), v.end(), from);
    return f32(dims, v);
}

tensor scalar_f32(float v) { return make<float>(shape{}, {v}); }
tensor scalar_i64(std::int64_t v) { return make<std::int64_t>(shape{}, {v}); }

// Runs fn at 1 and at 4 threads; the results must be byte-identical.
template <class Fn> void check_thread_independent(Fn&& fn) {
    const int before = hone::num_threads();
    hone::set_num_threads(1);
    const tensor one = fn();
    hone::set_num_threads(4);
    const tensor four = fn();
    hone::set_num_threads(before);
    REQUIRE(one.dims() == four.dims());
    REQUIRE(one.nbytes() == four.nbytes());
    CHECK(std::memcmp(one.data(), four.data(), one.nbytes()) == 0);
}

// An index outside [0, n) brought back by bouncing off the ends (numpy's "reflect", computed
// step by step rather than by a period).
std::int64_t bounce(std::int64_t i, std::int64_t n) {
    if (n == 1) return 0;
    while (i < 0 || i >= n)
        i = i < 0 ? -i : 2 * (n - 1) - i;
    return i;
}

} // namespace

// ---- Pad ----------------------------------------------------------------------------------------

TEST_CASE("pad: the ONNX examples (constant, reflect, edge)") {
    const auto x = f32({3, 2}, {1.0f, 1.2f, 2.3f, 3.4f, 4.5f, 5.7f});
    const v64 pads{0, 2, 0, 0};
    check_values(ops::pad(x, pads), {3, 4}, {0, 0, 1.0f, 1.2f, 0, 0, 2.3f, 3.4f, 0, 0, 4.5f, 5.7f});
    check_values(ops::pad(x, pads, ops::pad_mode::reflect), {3, 4},
                 {1.0f, 1.2f, 1.0f, 1.2f, 2.3f, 3.4f, 2.3f, 3.4f, 4.5f, 5.7f, 4.5f, 5.7f});
    check_values(ops::pad(x, pads, ops::pad_mode::edge), {3, 4},
                 {1.0f, 1.0f, 1.0f, 1.2f, 2.3f, 2.3f, 2.3f, 3.4f, 4.5f, 4.5f, 4.5f, 5.7f});
}

TEST_CASE("pad: modes on known rows, pads larger than the dim, constant values") {
    const auto a = iota_f32({4});
    // numpy.pad(arange(4), (4, 4), 'reflect')
    check_values(ops::pad(a, v64{4, 4}, ops::pad_mode::reflect), {12},
                 {2, 3, 2, 1, 0, 1, 2, 3, 2, 1, 0, 1});
    // wrap is periodic: position p holds element p mod 3.
    check_values(ops::pad(iota_f32({3}), v64{4, 2}, ops::pad_mode::wrap), {9},
                 {2, 0, 1, 2, 0, 1, 2, 0, 1});
    check_values(ops::pad(a, v64{2, 3}, ops::pad_mode::edge), {9}, {0, 0, 0, 1, 2, 3, 3, 3, 3});
    // A dim of one reflects onto itself.
    check_values(ops::pad(f32({1}, {7}), v64{2, 1}, ops::pad_mode::reflect), {4}, {7, 7, 7, 7});
    const auto v = scalar_f32(-1.5f);
    check_values(ops::pad(a, v64{1, 2}, ops::pad_mode::constant, v.view()), {7},
                 {-1.5f, 0, 1, 2, 3, -1.5f, -1.5f});
    // numpy.pad([[1,2,3],[4,5,6]], ((1,2),(2,1)), 'reflect')
    const auto m = f32({2, 3}, {1, 2, 3, 4, 5, 6});
    check_values(
        ops::pad(m, v64{1, 2, 2, 1}, ops::pad_mode::reflect), {5, 6},
        {6, 5, 4, 5, 6, 5, 3, 2, 1, 2, 3, 2, 6, 5, 4, 5, 6, 5, 3, 2, 1, 2, 3, 2, 6, 5, 4, 5, 6, 5});
}

TEST_CASE("pad: negative pads crop first, then the positive side pads from the cropped data") {
    const auto a = iota_f32({5}); // 0 1 2 3 4
    check_values(ops::pad(a, v64{-1, -2}), {2}, {1, 2});
    // Crop [1:], then reflect two at the end: 1 2 3 4 | 3 2.
    check_values(ops::pad(a, v64{-1, 2}, ops::pad_mode::reflect), {6}, {1, 2, 3, 4, 3, 2});
    // Crop two at the end, then edge: 0 0 | 0 1 2.
    check_values(ops::pad(a, v64{2, -2}, ops::pad_mode::edge), {5}, {0, 0, 0, 1, 2});
    check_values(ops::pad(a, v64{-5, 0}), {0}, {});
    error_of([&] { (void)ops::pad(a, v64{-4, -2}); }, status::invalid_argument);
    error_of([&] { (void)ops::pad(a, v64{-6, 3}); }, status::invalid_argument);
}

TEST_CASE("pad: axes (opset 18) and every mode against a step-by-step reference") {
    const auto x = iota_f32({2, 3, 4});
    // axes [-1, 0]: pads = [b_last, b_0, e_last, e_0].
    const auto y = ops::pad(x, v64{1, 0, 2, 1}, ops::pad_mode::constant, std::nullopt, v64{-1, 0});
    REQUIRE(y.dims() == shape{3, 3, 7});
    for (std::int64_t i = 0; i < 3; ++i)
        for (std::int64_t j = 0; j < 3; ++j)
            for (std::int64_t k = 0; k < 7; ++k) {
                const bool inside = i < 2 && k >= 1 && k < 5;
                CHECK(y.view().at<float>({i, j, k}) ==
                      (inside ? x.view().at<float>({i, j, k - 1}) : 0.0f));
            }
    error_of(
        [&] {
            (void)ops::pad(x, v64{1, 1}, ops::pad_mode::constant, std::nullopt, v64{1, -2});
        },
        status::invalid_argument); // axis 1 repeated
    // Larger pads than the dims, on two axes, each mode.
    const v64 b{5, 3}, e{2, 7};
    for (const auto mode : {ops::pad_mode::reflect, ops::pad_mode::edge, ops::pad_mode::wrap}) {
        const auto m = iota_f32({3, 4});
        const auto p = ops::pad(m, v64{b[0], b[1], e[0], e[1]}, mode);
        REQUIRE(p.dims() == shape{10, 14});
        for (std::int64_t i = 0; i < 10; ++i)
            for (std::int64_t j = 0; j < 14; ++j) {
                auto map = [mode](std::int64_t o, std::int64_t n) {
                    if (mode == ops::pad_mode::edge) return std::clamp<std::int64_t>(o, 0, n - 1);
                    if (mode == ops::pad_mode::wrap) {
                        while (o < 0)
                            o += n;
                        return o % n;
                    }
                    return bounce(o, n);
                };
                CHECK(p.view().at<float>({i, j}) ==
                      m.view().at<float>({map(i - b[0], 3), map(j - b[1], 4)}));
            }
    }
}

TEST_CASE("pad: dtypes, strided input, errors") {
    const auto ints = i64({2, 2}, {1, 2, 3, 4});
    const auto nine = scalar_i64(9);
    CHECK(values<std::int64_t>(ops::pad(ints, v64{0, 1, 0, 0}, ops::pad_mode::constant,
                                        nine.view())) == v64{9, 1, 2, 9, 3, 4});
    const auto flags = make<bool>({3}, {true, false, true});
    CHECK(values<bool>(ops::pad(flags, v64{1, 1}, ops::pad_mode::edge)) ==
          std::vector<bool>{true, true, false, true, true});
    const auto h = make<hone::half>({2}, {hone::to_half(1.5f), hone::to_half(-2.0f)});
    const auto hv = make<hone::half>(shape{}, {hone::to_half(3.0f)});
    const auto hp = ops::pad(h, v64{0, 1}, ops::pad_mode::constant, hv.view());
    REQUIRE(hp.dims() == shape{3});
    CHECK(hone::to_float(hp.span<hone::half>()[2]) == 3.0f);
    CHECK(hone::to_float(hp.span<hone::half>()[1]) == -2.0f);
    // A transposed view pads like its contiguous copy.
    const auto m = iota_f32({2, 3});
    const auto t = hone::const_tensor_view(m.data(), dtype::f32, shape{3, 2}, {1, 3});
    check_values(ops::pad(t, v64{0, 1, 0, 0}, ops::pad_mode::wrap), {3, 3},
                 {3, 0, 3, 4, 1, 4, 5, 2, 5});
    // A scalar pads to itself.
    check_values(ops::pad(scalar_f32(2.0f), v64{}), {}, {2.0f});

    auto msg = error_of([&] { (void)ops::pad(m, v64{1, 1}); }, status::invalid_argument);
    CHECK(msg.find("ops::pad") != std::string::npos);
    CHECK(msg.find("pads") != std::string::npos);
    msg = error_of(
        [&] {
            (void)ops::pad(m, v64{0, 0, 0, 1}, ops::pad_mode::constant, nine.view());
        },
        status::dtype_mismatch);
    CHECK(msg.find("constant_value") != std::string::npos);
    const auto empty = f32({2, 0}, {});
    error_of(
        [&] {
            (void)ops::pad(empty, v64{0, 1, 0, 1}, ops::pad_mode::reflect);
        },
        status::invalid_argument);
    CHECK(ops::pad(empty, v64{0, 1, 0, 1}).dims() == shape{2, 2});
    error_of(
        [&] {
            (void)ops::pad(m, v64{0, 0, 0, 0, 0, 0}, ops::pad_mode::constant, std::nullopt,
                           v64{0, 2});
        },
        status::out_of_range);
}

// ---- Split, Tile --------------------------------------------------------------------------------

TEST_CASE("split: given sizes, equal parts, num_outputs parts") {
    const auto x = iota_f32({2, 5});
    const auto parts = ops::split(x, v64{1, 4}, 1);
    REQUIRE(parts.size() == 2);
    check_values(parts[0], {2, 1}, {0, 5});
    check_values(parts[1], {2, 4}, {1, 2, 3, 4, 6, 7, 8, 9});
    const auto rows = ops::split(x, v64{1, 1}, -2);
    check_values(rows[1], {1, 5}, {5, 6, 7, 8, 9});
    // Zero-size parts are valid.
    const auto z = ops::split(x, v64{0, 5}, 1);
    CHECK(z[0].dims() == shape{2, 0});
    CHECK(ops::split_sizes(6, 3, false) == v64{2, 2, 2});
    CHECK(ops::split_sizes(5, 3, true) == v64{2, 2, 1});
    CHECK(ops::split_sizes(6, 3, true) == v64{2, 2, 2});
    error_of([] { (void)ops::split_sizes(5, 3, false); }, status::invalid_argument);
    error_of([] { (void)ops::split_sizes(5, 4, true); }, status::invalid_argument); // 2, 2, 2, −1
    error_of([] { (void)ops::split_sizes(5, 0, true); }, status::invalid_argument);
    const auto msg = error_of([&] { (void)ops::split(x, v64{2, 2}, 1); }, status::invalid_argument);
    CHECK(msg.find("split") != std::string::npos);
    error_of([&] { (void)ops::split(x, v64{6, -1}, 1); }, status::invalid_argument);
    error_of([&] { (void)ops::split(x, v64{5}, 2); }, status::out_of_range);
    // Any dtype.
    const auto s = ops::split(make<std::uint8_t>({4}, {1, 2, 3, 4}), v64{3, 1});
    CHECK(values<std::uint8_t>(s[1]) == std::vector<std::uint8_t>{4});
}

TEST_CASE("tile: the ONNX example and an independent index formula") {
    check_values(ops::tile(f32({2, 2}, {1, 2, 3, 4}), v64{1, 2}), {2, 4}, {1, 2, 1, 2, 3, 4, 3, 4});
    const auto x = iota_f32({2, 3, 2});
    const auto y = ops::tile(x, v64{3, 1, 2});
    REQUIRE(y.dims() == shape{6, 3, 4});
    for (std::int64_t i = 0; i < 6; ++i)
        for (std::int64_t j = 0; j < 3; ++j)
            for (std::int64_t k = 0; k < 4; ++k)
                CHECK(y.view().at<float>({i, j, k}) == x.view().at<float>({i % 2, j, k % 2}));
    CHECK(ops::tile(x, v64{1, 0, 1}).dims() == shape{2, 0, 2});
    CHECK(values<std::int64_t>(ops::tile(i64({2}, {5, 6}), v64{2})) == v64{5, 6, 5, 6});
    auto msg = error_of([&] { (void)ops::tile(x, v64{1, 2}); }, status::invalid_argument);
    CHECK(msg.find("repeats") != std::string::npos);
    error_of([&] { (void)ops::tile(x, v64{1, -1, 1}); }, status::invalid_argument);
}

// ---- Range, Trilu -------------------------------------------------------------------------------

TEST_CASE("range: the ONNX examples, f32, i32, extremes, errors") {
    auto r = ops::range(scalar_i64(3), scalar_i64(9), scalar_i64(3));
    CHECK(r.type() == dtype::i64);
    CHECK(values<std::int64_t>(r) == v64{3, 6});
    CHECK(values<std::int64_t>(ops::range(scalar_i64(10), scalar_i64(4), scalar_i64(-2))) ==
          v64{10, 8, 6});
    CHECK(ops::range(scalar_i64(4), scalar_i64(10), scalar_i64(-2)).dims() == shape{0});
    check_values(ops::range(scalar_f32(0), scalar_f32(1), scalar_f32(0.25f)), {4},
                 {0, 0.25f, 0.5f, 0.75f});
    // ceil((1 − 0.1) / 0.3) = 3 elements (0.1, 0.4, 0.7).
    check_values(ops::range(scalar_f32(0.1f), scalar_f32(1.0f), scalar_f32(0.3f)), {3},
                 {0.1f, 0.4f, 0.7f}, 1e-6);
    const auto i32 = [](std::int32_t v) { return make<std::int32_t>(shape{}, {v}); };
    const auto ri = ops::range(i32(-3), i32(3), i32(4));
    CHECK(ri.type() == dtype::i32);
    CHECK(values<std::int32_t>(ri) == std::vector<std::int32_t>{-3, 1});
    // The whole int64 range in four steps: no overflow in the length or the values.
    constexpr auto lo = std::numeric_limits<std::int64_t>::min();
    constexpr auto hi = std::numeric_limits<std::int64_t>::max();
    constexpr std::int64_t q = std::int64_t{1} << 62;
    CHECK(values<std::int64_t>(ops::range(scalar_i64(lo), scalar_i64(hi), scalar_i64(q))) ==
          v64{lo, -q, 0, q});
    // One-element 1-D inputs are accepted as scalars.
    CHECK(values<std::int64_t>(ops::range(i64({1}, {0}), i64({1}, {3}), i64({1}, {1}))) ==
          v64{0, 1, 2});
    auto msg = error_of([&] { (void)ops::range(scalar_i64(0), scalar_i64(3), scalar_i64(0)); },
                        status::invalid_argument);
    CHECK(msg.find("delta") != std::string::npos);
    msg = error_of([&] { (void)ops::range(scalar_i64(0), scalar_f32(3), scalar_i64(1)); },
                   status::dtype_mismatch);
    CHECK(msg.find("limit") != std::string::npos);
    error_of(
        [&] {
            (void)ops::range(i64({2}, {0, 1}), scalar_i64(3), scalar_i64(1));
        },
        status::shape_mismatch);
    error_of([&] { (void)ops::range(scalar_f32(0), scalar_f32(INFINITY), scalar_f32(1)); },
             status::invalid_argument);
}

TEST_CASE("trilu: upper and lower for several k against j − i ≥ k / ≤ k") {
    const auto x = iota_f32({2, 3, 4}, 1.0f);
    for (const std::int64_t k : {-4, -1, 0, 1, 2, 5})
        for (const bool upper : {true, false}) {
            CAPTURE(k);
            CAPTURE(upper);
            const auto y = ops::trilu(x, k, upper);
            REQUIRE(y.dims() == x.dims());
            for (std::int64_t b = 0; b < 2; ++b)
                for (std::int64_t i = 0; i < 3; ++i)
                    for (std::int64_t j = 0; j < 4; ++j) {
                        const bool keep = upper ? j - i >= k : j - i <= k;
                        CHECK(y.view().at<float>({b, i, j}) ==
                              (keep ? x.view().at<float>({b, i, j}) : 0.0f));
                    }
        }
    // torch.triu([[1, 2], [3, 4]]) and tril with bool.
    check_values(ops::trilu(f32({2, 2}, {1, 2, 3, 4})), {2, 2}, {1, 2, 0, 4});
    CHECK(values<bool>(ops::trilu(make<bool>({2, 2}, {true, true, true, true}), 0, false)) ==
          std::vector<bool>{true, false, true, true});
    error_of([] { (void)ops::trilu(f32({3}, {1, 2, 3})); }, status::shape_mismatch);
}

// ---- TopK ---------------------------------------------------------------------------------------

TEST_CASE("topk: largest and smallest, ties by lower index, NaN, axes, dtypes") {
    const auto x = f32({5}, {3, 1, 3, 2, 3});
    auto r = ops::topk(x, 2);
    REQUIRE(r.size() == 2);
    check_values(r[0], {2}, {3, 3});
    CHECK(r[1].type() == dtype::i64);
    CHECK(values<std::int64_t>(r[1]) == v64{0, 2});
    r = ops::topk(x, 4, 0, false);
    check_values(r[0], {4}, {1, 2, 3, 3});
    CHECK(values<std::int64_t>(r[1]) == v64{1, 3, 0, 2});
    // NaN ranks above +inf.
    const auto n = f32({4}, {1, NAN, INFINITY, -1});
    r = ops::topk(n, 2);
    CHECK(std::isnan(r[0].span<float>()[0]));
    CHECK(values<std::int64_t>(r[1]) == v64{1, 2});
    r = ops::topk(n, 4, -1, false);
    CHECK(values<std::int64_t>(r[1]) == v64{3, 0, 2, 1});
    // Axis 0 of a matrix.
    const auto m = f32({3, 2}, {1, 9, 5, 2, 3, 7});
    r = ops::topk(m, 2, 0);
    check_values(r[0], {2, 2}, {5, 9, 3, 7});
    CHECK(values<std::int64_t>(r[1]) == v64{1, 0, 2, 2});
    CHECK(ops::topk(m, 0, 0)[0].dims() == shape{0, 2});
    const auto ints = i64({4}, {-5, 7, 7, 0});
    r = ops::topk(ints, 3);
    CHECK(values<std::int64_t>(r[0]) == v64{7, 7, 0});
    CHECK(values<std::int64_t>(r[1]) == v64{1, 2, 3});
    const auto h =
        make<hone::half>({3}, {hone::to_half(0.5f), hone::to_half(-1.0f), hone::to_half(2.0f)});
    CHECK(values<std::int64_t>(ops::topk(h, 1, 0, false)[1]) == v64{1});
    auto msg = error_of([&] { (void)ops::topk(x, 6); }, status::invalid_argument);
    CHECK(msg.find("K") != std::string::npos);
    error_of([&] { (void)ops::topk(make<bool>({2}, {true, false}), 1); }, status::dtype_mismatch);
    error_of([&] { (void)ops::topk(x, 1, 1); }, status::out_of_range);
}

TEST_CASE("topk: random rows against a full stable sort") {
    const auto x = random_f32({7, 33, 5}, 11);
    const auto r = ops::topk(x, 9, 1);
    REQUIRE(r[0].dims() == shape{7, 9, 5});
    for (std::int64_t a = 0; a < 7; ++a)
        for (std::int64_t c = 0; c < 5; ++c) {
            std::vector<std::int64_t> order(33);
            std::iota(order.begin(), order.end(), 0);
            std::stable_sort(order.begin(), order.end(), [&](std::int64_t i, std::int64_t j) {
                return x.view().at<float>({a, i, c}) > x.view().at<float>({a, j, c});
            });
            for (std::int64_t j = 0; j < 9; ++j) {
                CHECK(r[1].view().at<std::int64_t>({a, j, c}) ==
                      order[static_cast<std::size_t>(j)]);
                CHECK(r[0].view().at<float>({a, j, c}) ==
                      x.view().at<float>({a, order[static_cast<std::size_t>(j)], c}));
            }
        }
}

// ---- GatherElements, ScatterND, ScatterElements -------------------------------------------------

TEST_CASE("gather_elements: the ONNX examples, negative indices, errors") {
    const auto d1 = f32({2, 2}, {1, 2, 3, 4});
    check_values(ops::gather_elements(d1, i64({2, 2}, {0, 0, 1, 0}), 1), {2, 2}, {1, 1, 4, 3});
    const auto d2 = f32({3, 3}, {1, 2, 3, 4, 5, 6, 7, 8, 9});
    check_values(ops::gather_elements(d2, i64({2, 3}, {1, 2, 0, 2, 0, 0}), 0), {2, 3},
                 {4, 8, 3, 7, 2, 3});
    check_values(ops::gather_elements(d2, make<std::int32_t>({1, 2}, {-1, -3}), -1), {1, 2},
                 {3, 1});
    auto msg = error_of(
        [&] {
            (void)ops::gather_elements(d2, i64({1, 1}, {3}), 1);
        },
        status::out_of_range);
    CHECK(msg.find("index 3") != std::string::npos);
    error_of(
        [&] {
            (void)ops::gather_elements(d2, i64({4, 1}, {0, 0, 0, 0}), 1);
        },
        status::shape_mismatch);
    error_of(
        [&] {
            (void)ops::gather_elements(d2, i64({3}, {0, 0, 0}), 0);
        },
        status::shape_mismatch);
    error_of([&] { (void)ops::gather_elements(d2, f32({1, 1}, {0}), 0); }, status::dtype_mismatch);
}

TEST_CASE("scatter_nd: the ONNX examples and the reductions") {
    const auto d = f32({8}, {1, 2, 3, 4, 5, 6, 7, 8});
    const auto idx = i64({4, 1}, {4, 3, 1, 7});
    const auto upd = f32({4}, {9, 10, 11, 12});
    check_values(ops::scatter_nd(d, idx, upd), {8}, {1, 11, 3, 10, 9, 6, 7, 12});
    // Example 2: slices of a [4, 4, 4] tensor.
    std::vector<float> data{1, 2, 3, 4, 5, 6, 7, 8, 8, 7, 6, 5, 4, 3, 2, 1, 1, 2, 3, 4, 5, 6,
                            7, 8, 8, 7, 6, 5, 4, 3, 2, 1, 8, 7, 6, 5, 4, 3, 2, 1, 1, 2, 3, 4,
                            5, 6, 7, 8, 8, 7, 6, 5, 4, 3, 2, 1, 1, 2, 3, 4, 5, 6, 7, 8};
    std::vector<float> updates{5, 5, 5, 5, 6, 6, 6, 6, 7, 7, 7, 7, 8, 8, 8, 8,
                               1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3, 4, 4, 4, 4};
    std::vector<float> expected{5, 5, 5, 5, 6, 6, 6, 6, 7, 7, 7, 7, 8, 8, 8, 8, 1, 2, 3, 4, 5, 6,
                                7, 8, 8, 7, 6, 5, 4, 3, 2, 1, 1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3,
                                4, 4, 4, 4, 8, 7, 6, 5, 4, 3, 2, 1, 1, 2, 3, 4, 5, 6, 7, 8};
    check_values(
        ops::scatter_nd(f32({4, 4, 4}, data), i64({2, 1}, {0, 2}), f32({2, 4, 4}, updates)),
        {4, 4, 4}, expected);
    // Repeated targets: add and mul accumulate, none keeps the last, max/min compare.
    const auto twice = i64({3, 1}, {0, 0, 2});
    const auto u = f32({3}, {5, 6, 0.5f});
    check_values(ops::scatter_nd(d, twice, u, ops::scatter_reduction::add), {8},
                 {12, 2, 3.5f, 4, 5, 6, 7, 8});
    check_values(ops::scatter_nd(d, twice, u, ops::scatter_reduction::mul), {8},
                 {30, 2, 1.5f, 4, 5, 6, 7, 8});
    check_values(ops::scatter_nd(d, twice, u, ops::scatter_reduction::max), {8},
                 {6, 2, 3, 4, 5, 6, 7, 8});
    check_values(ops::scatter_nd(d, twice, u, ops::scatter_reduction::min), {8},
                 {1, 2, 0.5f, 4, 5, 6, 7, 8});
    check_values(ops::scatter_nd(d, twice, u), {8}, {6, 2, 0.5f, 4, 5, 6, 7, 8});
    // Full index tuples into a matrix, negative indices, i32 wrap on add.
    const auto m = make<std::int32_t>({2, 2}, {1, 2, 3, std::numeric_limits<std::int32_t>::max()});
    const auto r = ops::scatter_nd(m, i64({2, 2}, {-1, -1, 0, 1}), make<std::int32_t>({2}, {1, 10}),
                                   ops::scatter_reduction::add);
    CHECK(values<std::int32_t>(r) ==
          std::vector<std::int32_t>{1, 12, 3, std::numeric_limits<std::int32_t>::min()});
    auto msg = error_of(
        [&] {
            (void)ops::scatter_nd(d, idx, f32({3}, {1, 2, 3}));
        },
        status::shape_mismatch);
    CHECK(msg.find("updates") != std::string::npos);
    error_of(
        [&] {
            (void)ops::scatter_nd(d, i64({1, 1}, {8}), f32({1}, {0}));
        },
        status::out_of_range);
    error_of(
        [&] {
            (void)ops::scatter_nd(d, i64({1, 2}, {0, 0}), f32({1}, {0}));
        },
        status::shape_mismatch);
    error_of(
        [&] {
            (void)ops::scatter_nd(make<bool>({2}, {true, false}), i64({1, 1}, {0}),
                                  make<bool>({1}, {false}), ops::scatter_reduction::add);
        },
        status::dtype_mismatch);
}

TEST_CASE("scatter_elements: the ONNX examples, reductions, errors") {
    const auto zeros = f32({3, 3}, std::vector<float>(9, 0.0f));
    const auto idx = i64({2, 3}, {1, 0, 2, 0, 2, 1});
    const auto upd = f32({2, 3}, {1.0f, 1.1f, 1.2f, 2.0f, 2.1f, 2.2f});
    check_values(ops::scatter_elements(zeros, idx, upd), {3, 3},
                 {2.0f, 1.1f, 0, 1.0f, 0, 2.2f, 0, 2.1f, 1.2f});
    const auto row = f32({1, 5}, {1, 2, 3, 4, 5});
    check_values(ops::scatter_elements(row, i64({1, 2}, {1, 3}), f32({1, 2}, {1.1f, 2.1f}), 1),
                 {1, 5}, {1, 1.1f, 3, 2.1f, 5});
    // Three updates of element 1 (−4 is 1 on a dim of 5).
    const auto dup = i64({1, 3}, {1, -4, 1});
    const auto u = f32({1, 3}, {2, 3, 4});
    check_values(ops::scatter_elements(row, dup, u, 1, ops::scatter_reduction::add), {1, 5},
                 {1, 11, 3, 4, 5}); // 2 + 2 + 3 + 4
    check_values(ops::scatter_elements(row, dup, u, 1, ops::scatter_reduction::mul), {1, 5},
                 {1, 48, 3, 4, 5}); // 2 · 2 · 3 · 4
    check_values(ops::scatter_elements(row, dup, u, 1, ops::scatter_reduction::max), {1, 5},
                 {1, 4, 3, 4, 5});
    check_values(ops::scatter_elements(row, dup, u, 1, ops::scatter_reduction::min), {1, 5},
                 {1, 2, 3, 4, 5});
    check_values(ops::scatter_elements(row, dup, u, 1), {1, 5}, {1, 4, 3, 4, 5});
    // f16 add in f32, rounded back.
    const auto h = make<hone::half>({2}, {hone::to_half(1.0f), hone::to_half(2.0f)});
    const auto hs =
        ops::scatter_elements(h, i64({1}, {1}), make<hone::half>({1}, {hone::to_half(0.5f)}), 0,
                              ops::scatter_reduction::add);
    CHECK(hone::to_float(hs.span<hone::half>()[1]) == 2.5f);
    auto msg = error_of(
        [&] {
            (void)ops::scatter_elements(row, i64({1, 1}, {5}), f32({1, 1}, {0}), 1);
        },
        status::out_of_range);
    CHECK(msg.find("ops::scatter_elements") != std::string::npos);
    error_of(
        [&] {
            (void)ops::scatter_elements(row, i64({1, 2}, {0, 0}), f32({1, 1}, {0}), 1);
        },
        status::shape_mismatch);
    error_of(
        [&] {
            (void)ops::scatter_elements(row, i64({1, 1}, {0}), i64({1, 1}, {0}), 1);
        },
        status::dtype_mismatch);
    error_of(
        [&] {
            (void)ops::scatter_elements(row, i64({2, 1}, {0, 0}), f32({2, 1}, {0, 0}), 1);
        },
        status::shape_mismatch);
}

// ---- Size, NonZero, OneHot ----------------------------------------------------------------------

TEST_CASE("size and nonzero") {
    const auto s = ops::size(f32({2, 3}, std::vector<float>(6, 1.0f)));
    CHECK(s.type() == dtype::i64);
    CHECK(s.dims() == shape{});
    CHECK(s.span<std::int64_t>()[0] == 6);
    CHECK(ops::size(scalar_f32(1)).span<std::int64_t>()[0] == 1);
    const auto nz = ops::nonzero(f32({2, 2}, {1, 0, 1, 1}));
    CHECK(nz.dims() == shape{2, 3});
    CHECK(values<std::int64_t>(nz) == v64{0, 1, 1, 0, 0, 1});
    // −0 is zero, NaN is not.
    CHECK(values<std::int64_t>(ops::nonzero(f32({4}, {-0.0f, NAN, 0, 2}))) == v64{1, 3});
    CHECK(values<std::int64_t>(ops::nonzero(make<bool>({3}, {false, true, true}))) == v64{1, 2});
    CHECK(ops::nonzero(scalar_f32(3)).dims() == shape{0, 1});
    CHECK(ops::nonzero(f32({2, 0}, {})).dims() == shape{2, 0});
}

TEST_CASE("one_hot: axes, negative and out-of-range indices, float indices and values dtype") {
    const auto idx = i64({4}, {0, 2, -1, 5});
    const auto vals = f32({2}, {0, 1});
    check_values(ops::one_hot(idx, 4, vals), {4, 4},
                 {1, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1, 0, 0, 0, 0});
    check_values(ops::one_hot(idx, 4, vals, 0), {4, 4},
                 {1, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1, 0});
    // [2, 2] indices, new axis in the middle; values i64 [off, on] = [-1, 7].
    const auto y = ops::one_hot(i64({2, 2}, {1, 0, 2, 1}), 3, i64({2}, {-1, 7}), 1);
    REQUIRE(y.dims() == shape{2, 3, 2});
    for (std::int64_t i = 0; i < 2; ++i)
        for (std::int64_t d = 0; d < 3; ++d)
            for (std::int64_t j = 0; j < 2; ++j) {
                const v64 in{1, 0, 2, 1};
                CHECK(y.view().at<std::int64_t>({i, d, j}) ==
                      (in[static_cast<std::size_t>(i * 2 + j)] == d ? 7 : -1));
            }
    check_values(ops::one_hot(f32({2}, {1.7f, -0.5f}), 3, vals), {2, 3}, {0, 1, 0, 1, 0, 0});
    error_of([&] { (void)ops::one_hot(idx, -1, vals); }, status::invalid_argument);
    error_of([&] { (void)ops::one_hot(idx, 3, f32({3}, {0, 1, 2})); }, status::shape_mismatch);
    error_of([&] { (void)ops::one_hot(idx, 3, vals, 2); }, status::out_of_range);
}

TEST_CASE("indexing: results do not depend on the thread count") {
    const auto x = random_f32({64, 40, 30}, 5);
    check_thread_independent([&] {
        return ops::pad(x, v64{1, -2, 3, 2, 5, -1}, ops::pad_mode::reflect);
    });
    check_thread_independent([&] { return ops::tile(x, v64{2, 1, 2}); });
    check_thread_independent([&] { return std::move(ops::topk(x, 7, 1)[0]); });
    check_thread_independent([&] { return std::move(ops::topk(x, 7, 1, false)[1]); });
    std::vector<std::int64_t> iv(static_cast<std::size_t>(x.numel()));
    for (std::size_t i = 0; i < iv.size(); ++i)
        iv[i] = static_cast<std::int64_t>((i * 7919) % 30);
    const auto idx = i64(x.dims(), iv);
    check_thread_independent([&] { return ops::gather_elements(x, idx, 2); });
    check_thread_independent(
        [&] { return ops::scatter_elements(x, idx, x, 2, ops::scatter_reduction::add); });
}

// ---- through the executor -----------------------------------------------------------------------

namespace {

hone::node make_node(std::string name, std::string op, std::vector<std::string> in,
                     std::vector<std::string> out) {
    hone::node n;
    n.name = std::move(name);
    n.op_type = std::move(op);
    n.inputs = std::move(in);
    n.outputs = std::move(out);
    return n;
}

std::map<std::string, std::string> paths(const hone::executor& ex) {
    std::map<std::string, std::string> p;
    for (const auto& r : ex.report())
        p[r.node] = r.path;
    return p;
}

} // namespace

TEST_CASE("executor: Pad → Split → TopK / Tile / Trilu on a dynamic batch, with shapes at load") {
    using hone::attribute;
    hone::model m;
    m.inputs.push_back({"x", dtype::f32, {{-1, "N"}, {3, ""}}, true});
    m.set_weight("pads", i64({4}, {0, 1, 0, 2})); // [N, 3] → [N, 6]
    m.set_weight("split", i64({2}, {2, 4}));
    m.set_weight("k", i64({1}, {2}));
    m.set_weight("reps", i64({2}, {1, 2}));
    m.set_weight("diag", scalar_i64(1));
    auto pad = make_node("pad", "Pad", {"x", "pads"}, {"p"});
    pad.attributes["mode"] = attribute::of_string("edge");
    m.nodes.push_back(pad);
    auto split = make_node("split", "Split", {"p", "split"}, {"a", "b"});
    split.attributes["axis"] = attribute::of_int(1);
    m.nodes.push_back(split);
    auto topk = make_node("topk", "TopK", {"b", "k"}, {"tv", "ti"});
    topk.attributes["largest"] = attribute::of_int(0);
    m.nodes.push_back(topk);
    m.nodes.push_back(make_node("tile", "Tile", {"a", "reps"}, {"t"}));
    auto tri = make_node("trilu", "Trilu", {"b", "diag"}, {"u"});
    tri.attributes["upper"] = attribute::of_int(0);
    m.nodes.push_back(tri);
    m.nodes.push_back(make_node("shape_t", "Shape", {"t"}, {"st"}));
    m.nodes.push_back(make_node("shape_tv", "Shape", {"tv"}, {"stv"}));
    for (const char* o : {"tv", "ti", "t", "u", "st", "stv"})
        m.outputs.push_back({o, dtype::f32, {}, false});
    m.outputs[1].type = dtype::i64;
    m.outputs[4].type = dtype::i64;
    m.outputs[5].type = dtype::i64;

    hone::executor ex(m);
    auto p = paths(ex);
    CHECK(p["pad"] == "ops::pad");
    CHECK(p["split"] == "ops::split");
    CHECK(p["topk"] == "ops::topk");
    // N is dynamic: the Shape nodes run (the next test checks that static shapes fold).
    const auto x = f32({2, 3}, {5, 1, 3, 0, 2, 9});
    const auto y = ex.run(x.view());
    REQUIRE(y.size() == 6);
    // p = edge pad: [[5,5,1,3,3,3], [0,0,2,9,9,9]]; a = p[:, :2]; b = p[:, 2:].
    check_values(y[0], {2, 2}, {1, 3, 2, 9});             // two smallest of b
    CHECK(values<std::int64_t>(y[1]) == v64{0, 1, 0, 1}); // ties: lower index first
    check_values(y[2], {2, 4}, {5, 5, 5, 5, 0, 0, 0, 0}); // tile a [1, 2]
    check_values(y[3], {2, 4}, {1, 3, 0, 0, 2, 9, 9, 0}); // tril with k = 1
    CHECK(values<std::int64_t>(y[4]) == v64{2, 4});
    CHECK(values<std::int64_t>(y[5]) == v64{2, 2});
}

TEST_CASE("executor: inferred shapes let Shape nodes fold (static input)") {
    using hone::attribute;
    hone::model m;
    m.inputs.push_back({"x", dtype::f32, {{2, ""}, {3, ""}}, true});
    m.inputs.push_back({"i", dtype::i64, {{2, ""}}, true});
    m.set_weight("pads", i64({4}, {1, 0, 0, 2}));
    m.set_weight("depth", scalar_i64(5));
    m.set_weight("onoff", f32({2}, {0, 1}));
    m.nodes.push_back(make_node("pad", "Pad", {"x", "pads"}, {"p"}));
    auto split = make_node("split", "Split", {"p"}, {"a", "b", "c"});
    split.attributes["axis"] = attribute::of_int(1);
    split.attributes["num_outputs"] = attribute::of_int(3);
    m.nodes.push_back(split);
    m.nodes.push_back(make_node("onehot", "OneHot", {"i", "depth", "onoff"}, {"oh"}));
    m.nodes.push_back(make_node("nz", "NonZero", {"x"}, {"nzv"}));
    m.nodes.push_back(make_node("shape_p", "Shape", {"p"}, {"sp"}));
    m.nodes.push_back(make_node("shape_c", "Shape", {"c"}, {"sc"}));
    m.nodes.push_back(make_node("shape_oh", "Shape", {"oh"}, {"soh"}));
    auto first = make_node("shape_nz", "Shape", {"nzv"}, {"snz"});
    first.attributes["end"] = attribute::of_int(1);
    m.nodes.push_back(first);
    for (const char* o : {"sp", "sc", "soh", "snz", "oh", "c"})
        m.outputs.push_back({o, dtype::i64, {}, false});
    m.outputs[4].type = dtype::f32;
    m.outputs[5].type = dtype::f32;
    hone::executor ex(m);
    auto p = paths(ex);
    for (const char* n : {"shape_p", "shape_c", "shape_oh", "shape_nz"}) {
        CAPTURE(n);
        CHECK(p[n].find("folded") == 0);
    }
    const auto x = iota_f32({2, 3});
    const auto i = i64({2}, {4, -2});
    const std::vector<hone::const_tensor_view> in{x.view(), i.view()};
    const auto y = ex.run(std::span<const hone::const_tensor_view>(in));
    CHECK(values<std::int64_t>(y[0]) == v64{3, 5});
    CHECK(values<std::int64_t>(y[1]) == v64{3, 1}); // 5 columns in parts of 2, 2, 1
    CHECK(values<std::int64_t>(y[2]) == v64{2, 5});
    CHECK(values<std::int64_t>(y[3]) == v64{2});
    check_values(y[4], {2, 5}, {0, 0, 0, 0, 1, 0, 0, 0, 1, 0});
    // p = [[0,0,0,0,0], [0,1,2,0,0], [3,4,5,0,0]]; c = p[:, 4:5].
    check_values(y[5], {3, 1}, {0, 0, 0});
}

TEST_CASE(
    "executor: GatherElements, ScatterElements, ScatterND, Range, Size from run-time inputs") {
    using hone::attribute;
    hone::model m;
    m.inputs.push_back({"x", dtype::f32, {{2, ""}, {3, ""}}, true});
    m.inputs.push_back({"n", dtype::i64, {}, true});
    m.set_weight("gi", i64({2, 3}, {2, 1, 0, 0, 0, 1}));
    m.set_weight("zero", scalar_i64(0));
    m.set_weight("one", scalar_i64(1));
    m.set_weight("ndi", i64({1, 2}, {1, 2}));
    m.set_weight("ndu", f32({1}, {100}));
    auto ge = make_node("ge", "GatherElements", {"x", "gi"}, {"g"});
    ge.attributes["axis"] = attribute::of_int(1);
    m.nodes.push_back(ge);
    auto se = make_node("se", "ScatterElements", {"x", "gi", "x"}, {"s"});
    se.attributes["axis"] = attribute::of_int(1);
    se.attributes["reduction"] = attribute::of_string("add");
    m.nodes.push_back(se);
    m.nodes.push_back(make_node("snd", "ScatterND", {"x", "ndi", "ndu"}, {"nd"}));
    m.nodes.push_back(make_node("range", "Range", {"zero", "n", "one"}, {"r"}));
    m.nodes.push_back(make_node("size", "Size", {"r"}, {"sz"}));
    for (const char* o : {"g", "s", "nd", "r", "sz"})
        m.outputs.push_back({o, dtype::f32, {}, false});
    m.outputs[3].type = dtype::i64;
    m.outputs[4].type = dtype::i64;
    hone::executor ex(m);
    const auto x = f32({2, 3}, {1, 2, 3, 4, 5, 6});
    const auto n = scalar_i64(4);
    const std::vector<hone::const_tensor_view> in{x.view(), n.view()};
    const auto y = ex.run(std::span<const hone::const_tensor_view>(in));
    check_values(y[0], {2, 3}, {3, 2, 1, 4, 4, 5});
    // Row 0: x[0] += [3 at 0, 2 at 1, 1 at 2]; row 1: 4+5 at 0, 6 at 1.
    check_values(y[1], {2, 3}, {4, 4, 4, 13, 11, 6});
    check_values(y[2], {2, 3}, {1, 2, 3, 4, 5, 100});
    CHECK(values<std::int64_t>(y[3]) == v64{0, 1, 2, 3});
    CHECK(y[4].span<std::int64_t>()[0] == 4);
    // Everything constant folds at load.
    hone::model c;
    c.set_weight("a", scalar_i64(2));
    c.set_weight("b", scalar_i64(11));
    c.set_weight("d", scalar_i64(3));
    c.nodes.push_back(make_node("range", "Range", {"a", "b", "d"}, {"r"}));
    c.outputs.push_back({"r", dtype::i64, {}, false});
    hone::executor folded(c);
    CHECK(paths(folded)["range"] == "folded at load (constant inputs)");
    const std::vector<hone::const_tensor_view> none;
    CHECK(values<std::int64_t>(folded.run(std::span<const hone::const_tensor_view>(none)).at(0)) ==
          v64{2, 5, 8});
}

TEST_CASE("executor: attribute errors at load name the node and the attribute") {
    using hone::attribute;
    auto load_error = [](const char* op, std::vector<std::string> in, std::size_t outputs,
                         const char* attr, attribute value) {
        hone::model m;
        m.inputs.push_back({"x", dtype::f32, {{2, ""}, {4, ""}}, true});
        m.set_weight("w", i64({4}, {0, 0, 0, 0}));
        std::vector<std::string> outs;
        for (std::size_t k = 0; k < outputs; ++k)
            outs.push_back("y" + std::to_string(k));
        auto n = make_node("bad", op, std::move(in), outs);
        n.attributes[attr] = std::move(value);
        m.nodes.push_back(n);
        for (const auto& o : outs)
            m.outputs.push_back({o, dtype::f32, {}, false});
        try {
            hone::executor ex(m);
        } catch (const hone::error& e) {
            return std::string(e.what());
        }
        FAIL("no error");
        return std::string();
    };
    auto msg = load_error("Pad", {"x", "w"}, 1, "mode", attribute::of_string("mirror"));
    CHECK(msg.find("Pad 'bad'") != std::string::npos);
    CHECK(msg.find("'mode'") != std::string::npos);
    msg =
        load_error("ScatterElements", {"x", "w", "x"}, 1, "reduction", attribute::of_string("sum"));
    CHECK(msg.find("ScatterElements 'bad'") != std::string::npos);
    CHECK(msg.find("'reduction'") != std::string::npos);
    msg = load_error("Split", {"x"}, 2, "num_outputs", attribute::of_int(3));
    CHECK(msg.find("Split 'bad'") != std::string::npos);
    CHECK(msg.find("'num_outputs'") != std::string::npos);
    // Errors at run time name the node too (a pads count that does not fit).
    hone::model m;
    m.inputs.push_back({"x", dtype::f32, {{2, ""}, {4, ""}}, true});
    m.inputs.push_back({"pads", dtype::i64, {{-1, ""}}, true});
    m.nodes.push_back(make_node("pad", "Pad", {"x", "pads"}, {"y"}));
    m.outputs.push_back({"y", dtype::f32, {}, false});
    hone::executor ex(m);
    const auto x = iota_f32({2, 4});
    const auto pads = i64({2}, {1, 1});
    const std::vector<hone::const_tensor_view> in{x.view(), pads.view()};
    CHECK_THROWS_WITH_AS(ex.run(std::span<const hone::const_tensor_view>(in)),
                         doctest::Contains("Pad 'pad'"), hone::error);
    // Opset-2 form: pads and value as attributes.
    hone::model old;
    old.inputs.push_back({"x", dtype::f32, {{2, ""}, {4, ""}}, true});
    auto n = make_node("pad", "Pad", {"x"}, {"y"});
    n.attributes["pads"] = attribute::of_ints({0, 1, 0, 0});
    n.attributes["value"] = attribute::of_float(-1.0f);
    old.nodes.push_back(n);
    old.outputs.push_back({"y", dtype::f32, {}, false});
    hone::executor oex(old);
    check_values(oex.run(x.view()).at(0), {2, 5}, {-1, 0, 1, 2, 3, -1, 4, 5, 6, 7});
}
