// Internal: per-ISA unpacking of b-bit indices and codebook lookup in registers, for the
// palettized template. Included only by per-ISA translation units.
//
// Unpack: the W indices of one step occupy W·b/8 whole bytes (W = 8 or 16). Those bytes are
// broadcast to every 128-bit lane; a byte shuffle gives each 32-bit lane the (at most two) bytes
// holding its index, a variable shift and a mask finish it. Lookup: up to 2^5 (AVX2) or 2^6
// (AVX-512) entries are permuted out of registers; larger codebooks are gathered.
#pragma once

#include <immintrin.h>
#include <xsimd/xsimd.hpp>

#include <cstdint>
#include <cstring>

namespace hone::kernels::simd {

template <class Arch> struct palette;

/// Shuffle bytes and shifts for W lanes of b-bit indices: lane i reads bytes o, o+1 (o = ⌊ib/8⌋,
/// local to its 128-bit lane's copy) and shifts right by ib mod 8.
template <std::size_t W> struct unpack_plan {
    alignas(64) std::int8_t shuffle[4 * W];
    alignas(64) std::int32_t shift[W];
    explicit unpack_plan(int b) {
        for (std::size_t i = 0; i < W; ++i) {
            const std::size_t p = i * std::size_t(b);
            const auto o = static_cast<std::int8_t>(p >> 3);
            shift[i] = std::int32_t(p & 7);
            shuffle[4 * i] = o;
            shuffle[4 * i + 1] = (p & 7) + std::size_t(b) > 8 ? std::int8_t(o + 1) : -1;
            shuffle[4 * i + 2] = -1;
            shuffle[4 * i + 3] = -1;
        }
    }
};

template <> struct palette<xsimd::fma3<xsimd::avx2>> {
    static constexpr std::size_t W = 8;
    struct plan {
        __m256i shuffle, shift, mask;
        explicit plan(int b) {
            const unpack_plan<W> p(b);
            shuffle = _mm256_load_si256(reinterpret_cast<const __m256i*>(p.shuffle));
            shift = _mm256_load_si256(reinterpret_cast<const __m256i*>(p.shift));
            mask = _mm256_set1_epi32((1 << b) - 1);
        }
    };
    /// W indices from the b bytes at p (reads 16 bytes, or copies when fewer remain before end).
    static __m256i unpack(const std::uint8_t* p, const std::uint8_t* end, const plan& k) {
        __m128i bytes;
        if (end - p >= 16) {
            bytes = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p));
        } else {
            alignas(16) std::uint8_t tmp[16] = {};
            std::memcpy(tmp, p, std::size_t(end - p));
            bytes = _mm_load_si128(reinterpret_cast<const __m128i*>(tmp));
        }
        const __m256i both = _mm256_broadcastsi128_si256(bytes);
        return _mm256_and_si256(_mm256_srlv_epi32(_mm256_shuffle_epi8(both, k.shuffle), k.shift),
                                k.mask);
    }
    struct lut {
        __m256i t[4];
        const float* table;
        int bits;
        lut(const float* cb, int b) : table(cb), bits(b) {
            alignas(32) float pad[32] = {};
            std::memcpy(pad, cb, sizeof(float) * std::size_t(b <= 5 ? (1 << b) : 0));
            for (int i = 0; i < 4; ++i)
                t[i] = _mm256_castps_si256(_mm256_load_ps(pad + 8 * i));
        }
    };
    static __m256 lookup(const lut& l, __m256i idx) {
        const auto pick = [&](int i) {
            return _mm256_permutevar8x32_ps(_mm256_castsi256_ps(l.t[i]), idx);
        };
        if (l.bits <= 3) return pick(0);
        const __m256 bit3 = _mm256_castsi256_ps(_mm256_slli_epi32(idx, 28));
        if (l.bits == 4) return _mm256_blendv_ps(pick(0), pick(1), bit3);
        if (l.bits == 5) {
            const __m256 bit4 = _mm256_castsi256_ps(_mm256_slli_epi32(idx, 27));
            return _mm256_blendv_ps(_mm256_blendv_ps(pick(0), pick(1), bit3),
                                    _mm256_blendv_ps(pick(2), pick(3), bit3), bit4);
        }
        return _mm256_i32gather_ps(l.table, idx, 4);
    }
};

#if XSIMD_WITH_AVX512BW
template <> struct palette<xsimd::avx512bw> {
    static constexpr std::size_t W = 16;
    struct plan {
        __m512i shuffle, shift, mask;
        explicit plan(int b) {
            const unpack_plan<W> p(b);
            shuffle = _mm512_load_si512(p.shuffle);
            shift = _mm512_load_si512(p.shift);
            mask = _mm512_set1_epi32((1 << b) - 1);
        }
    };
    static __m512i unpack(const std::uint8_t* p, const std::uint8_t* end, const plan& k) {
        __m128i bytes;
        if (end - p >= 16) {
            bytes = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p));
        } else {
            alignas(16) std::uint8_t tmp[16] = {};
            std::memcpy(tmp, p, std::size_t(end - p));
            bytes = _mm_load_si128(reinterpret_cast<const __m128i*>(tmp));
        }
        const __m512i all = _mm512_broadcast_i32x4(bytes);
        return _mm512_and_si512(_mm512_srlv_epi32(_mm512_shuffle_epi8(all, k.shuffle), k.shift),
                                k.mask);
    }
    struct lut {
        __m512 t[4];
        const float* table;
        int bits;
        lut(const float* cb, int b) : table(cb), bits(b) {
            alignas(64) float pad[64] = {};
            std::memcpy(pad, cb, sizeof(float) * std::size_t(b <= 6 ? (1 << b) : 0));
            for (int i = 0; i < 4; ++i)
                t[i] = _mm512_load_ps(pad + 16 * i);
        }
    };
    static __m512 lookup(const lut& l, __m512i idx) {
        if (l.bits <= 4) return _mm512_permutexvar_ps(idx, l.t[0]);
        if (l.bits == 5) return _mm512_permutex2var_ps(l.t[0], idx, l.t[1]);
        if (l.bits == 6)
            return _mm512_mask_blend_ps(_mm512_test_epi32_mask(idx, _mm512_set1_epi32(32)),
                                        _mm512_permutex2var_ps(l.t[0], idx, l.t[1]),
                                        _mm512_permutex2var_ps(l.t[2], idx, l.t[3]));
        return _mm512_i32gather_ps(idx, l.table, 4);
    }
};
#endif

} // namespace hone::kernels::simd
