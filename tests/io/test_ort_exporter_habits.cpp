// What exporters write, run by hone and by ONNX Runtime on the same inputs: already-quantized
// layers (QLinearConv, QLinearMatMul, per-channel weight scales) must give the same integers,
// and an If hone inlines at load the same values as ORT's If.
#include "../graph/graph_builder.hpp"
#include "../ort_runner.hpp"

#include <hone/core/atomic_file.hpp>
#include <hone/graph/executor.hpp>
#include <hone/io/onnx.hpp>

#include <doctest/doctest.h>

#include <cmath>
#include <random>

using namespace hone;
using ops_test::make_node;

namespace {

template <class T> tensor random_ints(dtype t, shape s, int lo, int hi, std::uint32_t seed) {
    std::mt19937 gen(seed);
    std::uniform_int_distribution<int> d(lo, hi);
    tensor x(t, s);
    for (auto& v : x.span<T>())
        v = static_cast<T>(d(gen));
    return x;
}

tensor f32v(shape s, std::vector<float> v) {
    tensor t(dtype::f32, s);
    std::copy(v.begin(), v.end(), t.span<float>().begin());
    return t;
}

tensor scalar_u8(std::uint8_t v) {
    tensor t(dtype::u8, shape{});
    t.span<std::uint8_t>()[0] = v;
    return t;
}

// Counts elements of hone's u8 output that differ from ORT's (f32-converted) output, and the
// largest difference.
std::pair<std::int64_t, double> compare_u8(const tensor& hone_out, const tensor& ort_out) {
    REQUIRE(hone_out.dims() == ort_out.dims());
    std::int64_t differ = 0;
    double worst = 0;
    const auto h = hone_out.span<std::uint8_t>();
    const auto o = ort_out.span<float>();
    for (std::size_t i = 0; i < h.size(); ++i) {
        const double d = std::fabs(double(h[i]) - double(o[i]));
        differ += d != 0;
        worst = std::max(worst, d);
    }
    return {differ, worst};
}

std::filesystem::path save(const model& m, const test::detail::scratch& dir, const char* name) {
    const auto p = dir.path / name;
    write_file_atomic(p, serialize_onnx(m));
    return p;
}

} // namespace

TEST_CASE("QLinearMatMul and QLinearConv: hone's integers are ONNX Runtime's") {
    test::detail::scratch dir;
    SUBCASE("QLinearMatMul, per-column weight scales") {
        const std::int64_t k = 48, n = 16;
        model m;
        m.inputs.push_back({"a", dtype::u8, {{-1, "N"}, {k, ""}}, true});
        m.outputs.push_back({"y", dtype::u8, {{-1, "N"}, {n, ""}}, true});
        m.set_weight("as", f32v(shape{}, {0.02f}));
        m.set_weight("az", scalar_u8(131));
        m.set_weight("b", random_ints<std::uint8_t>(dtype::u8, shape{k, n}, 0, 255, 1));
        std::vector<float> bs(n);
        for (std::int64_t c = 0; c < n; ++c)
            bs[static_cast<std::size_t>(c)] = 0.001f * static_cast<float>(c + 1);
        m.set_weight("bs", f32v(shape{n}, bs));
        tensor bz(dtype::u8, shape{n});
        for (auto& v : bz.span<std::uint8_t>())
            v = 128;
        m.set_weight("bz", std::move(bz));
        m.set_weight("ys", f32v(shape{}, {0.05f}));
        m.set_weight("yz", scalar_u8(120));
        m.nodes.push_back(make_node("qmm", "QLinearMatMul",
                                    {"a", "as", "az", "b", "bs", "bz", "ys", "yz"}, {"y"}));
        const auto a = random_ints<std::uint8_t>(dtype::u8, shape{64, k}, 0, 255, 2);
        const auto file = save(m, dir, "qmatmul.onnx");
        const auto mine = executor(m).run(a.view()).at(0).clone();
        const auto [differ, worst] = compare_u8(mine, test::ort_run(file, a.view()));
        MESSAGE("QLinearMatMul: " << differ << " of " << mine.numel()
                                  << " outputs differ from ONNX Runtime, by at most " << worst);
        CHECK(worst <= 1);                    // a tie rounded the other way at most
        CHECK(differ * 1000 <= mine.numel()); // and rarely
    }
    SUBCASE("QLinearConv, per-channel weight scales, bias, padding and stride") {
        model m;
        m.inputs.push_back({"x", dtype::u8, {{-1, "N"}, {3, ""}, {12, ""}, {12, ""}}, true});
        m.outputs.push_back({"y", dtype::u8, {{-1, "N"}, {8, ""}, {6, ""}, {6, ""}}, true});
        m.set_weight("xs", f32v(shape{}, {0.01f}));
        m.set_weight("xz", scalar_u8(100));
        m.set_weight("w", random_ints<std::int8_t>(dtype::i8, shape{8, 3, 3, 3}, -127, 127, 3));
        std::vector<float> ws(8);
        for (std::size_t c = 0; c < 8; ++c)
            ws[c] = 0.002f * static_cast<float>(c + 1);
        m.set_weight("ws", f32v(shape{8}, ws));
        m.set_weight("wz", tensor(dtype::i8, shape{8}));
        m.set_weight("ys", f32v(shape{}, {0.04f}));
        m.set_weight("yz", scalar_u8(128));
        tensor bias(dtype::i32, shape{8});
        for (std::size_t c = 0; c < 8; ++c)
            bias.span<std::int32_t>()[c] = static_cast<std::int32_t>(c) * 300 - 1000;
        m.set_weight("bias", std::move(bias));
        auto conv = make_node("qconv", "QLinearConv",
                              {"x", "xs", "xz", "w", "ws", "wz", "ys", "yz", "bias"}, {"y"});
        conv.attributes["pads"] = attribute::of_ints({1, 1, 1, 1});
        conv.attributes["strides"] = attribute::of_ints({2, 2});
        m.nodes.push_back(conv);
        const auto x = random_ints<std::uint8_t>(dtype::u8, shape{4, 3, 12, 12}, 0, 255, 4);
        const auto file = save(m, dir, "qconv.onnx");
        const auto mine = executor(m).run(x.view()).at(0).clone();
        const auto [differ, worst] = compare_u8(mine, test::ort_run(file, x.view()));
        MESSAGE("QLinearConv: " << differ << " of " << mine.numel()
                                << " outputs differ from ONNX Runtime, by at most " << worst);
        CHECK(worst <= 1);
        CHECK(differ * 1000 <= mine.numel());
    }
}

TEST_CASE("If with a constant condition: hone's inlined branch gives ONNX Runtime's values") {
    test::detail::scratch dir;
    for (const bool cond : {true, false}) {
        CAPTURE(cond);
        model m;
        m.inputs.push_back({"x", dtype::f32, {{-1, "N"}, {4, ""}}, true});
        m.outputs.push_back({"y", dtype::f32, {{-1, "N"}, {4, ""}}, true});
        tensor c(dtype::boolean, shape{});
        c.span<bool>()[0] = cond;
        m.set_weight("cond", std::move(c));
        model then_body, else_body;
        then_body.set_weight("k", f32v(shape{4}, {1.0f, 2.0f, 3.0f, 4.0f}));
        then_body.nodes.push_back(make_node("mul", "Mul", {"x", "k"}, {"t"}));
        then_body.outputs.push_back({"t", dtype::f32, {{-1, "N"}, {4, ""}}, true});
        else_body.nodes.push_back(make_node("sig", "Sigmoid", {"x"}, {"e"}));
        else_body.outputs.push_back({"e", dtype::f32, {{-1, "N"}, {4, ""}}, true});
        auto n = make_node("if", "If", {"cond"}, {"y"});
        n.attributes["then_branch"] = attribute::of_graph(std::move(then_body));
        n.attributes["else_branch"] = attribute::of_graph(std::move(else_body));
        m.nodes.push_back(std::move(n));
        tensor x(dtype::f32, shape{3, 4});
        for (std::size_t i = 0; i < 12; ++i)
            x.span<float>()[i] = static_cast<float>(i) * 0.37f - 2.0f;
        const auto file = save(m, dir, cond ? "if_then.onnx" : "if_else.onnx");
        const auto mine = executor(load_onnx(file)).run(x.view()).at(0).clone();
        const auto theirs = test::ort_run(file, x.view());
        REQUIRE(theirs.dims() == mine.dims());
        for (std::size_t i = 0; i < 12; ++i)
            CHECK(mine.span<float>()[i] == doctest::Approx(theirs.span<float>()[i]).epsilon(1e-6));
    }
}
