// Internal: the cluster kernel family's per-tier tables and the exact midpoint test.
#pragma once

#include "../dispatch.hpp"

#include <cstddef>
#include <cstdint>

namespace hone::kernels {

/// Whether v > (a + b) / 2 exactly (a, b finite). a + b is formed in double with its exact
/// rounding error e (TwoSum): 2v > s + e ⇔ 2v > s, or 2v == s and e < 0, because 2v (exact in
/// double) is never strictly between s and the exact sum when it differs from s.
inline bool above_midpoint(float v, float a, float b) noexcept {
    const double x = 2.0 * double(v);
    const double da = a, db = b;
    const double s = da + db;
    const double bb = s - da;
    const double e = (da - (s - bb)) + (db - bb);
    return x > s || (x == s && e < 0.0);
}

/// The f32 threshold of midpoint j: round-to-nearest of the exact midpoint, so for a float v,
/// v > t ⇒ above and v < t ⇒ not above; only v == t needs above_midpoint().
inline float midpoint_threshold(float a, float b) noexcept {
    return static_cast<float>((double(a) + double(b)) * 0.5);
}

struct cluster_table {
    /// idx[i] = number of j < k−1 with above_midpoint(x[i], c[j], c[j+1]); t[j] =
    /// midpoint_threshold(c[j], c[j+1]). x holds no NaN; 1 ≤ k ≤ 256.
    void (*assign)(const float* x, std::size_t n, const float* c, const float* t, std::size_t k,
                   std::uint8_t* idx);
    /// The first i with idx[i] ≥ k, or n.
    std::size_t (*first_invalid)(const std::uint8_t* idx, std::size_t n, std::size_t k);
    /// dst[i] = codebook[idx[i]] (indices already validated).
    void (*lookup)(const std::uint8_t* idx, std::size_t n, const float* codebook, float* dst);
};

extern const cluster_table cluster_ref;
extern const cluster_table cluster_avx2;
extern const cluster_table cluster_avx512;

const dispatch<cluster_table>& cluster_kernels() noexcept;

namespace ref {
std::uint8_t nearest(float v, const float* c, std::size_t k) noexcept;
void assign(const float* x, std::size_t n, const float* c, const float* t, std::size_t k,
            std::uint8_t* idx);
std::size_t first_invalid(const std::uint8_t* idx, std::size_t n, std::size_t k);
void lookup(const std::uint8_t* idx, std::size_t n, const float* codebook, float* dst);
} // namespace ref

} // namespace hone::kernels
