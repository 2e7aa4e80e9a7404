#include "hone/ledger/cyclonedx.hpp"

#include "evidence.hpp"
#include "hone/core/error.hpp"
#include "hone/core/version.hpp"
#include "hone/validate/comparison_json.hpp"
#include "rules.hpp"

#include <fmt/format.h>
#include <set>

namespace hone {

using ledger_detail::json;

namespace {

// Reads a record's JSON members; errors name the record and the field.
struct fields {
    std::string where; // "CycloneDX export of ledger 'L' record N"

    [[noreturn]] void bad(const std::string& field, const char* what) const {
        fail(status::format_error, fmt::format("{}: field '{}' {}", where, field, what));
    }
    const json* optional_member(const json& j, const char* key, const std::string& path) const {
        if (j.is_null()) return nullptr;
        if (!j.is_object()) bad(path, "is not an object");
        return j.contains(key) ? &j[key] : nullptr;
    }
    std::optional<std::string> text(const json& j, const char* key, const std::string& path) const {
        const json* v = optional_member(j, key, path);
        if (!v) return std::nullopt;
        if (!v->is_string()) bad(path + "." + key, "is not a string");
        return v->get<std::string>();
    }
    const json& number(const json& j, const char* key, const std::string& path) const {
        if (!j.is_object() || !j.contains(key)) bad(path + key, "is missing");
        if (!j[key].is_number()) bad(path + key, "is not a number");
        return j[key];
    }
    const json& pair(const json& j, const char* key, const std::string& path) const {
        if (!j.is_object() || !j.contains(key)) bad(path + key, "is missing");
        const json& v = j[key];
        if (!v.is_array() || v.size() != 2 || !v[0].is_number() || !v[1].is_number())
            bad(path + key, "is not a [low, high] pair");
        return v;
    }
};

json property(std::string name, std::string value) {
    return {{"name", std::move(name)}, {"value", std::move(value)}};
}

json sha256_of(const std::string& hex) {
    return json::array({{{"alg", "SHA-256"}, {"content", hex}}});
}

/// One performanceMetrics entry; values as the ledger stores the numbers.
json metric(const std::string& type, const json& value, const std::string& slice = {},
            const json* interval = nullptr) {
    json m = {{"type", type}, {"value", value.dump()}};
    if (!slice.empty()) m["slice"] = slice;
    if (interval)
        m["confidenceInterval"] = {{"lowerBound", (*interval)[0].dump()},
                                   {"upperBound", (*interval)[1].dump()}};
    return m;
}

json performance_metrics(const json& m, const fields& f) {
    json out = json::array();
    // accuracy, baseline.samples, slices and the types of candidate.agreement and model_bytes
    // were checked by comparison_from_metrics_json.
    const json& acc = m["accuracy"];
    out.push_back(metric("top-1 accuracy", acc["candidate"]));
    out.push_back(metric("baseline top-1 accuracy", acc["baseline"]));
    const json& delta = acc["delta_interval"];
    out.push_back(metric("top-1 accuracy change",
                         json(acc["candidate"].get<double>() - acc["baseline"].get<double>()), {},
                         &delta));
    if (acc.contains("mcnemar_p")) out.push_back(metric("McNemar p-value", acc["mcnemar_p"]));
    out.push_back(metric("samples", m["baseline"]["samples"]));
    const json& cand = m["candidate"];
    if (!cand.is_object()) f.bad("metrics.candidate", "is not an object");
    if (cand.contains("agreement")) out.push_back(metric("top-1 agreement", cand["agreement"]));
    // Every other figure the validator recorded for the candidate, under its own name.
    static const std::set<std::string> named = {"accuracy", "agreement", "samples", "model_bytes"};
    for (const auto& [key, value] : cand.items())
        if (value.is_number() && !named.count(key)) out.push_back(metric(key, value));
    if (cand.contains("model_bytes")) {
        out.push_back(metric("model bytes", cand["model_bytes"]));
        const json& base = m["baseline"];
        if (base.contains("model_bytes") && base["model_bytes"].get<double>() > 0)
            out.push_back(metric("model size ratio", json(cand["model_bytes"].get<double>() /
                                                          base["model_bytes"].get<double>())));
    }
    if (m.contains("latency")) {
        if (!m["latency"].is_array()) f.bad("metrics.latency", "is not an array");
        for (std::size_t i = 0; i < m["latency"].size(); ++i) {
            const json& l = m["latency"][i];
            const std::string path = fmt::format("metrics.latency[{}].", i);
            const json& batch = f.number(l, "batch", path);
            if (!batch.is_number_unsigned()) f.bad(path + "batch", "is not a batch size");
            const std::string slice = fmt::format("batch {}", batch.get<std::uint64_t>());
            const json& interval = f.pair(l, "paired_ratio_interval", path);
            out.push_back(
                metric("latency ratio", f.number(l, "paired_ratio", path), slice, &interval));
            for (const char* side : {"candidate_ms", "baseline_ms"}) {
                if (!l.contains(side)) continue;
                const json& p50 = f.number(l[side], "p50", path + side + ".");
                out.push_back(metric(side[0] == 'c' ? "latency p50 ms" : "baseline latency p50 ms",
                                     p50, slice));
            }
        }
    }
    if (m.contains("language_model")) {
        // Checked by comparison_from_metrics_json: the overall perplexity change, mean KL and
        // flip rate ({value, low, high}) and each slice's name and perplexity change.
        const json& lm = m["language_model"];
        const auto estimate = [&](const char* type, const json& e, const std::string& slice) {
            const json bounds = {e["low"], e["high"]};
            out.push_back(metric(type, e["value"], slice, &bounds));
        };
        const json& all = lm["overall"];
        estimate("perplexity change", all["perplexity_change"], {});
        estimate("mean KL to baseline (nats/token)", all["mean_kl"], {});
        out.push_back(metric("flip rate", all["flip_rate"]["value"]));
        for (const auto& s : lm["slices"])
            estimate("perplexity change", s["perplexity_change"], s["name"].get<std::string>());
    }
    if (m.contains("slices"))
        for (const auto& s : m["slices"]) { // checked by comparison_from_metrics_json
            const std::string name = s["name"].get<std::string>();
            out.push_back(metric("top-1 accuracy", s["candidate_accuracy"], name));
            out.push_back(metric("baseline top-1 accuracy", s["baseline_accuracy"], name));
            out.push_back(metric(
                "top-1 accuracy change",
                json(s["candidate_accuracy"].get<double>() - s["baseline_accuracy"].get<double>()),
                name, &s["delta_interval"]));
            out.push_back(metric("samples", s["samples"], name));
        }
    return out;
}

json model_card(const ledger_entry& e, const std::vector<json>& dataset_refs, const fields& f) {
    const change_record& r = e.record;
    const json metrics = json::parse(r.metrics);
    const json policy = json::parse(r.policy);
    const json decision = json::parse(r.decision);
    json card = {
        {"bom-ref", "model-card"},
        {"modelParameters", {{"task", "classification"}}},
        {"quantitativeAnalysis", {{"performanceMetrics", performance_metrics(metrics, f)}}}};
    if (!dataset_refs.empty()) card["modelParameters"]["datasets"] = dataset_refs;
    json tradeoffs = json::array();
    if (const json* reasons = f.optional_member(decision, "reasons", "decision")) {
        if (!reasons->is_array()) f.bad("decision.reasons", "is not an array");
        for (std::size_t i = 0; i < reasons->size(); ++i)
            if (auto text = f.text((*reasons)[i], "text", fmt::format("decision.reasons[{}]", i)))
                tradeoffs.push_back(*text);
    }
    if (!tradeoffs.empty()) card["considerations"] = {{"performanceTradeoffs", tradeoffs}};
    json props = json::array();
    if (auto tier = f.text(policy, "tier", "policy"))
        props.push_back(property("hone:policy.tier", *tier));
    if (auto verdict = f.text(decision, "verdict", "decision"))
        props.push_back(property("hone:decision.verdict", *verdict));
    if (const json* n = f.optional_member(decision, "approvals_required", "decision")) {
        if (!n->is_number_unsigned()) f.bad("decision.approvals_required", "is not a count");
        props.push_back(property("hone:decision.approvals_required", n->dump()));
    }
    if (!policy.is_null()) props.push_back(property("hone:policy", policy.dump()));
    if (!props.empty()) card["properties"] = std::move(props);
    return card;
}

json file_component(const char* type, const std::string& ref, const artifact_ref& a) {
    return {{"type", type},
            {"bom-ref", ref},
            {"name", a.path},
            {"hashes", sha256_of(a.sha256)},
            {"properties", json::array({property("hone:bytes", std::to_string(a.bytes))})}};
}

} // namespace

std::string cyclonedx_serial_number(std::string_view record_line) {
    std::string h = sha256_hex(record_line).substr(0, 32);
    h[12] = '8';                                                 // version 8
    h[16] = "89ab"[std::stoi(h.substr(16, 1), nullptr, 16) & 3]; // variant 10xx
    return fmt::format("urn:uuid:{}-{}-{}-{}-{}", h.substr(0, 8), h.substr(8, 4), h.substr(12, 4),
                       h.substr(16, 4), h.substr(20, 12));
}

std::string cyclonedx_bom(const std::vector<ledger_entry>& entries, std::uint64_t seq,
                          std::string_view ledger_name) {
    const ledger_entry& e = ledger_detail::optimize_record(entries, seq, "CycloneDX export");
    const change_record& r = e.record;
    const fields f{fmt::format("CycloneDX export of ledger '{}' record {}", ledger_name, seq)};
    if (r.artifacts.empty())
        fail(status::invalid_argument, fmt::format("{}: the record lists no artifact", f.where));
    // Malformed figures are format errors naming the field (the readers the re-derivation uses);
    // a stored decision that does not follow from them is refused.
    comparison_from_metrics_json(r.metrics, f.where + ": metrics");
    policy::from_json(r.policy, f.where + ": policy");
    if (const std::string problem = ledger_detail::rederive_problem(e); !problem.empty())
        fail(status::verification_failed,
             fmt::format("{}: {}; nothing exported", f.where, problem));
    try {
        json components = json::array();
        json depends_on = json::array();
        if (const ledger_entry* base = ledger_detail::baseline_of(entries, e))
            for (std::size_t i = 0; i < base->record.artifacts.size(); ++i) {
                const std::string ref = fmt::format("base-model-{}", i + 1);
                json c = file_component("machine-learning-model", ref, base->record.artifacts[i]);
                c["properties"].push_back(property("hone:ledger.seq", std::to_string(base->seq)));
                components.push_back(std::move(c));
                depends_on.push_back(ref);
            }
        std::vector<json> dataset_refs;
        for (const auto& set : ledger_detail::data_sets_of(json::parse(r.data))) {
            const std::string ref = "dataset-" + set.role;
            json props = json::array({property("hone:role", set.role)});
            if (set.samples)
                props.push_back(property("hone:samples", std::to_string(*set.samples)));
            if (set.seed) props.push_back(property("hone:seed", std::to_string(*set.seed)));
            json files = json::array();
            for (std::size_t i = 0; i < set.files.size(); ++i)
                files.push_back(
                    file_component("data", fmt::format("{}-file-{}", ref, i + 1), set.files[i]));
            const std::string name = set.spec.empty() ? set.role : set.spec;
            components.push_back(
                {{"type", "data"},
                 {"bom-ref", ref},
                 {"name", name},
                 {"data", json::array({{{"type", "dataset"},
                                        {"name", name},
                                        {"contents", {{"properties", std::move(props)}}}}})},
                 {"components", std::move(files)}});
            dataset_refs.push_back({{"ref", ref}});
            depends_on.push_back(ref);
        }
        json candidate =
            file_component("machine-learning-model", "candidate-model", r.artifacts[0]);
        candidate["modelCard"] = model_card(e, dataset_refs, f);
        for (std::size_t i = 1; i < r.artifacts.size(); ++i)
            components.push_back(
                file_component("file", fmt::format("candidate-file-{}", i + 1), r.artifacts[i]));
        components.insert(components.begin(), std::move(candidate));
        json meta_props = json::array({property("hone:ledger", std::string(ledger_name)),
                                       property("hone:ledger.seq", std::to_string(e.seq)),
                                       property("hone:ledger.record_sha256", sha256_hex(e.line)),
                                       property("hone:actor", r.actor)});
        if (!e.signer.empty()) meta_props.push_back(property("hone:signer", e.signer));
        const json bom = {
            {"$schema", "http://cyclonedx.org/schema/bom-1.6.schema.json"},
            {"bomFormat", "CycloneDX"},
            {"specVersion", "1.6"},
            {"serialNumber", cyclonedx_serial_number(e.line)},
            {"version", 1},
            {"metadata",
             {{"timestamp", e.time},
              {"tools",
               {{"components", json::array({{{"type", "application"},
                                             {"name", "hone"},
                                             {"version", std::string(version().text)}}})}}},
              {"properties", std::move(meta_props)}}},
            {"components", std::move(components)},
            {"dependencies",
             json::array({{{"ref", "candidate-model"}, {"dependsOn", std::move(depends_on)}}})},
            {"formulation",
             json::array({{{"bom-ref", "formulation"},
                           {"properties",
                            json::array({property("hone:recipe", json::parse(r.recipe).dump()),
                                         property("hone:environment",
                                                  json::parse(r.environment).dump())})}}})}};
        return bom.dump(2) + "\n";
    } catch (const json::exception& err) {
        fail(status::format_error, fmt::format("{}: {}", f.where, err.what()));
    }
}

} // namespace hone
