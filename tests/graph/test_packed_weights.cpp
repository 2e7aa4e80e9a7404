// Packed weights in the executor: int4 group-wise (quantized_tensor, RTN/GPTQ) and palettized
// (clusterer) layers run through the kernel layer's int4 / palettized matmul, against the
// dequantized f32 weights run through the f32 path.
#include "../model/fixture_path.hpp"

#include <hone/cluster/clusterer.hpp>
#include <hone/core/error.hpp>
#include <hone/data/dataset.hpp>
#include <hone/graph/executor.hpp>
#include <hone/io/onnx.hpp>
#include <hone/quantize/quantizer.hpp>

#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <random>

using namespace hone;

namespace {

// max |a − b| / max |b|.
double relative_error(const tensor& a, const tensor& b) {
    REQUIRE(a.dims() == b.dims());
    const auto x = a.span<const float>(), y = b.span<const float>();
    double scale = 0, err = 0;
    for (std::size_t i = 0; i < x.size(); ++i) {
        scale = std::max(scale, std::fabs(static_cast<double>(y[i])));
        err = std::max(err, std::fabs(static_cast<double>(x[i]) - y[i]));
    }
    return err / std::max(scale, 1e-30);
}

std::string path_of(const executor& ex, const std::string& node) {
    for (const auto& r : ex.report())
        if (r.node == node) return r.path;
    return {};
}

tensor transpose(const tensor& w) {
    const auto r = w.dims()[0], c = w.dims()[1];
    tensor t(dtype::f32, shape{c, r});
    const auto s = w.span<const float>();
    auto d = t.span<float>();
    for (std::int64_t i = 0; i < r; ++i)
        for (std::int64_t j = 0; j < c; ++j)
            d[static_cast<std::size_t>(j * r + i)] = s[static_cast<std::size_t>(i * c + j)];
    return t;
}

quantized_tensor int4(const_tensor_view w, bool symmetric, std::int64_t group) {
    quantizer_config qc;
    qc.spec.bits = 4;
    qc.spec.granularity = quant_granularity::per_group;
    qc.spec.group_size = group;
    qc.spec.symmetric = symmetric;
    qc.spec.is_signed = symmetric;
    return quantizer(qc).quantize(w, "w");
}

} // namespace

TEST_CASE("packed weights: MLP with int4 fc1 and palettized fc2 matches the dequantized model") {
    const auto m = load_onnx(test::fashion_fixture("mlp.onnx"));
    std::vector<std::string> gemm_nodes, weights;
    for (const auto& n : m.nodes)
        if (n.op_type == "Gemm") gemm_nodes.push_back(n.name), weights.push_back(n.inputs[1]);
    REQUIRE(weights.size() == 3);
    const auto& w1 = m.weight(weights[0]); // [256, 784], transB = 1
    const auto& w2 = m.weight(weights[1]); // [128, 256]

    for (const bool symmetric : {true, false}) {
        CAPTURE(symmetric);
        auto q1 = std::make_shared<const quantized_tensor>(int4(w1.view(), symmetric, 16));
        clusterer_config cc;
        cc.clusters = 16;
        cc.granularity = cluster_granularity::per_channel;
        auto p2 = std::make_shared<const palettized_tensor>(
            clusterer(cc).cluster(w2.view(), {}, weights[1]));

        executor_options o;
        o.int4_weights[weights[0]] = q1;
        o.palettized_weights[weights[1]] = p2;
        executor packed(m, o);
        CHECK(path_of(packed, gemm_nodes[0]).rfind("int4 weight-only linear", 0) == 0);
        CHECK(path_of(packed, gemm_nodes[0]).find("fused ReLU") != std::string::npos);
        CHECK(path_of(packed, gemm_nodes[1]).rfind("palettized linear (4-bit", 0) == 0);
        CHECK(path_of(packed, gemm_nodes[2]).rfind("f32 linear", 0) == 0);
        CHECK(packed.plan_bytes() < executor(m).plan_bytes() / 3);

        auto d = m.clone();
        d.weight(weights[0]) = q1->dequantize();
        d.weight(weights[1]) = p2->dequantize();
        executor ref(d);
        const auto test = dataset::fashion_mnist("test");
        for (const std::int64_t rows : {1, 64}) { // GEMV and GEMM shapes
            CAPTURE(rows);
            const auto x = tensor::copy_of(test.inputs().view().slice(0, 0, rows));
            const auto a = packed.run(x.view());
            const auto b = ref.run(x.view());
            const auto err = relative_error(a.at(0), b.at(0));
            MESSAGE("packed vs dequantized f32, " << rows << " rows: relative error " << err);
            CHECK(err <= 1e-5);
        }
    }
}

TEST_CASE("packed weights: MatMul [K, N] takes the packed transpose; bias fused") {
    const std::int64_t k = 32, n = 24;
    std::mt19937 rng(5);
    std::normal_distribution<float> g;
    model m;
    m.inputs.push_back({"x", dtype::f32, {{-1, "batch"}, {k, ""}}});
    m.outputs.push_back({"z", dtype::f32, {{-1, "batch"}, {n, ""}}});
    tensor w(dtype::f32, shape{k, n}), b(dtype::f32, shape{n});
    for (auto& v : w.span<float>())
        v = g(rng);
    for (auto& v : b.span<float>())
        v = g(rng);
    m.set_weight("W", tensor::copy_of(w.view()));
    m.set_weight("b", tensor::copy_of(b.view()));
    m.nodes.push_back({"mm", "MatMul", "", {"x", "W"}, {"y"}, {}});
    m.nodes.push_back({"add", "Add", "", {"y", "b"}, {"z"}, {}});

    const auto wt = transpose(w); // [N, K]
    auto q = std::make_shared<const quantized_tensor>(int4(wt.view(), true, 8));
    executor_options o;
    o.int4_weights["W"] = q;
    executor packed(m, o);
    CHECK(path_of(packed, "mm").rfind("int4 weight-only linear", 0) == 0);
    CHECK(path_of(packed, "add").rfind("fused into", 0) == 0);

    auto d = m.clone();
    d.weight("W") = transpose(q->dequantize());
    tensor x(dtype::f32, shape{3, 5, k}); // rank 3: leading dims flattened
    for (auto& v : x.span<float>())
        v = g(rng);
    auto dm = d.clone();
    dm.inputs[0].has_shape = false;
    auto pm = m.clone();
    pm.inputs[0].has_shape = false;
    const auto a = executor(pm, o).run(x.view());
    const auto r = executor(dm).run(x.view());
    CHECK(relative_error(a.at(0), r.at(0)) <= 1e-5);

    SUBCASE("errors at construction") {
        executor_options bad;
        bad.int4_weights["W"] = std::make_shared<const quantized_tensor>(int4(w.view(), true, 8));
        CHECK_THROWS_AS(executor(m, bad), hone::error); // [K, N] given, [N, K] needed
        executor_options typo;
        typo.int4_weights["nope"] = q;
        try {
            executor e(m, typo);
            FAIL("expected an error");
        } catch (const hone::error& e) {
            CHECK(e.code() == status::invalid_argument);
            CHECK(std::string(e.what()).find("'nope'") != std::string::npos);
        }
        executor_options rank8;
        quantizer_config qc; // int8 per channel: not an int4 form
        rank8.int4_weights["W"] =
            std::make_shared<const quantized_tensor>(quantizer(qc).quantize(wt.view(), "W"));
        CHECK_THROWS_AS(executor(m, rank8), hone::error);
    }
}
