// Gradual pruning schedules (constant, polynomial decay).
#include "hone/prune/schedule.hpp"
#include "hone/core/error.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>

namespace hone {

void sparsity_schedule::validate() const {
    constexpr const char* fn = "sparsity_schedule";
    auto bad = [&](const char* field, auto value, const char* want) {
        fail(status::invalid_argument, fmt::format("{}: {} = {} {}", fn, field, value, want));
    };
    if (kind != schedule_kind::constant && kind != schedule_kind::polynomial)
        bad("kind", int(kind), "is neither constant (0) nor polynomial (1)");
    if (!(final_sparsity >= 0.0 && final_sparsity < 1.0))
        bad("final_sparsity", final_sparsity, "is outside [0, 1)");
    if (begin_step < 0) bad("begin_step", begin_step, "is negative");
    if (frequency < 1) bad("frequency", frequency, "must be >= 1");
    if (end_step != -1 && end_step < begin_step)
        bad("end_step", end_step, fmt::format("is before begin_step = {}", begin_step).c_str());
    if (kind == schedule_kind::polynomial) {
        if (!(initial_sparsity >= 0.0 && initial_sparsity < 1.0))
            bad("initial_sparsity", initial_sparsity, "is outside [0, 1)");
        if (end_step <= begin_step)
            bad("end_step", end_step,
                fmt::format("must be > begin_step = {} for a polynomial schedule", begin_step)
                    .c_str());
        if (!(power > 0.0) || !std::isfinite(power)) bad("power", power, "must be finite and > 0");
    }
}

double sparsity_schedule::sparsity_at(std::int64_t step) const {
    validate();
    if (kind == schedule_kind::constant) return final_sparsity;
    const double p =
        std::clamp(double(step - begin_step) / double(end_step - begin_step), 0.0, 1.0);
    return final_sparsity + (initial_sparsity - final_sparsity) * std::pow(1.0 - p, power);
}

bool sparsity_schedule::should_prune(std::int64_t step) const {
    validate();
    const bool in_range = step >= begin_step && (end_step == -1 || step <= end_step);
    return in_range && (step - begin_step) % frequency == 0;
}

} // namespace hone
