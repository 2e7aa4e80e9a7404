// hone/policy/policy.hpp — risk tiers, their bounds, and the decision they give.
//
// A policy states how much a model may change before a human must look, or before the change
// is refused. decide() compares a baseline-vs-candidate comparison with the bounds and returns
// approved, needs_signoff (all bounds hold but the tier requires human approvals) or rejected,
// with one reason per check naming the metric, the slice, the value and the bound.
//
// Default bounds per tier (accuracy in fractions: 0.005 = half a point of top-1):
//
// tier      max drop  max slice drop  min agreement  max latency regr.  approvals  judged on
// low       0.02      0.05            0.95           0.25               0          point
// medium    0.01      0.03            0.97           0.10               0          point
// high      0.005     0.015           0.985          0.05               1          point
// critical  0.002     0.01            0.995          0.00               2          95% bound
//
// Language models (the validator compares next-token predictions on token sequences): the
// accuracy bounds judge next-token accuracy (slices and min_slice_samples count sequences), and
// these bounds replace min_agreement:
//
// tier      max perplexity increase  max slice increase  max mean KL (nats)  min token agreement
// low       0.05                     0.10                0.05                0.90
// medium    0.02                     0.05                0.02                0.95
// high      0.01                     0.03                0.01                0.97
// critical  0.005                    0.02                0.005               0.98
//
// "Judged on the confidence bound" means the pessimistic end of the accuracy-delta interval (and,
// for language models, of the perplexity-change and KL intervals) must be within the bound, so a
// change passes only when the data show it is safe. Slices with fewer than min_slice_samples
// samples are reported but not gated (their intervals are too wide to judge). JSON form:
// docs/policy.md.
#pragma once

#include "hone/core/export.hpp"
#include "hone/validate/statistics.hpp"

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace hone {

enum class risk_tier { low, medium, high, critical };

HONE_EXPORT std::string_view name_of(risk_tier tier) noexcept;
HONE_EXPORT std::optional<risk_tier> risk_tier_from_name(std::string_view name) noexcept;

/// Accuracy of baseline and candidate on one named slice of the evaluation data.
struct slice_comparison {
    std::string name;
    std::uint64_t samples = 0;
    double baseline_accuracy = 0;
    double candidate_accuracy = 0;
    interval delta; ///< interval of candidate − baseline accuracy
};

/// One slice's perplexity change (language models).
struct lm_slice_change {
    std::string name;
    std::uint64_t sequences = 0;
    double perplexity_change = 0; ///< ppl_candidate / ppl_baseline − 1
    interval perplexity_change_ci;
};

/// The language-model figures decide() judges (point values and bootstrap intervals).
struct language_model_comparison {
    double perplexity_change = 0; ///< ppl_candidate / ppl_baseline − 1 (0.01 = 1% worse)
    interval perplexity_change_ci;
    double mean_kl = 0; ///< mean KL(baseline ‖ candidate) per token, nats
    interval mean_kl_ci;
    double flip_rate = 0; ///< reported, not gated
    std::vector<lm_slice_change> slices;
};

/// What the validator measured; the input of decide(). Optional figures are judged only when
/// present.
struct comparison {
    std::uint64_t samples = 0;
    double baseline_accuracy = 0;
    double candidate_accuracy = 0;
    interval accuracy_delta;         ///< interval of candidate − baseline accuracy
    double mcnemar_p = 1;            ///< exact McNemar p-value of the paired disagreements
    std::optional<double> agreement; ///< fraction of samples with the same top-1 as the baseline
    std::vector<slice_comparison> slices;
    std::optional<double> baseline_latency_ms; ///< p50 at the policy's batch size
    std::optional<double> candidate_latency_ms;
    /// Median of paired candidate/baseline timings and its interval (validator); when present
    /// the latency gate judges this ratio instead of the ratio of the two p50s.
    std::optional<double> latency_ratio;
    std::optional<interval> latency_ratio_interval;
    std::optional<std::uint64_t> baseline_bytes;
    std::optional<std::uint64_t> candidate_bytes;
    /// Language models only (hone/validate/language_model.hpp): the accuracy fields above then
    /// hold next-token accuracy, `agreement` the token top-1 agreement, `slices` count
    /// sequences.
    std::optional<language_model_comparison> language_model;
};

struct policy {
    risk_tier tier = risk_tier::medium;
    double max_accuracy_drop = 0.01;
    double max_slice_accuracy_drop = 0.03;
    double min_agreement = 0.97;
    /// candidate p50 ≤ baseline p50 · (1 + this); +infinity (JSON null) = reported, not gated
    double max_latency_regression = 0.10;
    double min_size_reduction = 0; ///< required fraction of bytes removed; 0 = none
    std::uint32_t required_approvals = 0;
    bool judge_by_confidence_bound = false;
    double confidence = 0.95;
    std::uint64_t min_slice_samples = 30;
    // Language models (see the second table above).
    double max_perplexity_increase = 0.02;
    double max_slice_perplexity_increase = 0.05;
    double max_mean_kl = 0.02; ///< nats per token
    double min_token_agreement = 0.95;

    /// The documented defaults of a tier.
    HONE_EXPORT static policy for_tier(risk_tier tier);
    /// Parses a policy: {"tier": "high", ...overrides}. Unspecified fields take the tier's
    /// defaults. Throws format_error naming `source` and the field for unknown fields, wrong
    /// types, an unknown tier or values out of range.
    HONE_EXPORT static policy from_json(std::string_view text, std::string_view source = "policy");
    /// Canonical JSON with every field.
    HONE_EXPORT std::string to_json() const;
};

enum class verdict { approved, needs_signoff, rejected };
HONE_EXPORT std::string_view name_of(verdict v) noexcept;

/// One check: what was measured against which bound.
struct decision_reason {
    /// "accuracy_drop", "slice_accuracy_drop", "agreement", "latency_regression",
    /// "size_reduction", "approvals"; language models: "perplexity_increase",
    /// "slice_perplexity_increase", "mean_kl", "token_agreement"
    std::string metric;
    std::string slice; ///< empty for whole-set metrics
    double value = 0;
    double bound = 0;
    bool passed = true;
    std::string text; ///< the sentence a report shows
};

struct decision {
    hone::verdict verdict = verdict::rejected;
    std::uint32_t approvals_missing = 0;
    std::vector<decision_reason> reasons;

    /// {"verdict": ..., "approvals_required": n, "reasons": [...]}: the form the ledger stores.
    HONE_EXPORT std::string to_json() const;
};

/// Applies the policy. Throws invalid_argument for a comparison without samples.
HONE_EXPORT decision decide(const policy& p, const comparison& c);

} // namespace hone
