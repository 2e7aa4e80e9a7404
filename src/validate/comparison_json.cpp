#include "hone/validate/comparison_json.hpp"

#include "hone/core/error.hpp"

#include <fmt/format.h>
#include <nlohmann/json.hpp>

namespace hone {

using json = nlohmann::json;

namespace {

struct reader {
    std::string_view source;

    const json& at(const json& j, const char* key, const std::string& path) const {
        if (!j.is_object() || !j.contains(key))
            fail(status::format_error,
                 fmt::format("{}: field '{}{}' is missing", source, path, key));
        return j.at(key);
    }
    double number(const json& j, const char* key, const std::string& path) const {
        const json& v = at(j, key, path);
        if (!v.is_number())
            fail(status::format_error,
                 fmt::format("{}: field '{}{}' is not a number", source, path, key));
        return v.get<double>();
    }
    std::uint64_t count(const json& j, const char* key, const std::string& path) const {
        const json& v = at(j, key, path);
        if (!v.is_number_unsigned())
            fail(status::format_error,
                 fmt::format("{}: field '{}{}' is not a non-negative integer", source, path, key));
        return v.get<std::uint64_t>();
    }
    interval pair(const json& j, const char* key, const std::string& path) const {
        const json& v = at(j, key, path);
        if (!v.is_array() || v.size() != 2 || !v[0].is_number() || !v[1].is_number())
            fail(status::format_error,
                 fmt::format("{}: field '{}{}' is not a [low, high] pair", source, path, key));
        return {v[0].get<double>(), v[1].get<double>()};
    }
    std::string text(const json& j, const char* key, const std::string& path) const {
        const json& v = at(j, key, path);
        if (!v.is_string())
            fail(status::format_error,
                 fmt::format("{}: field '{}{}' is not a string", source, path, key));
        return v.get<std::string>();
    }
    const json& array(const json& j, const char* key, const std::string& path) const {
        const json& v = at(j, key, path);
        if (!v.is_array())
            fail(status::format_error,
                 fmt::format("{}: field '{}{}' is not an array", source, path, key));
        return v;
    }
};

} // namespace

comparison comparison_from_metrics_json(std::string_view metrics, std::string_view source) {
    json j;
    try {
        j = json::parse(metrics);
    } catch (const json::exception& e) {
        fail(status::format_error, fmt::format("{}: not valid JSON: {}", source, e.what()));
    }
    if (!j.is_object()) fail(status::format_error, fmt::format("{}: not a JSON object", source));
    const reader r{source};
    comparison c;
    const json& acc = r.at(j, "accuracy", "");
    c.baseline_accuracy = r.number(acc, "baseline", "accuracy.");
    c.candidate_accuracy = r.number(acc, "candidate", "accuracy.");
    c.accuracy_delta = r.pair(acc, "delta_interval", "accuracy.");
    if (acc.contains("mcnemar_p")) c.mcnemar_p = r.number(acc, "mcnemar_p", "accuracy.");
    const json& base = r.at(j, "baseline", "");
    const json& cand = r.at(j, "candidate", "");
    c.samples = r.count(base, "samples", "baseline.");
    if (cand.contains("agreement")) c.agreement = r.number(cand, "agreement", "candidate.");
    if (base.contains("model_bytes")) c.baseline_bytes = r.count(base, "model_bytes", "baseline.");
    if (cand.contains("model_bytes"))
        c.candidate_bytes = r.count(cand, "model_bytes", "candidate.");
    if (j.contains("slices")) {
        const json& slices = r.array(j, "slices", "");
        for (std::size_t i = 0; i < slices.size(); ++i) {
            const std::string path = fmt::format("slices[{}].", i);
            slice_comparison s;
            s.name = r.text(slices[i], "name", path);
            s.samples = r.count(slices[i], "samples", path);
            s.baseline_accuracy = r.number(slices[i], "baseline_accuracy", path);
            s.candidate_accuracy = r.number(slices[i], "candidate_accuracy", path);
            s.delta = r.pair(slices[i], "delta_interval", path);
            c.slices.push_back(std::move(s));
        }
    }
    if (j.contains("language_model")) {
        const json& lm = j.at("language_model");
        const json& overall = r.at(lm, "overall", "language_model.");
        const auto estimate = [&](const json& from, const char* key, const std::string& path,
                                  double& value, interval* ci) {
            const json& e = r.at(from, key, path);
            const std::string at = path + key + ".";
            value = r.number(e, "value", at);
            if (ci) *ci = {r.number(e, "low", at), r.number(e, "high", at)};
        };
        language_model_comparison g;
        const std::string path = "language_model.overall.";
        estimate(overall, "perplexity_change", path, g.perplexity_change, &g.perplexity_change_ci);
        estimate(overall, "mean_kl", path, g.mean_kl, &g.mean_kl_ci);
        estimate(overall, "flip_rate", path, g.flip_rate, nullptr);
        const json& slices = r.array(lm, "slices", "language_model.");
        for (std::size_t i = 0; i < slices.size(); ++i) {
            const std::string sp = fmt::format("language_model.slices[{}].", i);
            lm_slice_change s;
            s.name = r.text(slices[i], "name", sp);
            s.sequences = r.count(slices[i], "sequences", sp);
            estimate(slices[i], "perplexity_change", sp, s.perplexity_change,
                     &s.perplexity_change_ci);
            g.slices.push_back(std::move(s));
        }
        c.language_model = std::move(g);
    }
    // The validator judges latency at its last (largest) batch size.
    if (j.contains("latency") && j.at("latency").is_array() && !j.at("latency").empty()) {
        const json& last = j.at("latency").back();
        const std::string path = fmt::format("latency[{}].", j.at("latency").size() - 1);
        c.baseline_latency_ms =
            r.number(r.at(last, "baseline_ms", path), "p50", path + "baseline_ms.");
        c.candidate_latency_ms =
            r.number(r.at(last, "candidate_ms", path), "p50", path + "candidate_ms.");
        c.latency_ratio = r.number(last, "paired_ratio", path);
        c.latency_ratio_interval = r.pair(last, "paired_ratio_interval", path);
    }
    return c;
}

} // namespace hone
