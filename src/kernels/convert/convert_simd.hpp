// The convert family for one SIMD tier. Included by convert_avx2.cpp / convert_avx512.cpp,
// each compiled with its tier's flags; Arch is the xsimd architecture of that tier.
#pragma once

#include "convert.hpp"

#include <immintrin.h>
#include <xsimd/xsimd.hpp>

namespace hone::kernels::simd {

template <class Arch> struct convert_kernels {
    using u32 = xsimd::batch<std::uint32_t, Arch>;
    using f32 = xsimd::batch<float, Arch>;
    static constexpr std::size_t width = f32::size;

    // bf16 = upper half of f32 rounded to nearest even; NaN → quiet NaN (as the reference).
    static u32 bf16_bits(f32 x) {
        const u32 bits = xsimd::bitwise_cast<u32>(x);
        const u32 rounded = (bits + u32(0x7fffu) + ((bits >> 16) & u32(1u))) >> 16;
        const u32 nan = (bits >> 16) | u32(0x40u);
        return xsimd::select((bits & u32(0x7fffffffu)) > u32(0x7f800000u), nan, rounded);
    }

    static void f32_to_bf16(const float* src, std::uint16_t* dst, std::size_t n) {
        std::size_t i = 0;
        alignas(64) std::uint32_t lanes[width];
        for (; i + width <= n; i += width) {
            bf16_bits(f32::load_unaligned(src + i)).store_aligned(lanes);
            for (std::size_t k = 0; k < width; ++k)
                dst[i + k] = static_cast<std::uint16_t>(lanes[k]);
        }
        convert_ref.f32_to_bf16(src + i, dst + i, n - i);
    }

    static void bf16_to_f32(const std::uint16_t* src, float* dst, std::size_t n) {
        std::size_t i = 0;
        alignas(64) std::uint32_t lanes[width];
        for (; i + width <= n; i += width) {
            for (std::size_t k = 0; k < width; ++k)
                lanes[k] = std::uint32_t(src[i + k]) << 16;
            u32::load_aligned(lanes).store_unaligned(reinterpret_cast<std::uint32_t*>(dst + i));
        }
        convert_ref.bf16_to_f32(src + i, dst + i, n - i);
    }
};

} // namespace hone::kernels::simd
