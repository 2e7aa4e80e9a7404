// Recipes as typed objects (hone/pipeline/recipe.hpp): the presets, the methods' enums and their
// JSON names, JSON in and out, errors naming the field, and a typed recipe run by hone::optimize.
#include "cli_run.hpp"

#include "../model/fixture_path.hpp"

#include <hone/core/error.hpp>
#include <hone/pipeline/optimize.hpp>
#include <hone/pipeline/recipe.hpp>

#include <doctest/doctest.h>
#include <nlohmann/json.hpp>

#include <fstream>

using namespace hone;
using namespace hone::pipeline;
using json = nlohmann::json;

TEST_CASE("every preset parses and round-trips through its JSON") {
    for (const auto& name : recipe_presets()) {
        CAPTURE(name);
        const auto r = load_recipe(name);
        CHECK(r.name == name);
        CHECK((!r.steps.empty() || r.finetune.has_value()));
        const auto again = parse_recipe(r.to_json().dump(), "again");
        CHECK(again.to_json() == r.to_json());
    }
    // What the presets are made of, as enums.
    const auto int4 = load_recipe("int4");
    REQUIRE(int4.steps.size() == 1);
    CHECK(int4.steps[0].what == recipe_step::kind::quantize);
    CHECK(int4.steps[0].bits == 4);
    CHECK(int4.steps[0].granularity == quant_granularity::per_group);
    CHECK(load_recipe("sparse50").steps[0].pruning == prune_method::sparsegpt);
    CHECK(load_recipe("cluster16").steps[0].clusters == 16);
    CHECK(load_recipe("int8").execution == exec_precision::int8_static);
}

TEST_CASE("the methods' JSON names map to the library's enums and back") {
    const auto r = parse_recipe(R"({"calibration": "entropy", "steps": [
        {"kind": "prune", "method": "wanda", "sparsity": 0.25},
        {"kind": "cluster", "clusters": 8, "method": "lloyd"},
        {"kind": "quantize", "bits": 4, "granularity": "per_group", "group_size": 32,
         "method": "gptq"}]})",
                                "r.json");
    CHECK(r.calibration == calib_method::entropy);
    REQUIRE(r.steps.size() == 3);
    CHECK(r.steps[0].pruning == prune_method::wanda);
    CHECK(r.steps[0].sparsity == 0.25);
    CHECK(r.steps[1].clustering == kmeans_method::lloyd);
    CHECK(r.steps[2].granularity == quant_granularity::per_group);
    CHECK(r.steps[2].group_size == 32);
    CHECK(r.steps[2].quantizing == weight_method::gptq);
    CHECK(r.needs_layer_inputs()); // wanda and gptq read the layers' inputs
    CHECK(r.sequential);           // calibrated layer after layer unless told otherwise
    const auto j = r.to_json();
    CHECK(j["sequential"] == true); // recorded: it decides what the layers saw
    const auto at_once = parse_recipe(R"({"sequential": false, "steps": [
        {"kind": "quantize", "bits": 4, "method": "gptq"}]})",
                                      "s.json");
    CHECK_FALSE(at_once.sequential);
    CHECK(parse_recipe(at_once.to_json().dump(), "again").to_json() == at_once.to_json());
    CHECK_FALSE(load_recipe("int8").to_json().contains("sequential")); // RTN reads no inputs
    CHECK_THROWS_WITH_AS(
        parse_recipe(R"({"sequential": 1, "steps": [{"kind": "quantize"}]})", "s.json"),
        doctest::Contains("sequential"), hone::error);
    CHECK(j["calibration"] == "entropy");
    CHECK(j["steps"][0]["method"] == "wanda");
    CHECK(j["steps"][1]["method"] == "lloyd");
    CHECK(j["steps"][2]["granularity"] == "per_group");
    CHECK(j["steps"][2]["method"] == "gptq");
    CHECK(name_of(prune_method::magnitude) == "magnitude");
    CHECK(name_of(kmeans_method::automatic) == "auto");
    CHECK(name_of(quant_granularity::per_tensor) == "per_tensor");
    CHECK(name_of(weight_method::clip_search) == "clip_search");
    CHECK(name_of(calib_method::auto_select) == "auto");
    CHECK(name_of(calib_method::moving_average) == "unknown"); // not a recipe calibration
    // Defaults: magnitude pruning reads no inputs.
    CHECK_FALSE(parse_recipe(R"({"steps": [{"kind": "prune", "method": "magnitude"}]})", "m")
                    .needs_layer_inputs());
}

TEST_CASE("bad names are refused, naming the field and the choices") {
    const auto throws = [](const char* text, const char* what) {
        CHECK_THROWS_WITH_AS(parse_recipe(text, "bad.json"), doctest::Contains(what), hone::error);
    };
    throws(R"({"steps": [{"kind": "prune", "method": "random"}]})",
           "steps[0].method 'random': expected sparsegpt, wanda or magnitude");
    throws(R"({"steps": [{"kind": "cluster", "method": "kmeans++"}]})",
           "expected optimal, lloyd or auto");
    throws(R"({"steps": [{"kind": "quantize", "granularity": "per_row"}]})",
           "granularity 'per_row': expected per_channel, per_group or per_tensor");
    throws(R"({"steps": [{"kind": "quantize", "method": "hqq"}]})",
           "'hqq': expected rtn, clip_search, gptq or awq");
    throws(R"({"calibration": "kl", "steps": [{"kind": "quantize"}]})",
           "calibration 'kl': expected auto, min_max, percentile, entropy or mse");
    throws(R"({"steps": [{"kind": "quantize", "method": 3}]})", "wrong type");
}

TEST_CASE("a finetune step's gradual pruning schedule parses, round-trips and names bad fields") {
    const auto r = parse_recipe(R"({"steps": [{"kind": "finetune", "prune": {
        "initial_sparsity": 0.5, "final_sparsity": 0.9, "begin_step": 0, "end_step": 450,
        "frequency": 50, "power": 3, "min_layer_sparsity": 0.1, "max_layer_sparsity": 0.95}}]})",
                                "g.json");
    REQUIRE(r.finetune);
    REQUIRE(r.finetune->prune);
    const auto& s = *r.finetune->prune;
    CHECK(s.kind == schedule_kind::polynomial); // the default kind
    CHECK(s.initial_sparsity == 0.5);
    CHECK(s.final_sparsity == 0.9);
    CHECK(s.end_step == 450);
    CHECK(s.frequency == 50);
    CHECK(s.power == 3);
    CHECK(s.sparsity_at(450) == doctest::Approx(0.9));
    CHECK(r.finetune->prune_scope.global); // one global threshold by default
    CHECK(r.finetune->prune_scope.min_layer_sparsity == 0.1);
    CHECK(r.finetune->prune_scope.max_layer_sparsity == 0.95);
    const auto j = r.to_json();
    CHECK(j["steps"][0]["prune"] == json::parse(R"({"kind": "polynomial", "initial_sparsity": 0.5,
        "final_sparsity": 0.9, "begin_step": 0, "end_step": 450, "frequency": 50, "power": 3.0,
        "global": true, "min_layer_sparsity": 0.1, "max_layer_sparsity": 0.95})"));
    CHECK(parse_recipe(j.dump(), "again").to_json() == j);
    // Constant and per-layer: only their own fields are recorded.
    const auto c = parse_recipe(R"({"steps": [{"kind": "finetune", "prune": {"kind": "constant",
        "final_sparsity": 0.8, "begin_step": 10, "frequency": 5, "global": false}}]})",
                                "c.json");
    REQUIRE(c.finetune->prune);
    CHECK(c.finetune->prune->kind == schedule_kind::constant);
    CHECK(c.finetune->prune->end_step == -1);
    CHECK_FALSE(c.finetune->prune_scope.global);
    CHECK(c.to_json()["steps"][0]["prune"] ==
          json::parse(R"({"kind": "constant", "final_sparsity": 0.8, "begin_step": 10,
              "end_step": -1, "frequency": 5, "global": false})"));
    CHECK(parse_recipe(c.to_json().dump(), "again").to_json() == c.to_json());
    // No schedule: nothing recorded.
    CHECK_FALSE(parse_recipe(R"({"steps": [{"kind": "finetune"}]})", "n")
                    .to_json()["steps"][0]
                    .contains("prune"));

    const auto throws = [](const std::string& prune, const char* what) {
        const auto text = R"({"steps": [{"kind": "prune", "sparsity": 0.5},
            {"kind": "finetune", "prune": )" +
                          prune + "}]}";
        CHECK_THROWS_WITH_AS(parse_recipe(text, "bad.json"), doctest::Contains(what), hone::error);
    };
    throws("0.9", "steps[1].prune must be an object");
    throws(R"({"final_sparsity": 0.9, "end_step": 10, "every": 5})",
           "steps[1].prune: unknown field 'every'");
    throws(R"({"end_step": 10})", "steps[1].prune.final_sparsity is required");
    throws(R"({"final_sparsity": 0.9})", "steps[1].prune.end_step is required");
    throws(R"({"kind": "cubic", "final_sparsity": 0.9, "end_step": 10})",
           "steps[1].prune.kind 'cubic': expected polynomial or constant");
    throws(R"({"final_sparsity": "0.9", "end_step": 10})", "steps[1].prune.final_sparsity has "
                                                           "the wrong type");
    throws(R"({"final_sparsity": 1, "end_step": 10})",
           "steps[1].prune.final_sparsity: must be in (0, 1), got 1");
    throws(R"({"initial_sparsity": 0.95, "final_sparsity": 0.9, "end_step": 10, "frequency": 5})",
           "steps[1].prune.initial_sparsity: must be in [0, final_sparsity 0.9], got 0.95");
    throws(R"({"final_sparsity": 0.9, "begin_step": -1, "end_step": 10, "frequency": 1})",
           "steps[1].prune.begin_step: must be >= 0, got -1");
    throws(R"({"final_sparsity": 0.9, "end_step": 10, "frequency": 0})",
           "steps[1].prune.frequency: must be >= 1, got 0");
    throws(R"({"final_sparsity": 0.9, "begin_step": 10, "end_step": 10, "frequency": 1})",
           "steps[1].prune.end_step: must be after begin_step 10, got 10");
    throws(R"({"final_sparsity": 0.9, "end_step": 45, "frequency": 10})",
           "steps[1].prune.end_step: 45 must be begin_step 0 + a multiple of frequency 10");
    throws(R"({"final_sparsity": 0.9, "end_step": 10, "frequency": 5, "power": 0})",
           "steps[1].prune.power: must be positive, got 0");
    throws(R"({"kind": "constant", "final_sparsity": 0.9, "power": 3})",
           "steps[1].prune.power: a constant schedule has none");
    throws(R"({"kind": "constant", "final_sparsity": 0.9, "begin_step": 5, "end_step": 2})",
           "steps[1].prune.end_step: must be -1 (none) or >= begin_step 5, got 2");
    throws(R"({"final_sparsity": 0.9, "end_step": 10, "frequency": 5, "global": false,
               "max_layer_sparsity": 0.95})",
           "steps[1].prune.max_layer_sparsity bounds a layer under one global threshold");
    throws(R"({"initial_sparsity": 0.3, "final_sparsity": 0.9, "end_step": 10, "frequency": 5,
               "min_layer_sparsity": 0.4})",
           "steps[1].prune.min_layer_sparsity: must be in [0, 0.3]");
    throws(R"({"final_sparsity": 0.9, "end_step": 10, "frequency": 5, "max_layer_sparsity": 0.8})",
           "steps[1].prune.max_layer_sparsity: must be in [final_sparsity 0.9, 1), got 0.8");
    throws(R"({"final_sparsity": 0.9, "end_step": 10, "frequency": 5, "global": 1})",
           "steps[1].prune.global has the wrong type");
    // A schedule built in C++ gets the same checks when it is used.
    auto ft = *c.finetune;
    ft.prune->frequency = 0;
    CHECK_THROWS_WITH_AS((void)ft.config(), doctest::Contains("finetune.prune.frequency"),
                         hone::error);
}

TEST_CASE("an override's steps replace a layer's steps; step_params then apply") {
    const auto r = parse_recipe(R"({"steps": [{"kind": "quantize", "bits": 4}],
        "overrides": {"fc1*": {"steps": [{"kind": "cluster", "clusters": 16}],
                               "cluster": {"method": "lloyd"}},
                      "fc2*": {"steps": [{"kind": "prune", "method": "wanda"},
                                         {"kind": "quantize", "bits": 8}]}}})",
                                "o.json");
    REQUIRE(r.overrides.size() == 2);
    const auto fc1 = r.steps_for("fc1.w", "Gemm", "", "");
    REQUIRE(fc1);
    REQUIRE(fc1->size() == 1);
    CHECK((*fc1)[0].what == recipe_step::kind::cluster);
    CHECK((*fc1)[0].clusters == 16);
    CHECK((*fc1)[0].clustering == kmeans_method::lloyd); // the override's step_params
    const auto fc2 = r.steps_for("fc2.w", "Gemm", "", "");
    REQUIRE(fc2);
    REQUIRE(fc2->size() == 2);
    CHECK((*fc2)[0].pruning == prune_method::wanda);
    CHECK((*fc2)[1].bits == 8);
    const auto other = r.steps_for("conv", "Conv", "", "");
    REQUIRE(other);
    REQUIRE(other->size() == 1);
    CHECK((*other)[0].bits == 4);  // the recipe's own steps
    CHECK(r.needs_layer_inputs()); // wanda, in an override's steps
    const auto j = r.to_json();
    CHECK(j["overrides"]["fc1*"]["steps"][0]["kind"] == "cluster");
    CHECK(parse_recipe(j.dump(), "again").to_json() == j);
    const auto throws = [](const char* text, const char* what) {
        CHECK_THROWS_WITH_AS(parse_recipe(text, "bad.json"), doctest::Contains(what), hone::error);
    };
    throws(R"({"steps": [{"kind": "quantize"}], "overrides": {"a": {"steps": []}}})",
           "overrides['a'].steps must be a non-empty array");
    throws(R"({"steps": [{"kind": "quantize"}], "overrides": {"a": {"steps": [3]}}})",
           "overrides['a'].steps[0] must be an object with a \"kind\"");
    throws(R"({"steps": [{"kind": "quantize"}],
               "overrides": {"a": {"steps": [{"kind": "finetune"}]}}})",
           "a recipe step, not a layer's");
    throws(R"({"steps": [{"kind": "quantize"}],
               "overrides": {"a": {"steps": [{"kind": "cluster", "clusters": 1}]}}})",
           "overrides['a'].steps[0]");
}

TEST_CASE("a recipe built in C++ is what its JSON says, and hone::optimize runs it") {
    recipe r;
    r.name = "typed-int4";
    recipe_step q;
    q.what = recipe_step::kind::quantize;
    q.bits = 4;
    q.granularity = quant_granularity::per_group;
    q.group_size = 64;
    q.quantizing = weight_method::clip_search;
    r.steps.push_back(q);
    r.exclude = {"@last"};
    const auto j = r.to_json();
    CHECK(j["steps"][0] == json::parse(R"({"kind": "quantize", "bits": 4, "granularity":
        "per_group", "group_size": 64, "method": "clip_search"})"));
    CHECK(parse_recipe(j.dump(), "again").to_json() == j);

    cli_test::temp_dir t("recipe");
    optimize_request o;
    o.model = hone::test::fashion_fixture("mlp.onnx");
    o.recipe = r;
    o.calib = "fashion-mnist:train:256";
    o.eval = "fashion-mnist:test:256";
    o.policy = "low";
    o.out = t.path / "typed.onnx";
    o.ledger = t.path / "l.jsonl";
    o.validation.latency_batches = {1};
    o.validation.repeats = 2;
    const auto out = hone::optimize(o);
    const auto rec = cli_test::last_record(o.ledger)["recipe"];
    CHECK(rec["name"] == "typed-int4");
    CHECK(rec["steps"] == j["steps"]);
    CHECK(rec["layers"]["exclude"] == json::array({"@last"}));
    CHECK(out.artifact_bytes == std::filesystem::file_size(o.out));
    // A typed recipe gets the file's checks.
    r.steps[0].bits = 12;
    o.recipe = r;
    CHECK_THROWS_WITH_AS(hone::optimize(o), doctest::Contains("recipe 'typed-int4'"), hone::error);
    CHECK_THROWS_WITH_AS(hone::optimize(o), doctest::Contains("bits must be 2…8, got 12"),
                         hone::error);
}
