#include "hone/policy/policy.hpp"

#include "hone/core/error.hpp"

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <cmath>
#include <limits>

namespace hone {

using json = nlohmann::json;

std::string_view name_of(risk_tier tier) noexcept {
    switch (tier) {
    case risk_tier::low: return "low";
    case risk_tier::medium: return "medium";
    case risk_tier::high: return "high";
    case risk_tier::critical: return "critical";
    }
    return "invalid";
}

std::optional<risk_tier> risk_tier_from_name(std::string_view name) noexcept {
    for (auto t : {risk_tier::low, risk_tier::medium, risk_tier::high, risk_tier::critical})
        if (name == name_of(t)) return t;
    return std::nullopt;
}

std::string_view name_of(verdict v) noexcept {
    switch (v) {
    case verdict::approved: return "approved";
    case verdict::needs_signoff: return "needs_signoff";
    case verdict::rejected: return "rejected";
    }
    return "invalid";
}

policy policy::for_tier(risk_tier tier) {
    policy p;
    p.tier = tier;
    switch (tier) {
    case risk_tier::low:
        p.max_accuracy_drop = 0.02, p.max_slice_accuracy_drop = 0.05;
        p.min_agreement = 0.95, p.max_latency_regression = 0.25;
        p.max_perplexity_increase = 0.05, p.max_slice_perplexity_increase = 0.10;
        p.max_mean_kl = 0.05, p.min_token_agreement = 0.90;
        break;
    case risk_tier::medium:
        p.max_accuracy_drop = 0.01, p.max_slice_accuracy_drop = 0.03;
        p.min_agreement = 0.97, p.max_latency_regression = 0.10;
        p.max_perplexity_increase = 0.02, p.max_slice_perplexity_increase = 0.05;
        p.max_mean_kl = 0.02, p.min_token_agreement = 0.95;
        break;
    case risk_tier::high:
        p.max_accuracy_drop = 0.005, p.max_slice_accuracy_drop = 0.015;
        p.min_agreement = 0.985, p.max_latency_regression = 0.05, p.required_approvals = 1;
        p.max_perplexity_increase = 0.01, p.max_slice_perplexity_increase = 0.03;
        p.max_mean_kl = 0.01, p.min_token_agreement = 0.97;
        break;
    case risk_tier::critical:
        p.max_accuracy_drop = 0.002, p.max_slice_accuracy_drop = 0.01;
        p.min_agreement = 0.995, p.max_latency_regression = 0.0, p.required_approvals = 2;
        p.judge_by_confidence_bound = true;
        p.max_perplexity_increase = 0.005, p.max_slice_perplexity_increase = 0.02;
        p.max_mean_kl = 0.005, p.min_token_agreement = 0.98;
        break;
    }
    return p;
}

namespace {

double fraction_field(const json& j, const char* key, double current, std::string_view source,
                      double max = 1.0) {
    if (!j.contains(key)) return current;
    const json& v = j.at(key);
    if (!v.is_number())
        fail(status::format_error, fmt::format("{}: field '{}' must be a number", source, key));
    const double x = v.get<double>();
    if (!(x >= 0 && x <= max))
        fail(status::format_error,
             fmt::format("{}: field '{}' is {}, outside [0, {}]", source, key, x, max));
    return x;
}

std::uint64_t count_field(const json& j, const char* key, std::uint64_t current,
                          std::string_view source) {
    if (!j.contains(key)) return current;
    const json& v = j.at(key);
    if (!v.is_number_unsigned())
        fail(status::format_error,
             fmt::format("{}: field '{}' must be a non-negative integer", source, key));
    return v.get<std::uint64_t>();
}

} // namespace

policy policy::from_json(std::string_view text, std::string_view source) {
    json j;
    try {
        j = json::parse(text);
    } catch (const json::exception& e) {
        fail(status::format_error, fmt::format("{}: not valid JSON: {}", source, e.what()));
    }
    if (!j.is_object())
        fail(status::format_error, fmt::format("{}: must be a JSON object", source));
    static const std::vector<std::string> known = {"tier",
                                                   "max_accuracy_drop",
                                                   "max_slice_accuracy_drop",
                                                   "min_agreement",
                                                   "max_latency_regression",
                                                   "min_size_reduction",
                                                   "required_approvals",
                                                   "judge_by_confidence_bound",
                                                   "confidence",
                                                   "min_slice_samples",
                                                   "max_perplexity_increase",
                                                   "max_slice_perplexity_increase",
                                                   "max_mean_kl",
                                                   "min_token_agreement"};
    for (const auto& [key, value] : j.items())
        if (std::find(known.begin(), known.end(), key) == known.end())
            fail(status::format_error, fmt::format("{}: unknown field '{}'", source, key));
    if (!j.contains("tier") || !j.at("tier").is_string())
        fail(status::format_error, fmt::format("{}: field 'tier' (a string) is required", source));
    const auto tier_name = j.at("tier").get<std::string>();
    const auto tier = risk_tier_from_name(tier_name);
    if (!tier)
        fail(status::format_error,
             fmt::format("{}: unknown tier '{}' (low, medium, high, critical)", source, tier_name));
    policy p = for_tier(*tier);
    p.max_accuracy_drop = fraction_field(j, "max_accuracy_drop", p.max_accuracy_drop, source);
    p.max_slice_accuracy_drop =
        fraction_field(j, "max_slice_accuracy_drop", p.max_slice_accuracy_drop, source);
    p.min_agreement = fraction_field(j, "min_agreement", p.min_agreement, source);
    // null: latency is reported, not gated (e.g. the model will be served by another engine).
    if (j.contains("max_latency_regression") && j.at("max_latency_regression").is_null())
        p.max_latency_regression = std::numeric_limits<double>::infinity();
    else
        p.max_latency_regression =
            fraction_field(j, "max_latency_regression", p.max_latency_regression, source, 100.0);
    p.min_size_reduction = fraction_field(j, "min_size_reduction", p.min_size_reduction, source);
    p.required_approvals = static_cast<std::uint32_t>(std::min<std::uint64_t>(
        count_field(j, "required_approvals", p.required_approvals, source), 1000));
    if (j.contains("judge_by_confidence_bound")) {
        if (!j.at("judge_by_confidence_bound").is_boolean())
            fail(
                status::format_error,
                fmt::format("{}: field 'judge_by_confidence_bound' must be true or false", source));
        p.judge_by_confidence_bound = j.at("judge_by_confidence_bound").get<bool>();
    }
    p.confidence = fraction_field(j, "confidence", p.confidence, source);
    if (!(p.confidence > 0 && p.confidence < 1))
        fail(status::format_error,
             fmt::format("{}: field 'confidence' must be strictly between 0 and 1", source));
    p.min_slice_samples = count_field(j, "min_slice_samples", p.min_slice_samples, source);
    p.max_perplexity_increase =
        fraction_field(j, "max_perplexity_increase", p.max_perplexity_increase, source, 100.0);
    p.max_slice_perplexity_increase = fraction_field(
        j, "max_slice_perplexity_increase", p.max_slice_perplexity_increase, source, 100.0);
    p.max_mean_kl = fraction_field(j, "max_mean_kl", p.max_mean_kl, source, 100.0);
    p.min_token_agreement = fraction_field(j, "min_token_agreement", p.min_token_agreement, source);
    return p;
}

std::string policy::to_json() const {
    const json j = {{"tier", std::string(name_of(tier))},
                    {"max_accuracy_drop", max_accuracy_drop},
                    {"max_slice_accuracy_drop", max_slice_accuracy_drop},
                    {"min_agreement", min_agreement},
                    {"max_latency_regression", std::isinf(max_latency_regression)
                                                   ? json(nullptr)
                                                   : json(max_latency_regression)},
                    {"min_size_reduction", min_size_reduction},
                    {"required_approvals", required_approvals},
                    {"judge_by_confidence_bound", judge_by_confidence_bound},
                    {"confidence", confidence},
                    {"min_slice_samples", min_slice_samples},
                    {"max_perplexity_increase", max_perplexity_increase},
                    {"max_slice_perplexity_increase", max_slice_perplexity_increase},
                    {"max_mean_kl", max_mean_kl},
                    {"min_token_agreement", min_token_agreement}};
    return j.dump();
}

std::string decision::to_json() const {
    json reasons_json = json::array();
    for (const auto& r : reasons) {
        json item = {{"metric", r.metric},
                     {"value", r.value},
                     {"bound", r.bound},
                     {"passed", r.passed},
                     {"text", r.text}};
        if (!r.slice.empty()) item["slice"] = r.slice;
        reasons_json.push_back(std::move(item));
    }
    json j = {{"verdict", std::string(name_of(verdict))}, {"reasons", std::move(reasons_json)}};
    if (verdict == verdict::needs_signoff) j["approvals_required"] = approvals_missing;
    return j.dump();
}

namespace {

// The accuracy drop the policy judges: the point estimate, or the pessimistic end of the
// interval (−low) when the tier asks for evidence.
double judged_drop(const policy& p, double baseline, double candidate, const interval& delta) {
    return p.judge_by_confidence_bound ? -delta.low : baseline - candidate;
}

// Figures arrive as ratios of counts; a bound met exactly must not fail on rounding noise.
constexpr double slack = 1e-9;

std::string percent(double x) { return fmt::format("{:.2f}%", 100.0 * x); }

std::string latency_verdict(bool ok, double bound) {
    if (std::isinf(bound)) return "(not gated: the policy's max_latency_regression is null)";
    return fmt::format("{} the allowed {:+.1f}%", ok ? "within" : "exceeds", 100 * bound);
}

} // namespace

decision decide(const policy& p, const comparison& c) {
    if (c.samples == 0)
        fail(status::invalid_argument, "decide: the comparison has no evaluation samples");
    decision d;
    auto check = [&](std::string metric, std::string slice, double value, double bound, bool passed,
                     std::string text) {
        d.reasons.push_back(
            {std::move(metric), std::move(slice), value, bound, passed, std::move(text)});
    };
    const char* basis = p.judge_by_confidence_bound ? " (pessimistic end of the interval)" : "";
    const double drop = judged_drop(p, c.baseline_accuracy, c.candidate_accuracy, c.accuracy_delta);
    const auto& lm = c.language_model;
    check("accuracy_drop", "", drop, p.max_accuracy_drop, drop <= p.max_accuracy_drop + slack,
          fmt::format("{} accuracy {} → {}: drop {}{} {} the bound {}", lm ? "next-token" : "top-1",
                      percent(c.baseline_accuracy), percent(c.candidate_accuracy), percent(drop),
                      basis, drop <= p.max_accuracy_drop + slack ? "within" : "exceeds",
                      percent(p.max_accuracy_drop)));
    for (const auto& s : c.slices) {
        if (s.samples < p.min_slice_samples) {
            check("slice_accuracy_drop", s.name, s.baseline_accuracy - s.candidate_accuracy,
                  p.max_slice_accuracy_drop, true,
                  fmt::format("slice '{}': {} samples, fewer than {}: reported, not gated", s.name,
                              s.samples, p.min_slice_samples));
            continue;
        }
        const double sd = judged_drop(p, s.baseline_accuracy, s.candidate_accuracy, s.delta);
        const bool ok = sd <= p.max_slice_accuracy_drop + slack;
        check("slice_accuracy_drop", s.name, sd, p.max_slice_accuracy_drop, ok,
              fmt::format("slice '{}' ({} samples): accuracy {} → {}: drop {}{} {} the bound {}",
                          s.name, s.samples, percent(s.baseline_accuracy),
                          percent(s.candidate_accuracy), percent(sd), basis,
                          ok ? "within" : "exceeds", percent(p.max_slice_accuracy_drop)));
    }
    if (lm) {
        // The pessimistic end of an interval, or the point value.
        const auto judged = [&](double value, const interval& ci) {
            return p.judge_by_confidence_bound ? ci.high : value;
        };
        const double inc = judged(lm->perplexity_change, lm->perplexity_change_ci);
        const bool ok = inc <= p.max_perplexity_increase + slack;
        check("perplexity_increase", "", inc, p.max_perplexity_increase, ok,
              fmt::format("perplexity {:+.3f}% [{:+.3f}%, {:+.3f}%]{}: {} the bound {:+.2f}%",
                          100 * lm->perplexity_change, 100 * lm->perplexity_change_ci.low,
                          100 * lm->perplexity_change_ci.high, basis, ok ? "within" : "exceeds",
                          100 * p.max_perplexity_increase));
        for (const auto& s : lm->slices) {
            if (s.sequences < p.min_slice_samples) {
                check("slice_perplexity_increase", s.name, s.perplexity_change,
                      p.max_slice_perplexity_increase, true,
                      fmt::format("slice '{}': {} sequences, fewer than {}: reported, not gated",
                                  s.name, s.sequences, p.min_slice_samples));
                continue;
            }
            const double si = judged(s.perplexity_change, s.perplexity_change_ci);
            const bool sok = si <= p.max_slice_perplexity_increase + slack;
            check("slice_perplexity_increase", s.name, si, p.max_slice_perplexity_increase, sok,
                  fmt::format("slice '{}' ({} sequences): perplexity {:+.3f}% [{:+.3f}%, "
                              "{:+.3f}%]{}: {} the bound {:+.2f}%",
                              s.name, s.sequences, 100 * s.perplexity_change,
                              100 * s.perplexity_change_ci.low, 100 * s.perplexity_change_ci.high,
                              basis, sok ? "within" : "exceeds",
                              100 * p.max_slice_perplexity_increase));
        }
        const double kl = judged(lm->mean_kl, lm->mean_kl_ci);
        const bool kok = kl <= p.max_mean_kl + slack;
        check("mean_kl", "", kl, p.max_mean_kl, kok,
              fmt::format("mean KL(baseline ‖ candidate) {:.3g} nats per token [{:.3g}, {:.3g}]{}: "
                          "{} the bound {:.3g}",
                          lm->mean_kl, lm->mean_kl_ci.low, lm->mean_kl_ci.high, basis,
                          kok ? "within" : "exceeds", p.max_mean_kl));
        if (c.agreement) {
            const bool aok = *c.agreement >= p.min_token_agreement - slack;
            check("token_agreement", "", *c.agreement, p.min_token_agreement, aok,
                  fmt::format("next-token top-1 agreement with the baseline {} {} the minimum {} "
                              "(flip rate {})",
                              percent(*c.agreement), aok ? "meets" : "is below",
                              percent(p.min_token_agreement), percent(lm->flip_rate)));
        }
    } else if (c.agreement) {
        const bool ok = *c.agreement >= p.min_agreement - slack;
        check("agreement", "", *c.agreement, p.min_agreement, ok,
              fmt::format("top-1 agreement with the baseline {} {} the minimum {}",
                          percent(*c.agreement), ok ? "meets" : "is below",
                          percent(p.min_agreement)));
    }
    if (c.latency_ratio && c.latency_ratio_interval) {
        // Paired ratios of alternating runs: the median is the estimate; a judge-by-bound tier
        // takes the slow end of its interval, so noise cannot hide a regression there.
        const double ratio =
            p.judge_by_confidence_bound ? c.latency_ratio_interval->high : *c.latency_ratio;
        const double regression = ratio - 1.0;
        const bool ok = regression <= p.max_latency_regression + slack;
        check("latency_regression", "", regression, p.max_latency_regression, ok,
              fmt::format("latency candidate/baseline {:.3f} (paired median, interval [{:.3f}, "
                          "{:.3f}]{}; p50 {:.3f} ms → {:.3f} ms): {:+.1f}% {}",
                          *c.latency_ratio, c.latency_ratio_interval->low,
                          c.latency_ratio_interval->high,
                          p.judge_by_confidence_bound ? ", judged at its slow end" : "",
                          c.baseline_latency_ms.value_or(0), c.candidate_latency_ms.value_or(0),
                          100 * regression, latency_verdict(ok, p.max_latency_regression)));
    } else if (c.baseline_latency_ms && c.candidate_latency_ms && *c.baseline_latency_ms > 0) {
        const double regression = *c.candidate_latency_ms / *c.baseline_latency_ms - 1.0;
        const bool ok = regression <= p.max_latency_regression + slack;
        check("latency_regression", "", regression, p.max_latency_regression, ok,
              fmt::format("p50 latency {:.3f} ms → {:.3f} ms ({:+.1f}%) {}", *c.baseline_latency_ms,
                          *c.candidate_latency_ms, 100 * regression,
                          latency_verdict(ok, p.max_latency_regression)));
    }
    if (p.min_size_reduction > 0) {
        if (c.baseline_bytes && c.candidate_bytes && *c.baseline_bytes > 0) {
            const double reduction = 1.0 - double(*c.candidate_bytes) / double(*c.baseline_bytes);
            const bool ok = reduction >= p.min_size_reduction - slack;
            check("size_reduction", "", reduction, p.min_size_reduction, ok,
                  fmt::format("model bytes {} → {}: {} smaller, {} the required {}",
                              *c.baseline_bytes, *c.candidate_bytes, percent(reduction),
                              ok ? "meets" : "short of", percent(p.min_size_reduction)));
        } else {
            check("size_reduction", "", 0, p.min_size_reduction, false,
                  "the policy requires a size reduction but model sizes were not measured");
        }
    }
    const bool all_passed =
        std::all_of(d.reasons.begin(), d.reasons.end(), [](const auto& r) { return r.passed; });
    if (!all_passed) {
        d.verdict = verdict::rejected;
    } else if (p.required_approvals > 0) {
        d.verdict = verdict::needs_signoff;
        d.approvals_missing = p.required_approvals;
        check("approvals", "", 0, p.required_approvals, true,
              fmt::format("tier '{}' requires {} signed approval(s) before release",
                          name_of(p.tier), p.required_approvals));
    } else {
        d.verdict = verdict::approved;
    }
    return d;
}

} // namespace hone
