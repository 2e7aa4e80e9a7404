// Reductions, ArgMax/ArgMin, CumSum and Instance/Group/Lp normalization of
// src/graph/ops/reduce.hpp, directly (known values, a brute-force reference written here) and
// through hone::executor (axes as attribute, constant input or run-time input; shape inference;
// folding; errors at load).
#include "../../src/graph/ops/reduce.hpp"
#include "graph_builder.hpp"
#include "ops_test_util.hpp"

#include "hone/core/threads.hpp"
#include "hone/graph/executor.hpp"

#include <algorithm>
#include <functional>
#include <limits>
#include <map>
#include <string>

namespace ops = hone::ops;
using namespace ops_test;
using hone::dtype;
using hone::shape;
using hone::status;
using hone::tensor;
using v64 = std::vector<std::int64_t>;
using ops::reduce_op;

namespace {

constexpr float inf = std::numeric_limits<float>::infinity();
constexpr float qnan = std::numeric_limits<float>::quiet_NaN();

// The values each output element of a reduction over `axes` of x sees, gathered by scattering
// every element of x to its output (the reverse of what the library does), in x's order.
std::vector<std::vector<double>> groups_of(const tensor& x, const v64& axes) {
    const auto r = x.dims().rank();
    std::vector<bool> reduced(r, axes.empty());
    for (auto a : axes)
        reduced[static_cast<std::size_t>(a < 0 ? a + static_cast<std::int64_t>(r) : a)] = true;
    std::int64_t outputs = 1;
    for (std::size_t d = 0; d < r; ++d)
        outputs *= reduced[d] ? 1 : x.dims()[d];
    std::vector<std::vector<double>> g(static_cast<std::size_t>(outputs));
    const auto v = x.span<float>();
    for (std::int64_t e = 0; e < x.numel(); ++e) {
        std::int64_t rest = e, out = 0, scale = 1;
        for (std::size_t d = r; d-- > 0;) {
            const auto i = rest % x.dims()[d];
            rest /= x.dims()[d];
            if (!reduced[d]) {
                out += i * scale;
                scale *= x.dims()[d];
            }
        }
        g[static_cast<std::size_t>(out)].push_back(v[static_cast<std::size_t>(e)]);
    }
    return g;
}

double reference(reduce_op op, const std::vector<double>& s) {
    double acc = op == reduce_op::prod ? 1 : 0;
    switch (op) {
    case reduce_op::max: return *std::max_element(s.begin(), s.end());
    case reduce_op::min: return *std::min_element(s.begin(), s.end());
    case reduce_op::prod:
        for (auto v : s)
            acc *= v;
        return acc;
    default: break;
    }
    for (auto v : s)
        acc += op == reduce_op::l1                                  ? std::fabs(v)
               : op == reduce_op::l2 || op == reduce_op::sum_square ? v * v
               : op == reduce_op::log_sum_exp                       ? std::exp(v)
                                                                    : v;
    if (op == reduce_op::l2) return std::sqrt(acc);
    if (op == reduce_op::log_sum || op == reduce_op::log_sum_exp) return std::log(acc);
    return acc;
}

tensor scalar_i64(std::int64_t v) {
    tensor t(dtype::i64, shape{});
    t.span<std::int64_t>()[0] = v;
    return t;
}

// The error of building an executor for g (fails the test when there is none).
hone::error load_error(const graph& g) {
    try {
        const hone::executor ex(g.m);
    } catch (const hone::error& e) {
        return e;
    }
    FAIL_CHECK("no error at load");
    return hone::error(status::ok, "");
}

} // namespace

// ---- reductions --------------------------------------------------------------------------------

TEST_CASE("reductions: known values, keepdims, negative axes") {
    const auto x = f32({2, 3}, {1, 2, 3, 4, 5, 6});
    auto y = ops::reduce(reduce_op::sum, x, v64{1});
    check_values(y, {2, 1}, {6, 15});
    check_values(ops::reduce(reduce_op::sum, x, v64{0}, false), {3}, {5, 7, 9});
    check_values(ops::reduce(reduce_op::sum, x, v64{-2}, false), {3}, {5, 7, 9});
    check_values(ops::reduce(reduce_op::sum, x), {1, 1}, {21});
    check_values(ops::reduce(reduce_op::sum, x, {}, false), {}, {21});
    check_values(ops::reduce(reduce_op::max, x, v64{-1}), {2, 1}, {3, 6});
    check_values(ops::reduce(reduce_op::min, x, v64{1}, false), {2}, {1, 4});
    check_values(ops::reduce(reduce_op::prod, x, v64{1}, false), {2}, {6, 120});
    check_values(ops::reduce(reduce_op::l1, f32({2, 3}, {-1, 2, -3, 4, -5, 6}), v64{1}, false), {2},
                 {6, 15});
    const auto t = f32({2, 3}, {3, 4, 0, 0, -5, 12});
    check_values(ops::reduce(reduce_op::l2, t, v64{1}, false), {2}, {5, 13});
    check_values(ops::reduce(reduce_op::sum_square, t, v64{1}, false), {2}, {25, 169});
    check_values(ops::reduce(reduce_op::log_sum, x, v64{1}, false), {2},
                 {float(std::log(6.0)), float(std::log(15.0))});
    const double e = std::exp(1.0);
    check_values(ops::reduce(reduce_op::log_sum_exp, x, v64{1}, false), {2},
                 {float(std::log(e + e * e + e * e * e)),
                  float(std::log(std::pow(e, 4) + std::pow(e, 5) + std::pow(e, 6)))});
    // LogSumExp does not overflow; −inf, +inf and NaN sets.
    check_values(ops::reduce(reduce_op::log_sum_exp,
                             f32({4, 2}, {1000, 1000, -inf, -inf, inf, 1, qnan, 1}), v64{1}, false),
                 {4}, {float(1000 + std::log(2.0)), -inf, inf, qnan});
    // Max and min propagate NaN.
    check_values(ops::reduce(reduce_op::max, f32({3}, {1, qnan, 2})), {1}, {qnan});
    check_values(ops::reduce(reduce_op::min, f32({3}, {1, 2, qnan})), {1}, {qnan});
}

TEST_CASE("reductions: empty axes (all, or nothing with noop_with_empty_axes), empty sets") {
    const auto x = f32({2, 2}, {-1, 2, -3, 4});
    check_values(ops::reduce(reduce_op::sum, x, {}, true, true), {2, 2}, {-1, 2, -3, 4});
    check_values(ops::reduce(reduce_op::max, x, {}, false, true), {2, 2}, {-1, 2, -3, 4});
    check_values(ops::reduce(reduce_op::sum_square, x, {}, true, true), {2, 2}, {1, 4, 9, 16});
    check_values(ops::reduce(reduce_op::l1, x, {}, true, true), {2, 2}, {1, 2, 3, 4});
    check_values(ops::reduce(reduce_op::l2, x, {}, true, true), {2, 2}, {1, 2, 3, 4});
    check_values(ops::reduce(reduce_op::log_sum_exp, x, {}, true, true), {2, 2}, {-1, 2, -3, 4});
    check_values(ops::reduce(reduce_op::log_sum, f32({2}, {1, 4}), {}, true, true), {2},
                 {0, float(std::log(4.0))});
    check_values(ops::reduce(reduce_op::prod, x, {}, true, false), {1, 1}, {24});
    // Reducing an axis of length 0.
    const auto e = f32({2, 0}, {});
    check_values(ops::reduce(reduce_op::sum, e, v64{1}, false), {2}, {0, 0});
    check_values(ops::reduce(reduce_op::prod, e, v64{1}, false), {2}, {1, 1});
    check_values(ops::reduce(reduce_op::max, e, v64{1}, false), {2}, {-inf, -inf});
    check_values(ops::reduce(reduce_op::min, e, v64{1}, false), {2}, {inf, inf});
    check_values(ops::reduce(reduce_op::log_sum_exp, e, v64{1}, false), {2}, {-inf, -inf});
    CHECK(values<std::int64_t>(ops::reduce(reduce_op::max, i64({0}, {}))) ==
          v64{std::numeric_limits<std::int64_t>::lowest()});
    // Keeping the empty axis gives an empty result.
    CHECK(ops::reduce(reduce_op::sum, e, v64{0}).dims() == shape{1, 0});
}

TEST_CASE("reductions match a brute-force reference for every operator and axis set") {
    const auto x = f32({3, 4, 5, 6}, [] {
        auto v = randn(360, 21);
        for (auto& a : v)
            a = 0.5f + std::fabs(a) * 0.5f; // positive (log_sum) and moderate (prod)
        for (std::size_t i = 0; i < v.size(); i += 7)
            v[i] = -v[i];
        return v;
    }());
    const std::vector<v64> axis_sets{{}, {0}, {1, 3}, {-1}, {0, 2, 3}, {3, 1}, {0, 1, 2, 3}};
    for (const auto op :
         {reduce_op::sum, reduce_op::max, reduce_op::min, reduce_op::prod, reduce_op::l1,
          reduce_op::l2, reduce_op::sum_square, reduce_op::log_sum_exp}) {
        for (const auto& axes : axis_sets) {
            for (const bool keep : {true, false}) {
                CAPTURE(static_cast<int>(op));
                CAPTURE(axes.size());
                CAPTURE(keep);
                const auto y = ops::reduce(op, x, axes, keep);
                const auto g = groups_of(x, axes);
                REQUIRE(y.numel() == static_cast<std::int64_t>(g.size()));
                std::vector<float> expected;
                for (const auto& s : g)
                    expected.push_back(static_cast<float>(reference(op, s)));
                check_close(y, f32(y.dims(), expected), 2e-6);
                // keepdims: same rank with 1s, else the reduced axes removed.
                CHECK(y.dims().rank() == (keep ? 4 : 4 - (axes.empty() ? 4 : axes.size())));
            }
        }
    }
    CHECK(ops::reduce(reduce_op::sum, x, v64{1, 3}).dims() == shape{3, 1, 5, 1});
    CHECK(ops::reduce(reduce_op::sum, x, v64{1, 3}, false).dims() == shape{3, 5});
    // log_sum needs positive data.
    auto pos = values<float>(x);
    for (auto& v : pos)
        v = std::fabs(v);
    const auto xp = f32(x.dims(), pos);
    for (const auto& axes : axis_sets) {
        const auto y = ops::reduce(reduce_op::log_sum, xp, axes);
        std::vector<float> expected;
        for (const auto& s : groups_of(xp, axes))
            expected.push_back(static_cast<float>(reference(reduce_op::log_sum, s)));
        check_close(y, f32(y.dims(), expected), 2e-6);
    }
}

TEST_CASE("reductions of strided and broadcast views") {
    const auto x = random_f32({4, 6}, 5);
    const std::array<std::int64_t, 2> st{1, 6};
    const auto xt = hone::make_view(x.data(), x.nbytes(), dtype::f32, shape{6, 4}, st);
    const auto copy = tensor::copy_of(xt);
    for (const auto op : {reduce_op::sum, reduce_op::max, reduce_op::l2})
        for (const auto& axes : {v64{0}, v64{1}, v64{}})
            CHECK(values<float>(ops::reduce(op, xt, axes)) ==
                  values<float>(ops::reduce(op, copy, axes)));
    // A broadcast view (stride 0): each row of [3, 4] is the same [4].
    const auto row = f32({4}, {1, 2, 3, 4});
    const std::array<std::int64_t, 2> bst{0, 1};
    const auto b = hone::make_view(row.data(), row.nbytes(), dtype::f32, shape{3, 4}, bst);
    check_values(ops::reduce(reduce_op::sum, b, v64{0}, false), {4}, {3, 6, 9, 12});
}

TEST_CASE("integer reductions (shape arithmetic) are exact and wrap") {
    const auto s = i64({3}, {2, 3, 4});
    CHECK(values<std::int64_t>(ops::reduce(reduce_op::prod, s, v64{0}, false)) == v64{24});
    CHECK(values<std::int64_t>(ops::reduce(reduce_op::sum, s)) == v64{9});
    const auto m = i64({2, 2}, {-7, 3, 9007199254740993, -1});
    CHECK(values<std::int64_t>(ops::reduce(reduce_op::max, m, v64{1}, false)) ==
          v64{3, 9007199254740993});
    CHECK(values<std::int64_t>(ops::reduce(reduce_op::min, m, v64{0}, false)) == v64{-7, -1});
    CHECK(values<std::int64_t>(ops::reduce(reduce_op::l1, m, v64{0}, false)) ==
          v64{9007199254741000, 4});
    CHECK(values<std::int64_t>(ops::reduce(reduce_op::sum_square, i64({2}, {-3, 4}))) == v64{25});
    CHECK(values<std::int64_t>(ops::reduce(reduce_op::sum, i64({2}, {INT64_MAX, 1}))) ==
          v64{INT64_MIN});
    const auto i32 = make<std::int32_t>({2, 2}, {1, 2, 3, 4});
    const auto r = ops::reduce(reduce_op::sum, i32, v64{1}, false);
    CHECK(r.type() == dtype::i32);
    CHECK(values<std::int32_t>(r) == std::vector<std::int32_t>{3, 7});
    // Operators without integer forms.
    auto msg = error_of([&] { (void)ops::reduce(reduce_op::l2, s); }, status::dtype_mismatch);
    CHECK(msg.find("ops::reduce_l2") != std::string::npos);
    error_of([&] { (void)ops::reduce(reduce_op::log_sum_exp, s); }, status::dtype_mismatch);
}

TEST_CASE("reduction errors name the operator and the axis") {
    const auto x = f32({2, 3}, {1, 2, 3, 4, 5, 6});
    auto msg =
        error_of([&] { (void)ops::reduce(reduce_op::max, x, v64{2}); }, status::out_of_range);
    CHECK(msg.find("ops::reduce_max") != std::string::npos);
    CHECK(msg.find("axis 2") != std::string::npos);
    error_of([&] { (void)ops::reduce(reduce_op::sum, x, v64{-3}); }, status::out_of_range);
    msg = error_of(
        [&] {
            (void)ops::reduce(reduce_op::sum, x, v64{1, -1});
        },
        status::invalid_argument);
    CHECK(msg.find("repeated") != std::string::npos);
    tensor b(dtype::boolean, shape{2});
    error_of([&] { (void)ops::reduce(reduce_op::sum, b); }, status::dtype_mismatch);
}

// ---- ArgMax / ArgMin ---------------------------------------------------------------------------

TEST_CASE("ArgMax and ArgMin: first or last index, keepdims, NaN, integers") {
    const auto x = f32({2, 3}, {1, 3, 3, 7, 0, 7});
    auto y = ops::arg_max(x, 1);
    CHECK(y.type() == dtype::i64);
    CHECK(y.dims() == shape{2, 1});
    CHECK(values<std::int64_t>(y) == v64{1, 0});
    CHECK(values<std::int64_t>(ops::arg_max(x, -1, false, true)) == v64{2, 2});
    CHECK(values<std::int64_t>(ops::arg_min(x, 1, false)) == v64{0, 1});
    CHECK(values<std::int64_t>(ops::arg_min(f32({4}, {2, 1, 5, 1}), 0, false, true)) == v64{3});
    y = ops::arg_max(x, 0, false);
    CHECK(y.dims() == shape{3});
    CHECK(values<std::int64_t>(y) == v64{1, 0, 1});
    // NaN wins (numpy): the first NaN, or the last with select_last_index.
    const auto n = f32({4}, {1, qnan, 5, qnan});
    CHECK(values<std::int64_t>(ops::arg_max(n)) == v64{1});
    CHECK(values<std::int64_t>(ops::arg_max(n, 0, true, true)) == v64{3});
    CHECK(values<std::int64_t>(ops::arg_min(n)) == v64{1});
    // Integers beyond float precision.
    CHECK(values<std::int64_t>(ops::arg_max(i64({2}, {9007199254740993, 9007199254740992}))) ==
          v64{0});
    CHECK(values<std::int64_t>(ops::arg_min(make<std::int32_t>({3}, {4, -2, 7}))) == v64{1});
    // Errors.
    auto msg = error_of([] { (void)ops::arg_max(f32({2, 0}, {}), 1); }, status::invalid_argument);
    CHECK(msg.find("ops::arg_max") != std::string::npos);
    CHECK(ops::arg_max(f32({0, 3}, {}), 1).dims() == shape{0, 1}); // nothing to index
    error_of([&] { (void)ops::arg_min(x, 2); }, status::out_of_range);
    error_of([] { (void)ops::arg_max(tensor(dtype::boolean, shape{2})); }, status::dtype_mismatch);
}

// ---- CumSum ------------------------------------------------------------------------------------

TEST_CASE("CumSum: exclusive, reverse, axes, integers, double accumulation") {
    const auto x = f32({4}, {1, 2, 3, 4});
    check_values(ops::cum_sum(x, 0), {4}, {1, 3, 6, 10});
    check_values(ops::cum_sum(x, 0, true), {4}, {0, 1, 3, 6});
    check_values(ops::cum_sum(x, 0, false, true), {4}, {10, 9, 7, 4});
    check_values(ops::cum_sum(x, -1, true, true), {4}, {9, 7, 4, 0});
    const auto m = f32({2, 3}, {1, 2, 3, 4, 5, 6});
    check_values(ops::cum_sum(m, 1), {2, 3}, {1, 3, 6, 4, 9, 15});
    check_values(ops::cum_sum(m, -2), {2, 3}, {1, 2, 3, 5, 7, 9});
    CHECK(values<std::int64_t>(ops::cum_sum(i64({3}, {5, -2, 7}), 0)) == v64{5, 3, 10});
    CHECK(values<std::int32_t>(ops::cum_sum(make<std::int32_t>({2, 2}, {1, 2, 3, 4}), 0, false,
                                            true)) == std::vector<std::int32_t>{4, 6, 3, 4});
    // The running sum is a double: 1e8 + 1 − 1e8 = 1.
    CHECK(ops::cum_sum(f32({3}, {1e8f, 1, -1e8f}), 0).span<float>()[2] == 1.0f);
    error_of([] { (void)ops::cum_sum(f32({}, {1}), 0); }, status::shape_mismatch);
    auto msg = error_of([&] { (void)ops::cum_sum(m, 2); }, status::out_of_range);
    CHECK(msg.find("ops::cum_sum") != std::string::npos);
    error_of([] { (void)ops::cum_sum(tensor(dtype::boolean, shape{2}), 0); },
             status::dtype_mismatch);
}

// ---- normalizations ----------------------------------------------------------------------------

namespace {

// Normalizes each consecutive block of `block` values of x (population variance), then
// y = v · scale(channel) + bias(channel); `channel_len` values per channel.
std::vector<float> normalized(const tensor& x, std::int64_t block, std::int64_t channels,
                              std::int64_t channel_len, const std::function<double(int)>& scale,
                              const std::function<double(int)>& bias, double eps) {
    const auto v = x.span<float>();
    std::vector<float> out(v.size());
    for (std::size_t b = 0; b < v.size(); b += static_cast<std::size_t>(block)) {
        double mean = 0, var = 0;
        for (std::int64_t i = 0; i < block; ++i)
            mean += v[b + static_cast<std::size_t>(i)];
        mean /= static_cast<double>(block);
        for (std::int64_t i = 0; i < block; ++i)
            var += std::pow(v[b + static_cast<std::size_t>(i)] - mean, 2);
        var /= static_cast<double>(block);
        for (std::int64_t i = 0; i < block; ++i) {
            const auto at = b + static_cast<std::size_t>(i);
            const int c =
                static_cast<int>((static_cast<std::int64_t>(at) / channel_len) % channels);
            out[at] = float((v[at] - mean) / std::sqrt(var + eps) * scale(c) + bias(c));
        }
    }
    return out;
}

} // namespace

TEST_CASE("InstanceNormalization: known values and a reference") {
    const auto x = f32({1, 2, 3}, {1, 2, 3, 4, 4, 4});
    const double s = std::sqrt(2.0 / 3 + 1e-5);
    check_values(ops::instance_normalization(x, f32({2}, {1, 2}), f32({2}, {0, 1})), {1, 2, 3},
                 {float(-1 / s), 0, float(1 / s), 1, 1, 1});
    const auto r = random_f32({2, 3, 4, 5}, 8);
    const auto sc = f32({3}, {0.5f, 1, 2}), bi = f32({3}, {0, -1, 1});
    const auto y = ops::instance_normalization(r, sc, bi, 1e-3f);
    check_close(y,
                f32({2, 3, 4, 5}, normalized(
                                      r, 20, 3, 20, [&](int c) { return sc.span<float>()[c]; },
                                      [&](int c) { return bi.span<float>()[c]; }, 1e-3)),
                1e-5);
    auto msg = error_of(
        [&] {
            (void)ops::instance_normalization(r, f32({2}, {1, 1}), bi);
        },
        status::shape_mismatch);
    CHECK(msg.find("'scale'") != std::string::npos);
    error_of(
        [&] {
            (void)ops::instance_normalization(f32({3}, {1, 2, 3}), sc, bi);
        },
        status::shape_mismatch);
}

TEST_CASE("GroupNormalization: per-group (opset 18) and per-channel (opset 21) scale and bias") {
    const auto x = random_f32({2, 4, 3}, 9);
    // Two groups of two channels: blocks of 6 values.
    const auto gs = f32({2}, {2, -1}), gb = f32({2}, {0.5f, 0});
    auto y = ops::group_normalization(x, gs, gb, 2, 1e-4f);
    check_close(y,
                f32({2, 4, 3}, normalized(
                                   x, 6, 4, 3, [&](int c) { return gs.span<float>()[c / 2]; },
                                   [&](int c) { return gb.span<float>()[c / 2]; }, 1e-4)),
                1e-5);
    const auto cs = f32({4}, {1, 2, 3, 4}), cb = f32({4}, {0, 0.1f, 0.2f, 0.3f});
    y = ops::group_normalization(x, cs, cb, 2, 1e-4f);
    check_close(y,
                f32({2, 4, 3}, normalized(
                                   x, 6, 4, 3, [&](int c) { return cs.span<float>()[c]; },
                                   [&](int c) { return cb.span<float>()[c]; }, 1e-4)),
                1e-5);
    // One group: the whole sample; C groups: instance normalization.
    y = ops::group_normalization(x, f32({1}, {1}), f32({1}, {0}), 1, 0.0f);
    check_close(
        y,
        f32({2, 4, 3}, normalized(
                           x, 12, 4, 3, [](int) { return 1.0; }, [](int) { return 0.0; }, 0.0)),
        1e-5);
    auto msg =
        error_of([&] { (void)ops::group_normalization(x, gs, gb, 3); }, status::invalid_argument);
    CHECK(msg.find("num_groups") != std::string::npos);
    error_of([&] { (void)ops::group_normalization(x, gs, gb, 0); }, status::invalid_argument);
    msg = error_of(
        [&] {
            (void)ops::group_normalization(x, f32({3}, {1, 1, 1}), gb, 2);
        },
        status::shape_mismatch);
    CHECK(msg.find("'scale'") != std::string::npos);
}

TEST_CASE("LpNormalization: p 1 and 2, any axis, zero vectors") {
    const auto x = f32({2, 2}, {3, 4, 0, 0});
    check_values(ops::lp_normalization(x), {2, 2}, {0.6f, 0.8f, 0, 0});
    check_values(ops::lp_normalization(x, 1, 1), {2, 2}, {3.0f / 7, 4.0f / 7, 0, 0});
    check_values(ops::lp_normalization(f32({2, 2}, {3, -4, 4, 3}), 0), {2, 2},
                 {0.6f, -0.8f, 0.8f, 0.6f});
    // Far beyond float's square range: the norm is formed in double.
    check_values(ops::lp_normalization(f32({2}, {3e30f, 4e30f})), {2}, {0.6f, 0.8f});
    auto msg = error_of([&] { (void)ops::lp_normalization(x, -1, 3); }, status::invalid_argument);
    CHECK(msg.find("p is 3") != std::string::npos);
    error_of([&] { (void)ops::lp_normalization(x, 2); }, status::out_of_range);
}

TEST_CASE("reductions, arg, cumsum and normalizations are identical at any thread count") {
    const auto x = random_f32({16, 96, 33}, 31);
    const int before = hone::num_threads();
    auto all = [&] {
        std::vector<tensor> r;
        r.push_back(ops::reduce(reduce_op::sum, x, v64{1}));
        r.push_back(ops::reduce(reduce_op::log_sum_exp, x, v64{0, 2}));
        r.push_back(ops::reduce(reduce_op::l2, x, v64{-1}, false));
        r.push_back(ops::reduce(reduce_op::prod, x, v64{0}));
        r.push_back(ops::arg_max(x, 1));
        r.push_back(ops::cum_sum(x, 1, true));
        r.push_back(ops::cum_sum(x, 2, false, true));
        r.push_back(ops::group_normalization(x, f32({4}, {1, 2, 3, 4}), f32({4}, {0, 0, 1, 1}), 4));
        r.push_back(ops::lp_normalization(x, 1, 2));
        return r;
    };
    hone::set_num_threads(1);
    const auto one = all();
    hone::set_num_threads(4);
    const auto four = all();
    hone::set_num_threads(before);
    for (std::size_t k = 0; k < one.size(); ++k) {
        CAPTURE(k);
        REQUIRE(one[k].nbytes() == four[k].nbytes());
        CHECK(std::memcmp(one[k].data(), four[k].data(), one[k].nbytes()) == 0);
    }
}

// ---- through the executor ----------------------------------------------------------------------

TEST_CASE("executor: Reduce* axes as attribute, constant input or run-time input") {
    using hone::attribute;
    const auto x = f32({2, 3}, {1, 2, 3, 4, 5, 6});
    // Opset 13 ReduceSum / opset 18 ReduceMax: axes as a constant input.
    graph g;
    g.input("x", x.clone())
        .constant("axes", i64({1}, {1}))
        .node("sum", "ReduceSum", {"x", "axes"}, {"s"}, {{"keepdims", attribute::of_int(0)}})
        .node("max", "ReduceMax", {"x", "axes"}, {"m"})
        .node("max_attr", "ReduceMax", {"x"}, {"ma"}, {{"axes", attribute::of_ints({-1})}})
        .node("l2_all", "ReduceL2", {"x"}, {"l2"}, {{"keepdims", attribute::of_int(0)}})
        .node("sq_noop", "ReduceSumSquare", {"x"}, {"sq"},
              {{"noop_with_empty_axes", attribute::of_int(1)}})
        .output("s")
        .output("m")
        .output("ma")
        .output("l2")
        .output("sq");
    const hone::executor ex(g.m);
    const auto out = g.run(ex);
    check_values(out.at(0), {2}, {6, 15});
    check_values(out.at(1), {2, 1}, {3, 6});
    check_values(out.at(2), {2, 1}, {3, 6});
    check_values(out.at(3), {}, {float(std::sqrt(91.0))});
    check_values(out.at(4), {2, 3}, {1, 4, 9, 16, 25, 36});
    CHECK(g.path(ex, "sum") == "ops::reduce_sum");
    CHECK(g.path(ex, "l2_all") == "ops::reduce_l2");
    // Axes computed at run time: a graph input.
    graph d;
    d.input("x", x.clone())
        .input("axes", i64({1}, {0}))
        .node("sum", "ReduceSum", {"x", "axes"}, {"s"})
        .output("s");
    const hone::executor dex(d.m);
    check_values(d.run(dex).at(0), {1, 3}, {5, 7, 9});
}

TEST_CASE("executor: reduced shapes inferred at load let Shape/Gather fold") {
    using hone::attribute;
    // x [N, 3, 4]: ReduceSum(axes [1], keepdims 0) is [N, 4]; ArgMax(axis 2) is [N, 3, 1].
    graph g;
    g.input("x", random_f32({5, 3, 4}, 2), {0})
        .constant("axes", i64({1}, {1}))
        .constant("one", scalar_i64(1))
        .constant("two", scalar_i64(2))
        .node("sum", "ReduceSum", {"x", "axes"}, {"s"}, {{"keepdims", attribute::of_int(0)}})
        .node("arg", "ArgMax", {"x"}, {"a"}, {{"axis", attribute::of_int(2)}})
        .node("shape_s", "Shape", {"s"}, {"ss"})
        .node("gather_s", "Gather", {"ss", "one"}, {"gs"})
        .node("shape_a", "Shape", {"a"}, {"sa"})
        .node("gather_a", "Gather", {"sa", "two"}, {"ga"})
        .node("cum", "CumSum", {"s", "one"}, {"c"})
        .output("c")
        .output("a");
    const hone::executor ex(g.m);
    CHECK(g.path(ex, "gather_s").find("folded") == 0);
    CHECK(g.path(ex, "gather_a").find("folded") == 0);
    const auto out = g.run(ex);
    CHECK(out.at(0).dims() == shape{5, 4});
    CHECK(out.at(1).dims() == shape{5, 3, 1});
    CHECK(out.at(1).type() == dtype::i64);
}

TEST_CASE("executor: ReduceProd of a Shape folds into a Reshape target") {
    using hone::attribute;
    graph g;
    g.input("x", random_f32({2, 3, 4}, 1))
        .node("shape", "Shape", {"x"}, {"s"})
        .node("prod", "ReduceProd", {"s"}, {"n"}, {{"axes", attribute::of_ints({0})}})
        .node("reshape", "Reshape", {"x", "n"}, {"y"})
        .output("y");
    const hone::executor ex(g.m);
    CHECK(g.path(ex, "prod") == "folded at load (constant inputs)");
    CHECK(g.run(ex).at(0).dims() == shape{24});
}

TEST_CASE("executor: CumSum, ArgMin and the normalizations read their attributes") {
    using hone::attribute;
    graph g;
    g.input("x", f32({1, 4, 2}, {1, 2, 3, 4, 5, 6, 7, 9}))
        .constant("axis", scalar_i64(-1))
        .constant("gs", f32({2}, {1, 1}))
        .constant("gb", f32({2}, {0, 10}))
        .constant("is", f32({4}, {1, 1, 1, 1}))
        .constant("ib", f32({4}, {0, 0, 0, 0}))
        .node("cum", "CumSum", {"x", "axis"}, {"c"},
              {{"exclusive", attribute::of_int(1)}, {"reverse", attribute::of_int(1)}})
        .node("argmin", "ArgMin", {"x"}, {"am"},
              {{"axis", attribute::of_int(1)}, {"keepdims", attribute::of_int(0)}})
        .node("gn", "GroupNormalization", {"x", "gs", "gb"}, {"g"},
              {{"num_groups", attribute::of_int(2)}, {"epsilon", attribute::of_float(0)}})
        .node("in", "InstanceNormalization", {"x", "is", "ib"}, {"i"},
              {{"epsilon", attribute::of_float(0)}})
        .node("lp", "LpNormalization", {"x"}, {"l"},
              {{"axis", attribute::of_int(1)}, {"p", attribute::of_int(1)}})
        .output("c")
        .output("am")
        .output("g")
        .output("i")
        .output("l");
    const hone::executor ex(g.m);
    const auto out = g.run(ex);
    check_values(out.at(0), {1, 4, 2}, {2, 0, 4, 0, 6, 0, 9, 0});
    CHECK(values<std::int64_t>(out.at(1)) == v64{0, 0});
    // Group 0 = {1, 2, 3, 4} (mean 2.5, var 1.25), group 1 = {5, 6, 7, 9} (mean 6.75, var
    // 2.1875) shifted by 10.
    const double s0 = std::sqrt(1.25), s1 = std::sqrt(2.1875);
    check_values(out.at(2), {1, 4, 2},
                 {float(-1.5 / s0), float(-0.5 / s0), float(0.5 / s0), float(1.5 / s0),
                  float(10 - 1.75 / s1), float(10 - 0.75 / s1), float(10 + 0.25 / s1),
                  float(10 + 2.25 / s1)});
    check_values(out.at(3), {1, 4, 2}, {-1, 1, -1, 1, -1, 1, -1, 1});
    check_values(
        out.at(4), {1, 4, 2},
        {1.0f / 16, 2.0f / 21, 3.0f / 16, 4.0f / 21, 5.0f / 16, 6.0f / 21, 7.0f / 16, 9.0f / 21});
    CHECK(g.path(ex, "gn") == "ops::group_normalization");
}

TEST_CASE("executor: bad reduction and normalization attributes fail at load") {
    using hone::attribute;
    auto base = [] {
        graph g;
        g.input("x", f32({1, 4, 2}, {1, 2, 3, 4, 5, 6, 7, 8}));
        return g;
    };
    {
        auto g = base();
        g.node("r", "ReduceSum", {"x"}, {"y"}, {{"axes", attribute::of_ints({3})}}).output("y");
        const auto e = load_error(g);
        CHECK(e.code() == status::out_of_range);
        CHECK(std::string(e.what()).find("ReduceSum 'r'") != std::string::npos);
        CHECK(std::string(e.what()).find("'axes'") != std::string::npos);
    }
    {
        auto g = base();
        g.constant("axes", i64({1}, {0}))
            .node("r", "ReduceMax", {"x", "axes"}, {"y"}, {{"axes", attribute::of_ints({0})}})
            .output("y");
        const auto e = load_error(g);
        CHECK(e.code() == status::invalid_argument);
        CHECK(std::string(e.what()).find("both") != std::string::npos);
    }
    {
        auto g = base();
        g.node("lp", "LpNormalization", {"x"}, {"y"}, {{"p", attribute::of_int(3)}}).output("y");
        const auto e = load_error(g);
        CHECK(e.code() == status::invalid_argument);
        CHECK(std::string(e.what()).find("'p'") != std::string::npos);
    }
    {
        auto g = base();
        g.constant("s", f32({2}, {1, 1}))
            .constant("b", f32({2}, {0, 0}))
            .node("gn", "GroupNormalization", {"x", "s", "b"}, {"y"})
            .output("y");
        const auto e = load_error(g);
        CHECK(e.code() == status::invalid_argument);
        CHECK(std::string(e.what()).find("'num_groups'") != std::string::npos);
    }
    {
        // Scale of 3 for 4 channels in 2 groups: neither per channel nor per group.
        auto g = base();
        g.constant("s", f32({3}, {1, 1, 1}))
            .constant("b", f32({2}, {0, 0}))
            .node("gn", "GroupNormalization", {"x", "s", "b"}, {"y"},
                  {{"num_groups", attribute::of_int(2)}})
            .output("y");
        const auto e = load_error(g);
        CHECK(e.code() == status::shape_mismatch);
        CHECK(std::string(e.what()).find("'scale'") != std::string::npos);
    }
    {
        auto g = base();
        g.constant("axis", scalar_i64(5)).node("c", "CumSum", {"x", "axis"}, {"y"}).output("y");
        CHECK(load_error(g).code() == status::out_of_range);
    }
    {
        auto g = base();
        g.node("a", "ArgMax", {"x"}, {"y"}, {{"axis", attribute::of_int(-4)}}).output("y");
        CHECK(load_error(g).code() == status::out_of_range);
    }
}
