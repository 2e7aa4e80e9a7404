// hone::optimize on the language-model fixture (tests/fixtures/lm, issue 21): token data in,
// next-token validation with intervals, the policy's language-model gates, the ledger and the
// report; and the issue's results on the held-out books (W8A8 Δppl ≤ 1%, int4 group GPTQ
// Δppl ≤ 3% and better than RTN).
#include "cli_run.hpp"

#include "../model/fixture_path.hpp"

#include <hone/core/atomic_file.hpp>
#include <hone/core/error.hpp>
#include <hone/io/onnx.hpp>
#include <hone/ledger/cyclonedx.hpp>
#include <hone/ledger/ledger.hpp>
#include <hone/pipeline/optimize.hpp>

#include <doctest/doctest.h>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <filesystem>
#include <set>
#include <string>

using namespace hone;
using json = nlohmann::json;
namespace fs = std::filesystem;

namespace {

fs::path lm_file(const char* name) { return hone::test::fixtures_dir() / "lm" / name; }

optimize_request lm_request(const fs::path& dir, const std::string& recipe) {
    optimize_request o;
    o.model = lm_file("model.onnx");
    o.recipe = recipe;
    o.calib = lm_file("tokens.calib.npy").string();
    o.eval = lm_file("tokens.eval.npy").string();
    o.data.slices = lm_file("tokens.eval.slices.json");
    // The low tier without its latency gate: timings are machine noise here (issue 18's).
    const auto policy = dir / "policy.json";
    write_file_atomic(policy, R"({"tier": "low", "max_latency_regression": null})");
    o.policy = policy.string();
    o.out = dir / "lm.onnx";
    o.ledger = dir / "ledger.jsonl";
    o.report = dir / "report";
    o.validation.latency_batches = {1};
    o.validation.repeats = 2;
    return o;
}

// The overall language-model figures of a run's report.
json overall(const optimize_outcome& out) {
    return json::parse(out.report_json)["metrics"]["language_model"]["overall"];
}

double ppl_change(const optimize_outcome& out) {
    return overall(out)["perplexity_change"]["value"].get<double>();
}

} // namespace

TEST_CASE("language model: int8 W8A8 end to end, gated on perplexity, KL and agreement") {
    cli_test::temp_dir t("lm-int8");
    const auto o = lm_request(t.path, "int8");
    const auto out = hone::optimize(o);
    const auto report = json::parse(out.report_json);
    const auto& m = report["metrics"];
    const auto lm = m["language_model"];
    // The fixture's held-out books, as slices, with paired intervals.
    REQUIRE(lm["slices"].size() == 4);
    CHECK(lm["slices"][0]["name"] == "Ruth");
    CHECK(lm["slices"][3]["name"] == "James");
    const auto& all = lm["overall"];
    CHECK(all["sequences"] == 128);
    CHECK(all["tokens"] == 128 * 63);
    // The baseline's perplexity is the fixture's (docs/language-models.md: 5.307).
    CHECK(all["baseline_perplexity"]["value"].get<double>() ==
          doctest::Approx(5.307).epsilon(1e-3));
    const double change = all["perplexity_change"]["value"].get<double>();
    CHECK(all["perplexity_change"]["low"].get<double>() <= change);
    CHECK(change <= all["perplexity_change"]["high"].get<double>());
    // The issue's W8A8 goal: Δppl ≤ 1% (measured +0.15%), upper bound included.
    CHECK(all["perplexity_change"]["high"].get<double>() < 0.01);
    CHECK(all["mean_kl"]["value"].get<double>() > 0); // activations really are quantized
    CHECK(out.artifact_form.find("int8 static") != std::string::npos);
    // The decision names the language-model gates.
    std::set<std::string> metrics;
    for (const auto& r : report["decision"]["reasons"])
        metrics.insert(r["metric"].get<std::string>());
    for (const char* gate : {"perplexity_increase", "slice_perplexity_increase", "mean_kl",
                             "token_agreement", "accuracy_drop"})
        CHECK(metrics.count(gate) == 1);
    CHECK(metrics.count("agreement") == 0);
    CHECK(out.decision.verdict == verdict::approved);
    // The baseline record holds the perplexity; the optimize record re-derives (hone check).
    ledger l(o.ledger);
    const auto v = l.verify();
    CHECK(v.ok);
    const auto entries = l.read();
    REQUIRE(entries.size() == 2);
    // The CycloneDX model card of the change carries the language-model figures.
    const auto bom = json::parse(cyclonedx_bom(entries, entries[1].seq, "ledger.jsonl"));
    CHECK(bom.dump().find("perplexity change") != std::string::npos);
    CHECK(bom.dump().find("mean KL to baseline") != std::string::npos);
    const auto base = json::parse(entries[0].record.metrics);
    CHECK(base["perplexity"].get<double>() ==
          doctest::Approx(all["baseline_perplexity"]["value"].get<double>()));
    CHECK(base["tokens"] == 128 * 63);
    // Each layer's KL alone, next to its SQNR: all 29, the LM head (fed by the final norm)
    // among those that cost most.
    const auto& layers = report["layers"];
    REQUIRE(layers.size() == 29);
    double most = 0, sum = 0;
    for (const auto& l : layers) {
        CHECK(l["kl"].get<double>() >= 0);
        most = std::max(most, l["kl"].get<double>());
        sum += l["kl"].get<double>();
    }
    CHECK(most > 0);
    // Noise from separate layers roughly adds: the sum is of the order of the whole model's KL.
    CHECK(sum > 0.2 * all["mean_kl"]["value"].get<double>());
    CHECK(sum < 5 * all["mean_kl"]["value"].get<double>());
    // The HTML page shows the language-model table.
    const auto html = read_file(o.report / "report.html");
    CHECK(html.find("id=\"language_model\"") != std::string::npos);
    CHECK(html.find("next-token accuracy") != std::string::npos);
    CHECK(html.find("KL alone") != std::string::npos);

    // SmoothQuant folded into the norms and up projections: W8A8 closer to the baseline
    // (measured: mean KL 0.0016 → 0.0009, Δppl +0.15% → +0.12%).
    auto sq_req = lm_request(t.path, "int8-sq");
    sq_req.out = t.path / "sq.onnx";
    const auto sq = hone::optimize(sq_req);
    MESSAGE("W8A8 Δppl: plain " << change << ", SmoothQuant " << ppl_change(sq) << "; mean KL "
                                << all["mean_kl"]["value"].get<double>() << " vs "
                                << overall(sq)["mean_kl"]["value"].get<double>());
    CHECK(overall(sq)["perplexity_change"]["high"].get<double>() < 0.01);
    CHECK(overall(sq)["mean_kl"]["value"].get<double>() < all["mean_kl"]["value"].get<double>());
    const auto sq_recipe = json::parse(hone::ledger(sq_req.ledger).read().back().record.recipe);
    CHECK(sq_recipe["smooth_quant_result"].size() == 17);

    // W8A8 with an int8 KV cache: the keys and values of the 4 layers' attention products get
    // 8-bit grids, carried by Q/DQ pairs in the file.
    auto kv_req = lm_request(t.path, R"({"name": "w8a8-kv8", "execution": "int8-static",
        "kv_cache": "int8", "smooth_quant": {"alpha": "search"},
        "steps": [{"kind": "quantize", "bits": 8, "granularity": "per_channel"}]})");
    kv_req.out = t.path / "kv.onnx";
    const auto kv = hone::optimize(kv_req);
    MESSAGE("W8A8 + int8 KV cache: Δppl " << ppl_change(kv) << ", mean KL "
                                          << overall(kv)["mean_kl"]["value"].get<double>());
    const auto kv_recipe = json::parse(hone::ledger(kv_req.ledger).read().back().record.recipe);
    REQUIRE(kv_recipe["kv_cache_result"].size() == 8); // K and V of 4 layers
    for (const auto& k : kv_recipe["kv_cache_result"])
        CHECK(k["range"][0].get<double>() < k["range"][1].get<double>());
    CHECK(overall(kv)["perplexity_change"]["high"].get<double>() < 0.01);
    // more quantized tensors than W8A8 alone: the distribution moves a little more
    CHECK(overall(kv)["mean_kl"]["value"].get<double>() >
          overall(sq)["mean_kl"]["value"].get<double>());
    {
        // The file quantizes them: each KV tensor is the input of a QuantizeLinear.
        const model file = load_onnx(kv_req.out);
        for (const auto& k : kv_recipe["kv_cache_result"]) {
            bool quantized = false;
            for (const auto& nd : file.nodes)
                quantized |= nd.op_type == "QuantizeLinear" &&
                             nd.inputs[0] == k["tensor"].get<std::string>();
            CHECK(quantized);
        }
    }
    auto packed = lm_request(t.path, R"({"name": "kv-hone", "execution": "int8-static",
        "kv_cache": "int8", "steps": [{"kind": "quantize"}]})");
    packed.format = "hone";
    CHECK_THROWS_WITH_AS(hone::optimize(packed), doctest::Contains("give format qdq"), hone::error);

    // A policy tight enough to fail on the measured perplexity change rejects it, naming it.
    auto strict = lm_request(t.path, "int8");
    strict.out = t.path / "strict.onnx";
    const auto policy_file = t.path / "strict.json";
    write_file_atomic(policy_file, R"({"tier": "low", "max_perplexity_increase": 0.0001})");
    strict.policy = policy_file.string();
    const auto rejected = hone::optimize(strict);
    CHECK(rejected.decision.verdict == verdict::rejected);
    bool named = false;
    for (const auto& r : rejected.decision.reasons)
        named |= r.metric == "perplexity_increase" && !r.passed;
    CHECK(named);
}

TEST_CASE("language model: int4 group GPTQ beats RTN within 3% perplexity; 2:4 is reported") {
    cli_test::temp_dir t("lm-int4");
    const auto gptq = hone::optimize(lm_request(t.path, "int4")); // group 128, GPTQ
    auto rtn_req = lm_request(t.path, R"({"name": "int4-rtn", "execution": "f32",
        "steps": [{"kind": "quantize", "bits": 4, "granularity": "per_group", "group_size": 128,
                   "method": "rtn"}]})");
    rtn_req.out = t.path / "rtn.onnx";
    const auto rtn = hone::optimize(rtn_req);
    // GPTQ with every layer's Hessian from the baseline (the recipe's "sequential": false).
    auto at_once_req = lm_request(t.path, R"({"name": "int4-at-once", "execution": "f32",
        "sequential": false, "steps": [{"kind": "quantize", "bits": 4,
        "granularity": "per_group", "group_size": 128, "method": "gptq"}]})");
    at_once_req.out = t.path / "at_once.onnx";
    const auto at_once = hone::optimize(at_once_req);
    MESSAGE("int4 g128 Δppl: GPTQ sequential " << ppl_change(gptq) << ", GPTQ all at once "
                                               << ppl_change(at_once) << ", RTN "
                                               << ppl_change(rtn));
    CHECK(overall(gptq)["perplexity_change"]["high"].get<double>() < 0.03);
    CHECK(ppl_change(gptq) < ppl_change(rtn));
    CHECK(ppl_change(at_once) < ppl_change(rtn));
    CHECK(ppl_change(gptq) < ppl_change(at_once)); // each block corrects the ones before it
    CHECK(overall(gptq)["mean_kl"]["value"].get<double>() <
          overall(rtn)["mean_kl"]["value"].get<double>());
    // GPTQ with act-order: measured mean KL 0.00033 against 0.00063 without.
    auto act_req = lm_request(t.path, R"({"name": "int4-act-order", "execution": "f32",
        "steps": [{"kind": "quantize", "bits": 4, "granularity": "per_group", "group_size": 128,
                   "method": "gptq", "act_order": true}]})");
    act_req.out = t.path / "act.onnx";
    const auto act = hone::optimize(act_req);
    MESSAGE("act-order: Δppl " << ppl_change(act) << ", mean KL "
                               << overall(act)["mean_kl"]["value"].get<double>());
    CHECK(overall(act)["mean_kl"]["value"].get<double>() <
          overall(gptq)["mean_kl"]["value"].get<double>());
    // AWQ, its scales folded into the norms and up projections (measured +0.38% vs RTN +0.48%).
    auto awq_req = lm_request(t.path, R"({"name": "int4-awq", "execution": "f32",
        "steps": [{"kind": "quantize", "bits": 4, "granularity": "per_group", "group_size": 128,
                   "method": "awq"}]})");
    awq_req.out = t.path / "awq.onnx";
    const auto awq = hone::optimize(awq_req);
    MESSAGE("AWQ: Δppl " << ppl_change(awq) << ", mean KL "
                         << overall(awq)["mean_kl"]["value"].get<double>());
    CHECK(ppl_change(awq) < ppl_change(rtn));
    CHECK(overall(awq)["mean_kl"]["value"].get<double>() <
          overall(rtn)["mean_kl"]["value"].get<double>());
    const auto awq_recipe = json::parse(hone::ledger(awq_req.ledger).read().back().record.recipe);
    REQUIRE(awq_recipe["awq_result"].size() == 17);
    int folded = 0;
    for (const auto& g : awq_recipe["awq_result"])
        folded += g.value("smoothed", false);
    CHECK(folded >= 8);

    auto sparse_req = lm_request(t.path, "2:4");
    sparse_req.out = t.path / "sparse.onnx";
    const auto sparse = hone::optimize(sparse_req);
    MESSAGE("2:4 SparseGPT Δppl " << ppl_change(sparse));
    CHECK(ppl_change(sparse) > 0); // half the weights gone costs something; reported, gated
}

TEST_CASE("language model: data of the wrong kind and unsupported searches are refused first") {
    cli_test::temp_dir t("lm-refuse");
    auto o = lm_request(t.path, "int8");
    o.eval = "fashion-mnist:test:16";
    o.data.slices.clear();
    CHECK_THROWS_WITH_AS(hone::optimize(o), doctest::Contains("takes token ids (input '"),
                         hone::error);
    o = lm_request(t.path, "int8");
    o.tolerable_drop = 0.01;
    CHECK_THROWS_WITH_AS(hone::optimize(o),
                         doctest::Contains("on a language model is not "
                                           "supported yet"),
                         hone::error);
    CHECK_FALSE(fs::exists(o.ledger)); // nothing was written
    CHECK_FALSE(fs::exists(o.out));
}
