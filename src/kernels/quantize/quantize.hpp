// Internal: the quantize kernel family's per-tier tables and the scalar element rules.
//
// Kernels work on one byte per element; 4-bit types go through pack_nibbles / unpack_nibbles.
// Zero points and the clamp bounds are passed as floats holding small integers, so
// round(x / scale) + zp and the clamp are exact in f32 (any |round(x / scale)| ≥ 2^24 saturates
// anyway), and (q - zp) is exact too.
#pragma once

#include "../dispatch.hpp"

#include <cmath>
#include <cstddef>
#include <cstdint>

namespace hone::kernels {

struct quantize_table {
    /// dst[i] = low byte of the integer clamp(round_half_even(src[i] / scale) + zp, lo, hi);
    /// NaN → zp.
    void (*quantize)(const float* src, std::size_t n, float scale, float zp, float lo, float hi,
                     std::uint8_t* dst);
    /// The same with per-element scale[i] and zp[i].
    void (*quantize_vec)(const float* src, std::size_t n, const float* scale, const float* zp,
                         float lo, float hi, std::uint8_t* dst);
    /// dst[i] = (float(src[i]) - zp) * scale, src read as int8 (s8) or uint8 (u8).
    void (*dequantize_s8)(const std::uint8_t* src, std::size_t n, float scale, float zp,
                          float* dst);
    void (*dequantize_u8)(const std::uint8_t* src, std::size_t n, float scale, float zp,
                          float* dst);
    void (*dequantize_s8_vec)(const std::uint8_t* src, std::size_t n, const float* scale,
                              const float* zp, float* dst);
    void (*dequantize_u8_vec)(const std::uint8_t* src, std::size_t n, const float* scale,
                              const float* zp, float* dst);
    /// dst[k] = (src[2k] & 15) | (src[2k+1] & 15) << 4 for 2k < n; for odd n the last byte's
    /// high nibble is 0. Writes (n + 1) / 2 bytes.
    void (*pack_nibbles)(const std::uint8_t* src, std::size_t n, std::uint8_t* dst);
    /// dst[i] = nibble i of src (element order as above), sign-extended to a byte when
    /// is_signed (i4), else 0…15.
    void (*unpack_nibbles)(const std::uint8_t* src, std::size_t n, bool is_signed,
                           std::uint8_t* dst);
};

extern const quantize_table quantize_ref;
extern const quantize_table quantize_avx2;
extern const quantize_table quantize_avx512;

const dispatch<quantize_table>& quantize_kernels() noexcept;

namespace quantize_rules {

/// Round half to even, independent of the FP environment's rounding mode. Keeps the sign of
/// zero (as nearbyint: -0.4 → -0) and passes ±inf and NaN through.
inline float round_half_even(float x) noexcept {
    if (!(std::fabs(x) < 8388608.0f)) return x; // |x| ≥ 2^23 is integral (or inf / NaN)
    const float t = std::trunc(x);
    const float frac = std::fabs(x - t); // exact
    const float step = std::copysign(1.0f, x);
    if (frac > 0.5f || (frac == 0.5f && std::fmod(t, 2.0f) != 0.0f)) return t + step;
    return t;
}

inline std::uint8_t quantize_one(float x, float scale, float zp, float lo, float hi) noexcept {
    float r = round_half_even(x / scale) + zp;
    if (std::isnan(r)) r = zp;
    r = r < lo ? lo : (r > hi ? hi : r);
    return static_cast<std::uint8_t>(static_cast<std::int32_t>(r));
}

} // namespace quantize_rules

} // namespace hone::kernels
