// hone/validate/language_model.hpp — baseline versus candidate language model, paired, with
// intervals.
//
// Input: the two models' logits [batch, seq, vocab] for the same token sequences and the
// target of each position (the next token; a negative target = no target, e.g. the last
// position or padding). Per position t with a target y, with p = softmax(baseline logits),
// q = softmax(candidate logits):
//   NLL_b = −log p[y], NLL_c = −log q[y]     (nats)
//   KL    = Σ_v p[v] (log p[v] − log q[v])   (KL(baseline ‖ candidate), nats)
//   agree = argmax p == argmax q             (top-1 agreement; ties pick the first index)
//   flip  = (argmax p == y) ≠ (argmax q == y) (the top-1 prediction went from right to wrong
//           or wrong to right: Dutta et al. 2024, "Accuracy is not all you need")
// Over a set of sequences S (all positions with targets pooled, so every token weighs alike):
//   perplexity = exp(Σ NLL / tokens), perplexity_change = ppl_c / ppl_b − 1,
//   mean_kl = Σ KL / tokens, top1_agreement, flip_rate, accuracies = Σ / tokens.
// 1 − top1_agreement is the share of positions whose top-1 prediction changed.
//
// Intervals: a paired block bootstrap whose blocks are the sequences (tokens inside a sequence
// are correlated, sequences are the independent units): each resample draws |S| sequences
// with replacement, the same draw for baseline and candidate, and recomputes every figure;
// the interval is the percentile interval of the resamples (percentile_interval). Each slice
// (and the overall set) draws from its own random stream, derived from the seed and the
// slice's position, so results do not depend on the thread count or on the other slices.
#pragma once

#include "hone/core/export.hpp"
#include "hone/core/tensor.hpp"
#include "hone/data/dataset.hpp"
#include "hone/validate/statistics.hpp"

#include <cstdint>
#include <span>
#include <string>
#include <vector>

namespace hone {

/// Sums over one sequence's positions that have a target.
struct lm_sequence_stats {
    std::int64_t tokens = 0;
    double baseline_nll = 0;  ///< Σ −log p[y]
    double candidate_nll = 0; ///< Σ −log q[y]
    double kl = 0;            ///< Σ KL(p ‖ q)
    std::int64_t agreements = 0, baseline_correct = 0, candidate_correct = 0, flips = 0;
};

/// Per-sequence sums for a batch: logits f32 [batch, seq, vocab] (any strides), targets i64
/// [batch, seq]. Throws shape_mismatch when the shapes disagree, dtype_mismatch for other
/// dtypes, invalid_argument for a target ≥ vocab or a non-finite logit (naming the sequence
/// and position). Rows run in parallel; each row's sums are sequential in double, so the
/// result is identical at any thread count.
HONE_EXPORT std::vector<lm_sequence_stats>
lm_sequence_statistics(const_tensor_view baseline_logits, const_tensor_view candidate_logits,
                       const_tensor_view targets);

struct estimate {
    double value = 0; ///< on all sequences of the set
    interval ci;      ///< bootstrap percentile interval
};

struct lm_slice_metrics {
    std::string name; ///< "overall" or the slice label
    std::int64_t sequences = 0, tokens = 0;
    estimate baseline_perplexity, candidate_perplexity;
    estimate perplexity_change; ///< ppl_c / ppl_b − 1 (0.01 = 1% worse)
    estimate mean_kl;           ///< nats per token
    estimate top1_agreement;
    estimate flip_rate;
    estimate baseline_accuracy, candidate_accuracy; ///< top-1 = target
    estimate accuracy_change;                       ///< candidate − baseline accuracy, paired
};

struct lm_metrics_options {
    double confidence = 0.95;
    int resamples = 2000;
    std::uint64_t seed = 2026;
};

struct lm_comparison {
    lm_slice_metrics overall;
    std::vector<lm_slice_metrics> slices; ///< in order of first appearance of each label
    double confidence = 0.95;
    int resamples = 0;
    /// {"confidence", "resamples", "overall": {...}, "slices": [{...}]}: each figure as
    /// {"value", "low", "high"}.
    HONE_EXPORT std::string to_json() const;
};

/// Bootstraps the figures from per-sequence sums. `slice_labels` is empty (overall only) or
/// one label per sequence. Throws invalid_argument for no sequences, a set without tokens,
/// a label count that differs from the sequence count, resamples < 1, a bad confidence.
HONE_EXPORT lm_comparison compare_language_models(std::span<const lm_sequence_stats> sequences,
                                                  std::span<const std::string> slice_labels = {},
                                                  const lm_metrics_options& options = {});

/// The same with named slices (sample index lists, which may overlap: load_data's slices);
/// slice k draws from the stream a label-defined slice at position k would. Throws
/// invalid_argument for an empty slice or an index past the sequences.
HONE_EXPORT lm_comparison compare_language_model_slices(
    std::span<const lm_sequence_stats> sequences, std::span<const named_slice> slices,
    const lm_metrics_options& options = {});

/// Both steps at once for logits held in memory.
HONE_EXPORT lm_comparison compare_language_models(const_tensor_view baseline_logits,
                                                  const_tensor_view candidate_logits,
                                                  const_tensor_view targets,
                                                  std::span<const std::string> slice_labels = {},
                                                  const lm_metrics_options& options = {});

/// Targets for next-token prediction on token rows [batch, seq] (i64): position t's target is
/// the token at t + 1; the last position gets −1 (no target).
HONE_EXPORT tensor next_token_targets(const_tensor_view tokens);

} // namespace hone
