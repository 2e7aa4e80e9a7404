// The CycloneDX ML-BOM of an optimize record: every field compared with the record it came
// from (hand-known fixture values), the serial number with a hand-computed one, determinism, and
// malformed records refused with errors naming the record and the field.
// (tests/cli/cyclonedx_test.cmake validates real BOMs against the published JSON schema.)
#include "hone/core/atomic_file.hpp"
#include "hone/core/error.hpp"
#include "hone/core/version.hpp"
#include "hone/ledger/cyclonedx.hpp"
#include "optimize_fixture.hpp"

#include <doctest/doctest.h>
#include <filesystem>
#include <map>
#include <nlohmann/json.hpp>
#include <unistd.h>

namespace fs = std::filesystem;
using json = nlohmann::json;

namespace {

struct scratch_dir {
    fs::path path;
    scratch_dir()
        : path(fs::temp_directory_path() / ("hone-cyclonedx-" + std::to_string(::getpid()))) {
        fs::remove_all(path);
        fs::create_directories(path);
    }
    ~scratch_dir() { fs::remove_all(path); }
};

/// baseline (record 1: base.onnx) → optimize (record 2: model.onnx, calibration and evaluation
/// data, two slices, two latency points) → approve (record 3).
struct made {
    scratch_dir dir;
    hone::signing_key key = hone::signing_key::generate();
    hone::ledger ledger{dir.path / "l.jsonl"};
    hone::artifact_ref base, model, calib, eval;

    explicit made(const std::string& metrics = {}, const std::string& decision = {}) {
        const auto file = [&](const char* name, const char* bytes) {
            hone::write_file_atomic(dir.path / name, bytes);
            return hone::hash_file(dir.path / name);
        };
        base = file("base.onnx", "f32 model");
        model = file("model.onnx", "int8 model");
        calib = file("calib.idx", "calibration images");
        eval = file("eval.idx", "evaluation images");
        ledger.set_clock([] { return std::string("2026-12-05T20:00:00Z"); });
        hone::change_record b;
        b.action = hone::ledger_action::baseline;
        b.actor = "ci";
        b.artifacts = {base};
        ledger.append(b, &key);
        hone::change_record r = fixture::optimize(model, "needs_signoff", 1);
        r.note = "baseline record 1";
        r.data =
            json{{"calibration",
                  {{"files", {{{"path", calib.path}, {"sha256", calib.sha256}, {"bytes", 18}}}},
                   {"samples", 256},
                   {"seed", 7},
                   {"spec", "idx:calib"}}},
                 {"evaluation",
                  {{"files", {{{"path", eval.path}, {"sha256", eval.sha256}, {"bytes", 17}}}},
                   {"samples", 1000},
                   {"spec", "idx:eval"}}}}
                .dump();
        json m = json::parse(r.metrics);
        m["candidate"]["model_bytes"] = 250;
        m["candidate"]["mean_kl"] = 0.0025;
        m["baseline"]["model_bytes"] = 1000;
        m["slices"] = {{{"name", "class 0"},
                        {"samples", 100},
                        {"baseline_accuracy", 0.95},
                        {"candidate_accuracy", 0.94},
                        {"delta_interval", {-0.04, 0.02}}}};
        m["latency"] = {{{"batch", 1},
                         {"baseline_ms", {{"p50", 0.5}}},
                         {"candidate_ms", {{"p50", 0.25}}},
                         {"paired_ratio", 0.5},
                         {"paired_ratio_interval", {0.45, 0.55}}},
                        {{"batch", 64},
                         {"baseline_ms", {{"p50", 8.0}}},
                         {"candidate_ms", {{"p50", 6.0}}},
                         {"paired_ratio", 0.75},
                         {"paired_ratio_interval", {0.7, 0.8}}}};
        r.metrics = metrics.empty() ? m.dump() : metrics;
        r.decision = !decision.empty() ? decision
                                       : hone::decide(hone::policy::from_json(r.policy),
                                                      hone::comparison_from_metrics_json(r.metrics))
                                             .to_json();
        ledger.append(r, &key);
        hone::change_record a;
        a.action = hone::ledger_action::approve;
        a.actor = "alice";
        a.subject = 2;
        const auto alice = hone::signing_key::generate();
        ledger.append(a, &alice);
    }
};

/// performanceMetrics keyed by (type, slice).
std::map<std::pair<std::string, std::string>, json> metrics_of(const json& bom) {
    std::map<std::pair<std::string, std::string>, json> out;
    for (const auto& m :
         bom["components"][0]["modelCard"]["quantitativeAnalysis"]["performanceMetrics"])
        out[{m["type"].get<std::string>(), m.value("slice", std::string())}] = m;
    return out;
}

std::map<std::string, std::string> properties_of(const json& list) {
    std::map<std::string, std::string> out;
    for (const auto& p : list)
        out[p["name"].get<std::string>()] = p["value"].get<std::string>();
    return out;
}

std::string error_of(const std::vector<hone::ledger_entry>& entries, std::uint64_t seq,
                     hone::status* code = nullptr) {
    try {
        hone::cyclonedx_bom(entries, seq, "l.jsonl");
    } catch (const hone::error& e) {
        if (code) *code = e.code();
        return e.what();
    }
    return "no error";
}

} // namespace

TEST_CASE("the serial number is a version-8 UUID from the record's SHA-256") {
    // SHA-256("abc") = ba7816bf 8f01cfea 414140de 5dae2223 b00361a3 96177a9c b410ff61 f20015ad:
    // nibble 12 (c) becomes the version 8, nibble 16 (4 = 0100) becomes 10|00 = 8.
    CHECK(hone::cyclonedx_serial_number("abc") == "urn:uuid:ba7816bf-8f01-8fea-8141-40de5dae2223");
}

TEST_CASE("the BOM carries the record: models, data, metrics with intervals, decision, recipe") {
    made m;
    const auto entries = m.ledger.read();
    const std::string text = hone::cyclonedx_bom(entries, 2, "l.jsonl");
    CHECK(text == hone::cyclonedx_bom(entries, 2, "l.jsonl")); // same record, same bytes
    const json bom = json::parse(text);
    CHECK(bom["bomFormat"] == "CycloneDX");
    CHECK(bom["specVersion"] == "1.6");
    CHECK(bom["version"] == 1);
    CHECK(bom["serialNumber"] == hone::cyclonedx_serial_number(entries[1].line));
    CHECK(bom["metadata"]["timestamp"] == "2026-12-05T20:00:00Z");
    const json tool = bom["metadata"]["tools"]["components"][0];
    CHECK(tool["name"] == "hone");
    CHECK(tool["version"] == std::string(hone::version().text));
    const auto meta = properties_of(bom["metadata"]["properties"]);
    CHECK(meta.at("hone:ledger.seq") == "2");
    CHECK(meta.at("hone:ledger.record_sha256") == hone::sha256_hex(entries[1].line));
    CHECK(meta.at("hone:signer") == m.key.public_key_hex());

    const json& comps = bom["components"];
    REQUIRE(comps.size() == 4); // candidate, base model, calibration, evaluation
    CHECK(comps[0]["type"] == "machine-learning-model");
    CHECK(comps[0]["name"] == m.model.path);
    CHECK(comps[0]["hashes"] ==
          json::parse(R"([{"alg":"SHA-256","content":")" + m.model.sha256 + "\"}]"));
    CHECK(comps[1]["type"] == "machine-learning-model");
    CHECK(comps[1]["hashes"][0]["content"] == m.base.sha256);
    CHECK(comps[2]["type"] == "data");
    CHECK(comps[2]["name"] == "idx:calib");
    CHECK(comps[2]["components"][0]["hashes"][0]["content"] == m.calib.sha256);
    CHECK(properties_of(comps[2]["data"][0]["contents"]["properties"]).at("hone:samples") == "256");
    CHECK(comps[3]["components"][0]["hashes"][0]["content"] == m.eval.sha256);
    CHECK(bom["dependencies"][0]["dependsOn"] ==
          json::array({comps[1]["bom-ref"], comps[2]["bom-ref"], comps[3]["bom-ref"]}));

    const json& card = comps[0]["modelCard"];
    CHECK(card["modelParameters"]["datasets"] ==
          json::array({{{"ref", comps[2]["bom-ref"]}}, {{"ref", comps[3]["bom-ref"]}}}));
    const auto pm = metrics_of(bom);
    CHECK(pm.at({"top-1 accuracy", ""})["value"] == "0.897");
    CHECK(pm.at({"baseline top-1 accuracy", ""})["value"] == "0.9");
    const json& change = pm.at({"top-1 accuracy change", ""});
    CHECK(std::stod(change["value"].get<std::string>()) == doctest::Approx(-0.003));
    CHECK(change["confidenceInterval"] == json{{"lowerBound", "-0.012"}, {"upperBound", "0.002"}});
    CHECK(pm.at({"McNemar p-value", ""})["value"] == "0.3");
    CHECK(pm.at({"top-1 agreement", ""})["value"] == "0.99");
    CHECK(pm.at({"samples", ""})["value"] == "1000");
    CHECK(pm.at({"mean_kl", ""})["value"] == "0.0025");
    CHECK(pm.at({"model bytes", ""})["value"] == "250");
    CHECK(pm.at({"model size ratio", ""})["value"] == "0.25");
    CHECK(pm.at({"latency ratio", "batch 64"})["value"] == "0.75");
    CHECK(pm.at({"latency ratio", "batch 64"})["confidenceInterval"] ==
          json{{"lowerBound", "0.7"}, {"upperBound", "0.8"}});
    CHECK(pm.at({"latency p50 ms", "batch 1"})["value"] == "0.25");
    CHECK(pm.at({"baseline latency p50 ms", "batch 64"})["value"] == "8.0");
    CHECK(pm.at({"top-1 accuracy", "class 0"})["value"] == "0.94");
    CHECK(pm.at({"top-1 accuracy change", "class 0"})["confidenceInterval"] ==
          json{{"lowerBound", "-0.04"}, {"upperBound", "0.02"}});
    CHECK(pm.at({"samples", "class 0"})["value"] == "100");

    const auto props = properties_of(card["properties"]);
    CHECK(props.at("hone:policy.tier") == "low");
    CHECK(props.at("hone:decision.verdict") == "needs_signoff");
    CHECK(props.at("hone:decision.approvals_required") == "1");
    CHECK(json::parse(props.at("hone:policy")) == json::parse(entries[1].record.policy));
    const json reasons = json::parse(entries[1].record.decision)["reasons"];
    REQUIRE(card["considerations"]["performanceTradeoffs"].size() == reasons.size());
    CHECK(card["considerations"]["performanceTradeoffs"][0] == reasons[0]["text"]);
    const auto formulation = properties_of(bom["formulation"][0]["properties"]);
    CHECK(json::parse(formulation.at("hone:recipe")) ==
          json::parse(R"({"name":"int8","steps":[{"quantize":{"bits":8}}]})"));
}

TEST_CASE("malformed records are refused naming the record and the field") {
    hone::status code{};
    {
        made m;
        const auto entries = m.ledger.read();
        CHECK(error_of(entries, 1, &code).find("record 1 is not an optimize record") !=
              std::string::npos);
        CHECK(code == hone::status::invalid_argument);
        CHECK(error_of(entries, 9).find("record 9 is not an optimize record") != std::string::npos);
    }
    {
        json metrics = json::parse(fixture::metrics(0.897));
        metrics["accuracy"].erase("candidate");
        made m(metrics.dump(), R"({"verdict":"needs_signoff","approvals_required":1})");
        const std::string e = error_of(m.ledger.read(), 2, &code);
        CHECK(code == hone::status::format_error);
        CHECK(e.find("record 2") != std::string::npos);
        CHECK(e.find("'accuracy.candidate' is missing") != std::string::npos);
    }
    {
        json metrics = json::parse(fixture::metrics(0.897));
        // The first of two points lacks its ratio (the re-derivation reads only the last).
        const json good = {{"batch", 64},
                           {"baseline_ms", {{"p50", 8.0}}},
                           {"candidate_ms", {{"p50", 6.0}}},
                           {"paired_ratio", 0.75},
                           {"paired_ratio_interval", {0.7, 0.8}}};
        json bad = good;
        bad.erase("paired_ratio");
        metrics["latency"] = {bad, good};
        made m(metrics.dump());
        const std::string e = error_of(m.ledger.read(), 2, &code);
        CHECK(code == hone::status::format_error);
        CHECK(e.find("record 2") != std::string::npos);
        CHECK(e.find("field 'metrics.latency[0].paired_ratio' is missing") != std::string::npos);
    }
    {
        json metrics = json::parse(fixture::metrics(0.897));
        metrics["candidate"] = 3;
        made m(metrics.dump());
        const std::string e = error_of(m.ledger.read(), 2, &code);
        CHECK(code == hone::status::format_error);
        CHECK(e.find("'metrics.candidate' is not an object") != std::string::npos);
    }
    {
        // A stored verdict the metrics and policy do not give: the BOM would state a falsehood.
        made m({}, R"({"verdict":"approved"})");
        const std::string e = error_of(m.ledger.read(), 2, &code);
        CHECK(code == hone::status::verification_failed);
        CHECK(e.find("record 2") != std::string::npos);
        CHECK(e.find("disagrees") != std::string::npos);
    }
}
