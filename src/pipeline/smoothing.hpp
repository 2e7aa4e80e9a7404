// smoothing.hpp — per-channel scales folded into the model before the steps: SmoothQuant (the
// recipe's `smooth_quant`, hone/quantize/smooth_quant.hpp) and AWQ (a quantize step's method
// "awq", hone/quantize/quantizer.hpp), both moving 1/s into what produces a group's input.
#pragma once

#include "layers.hpp"

#include <hone/core/export.hpp>
#include <hone/model/model.hpp>
#include <hone/pipeline/recipe.hpp>
#include <hone/quantize/quant_spec.hpp>

#include <nlohmann/json.hpp>

#include <functional>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

namespace hone::pipeline {

/// Observes the named values of a model on the calibration data as [rows, last dim] f32.
using value_observer =
    std::function<std::map<std::string, tensor>(const model&, const std::set<std::string>&)>;

/// How a group's per-channel factors s are chosen (the folding is the same for both).
struct scale_search {
    enum class kind { smooth_quant, awq } what = kind::smooth_quant;
    /// smooth_quant: SmoothQuant's α (nullopt = searched on the W8A8 output error).
    std::optional<float> alpha;
    /// awq: the weight grid the group's layers get (hone::quantizer's AWQ search on it); a
    /// per-group size becomes group_for(size, K) of each group, as the quantize step does.
    quant_spec spec;
};

/// Scales the groups of `layers` (Gemm/MatMul layers of `m` sharing an input) whose input a
/// normalization's scale (or, for SwiGLU's down projection, the up projection) produces,
/// folding 1/s into that producer and s into the weights' columns. Returns one JSON object per
/// group: {"layers", "input", "fold_into", "alpha", "smoothed", and the group's output error
/// before/after: SmoothQuant "error_before", "error_after", "sqnr_db_before", "sqnr_db_after";
/// AWQ "sqnr_db_before", "sqnr_db_after"} or, for a group left alone, {"layers", "input",
/// "skipped": why}. The model computes the same function in f32 (to rounding) afterwards.
HONE_EXPORT nlohmann::json smooth_and_fold(model& m, const std::vector<layer_ref>& layers,
                                           const scale_search& search,
                                           const value_observer& observe);

} // namespace hone::pipeline
