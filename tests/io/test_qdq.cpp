// ONNX QDQ export (hone/io/qdq.hpp) and the executor running QDQ models: the MLP fixture with
// per-channel int8 weights and calibrated static activations, exported, checked by
// onnx::checker, read back and run by hone, against hone's internal int8 path.
#include "../model/fixture_path.hpp"

#include <hone/cluster/clusterer.hpp>
#include <hone/core/error.hpp>
#include <hone/data/dataset.hpp>
#include <hone/graph/executor.hpp>
#include <hone/io/onnx.hpp>
#include <hone/io/qdq.hpp>
#include <hone/kernels/quantize.hpp>
#include <hone/quantize/quantizer.hpp>

#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <set>
#include <unistd.h>

using namespace hone;
namespace fs = std::filesystem;

namespace {

struct temp_dir {
    fs::path path;
    temp_dir() {
        path = fs::temp_directory_path() / ("hone_test_qdq_" + std::to_string(::getpid()));
        fs::create_directories(path);
    }
    ~temp_dir() { fs::remove_all(path); }
};

// Min/max of every value the plan produces (and the input) over n training images.
std::map<std::string, tensor_range, std::less<>> calibrate(const model& m, std::int64_t n,
                                                           const shape& sample) {
    executor ex(m);
    const auto train = dataset::fashion_mnist("train").subset(n, 7);
    auto x = tensor::copy_of(train.inputs().view());
    std::vector<std::int64_t> dims{n};
    dims.insert(dims.end(), sample.dims().begin(), sample.dims().end());
    const auto v =
        make_view(x.data(), x.nbytes(), dtype::f32, shape(std::span<const std::int64_t>(dims)));
    std::map<std::string, tensor_range, std::less<>> r;
    auto note = [&](const std::string& name, const_tensor_view t) {
        const auto s = tensor::copy_of(t);
        const auto p = s.span<float>();
        auto [lo, hi] = std::minmax_element(p.begin(), p.end());
        auto& e = r[name];
        e.lo = std::min(e.lo, *lo);
        e.hi = std::max(e.hi, *hi);
    };
    note(m.inputs[0].name, v);
    (void)ex.run(v, note);
    return r;
}

// The ranges of the layers' inputs only (hone's internal int8 path quantizes nothing else).
std::map<std::string, tensor_range, std::less<>>
layer_inputs_only(const model& m, std::map<std::string, tensor_range, std::less<>> r) {
    std::set<std::string> inputs;
    for (const auto& n : m.nodes)
        if (n.op_type == "Gemm" || n.op_type == "MatMul" || n.op_type == "Conv")
            inputs.insert(n.inputs[0]);
    std::erase_if(r, [&](const auto& e) { return !inputs.count(e.first); });
    return r;
}

// Top-1 class of every test image.
std::vector<std::int64_t> top1(const executor& ex, const dataset& data, const shape& sample,
                               std::int64_t count) {
    std::vector<std::int64_t> out;
    const std::int64_t batch = 500;
    for (std::int64_t b = 0; b < count; b += batch) {
        const auto e = std::min(count, b + batch);
        auto x = tensor::copy_of(data.inputs().view().slice(0, b, e));
        std::vector<std::int64_t> dims{e - b};
        dims.insert(dims.end(), sample.dims().begin(), sample.dims().end());
        const auto v =
            make_view(x.data(), x.nbytes(), dtype::f32, shape(std::span<const std::int64_t>(dims)));
        const auto outs = ex.run(v);
        const auto& y = outs.at(0);
        const auto classes = y.dims()[1];
        const auto p = y.span<const float>();
        for (std::int64_t i = 0; i < e - b; ++i) {
            const auto* row = p.data() + i * classes;
            out.push_back(std::max_element(row, row + classes) - row);
        }
    }
    return out;
}

double agreement(const std::vector<std::int64_t>& a, const std::vector<std::int64_t>& b) {
    REQUIRE(a.size() == b.size());
    std::size_t same = 0;
    for (std::size_t i = 0; i < a.size(); ++i)
        same += a[i] == b[i];
    return static_cast<double>(same) / static_cast<double>(a.size());
}

double accuracy(const std::vector<std::int64_t>& pred, const dataset& data) {
    std::size_t right = 0;
    for (std::size_t i = 0; i < pred.size(); ++i)
        right += pred[i] == data.labels()[i];
    return static_cast<double>(right) / static_cast<double>(pred.size());
}

int count_paths(const executor& ex, const std::string& prefix) {
    int k = 0;
    for (const auto& r : ex.report())
        k += r.path.rfind(prefix, 0) == 0;
    return k;
}

int count_ops(const model& m, const std::string& op) {
    return static_cast<int>(std::count_if(m.nodes.begin(), m.nodes.end(),
                                          [&](const node& n) { return n.op_type == op; }));
}

} // namespace

TEST_CASE("qdq: activation grid from a range matches the executor's") {
    const auto a = qdq_activation_from_range({-1.0f, 3.0f});
    CHECK(a.type == dtype::u8);
    CHECK(a.scale == doctest::Approx(4.0 / 255));
    CHECK(a.zero_point == 64); // round(1 / (4/255)) = round(63.75)
    const auto r = qdq_activation_from_range({0.5f, 2.0f}, true); // widened to [0, 2]
    CHECK(r.scale == doctest::Approx(2.0 / 127));
    CHECK(r.zero_point == 0);
    CHECK(qdq_activation_from_range({0, 0}).scale == 1.0f);
    CHECK_THROWS_AS(qdq_activation_from_range({2.0f, 1.0f}), hone::error);
    CHECK_THROWS_AS(qdq_activation_from_range({0.0f, INFINITY}), hone::error);
}

TEST_CASE("qdq: the MLP exported as QDQ runs in hone with the top-1 of hone's int8 path") {
    const auto m = load_onnx(test::fashion_fixture("mlp.onnx"));
    const auto ranges = layer_inputs_only(m, calibrate(m, 1000, shape{784}));
    const auto test = dataset::fashion_mnist("test");
    const std::int64_t count = test.size(); // all 10,000 test images

    // hone's internal int8 path: per-channel s8 weights, calibrated u8 activations (8-bit grid).
    executor_options io;
    io.precision = exec_precision::int8_static;
    io.activation_ranges = ranges;
    io.reduce_range = 0;
    executor internal(m, io);
    CHECK(count_paths(internal, "int8 static linear") == 3);

    qdq_options qo;
    qo.activations = qdq_activations_from_ranges(ranges);
    const auto qm = to_qdq(m, qo);
    CHECK(count_ops(qm, "DequantizeLinear") == 9); // 3 weights + 3 activations + 3 int32 biases
    CHECK(count_ops(qm, "QuantizeLinear") == 3);
    CHECK(count_ops(qm, "Gemm") == 3);
    // Weights: i8 initializers with one f32 scale per output channel; the value keeps its name.
    for (const char* w : {"fc1.weight", "fc2.weight", "fc3.weight"}) {
        if (!m.has_weight(w)) continue;
        CAPTURE(std::string(w));
        CHECK(!qm.has_weight(w));
        const auto& q = qm.weight(std::string(w) + "_quantized");
        const auto& s = qm.weight(std::string(w) + "_scale");
        CHECK(q.type() == dtype::i8);
        CHECK(q.dims() == m.weight(w).dims());
        CHECK(s.dims() == shape{m.weight(w).dims()[0]});
        // Dequantized: the original within half a step, per channel.
        tensor dq(dtype::f32, q.dims());
        kernels::dequantize_linear(q.view(), {s.view(), std::nullopt, 0, 0}, dq.view());
        const auto orig = m.weight(w).span<const float>();
        const auto got = dq.span<const float>();
        const auto k = q.dims()[1];
        for (std::size_t i = 0; i < orig.size(); ++i)
            REQUIRE(std::fabs(orig[i] - got[i]) <=
                    0.5f * s.span<const float>()[i / static_cast<std::size_t>(k)] * 1.0001f);
    }

    temp_dir tmp;
    const auto file = tmp.path / "mlp_qdq.onnx";
    save_onnx(qm, file); // runs onnx::checker
    check_onnx(file);
    const auto loaded = load_onnx(file);

    // (a) reference semantics of QuantizeLinear / DequantizeLinear in fp32.
    executor ref(loaded);
    CHECK(count_paths(ref, "kernels::quantize_linear") == 3);
    CHECK(count_paths(ref, "folded at load (constant inputs)") == 6); // weight and bias DQs
    // (b) int8: each Q → DQ pair fused into its Gemm, which runs int8 on the model's grid.
    executor_options xo;
    xo.precision = exec_precision::int8_static;
    executor fused(loaded, xo);
    MESSAGE(fused.report_text());
    CHECK(count_paths(fused, "int8 QDQ linear") == 3);
    CHECK(count_paths(fused, "fused into Gemm") >= 6); // 3 Q, 3 DQ (plus the Relus)
    CHECK(fused.uses_int8());

    const auto p_int = top1(internal, test, shape{784}, count);
    const auto p_ref = top1(ref, test, shape{784}, count);
    const auto p_fused = top1(fused, test, shape{784}, count);
    const double a_ref = agreement(p_ref, p_int), a_fused = agreement(p_fused, p_int);
    MESSAGE("top-1 agreement with hone's int8 path over "
            << count << " images: QDQ fp32 reference " << a_ref << ", QDQ fused int8 " << a_fused);
    MESSAGE("accuracy: internal int8 " << accuracy(p_int, test) << ", QDQ fp32 reference "
                                       << accuracy(p_ref, test) << ", QDQ fused int8 "
                                       << accuracy(p_fused, test));
    CHECK(a_ref >= 0.999);
    CHECK(a_fused >= 0.999);

    // The default (7-bit activations on CPUs whose int8 pairs saturate) for the record.
    executor_options io7 = io;
    io7.reduce_range = -1;
    executor internal7(m, io7);
    qdq_options q7;
    q7.activations = qdq_activations_from_ranges(ranges, true);
    executor ref7(to_qdq(m, q7));
    MESSAGE("7-bit grid: top-1 agreement QDQ fp32 reference vs hone int8 (reduce_range default) "
            << agreement(top1(ref7, test, shape{784}, count),
                         top1(internal7, test, shape{784}, count)));
}

TEST_CASE("qdq: CNN with calibrated activations runs its convolutions int8 on the model's grid") {
    const auto m = load_onnx(test::fashion_fixture("cnn.onnx"));
    const auto ranges = layer_inputs_only(m, calibrate(m, 500, shape{1, 28, 28}));
    qdq_options qo;
    qo.activations = qdq_activations_from_ranges(ranges);
    const auto qm = to_qdq(m, qo);
    CHECK(count_ops(qm, "QuantizeLinear") == 4); // 2 Conv + 2 Gemm inputs
    const auto bytes = serialize_onnx(qm);       // checked
    const auto loaded = parse_onnx(bytes, "cnn_qdq");
    executor_options xo;
    xo.precision = exec_precision::int8_static;
    executor fused(loaded, xo);
    CHECK(count_paths(fused, "int8 QDQ conv2d") == 2);
    CHECK(count_paths(fused, "int8 QDQ linear") == 2);
    executor ref(loaded), f32(m);
    const auto test = dataset::fashion_mnist("test");
    const std::int64_t count = 2000;
    const auto p32 = top1(f32, test, shape{1, 28, 28}, count);
    const auto pr = top1(ref, test, shape{1, 28, 28}, count);
    const auto pf = top1(fused, test, shape{1, 28, 28}, count);
    MESSAGE("cnn QDQ top-1 agreement: fused int8 vs fp32 reference semantics "
            << agreement(pf, pr) << ", vs f32 model " << agreement(pf, p32));
    CHECK(agreement(pf, pr) >= 0.99);
    CHECK(agreement(pr, p32) >= 0.97);
}

TEST_CASE("qdq: given weights, f32 layers, and what the layout cannot hold") {
    const auto m = load_onnx(test::fashion_fixture("mlp.onnx"));
    const auto names = m.weight_names();
    std::string w1;
    for (const auto& n : m.nodes)
        if (n.op_type == "Gemm" && w1.empty()) w1 = n.inputs[1];
    REQUIRE(!w1.empty());

    SUBCASE("a given quantized weight is written as is; f32_nodes stay untouched") {
        quantizer_config qc;
        qc.spec.symmetric = false;
        qc.spec.is_signed = false; // u8 affine: a zero point initializer
        qdq_options o;
        o.weights.emplace(w1, quantizer(qc).quantize(m.weight(w1).view(), w1));
        o.quantize_weights = false; // only the given weight
        const auto q = to_qdq(m, o);
        CHECK(q.weight(w1 + "_quantized").type() == dtype::u8);
        CHECK(q.weight(w1 + "_zero_point").type() == dtype::u8);
        CHECK(count_ops(q, "DequantizeLinear") == 1);
        qdq_options skip; // every layer listed in f32_nodes: nothing changes
        for (const auto& n : m.nodes)
            skip.f32_nodes.push_back(n.name);
        CHECK(count_ops(to_qdq(m, skip), "DequantizeLinear") == 0);
        CHECK_NOTHROW((void)serialize_onnx(q));
        // fp32 reference run equals the f32 model run with the dequantized weight.
        auto d = m.clone();
        d.weight(w1) = o.weights.at(w1).dequantize();
        const auto x =
            tensor::copy_of(dataset::fashion_mnist("test").inputs().view().slice(0, 0, 16));
        auto a = std::move(executor(q).run(x.view()).at(0));
        auto b = std::move(executor(d).run(x.view()).at(0));
        const auto av = a.span<const float>(), bv = b.span<const float>();
        for (std::size_t i = 0; i < av.size(); ++i)
            CHECK(av[i] == doctest::Approx(bv[i]).epsilon(1e-5));
    }
    SUBCASE("2-bit weights (four per byte) have no ONNX type and are refused") {
        qdq_options o;
        o.weight_spec.bits = 2;
        o.weight_spec.granularity = quant_granularity::per_group;
        o.weight_spec.group_size = 16;
        try {
            (void)to_qdq(m, o);
            FAIL("expected unsupported");
        } catch (const hone::error& e) {
            CHECK(e.code() == status::unsupported);
            CHECK(std::string(e.what()).find(w1) != std::string::npos);
        }
    }
    SUBCASE("a per-channel weight along the wrong axis is refused") {
        quantizer_config qc;
        qc.spec.channel_axis = 1; // fc1 is [out, in]: output channels are axis 0
        qdq_options o;
        o.weights.emplace(w1, quantizer(qc).quantize(m.weight(w1).view(), w1));
        CHECK_THROWS_AS((void)to_qdq(m, o), hone::error);
    }
    SUBCASE("a given weight of the wrong shape") {
        qdq_options o;
        tensor small(dtype::f32, shape{4, 4});
        std::fill(small.span<float>().begin(), small.span<float>().end(), 0.5f);
        o.weights.emplace(w1, quantizer().quantize(small.view(), w1));
        CHECK_THROWS_AS((void)to_qdq(m, o), hone::error);
    }
    SUBCASE("an activation zero point out of range") {
        qdq_options o;
        o.activations[m.inputs[0].name] = {0.1f, 300, dtype::u8};
        CHECK_THROWS_AS((void)to_qdq(m, o), hone::error);
    }
}

TEST_CASE("qdq: executor QuantizeLinear / DequantizeLinear semantics (i8 grid, blocked weights)") {
    // x [2, 4] → Q(s = 0.5, zp = −3, i8) → DQ → Gemm with a weight DequantizeLinear'd from
    // blocked int8 (block_size 2 along K, opset-21 form) → y.
    model m;
    m.inputs.push_back({"x", dtype::f32, {{2, ""}, {4, ""}}});
    m.outputs.push_back({"y", dtype::f32, {{2, ""}, {3, ""}}});
    m.outputs.push_back({"xq", dtype::i8, {{2, ""}, {4, ""}}});
    tensor s(dtype::f32, shape{});
    s.span<float>()[0] = 0.5f;
    tensor z(dtype::i8, shape{});
    z.span<std::int8_t>()[0] = -3;
    m.set_weight("s", std::move(s));
    m.set_weight("z", std::move(z));
    tensor wq(dtype::i8, shape{3, 4}), ws(dtype::f32, shape{3, 2});
    const std::int8_t wv[] = {1, -2, 3, -4, 5, 6, -7, 8, 0, 1, 2, 3};
    std::copy(std::begin(wv), std::end(wv), wq.span<std::int8_t>().begin());
    const float sv[] = {0.25f, 0.5f, 1.0f, 2.0f, 0.125f, 4.0f};
    std::copy(std::begin(sv), std::end(sv), ws.span<float>().begin());
    m.set_weight("wq", std::move(wq));
    m.set_weight("ws", std::move(ws));
    node dqw{"dqw", "DequantizeLinear", "", {"wq", "ws"}, {"w"}, {}};
    dqw.attributes["axis"] = attribute::of_int(1);
    dqw.attributes["block_size"] = attribute::of_int(2);
    m.nodes.push_back(dqw);
    m.nodes.push_back({"q", "QuantizeLinear", "", {"x", "s", "z"}, {"xq"}, {}});
    m.nodes.push_back({"dq", "DequantizeLinear", "", {"xq", "s", "z"}, {"xd"}, {}});
    node g{"g", "Gemm", "", {"xd", "w"}, {"y"}, {}};
    g.attributes["transB"] = attribute::of_int(1);
    m.nodes.push_back(g);

    tensor x(dtype::f32, shape{2, 4});
    const float xv[] = {0.1f, -1.3f, 2.2f, 70.0f, -0.75f, 0.0f, 1.25f, -65.0f};
    std::copy(std::begin(xv), std::end(xv), x.span<float>().begin());
    // Hand reference: q = clamp(round_half_even(x / 0.5) − 3, −128, 127).
    std::vector<float> xd(8);
    std::vector<std::int8_t> xq(8);
    for (int i = 0; i < 8; ++i) {
        const float q = std::clamp(std::nearbyint(xv[i] / 0.5f) - 3.0f, -128.0f, 127.0f);
        xq[static_cast<std::size_t>(i)] = static_cast<std::int8_t>(q);
        xd[static_cast<std::size_t>(i)] = (q + 3.0f) * 0.5f;
    }
    std::vector<double> y(6, 0.0);
    for (int r = 0; r < 2; ++r)
        for (int n = 0; n < 3; ++n)
            for (int k = 0; k < 4; ++k)
                y[static_cast<std::size_t>(r * 3 + n)] +=
                    double(xd[static_cast<std::size_t>(r * 4 + k)]) * wv[n * 4 + k] *
                    sv[n * 2 + k / 2];
    for (const auto precision : {exec_precision::f32, exec_precision::int8_static}) {
        CAPTURE(static_cast<int>(precision));
        executor_options o;
        o.precision = precision;
        o.reduce_range = 0;
        executor ex(m, o);
        const auto out = ex.run(x.view());
        const auto q = out.at(1).span<std::int8_t>();
        for (std::size_t i = 0; i < 8; ++i)
            CHECK(q[i] == xq[i]);
        // int8: the activations are exact (the model's grid, i8 shifted to u8), but the folded
        // blocked weights are re-quantized per output channel by the int8 kernel (error ≤ half
        // a step of max|w|/127 per weight): ~1e-4 relative here, so 1e-3; a wrong activation
        // grid (zero point off by one step) moves these outputs by more than 1e-3.
        const double tol = precision == exec_precision::f32 ? 1e-5 : 1e-3;
        const auto got = out.at(0).span<const float>();
        for (std::size_t i = 0; i < 6; ++i)
            CHECK(got[i] == doctest::Approx(y[i]).epsilon(tol));
        // xq is a graph output: the pair stays; the DQ alone is fused in int8.
        if (precision == exec_precision::int8_static) {
            CHECK(count_paths(ex, "int8 QDQ linear") == 1);
            CHECK(count_paths(ex, "kernels::quantize_linear") == 1);
        }
    }
}

namespace {

bool same_bytes(const tensor& a, const tensor& b) {
    return a.type() == b.type() && a.dims() == b.dims() && a.nbytes() == b.nbytes() &&
           std::memcmp(a.data(), b.data(), a.nbytes()) == 0;
}

} // namespace

TEST_CASE("qdq: int4 group-wise MLP at opset 21 — export, reload, run on the int4 kernel") {
    const auto m = load_onnx(test::fashion_fixture("mlp.onnx"));
    const auto test = dataset::fashion_mnist("test");
    const std::int64_t count = test.size(); // all 10,000 test images
    std::vector<std::string> gemm_weights;
    for (const auto& n : m.nodes)
        if (n.op_type == "Gemm") {
            REQUIRE(n.get_int("transB", 0) == 1); // [N, K] weights: blocks along axis 1
            gemm_weights.push_back(n.inputs[1]);
        }
    REQUIRE(gemm_weights.size() == 3);

    for (const bool is_signed : {true, false}) {
        CAPTURE(is_signed);
        // The quantizer's int4 group-wise result (RTN, groups of 16 along K: 784, 256 and 128
        // are multiples of 16); signed symmetric (INT4, no zero points) or unsigned affine
        // (UINT4 with UINT4 zero points).
        quantizer_config qc;
        qc.spec.bits = 4;
        qc.spec.is_signed = is_signed;
        qc.spec.symmetric = is_signed;
        qc.spec.granularity = quant_granularity::per_group;
        qc.spec.group_size = 16;
        executor_options io; // hone's internal int4 path on the f32 model
        qdq_options qo;
        qo.quantize_weights = false;
        for (const auto& w : gemm_weights) {
            auto q = quantizer(qc).quantize(m.weight(w).view(), w);
            io.int4_weights[w] = std::make_shared<const quantized_tensor>(quantized_tensor{
                q.spec, q.dims, q.data.clone(), q.scales.clone(), q.zero_points.clone()});
            qo.weights.emplace(w, std::move(q));
        }
        executor internal(m, io);
        CHECK(count_paths(internal, "int4 weight-only linear") == 3);

        const auto qm = to_qdq(m, qo);
        CHECK(qm.opset == 21);
        CHECK(count_ops(qm, "DequantizeLinear") == 3);
        for (const auto& w : gemm_weights) {
            CAPTURE(w);
            const auto& q = qm.weight(w + "_quantized");
            const auto& s = qm.weight(w + "_scale");
            const auto& wd = m.weight(w).dims();
            CHECK(q.type() == (is_signed ? dtype::i4 : dtype::u4));
            CHECK(q.dims() == wd);
            CHECK(q.nbytes() == static_cast<std::size_t>(wd.numel() / 2));
            CHECK(s.dims() == shape{wd[0], wd[1] / 16});
            CHECK(qm.has_weight(w + "_zero_point") == !is_signed);
            if (!is_signed) {
                CHECK(qm.weight(w + "_zero_point").type() == dtype::u4);
                CHECK(qm.weight(w + "_zero_point").dims() == s.dims());
            }
            // The integers are the quantizer's, byte for byte.
            CHECK(same_bytes(q, qo.weights.at(w).data));
            for (const auto& n : qm.nodes)
                if (n.op_type == "DequantizeLinear" && n.outputs[0] == w) {
                    CHECK(n.get_int("axis", -1) == 1);
                    CHECK(n.get_int("block_size", 0) == 16);
                }
        }

        temp_dir tmp;
        const auto file = tmp.path / "mlp_int4.onnx";
        save_onnx(qm, file); // libonnx 1.12 cannot judge opset 21: hone's reader checks it
        std::string checker = "passed";
        try {
            check_onnx(file);
        } catch (const hone::error& e) {
            checker = e.what();
        }
        MESSAGE("libonnx 1.12 onnx::checker on the opset-21 int4 model: " << checker);
        const auto loaded = load_onnx(file);
        CHECK(loaded.source_opset == 21);
        // load → save → load: every weight bit-exact.
        const auto file2 = tmp.path / "mlp_int4_again.onnx";
        save_onnx(loaded, file2);
        const auto again = load_onnx(file2);
        REQUIRE(again.weight_names() == qm.weight_names());
        for (const auto& w : qm.weight_names()) {
            CAPTURE(w);
            CHECK(same_bytes(loaded.weight(w), qm.weight(w)));
            CHECK(same_bytes(again.weight(w), qm.weight(w)));
        }

        // hone runs it: each Gemm on the int4 kernel with the file's integers.
        executor run(loaded);
        MESSAGE(run.report_text());
        CHECK(count_paths(run, "int4 weight-only linear") == 3);
        CHECK(count_paths(run, "int4 weights '") == 3);
        executor_options folded_o;
        folded_o.qdq_int4_kernel = false; // the same model with the DQs folded to fp32 weights
        executor folded(loaded, folded_o);
        CHECK(count_paths(folded, "int4 weight-only linear") == 0);
        CHECK(count_paths(folded, "folded at load (constant inputs)") == 3);

        const auto p_int = top1(internal, test, shape{784}, count);
        const auto p_run = top1(run, test, shape{784}, count);
        const auto p_fold = top1(folded, test, shape{784}, count);
        const double a_run = agreement(p_run, p_int), a_fold = agreement(p_fold, p_int);
        MESSAGE(std::string(is_signed ? "INT4 symmetric" : "UINT4 affine")
                << ", group 16: top-1 agreement with hone's internal int4 path over " << count
                << " images: QDQ on the int4 kernel " << a_run << ", QDQ folded to fp32 " << a_fold
                << "; accuracy internal " << accuracy(p_int, test) << ", QDQ "
                << accuracy(p_run, test));
        CHECK(a_run >= 0.999);
        CHECK(a_fold >= 0.999);
        // Same integers, same kernel: the logits themselves agree.
        const auto x = tensor::copy_of(test.inputs().view().slice(0, 0, 64));
        const auto a = std::move(internal.run(x.view()).at(0));
        const auto b = std::move(run.run(x.view()).at(0));
        CHECK(std::memcmp(a.data(), b.data(), a.nbytes()) == 0);
    }
}

TEST_CASE("qdq: int4 blocked weights of a MatMul [K, N] and an int4 per-channel weight") {
    // y = MatMul(x, W[K=32, N=6]) with W blocked along K (axis 0) → the kernel takes the
    // transpose; a second layer with per-channel int4 (no block_size) stays an fp32 fold.
    model m;
    m.inputs.push_back({"x", dtype::f32, {{-1, "N"}, {32, ""}}});
    m.outputs.push_back({"z", dtype::f32, {{-1, "N"}, {5, ""}}});
    tensor w(dtype::f32, shape{32, 6}), w2(dtype::f32, shape{6, 5});
    for (std::int64_t i = 0; i < w.numel(); ++i)
        w.span<float>()[static_cast<std::size_t>(i)] = std::sin(0.37f * static_cast<float>(i));
    for (std::int64_t i = 0; i < w2.numel(); ++i)
        w2.span<float>()[static_cast<std::size_t>(i)] = std::cos(0.53f * static_cast<float>(i));
    m.set_weight("W", std::move(w));
    m.set_weight("W2", std::move(w2));
    m.nodes.push_back({"mm", "MatMul", "", {"x", "W"}, {"y"}, {}});
    m.nodes.push_back({"mm2", "MatMul", "", {"y", "W2"}, {"z"}, {}});
    qdq_options qo;
    qo.weight_spec.bits = 4;
    qo.weight_spec.granularity = quant_granularity::per_group;
    qo.weight_spec.group_size = 8;
    qo.f32_nodes = {"mm2"};
    auto qm = to_qdq(m, qo);
    quantizer_config pc; // the second layer: int4 per channel (axis 1 = N of [K, N])
    pc.spec.bits = 4;
    pc.spec.channel_axis = 1;
    qdq_options q2;
    q2.weights.emplace("W2", quantizer(pc).quantize(m.weight("W2").view(), "W2"));
    q2.f32_nodes = {"mm"};
    qm = to_qdq(qm, q2);
    CHECK(qm.opset == 21);
    CHECK(qm.weight("W_scale").dims() == shape{4, 6});
    CHECK(qm.weight("W2_scale").dims() == shape{5});
    const auto loaded = parse_onnx(serialize_onnx(qm), "matmul_int4");
    executor_options no_kernel;
    no_kernel.qdq_int4_kernel = false;
    executor run(loaded), folded(loaded, no_kernel);
    CHECK(count_paths(run, "int4 weight-only linear") == 1);
    CHECK(count_paths(folded, "int4 weight-only linear") == 0);
    tensor x(dtype::f32, shape{3, 32});
    for (std::int64_t i = 0; i < x.numel(); ++i)
        x.span<float>()[static_cast<std::size_t>(i)] = std::sin(1.1f * static_cast<float>(i));
    const auto a = std::move(run.run(x.view()).at(0));
    const auto b = std::move(folded.run(x.view()).at(0));
    const auto av = a.span<const float>(), bv = b.span<const float>();
    for (std::size_t i = 0; i < av.size(); ++i)
        CHECK(av[i] == doctest::Approx(bv[i]).epsilon(1e-4));
}

TEST_CASE("qdq: the form ONNX Runtime fuses — layer outputs gridded, grids carried through "
          "MaxPool/Flatten, int32 biases, BatchNormalization folded, output names kept") {
    const auto m = load_onnx(test::fashion_fixture("cnn.onnx"));
    const auto names = qdq_activation_tensors(m);
    // Inputs of the first layer, then each layer's (post-Relu) output; conv2's and fc1's inputs
    // come from gridded tensors through MaxPool / Flatten, so they are not listed.
    const std::vector<std::string> want{m.inputs[0].name, "/Relu_output_0", "/Relu_1_output_0",
                                        "/Relu_2_output_0", "logits"};
    CHECK(names == want);
    const auto all = calibrate(m, 500, shape{1, 28, 28});
    std::map<std::string, tensor_range, std::less<>> ranges;
    for (const auto& n : names) {
        REQUIRE_MESSAGE(all.count(n), n);
        ranges[n] = all.at(n);
    }
    qdq_options qo;
    qo.activations = qdq_activations_from_ranges(ranges);
    const auto qm = to_qdq(m, qo);
    CHECK(count_ops(qm, "BatchNormalization") == 0);
    // 5 calibrated + MaxPool ×2 + Flatten carried.
    CHECK(count_ops(qm, "QuantizeLinear") == 8);
    REQUIRE(qm.outputs.size() == 1);
    CHECK(qm.outputs[0].name == "logits");
    const auto* last = qm.producer("logits");
    REQUIRE(last);
    CHECK(last->op_type == "DequantizeLinear");
    // The carried grid: MaxPool's output has its input's scale.
    const auto pooled = qm.producer("/MaxPool_output_0_dequantized");
    REQUIRE(pooled);
    CHECK(qm.weight(pooled->inputs[1]).span<const float>()[0] ==
          qo.activations.at("/Relu_output_0").scale);
    // fc2's bias: INT32 round(b / (x_scale · w_scale[c])), its DequantizeLinear scale the product.
    const auto& bq = qm.weight("fc2.bias_quantized");
    const auto& bs = qm.weight("fc2.bias_scale");
    REQUIRE(bq.type() == dtype::i32);
    const auto xs = qo.activations.at("/Relu_2_output_0").scale;
    const auto ws = qm.weight("fc2.weight_scale").span<const float>();
    const auto b = m.weight("fc2.bias").span<const float>();
    for (std::size_t c = 0; c < b.size(); ++c) {
        CHECK(bs.span<const float>()[c] == xs * ws[c]);
        CHECK(bq.span<const std::int32_t>()[c] ==
              std::int32_t(std::nearbyint(double(b[c]) / double(xs * ws[c]))));
    }
    // hone runs it: every layer int8 on the file's grids, the rest fake-quantized in f32.
    const auto loaded = parse_onnx(serialize_onnx(qm), "cnn_ort_form");
    executor_options xo;
    xo.precision = exec_precision::int8_static;
    executor fused(loaded, xo);
    CHECK(count_paths(fused, "int8 QDQ conv2d") == 2);
    CHECK(count_paths(fused, "int8 QDQ linear") == 2);
    executor f32(m);
    const auto test = dataset::fashion_mnist("test");
    const auto pf = top1(fused, test, shape{1, 28, 28}, 2000);
    const auto p32 = top1(f32, test, shape{1, 28, 28}, 2000);
    MESSAGE("cnn, ORT-fusable QDQ form: top-1 agreement with the f32 model " << agreement(pf, p32));
    CHECK(agreement(pf, p32) >= 0.97);
    // An activation named after nothing in the graph is refused, naming it.
    qo.activations["no_such_tensor"] = {0.1f, 0, dtype::u8};
    CHECK_THROWS_WITH_AS((void)to_qdq(m, qo), doctest::Contains("no_such_tensor"), hone::error);
}

TEST_CASE("qdq: palettized weights as indices + codebook Gather (UINT4 ≤ 16 entries, else UINT8)") {
    const auto m = load_onnx(test::fashion_fixture("mlp.onnx"));
    for (const int k : {16, 40}) {
        CAPTURE(k);
        clusterer_config cc;
        cc.clusters = k;
        cc.method = kmeans_method::optimal;
        qdq_options o;
        o.quantize_weights = false;
        auto p = clusterer(cc).cluster(m.weight("fc2.weight").view(), {}, "fc2.weight");
        const auto want = p.dequantize();
        const auto used = p.clusters_used(0);
        o.palettes.emplace("fc2.weight", std::move(p));
        const auto q = to_qdq(m, o);
        CHECK(!q.has_weight("fc2.weight"));
        const auto& idx = q.weight("fc2.weight_indices");
        CHECK(idx.type() == (k <= 16 ? dtype::u4 : dtype::u8));
        CHECK(idx.dims() == m.weight("fc2.weight").dims());
        CHECK(q.weight("fc2.weight_codebook").numel() == used);
        CHECK(q.opset == (k <= 16 ? 21 : 13));
        // Read back and run: the Gather folds to exactly the palette's weights, so the outputs
        // equal the f32 model's with those weights.
        const auto loaded = parse_onnx(serialize_onnx(q), "palette");
        auto d = m.clone();
        d.weight("fc2.weight") = want.clone();
        const auto x =
            tensor::copy_of(dataset::fashion_mnist("test").inputs().view().slice(0, 0, 32));
        const auto a = std::move(executor(loaded).run(x.view()).at(0));
        const auto b = std::move(executor(d).run(x.view()).at(0));
        const auto av = a.span<const float>(), bv = b.span<const float>();
        CHECK(std::equal(av.begin(), av.end(), bv.begin(), bv.end()));
        // ≤ 16 entries: half a byte per weight.
        if (k <= 16) CHECK(idx.nbytes() == std::size_t(m.weight("fc2.weight").numel() / 2));
    }
    qdq_options bad;
    clusterer_config per_channel;
    per_channel.granularity = cluster_granularity::per_channel;
    bad.palettes.emplace("fc2.weight",
                         clusterer(per_channel).cluster(m.weight("fc2.weight").view(), {}, "w"));
    CHECK_THROWS_AS((void)to_qdq(m, bad), hone::error);
}
