// The backward passes of src/graph/ops/grad.hpp (binary, unary, softmax, matmul, layer norm,
// reductions, data movement), each checked by central finite differences of its ops:: forward,
// with a few hand-computed values and thread-count determinism.
#include "../../src/graph/ops/grad.hpp"
#include "../../src/graph/ops/indexing.hpp"
#include "../../src/graph/ops/math.hpp"
#include "../../src/graph/ops/ops.hpp"
#include "../../src/graph/ops/reduce.hpp"
#include "grad_check.hpp"
#include "ops_test_util.hpp"

#include "hone/core/threads.hpp"

#include <doctest/doctest.h>

#include <cmath>
#include <cstring>
#include <functional>
#include <limits>
#include <optional>
#include <string>
#include <vector>

using namespace hone;
using hone::test::check_gradient;
using hone::test::random_tensor;
using ops_test::check_values;
using ops_test::error_of;

namespace {

// y = f(x) elementwise (the forwards that have no ops:: function: Exp, Log, Neg, Abs).
tensor map(const tensor& x, float (*f)(float)) {
    tensor y(dtype::f32, x.dims());
    const auto s = x.span<float>();
    auto d = y.span<float>();
    for (std::size_t i = 0; i < s.size(); ++i)
        d[i] = f(s[i]);
    return y;
}

// x with every value within `margin` of a kink moved 2·margin away from it.
tensor avoiding(tensor x, const std::vector<float>& kinks, float margin = 0.03f) {
    for (float& v : x.span<float>())
        for (const float k : kinks)
            if (std::abs(v - k) < margin) v = k + (v >= k ? 2 : -2) * margin;
    return x;
}

bool same_bytes(const tensor& a, const tensor& b) {
    return a.dims() == b.dims() && a.nbytes() == b.nbytes() &&
           std::memcmp(a.data(), b.data(), a.nbytes()) == 0;
}

tensor bools(const shape& dims, const std::vector<bool>& v) {
    tensor t(dtype::boolean, dims);
    auto* p = static_cast<bool*>(t.data());
    for (std::size_t i = 0; i < v.size(); ++i)
        p[i] = v[i];
    return t;
}

} // namespace

// ---- broadcasting and binary
// ---------------------------------------------------------------------

TEST_CASE("reduce_to_shape sums the broadcast axes") {
    const tensor dy = ops_test::f32({2, 3}, {1, 2, 3, 4, 5, 6});
    check_values(ops::reduce_to_shape(dy, shape{3}), {3}, {5, 7, 9});
    check_values(ops::reduce_to_shape(dy, shape{2, 1}), {2, 1}, {6, 15});
    check_values(ops::reduce_to_shape(dy, shape{}), {}, {21});
    check_values(ops::reduce_to_shape(dy, shape{1, 3}), {1, 3}, {5, 7, 9});
    check_values(ops::reduce_to_shape(dy, shape{2, 3}), {2, 3}, {1, 2, 3, 4, 5, 6});
    const auto msg = error_of([&] { ops::reduce_to_shape(dy, shape{2}); }, status::shape_mismatch);
    CHECK(msg.find("ops::reduce_to_shape") != std::string::npos);
}

TEST_CASE("binary backward: add, sub, mul, div, pow with broadcasting") {
    struct operands {
        shape a, b;
    };
    const operands shapes[] = {
        {{2, 3, 4}, {3, 1}}, {{2, 3, 4}, {}}, {{3, 1}, {2, 1, 4}}, {{4}, {2, 3, 4}}};
    const ops::binary_op kinds[] = {ops::binary_op::add, ops::binary_op::sub, ops::binary_op::mul,
                                    ops::binary_op::div, ops::binary_op::pow};
    unsigned seed = 1;
    for (const auto& s : shapes)
        for (const auto op : kinds) {
            CAPTURE(s.a.to_string());
            CAPTURE(s.b.to_string());
            CAPTURE(int(op));
            const bool pow = op == ops::binary_op::pow;
            tensor a = pow ? random_tensor(s.a, seed++, 0.5f, 2.0f) : random_tensor(s.a, seed++);
            tensor b = random_tensor(s.b, seed++, -1.5f, 1.5f);
            if (op == ops::binary_op::div) // divisors ±[0.5, 2]
                for (float& v : b.span<float>())
                    v = std::copysign(0.5f + std::abs(v), v);
            auto f = [&] { return ops::binary(op, a, b); };
            const tensor r = random_tensor(f().dims(), seed++);
            const auto g = ops::binary_backward(op, a, b, r);
            check_gradient(a, f, r, g.da);
            check_gradient(b, f, r, g.db);
        }
}

TEST_CASE("binary backward: known values, pow at a ≤ 0, need flags, errors") {
    const tensor a = ops_test::f32({3}, {-1, 0, 2}), b = ops_test::f32({3}, {2, 2, 2});
    const tensor one = ops_test::f32({3}, {1, 1, 1});
    const auto g = ops::binary_backward(ops::binary_op::pow, a, b, one);
    check_values(g.da, {3}, {-2, 0, 4});
    check_values(g.db, {3}, {0, 0, 4 * std::log(2.0f)});
    const auto d = ops::binary_backward(ops::binary_op::div, ops_test::f32({1}, {3}),
                                        ops_test::f32({2}, {2, 4}), ops_test::f32({2}, {1, 1}));
    check_values(d.da, {1}, {0.5f + 0.25f});
    check_values(d.db, {2}, {-3.0f / 4, -3.0f / 16});
    const auto only_b = ops::binary_backward(ops::binary_op::sub, a, b, one, false, true);
    CHECK(only_b.da.numel() == 0);
    check_values(only_b.db, {3}, {-1, -1, -1});
    const tensor wrong = ops_test::f32({2}, {1, 1});
    auto msg = error_of([&] { ops::binary_backward(ops::binary_op::mul, a, b, wrong); },
                        status::shape_mismatch);
    CHECK(msg.find("ops::mul_backward") != std::string::npos);
    const tensor ints(dtype::i32, shape{3});
    msg = error_of([&] { ops::binary_backward(ops::binary_op::add, ints, ints, one); },
                   status::dtype_mismatch);
    CHECK(msg.find("ops::add_backward") != std::string::npos);
}

TEST_CASE("where backward: each branch gets dY where it was taken, reduced to its shape") {
    const tensor cond = bools({3, 1}, {true, false, true});
    tensor x = random_tensor({2, 3, 4}, 3), y = random_tensor({4}, 4);
    auto fx = [&] { return ops::where(cond, x, y); };
    const tensor r = random_tensor({2, 3, 4}, 5);
    const auto g = ops::where_backward(cond, x.dims(), y.dims(), r);
    check_gradient(x, fx, r, g.da);
    check_gradient(y, fx, r, g.db);
    const tensor c2 = bools({2}, {true, false});
    const auto k =
        ops::where_backward(c2, shape{}, shape{2, 2}, ops_test::f32({2, 2}, {1, 2, 3, 4}));
    check_values(k.da, {}, {4});
    check_values(k.db, {2, 2}, {0, 2, 0, 4});
}

// ---- unary
// -----------------------------------------------------------------------------------------

namespace {

struct unary_case {
    const char* name;
    std::function<tensor(const tensor&)> forward;
    // (x, y, dY) → dX
    std::function<tensor(const tensor&, const tensor&, const tensor&)> backward;
    float lo, hi;
    std::vector<float> kinks;
};

} // namespace

TEST_CASE("unary backward: every activation against finite differences") {
    const float alpha = 0.7f;
    const unary_case cases[] = {
        {"relu",
         [](const tensor& x) { return ops::relu(x); },
         [](const tensor& x, const tensor&, const tensor& g) { return ops::relu_backward(x, g); },
         -2,
         2,
         {0}},
        {"leaky_relu",
         [](const tensor& x) { return ops::leaky_relu(x, 0.1f); },
         [](const tensor& x, const tensor&, const tensor& g) {
             return ops::leaky_relu_backward(x, g, 0.1f);
         },
         -2,
         2,
         {0}},
        {"sigmoid",
         [](const tensor& x) { return ops::sigmoid(x); },
         [](const tensor&, const tensor& y, const tensor& g) {
             return ops::sigmoid_backward(y, g);
         },
         -3,
         3,
         {}},
        {"tanh",
         [](const tensor& x) { return ops::tanh(x); },
         [](const tensor&, const tensor& y, const tensor& g) { return ops::tanh_backward(y, g); },
         -2,
         2,
         {}},
        {"gelu",
         [](const tensor& x) { return ops::gelu(x); },
         [](const tensor& x, const tensor&, const tensor& g) {
             return ops::gelu_backward(x, g, ops::gelu_approximation::none);
         },
         -3,
         3,
         {}},
        {"gelu_tanh",
         [](const tensor& x) { return ops::gelu(x, ops::gelu_approximation::tanh); },
         [](const tensor& x, const tensor&, const tensor& g) {
             return ops::gelu_backward(x, g, ops::gelu_approximation::tanh);
         },
         -3,
         3,
         {}},
        {"hard_sigmoid",
         [](const tensor& x) { return ops::hard_sigmoid(x, 0.3f, 0.4f); },
         [](const tensor& x, const tensor&, const tensor& g) {
             return ops::hard_sigmoid_backward(x, g, 0.3f, 0.4f);
         },
         -4,
         4,
         {-0.4f / 0.3f, 0.6f / 0.3f}},
        {"hard_swish",
         [](const tensor& x) { return ops::hard_swish(x); },
         [](const tensor& x, const tensor&, const tensor& g) {
             return ops::hard_swish_backward(x, g);
         },
         -5,
         5,
         {-3, 3}},
        {"clip",
         [](const tensor& x) { return ops::clip(x, -0.4f, 0.6f); },
         [](const tensor& x, const tensor&, const tensor& g) {
             return ops::clip_backward(x, g, -0.4f, 0.6f);
         },
         -1,
         1,
         {-0.4f, 0.6f}},
        {"erf",
         [](const tensor& x) { return ops::erf(x); },
         [](const tensor& x, const tensor&, const tensor& g) { return ops::erf_backward(x, g); },
         -2,
         2,
         {}},
        {"sqrt",
         [](const tensor& x) { return ops::sqrt(x); },
         [](const tensor&, const tensor& y, const tensor& g) { return ops::sqrt_backward(y, g); },
         0.5f,
         3,
         {}},
        {"exp",
         [](const tensor& x) { return map(x, [](float v) { return std::exp(v); }); },
         [](const tensor&, const tensor& y, const tensor& g) { return ops::exp_backward(y, g); },
         -2,
         2,
         {}},
        {"log",
         [](const tensor& x) { return map(x, [](float v) { return std::log(v); }); },
         [](const tensor& x, const tensor&, const tensor& g) { return ops::log_backward(x, g); },
         0.5f,
         3,
         {}},
        {"neg",
         [](const tensor& x) { return map(x, [](float v) { return -v; }); },
         [](const tensor&, const tensor&, const tensor& g) { return ops::neg_backward(g); },
         -2,
         2,
         {}},
        {"reciprocal",
         [](const tensor& x) { return ops::reciprocal(x); },
         [](const tensor&, const tensor& y, const tensor& g) {
             return ops::reciprocal_backward(y, g);
         },
         0.5f,
         3,
         {}},
        {"abs",
         [](const tensor& x) { return map(x, [](float v) { return std::fabs(v); }); },
         [](const tensor& x, const tensor&, const tensor& g) { return ops::abs_backward(x, g); },
         -2,
         2,
         {0}},
        {"sin",
         [](const tensor& x) { return ops::sin(x); },
         [](const tensor& x, const tensor&, const tensor& g) { return ops::sin_backward(x, g); },
         -3,
         3,
         {}},
        {"cos",
         [](const tensor& x) { return ops::cos(x); },
         [](const tensor& x, const tensor&, const tensor& g) { return ops::cos_backward(x, g); },
         -3,
         3,
         {}},
        {"softplus",
         [](const tensor& x) { return ops::softplus(x); },
         [](const tensor& x, const tensor&, const tensor& g) {
             return ops::softplus_backward(x, g);
         },
         -4,
         4,
         {}},
        {"elu",
         [alpha](const tensor& x) { return ops::elu(x, alpha); },
         [alpha](const tensor& x, const tensor&, const tensor& g) {
             return ops::elu_backward(x, g, alpha);
         },
         -2,
         2,
         {0}},
    };
    unsigned seed = 100;
    for (const auto& c : cases) {
        CAPTURE(c.name);
        tensor x = avoiding(random_tensor({3, 41}, seed++, c.lo, c.hi), c.kinks);
        const tensor r = random_tensor(x.dims(), seed++);
        const tensor dx = c.backward(x, c.forward(x), r);
        check_gradient(
            x, [&] { return c.forward(x); }, r, dx);
    }
}

TEST_CASE("unary backward: known values") {
    const tensor x = ops_test::f32({6}, {-4, -3, 0, 1, 3, 4});
    const tensor one = ops_test::f32({6}, {1, 1, 1, 1, 1, 1});
    check_values(ops::hard_swish_backward(x, one), {6}, {0, -0.5f, 0.5f, 1.0f / 3 + 0.5f, 1.5f, 1});
    check_values(ops::relu_backward(x, one), {6}, {0, 0, 0, 1, 1, 1});
    check_values(ops::abs_backward(x, one), {6}, {-1, -1, 0, 1, 1, 1});
    check_values(ops::clip_backward(x, one, -3, 1), {6}, {0, 1, 1, 1, 0, 0});
    const tensor zero = ops_test::f32({1}, {0}), g1 = ops_test::f32({1}, {2});
    check_values(ops::gelu_backward(zero, g1, ops::gelu_approximation::none), {1}, {1});
    check_values(ops::gelu_backward(zero, g1, ops::gelu_approximation::tanh), {1}, {1});
    check_values(ops::erf_backward(zero, g1), {1}, {2.256758334191025f} /* 4/√π */);
    const auto msg = error_of([&] { ops::relu_backward(x, g1); }, status::shape_mismatch);
    CHECK(msg.find("ops::relu_backward") != std::string::npos);
    error_of([&] { ops::tanh_backward(tensor(dtype::i64, shape{6}), one); },
             status::dtype_mismatch);
}

TEST_CASE("softmax and log_softmax backward: axes and coerce_2d") {
    struct cfg {
        std::int64_t axis;
        bool coerce;
    };
    const cfg cases[] = {{-1, false}, {1, false}, {0, false}, {1, true}, {-2, true}, {0, true}};
    unsigned seed = 200;
    for (const auto& c : cases) {
        CAPTURE(c.axis);
        CAPTURE(c.coerce);
        tensor x = random_tensor({2, 3, 4}, seed++, -2, 2);
        const tensor r = random_tensor(x.dims(), seed++);
        auto sm = [&] { return ops::softmax(x, c.axis, c.coerce); };
        auto lsm = [&] { return ops::log_softmax(x, c.axis, c.coerce); };
        check_gradient(x, sm, r, ops::softmax_backward(sm(), r, c.axis, c.coerce));
        check_gradient(x, lsm, r, ops::log_softmax_backward(lsm(), r, c.axis, c.coerce));
    }
    // A constant dY moves no probability: the gradient is 0.
    const tensor y = ops::softmax(random_tensor({2, 5}, 7));
    const tensor ones = ops_test::f32({2, 5}, std::vector<float>(10, 1.0f));
    const tensor dx = ops::softmax_backward(y, ones);
    for (const float v : dx.span<float>())
        CHECK(std::abs(v) < 1e-6f);
}

// ---- matmul
// ----------------------------------------------------------------------------------------

TEST_CASE("matmul backward: batch broadcasting and 1-D operands") {
    struct cfg {
        shape a, b;
    };
    const cfg cases[] = {
        {{2, 1, 3, 4}, {5, 4, 2}}, // both broadcast
        {{2, 3, 4}, {4, 5}},       // B shared: one stacked product
        {{3, 4}, {2, 4, 5}},       // A shared
        {{1, 3, 4}, {2, 4, 5}},    // A broadcast over a batch of 1
        {{2, 3, 4}, {2, 4, 5}},    // no broadcast
        {{3, 4}, {4}},             // 1-D B
        {{4}, {2, 4, 3}},          // 1-D A, batched B
        {{4}, {4}},                // dot product
        {{2, 70, 3}, {3, 2}},      // more than one tile of rows
    };
    unsigned seed = 300;
    for (const auto& c : cases) {
        CAPTURE(c.a.to_string());
        CAPTURE(c.b.to_string());
        tensor a = random_tensor(c.a, seed++), b = random_tensor(c.b, seed++);
        auto f = [&] { return ops::matmul(a, b); };
        const tensor r = random_tensor(f().dims(), seed++);
        const auto g = ops::matmul_backward(a, b, r);
        check_gradient(a, f, r, g.da);
        check_gradient(b, f, r, g.db);
    }
    const tensor a = random_tensor({3, 4}, 1), b = random_tensor({4, 2}, 2);
    const auto only_a = ops::matmul_backward(a, b, random_tensor({3, 2}, 3), true, false);
    CHECK(only_a.db.numel() == 0);
    CHECK(only_a.da.dims() == shape{3, 4});
    const auto msg = error_of(
        [&] {
            ops::matmul_backward(a, b, random_tensor({3, 3}, 4));
        },
        status::shape_mismatch);
    CHECK(msg.find("ops::matmul_backward") != std::string::npos);
}

// ---- layer normalization
// ---------------------------------------------------------------------------

TEST_CASE("layer_normalization backward: axes, broadcast and 3-D scale") {
    struct cfg {
        shape x, scale;
        std::int64_t axis;
    };
    const cfg cases[] = {
        {{2, 3, 4}, {4}, -1},         {{2, 3, 4}, {3, 4}, 1}, {{2, 3, 4}, {3, 1}, 1},
        {{2, 3, 4, 5}, {3, 4, 5}, 1}, {{2, 3, 4}, {1}, -2},   {{3, 5}, {5}, 0},
    };
    unsigned seed = 400;
    for (const auto& c : cases) {
        CAPTURE(c.x.to_string());
        CAPTURE(c.scale.to_string());
        CAPTURE(c.axis);
        tensor x = random_tensor(c.x, seed++);
        tensor scale = random_tensor(c.scale, seed++, 0.5f, 1.5f);
        tensor bias = random_tensor(c.scale, seed++);
        auto f = [&] { return ops::layer_normalization(x, scale, bias, c.axis, 1e-5f); };
        const tensor r = random_tensor(c.x, seed++);
        const auto g = ops::layer_normalization_backward(x, scale, r, c.axis, 1e-5f, true);
        check_gradient(x, f, r, g.dx);
        check_gradient(scale, f, r, g.dscale);
        check_gradient(bias, f, r, g.dbias);
    }
    const tensor x = random_tensor({2, 3}, 1), s = random_tensor({3}, 2);
    CHECK(ops::layer_normalization_backward(x, s, x, -1, 1e-5f, false).dbias.numel() == 0);
}

// ---- reductions
// ------------------------------------------------------------------------------------

TEST_CASE("reduce_mean and reduce_sum backward: axes, keepdims, noop") {
    struct cfg {
        std::vector<std::int64_t> axes;
        bool keepdims, noop;
    };
    const cfg cases[] = {{{1}, true, false}, {{1}, false, false},     {{}, true, false},
                         {{}, false, false}, {{-1, 0}, false, false}, {{0, 2}, true, false},
                         {{}, false, true}};
    unsigned seed = 500;
    for (const auto& c : cases) {
        CAPTURE(c.axes.size());
        CAPTURE(c.keepdims);
        CAPTURE(c.noop);
        tensor x = random_tensor({2, 3, 4}, seed++);
        auto mean = [&] { return ops::reduce_mean(x, c.axes, c.keepdims, c.noop); };
        auto sum = [&] { return ops::reduce(ops::reduce_op::sum, x, c.axes, c.keepdims, c.noop); };
        const tensor r = random_tensor(mean().dims(), seed++);
        check_gradient(x, mean, r,
                       ops::reduce_mean_backward(x.dims(), r, c.axes, c.keepdims, c.noop));
        check_gradient(x, sum, r,
                       ops::reduce_sum_backward(x.dims(), r, c.axes, c.keepdims, c.noop));
    }
    const std::int64_t ax[] = {1};
    check_values(ops::reduce_mean_backward(shape{2, 2}, ops_test::f32({2}, {2, 4}), ax, false),
                 {2, 2}, {1, 1, 2, 2});
    const auto msg = error_of(
        [&] {
            ops::reduce_sum_backward(shape{2, 2}, ops_test::f32({2, 1}, {2, 4}), ax, false);
        },
        status::shape_mismatch);
    CHECK(msg.find("ops::reduce_sum_backward") != std::string::npos);
}

// ---- data movement
// ---------------------------------------------------------------------------------

TEST_CASE("reshape and transpose backward") {
    tensor x = random_tensor({2, 3, 4}, 1);
    const std::int64_t to[] = {4, -1};
    auto f = [&] { return ops::reshape(x, to); };
    const tensor r = random_tensor({4, 6}, 2);
    check_gradient(x, f, r, ops::reshape_backward(r, x.dims()));
    const std::vector<std::vector<std::int64_t>> perms = {{1, 2, 0}, {}, {0, 2, 1}, {2, 0, 1}};
    unsigned seed = 10;
    for (const auto& p : perms) {
        CAPTURE(p.size());
        auto t = [&] { return ops::transpose(x, p); };
        const tensor rt = random_tensor(t().dims(), seed++);
        const tensor dx = ops::transpose_backward(rt, p);
        check_gradient(x, t, rt, dx);
    }
    const std::int64_t bad[] = {0, 0, 1};
    error_of([&] { ops::transpose_backward(r, bad); }, status::invalid_argument);
    error_of([&] { ops::reshape_backward(r, shape{5, 5}); }, status::shape_mismatch);
}

TEST_CASE("concat backward: three inputs") {
    for (const std::int64_t axis : {1, -1}) {
        CAPTURE(axis);
        const bool mid = axis == 1;
        tensor x0 = random_tensor(mid ? shape{2, 1, 3} : shape{2, 3, 1}, 1);
        tensor x1 = random_tensor(mid ? shape{2, 4, 3} : shape{2, 3, 4}, 2);
        tensor x2 = random_tensor(mid ? shape{2, 2, 3} : shape{2, 3, 2}, 3);
        auto f = [&] {
            const const_tensor_view in[] = {x0, x1, x2};
            return ops::concat(in, axis);
        };
        const tensor r = random_tensor(f().dims(), 4);
        const shape dims[] = {x0.dims(), x1.dims(), x2.dims()};
        const auto g = ops::concat_backward(r, dims, axis);
        REQUIRE(g.size() == 3);
        check_gradient(x0, f, r, g[0]);
        check_gradient(x1, f, r, g[1]);
        check_gradient(x2, f, r, g[2]);
    }
    const shape dims[] = {shape{2, 2}, shape{3, 2}};
    error_of(
        [&] {
            ops::concat_backward(random_tensor({4, 2}, 1), dims, 0);
        },
        status::shape_mismatch);
}

TEST_CASE("slice backward: negative steps, negative starts, clamping, axes") {
    constexpr std::int64_t big = std::numeric_limits<std::int64_t>::max();
    struct cfg {
        std::vector<std::int64_t> starts, ends, axes, steps;
    };
    const cfg cases[] = {
        {{0, 1}, {2, 5}, {}, {}},
        {{-1}, {-big}, {1}, {-1}},             // reversed axis 1
        {{5, 3}, {0, -big}, {2, 0}, {-2, -1}}, // negative steps on two axes
        {{-3, 1}, {big, 100}, {-1, 1}, {2, 3}},
        {{1}, {1}, {0}, {}}, // empty
    };
    unsigned seed = 600;
    for (const auto& c : cases) {
        CAPTURE(c.starts.size());
        tensor x = random_tensor({3, 5, 6}, seed++);
        auto f = [&] { return ops::slice(x, c.starts, c.ends, c.axes, c.steps); };
        const tensor r = random_tensor(f().dims(), seed++);
        const tensor dx = ops::slice_backward(x.dims(), r, c.starts, c.ends, c.axes, c.steps);
        if (r.numel() == 0) {
            CHECK(dx.dims() == x.dims());
            for (const float v : dx.span<float>())
                CHECK(v == 0.0f);
            continue;
        }
        check_gradient(x, f, r, dx);
    }
    const std::int64_t s[] = {2}, e[] = {0}, st[] = {-1};
    check_values(ops::slice_backward(shape{4}, ops_test::f32({2}, {1, 2}), s, e, {}, st), {4},
                 {0, 2, 1, 0});
    const std::int64_t zero[] = {0};
    error_of(
        [&] {
            ops::slice_backward(shape{4}, ops_test::f32({2}, {1, 2}), s, e, {}, zero);
        },
        status::invalid_argument);
    error_of(
        [&] {
            ops::slice_backward(shape{4}, ops_test::f32({3}, {1, 2, 3}), s, e, {}, st);
        },
        status::shape_mismatch);
}

TEST_CASE("gather backward: repeated and negative indices add up") {
    const tensor idx = ops_test::i64({2, 3}, {0, 4, -1, 2, 0, 0});
    for (const std::int64_t axis : {0, 1}) {
        CAPTURE(axis);
        tensor d = random_tensor(axis == 0 ? shape{5, 3} : shape{3, 5}, 2);
        auto f = [&] { return ops::gather(d, idx, axis); };
        const tensor r = random_tensor(f().dims(), 3);
        check_gradient(d, f, r, ops::gather_backward(d.dims(), idx, r, axis));
    }
    const tensor idx32 = ops_test::make<std::int32_t>({3}, {1, -2, 1});
    const tensor g = ops_test::f32({3, 2}, {1, 2, 3, 4, 5, 6});
    check_values(ops::gather_backward(shape{3, 2}, idx32, g), {3, 2}, {0, 0, 9, 12, 0, 0});
    const tensor out_of_range = ops_test::i64({1}, {3});
    error_of(
        [&] {
            ops::gather_backward(shape{3, 2}, out_of_range, ops_test::f32({1, 2}, {1, 1}));
        },
        status::out_of_range);
}

TEST_CASE("split backward: parts placed back, absent parts zero") {
    tensor x = random_tensor({2, 7, 3}, 1);
    const std::int64_t sizes[] = {2, 0, 4, 1};
    // L reads the parts 0, 2 and 3 (part 1 is empty; part 3 absent from dY).
    auto f = [&] {
        const auto parts = ops::split(x, sizes, 1);
        const const_tensor_view read[] = {parts[0], parts[2]};
        return ops::concat(read, 1);
    };
    const tensor r = random_tensor(f().dims(), 2);
    const std::int64_t b0[] = {0}, e0[] = {2}, b2[] = {2}, e2[] = {6}, ax[] = {1};
    const tensor r0 = ops::slice(r, b0, e0, ax), r2 = ops::slice(r, b2, e2, ax);
    const tensor empty(dtype::f32, shape{2, 0, 3});
    const ops::optional_view dys[] = {r0.view(), empty.view(), r2.view(), std::nullopt};
    const tensor dx = ops::split_backward(x.dims(), dys, sizes, 1);
    check_gradient(x, f, r, dx);
    for (std::int64_t n = 0; n < 2; ++n)
        for (std::int64_t c = 0; c < 3; ++c)
            CHECK(dx.view().at<float>({n, 6, c}) == 0.0f);
    const std::int64_t wrong[] = {2, 0, 4, 2};
    error_of([&] { ops::split_backward(x.dims(), dys, wrong, 1); }, status::invalid_argument);
}

TEST_CASE("pad backward: positive and negative pads, axes") {
    struct cfg {
        std::vector<std::int64_t> pads, axes;
    };
    const cfg cases[] = {
        {{1, 0, 2, 0, 3, 1}, {}},
        {{-1, 2, 1, -2}, {1, -1}},
        {{0, -1, -2, 0, 2, -1}, {}},
        {{2, -2}, {0}},
    };
    unsigned seed = 700;
    for (const auto& c : cases) {
        CAPTURE(c.pads.size());
        tensor x = random_tensor({3, 4, 5}, seed++);
        auto f = [&] { return ops::pad(x, c.pads, ops::pad_mode::constant, std::nullopt, c.axes); };
        const tensor r = random_tensor(f().dims(), seed++);
        check_gradient(x, f, r, ops::pad_backward(x.dims(), r, c.pads, c.axes));
    }
    const std::int64_t pads[] = {1, -1};
    check_values(ops::pad_backward(shape{3}, ops_test::f32({3}, {7, 8, 9}), pads), {3}, {8, 9, 0});
    error_of(
        [&] {
            ops::pad_backward(shape{3}, ops_test::f32({4}, {1, 2, 3, 4}), pads);
        },
        status::shape_mismatch);
}

// ---- determinism
// -----------------------------------------------------------------------------------

TEST_CASE("backward passes give the same bytes at 1 and 4 threads") {
    const tensor a = random_tensor({4, 96, 80}, 1), b = random_tensor({80, 72}, 2);
    const tensor b3 = random_tensor({4, 80, 72}, 3), dy = random_tensor({4, 96, 72}, 4);
    const tensor x = random_tensor({64, 40, 24}, 5), s = random_tensor({24}, 6);
    const tensor gx = random_tensor({64, 40, 24}, 7);
    const tensor col = random_tensor({40, 1}, 8);
    const tensor idx = ops_test::i64({6}, {3, 1, 3, -1, 0, 3});
    const tensor demb = random_tensor({6, 2048}, 9);
    auto run = [&] {
        std::vector<tensor> out;
        auto m1 = ops::matmul_backward(a, b, dy);
        auto m2 = ops::matmul_backward(a, b3, dy);
        auto ln = ops::layer_normalization_backward(x, s, gx, -1, 1e-5f, true);
        auto bin = ops::binary_backward(ops::binary_op::mul, x, col, gx);
        out.push_back(std::move(m1.da));
        out.push_back(std::move(m1.db));
        out.push_back(std::move(m2.da));
        out.push_back(std::move(m2.db));
        out.push_back(std::move(ln.dx));
        out.push_back(std::move(ln.dscale));
        out.push_back(std::move(ln.dbias));
        out.push_back(std::move(bin.db));
        out.push_back(ops::softmax_backward(ops::softmax(x, 1), gx, 1));
        out.push_back(ops::gather_backward(shape{5, 2048}, idx, demb));
        const std::int64_t axes[] = {0, 2};
        out.push_back(ops::reduce_mean_backward(x.dims(), random_tensor({40}, 10), axes, false));
        out.push_back(ops::gelu_backward(x, gx, ops::gelu_approximation::tanh));
        return out;
    };
    const int before = num_threads();
    set_num_threads(1);
    const auto one = run();
    set_num_threads(4);
    const auto four = run();
    set_num_threads(before);
    REQUIRE(one.size() == four.size());
    for (std::size_t i = 0; i < one.size(); ++i) {
        CAPTURE(i);
        CHECK(same_bytes(one[i], four[i]));
    }
}
