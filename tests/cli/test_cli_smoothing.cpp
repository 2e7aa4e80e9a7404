// SmoothQuant with folding (src/pipeline/smoothing.hpp) on the language-model fixture: the
// factors go into the RMSNorm scales and the up projections, the f32 model computes the same
// logits, and each group's outcome is reported; the recipe's `smooth_quant` field.
#include "layers.hpp"
#include "smoothing.hpp"

#include "../model/fixture_path.hpp"

#include <hone/core/error.hpp>
#include <hone/data/dataset.hpp>
#include <hone/graph/executor.hpp>
#include <hone/pipeline/recipe.hpp>

#include "flow.hpp"

#include <doctest/doctest.h>

#include <cmath>
#include <cstring>
#include <string>

using namespace hone;
using namespace hone::pipeline;

namespace {

const_tensor_view first_rows(const dataset& d, std::int64_t n) {
    return d.inputs().view().slice(0, 0, n);
}

// The named values of `m` on `tokens` as [rows, last dim] (what the pipeline observes).
std::map<std::string, tensor> observe_values(const model& m, const_tensor_view tokens,
                                             const std::set<std::string>& names) {
    executor_options o;
    o.keep.assign(names.begin(), names.end());
    executor exec(m, o);
    std::map<std::string, tensor> out;
    exec.run(tokens, [&](const std::string& name, const_tensor_view v) {
        if (!names.count(name)) return;
        const auto k = v.dims()[v.rank() - 1];
        tensor t(dtype::f32, shape{v.numel() / k, k});
        const tensor dense = tensor::copy_of(v);
        std::memcpy(t.data(), dense.data(), dense.nbytes());
        out.emplace(name, std::move(t));
    });
    return out;
}

} // namespace

TEST_CASE("SmoothQuant folds into RMSNorm scales and up projections; the f32 model is unchanged") {
    const auto dir = hone::test::fixtures_dir() / "lm";
    const model base = load_model(dir / "model.onnx");
    const auto calib = dataset::from_npy(dir / "tokens.calib.npy", {});
    const auto eval = dataset::from_npy(dir / "tokens.eval.npy", {});
    model m = base.clone();
    const auto layers = find_layers(m);
    REQUIRE(layers.size() == 29);
    scale_search params; // SmoothQuant, α searched
    const auto groups =
        smooth_and_fold(m, layers, params, [&](const model& at, const std::set<std::string>& n) {
            return observe_values(at, first_rows(calib, 16), n);
        });
    // Per decoder layer: q/k/v (one input) into input_layernorm, o_proj skipped, gate/up into
    // post_attention_layernorm, down into up_proj; then the LM head into the final norm.
    REQUIRE(groups.size() == 4 * 4 + 1);
    int smoothed = 0;
    for (std::size_t i = 0; i < groups.size(); ++i) {
        const auto& g = groups[i];
        CAPTURE(g.dump());
        const auto kind = i == 16 ? 4 : i % 4;
        if (kind == 1) {
            CHECK(g["layers"].size() == 1);
            CHECK(g["skipped"].get<std::string>().find("Reshape") != std::string::npos);
            continue;
        }
        const auto into = g["fold_into"].get<std::string>();
        if (kind == 0) CHECK(into.find("input_layernorm/Mul") != std::string::npos);
        if (kind == 2) CHECK(into.find("post_attention_layernorm/Mul") != std::string::npos);
        if (kind == 3) CHECK(into.find("up_proj") != std::string::npos);
        if (kind == 4) CHECK(into == "/norm/Mul");
        CHECK(g["layers"].size() == (kind == 0 ? 3 : kind == 2 ? 2 : 1));
        const double before = g["error_before"], after = g["error_after"];
        CHECK(g["smoothed"] == (after < before));
        smoothed += g["smoothed"].get<bool>();
        const double a = g["alpha"];
        CHECK(a >= 0);
        CHECK(a <= 1);
    }
    CHECK(smoothed >= 12); // measured: all 13 foldable groups gain
    // The smoothed model computes the same logits (to f32 rounding).
    executor before(base), after(m);
    const auto x = first_rows(eval, 8);
    const tensor y0 = std::move(before.run(x)[0]), y1 = std::move(after.run(x)[0]);
    const auto a = y0.span<const float>(), b = y1.span<const float>();
    double err = 0, ref = 0;
    for (std::size_t i = 0; i < a.size(); ++i) {
        err = std::max(err, double(std::fabs(a[i] - b[i])));
        ref = std::max(ref, double(std::fabs(a[i])));
    }
    CHECK(err < 1e-4 * ref);
    // The weights did change: the smoothed down projection's columns carry the factors.
    const auto down = std::find_if(layers.begin(), layers.end(), [](const layer_ref& l) {
        return l.name.find("layers.0/mlp/down_proj") != std::string::npos;
    });
    REQUIRE(down != layers.end());
    const auto w0 = weight_nk(base, *down), w1 = weight_nk(m, *down);
    CHECK(std::memcmp(w0.data(), w1.data(), w0.nbytes()) != 0);

    // A given α is used as it is.
    model fixed = base.clone();
    scale_search half;
    half.alpha = 0.5f;
    const auto g2 = smooth_and_fold(fixed, find_layers(fixed), half,
                                    [&](const model& at, const std::set<std::string>& n) {
                                        return observe_values(at, first_rows(calib, 8), n);
                                    });
    for (const auto& g : g2)
        if (g.contains("alpha")) CHECK(g["alpha"].get<double>() == 0.5);

    // AWQ's search on the int4 grid of the recipe: the same groups, folded where it gains.
    model awq = base.clone();
    scale_search aw;
    aw.what = scale_search::kind::awq;
    aw.spec.bits = 4;
    aw.spec.granularity = quant_granularity::per_group;
    aw.spec.group_size = 128; // 64 for the down projections' K = 320 (group_for)
    const auto g3 = smooth_and_fold(awq, find_layers(awq), aw,
                                    [&](const model& at, const std::set<std::string>& n) {
                                        return observe_values(at, first_rows(calib, 16), n);
                                    });
    REQUIRE(g3.size() == 17);
    int gained = 0;
    for (const auto& g : g3) {
        if (g.contains("skipped")) continue;
        const bool took = g["smoothed"].get<bool>();
        CHECK(took == (g["sqnr_db_after"].get<double>() > g["sqnr_db_before"].get<double>()));
        gained += took;
    }
    CHECK(gained >= 8);
    executor with_awq(awq);
    const tensor y2 = std::move(with_awq.run(x)[0]);
    double err2 = 0;
    for (std::size_t i = 0; i < a.size(); ++i)
        err2 = std::max(err2, double(std::fabs(a[i] - y2.span<const float>()[i])));
    CHECK(err2 < 1e-4 * ref);
}

TEST_CASE("the recipe's awq method and GPTQ act_order") {
    const auto r = parse_recipe(R"({"steps": [{"kind": "quantize", "bits": 4,
        "granularity": "per_group", "group_size": 64, "method": "awq"},
        {"kind": "quantize", "bits": 4, "method": "gptq", "act_order": true}]})",
                                "q.json");
    CHECK(r.steps[0].quantizing == weight_method::awq);
    CHECK(r.steps[1].act_order);
    CHECK(r.to_json()["steps"][0]["method"] == "awq");
    CHECK(r.to_json()["steps"][1]["act_order"] == true);
    CHECK_FALSE(r.to_json()["steps"][0].contains("act_order"));
    CHECK(parse_recipe(r.to_json().dump(), "again").to_json() == r.to_json());
    CHECK_THROWS_WITH_AS(
        parse_recipe(R"({"steps": [{"kind": "quantize", "method": "rtn", "act_order": true}]})",
                     "q.json"),
        doctest::Contains("act_order orders GPTQ's columns: it needs method gptq"), hone::error);
}

TEST_CASE("the recipe's smooth_quant: α or search, int8-static only, recorded") {
    const auto r = parse_recipe(R"({"execution": "int8-static", "smooth_quant": {"alpha": 0.6},
        "steps": [{"kind": "quantize"}]})",
                                "sq.json");
    REQUIRE(r.smooth_quant.has_value());
    CHECK(*r.smooth_quant->alpha == doctest::Approx(0.6));
    CHECK(parse_recipe(r.to_json().dump(), "again").to_json() == r.to_json());
    const auto s = parse_recipe(R"({"execution": "int8-static", "smooth_quant": {},
        "steps": [{"kind": "quantize"}]})",
                                "sq.json");
    CHECK_FALSE(s.smooth_quant->alpha.has_value());
    CHECK(s.to_json()["smooth_quant"]["alpha"] == "search");
    CHECK(load_recipe("int8-sq").smooth_quant.has_value());
    CHECK_THROWS_WITH_AS(
        parse_recipe(R"({"smooth_quant": {}, "steps": [{"kind": "quantize"}]})", "sq.json"),
        doctest::Contains("needs execution int8-static"), hone::error);
    CHECK_THROWS_WITH_AS(
        parse_recipe(R"({"execution": "int8-static", "smooth_quant": {"alpha": 1.5},
                         "steps": [{"kind": "quantize"}]})",
                     "sq.json"),
        doctest::Contains("smooth_quant.alpha 1.5 must lie in [0, 1]"), hone::error);
    CHECK_THROWS_WITH_AS(parse_recipe(R"({"execution": "int8-static", "smooth_quant": {"beta": 1},
                         "steps": [{"kind": "quantize"}]})",
                                      "sq.json"),
                         doctest::Contains("smooth_quant: unknown field 'beta'"), hone::error);
}
