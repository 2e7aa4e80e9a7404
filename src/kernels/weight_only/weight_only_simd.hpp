// The weight-only int4 family for one SIMD tier. Included by weight_only_avx2.cpp and
// weight_only_avx512.cpp, each compiled with its tier's flags. Arch is the xsimd architecture;
// Widen (from the tier's TU) has load(p): width bytes zero-extended to 32-bit lanes, and
// to_f32(v): 16 signed bytes to 16/width f32 batches, in order.
//
// GEMV: weights are read exactly as stored. A widened load of width bytes puts one byte = two
// weights in each 32-bit lane; (d & 15) is the even weight and d >> 4 the odd one (for i4,
// (d << 28) >> 28 and (d << 24) >> 28 sign-extend them). prepare_x reorders x once per call to
// match: each block of 2·width weights becomes [x0, x2, …, x(2w−2), x1, x3, …, x(2w−1)].
// A chunk is 32 weights (16 bytes); weights of a group past its last whole chunk
// (group_size mod 32) are done in scalar code in natural order.
// Dequantize: bytes are split into low/high nibbles, re-interleaved (unpacklo/hi_epi8) into
// natural order, widened, converted and multiplied by the scale: one rounding, as the reference.
#pragma once

#include "weight_only.hpp"

#include <immintrin.h>
#include <xsimd/xsimd.hpp>

namespace hone::kernels::simd {

template <class Arch, class Widen> struct weight_only_kernels {
    using f32 = xsimd::batch<float, Arch>;
    using i32 = xsimd::batch<std::int32_t, Arch>;
    static constexpr int width = static_cast<int>(f32::size);
    static constexpr int block = 2 * width;      // weights in one widened load of width bytes
    static constexpr int per_chunk = 32 / block; // widened loads per chunk of 32 weights
    static constexpr int per_half = 16 / width;  // f32 batches per 16 weights (dequantize)
    static_assert(32 % block == 0);

    static float scale_at(const int4_matrix& w, std::int64_t i) noexcept {
        if (w.scales_f16) return _cvtsh_ss(static_cast<const std::uint16_t*>(w.scales)[i]);
        return static_cast<const float*>(w.scales)[i];
    }

    /// Signed weights (q − zp) of the chunk at p, as bytes: even elements and odd elements.
    static void split(const std::uint8_t* p, __m128i flip, __m128i zp, __m128i& even,
                      __m128i& odd) noexcept {
        const __m128i low4 = _mm_set1_epi8(0x0f);
        const __m128i b = _mm_xor_si128(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p)), flip);
        even = _mm_sub_epi8(_mm_and_si128(b, low4), zp);
        odd = _mm_sub_epi8(_mm_and_si128(_mm_srli_epi16(b, 4), low4), zp);
    }

    /// Rearranges each block of 2·width weights' x to [even elements, odd elements]: a
    /// widened load of width bytes gives the even weights (low nibbles) and the odd ones (high
    /// nibbles) each in lane order. Weights past a group's last whole chunk keep their order.
    static void prepare_x(const float* x, float* xp, std::int64_t k, std::int64_t g) {
        const std::int64_t whole = g / 32 * 32;
        for (std::int64_t g0 = 0; g0 < k; g0 += g) {
            std::int64_t c = 0;
            for (; c < whole; c += block) {
                const float* s = x + g0 + c;
                float* d = xp + g0 + c;
                for (int i = 0; i < width; ++i) {
                    d[i] = s[2 * i];
                    d[width + i] = s[2 * i + 1];
                }
            }
            for (; c < g; ++c)
                xp[g0 + c] = x[g0 + c];
        }
    }

    /// (q − zp) of the 2·width weights whose bytes were widened into d: even and odd elements.
    template <bool Symmetric> static void values(i32 d, i32 zp, f32& even, f32& odd) noexcept {
        if constexpr (Symmetric) { // sign-extend each nibble: i4 has no zero point
            even = xsimd::to_float((d << 28) >> 28);
            odd = xsimd::to_float((d << 24) >> 28);
        } else {
            even = xsimd::to_float((d & i32(0xf)) - zp);
            odd = xsimd::to_float((d >> 4) - zp);
        }
    }

    template <bool Symmetric>
    static void rows(const int4_matrix& w, const float* xp, const float* bias, float* y,
                     std::int64_t r0, std::int64_t r1) {
        const std::int64_t g = w.group_size, groups = w.groups(), whole = g / 32 * 32;
        for (std::int64_t r = r0; r < r1; ++r) {
            const std::uint8_t* q = w.q + r * (w.k / 2);
            f32 total(0.0f);
            float tail_total = 0.0f;
            for (std::int64_t j = 0; j < groups; ++j) {
                const int zp = Symmetric ? 0 : nibble(w.zero_points, r * groups + j);
                const i32 zp_v(zp);
                const std::uint8_t* qg = q + j * g / 2;
                const float* xg = xp + j * g;
                f32 acc[2 * per_chunk];
#pragma GCC unroll 4
                for (int i = 0; i < 2 * per_chunk; ++i)
                    acc[i] = f32(0.0f);
                const std::uint8_t* qc = qg;
                const float* xc = xg;
                for (const std::uint8_t* end = qg + whole / 2; qc != end; qc += 16, xc += 32) {
#pragma GCC unroll 2
                    for (int b = 0; b < per_chunk; ++b) {
                        f32 even, odd;
                        values<Symmetric>(Widen::load(qc + b * width), zp_v, even, odd);
                        const float* xb = xc + b * block;
                        acc[2 * b] = xsimd::fma(even, f32::load_unaligned(xb), acc[2 * b]);
                        acc[2 * b + 1] =
                            xsimd::fma(odd, f32::load_unaligned(xb + width), acc[2 * b + 1]);
                    }
                }
#pragma GCC unroll 4
                for (int i = 1; i < 2 * per_chunk; ++i)
                    acc[0] += acc[i];
                const float s = scale_at(w, r * groups + j);
                total = xsimd::fma(acc[0], f32(s), total);
                if (whole < g) {
                    const int flip = Symmetric ? 8 : 0, z = Symmetric ? 8 : zp;
                    float tail = 0.0f;
                    for (std::int64_t c = j * g + whole; c < (j + 1) * g; ++c)
                        tail += static_cast<float>((nibble(q, c) ^ flip) - z) * xp[c];
                    tail_total += s * tail;
                }
            }
            const float sum = xsimd::hadd(total) + tail_total;
            y[r] = bias ? sum + bias[r] : sum;
        }
    }

    static void gemv_rows(const int4_matrix& w, const float* xp, const float* bias, float* y,
                          std::int64_t r0, std::int64_t r1) {
        if (w.zero_points)
            rows<false>(w, xp, bias, y, r0, r1);
        else
            rows<true>(w, xp, bias, y, r0, r1);
    }

    static void dequantize_rows(const int4_matrix& w, float* dst, std::int64_t r0,
                                std::int64_t r1) {
        const std::int64_t g = w.group_size, groups = w.groups(), whole = g / 32 * 32;
        const int flip = nibble_flip(w);
        const __m128i flip_v = _mm_set1_epi8(static_cast<char>(flip * 0x11));
        for (std::int64_t r = r0; r < r1; ++r) {
            const std::uint8_t* q = w.q + r * (w.k / 2);
            float* out = dst + (r - r0) * w.k;
            for (std::int64_t j = 0; j < groups; ++j) {
                const int zp = zero_point(w, r, j);
                const __m128i zp_v = _mm_set1_epi8(static_cast<char>(zp));
                const float s = scale_at(w, r * groups + j);
                const f32 s_v(s);
                for (std::int64_t c = 0; c < whole; c += 32) {
                    __m128i even, odd;
                    split(q + (j * g + c) / 2, flip_v, zp_v, even, odd);
                    f32 v[2 * per_half];
                    Widen::to_f32(_mm_unpacklo_epi8(even, odd), v);
                    Widen::to_f32(_mm_unpackhi_epi8(even, odd), v + per_half);
#pragma GCC unroll 4
                    for (int i = 0; i < 2 * per_half; ++i)
                        (v[i] * s_v).store_unaligned(out + j * g + c + i * width);
                }
                for (std::int64_t c = j * g + whole; c < (j + 1) * g; ++c)
                    out[c] = static_cast<float>((nibble(q, c) ^ flip) - zp) * s;
            }
        }
    }

    static constexpr weight_only_table table{prepare_x, gemv_rows, dequantize_rows};
};

} // namespace hone::kernels::simd
