// The accuracy-aware search (src/pipeline/search.hpp, recipe `search`): the decision logic on
// known accuracies, the recipe field's parsing, and `hone optimize --tolerable-drop` on the
// Fashion-MNIST CNN with its trials in the ledger.
#include "cli_run.hpp"
#include "search.hpp"
#include <hone/pipeline/recipe.hpp>

#include "../model/fixture_path.hpp"

#include <hone/core/error.hpp>

#include <doctest/doctest.h>
#include <nlohmann/json.hpp>

#include <fstream>
#include <map>
#include <set>

using namespace hone;
using namespace hone::pipeline;
using cli_test::hone_cli;
using cli_test::last_record;
using cli_test::temp_dir;
using json = nlohmann::json;

namespace {

// A model whose accuracy is 0.90 with everything kept, minus each quantized layer's cost.
struct toy {
    std::map<std::string, double> cost;
    int calls = 0;
    double operator()(const std::vector<std::string>& kept) {
        ++calls;
        double a = 0.90;
        for (const auto& [name, c] : cost)
            if (std::find(kept.begin(), kept.end(), name) == kept.end()) a -= c;
        return a;
    }
};

accuracy_search bound(double drop, bool relative = false, int trials = 64) {
    accuracy_search s;
    s.tolerable_drop = drop;
    s.relative = relative;
    s.max_trials = trials;
    return s;
}

} // namespace

TEST_CASE("search_layers: nothing kept when the full candidate is within the bound") {
    toy m{{{"a", 0.001}, {"b", 0.001}}};
    const auto r = search_layers(bound(0.003), {"a", "b"}, 0.90, std::ref(m));
    CHECK(r.met);
    CHECK(r.kept.empty());
    CHECK(m.calls == 1);
    REQUIRE(r.trials.size() == 1);
    CHECK(r.trials[0].role == "full");
    CHECK(r.trials[0].drop == doctest::Approx(0.002));
}

TEST_CASE("search_layers: keeps the costliest layers first, stops at the bound") {
    // Costs 0.02 (c), 0.01 (a), 0.004 (b), 0.001 (d): keeping c and a leaves 0.005 > 0.003;
    // keeping c, a and b leaves 0.001.
    toy m{{{"a", 0.01}, {"b", 0.004}, {"c", 0.02}, {"d", 0.001}}};
    const auto r = search_layers(bound(0.003), {"a", "b", "c", "d"}, 0.90, std::ref(m));
    CHECK(r.met);
    CHECK(r.kept == std::vector<std::string>{"c", "a", "b"});
    CHECK(r.accuracy == doctest::Approx(0.899));
    // full + 4 ranking + 2 greedy steps (the first step is the ranking trial of c).
    CHECK(m.calls == 7);
    CHECK(r.trials.size() == 7);
    CHECK(r.trials.back().role == "keep");
    CHECK(r.trials.back().within);
    CHECK(r.bound == doctest::Approx(0.003));
}

TEST_CASE("search_layers: one layer kept alone can meet the bound without a new trial") {
    toy m{{{"a", 0.001}, {"b", 0.05}}};
    const auto r = search_layers(bound(0.003), {"a", "b"}, 0.90, std::ref(m));
    CHECK(r.met);
    CHECK(r.kept == std::vector<std::string>{"b"});
    CHECK(m.calls == 3);
}

TEST_CASE("search_layers: a relative bound scales with the baseline") {
    toy m{{{"a", 0.004}, {"b", 0.05}}};
    // 0.5% of 0.90 = 0.0045 ≥ 0.004: keeping b suffices; an absolute 0.003 would not.
    auto r = search_layers(bound(0.005, true), {"a", "b"}, 0.90, std::ref(m));
    CHECK(r.bound == doctest::Approx(0.0045));
    CHECK(r.kept == std::vector<std::string>{"b"});
    CHECK(r.met);
    toy m2{m.cost};
    r = search_layers(bound(0.003), {"a", "b"}, 0.90, std::ref(m2));
    CHECK_FALSE(r.met); // all but one layer kept at most
    CHECK(r.kept == std::vector<std::string>{"b"});
}

TEST_CASE("search_layers: an unmet bound chooses the most accurate candidate measured") {
    toy m{{{"a", 0.02}, {"b", 0.03}, {"c", 0.01}}};
    const auto r = search_layers(bound(0.0), {"a", "b", "c"}, 0.90, std::ref(m));
    CHECK_FALSE(r.met);
    // Greedy keeps b, then b and a (0.89); c is never kept (a candidate must change a layer).
    CHECK(r.kept == std::vector<std::string>{"b", "a"});
    CHECK(r.accuracy == doctest::Approx(0.89));
}

TEST_CASE("search_layers: the trial budget bounds the candidates built") {
    toy m{{{"a", 0.02}, {"b", 0.03}, {"c", 0.01}}};
    const auto r = search_layers(bound(0.0, false, 3), {"a", "b", "c"}, 0.90, std::ref(m));
    CHECK(m.calls == 3);
    CHECK(r.trials.size() == 3);
    CHECK_FALSE(r.met);
    CHECK(r.kept == std::vector<std::string>{"b"}); // the best of full, rank a, rank b
    toy one{{{"a", 0.02}}};
    CHECK(search_layers(bound(0.001), {"a"}, 0.90, std::ref(one)).kept.empty());
    CHECK(one.calls == 1);
    CHECK_THROWS_AS(search_layers(bound(0.001), {}, 0.9, std::ref(one)), hone::error);
}

TEST_CASE("recipe search: parsed, written back, bad fields named") {
    const auto r = parse_recipe(R"({"steps": [{"kind": "quantize", "bits": 4}],
        "search": {"tolerable_drop": 0.003, "relative": true, "ranking_samples": 500,
                   "max_trials": 9}})",
                                "s.json");
    REQUIRE(r.search);
    CHECK(r.search->tolerable_drop == 0.003);
    CHECK(r.search->relative);
    CHECK(r.search->ranking_samples == 500);
    CHECK(r.search->max_trials == 9);
    const auto again = parse_recipe(r.to_json().dump(), "again");
    REQUIRE(again.search);
    CHECK(again.search->to_json() == r.search->to_json());
    CHECK_FALSE(parse_recipe(R"({"steps": [{"kind": "quantize"}]})", "none").search);
    // load_recipe takes JSON text too (the C ABI and bindings pass recipes as text).
    const auto from_text = load_recipe(R"(  {"name": "t", "steps": [{"kind": "quantize"}],
                                        "search": {"tolerable_drop": 0.02}})");
    CHECK(from_text.name == "t");
    REQUIRE(from_text.search);
    CHECK(from_text.search->tolerable_drop == 0.02);
    CHECK_THROWS_WITH_AS(load_recipe("{not json"), doctest::Contains("recipe 'recipe text'"),
                         hone::error);
    const auto throws = [](const char* text, const char* what) {
        CHECK_THROWS_WITH_AS(parse_recipe(text, "bad.json"), doctest::Contains(what), hone::error);
    };
    const auto with = [](const char* search) {
        return std::string(R"({"steps": [{"kind": "quantize"}], "search": )") + search + "}";
    };
    throws(with(R"({"tolerable_drop": 1.5})").c_str(), "search.tolerable_drop");
    throws(with(R"({"tolerable_drop": -0.1})").c_str(), "search.tolerable_drop");
    throws(with(R"({"ranking_samples": 0})").c_str(), "search.ranking_samples");
    throws(with(R"({"max_trials": 0})").c_str(), "search.max_trials");
    throws(with(R"({"bound": 0.1})").c_str(), "search: unknown field 'bound'");
    throws(with("0.1").c_str(), "search must be an object");
    throws(with(R"({"relative": "yes"})").c_str(), "search.relative");
    throws(with(R"({"keep_bits": 16})").c_str(), "search.keep_bits 16 must be 32 (f32) or 2…8");
    throws(with(R"({"keep_bits": 1})").c_str(), "search.keep_bits 1");
    // The quantize step has 8 bits (the default): keeping a layer at 8 bits changes nothing.
    throws(with(R"({"keep_bits": 8})").c_str(), "needs a quantize step of fewer bits");
    CHECK(r.search->keep_bits == 32);
    const auto kept8 = parse_recipe(R"({"steps": [{"kind": "quantize", "bits": 4}],
        "search": {"keep_bits": 8}})",
                                    "k.json");
    REQUIRE(kept8.search);
    CHECK(kept8.search->keep_bits == 8);
    CHECK(parse_recipe(kept8.to_json().dump(), "again").search->keep_bits == 8);
}

TEST_CASE("hone optimize --tolerable-drop: the CNN's layers kept in f32, trials in the ledger") {
    temp_dir t("search");
    std::ofstream(t / "p.json") << cli_test::permissive_policy;
    // 3-bit per-channel weights cost the CNN several points: the search must keep layers.
    std::ofstream(t / "int3.json") << R"({"name": "int3",
        "steps": [{"kind": "quantize", "bits": 3, "granularity": "per_channel"}]})";
    const auto cnn = hone::test::fashion_fixture("cnn.onnx").string();
    const auto run = [&](const std::string& recipe, const std::string& out,
                         std::vector<std::string> extra) {
        std::vector<std::string> args{"-q",
                                      "optimize",
                                      cnn,
                                      "--recipe",
                                      recipe,
                                      "--calib",
                                      "fashion-mnist:train:1024",
                                      "--eval",
                                      "fashion-mnist:test:2000",
                                      "--policy",
                                      t / "p.json",
                                      "--out",
                                      t / out.c_str(),
                                      "--ledger",
                                      t / "l.jsonl",
                                      "--latency-batch",
                                      "8",
                                      "--repeats",
                                      "2"};
        args.insert(args.end(), extra.begin(), extra.end());
        return hone_cli(args);
    };
    SUBCASE("int3 within 1 point: layers kept, the recipe recorded reproduces the candidate") {
        const auto r = run(t / "int3.json", "int3.onnx",
                           {"--tolerable-drop", "0.01", "--report", t / "report"});
        REQUIRE_MESSAGE(r.code == 0, r.err);
        // The report carries the trials: JSON, and a table in the page.
        std::ifstream rj(t.path / "report" / "report.json"), rh(t.path / "report" / "report.html");
        const auto report = json::parse(rj);
        CHECK(report["search"] == last_record(t / "l.jsonl")["recipe"]["search_result"]);
        const std::string html((std::istreambuf_iterator<char>(rh)), {});
        CHECK(html.find("<h2>Accuracy-aware search</h2>") != std::string::npos);
        CHECK(html.find("/conv1/Conv") != std::string::npos);
        const auto rec = last_record(t / "l.jsonl")["recipe"];
        const auto& s = rec["search_result"];
        MESSAGE("int3 search: " << s.dump());
        CHECK(s["params"]["tolerable_drop"] == 0.01);
        CHECK_FALSE(rec.contains("search")); // settled: the recipe recorded is the one built
        CHECK(s["bound"].get<double>() == doctest::Approx(0.01));
        CHECK(s["met"].get<bool>());
        CHECK(s["baseline"].get<double>() - s["accuracy"].get<double>() <= 0.01);
        const auto kept = s["kept"].get<std::vector<std::string>>();
        CHECK_FALSE(kept.empty());
        CHECK(kept.size() < 4);
        // The layers found are excluded in the recipe as recorded.
        const auto excluded = rec["layers"]["exclude"].get<std::vector<std::string>>();
        CHECK(std::set<std::string>(excluded.begin(), excluded.end()) ==
              std::set<std::string>(kept.begin(), kept.end()));
        // full + one ranking trial per layer, at least.
        CHECK(s["trials"].size() >= 5);
        CHECK(s["trials"][0]["role"] == "full");
        CHECK_FALSE(s["trials"][0]["within"].get<bool>());
        // The chosen candidate is more accurate than the full one on the ranking data.
        CHECK(s["accuracy"].get<double>() > s["trials"][0]["accuracy"].get<double>());
        // Re-running the recorded recipe (its recipe fields; the record adds what the run did)
        // builds the same candidate, without a search.
        json recipe_only;
        for (const char* k : {"name", "execution", "calibration", "layers", "steps", "overrides"})
            recipe_only[k] = rec[k];
        std::ofstream(t / "again.json") << recipe_only.dump();
        const auto again = run(t / "again.json", "again.onnx", {});
        REQUIRE_MESSAGE(again.code == 0, again.err);
        const auto rec2 = last_record(t / "l.jsonl")["recipe"];
        CHECK(rec2["layers"]["exclude"] == rec["layers"]["exclude"]);
        CHECK_FALSE(rec2.contains("search_result"));
        CHECK(std::filesystem::file_size(t.path / "again.onnx") ==
              std::filesystem::file_size(t.path / "int3.onnx"));
    }
    SUBCASE("int3 keeping layers at 8 bits: quantize overrides instead of f32, a smaller file") {
        std::ofstream(t / "int3k8.json") << R"({"name": "int3k8",
            "steps": [{"kind": "quantize", "bits": 3, "granularity": "per_channel"}],
            "search": {"tolerable_drop": 0.01, "keep_bits": 8}})";
        const auto r = run(t / "int3k8.json", "int3k8.onnx", {});
        REQUIRE_MESSAGE(r.code == 0, r.err);
        const auto rec = last_record(t / "l.jsonl")["recipe"];
        const auto& s = rec["search_result"];
        MESSAGE("int3 search, keeping at 8 bits: " << s.dump());
        CHECK(s["params"]["keep_bits"] == 8);
        CHECK(s["met"].get<bool>());
        const auto kept = s["kept"].get<std::vector<std::string>>();
        REQUIRE_FALSE(kept.empty());
        // Nothing excluded: each kept layer has an 8-bit quantize override.
        CHECK(rec["layers"]["exclude"].empty());
        std::set<std::string> at8;
        for (const auto& [pattern, ov] : rec["overrides"].items())
            if (ov.contains("quantize") && ov["quantize"]["bits"] == 8) at8.insert(pattern);
        CHECK(at8 == std::set<std::string>(kept.begin(), kept.end()));
        // The same search keeping layers in f32 ships a larger file.
        const auto f32 = run(t / "int3.json", "int3f32.onnx", {"--tolerable-drop", "0.01"});
        REQUIRE_MESSAGE(f32.code == 0, f32.err);
        const auto f32_kept = last_record(t / "l.jsonl")["recipe"]["search_result"]["kept"];
        MESSAGE("kept at 8 bits: " << s["kept"].dump() << ", in f32: " << f32_kept.dump());
        if (f32_kept == s["kept"])
            CHECK(std::filesystem::file_size(t.path / "int3k8.onnx") <
                  std::filesystem::file_size(t.path / "int3f32.onnx"));
    }
    SUBCASE("int4 meets 0.3 points with nothing kept") {
        const auto r = run("int4", "int4.onnx", {"--tolerable-drop", "0.003"});
        REQUIRE_MESSAGE(r.code == 0, r.err);
        const auto s = last_record(t / "l.jsonl")["recipe"]["search_result"];
        MESSAGE("int4 search: " << s.dump());
        CHECK(s["met"].get<bool>());
        CHECK(s["kept"].empty());
        CHECK(s["trials"].size() == 1);
    }
    SUBCASE("bad arguments are refused before the ledger changes") {
        auto r = run("int4", "x.onnx", {"--tolerable-drop", "2"});
        CHECK(r.code == 1);
        CHECK(r.err.find("tolerable_drop (--tolerable-drop) 2 must") != std::string::npos);
        r = run("int4", "x.onnx", {"--relative-drop"});
        CHECK(r.code == 1);
        CHECK(r.err.find("(--relative-drop) needs tolerable_drop") != std::string::npos);
        r = run("sparse90-ft", "x.onnx", {"--tolerable-drop", "0.01"});
        CHECK(r.code == 1);
        CHECK(r.err.find("finetune") != std::string::npos);
        CHECK_FALSE(std::filesystem::exists(t.path / "l.jsonl"));
    }
}
