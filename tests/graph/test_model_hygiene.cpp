// Models as exporters write them: If with a condition known at load, weights behind Cast
// (fp16) or Identity, nodes out of order, empty batches, already-quantized layers
// (QLinearConv, QLinearMatMul) — executed, or refused with the node named.
#include "graph_builder.hpp"

#include <hone/core/error.hpp>
#include <hone/core/half.hpp>
#include <hone/graph/executor.hpp>
#include <hone/io/onnx.hpp>
#include <hone/model/transforms.hpp>

#include <doctest/doctest.h>

#include <cctype>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <numeric>

using namespace hone;
using ops_test::make_node;

namespace {

tensor f32s(shape s, float start = 0.0f, float step = 1.0f) {
    tensor t(dtype::f32, s);
    float v = start;
    for (auto& x : t.span<float>()) {
        x = v;
        v += step;
    }
    return t;
}

tensor scalar_bool(bool b) {
    tensor t(dtype::boolean, shape{});
    t.span<bool>()[0] = b;
    return t;
}

// y = If(cond) then Relu(x) + then_const else Neg(x). cond: a weight, or absent (then the
// caller adds what computes it).
model if_model(std::optional<bool> cond) {
    model m;
    m.inputs.push_back({"x", dtype::f32, {{-1, "N"}, {4, ""}}, true});
    m.outputs.push_back({"y", dtype::f32, {{-1, "N"}, {4, ""}}, true});
    if (cond) m.set_weight("cond", scalar_bool(*cond));
    model then_body;
    then_body.set_weight("then_const", f32s(shape{4}, 10.0f, 0.0f));
    then_body.nodes.push_back(make_node("relu", "Relu", {"x"}, {"r"}));
    then_body.nodes.push_back(make_node("add", "Add", {"r", "then_const"}, {"t"}));
    then_body.outputs.push_back({"t", dtype::f32, {{-1, "N"}, {4, ""}}, true});
    model else_body;
    else_body.nodes.push_back(make_node("neg", "Neg", {"x"}, {"e"}));
    else_body.outputs.push_back({"e", dtype::f32, {{-1, "N"}, {4, ""}}, true});
    auto n = make_node("if", "If", {"cond"}, {"y"});
    n.attributes["then_branch"] = attribute::of_graph(std::move(then_body));
    n.attributes["else_branch"] = attribute::of_graph(std::move(else_body));
    m.nodes.push_back(std::move(n));
    return m;
}

} // namespace

TEST_CASE("If: the branch a constant condition takes runs, through an ONNX round trip") {
    const auto x = f32s(shape{2, 4}, -3.0f);
    for (const bool cond : {true, false}) {
        CAPTURE(cond);
        const auto m = if_model(cond);
        // Written and read back: the subgraphs survive serialization.
        const auto loaded = parse_onnx(serialize_onnx(m), "if.onnx");
        REQUIRE(loaded.nodes.size() == 1);
        REQUIRE(loaded.nodes[0].attributes.at("then_branch").type == attribute::kind::g);
        CHECK(loaded.nodes[0].attributes.at("then_branch").g->nodes.size() == 2);
        for (const model* mm : {&m, &loaded}) {
            const executor ex(*mm);
            const auto y = ex.run(x.view()).at(0).clone();
            REQUIRE(y.dims() == shape({2, 4}));
            for (std::size_t i = 0; i < 8; ++i) {
                const float v = -3.0f + static_cast<float>(i);
                CHECK(y.span<float>()[i] == (cond ? std::max(v, 0.0f) + 10.0f : -v));
            }
            bool inlined = false;
            for (const auto& r : ex.report())
                inlined |=
                    r.node == "if" && r.path == (cond ? "inlined at load (then_branch taken)"
                                                      : "inlined at load (else_branch taken)");
            CHECK(inlined);
        }
    }
}

TEST_CASE("If: a condition from shape arithmetic folds; one known only at run time is refused") {
    // cond = Equal(Gather(Shape(x), 1), 4): x's dim 1 is fixed, so the condition is known.
    model m = if_model(std::nullopt);
    tensor one(dtype::i64, shape{});
    one.span<std::int64_t>()[0] = 1;
    tensor four(dtype::i64, shape{});
    four.span<std::int64_t>()[0] = 4;
    m.set_weight("one", std::move(one));
    m.set_weight("four", std::move(four));
    m.nodes.insert(m.nodes.begin(), {make_node("shape", "Shape", {"x"}, {"s"}),
                                     make_node("dim", "Gather", {"s", "one"}, {"d"}),
                                     make_node("eq", "Equal", {"d", "four"}, {"cond"})});
    const executor ex(m);
    CHECK(ex.run(f32s(shape{1, 4}, -1.0f).view()).at(0).span<float>()[0] == 10.0f);

    // A condition that is a graph input: refused at load, naming the node and the value.
    model r = if_model(std::nullopt);
    r.inputs.push_back({"cond", dtype::boolean, {}, true});
    CHECK_THROWS_WITH_AS(executor{r},
                         doctest::Contains("If 'if': condition 'cond' is computed at run time"),
                         hone::error);
    // An operator the executor lacks inside a branch is named with its If.
    model u = if_model(true);
    auto& then_body = const_cast<model&>(*u.nodes[0].attributes.at("then_branch").g);
    then_body.nodes[0].op_type = "FancyOp";
    CHECK_THROWS_WITH_AS(executor{u}, doctest::Contains("if/FancyOp 'relu'"), hone::error);
}

TEST_CASE("fold_weight_casts: fp16 weights behind Cast and weights behind Identity") {
    model m;
    m.inputs.push_back({"x", dtype::f32, {{-1, "N"}, {3, ""}}, true});
    m.outputs.push_back({"y", dtype::f32, {}, false});
    tensor w16(dtype::f16, shape{3, 2});
    const float values[] = {0.1f, -2.5f, 3.0f, 1e-3f, 65504.0f, -0.333f};
    for (std::size_t i = 0; i < 6; ++i)
        w16.span<half>()[i] = to_half(values[i]);
    m.set_weight("w16", std::move(w16));
    m.set_weight("b", f32s(shape{2}, 1.0f));
    auto cast = make_node("cast", "Cast", {"w16"}, {"w32"});
    cast.attributes["to"] = attribute::of_int(1);
    m.nodes.push_back(cast);
    m.nodes.push_back(make_node("ident", "Identity", {"w32"}, {"w"}));
    m.nodes.push_back(make_node("mm", "MatMul", {"x", "w"}, {"h"}));
    m.nodes.push_back(make_node("add", "Add", {"h", "b"}, {"y"}));
    const auto x = f32s(shape{2, 3}, 0.5f);
    const auto before = executor(m).run(x.view()).at(0).clone();

    CHECK(fold_weight_casts(m) == 2);
    REQUIRE(m.nodes.size() == 2);
    CHECK(m.nodes[0].op_type == "MatMul");
    CHECK(!m.has_weight("w16"));
    CHECK(!m.has_weight("w32"));
    REQUIRE(m.has_weight("w"));
    CHECK(m.weight("w").type() == dtype::f32);
    for (std::size_t i = 0; i < 6; ++i)
        CHECK(m.weight("w").span<float>()[i] == to_float(to_half(values[i])));
    const auto after = executor(m).run(x.view()).at(0).clone();
    for (std::size_t i = 0; i < 4; ++i)
        CHECK(after.span<float>()[i] == before.span<float>()[i]);

    // A weight that something else also reads stays; a Cast to a type hone does not convert
    // (string, 8) is left alone.
    model k;
    k.inputs.push_back({"x", dtype::f32, {{3, ""}}, true});
    k.outputs.push_back({"y", dtype::f32, {}, false});
    k.set_weight("c", f32s(shape{3}));
    auto odd = make_node("odd", "Cast", {"c"}, {"s"});
    odd.attributes["to"] = attribute::of_int(8);
    k.nodes.push_back(odd);
    k.nodes.push_back(make_node("id", "Identity", {"c"}, {"c2"}));
    k.nodes.push_back(make_node("add", "Add", {"x", "c"}, {"t"}));
    k.nodes.push_back(make_node("mul", "Mul", {"t", "c2"}, {"y"}));
    CHECK(fold_weight_casts(k) == 1);
    CHECK(k.has_weight("c"));
    CHECK(k.has_weight("c2"));
    CHECK(k.nodes.size() == 3);
}

TEST_CASE("nodes out of order run; an empty batch gives an empty output") {
    model m;
    m.inputs.push_back({"x", dtype::f32, {{-1, "N"}, {3, ""}}, true});
    m.outputs.push_back({"y", dtype::f32, {}, false});
    m.set_weight("w", f32s(shape{3, 2}, -1.0f, 0.5f));
    m.nodes.push_back(make_node("relu", "Relu", {"h"}, {"y"}));
    m.nodes.push_back(make_node("mm", "MatMul", {"x", "w"}, {"h"}));
    const executor ex(m);
    const auto y = ex.run(f32s(shape{1, 3}, 1.0f).view()).at(0).clone();
    // [1, 2, 3] · [[-1, -0.5], [0, 0.5], [1, 1.5]] = [2, 5]
    CHECK(y.span<float>()[0] == 2.0f);
    CHECK(y.span<float>()[1] == 5.0f);
    const auto empty = ex.run(tensor(dtype::f32, shape{0, 3}).view()).at(0).clone();
    CHECK(empty.dims() == shape({0, 2}));
}

namespace {

tensor u8s(shape s, std::vector<std::uint8_t> v) {
    tensor t(dtype::u8, s);
    std::copy(v.begin(), v.end(), t.span<std::uint8_t>().begin());
    return t;
}
tensor i8s(shape s, std::vector<std::int8_t> v) {
    tensor t(dtype::i8, s);
    std::copy(v.begin(), v.end(), t.span<std::int8_t>().begin());
    return t;
}
tensor f32v(shape s, std::vector<float> v) {
    tensor t(dtype::f32, s);
    std::copy(v.begin(), v.end(), t.span<float>().begin());
    return t;
}

} // namespace

TEST_CASE("QLinearMatMul and QLinearConv: integer products requantized, as ONNX defines") {
    // QLinearMatMul: a [2, 3] u8 (zp 2, scale 0.5), b [3, 2] i8 per column (zp 0, scales 0.1 /
    // 0.2), y u8 (zp 10, scale 0.25). Reference written out: y = round(Σ(a−2)·b · 0.5·s_b / 0.25)
    // + 10, saturated.
    {
        model m;
        m.inputs.push_back({"a", dtype::u8, {{2, ""}, {3, ""}}, true});
        m.outputs.push_back({"y", dtype::u8, {}, false});
        m.set_weight("as", f32v(shape{}, {0.5f}));
        m.set_weight("az", u8s(shape{}, {2}));
        m.set_weight("b", i8s(shape{3, 2}, {1, -2, 3, 4, -5, 6}));
        m.set_weight("bs", f32v(shape{2}, {0.1f, 0.2f}));
        m.set_weight("bz", i8s(shape{2}, {0, 0}));
        m.set_weight("ys", f32v(shape{}, {0.25f}));
        m.set_weight("yz", u8s(shape{}, {10}));
        m.nodes.push_back(make_node("qmm", "QLinearMatMul",
                                    {"a", "as", "az", "b", "bs", "bz", "ys", "yz"}, {"y"}));
        const auto a = u8s(shape{2, 3}, {2, 5, 9, 200, 0, 7});
        const auto y = executor(m).run(a.view()).at(0).clone();
        REQUIRE(y.type() == dtype::u8);
        const int av[2][3] = {{0, 3, 7}, {198, -2, 5}};
        const int bv[3][2] = {{1, -2}, {3, 4}, {-5, 6}};
        const float bsv[2] = {0.1f, 0.2f};
        for (int i = 0; i < 2; ++i)
            for (int j = 0; j < 2; ++j) {
                int acc = 0;
                for (int k = 0; k < 3; ++k)
                    acc += av[i][k] * bv[k][j];
                const float want = std::clamp(
                    std::nearbyint(static_cast<float>(acc) * ((0.5f * bsv[j]) / 0.25f)) + 10.0f,
                    0.0f, 255.0f);
                CAPTURE(i);
                CAPTURE(j);
                CHECK(y.span<std::uint8_t>()[static_cast<std::size_t>(i * 2 + j)] ==
                      static_cast<std::uint8_t>(want));
            }
    }
    // QLinearConv: x [1, 1, 3, 3] u8 (zp 128), w [2, 1, 2, 2] i8 (per channel scales), bias i32,
    // y i8 (zp −3). Reference: the 2×2 windows summed by hand.
    {
        model m;
        m.inputs.push_back({"x", dtype::u8, {{1, ""}, {1, ""}, {3, ""}, {3, ""}}, true});
        m.outputs.push_back({"y", dtype::i8, {}, false});
        m.set_weight("xs", f32v(shape{}, {0.02f}));
        m.set_weight("xz", u8s(shape{}, {128}));
        m.set_weight("w", i8s(shape{2, 1, 2, 2}, {1, 2, 3, 4, -1, 0, 0, 1}));
        m.set_weight("ws", f32v(shape{2}, {0.5f, 0.25f}));
        m.set_weight("wz", i8s(shape{2}, {0, 0}));
        m.set_weight("ys", f32v(shape{}, {0.1f}));
        tensor yz(dtype::i8, shape{});
        yz.span<std::int8_t>()[0] = -3;
        m.set_weight("yz", std::move(yz));
        tensor bias(dtype::i32, shape{2});
        bias.span<std::int32_t>()[0] = 100;
        bias.span<std::int32_t>()[1] = -40;
        m.set_weight("bias", std::move(bias));
        m.nodes.push_back(make_node("qconv", "QLinearConv",
                                    {"x", "xs", "xz", "w", "ws", "wz", "ys", "yz", "bias"}, {"y"}));
        const auto x = u8s(shape{1, 1, 3, 3}, {128, 130, 140, 100, 128, 129, 255, 0, 128});
        const auto y = executor(m).run(x.view()).at(0).clone();
        REQUIRE(y.dims() == shape({1, 2, 2, 2}));
        REQUIRE(y.type() == dtype::i8);
        const int xv[3][3] = {{0, 2, 12}, {-28, 0, 1}, {127, -128, 0}};
        const int wv[2][2][2] = {{{1, 2}, {3, 4}}, {{-1, 0}, {0, 1}}};
        const int bv[2] = {100, -40};
        const float ws[2] = {0.5f, 0.25f};
        for (int c = 0; c < 2; ++c)
            for (int i = 0; i < 2; ++i)
                for (int j = 0; j < 2; ++j) {
                    int acc = bv[c];
                    for (int p = 0; p < 2; ++p)
                        for (int q = 0; q < 2; ++q)
                            acc += xv[i + p][j + q] * wv[c][p][q];
                    const float want = std::clamp(
                        std::nearbyint(static_cast<float>(acc) * ((0.02f * ws[c]) / 0.1f)) - 3.0f,
                        -128.0f, 127.0f);
                    CAPTURE(c);
                    CHECK(y.span<std::int8_t>()[static_cast<std::size_t>(c * 4 + i * 2 + j)] ==
                          static_cast<std::int8_t>(want));
                }
    }
    // A wrong-length per-channel scale is an error naming the node.
    model bad;
    bad.inputs.push_back({"a", dtype::u8, {{1, ""}, {2, ""}}, true});
    bad.outputs.push_back({"y", dtype::u8, {}, false});
    bad.set_weight("s", f32v(shape{}, {1.0f}));
    bad.set_weight("bs", f32v(shape{3}, {1.0f, 1.0f, 1.0f}));
    bad.set_weight("z", u8s(shape{}, {0}));
    bad.set_weight("b", u8s(shape{2, 2}, {1, 2, 3, 4}));
    bad.nodes.push_back(
        make_node("q", "QLinearMatMul", {"a", "s", "z", "b", "bs", "z", "s", "z"}, {"y"}));
    CHECK_THROWS_WITH_AS(executor(bad).run(u8s(shape{1, 2}, {1, 2}).view()),
                         doctest::Contains("QLinearMatMul 'q'"), hone::error);
}

TEST_CASE("docs/models.md names every operator the executor runs") {
    namespace fs = std::filesystem;
    fs::path docs;
    for (auto p = fs::read_symlink("/proc/self/exe").parent_path(); !p.empty();
         p = p.parent_path()) {
        if (fs::exists(p / "docs/models.md")) {
            docs = p / "docs/models.md";
            break;
        }
        if (p == p.parent_path()) break;
    }
    REQUIRE_MESSAGE(!docs.empty(), "docs/models.md not found above the test program");
    std::ifstream f(docs);
    const std::string text{std::istreambuf_iterator<char>(f), std::istreambuf_iterator<char>()};
    for (const auto& op : supported_operators()) {
        CAPTURE(op);
        // As a word: "Relu" inside "LeakyRelu" does not count.
        bool found = false;
        auto is_word = [](char c) { return std::isalnum(static_cast<unsigned char>(c)) != 0; };
        for (auto at = text.find(op); at != std::string::npos && !found; at = text.find(op, at + 1))
            found = (at == 0 || !is_word(text[at - 1])) &&
                    (at + op.size() >= text.size() || !is_word(text[at + op.size()]));
        CHECK(found);
    }
}
