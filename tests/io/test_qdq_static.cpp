// The static-int8 QDQ form ONNX Runtime fuses (hone/io/qdq.hpp): grids on any tensor, the
// tensors to calibrate, grids carried through value-preserving ops, INT32 biases; hand-computed
// on a tiny graph, and the fixtures within quantization error of their f32 models.
#include "../model/fixture_path.hpp"
#include "../ort/top1.hpp"

#include <hone/core/error.hpp>
#include <hone/data/dataset.hpp>
#include <hone/graph/executor.hpp>
#include <hone/io/onnx.hpp>
#include <hone/io/qdq.hpp>

#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <fstream>

using namespace hone;

namespace {

tensor f32(shape s, std::vector<float> v) {
    tensor t(dtype::f32, s);
    REQUIRE(static_cast<std::size_t>(t.numel()) == v.size());
    std::copy(v.begin(), v.end(), t.span<float>().begin());
    return t;
}

// x [1,1,4,4] → Conv(w [2,1,1,1], b [2]) → y → Relu → r → MaxPool 2×2 → p → Flatten → f [1,8]
// → Gemm(w2 [3,8], b2 [3], transB) → out (a graph output).
model tiny() {
    model m;
    m.opset = 13;
    m.inputs.push_back({"x", dtype::f32, {{1, ""}, {1, ""}, {4, ""}, {4, ""}}});
    m.outputs.push_back({"out", dtype::f32, {{1, ""}, {3, ""}}});
    m.set_weight("w", f32(shape{2, 1, 1, 1}, {0.5f, -0.25f}));
    m.set_weight("b", f32(shape{2}, {0.3f, -0.2f}));
    std::vector<float> w2(24);
    for (int i = 0; i < 24; ++i)
        w2[static_cast<std::size_t>(i)] = 0.05f * static_cast<float>((i * 7) % 11 - 5);
    m.set_weight("w2", f32(shape{3, 8}, w2));
    m.set_weight("b2", f32(shape{3}, {0.1f, 0.0f, -0.4f}));
    m.nodes.push_back({"conv", "Conv", "", {"x", "w", "b"}, {"y"}, {}});
    m.nodes.push_back({"relu", "Relu", "", {"y"}, {"r"}, {}});
    node mp{"pool", "MaxPool", "", {"r"}, {"p"}, {}};
    mp.attributes["kernel_shape"] = attribute::of_ints({2, 2});
    mp.attributes["strides"] = attribute::of_ints({2, 2});
    m.nodes.push_back(mp);
    m.nodes.push_back({"flat", "Flatten", "", {"p"}, {"f"}, {}});
    node g{"fc", "Gemm", "", {"f", "w2", "b2"}, {"out"}, {}};
    g.attributes["transB"] = attribute::of_int(1);
    m.nodes.push_back(g);
    return m;
}

const node* producer(const model& m, const std::string& v) { return m.producer(v); }

std::vector<const node*> consumers(const model& m, const std::string& v) {
    std::vector<const node*> out;
    for (const auto& n : m.nodes)
        if (std::find(n.inputs.begin(), n.inputs.end(), v) != n.inputs.end()) out.push_back(&n);
    return out;
}

int count_ops(const model& m, const std::string& op) {
    return static_cast<int>(std::count_if(m.nodes.begin(), m.nodes.end(),
                                          [&](const node& n) { return n.op_type == op; }));
}

int count_paths(const executor& ex, const std::string& prefix) {
    int k = 0;
    for (const auto& r : ex.report())
        k += r.path.rfind(prefix, 0) == 0;
    return k;
}

} // namespace

TEST_CASE("qdq static: tensors to calibrate, propagated grids, output names, INT32 bias") {
    const auto m = tiny();
    // Conv: input x, output y → its only consumer is Relu → r. Gemm: input f comes from r
    // through MaxPool / Flatten (same grid, not calibrated), output out.
    CHECK(qdq_activation_tensors(m) == std::vector<std::string>{"x", "r", "out"});
    qdq_options only_conv;
    only_conv.f32_nodes = {"fc"};
    CHECK(qdq_activation_tensors(m, only_conv) == std::vector<std::string>{"x", "r"});

    auto grids = [](qdq_options& g) {
        g.activations["x"] = {0.1f, 128, dtype::u8};
        g.activations["r"] = {0.05f, 0, dtype::u8};
        g.activations["out"] = {0.2f, 10, dtype::i8};
    };
    qdq_options o;
    grids(o);
    const auto q = to_qdq(m, o);
    CHECK(count_ops(q, "QuantizeLinear") == 5); // x, r, p, f (propagated), out

    // Graph names unchanged; "out" is produced by the DequantizeLinear, Gemm writes out_float.
    REQUIRE(q.outputs.size() == 1);
    CHECK(q.outputs[0].name == "out");
    REQUIRE(producer(q, "out"));
    CHECK(producer(q, "out")->op_type == "DequantizeLinear");
    const auto* fc = q.find_node("fc");
    REQUIRE(fc);
    CHECK(fc->outputs[0] == "out_float");
    // Each grid's pair sits right after its producer; every consumer reads the dequantized value.
    for (const char* v : {"x", "r", "p", "f"}) {
        CAPTURE(std::string(v));
        const auto c = consumers(q, v);
        REQUIRE(c.size() == 1);
        CHECK(c[0]->op_type == "QuantizeLinear");
        const auto dv = std::string(v) + "_dequantized";
        REQUIRE(producer(q, dv));
        CHECK(producer(q, dv)->op_type == "DequantizeLinear");
    }
    CHECK(q.find_node("pool")->inputs[0] == "r_dequantized");
    CHECK(q.find_node("flat")->inputs[0] == "p_dequantized");
    CHECK(fc->inputs[0] == "f_dequantized");
    // p and f carry r's grid (scale 0.05, zero point 0).
    CHECK(q.weight("p_scale").span<const float>()[0] == 0.05f);
    CHECK(q.weight("f_scale").span<const float>()[0] == 0.05f);
    CHECK(q.weight("f_zero_point").span<const std::uint8_t>()[0] == 0);
    CHECK(q.weight("out_zero_point").type() == dtype::i8);
    CHECK(q.weight("out_zero_point").span<const std::int8_t>()[0] == 10);
    // Without propagation only the requested three.
    qdq_options np;
    grids(np);
    np.propagate_grids = false;
    CHECK(count_ops(to_qdq(m, np), "QuantizeLinear") == 3);

    // INT32 bias of the Conv: w per channel symmetric int8 → w_scale = |w| / 127;
    // b_q = round(b / (0.1 · w_scale)): 0.3 / (0.1 · 0.5/127) = 762, −0.2 / (0.1 · 0.25/127) =
    // −1016.
    REQUIRE(q.has_weight("b_quantized"));
    const auto& bq = q.weight("b_quantized");
    CHECK(bq.type() == dtype::i32);
    CHECK(bq.span<const std::int32_t>()[0] == 762);
    CHECK(bq.span<const std::int32_t>()[1] == -1016);
    const auto& bs = q.weight("b_scale");
    const auto ws = q.weight("w_scale").span<const float>();
    CHECK(bs.span<const float>()[0] == 0.1f * ws[0]);
    CHECK(bs.span<const float>()[1] == 0.1f * ws[1]);
    CHECK(!q.has_weight("b"));
    REQUIRE(producer(q, "b"));
    CHECK(producer(q, "b")->get_int("axis", 1) == 0);
    // The Gemm's bias on the f grid (0.05) and its weight's scales.
    REQUIRE(q.has_weight("b2_quantized"));
    const auto w2s = q.weight("w2_scale").span<const float>();
    const float b2[] = {0.1f, 0.0f, -0.4f};
    for (int c = 0; c < 3; ++c)
        CHECK(q.weight("b2_quantized").span<const std::int32_t>()[c] ==
              static_cast<std::int32_t>(std::nearbyint(b2[c] / (0.05f * w2s[c]))));
    // No input grid → the bias stays f32.
    qdq_options nox;
    nox.activations["r"] = {0.05f, 0, dtype::u8};
    const auto q2 = to_qdq(m, nox);
    CHECK(q2.has_weight("b"));
    CHECK(q2.has_weight("b2_quantized")); // f has r's grid through MaxPool / Flatten
    qdq_options nob;
    grids(nob);
    nob.quantize_bias = false;
    CHECK(to_qdq(m, nob).has_weight("b"));

    // Not a value of the graph.
    qdq_options bad;
    bad.activations["w"] = {0.1f, 0, dtype::u8};
    CHECK_THROWS_WITH_AS(to_qdq(m, bad),
                         doctest::Contains("activation 'w' is no graph input or node output"),
                         hone::error);

    // Round trip through the ONNX bytes; hone runs it (fp32 semantics and int8 fused) close to
    // the f32 model.
    const auto loaded = parse_onnx(serialize_onnx(q), "tiny_qdq");
    std::vector<float> xv(16);
    for (int i = 0; i < 16; ++i)
        xv[static_cast<std::size_t>(i)] = 0.7f * std::sin(static_cast<float>(i));
    const auto x = f32(shape{1, 1, 4, 4}, xv);
    executor e32(m), eref(loaded);
    executor_options xo;
    xo.precision = exec_precision::int8_static;
    executor eint(loaded, xo);
    CHECK(count_paths(eint, "int8 QDQ conv2d") == 1);
    CHECK(count_paths(eint, "int8 QDQ linear") == 1);
    const auto y32 = std::move(e32.run(x.view()).at(0)), yref = std::move(eref.run(x.view()).at(0)),
               yint = std::move(eint.run(x.view()).at(0));
    for (int c = 0; c < 3; ++c) {
        CAPTURE(c);
        // Output grid 0.2: one step; input steps add well under that.
        CHECK(std::abs(yref.span<const float>()[c] - y32.span<const float>()[c]) <= 0.2f);
        CHECK(std::abs(yint.span<const float>()[c] - yref.span<const float>()[c]) <= 0.2f + 1e-5f);
    }
}

TEST_CASE("qdq static: INT32 DequantizeLinear in the executor (per axis, zero point)") {
    model m;
    m.opset = 13;
    m.inputs.push_back({"x", dtype::f32, {{2, ""}}});
    m.outputs.push_back({"y", dtype::f32, {{2, ""}}});
    tensor q(dtype::i32, shape{2}), z(dtype::i32, shape{2});
    q.span<std::int32_t>()[0] = 1000;
    q.span<std::int32_t>()[1] = -7;
    z.span<std::int32_t>()[0] = 10;
    z.span<std::int32_t>()[1] = -2;
    m.set_weight("q", std::move(q));
    m.set_weight("z", std::move(z));
    m.set_weight("s", f32(shape{2}, {0.5f, 0.25f}));
    node d{"dq", "DequantizeLinear", "", {"q", "s", "z"}, {"b"}, {}};
    d.attributes["axis"] = attribute::of_int(0);
    m.nodes.push_back(d);
    m.nodes.push_back({"add", "Add", "", {"x", "b"}, {"y"}, {}});
    executor ex(m);
    const auto x = f32(shape{2}, {1.0f, 2.0f});
    const auto y = std::move(ex.run(x.view()).at(0));
    CHECK(y.span<const float>()[0] == 1.0f + (1000 - 10) * 0.5f);
    CHECK(y.span<const float>()[1] == 2.0f + (-7 + 2) * 0.25f);
}

namespace {

// Min/max over n training images of every value in `names` (tests/ort/top1.hpp's calibrate).
std::map<std::string, tensor_range, std::less<>> calibrate(const model& m,
                                                           const std::vector<std::string>& names,
                                                           std::int64_t n, const shape& sample) {
    auto r = hone::test::calibrate(m, n, {sample.dims().begin(), sample.dims().end()});
    std::erase_if(r, [&](const auto& e) {
        return std::find(names.begin(), names.end(), e.first) == names.end();
    });
    return r;
}

std::vector<std::int64_t> top1(const executor& ex, const tensor& images, const shape& sample) {
    const auto count = images.dims()[0];
    std::vector<std::int64_t> dims{count};
    dims.insert(dims.end(), sample.dims().begin(), sample.dims().end());
    auto x = tensor::copy_of(images.view());
    const auto v =
        make_view(x.data(), x.nbytes(), dtype::f32, shape(std::span<const std::int64_t>(dims)));
    const auto outs = ex.run(v);
    const auto& y = outs.at(0);
    const auto classes = y.dims()[1];
    std::vector<std::int64_t> out;
    for (std::int64_t i = 0; i < count; ++i) {
        const auto* row = y.span<const float>().data() + i * classes;
        out.push_back(std::max_element(row, row + classes) - row);
    }
    return out;
}

} // namespace

TEST_CASE("qdq static: mlp and cnn fixtures, calibrated on qdq_activation_tensors") {
    const auto test = dataset::fashion_mnist("test");
    const std::int64_t count = 1000;
    const auto images = tensor::copy_of(test.inputs().view().slice(0, 0, count));
    // HONE_QDQ_DUMP=<dir>: also write the exports, the images and hone's top-1 there (for a
    // manual check in another engine).
    const char* dump = std::getenv("HONE_QDQ_DUMP");
    for (const auto& fixture :
         {std::tuple{"mlp.onnx", shape{784}, 3}, std::tuple{"cnn.onnx", shape{1, 28, 28}, 4}}) {
        // Not a structured binding: clang 14 cannot capture one in CAPTURE's lambda.
        const char* file = std::get<0>(fixture);
        const shape& sample = std::get<1>(fixture);
        const int layers = std::get<2>(fixture);
        CAPTURE(std::string(file));
        const auto m = load_onnx(test::fashion_fixture(file));
        const auto names = qdq_activation_tensors(m);
        const auto ranges = calibrate(m, names, 500, sample);
        REQUIRE(ranges.size() == names.size());
        qdq_options o;
        o.activations = qdq_activations_from_ranges(ranges);
        const auto q = to_qdq(m, o);
        CHECK(q.outputs[0].name == m.outputs[0].name);
        CHECK(count_ops(q, "Relu") == count_ops(m, "Relu"));
        const auto bytes = serialize_onnx(q);
        const auto loaded = parse_onnx(bytes, file);
        executor e32(m), eref(loaded);
        executor_options xo;
        xo.precision = exec_precision::int8_static;
        executor eint(loaded, xo);
        CHECK(count_paths(eint, "int8 QDQ") == layers);
        const auto p32 = top1(e32, images, sample), pref = top1(eref, images, sample),
                   pint = top1(eint, images, sample);
        std::int64_t same_ref = 0, same_int = 0;
        for (std::int64_t i = 0; i < count; ++i) {
            const auto k = static_cast<std::size_t>(i);
            same_ref += pref[k] == p32[k];
            same_int += pint[k] == pref[k];
        }
        MESSAGE(std::string(file) << ": top-1 agreement over " << count
                                  << " images: QDQ (fp32 semantics) vs "
                                  << "f32 model " << same_ref << ", hone int8 fused vs QDQ fp32 "
                                  << same_int);
        CHECK(same_ref >= count * 97 / 100);
        CHECK(same_int >= count * 99 / 100);
        if (dump) {
            const std::string dir(dump), stem = std::string(file).substr(0, 3);
            std::ofstream(dir + "/" + stem + "_qdq.onnx", std::ios::binary)
                .write(reinterpret_cast<const char*>(bytes.data()),
                       static_cast<std::streamsize>(bytes.size()));
            std::ofstream(dir + "/images.f32", std::ios::binary)
                .write(static_cast<const char*>(images.data()),
                       static_cast<std::streamsize>(images.nbytes()));
            std::ofstream t(dir + "/" + stem + "_hone_top1.txt");
            for (auto k : pint)
                t << k << '\n';
        }
    }
}
