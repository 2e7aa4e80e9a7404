// search.hpp — the accuracy-aware search of a recipe (accuracy_search in recipe.hpp): which
// selected layers to keep at higher precision (f32, or the search's keep_bits) so that the
// candidate's accuracy drop stays within a bound.
//
// The search only decides; `measure` builds and runs each candidate (flow.cpp does it on the
// ranking data with the deployable file, as it will ship):
//   1. the full candidate (nothing kept); within the bound → done;
//   2. ranking: each layer kept alone; its contribution = accuracy(kept alone) − accuracy(full);
//   3. greedy: layers kept cumulatively, largest contribution first (ties: model order), until
//      the bound holds; at most all layers but one (a candidate must change something).
// Every measured candidate counts against max_trials; layers the budget leaves unranked come
// after the ranked ones, in model order. When the bound is never met, the measured candidate
// with the highest accuracy is chosen (ties: fewer layers kept) and `met` is false: the policy
// then judges it on the evaluation data like any other candidate.
#pragma once

#include <hone/pipeline/recipe.hpp>

#include <hone/core/export.hpp>
#include <hone/pipeline/optimize.hpp>

#include <nlohmann/json.hpp>

#include <functional>
#include <string>
#include <vector>

namespace hone::pipeline {

struct HONE_EXPORT search_trial {
    std::string role;              ///< "full", "rank" (one layer kept) or "keep" (greedy step)
    std::vector<std::string> kept; ///< layers kept at higher precision
    double accuracy = 0;           ///< on the ranking data
    double drop = 0;               ///< baseline accuracy − accuracy
    bool within = false;           ///< drop ≤ bound
};

struct HONE_EXPORT search_result {
    double baseline = 0;           ///< baseline accuracy on the ranking data
    double bound = 0;              ///< the absolute drop allowed
    bool met = false;              ///< the chosen candidate is within the bound
    std::vector<std::string> kept; ///< the chosen candidate's layers kept
    double accuracy = 0;           ///< the chosen candidate's accuracy on the ranking data
    std::vector<search_trial> trials;
    /// {"baseline", "bound", "met", "kept", "accuracy", "trials": [...]}: recorded in the ledger's
    /// recipe (with the search's "params") and shown in the report.
    nlohmann::json to_json() const;
};

/// Runs the search over `layers` (the recipe's selected layers, in model order; at least one).
/// measure(kept) returns the accuracy on the ranking data of the candidate that keeps `kept` at
/// higher precision. Progress is reported as the stage "accuracy search" (trials done of the
/// budget).
HONE_EXPORT search_result search_layers(
    const accuracy_search& params, const std::vector<std::string>& layers, double baseline_accuracy,
    const std::function<double(const std::vector<std::string>& kept)>& measure,
    const pipeline_events& events = {});

/// "in f32" or "at N bits": how a kept layer runs, for messages.
HONE_EXPORT std::string kept_precision(int keep_bits);

} // namespace hone::pipeline
