// hone/validate/comparison_json.hpp — the policy's input read back from recorded metrics.
//
// validation_report::to_json() is what a ledger's optimize record stores as `metrics`; this
// reads the figures decide() judges back out of it, so a verifier can re-derive a recorded
// decision with the code that made it (docs/ledger.md, "re-derived verdicts"). JSON numbers
// round-trip exactly, so the re-derived comparison equals the one the validator produced.
#pragma once

#include "hone/core/export.hpp"
#include "hone/policy/policy.hpp"

#include <string_view>

namespace hone {

/// Reads accuracy.{baseline, candidate, delta_interval, mcnemar_p}, baseline.samples,
/// candidate.{agreement, model_bytes}, baseline.model_bytes, slices[] and the last latency
/// point (p50s, paired_ratio, paired_ratio_interval), and for language models
/// language_model.overall.{perplexity_change, mean_kl, flip_rate} and
/// language_model.slices[].{name, sequences, perplexity_change}. Throws format_error naming
/// `source` and the field when a required figure is missing or has the wrong type.
HONE_EXPORT comparison comparison_from_metrics_json(std::string_view metrics,
                                                    std::string_view source = "metrics");

} // namespace hone
