// Scalar reference of the quantize family: defines the exact results every tier must return.
#include "quantize.hpp"

namespace hone::kernels {

namespace {

using quantize_rules::quantize_one;

void quantize(const float* src, std::size_t n, float scale, float zp, float lo, float hi,
              std::uint8_t* dst) {
    for (std::size_t i = 0; i < n; ++i)
        dst[i] = quantize_one(src[i], scale, zp, lo, hi);
}

void quantize_vec(const float* src, std::size_t n, const float* scale, const float* zp, float lo,
                  float hi, std::uint8_t* dst) {
    for (std::size_t i = 0; i < n; ++i)
        dst[i] = quantize_one(src[i], scale[i], zp[i], lo, hi);
}

float as_s8(std::uint8_t b) { return static_cast<float>(static_cast<std::int8_t>(b)); }
float as_u8(std::uint8_t b) { return static_cast<float>(b); }

void dequantize_s8(const std::uint8_t* src, std::size_t n, float scale, float zp, float* dst) {
    for (std::size_t i = 0; i < n; ++i)
        dst[i] = (as_s8(src[i]) - zp) * scale;
}

void dequantize_u8(const std::uint8_t* src, std::size_t n, float scale, float zp, float* dst) {
    for (std::size_t i = 0; i < n; ++i)
        dst[i] = (as_u8(src[i]) - zp) * scale;
}

void dequantize_s8_vec(const std::uint8_t* src, std::size_t n, const float* scale, const float* zp,
                       float* dst) {
    for (std::size_t i = 0; i < n; ++i)
        dst[i] = (as_s8(src[i]) - zp[i]) * scale[i];
}

void dequantize_u8_vec(const std::uint8_t* src, std::size_t n, const float* scale, const float* zp,
                       float* dst) {
    for (std::size_t i = 0; i < n; ++i)
        dst[i] = (as_u8(src[i]) - zp[i]) * scale[i];
}

void pack_nibbles(const std::uint8_t* src, std::size_t n, std::uint8_t* dst) {
    for (std::size_t k = 0; 2 * k < n; ++k) {
        const unsigned lo = src[2 * k] & 15u;
        const unsigned hi = 2 * k + 1 < n ? (src[2 * k + 1] & 15u) : 0u;
        dst[k] = static_cast<std::uint8_t>(lo | hi << 4);
    }
}

void unpack_nibbles(const std::uint8_t* src, std::size_t n, bool is_signed, std::uint8_t* dst) {
    for (std::size_t i = 0; i < n; ++i) {
        const unsigned v = (src[i / 2] >> (4 * (i % 2))) & 15u;
        dst[i] = static_cast<std::uint8_t>(is_signed ? ((v ^ 8u) - 8u) : v);
    }
}

} // namespace

const quantize_table quantize_ref = {quantize,      quantize_vec,      dequantize_s8,
                                     dequantize_u8, dequantize_s8_vec, dequantize_u8_vec,
                                     pack_nibbles,  unpack_nibbles};

} // namespace hone::kernels
