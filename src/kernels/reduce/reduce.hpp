// Internal: the reduce kernel family's per-tier tables and the scalar rules every tier follows.
#pragma once

#include "../dispatch.hpp"

#include <cmath>
#include <cstddef>
#include <limits>

namespace hone::kernels {

/// All tiers implement these exactly (see hone/kernels/reduce.hpp for the value rules).
struct reduce_table {
    /// min and max of src[0, n); identities (+inf, -inf) for n = 0; canonical NaN if any NaN.
    void (*min_max)(const float* src, std::size_t n, float* min, float* max);
    /// max |src[i]|; +0 for n = 0; canonical NaN if any NaN.
    float (*abs_max)(const float* src, std::size_t n);
    /// Element-wise: min[j] = min(min[j], row[j]), max[j] = max(max[j], row[j]) for j < n;
    /// both become canonical NaN where row[j], min[j] or max[j] is NaN.
    void (*min_max_accumulate)(const float* row, std::size_t n, float* min, float* max);
    /// Element-wise: amax[j] = max(amax[j], |row[j]|); canonical NaN where either is NaN.
    void (*abs_max_accumulate)(const float* row, std::size_t n, float* amax);
};

extern const reduce_table reduce_ref;
extern const reduce_table reduce_avx2;
extern const reduce_table reduce_avx512;

const dispatch<reduce_table>& reduce_kernels() noexcept;

namespace reduce_rules {

inline constexpr float nan = std::numeric_limits<float>::quiet_NaN(); // 0x7fc00000
inline constexpr float inf = std::numeric_limits<float>::infinity();

/// min/max of two non-NaN values with -0 < +0.
inline float min2(float a, float b) noexcept {
    return (b < a || (b == a && std::signbit(b))) ? b : a;
}
inline float max2(float a, float b) noexcept {
    return (b > a || (b == a && !std::signbit(b))) ? b : a;
}

} // namespace reduce_rules

} // namespace hone::kernels
