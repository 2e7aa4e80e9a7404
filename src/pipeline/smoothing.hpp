// smoothing.hpp — SmoothQuant with folding, as a recipe's `smooth_quant` applies it before the
// steps (hone/pipeline/recipe.hpp, struct smoothing; the α search: hone/quantize/smooth_quant.hpp).
#pragma once

#include "layers.hpp"

#include <hone/core/export.hpp>
#include <hone/model/model.hpp>
#include <hone/pipeline/recipe.hpp>

#include <nlohmann/json.hpp>

#include <functional>
#include <map>
#include <set>
#include <string>
#include <vector>

namespace hone::pipeline {

/// Observes the named values of a model on the calibration data as [rows, last dim] f32.
using value_observer =
    std::function<std::map<std::string, tensor>(const model&, const std::set<std::string>&)>;

/// Smooths the groups of `layers` (Gemm/MatMul layers of `m` sharing an input) whose input a
/// normalization's scale produces, folding the factors into that scale and the weights. Returns
/// one JSON object per group: {"layers", "input", "fold_into", "alpha", "error_before",
/// "error_after", "smoothed"} or, for a group left alone, {"layers", "input", "skipped": why}.
/// The model computes the same function in f32 (to rounding) afterwards.
HONE_EXPORT nlohmann::json smooth_and_fold(model& m, const std::vector<layer_ref>& layers,
                                           const smoothing& params, const value_observer& observe);

} // namespace hone::pipeline
