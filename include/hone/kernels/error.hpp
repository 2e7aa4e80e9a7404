// hone/kernels/error.hpp — how far a tensor is from its reference: the sums behind SQNR and MSE.
//
// Every "how much did this change hurt" figure in hone (the quantizer's per-tensor report, the
// per-layer activation error of a validation, the pruner's and clusterer's layer-output error)
// is built from these sums, accumulated in double so that millions of small errors are not lost.
// Sums of several batches add up (merge()), so the figures stream over calibration data.
#pragma once

#include "hone/core/export.hpp"

#include <cstdint>
#include <span>

namespace hone::kernels {

struct error_sums {
    std::uint64_t count = 0;      ///< elements compared
    double reference_sq = 0;      ///< Σ ref²
    double error_sq = 0;          ///< Σ (test − ref)²
    double max_abs_error = 0;     ///< max |test − ref|
    std::uint64_t non_finite = 0; ///< elements where test or ref is NaN or ±inf (not summed)

    /// Adds another batch's sums.
    HONE_EXPORT void merge(const error_sums& other) noexcept;
    /// Σ err² / count; 0 for no elements.
    HONE_EXPORT double mse() const noexcept;
    /// 10·log10(Σ ref² / Σ err²) in dB; +inf when the error is exactly zero, -inf when the
    /// reference is all zeros but the error is not.
    HONE_EXPORT double sqnr_db() const noexcept;
};

/// The sums for `test` against `reference` (same length; throws shape_mismatch naming `what`
/// otherwise). Deterministic: a fixed summation order, whatever the thread count.
HONE_EXPORT error_sums compare(std::span<const float> reference, std::span<const float> test,
                               const char* what = "compare");

} // namespace hone::kernels
