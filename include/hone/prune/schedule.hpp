// hone/prune/schedule.hpp — gradual pruning schedules for use with retraining (as in TFMOT).
//
// Constant:    s(t) = final_sparsity.
// Polynomial (Zhu & Gupta 2017, TFMOT PolynomialDecay):
//     p(t) = clamp((t − begin_step) / (end_step − begin_step), 0, 1)
//     s(t) = final + (initial − final)·(1 − p)^power            (power 3 by default)
// Pruning happens at step t when begin_step ≤ t, (end_step = −1 or t ≤ end_step) and
// (t − begin_step) mod frequency = 0; in between the mask is held.
#pragma once

#include "hone/core/export.hpp"

#include <cstdint>

namespace hone {

enum class schedule_kind : std::uint8_t { constant = 0, polynomial = 1 };

struct HONE_EXPORT sparsity_schedule {
    schedule_kind kind = schedule_kind::polynomial;
    double initial_sparsity = 0.0; ///< polynomial only; in [0, 1)
    double final_sparsity = 0.5;   ///< in [0, 1)
    std::int64_t begin_step = 0;
    std::int64_t end_step = -1;   ///< −1: no end (constant only); polynomial needs end > begin
    std::int64_t frequency = 100; ///< ≥ 1
    double power = 3.0;           ///< polynomial exponent, > 0

    /// Throws invalid_argument naming the field that is out of its domain.
    void validate() const;
    /// Target sparsity at `step` (validates first).
    double sparsity_at(std::int64_t step) const;
    /// Whether the mask is recomputed at `step`.
    bool should_prune(std::int64_t step) const;
};

} // namespace hone
