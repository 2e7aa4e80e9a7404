// Elementwise math of src/graph/ops/math.hpp (rounding, trigonometry, activations, predicates,
// comparisons, logic, Mod, PRelu, variadic Min/Max/Sum/Mean), directly and through
// hone::executor (the op table's entries: attributes, constant folding, shape inference).
#include "../../src/graph/ops/math.hpp"
#include "graph_builder.hpp"
#include "ops_test_util.hpp"

#include "hone/core/threads.hpp"
#include "hone/graph/executor.hpp"

#include <algorithm>
#include <limits>
#include <map>
#include <string>

namespace ops = hone::ops;
using namespace ops_test;
using hone::dtype;
using hone::shape;
using hone::status;
using hone::tensor;
using views = std::vector<hone::const_tensor_view>;

namespace {

constexpr float inf = std::numeric_limits<float>::infinity();
constexpr float qnan = std::numeric_limits<float>::quiet_NaN();
constexpr double pi = 3.14159265358979323846;

tensor bools(const shape& dims, const std::vector<bool>& v) {
    tensor t(dtype::boolean, dims);
    REQUIRE(static_cast<std::int64_t>(v.size()) == t.numel());
    auto* p = static_cast<bool*>(t.data());
    for (std::size_t i = 0; i < v.size(); ++i)
        p[i] = v[i];
    return t;
}
std::vector<bool> bool_values(const tensor& t) {
    REQUIRE(t.type() == dtype::boolean);
    const auto* p = static_cast<const bool*>(t.data());
    return std::vector<bool>(p, p + t.numel());
}

// x op a single-node graph: input "x" (and "y" when given), output "z".
std::vector<tensor> run_node(const std::string& op, std::map<std::string, hone::attribute> attrs,
                             tensor x, std::optional<tensor> y = std::nullopt) {
    graph g;
    g.input("x", std::move(x));
    std::vector<std::string> in{"x"};
    if (y) {
        g.input("y", std::move(*y));
        in.push_back("y");
    }
    g.node("n", op, in, {"z"}, std::move(attrs)).output("z");
    const hone::executor ex(g.m);
    CHECK(g.paths(ex).at("n").find("ops::") == 0);
    return g.run(ex);
}

} // namespace

// ---- unary -------------------------------------------------------------------------------------

TEST_CASE("rounding, sign and reciprocal: known values") {
    check_values(ops::floor(f32({5}, {-1.5f, -0.5f, 0, 0.5f, 2.7f})), {5}, {-2, -1, 0, 0, 2});
    check_values(ops::ceil(f32({5}, {-1.5f, -0.5f, 0, 0.5f, 2.7f})), {5}, {-1, 0, 0, 1, 3});
    // Halves to even; 0.49999997 (the float below 0.5) is not a half; 2^23 + 1 has no fraction.
    const auto r = ops::round(f32({12}, {0.5f, 1.5f, 2.5f, -0.5f, -1.5f, -2.5f, 2.4f, 2.6f, -2.6f,
                                         0.49999997f, 8388609.0f, 3.5f}));
    CHECK(values<float>(r) == std::vector<float>{0, 2, 2, 0, -2, -2, 2, 3, -3, 0, 8388609.0f, 4});
    CHECK(std::signbit(r.span<float>()[3])); // −0.5 rounds to −0
    const auto s = ops::sign(f32({5}, {-3, -0.0f, 0, 2, qnan}));
    check_values(s, {5}, {-1, 0, 0, 1, qnan});
    const auto rec = ops::reciprocal(f32({3}, {2, -4, 0}));
    CHECK(rec.span<float>()[0] == 0.5f);
    CHECK(rec.span<float>()[1] == -0.25f);
    CHECK(rec.span<float>()[2] == inf);
    error_of([] { (void)ops::floor(i64({1}, {1})); }, status::dtype_mismatch);
}

TEST_CASE("trigonometry: known angles") {
    const auto p = static_cast<float>(pi);
    check_values(ops::sin(f32({4}, {0, p / 6, p / 2, -p / 2})), {4}, {0, 0.5f, 1, -1}, 1e-6);
    check_values(ops::cos(f32({3}, {0, p / 3, p})), {3}, {1, 0.5f, -1}, 1e-6);
    check_values(ops::tan(f32({3}, {0, p / 4, -p / 4})), {3}, {0, 1, -1}, 1e-6);
    check_values(ops::atan(f32({5}, {0, 1, -1, inf, -inf})), {5}, {0, p / 4, -p / 4, p / 2, -p / 2},
                 1e-6);
}

TEST_CASE("activations: Elu, Selu, Celu, Softplus, Softsign, Mish, ThresholdedRelu") {
    const double em1 = std::exp(-1.0) - 1.0;
    check_values(ops::elu(f32({3}, {-1, 0, 3}), 2.0f), {3}, {float(2 * em1), 0, 3});
    check_values(ops::elu(f32({1}, {-1})), {1}, {float(em1)});
    // ONNX's constants, written out here as the spec gives them.
    const double alpha = 1.67326319217681884765625, gamma = 1.05070102214813232421875;
    check_values(ops::selu(f32({3}, {-1, 0, 2})), {3},
                 {float(gamma * alpha * em1), 0, float(2 * gamma)});
    check_values(ops::selu(f32({2}, {-1, 2}), 2.0f, 3.0f), {2}, {float(6 * em1), 6});
    check_values(ops::celu(f32({3}, {-1, 0, 3}), 2.0f), {3},
                 {float(2 * (std::exp(-0.5) - 1)), 0, 3});
    CHECK(error_of([] { (void)ops::celu(f32({1}, {1}), 0.0f); }, status::invalid_argument)
              .find("alpha") != std::string::npos);
    // Softplus = ln(1 + e^x), without overflow at ±100.
    const std::vector<float> xs{-100, -3, -1, 0, 0.5f, 2, 10, 100};
    std::vector<float> sp, mish;
    for (const float x : xs) {
        const double soft = x > 50 ? x : std::log(1.0 + std::exp(double(x)));
        sp.push_back(float(soft));
        mish.push_back(float(x * std::tanh(soft)));
    }
    check_values(ops::softplus(f32({8}, xs)), {8}, sp);
    CHECK(ops::softplus(f32({1}, {-100})).span<float>()[0] > 0.0f); // e^−100, not 0
    check_values(ops::mish(f32({8}, xs)), {8}, mish);
    check_values(ops::softsign(f32({3}, {-3, 0, 1})), {3}, {-0.75f, 0, 0.5f});
    check_values(ops::thresholded_relu(f32({5}, {0.5f, 1, 1.5f, -2, qnan})), {5},
                 {0, 0, 1.5f, 0, 0});
    check_values(ops::thresholded_relu(f32({2}, {-0.5f, -2}), -1.0f), {2}, {-0.5f, 0});
}

TEST_CASE("predicates IsNaN, IsInf and Not") {
    const auto x = f32({4}, {inf, -inf, 1, qnan});
    CHECK(bool_values(ops::is_nan(x)) == std::vector<bool>{false, false, false, true});
    CHECK(bool_values(ops::is_inf(x)) == std::vector<bool>{true, true, false, false});
    CHECK(bool_values(ops::is_inf(x, false, true)) == std::vector<bool>{true, false, false, false});
    CHECK(bool_values(ops::is_inf(x, true, false)) == std::vector<bool>{false, true, false, false});
    CHECK(ops::is_nan(x).type() == dtype::boolean);
    CHECK(bool_values(ops::logical_not(bools({2}, {true, false}))) ==
          std::vector<bool>{false, true});
    const auto msg = error_of([] { (void)ops::is_nan(i64({1}, {1})); }, status::dtype_mismatch);
    CHECK(msg.find("ops::is_nan") != std::string::npos);
    CHECK(msg.find("'X'") != std::string::npos);
    error_of([&] { (void)ops::logical_not(x); }, status::dtype_mismatch);
}

// ---- binary ------------------------------------------------------------------------------------

TEST_CASE("comparisons broadcast and return bool; integers compare exactly; NaN is false") {
    const auto a = f32({2, 3}, {1, 2, 3, 4, 5, 6});
    const auto b = f32({3}, {2, 2, 7});
    using B = std::vector<bool>;
    CHECK(bool_values(ops::less(a, b)) == B{true, false, true, false, false, true});
    CHECK(bool_values(ops::greater(a, b)) == B{false, false, false, true, true, false});
    CHECK(bool_values(ops::less_or_equal(a, b)) == B{true, true, true, false, false, true});
    CHECK(bool_values(ops::greater_or_equal(a, b)) == B{false, true, false, true, true, false});
    CHECK(ops::less(a, b).dims() == shape{2, 3});
    const auto n = f32({2}, {qnan, 1});
    for (const auto op : {ops::compare_op::less, ops::compare_op::greater,
                          ops::compare_op::less_or_equal, ops::compare_op::greater_or_equal})
        CHECK_FALSE(bool_values(ops::compare(op, n, f32({}, {qnan})))[0]);
    CHECK(bool_values(ops::less(i64({3}, {5, -2, 9}), i64({}, {3}))) == B{false, true, false});
    // 2^53 + 1 > 2^53: would be equal as floats.
    CHECK(bool_values(ops::greater(i64({1}, {9007199254740993}), i64({1}, {9007199254740992})))[0]);
    CHECK(bool_values(ops::greater_or_equal(make<std::int32_t>({2}, {-1, 4}),
                                            make<std::int32_t>({1}, {0}))) == B{false, true});
    CHECK(error_of([&] { (void)ops::less(a, i64({1}, {1})); }, status::dtype_mismatch)
              .find("ops::less") != std::string::npos);
    error_of([] { (void)ops::greater(bools({1}, {true}), bools({1}, {true})); },
             status::dtype_mismatch);
    error_of([&] { (void)ops::less(a, f32({2}, {1, 2})); }, status::shape_mismatch);
}

TEST_CASE("And, Or, Xor broadcast over bool") {
    const auto a = bools({2, 1}, {true, false});
    const auto b = bools({3}, {true, false, true});
    using B = std::vector<bool>;
    CHECK(bool_values(ops::logical_and(a, b)) == B{true, false, true, false, false, false});
    CHECK(bool_values(ops::logical_or(a, b)) == B{true, true, true, true, false, true});
    CHECK(bool_values(ops::logical_xor(a, b)) == B{false, true, false, true, false, true});
    const auto msg =
        error_of([&] { (void)ops::logical_or(a, f32({1}, {1})); }, status::dtype_mismatch);
    CHECK(msg.find("'B'") != std::string::npos);
}

TEST_CASE("Mod: divisor's sign (fmod 0), dividend's sign (fmod 1), floats, errors") {
    const auto a = i64({6}, {-7, 7, -7, 7, 6, 0});
    const auto b = i64({6}, {3, -3, -3, 3, 3, 5});
    // Python's %: -7 % 3 = 2, 7 % -3 = -2, -7 % -3 = -1.
    CHECK(values<std::int64_t>(ops::mod(a, b)) == std::vector<std::int64_t>{2, -2, -1, 1, 0, 0});
    // C's fmod / %: the sign of the dividend.
    CHECK(values<std::int64_t>(ops::mod(a, b, true)) ==
          std::vector<std::int64_t>{-1, 1, -1, 1, 0, 0});
    // Broadcast scalar divisor, i32, and the INT_MIN % −1 overflow case.
    CHECK(values<std::int32_t>(ops::mod(make<std::int32_t>({3}, {-5, 5, INT32_MIN}),
                                        make<std::int32_t>({}, {-1}))) ==
          std::vector<std::int32_t>{0, 0, 0});
    CHECK(values<std::int32_t>(
              ops::mod(make<std::int32_t>({2, 2}, {-5, 5, 9, -9}), make<std::int32_t>({}, {4}))) ==
          std::vector<std::int32_t>{3, 1, 1, 3});
    const auto f = ops::mod(f32({3}, {-7.5f, 7.5f, 1}), f32({3}, {2, -2, 0}), true);
    check_values(f, {3}, {-1.5f, 1.5f, qnan});
    auto msg =
        error_of([] { (void)ops::mod(f32({1}, {1}), f32({1}, {1})); }, status::invalid_argument);
    CHECK(msg.find("'fmod'") != std::string::npos);
    msg = error_of([&] { (void)ops::mod(a, i64({1}, {0})); }, status::invalid_argument);
    CHECK(msg.find("ops::mod") != std::string::npos);
    error_of([&] { (void)ops::mod(a, f32({1}, {1})); }, status::dtype_mismatch);
}

TEST_CASE("PRelu: the slope broadcasts unidirectionally to X") {
    const auto x = f32({1, 2, 2, 2}, {-1, 2, -3, 4, -1, 2, -3, 4});
    check_values(ops::prelu(x, f32({2, 1, 1}, {0.1f, 0.5f})), {1, 2, 2, 2},
                 {-0.1f, 2, -0.3f, 4, -0.5f, 2, -1.5f, 4});
    check_values(ops::prelu(x, f32({}, {0.25f})), {1, 2, 2, 2},
                 {-0.25f, 2, -0.75f, 4, -0.25f, 2, -0.75f, 4});
    error_of([&] { (void)ops::prelu(x, f32({3}, {1, 1, 1})); }, status::shape_mismatch);
    // X [3] cannot grow to the slope's [2, 3].
    error_of(
        [] {
            (void)ops::prelu(f32({3}, {1, 2, 3}), f32({2, 3}, {1, 1, 1, 1, 1, 1}));
        },
        status::shape_mismatch);
}

// ---- variadic ----------------------------------------------------------------------------------

TEST_CASE("Min, Max, Sum, Mean over 1..N broadcast inputs") {
    const auto a = f32({2, 1}, {1, 5});
    const auto b = f32({3}, {0, 3, 6});
    const auto c = f32({}, {4});
    const views in{a.view(), b.view(), c.view()};
    check_values(ops::min(in), {2, 3}, {0, 1, 1, 0, 3, 4});
    check_values(ops::max(in), {2, 3}, {4, 4, 6, 5, 5, 6});
    check_values(ops::sum(in), {2, 3}, {5, 8, 11, 9, 12, 15});
    check_values(ops::mean(in), {2, 3}, {5.0f / 3, 8.0f / 3, 11.0f / 3, 3, 4, 5});
    // One input: itself.
    CHECK(values<float>(ops::max(views{b.view()})) == values<float>(b));
    // NaN propagates from any position.
    const auto n1 = f32({3}, {qnan, 1, 2}), n2 = f32({3}, {1, qnan, 2}),
               n3 = f32({3}, {0, 0, qnan});
    for (const auto& r : {ops::min(views{n1.view(), n2.view(), n3.view()}),
                          ops::max(views{n1.view(), n2.view(), n3.view()})})
        for (const float v : values<float>(r))
            CHECK(std::isnan(v));
    // The sum runs in double: 1e8 + 1 − 1e8 is 1 (0 in float arithmetic).
    const auto big = f32({1}, {1e8f}), one = f32({1}, {1}), minus = f32({1}, {-1e8f});
    CHECK(ops::sum(views{big.view(), one.view(), minus.view()}).span<float>()[0] == 1.0f);
    // Integers (shape arithmetic): exact, wrapping.
    const auto i = i64({3}, {1, -5, std::int64_t{1} << 40}), z = i64({}, {0});
    CHECK(values<std::int64_t>(ops::max(views{i.view(), z.view()})) ==
          std::vector<std::int64_t>{1, 0, std::int64_t{1} << 40});
    CHECK(values<std::int64_t>(ops::min(views{i.view(), z.view()})) ==
          std::vector<std::int64_t>{0, -5, 0});
    const auto top = i64({1}, {INT64_MAX}), inc = i64({1}, {1});
    CHECK(values<std::int64_t>(ops::sum(views{top.view(), inc.view()}))[0] == INT64_MIN);
    const auto i32 = make<std::int32_t>({2}, {7, -7});
    CHECK(values<std::int32_t>(ops::sum(views{i32.view(), i32.view()})) ==
          std::vector<std::int32_t>{14, -14});
}

TEST_CASE("variadic errors name the operator and the input") {
    const auto a = f32({2}, {1, 2});
    const auto i = i64({2}, {1, 2});
    auto msg = error_of([&] { (void)ops::sum(views{a.view(), i.view()}); }, status::dtype_mismatch);
    CHECK(msg.find("ops::sum") != std::string::npos);
    CHECK(msg.find("input 1") != std::string::npos);
    error_of([&] { (void)ops::mean(views{i.view()}); }, status::dtype_mismatch);
    error_of([] { (void)ops::min(views{}); }, status::invalid_argument);
    const auto b = f32({3}, {1, 2, 3});
    error_of([&] { (void)ops::max(views{a.view(), b.view()}); }, status::shape_mismatch);
    error_of([] { (void)ops::max(views{bools({1}, {true}).view()}); }, status::dtype_mismatch);
}

TEST_CASE("elementwise math is identical at any thread count") {
    const auto x = random_f32({300, 257}, 11);
    const auto y = random_f32({257}, 12);
    const auto z = random_f32({300, 1}, 13);
    const int before = hone::num_threads();
    auto all = [&] {
        std::vector<tensor> r;
        r.push_back(ops::mish(x));
        r.push_back(ops::softplus(x));
        r.push_back(ops::sum(views{x.view(), y.view(), z.view()}));
        r.push_back(ops::max(views{x.view(), y.view(), z.view()}));
        r.push_back(ops::less(x, y));
        r.push_back(ops::prelu(x, y));
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

TEST_CASE("executor: elementwise entries read their attributes") {
    using hone::attribute;
    const auto x = f32({2, 3}, {-2, -1, 0, 0.5f, 1, 3});
    auto y = run_node("Celu", {{"alpha", attribute::of_float(2)}}, x.clone());
    check_values(y.at(0), {2, 3},
                 {float(2 * (std::exp(-1.0) - 1)), float(2 * (std::exp(-0.5) - 1)), 0, 0.5f, 1, 3});
    y = run_node("ThresholdedRelu", {{"alpha", attribute::of_float(0.75f)}}, x.clone());
    check_values(y.at(0), {2, 3}, {0, 0, 0, 0, 1, 3});
    y = run_node("Elu", {}, x.clone());
    check_values(y.at(0), {2, 3},
                 {float(std::exp(-2.0) - 1), float(std::exp(-1.0) - 1), 0, 0.5f, 1, 3});
    y = run_node("Round", {}, x.clone());
    check_values(y.at(0), {2, 3}, {-2, -1, 0, 0, 1, 3});
    y = run_node("IsInf", {{"detect_negative", attribute::of_int(0)}}, f32({2}, {-inf, inf}));
    CHECK(bool_values(y.at(0)) == std::vector<bool>{false, true});
    y = run_node("Mod", {{"fmod", attribute::of_int(1)}}, f32({2}, {-7, 7}), f32({1}, {3}));
    check_values(y.at(0), {2}, {-1, 1});
    y = run_node("Mod", {}, i64({2}, {-7, 7}), i64({1}, {3}));
    CHECK(values<std::int64_t>(y.at(0)) == std::vector<std::int64_t>{2, 1});
    y = run_node("Less", {}, i64({3}, {1, 5, 9}), i64({}, {5}));
    CHECK(bool_values(y.at(0)) == std::vector<bool>{true, false, false});
    y = run_node("Xor", {}, bools({2}, {true, true}), bools({2}, {true, false}));
    CHECK(bool_values(y.at(0)) == std::vector<bool>{false, true});
    y = run_node("PRelu", {}, f32({2, 2}, {-1, 1, -2, 2}), f32({2, 1}, {0.5f, 0.25f}));
    check_values(y.at(0), {2, 2}, {-0.5f, 1, -0.5f, 2});
    y = run_node("Mish", {}, f32({1}, {1}));
    check_values(y.at(0), {1}, {float(std::tanh(std::log(1 + std::exp(1.0))))});
    // A float Mod without fmod = 1 fails at run, naming the node and the attribute.
    try {
        (void)run_node("Mod", {}, f32({1}, {1}), f32({1}, {1}));
        FAIL("no error");
    } catch (const hone::error& e) {
        CHECK(e.code() == status::invalid_argument);
        const std::string m = e.what();
        CHECK(m.find("Mod 'n'") != std::string::npos);
        CHECK(m.find("'fmod'") != std::string::npos);
    }
}

TEST_CASE("executor: variadic Sum/Max/Min/Mean with graph inputs and constants") {
    graph g;
    g.input("a", f32({2, 1}, {1, 5}))
        .input("b", f32({3}, {0, 3, 6}))
        .constant("c", f32({}, {4}))
        .node("sum", "Sum", {"a", "b", "c"}, {"s"})
        .node("max", "Max", {"a", "b", "c"}, {"mx"})
        .node("min", "Min", {"a", "b"}, {"mn"})
        .node("mean", "Mean", {"a", "b", "c"}, {"me"})
        .output("s")
        .output("mx")
        .output("mn")
        .output("me");
    const hone::executor ex(g.m);
    const auto out = g.run(ex);
    check_values(out.at(0), {2, 3}, {5, 8, 11, 9, 12, 15});
    check_values(out.at(1), {2, 3}, {4, 4, 6, 5, 5, 6});
    check_values(out.at(2), {2, 3}, {0, 1, 1, 0, 3, 5});
    check_values(out.at(3), {2, 3}, {5.0f / 3, 8.0f / 3, 11.0f / 3, 3, 4, 5});
    const auto p = g.paths(ex);
    CHECK(p.at("sum") == "ops::sum");
    CHECK(p.at("mean") == "ops::mean");
}

TEST_CASE("executor: i64 Min/Max of constants fold at load into a Reshape target") {
    // target = Max(Min([3, 100], [4]), [1, 2]) = [3, 4]; x [12] → [3, 4].
    graph g;
    g.input("x", f32({12}, {0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11}))
        .constant("p", i64({2}, {3, 100}))
        .constant("q", i64({1}, {4}))
        .constant("r", i64({2}, {1, 2}))
        .node("min", "Min", {"p", "q"}, {"m"})
        .node("max", "Max", {"m", "r"}, {"target"})
        .node("reshape", "Reshape", {"x", "target"}, {"y"})
        .output("y");
    const hone::executor ex(g.m);
    const auto p = g.paths(ex);
    CHECK(p.at("min") == "folded at load (constant inputs)");
    CHECK(p.at("max") == "folded at load (constant inputs)");
    CHECK(g.run(ex).at(0).dims() == shape{3, 4});
}

TEST_CASE("executor: broadcast shapes inferred at load let Shape/Gather fold") {
    // y = Less(x [N, 3], c [2, 1, 3]) has dims [2, N, 3]: dims 0 and 2 are known at load.
    for (const std::int64_t index : {0, 2}) {
        CAPTURE(index);
        tensor idx(dtype::i64, shape{});
        idx.span<std::int64_t>()[0] = index;
        graph g;
        g.input("x", random_f32({5, 3}, 3), {0})
            .constant("c", random_f32({2, 1, 3}, 4))
            .constant("index", std::move(idx))
            .node("less", "Less", {"x", "c"}, {"y"})
            .node("shape", "Shape", {"y"}, {"s"})
            .node("gather", "Gather", {"s", "index"}, {"d"})
            .node("not", "Not", {"y"}, {"z"})
            .output("z");
        const hone::executor ex(g.m);
        CHECK(g.paths(ex).at("gather").find("folded") == 0);
        CHECK(g.paths(ex).at("not") == "ops::logical_not");
        CHECK(g.run(ex).at(0).dims() == shape{2, 5, 3});
    }
}

TEST_CASE("executor: bad attributes fail at load naming the node and attribute") {
    using hone::attribute;
    auto load_error = [](const std::string& op, std::map<std::string, attribute> attrs) {
        graph g;
        g.input("x", f32({2}, {1, 2})).node("bad", op, {"x"}, {"y"}, std::move(attrs)).output("y");
        try {
            const hone::executor ex(g.m);
        } catch (const hone::error& e) {
            CHECK(e.code() == status::invalid_argument);
            return std::string(e.what());
        }
        FAIL_CHECK("no error at load");
        return std::string();
    };
    auto msg = load_error("Celu", {{"alpha", attribute::of_float(0)}});
    CHECK(msg.find("Celu 'bad'") != std::string::npos);
    CHECK(msg.find("'alpha'") != std::string::npos);
    msg = load_error("Elu", {{"alpha", attribute::of_float(inf)}});
    CHECK(msg.find("'alpha'") != std::string::npos);
    graph g;
    g.node("empty", "Sum", {}, {"y"}).output("y");
    CHECK_THROWS_AS(hone::executor(g.m), hone::error);
}
