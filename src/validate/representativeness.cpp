#include "hone/validate/representativeness.hpp"

#include "hone/core/error.hpp"
#include "hone/validate/statistics.hpp"

#include <fmt/format.h>

namespace hone {

representativeness_report
check_representativeness(const std::map<std::string, std::vector<float>>& calibration,
                         const std::map<std::string, std::vector<float>>& evaluation,
                         double threshold) {
    for (const auto& [name, values] : evaluation)
        if (!calibration.count(name))
            fail(status::invalid_argument,
                 fmt::format("representativeness: tensor '{}' observed on the evaluation data "
                             "only",
                             name));
    representativeness_report r;
    for (const auto& [name, calib] : calibration) {
        const auto it = evaluation.find(name);
        if (it == evaluation.end())
            fail(status::invalid_argument,
                 fmt::format("representativeness: tensor '{}' observed on the calibration data "
                             "only",
                             name));
        double psi = 0;
        try {
            psi = population_stability_index(calib, it->second);
        } catch (const error& e) {
            throw error(e.code(), fmt::format("representativeness of '{}': {}", name, e.what()));
        }
        const bool shifted = psi > threshold;
        r.tensors.push_back({name, psi, shifted});
        if (shifted) {
            r.representative = false;
            r.warnings.push_back(fmt::format(
                "'{}': PSI {:.3f} > {:.2f} — the calibration data does not look like the "
                "evaluation data here; calibrated ranges may clip or waste resolution",
                name, psi, threshold));
        }
    }
    return r;
}

} // namespace hone
