// Mixed precision under a budget (src/pipeline/budget.hpp, recipe `budget`): the allocation
// against brute force, the recipe field, and `hone optimize --target-bpw` on the Fashion-MNIST
// CNN with its allocation in the ledger and the report.
#include "budget.hpp"
#include "cli_run.hpp"
#include <hone/pipeline/recipe.hpp>

#include "../model/fixture_path.hpp"

#include <hone/core/error.hpp>

#include <doctest/doctest.h>
#include <nlohmann/json.hpp>

#include <cmath>
#include <fstream>
#include <limits>

using namespace hone;
using namespace hone::pipeline;
using cli_test::hone_cli;
using cli_test::last_record;
using cli_test::temp_dir;
using json = nlohmann::json;

namespace {

// Every assignment tried: the least noise within the budget (nullopt when none fits).
std::optional<double> brute_force(const std::vector<layer_options>& layers, std::uint64_t budget) {
    std::optional<double> best;
    std::vector<std::size_t> pick(layers.size(), 0);
    while (true) {
        std::uint64_t bytes = 0;
        double noise = 0;
        for (std::size_t i = 0; i < layers.size(); ++i) {
            bytes += layers[i].options[pick[i]].bytes;
            noise += layers[i].options[pick[i]].noise;
        }
        if (bytes <= budget && (!best || noise < *best)) best = noise;
        std::size_t i = 0;
        while (i < layers.size() && ++pick[i] == layers[i].options.size())
            pick[i++] = 0;
        if (i == layers.size()) return best;
    }
}

} // namespace

TEST_CASE("allocate_precision: the least noise within the budget, as brute force finds it") {
    std::uint32_t seed = 11;
    const auto next = [&seed](std::uint32_t n) {
        seed = seed * 1664525u + 1013904223u;
        return (seed >> 8) % n;
    };
    int feasible = 0;
    for (int trial = 0; trial < 300; ++trial) {
        CAPTURE(trial);
        std::vector<layer_options> layers(1 + next(6));
        for (std::size_t i = 0; i < layers.size(); ++i) {
            layers[i].layer = "l" + std::to_string(i);
            const auto n = 1 + next(4);
            for (std::uint32_t o = 0; o < n; ++o)
                layers[i].options.push_back(
                    {int(2 + o), double(next(1000)) / 100.0, std::uint64_t(1 + next(50))});
        }
        const std::uint64_t budget = next(40 * std::uint32_t(layers.size()));
        const auto want = brute_force(layers, budget);
        const auto got = allocate_precision(layers, budget);
        CHECK(got.exact);
        REQUIRE(got.choice.size() == layers.size());
        std::uint64_t bytes = 0;
        double noise = 0;
        for (std::size_t i = 0; i < layers.size(); ++i) {
            bytes += layers[i].options[got.choice[i]].bytes;
            noise += layers[i].options[got.choice[i]].noise;
        }
        CHECK(bytes == got.bytes);
        CHECK(noise == doctest::Approx(got.noise));
        CHECK(got.feasible == want.has_value());
        if (want) {
            ++feasible;
            CHECK(bytes <= budget);
            CHECK(got.noise == doctest::Approx(*want));
        } else {
            // Nothing fits: the smallest choice of every layer.
            for (std::size_t i = 0; i < layers.size(); ++i)
                for (const auto& o : layers[i].options)
                    CHECK(o.bytes >= layers[i].options[got.choice[i]].bytes);
        }
    }
    CHECK(feasible > 100); // the instances exercise both sides
}

TEST_CASE("allocate_precision: a thinned front still fits the budget; errors name the layer") {
    std::vector<layer_options> layers;
    for (int i = 0; i < 12; ++i)
        layers.push_back({"l" + std::to_string(i),
                          {{32, 0.0, 400}, {8, 0.01 * (i + 1), 100}, {4, 0.2 * (i + 1), 50}}});
    const auto exact = allocate_precision(layers, 2000);
    const auto thin = allocate_precision(layers, 2000, 4);
    CHECK(exact.exact);
    CHECK_FALSE(thin.exact);
    CHECK(thin.feasible);
    CHECK(thin.bytes <= 2000);
    CHECK(thin.noise >= exact.noise - 1e-12);
    layers.push_back({"empty", {}});
    CHECK_THROWS_WITH_AS(allocate_precision(layers, 10), doctest::Contains("layer 'empty'"),
                         hone::error);
    const auto j = allocation_json({{"a", {{32, 0, 8}, {4, 0.5, 1}}}},
                                   allocate_precision({{"a", {{32, 0, 8}, {4, 0.5, 1}}}}, 4), 4);
    CHECK(j["layers"][0]["bits"] == 4);
    CHECK(j["budget_bytes"] == 4);
    CHECK(j["feasible"] == true);
}

TEST_CASE("recipe budget: parsed, normalised, written back, bad fields named") {
    const auto r = parse_recipe(R"({"steps": [{"kind": "quantize", "bits": 4}],
        "budget": {"bits_per_weight": 4.5, "choices": [4, 8, 4, 3], "ranking_samples": 200}})",
                                "b.json");
    REQUIRE(r.budget);
    CHECK(r.budget->bits_per_weight == 4.5);
    CHECK(r.budget->choices == std::vector<int>{8, 4, 3});
    CHECK(r.budget->ranking_samples == 200);
    CHECK(parse_recipe(r.to_json().dump(), "again").budget->to_json() == r.budget->to_json());
    const auto throws = [](const std::string& text, const char* what) {
        CHECK_THROWS_WITH_AS(parse_recipe(text, "bad.json"), doctest::Contains(what), hone::error);
    };
    const auto with = [](const char* budget) {
        return std::string(R"({"steps": [{"kind": "quantize"}], "budget": )") + budget + "}";
    };
    throws(with(R"({"bits_per_weight": 0})"), "budget.bits_per_weight");
    throws(with(R"({"bits_per_weight": 33})"), "budget.bits_per_weight");
    throws(with(R"({"choices": []})"), "budget.choices");
    throws(with(R"({"choices": [16]})"), "budget.choices: 16 bits");
    throws(with(R"({"ranking_samples": 0})"), "budget.ranking_samples");
    throws(with(R"({"target": 4})"), "budget: unknown field 'target'");
    throws(with(R"({"file_bytes": 0})"), "budget.file_bytes 0");
    throws(with(R"({"palettes": [1]})"), "budget.palettes: 1 entries");
    throws(with(R"({"palettes": [512]})"), "budget.palettes: 512 entries");
    CHECK(parse_recipe(with(R"({"palettes": [16, 256, 16]})"), "p.json").budget->palettes ==
          std::vector<int>{256, 16});
    throws(with(R"({"file_bytes": 1000, "bits_per_weight": 4})"), "are alternatives");
    const auto by_file = parse_recipe(with(R"({"file_bytes": 50000})"), "f.json");
    REQUIRE(by_file.budget);
    CHECK(by_file.budget->file_bytes == 50000u);
    CHECK_FALSE(by_file.budget->to_json().contains("bits_per_weight"));
    CHECK(parse_recipe(by_file.to_json().dump(), "again").budget->file_bytes == 50000u);
    throws(with("4"), "budget must be an object");
    throws(R"({"steps": [{"kind": "prune"}], "budget": {}})", "needs a quantize step");
    throws(R"({"steps": [{"kind": "quantize"}], "budget": {}, "search": {}})",
           "search and budget are alternatives");
}

TEST_CASE("hone optimize --target-bpw: the CNN's layers under a budget, in the ledger and report") {
    temp_dir t("budget");
    std::ofstream(t / "p.json") << cli_test::permissive_policy;
    std::ofstream(t / "q.json") << R"({"name": "q",
        "steps": [{"kind": "quantize", "bits": 4, "granularity": "per_channel"}]})";
    const auto cnn = hone::test::fashion_fixture("cnn.onnx").string();
    const auto run = [&](const std::string& recipe, const std::string& out,
                         std::vector<std::string> extra) {
        std::vector<std::string> args{"-q",
                                      "optimize",
                                      cnn,
                                      "--recipe",
                                      recipe,
                                      "--calib",
                                      "fashion-mnist:train:512",
                                      "--eval",
                                      "fashion-mnist:test:1000",
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
    SUBCASE("5 bits per weight: within budget, the choices recorded as overrides") {
        const auto r = run(t / "q.json", "b5.onnx", {"--target-bpw", "5", "--report", t / "rep"});
        REQUIRE_MESSAGE(r.code == 0, r.err);
        const auto rec = last_record(t / "l.jsonl")["recipe"];
        const auto& b = rec["budget_result"];
        MESSAGE("budget 5 bpw: " << b.dump());
        CHECK(b["params"]["bits_per_weight"] == 5.0);
        CHECK_FALSE(rec.contains("budget")); // settled into the overrides
        CHECK(b["feasible"].get<bool>());
        CHECK(b["bits_per_weight"].get<double>() <= 5.0);
        CHECK(b["bytes"].get<std::uint64_t>() <= b["budget_bytes"].get<std::uint64_t>());
        REQUIRE(b["layers"].size() == 4);
        std::uint64_t weights = 0, bytes = 0;
        bool mixed = false;
        for (const auto& l : b["layers"]) {
            const auto bits = l["bits"].get<int>();
            REQUIRE(l["options"].size() == 3); // f32, 8, 4
            CHECK(l["options"][0]["bits"] == 32);
            CHECK(l["options"][0]["noise"] == 0.0);
            weights += l["options"][0]["bytes"].get<std::uint64_t>() / 4;
            for (const auto& o : l["options"])
                if (o["bits"] == bits) bytes += o["bytes"].get<std::uint64_t>();
            mixed |= bits != b["layers"][0]["bits"].get<int>();
            // 4 bits is noisier than 8 on every layer.
            CHECK(l["options"][2]["noise"].get<double>() > l["options"][1]["noise"].get<double>());
            // The override that makes the choice.
            const auto& ov = rec["overrides"][l["layer"].get<std::string>()];
            if (bits == 32)
                CHECK(ov["exclude"] == true);
            else
                CHECK(ov["quantize"]["bits"] == bits);
        }
        CHECK(bytes == b["bytes"].get<std::uint64_t>());
        CHECK(b["budget_bytes"].get<std::uint64_t>() == std::uint64_t(5.0 * double(weights) / 8));
        CHECK(mixed); // 5 bits per weight: neither all 4-bit-and-up nor one precision
        std::ifstream rj(t.path / "rep" / "report.json"), rh(t.path / "rep" / "report.html");
        CHECK(json::parse(rj)["budget"] == b);
        const std::string html((std::istreambuf_iterator<char>(rh)), {});
        CHECK(html.find("<h2>Precision under a budget</h2>") != std::string::npos);
        // The recorded recipe rebuilds the same file without measuring again.
        json recipe_only;
        for (const char* k : {"name", "execution", "calibration", "layers", "steps", "overrides"})
            recipe_only[k] = rec[k];
        std::ofstream(t / "again.json") << recipe_only.dump();
        const auto again = run(t / "again.json", "again.onnx", {});
        REQUIRE_MESSAGE(again.code == 0, again.err);
        CHECK_FALSE(last_record(t / "l.jsonl")["recipe"].contains("budget_result"));
        CHECK(std::filesystem::file_size(t.path / "again.onnx") ==
              std::filesystem::file_size(t.path / "b5.onnx"));
    }
    SUBCASE("palettes among the choices: fc1 can only fit 5 bits per weight as a palette") {
        // Choices: 8-bit, a 16-entry palette (4-bit indices + codebook), f32. fc1 holds 97% of
        // the weights, so at 5 bits per weight it must take the palette.
        std::ofstream(t / "pal.json") << R"({"name": "pal",
            "steps": [{"kind": "quantize", "bits": 8, "granularity": "per_channel"}],
            "budget": {"bits_per_weight": 5, "choices": [8], "palettes": [16]}})";
        const auto r = run(t / "pal.json", "pal.onnx", {});
        REQUIRE_MESSAGE(r.code == 0, r.err);
        const auto rec = last_record(t / "l.jsonl")["recipe"];
        const auto& b = rec["budget_result"];
        MESSAGE("budget with palettes: " << b.dump());
        CHECK(b["feasible"].get<bool>());
        CHECK(b["params"]["palettes"] == json::array({16}));
        for (const auto& l : b["layers"]) {
            REQUIRE(l["options"].size() == 3); // f32, 8-bit, palette
            CHECK(l["options"][2]["clusters"] == 16);
            CHECK(l["options"][2]["bits"] == 4); // index bits
            const auto& ov = rec["overrides"][l["layer"].get<std::string>()];
            if (l.contains("clusters")) {
                // The layer's steps replaced by one cluster step.
                REQUIRE(ov["steps"].size() == 1);
                CHECK(ov["steps"][0]["kind"] == "cluster");
                CHECK(ov["steps"][0]["clusters"] == 16);
            }
        }
        const auto fc1 = std::find_if(b["layers"].begin(), b["layers"].end(),
                                      [](const json& l) { return l["layer"] == "/fc1/Gemm"; });
        REQUIRE(fc1 != b["layers"].end());
        CHECK((*fc1)["clusters"] == 16);
        // The recorded recipe rebuilds the same file.
        json recipe_only;
        for (const char* k : {"name", "execution", "calibration", "layers", "steps", "overrides"})
            recipe_only[k] = rec[k];
        std::ofstream(t / "pal_again.json") << recipe_only.dump();
        const auto again = run(t / "pal_again.json", "pal_again.onnx", {});
        REQUIRE_MESSAGE(again.code == 0, again.err);
        CHECK(std::filesystem::file_size(t.path / "pal_again.onnx") ==
              std::filesystem::file_size(t.path / "pal.onnx"));
    }
    SUBCASE("a file target: the file written is within it, the choices priced as shipped") {
        // The f32 CNN is 210,938 bytes; all-4-bit about 30 KB, all-8-bit about 56 KB.
        const auto r = run(t / "q.json", "f40.onnx", {"--target-bytes", "40000"});
        REQUIRE_MESSAGE(r.code == 0, r.err);
        const auto b = last_record(t / "l.jsonl")["recipe"]["budget_result"];
        MESSAGE("budget 40,000 bytes: " << b.dump());
        CHECK(b["params"]["file_bytes"] == 40000);
        CHECK_FALSE(b["params"].contains("bits_per_weight"));
        CHECK(b["feasible"].get<bool>());
        const auto size = std::filesystem::file_size(t.path / "f40.onnx");
        CHECK(b["file_bytes"].get<std::uint64_t>() == size);
        CHECK(size <= 40000);
        std::set<int> bits;
        for (const auto& l : b["layers"])
            bits.insert(l["bits"].get<int>());
        CHECK(bits.size() > 1); // between all-4-bit and all-8-bit: mixed
        // A target below the smallest choices takes them and says so. In the file, the smallest
        // choice of a tiny layer can be f32: conv1's 72 weights take 288 bytes in f32, more
        // once quantized (scales, a DequantizeLinear node and its names).
        const auto small = run(t / "q.json", "f1.onnx", {"--target-bytes", "1000"});
        REQUIRE_MESSAGE(small.code == 0, small.err);
        const auto bs = last_record(t / "l.jsonl")["recipe"]["budget_result"];
        CHECK_FALSE(bs["feasible"].get<bool>());
        for (const auto& l : bs["layers"]) {
            std::uint64_t least = std::numeric_limits<std::uint64_t>::max(), chosen = 0;
            for (const auto& o : l["options"]) {
                least = std::min(least, o["bytes"].get<std::uint64_t>());
                if (o["bits"] == l["bits"]) chosen = o["bytes"].get<std::uint64_t>();
            }
            CHECK(chosen == least);
        }
    }
    SUBCASE("a budget below the smallest choices takes them and says so") {
        const auto r = run(t / "q.json", "b1.onnx", {"--target-bpw", "1"});
        REQUIRE_MESSAGE(r.code == 0, r.err);
        const auto b = last_record(t / "l.jsonl")["recipe"]["budget_result"];
        CHECK_FALSE(b["feasible"].get<bool>());
        for (const auto& l : b["layers"])
            CHECK(l["bits"] == 4);
    }
    SUBCASE("bad arguments are refused before the ledger changes") {
        auto r = run("int4", "x.onnx", {"--target-bpw", "0"});
        CHECK(r.code == 1);
        CHECK(r.err.find("(--target-bpw) 0 must lie in (0, 32]") != std::string::npos);
        r = run("int4", "x.onnx", {"--target-bpw", "4", "--tolerable-drop", "0.01"});
        CHECK(r.code == 1);
        CHECK(r.err.find("alternatives") != std::string::npos);
        r = run("int4", "x.onnx", {"--target-bpw", "4", "--target-bytes", "30000"});
        CHECK(r.code == 1);
        CHECK(r.err.find("alternatives") != std::string::npos);
        r = run("int4", "x.onnx", {"--target-bytes", "0"});
        CHECK(r.code == 1);
        CHECK(r.err.find("(--target-bytes) must be at least 1") != std::string::npos);
        r = run("sparse50", "x.onnx", {"--target-bpw", "4"});
        CHECK(r.code == 1);
        CHECK(r.err.find("no quantize step") != std::string::npos);
        CHECK_FALSE(std::filesystem::exists(t.path / "l.jsonl"));
    }
}
