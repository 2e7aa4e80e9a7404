// Internal: the weight-only int4 kernel family — the validated matrix the kernels see and the
// per-tier tables.
#pragma once

#include "../dispatch.hpp"

#include <cstddef>
#include <cstdint>

namespace hone::kernels {

/// Int4 group-wise weights in the plain packed form (docs/formats.md), already validated.
struct int4_matrix {
    const std::uint8_t* q;           ///< n·k/2 bytes; element 2i = low nibble of byte i
    const void* scales;              ///< n·groups values: f32, or f16 bits if scales_f16
    const std::uint8_t* zero_points; ///< u4, n·groups elements in flat nibble order; null = i4
    std::int64_t n;
    std::int64_t k;
    std::int64_t group_size; ///< even, ≥ 2, divides k
    bool scales_f16;

    std::int64_t groups() const noexcept { return k / group_size; }
};

/// Nibble i of a flat 4-bit array.
inline int nibble(const std::uint8_t* p, std::int64_t i) noexcept {
    return (p[i >> 1] >> ((i & 1) * 4)) & 0xf;
}

/// Zero point of group j of row r: 8 for i4 (whose nibbles are read with bit 3 flipped, so that
/// (nibble ^ 8) − 8 is the signed value), the stored u4 value otherwise.
inline int zero_point(const int4_matrix& w, std::int64_t r, std::int64_t j) noexcept {
    return w.zero_points ? nibble(w.zero_points, r * w.groups() + j) : 8;
}

/// The xor applied to a nibble before subtracting zero_point(): 8 for i4, 0 for u4.
inline int nibble_flip(const int4_matrix& w) noexcept { return w.zero_points ? 0 : 8; }

struct weight_only_table {
    /// Copies x[0, k) into xp in the order gemv_rows reads it.
    void (*prepare_x)(const float* x, float* xp, std::int64_t k, std::int64_t group_size);
    /// y[r] = Σ_groups scale·Σ_k (q − zp)·x[k] (+ bias[r] if bias) for rows [r0, r1).
    void (*gemv_rows)(const int4_matrix& w, const float* xp, const float* bias, float* y,
                      std::int64_t r0, std::int64_t r1);
    /// dst[(r − r0)·k + c] = float(q − zp)·scale for rows [r0, r1); identical on every tier.
    void (*dequantize_rows)(const int4_matrix& w, float* dst, std::int64_t r0, std::int64_t r1);
};

extern const weight_only_table weight_only_ref;
extern const weight_only_table weight_only_avx2;
extern const weight_only_table weight_only_avx512;

const dispatch<weight_only_table>& weight_only_kernels() noexcept;

} // namespace hone::kernels
