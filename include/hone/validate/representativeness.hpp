// hone/validate/representativeness.hpp — does the calibration data look like the real data?
//
// Calibration ranges are only as good as the calibration set. For each observed tensor (an
// activation by name), compare a sample of its values on the calibration data with a sample on
// the evaluation data by the population stability index (bins at the calibration sample's
// deciles). PSI above `threshold` (default 0.25: "a different population") flags the tensor.
#pragma once

#include "hone/core/export.hpp"

#include <map>
#include <string>
#include <vector>

namespace hone {

struct tensor_shift {
    std::string name;
    double psi = 0;
    bool shifted = false;
};

struct representativeness_report {
    std::vector<tensor_shift> tensors; ///< in name order
    bool representative = true;        ///< no tensor shifted
    std::vector<std::string> warnings; ///< one sentence per shifted tensor
};

/// Throws invalid_argument when a tensor is observed on one side only, or a sample is empty
/// or holds NaN (naming the tensor).
HONE_EXPORT representativeness_report check_representativeness(
    const std::map<std::string, std::vector<float>>& calibration,
    const std::map<std::string, std::vector<float>>& evaluation, double threshold = 0.25);

} // namespace hone
