// The layers hone optimize changes and their weight layouts (src/cli/layers.hpp): [N, K] views
// of Gemm, MatMul, Conv and ConvTranspose weights, and quantized tensors moved to the stored
// layout with their scales.
#include "layers.hpp"
#include <hone/pipeline/recipe.hpp>

#include <hone/core/error.hpp>
#include <hone/quantize/quantizer.hpp>

#include <doctest/doctest.h>

#include <cmath>
#include <numeric>

using namespace hone;
using namespace hone::pipeline;

namespace {

tensor iota_f32(const shape& dims) {
    tensor t(dtype::f32, dims);
    auto s = t.span<float>();
    std::iota(s.begin(), s.end(), 0.0f);
    return t;
}

node layer(std::string op, std::string name, std::string w, std::int64_t trans_b = 1) {
    node n;
    n.name = std::move(name);
    n.op_type = std::move(op);
    n.inputs = {"x", std::move(w)};
    n.outputs = {n.name + "_out"};
    if (n.op_type == "Gemm") n.attributes["transB"] = attribute::of_int(trans_b);
    return n;
}

/// One model per layer kind: Gemm transB=1 [3,4], Gemm transB=0 [4,3], MatMul [4,3],
/// Conv [3,2,2,1], ConvTranspose [2,3,2,1].
model four_layers() {
    model m;
    m.inputs.push_back({"x", dtype::f32, {{1, ""}, {4, ""}}});
    m.nodes = {layer("Gemm", "nk", "w_nk"), layer("Gemm", "kn", "w_kn", 0),
               layer("MatMul", "mm", "w_mm"), layer("Conv", "conv", "w_conv"),
               layer("ConvTranspose", "convt", "w_convt")};
    for (auto& n : m.nodes)
        n.inputs[0] = "x";
    m.set_weight("w_nk", iota_f32(shape{3, 4}));
    m.set_weight("w_kn", iota_f32(shape{4, 3}));
    m.set_weight("w_mm", iota_f32(shape{4, 3}));
    m.set_weight("w_conv", iota_f32(shape{3, 2, 2, 1}));
    m.set_weight("w_convt", iota_f32(shape{2, 3, 2, 1}));
    return m;
}

} // namespace

TEST_CASE("find_layers: every kind, N and K, layouts; grouped ConvTranspose is left out") {
    auto m = four_layers();
    auto ls = find_layers(m);
    REQUIRE(ls.size() == 5);
    CHECK(ls[0].layout == weight_layout::nk);
    CHECK(ls[1].layout == weight_layout::kn);
    CHECK(ls[2].layout == weight_layout::kn);
    CHECK(ls[3].layout == weight_layout::conv);
    CHECK(ls[4].layout == weight_layout::convt);
    for (const auto& l : ls) {
        CHECK(l.n == 3);
        CHECK(l.k == 4);
    }
    CHECK(ls[3].is_conv());
    CHECK_FALSE(ls[1].is_conv());
    m.nodes[4].attributes["group"] = attribute::of_int(2);
    CHECK(find_layers(m).size() == 4);
}

TEST_CASE("to_nk / to_stored: the [N, K] view of each layout, and back") {
    const auto m = four_layers();
    const auto ls = find_layers(m);
    // [N, K] element (n, k) of each layout, from its stored index.
    const auto stored_index = [](const layer_ref& l, std::int64_t n, std::int64_t k) {
        switch (l.layout) {
        case weight_layout::kn: return k * 3 + n;
        case weight_layout::convt: return (k / 2) * 6 + n * 2 + k % 2; // [C=2, N=3, 2, 1]
        default: return n * 4 + k;
        }
    };
    for (const auto& l : ls) {
        CAPTURE(l.name);
        const auto nk = weight_nk(m, l);
        REQUIRE(nk.dims() == shape{3, 4});
        for (std::int64_t n = 0; n < 3; ++n)
            for (std::int64_t k = 0; k < 4; ++k)
                CHECK(nk.view().at<float>({n, k}) == float(stored_index(l, n, k)));
        const auto back = to_stored(l, nk.view());
        CHECK(back.dims() == l.stored);
        const auto a = back.span<float>();
        const auto b = m.weight(l.weight).span<float>();
        CHECK(std::equal(a.begin(), a.end(), b.begin(), b.end()));
    }
}

TEST_CASE("quantized_to_stored: the stored tensor dequantizes to the stored layout of the [N, K] "
          "one") {
    auto m = four_layers();
    // Values with distinct per-row and per-group ranges.
    for (const auto& name : m.weight_names()) {
        auto s = m.weight(name).span<float>();
        for (std::size_t i = 0; i < s.size(); ++i)
            s[i] = std::sin(0.7f * float(i)) * float(1 + i % 5);
    }
    const auto ls = find_layers(m);
    for (const auto& l : ls) {
        CAPTURE(l.name);
        for (const bool grouped : {false, true}) {
            CAPTURE(grouped);
            quantizer_config cfg;
            cfg.spec.bits = grouped ? 4 : 8;
            if (grouped) {
                cfg.spec.granularity = quant_granularity::per_group;
                cfg.spec.group_size = 2;
                cfg.spec.symmetric = false;
            }
            const auto nk = weight_nk(m, l);
            const auto q = quantizer(cfg).quantize(nk.view(), l.weight);
            if (grouped && l.is_conv()) {
                CHECK_THROWS_AS(quantized_to_stored(l, q), error);
                continue;
            }
            const auto st = quantized_to_stored(l, q);
            CHECK(st.dims == l.stored);
            const auto want = to_stored(l, q.dequantize().view());
            const auto got = st.dequantize();
            const auto a = got.span<float>();
            const auto b = want.span<float>();
            CHECK(std::equal(a.begin(), a.end(), b.begin(), b.end()));
            const auto spec = stored_spec(l, q.spec);
            CHECK(spec.channel_axis ==
                  (l.layout == weight_layout::kn || l.layout == weight_layout::convt ? 1 : 0));
        }
    }
}

TEST_CASE("recipes: @first / @last patterns and per-step op types select what the peers' tools "
          "can") {
    const auto r = parse_recipe(R"({"name": "t", "execution": "int8-static",
        "layers": {"exclude": ["@first", "@last"]},
        "steps": [{"kind": "prune", "sparsity": 0.5, "method": "magnitude",
                   "op_types": ["Gemm"]},
                  {"kind": "quantize", "bits": 8}]})",
                                "t.json");
    // Graph order: conv (first), fc1, fc2 (last).
    CHECK_FALSE(r.steps_for("conv", "Conv", "conv", "fc2"));
    CHECK_FALSE(r.steps_for("fc2", "Gemm", "conv", "fc2"));
    const auto fc1 = r.steps_for("fc1", "Gemm", "conv", "fc2");
    REQUIRE(fc1);
    CHECK(fc1->size() == 2);
    // A Conv between them gets only the steps for its op type.
    const auto mid = r.steps_for("conv2", "Conv", "conv", "fc2");
    REQUIRE(mid);
    REQUIRE(mid->size() == 1);
    CHECK(mid->at(0).what == recipe_step::kind::quantize);
    // Unknown positions match nothing; the op types round-trip through JSON.
    CHECK(r.steps_for("conv", "Conv"));
    CHECK(
        parse_recipe(r.to_json().dump(), "again").steps_for("fc1", "Gemm", "conv", "fc2")->size() ==
        2);
    CHECK_THROWS_WITH_AS(
        parse_recipe(R"({"steps": [{"kind": "quantize", "op_types": ["Relu"]}]})", "bad.json"),
        doctest::Contains("steps[0].op_types: 'Relu'"), error);
}

TEST_CASE("presets: int8, int8-dynamic, int4 and compact select Conv layers; compact prunes and "
          "clusters only Gemm/MatMul") {
    for (const char* p : {"int8", "int8-dynamic", "int4", "compact"}) {
        CAPTURE(p);
        CHECK(load_recipe(p).steps_for("c", "Conv"));
        CHECK(load_recipe(p).steps_for("ct", "ConvTranspose"));
    }
    CHECK(load_recipe("compact").steps_for("c", "Conv")->empty());
    CHECK(load_recipe("compact").steps_for("g", "Gemm")->size() == 2);
    for (const char* p : {"sparse50", "2:4", "cluster16", "sparse90-ft"})
        CHECK_FALSE(load_recipe(p).steps_for("c", "Conv"));
}
