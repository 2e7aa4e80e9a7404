// The quantize family for one SIMD tier. Included by quantize_avx2.cpp / quantize_avx512.cpp,
// each compiled with its tier's flags; Arch is the xsimd architecture of that tier.
//
// The arithmetic is the reference's, lane by lane: an IEEE division, round-half-even
// (vroundps / vrndscaleps with an explicit nearest-even immediate), an exact add of the zero
// point, NaN → zero point, clamp, truncating conversion of an integral value. Moving bytes in
// and out of lanes is tier-specific: each tier's TU specialises byte_io<Arch> before using
// quantize_kernels<Arch>:
//   static i32 load_s8(const std::uint8_t*);  // width bytes, sign-extended
//   static i32 load_u8(const std::uint8_t*);  // width bytes, zero-extended
//   static void store(i32, std::uint8_t*);    // low byte of each lane, width bytes
//   static void pack_nibbles(...), unpack_nibbles(...);  // as quantize_table
#pragma once

#include "quantize.hpp"

#include <immintrin.h>
#include <xsimd/xsimd.hpp>

namespace hone::kernels::simd {

template <class Arch> struct byte_io;

template <class Arch> struct quantize_kernels {
    using f32 = xsimd::batch<float, Arch>;
    using i32 = xsimd::batch<std::int32_t, Arch>;
    using io = byte_io<Arch>;
    static constexpr std::size_t width = f32::size;

    static i32 quantize_lanes(f32 x, f32 scale, f32 zp, f32 lo, f32 hi) {
        f32 r = xsimd::nearbyint(x / scale) + zp;
        r = xsimd::select(xsimd::isnan(r), zp, r);
        r = xsimd::min(xsimd::max(r, lo), hi);
        return xsimd::batch_cast<std::int32_t>(r);
    }

    static void quantize(const float* src, std::size_t n, float scale, float zp, float lo, float hi,
                         std::uint8_t* dst) {
        const f32 s(scale), z(zp), l(lo), h(hi);
        std::size_t i = 0;
        for (; i + 2 * width <= n; i += 2 * width) {
            const i32 a = quantize_lanes(f32::load_unaligned(src + i), s, z, l, h);
            const i32 b = quantize_lanes(f32::load_unaligned(src + i + width), s, z, l, h);
            io::store(a, dst + i);
            io::store(b, dst + i + width);
        }
        for (; i + width <= n; i += width)
            io::store(quantize_lanes(f32::load_unaligned(src + i), s, z, l, h), dst + i);
        quantize_ref.quantize(src + i, n - i, scale, zp, lo, hi, dst + i);
    }

    static void quantize_vec(const float* src, std::size_t n, const float* scale, const float* zp,
                             float lo, float hi, std::uint8_t* dst) {
        const f32 l(lo), h(hi);
        std::size_t i = 0;
        for (; i + width <= n; i += width)
            io::store(quantize_lanes(f32::load_unaligned(src + i), f32::load_unaligned(scale + i),
                                     f32::load_unaligned(zp + i), l, h),
                      dst + i);
        quantize_ref.quantize_vec(src + i, n - i, scale + i, zp + i, lo, hi, dst + i);
    }

    template <bool Signed> static f32 load_q(const std::uint8_t* src) {
        if constexpr (Signed)
            return xsimd::batch_cast<float>(io::load_s8(src));
        else
            return xsimd::batch_cast<float>(io::load_u8(src));
    }

    template <bool Signed>
    static void dequantize(const std::uint8_t* src, std::size_t n, float scale, float zp,
                           float* dst) {
        const f32 s(scale), z(zp);
        std::size_t i = 0;
        for (; i + width <= n; i += width)
            ((load_q<Signed>(src + i) - z) * s).store_unaligned(dst + i);
        (Signed ? quantize_ref.dequantize_s8 : quantize_ref.dequantize_u8)(src + i, n - i, scale,
                                                                           zp, dst + i);
    }

    template <bool Signed>
    static void dequantize_vec(const std::uint8_t* src, std::size_t n, const float* scale,
                               const float* zp, float* dst) {
        std::size_t i = 0;
        for (; i + width <= n; i += width)
            ((load_q<Signed>(src + i) - f32::load_unaligned(zp + i)) *
             f32::load_unaligned(scale + i))
                .store_unaligned(dst + i);
        (Signed ? quantize_ref.dequantize_s8_vec
                : quantize_ref.dequantize_u8_vec)(src + i, n - i, scale + i, zp + i, dst + i);
    }

    static constexpr quantize_table table = {
        quantize,          quantize_vec,         dequantize<true>,
        dequantize<false>, dequantize_vec<true>, dequantize_vec<false>,
        io::pack_nibbles,  io::unpack_nibbles};
};

} // namespace hone::kernels::simd
