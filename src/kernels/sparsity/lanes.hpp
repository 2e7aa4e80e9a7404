// Internal: per-ISA lane helpers the xsimd templates of the sparsity, cluster, norms and
// palettized families share (xsimd 8.1 has no mask-to-bits or widening u8 loads). Included only
// by per-ISA translation units, which are compiled with that tier's flags.
#pragma once

#include <immintrin.h>
#include <xsimd/xsimd.hpp>

#include <array>
#include <cstdint>
#include <cstring>
#include <utility>

namespace hone::kernels::simd {

/// bytes_01[b]: the 8 bytes b0 … b7 of the 8-bit mask b, each 0 or 1, as a little-endian u64.
inline constexpr std::array<std::uint64_t, 256> bytes_01 = [] {
    std::array<std::uint64_t, 256> t{};
    for (unsigned b = 0; b < 256; ++b)
        for (unsigned i = 0; i < 8; ++i)
            if (b >> i & 1u) t[b] |= std::uint64_t(1) << (8 * i);
    return t;
}();

/// Writes `lanes` bytes (a multiple of 8) to dst: 1 where bit i of bits is set, else 0.
inline void store_01(std::uint8_t* dst, std::uint32_t bits, std::size_t lanes) noexcept {
    for (std::size_t i = 0; i < lanes; i += 8) {
        const std::uint64_t v = bytes_01[(bits >> i) & 0xffu];
        std::memcpy(dst + i, &v, 8);
    }
}

template <class Arch> struct lanes;

template <> struct lanes<xsimd::fma3<xsimd::avx2>> {
    using A = xsimd::fma3<xsimd::avx2>;
    static std::uint32_t bits(xsimd::batch_bool<float, A> b) noexcept {
        return std::uint32_t(_mm256_movemask_ps(b));
    }
    static std::uint32_t bits(xsimd::batch_bool<std::int32_t, A> b) noexcept {
        return std::uint32_t(_mm256_movemask_ps(_mm256_castsi256_ps(b)));
    }
    static std::uint32_t bits(xsimd::batch_bool<std::uint32_t, A> b) noexcept {
        return std::uint32_t(_mm256_movemask_ps(_mm256_castsi256_ps(b)));
    }
    /// 8 bytes at p, zero-extended to 32-bit lanes.
    static xsimd::batch<std::int32_t, A> load_u8(const std::uint8_t* p) noexcept {
        return _mm256_cvtepu8_epi32(_mm_loadl_epi64(reinterpret_cast<const __m128i*>(p)));
    }
    /// Stores the low byte of each of the 8 lanes to p[0 … 8).
    static void store_u8(std::uint8_t* p, xsimd::batch<std::int32_t, A> v) noexcept {
        const __m256i s = _mm256_shuffle_epi8(
            v, _mm256_setr_epi8(0, 4, 8, 12, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, 0, 4,
                                8, 12, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1));
        const std::uint32_t lo = std::uint32_t(_mm256_extract_epi32(s, 0));
        const std::uint32_t hi = std::uint32_t(_mm256_extract_epi32(s, 4));
        std::memcpy(p, &lo, 4);
        std::memcpy(p + 4, &hi, 4);
    }
    /// The 8 floats at p as two batches of doubles (elements 0–3, 4–7).
    static std::pair<xsimd::batch<double, A>, xsimd::batch<double, A>>
    widen(const float* p) noexcept {
        return {_mm256_cvtps_pd(_mm_loadu_ps(p)), _mm256_cvtps_pd(_mm_loadu_ps(p + 4))};
    }
};

#if XSIMD_WITH_AVX512BW
template <> struct lanes<xsimd::avx512bw> {
    using A = xsimd::avx512bw;
    static std::uint32_t bits(xsimd::batch_bool<float, A> b) noexcept {
        return std::uint32_t(static_cast<__mmask16>(b));
    }
    static std::uint32_t bits(xsimd::batch_bool<std::int32_t, A> b) noexcept {
        return std::uint32_t(static_cast<__mmask16>(b));
    }
    static std::uint32_t bits(xsimd::batch_bool<std::uint32_t, A> b) noexcept {
        return std::uint32_t(static_cast<__mmask16>(b));
    }
    /// 16 bytes at p, zero-extended to 32-bit lanes.
    static xsimd::batch<std::int32_t, A> load_u8(const std::uint8_t* p) noexcept {
        return _mm512_cvtepu8_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p)));
    }
    /// Stores the low byte of each of the 16 lanes to p[0 … 16).
    static void store_u8(std::uint8_t* p, xsimd::batch<std::int32_t, A> v) noexcept {
        _mm_storeu_si128(reinterpret_cast<__m128i*>(p), _mm512_cvtepi32_epi8(v));
    }
    /// The 16 floats at p as two batches of doubles (elements 0–7, 8–15).
    static std::pair<xsimd::batch<double, A>, xsimd::batch<double, A>>
    widen(const float* p) noexcept {
        return {_mm512_cvtps_pd(_mm256_loadu_ps(p)), _mm512_cvtps_pd(_mm256_loadu_ps(p + 8))};
    }
};
#endif

} // namespace hone::kernels::simd
