// budget.hpp — mixed precision under a size budget (precision_budget in recipe.hpp): one
// precision per layer, from measured (noise, bytes) options, with the smallest total noise whose
// total bytes fit the budget — a multiple-choice knapsack.
//
// Solved exactly by dynamic programming over the Pareto front of (bytes, noise) partial sums,
// layer by layer (a partial assignment dominated in both is dropped). If the front outgrows
// `max_front` points it is thinned to that many, evenly over bytes (then the answer is
// near-optimal; `exact` says which). Ties: fewer bytes, then earlier options.
#pragma once

#include <hone/core/export.hpp>

#include <nlohmann/json.hpp>

#include <cstdint>
#include <string>
#include <vector>

namespace hone::pipeline {

struct HONE_EXPORT precision_option {
    int bits = 32;           ///< 32 = f32 (the layer is not changed); a palette's index bits
    double noise = 0;        ///< measured output noise with this layer alone changed
    std::uint64_t bytes = 0; ///< the layer's weights stored this way
    int clusters = 0;        ///< > 0: a palette of this many entries instead of quantized bits
};

struct HONE_EXPORT layer_options {
    std::string layer;
    std::vector<precision_option> options; ///< at least one
};

struct HONE_EXPORT precision_allocation {
    std::vector<std::size_t> choice; ///< per layer: the index of its option
    std::uint64_t bytes = 0;         ///< Σ bytes of the choices
    double noise = 0;                ///< Σ noise of the choices
    bool feasible = false;           ///< false: even the smallest choices exceed the budget
                                     ///< (then choice holds the smallest ones)
    bool exact = true;               ///< the front was never thinned
};

/// The allocation described above. invalid_argument for a layer without options.
HONE_EXPORT precision_allocation allocate_precision(const std::vector<layer_options>& layers,
                                                    std::uint64_t budget_bytes,
                                                    std::size_t max_front = 4096);

/// {"budget_bytes", "bytes", "noise", "feasible", "exact", "layers": [{"layer", "bits",
/// ["clusters",] "options": [{"bits", ["clusters",] "noise", "bytes"}]}]} ("clusters" only for a
/// palette): the ledger's and the report's form (the flow adds
/// "bits_per_weight" chosen and the budget's "params").
HONE_EXPORT nlohmann::json allocation_json(const std::vector<layer_options>& layers,
                                           const precision_allocation& a,
                                           std::uint64_t budget_bytes);

} // namespace hone::pipeline
