// hone/validate/validator.hpp — baseline versus candidate on the same representative data.
//
// validate() runs both models over the same evaluation samples (in the same batches), collects
// their metrics, pairs their outcomes per sample, and reports every accuracy delta — overall,
// per class and per named slice — with a confidence interval (Newcombe's paired method; with
// class weights, a stratified paired bootstrap), McNemar's exact p-value, agreement, KL and
// cosine to the baseline, model sizes, and latency at the requested batch sizes measured
// alternately for the two models so that machine noise hits both alike. Its `comparison` is
// the input of hone::decide().
//
// Language models: when the evaluation inputs are token ids (i64 [sequences, tokens]), both
// models must give logits [batch, seq, vocab]; the validator compares next-token predictions
// (hone/validate/language_model.hpp: perplexity, mean KL, top-1 agreement, flip rate, next-token
// accuracy, per slice, with a paired block bootstrap over sequences of bootstrap_resamples
// draws) and fills `language_model` and the comparison's language-model figures.
#pragma once

#include "hone/core/export.hpp"
#include "hone/core/process_group.hpp"
#include "hone/data/data_spec.hpp"
#include "hone/data/dataset.hpp"
#include "hone/graph/runner.hpp"
#include "hone/metrics/metric_collector.hpp"
#include "hone/metrics/performance.hpp"
#include "hone/policy/policy.hpp"
#include "hone/validate/language_model.hpp"
#include "hone/validate/statistics.hpp"

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <vector>

namespace hone {

struct evaluation_set {
    std::string name;
    const_tensor_view inputs;             ///< f32 [N, ...], or i64 token ids [N, seq]
    std::span<const std::int64_t> labels; ///< N labels, or empty (agreement-only validation)
    std::vector<named_slice> slices;
    std::vector<std::string> class_names; ///< optional names for the per-class slices
};

/// An evaluation set viewing `data` (load_data's result; valid while `data` lives).
HONE_EXPORT evaluation_set evaluation_of(const loaded_data& data);

struct validator_options {
    std::int64_t batch_size = 256;
    double confidence = 0.95;
    bool per_class_slices = true; ///< add a slice per label ("class 3" or its class name)
    /// The production mix: weight of each class (index = label). Empty = the data's own mix.
    std::vector<double> class_weights;
    int bootstrap_resamples = 2000; ///< for the weighted interval
    std::uint64_t seed = 2026;
    std::vector<std::int64_t> latency_batch_sizes = {1, 64}; ///< empty = no latency
    int warmup = 3;
    int repeats = 30; ///< paired timed runs per batch size (30 gives a 95% median interval
                      ///< between the 10th and 21st of the sorted ratios)
    int top_k = 5;
    /// Language models (token inputs) only: the evaluation batches are split across the
    /// group's ranks (contiguous ranges of whole batches, hone::rank_range), each rank runs its
    /// own and the per-sequence sums are gathered on every rank in sequence order, so every
    /// rank gets the report one process would (same batches, same bytes). Latency is then
    /// measured on each rank alone. nullptr: all batches here.
    process_group* group = nullptr;
};

struct slice_report {
    slice_comparison figures;
    paired_counts paired;
    double mcnemar_p = 1;
};

struct latency_point {
    std::int64_t batch = 0;
    latency_stats baseline, candidate;
    /// Noise-aware comparison: the two models run alternately, so each repeat gives a paired
    /// ratio candidate/baseline that drifting machine load hits alike. `ratio` is their median,
    /// `ratio_interval` its distribution-free confidence interval (median_interval).
    double ratio = 0;
    interval ratio_interval;
    /// Achieved GOP/s at p50 and its fraction of the measured peak of the active tier
    /// (hone/kernels/peak.hpp; int8 peak for int8 work); 0 when a runner states no work.
    double baseline_gops = 0, candidate_gops = 0;
    double baseline_utilisation = 0, candidate_utilisation = 0;
};

struct validation_report {
    std::string data_name;
    std::string baseline_name, candidate_name;
    classification_summary baseline;  ///< against the labels
    classification_summary candidate; ///< against the labels; agreement/KL/cosine vs baseline
    paired_counts paired;
    std::vector<slice_report> slices;
    std::vector<latency_point> latency;
    bool weighted = false; ///< accuracy figures use options.class_weights
    /// Language models (token inputs): perplexity, KL, top-1 agreement and flips per slice with
    /// intervals; `slices` then hold next-token accuracy per slice (no per-class slices).
    std::optional<lm_comparison> language_model;
    hone::comparison comparison; ///< what the policy judges (latency: the largest batch size)
    /// Peak resident memory of this process after the runs (VmHWM), bytes; 0 if unknown.
    std::uint64_t peak_resident_bytes = 0;

    /// Everything above as JSON (the ledger's `metrics`, the report's data).
    HONE_EXPORT std::string to_json() const;
};

/// Runs both models and compares them. Throws invalid_argument for an empty evaluation set,
/// a slice index out of range, class weights that do not cover the labels or are negative;
/// shape_mismatch when the two models' outputs differ in shape.
HONE_EXPORT validation_report validate(runner& baseline, runner& candidate,
                                       const evaluation_set& data,
                                       const validator_options& options = {});

} // namespace hone
