// AVX2 tier of the quantize family: byte moves with AVX2 shuffles, arithmetic from the template.
#include "quantize_simd.hpp"

namespace hone::kernels {

namespace simd {

template <> struct byte_io<xsimd::fma3<xsimd::avx2>> {
    using i32 = xsimd::batch<std::int32_t, xsimd::fma3<xsimd::avx2>>;

    static i32 load_s8(const std::uint8_t* src) {
        return _mm256_cvtepi8_epi32(_mm_loadl_epi64(reinterpret_cast<const __m128i*>(src)));
    }
    static i32 load_u8(const std::uint8_t* src) {
        return _mm256_cvtepu8_epi32(_mm_loadl_epi64(reinterpret_cast<const __m128i*>(src)));
    }
    static void store(i32 v, std::uint8_t* dst) {
        const __m256i low_bytes =
            _mm256_setr_epi8(0, 4, 8, 12, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, 0, 4, 8,
                             12, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1);
        const __m256i b = _mm256_shuffle_epi8(v, low_bytes);
        _mm_storel_epi64(
            reinterpret_cast<__m128i*>(dst),
            _mm_unpacklo_epi32(_mm256_castsi256_si128(b), _mm256_extracti128_si256(b, 1)));
    }

    // 64 elements → 32 bytes: maddubs forms lo + 16·hi in each 16-bit lane, packus narrows.
    static void pack_nibbles(const std::uint8_t* src, std::size_t n, std::uint8_t* dst) {
        const __m256i nibble = _mm256_set1_epi8(15), weights = _mm256_set1_epi16(0x1001);
        std::size_t i = 0;
        for (; i + 64 <= n; i += 64) {
            const __m256i a = _mm256_and_si256(
                _mm256_loadu_si256(reinterpret_cast<const __m256i*>(src + i)), nibble);
            const __m256i b = _mm256_and_si256(
                _mm256_loadu_si256(reinterpret_cast<const __m256i*>(src + i + 32)), nibble);
            const __m256i packed = _mm256_packus_epi16(_mm256_maddubs_epi16(a, weights),
                                                       _mm256_maddubs_epi16(b, weights));
            _mm256_storeu_si256(reinterpret_cast<__m256i*>(dst + i / 2),
                                _mm256_permute4x64_epi64(packed, 0xD8));
        }
        quantize_ref.pack_nibbles(src + i, n - i, dst + i / 2);
    }

    // 32 bytes → 64 elements: split nibbles, interleave, fix the 128-bit lane order.
    static void unpack_nibbles(const std::uint8_t* src, std::size_t n, bool is_signed,
                               std::uint8_t* dst) {
        const __m256i nibble = _mm256_set1_epi8(15), eight = _mm256_set1_epi8(8);
        std::size_t i = 0;
        for (; i + 64 <= n; i += 64) {
            const __m256i b = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(src + i / 2));
            const __m256i lo = _mm256_and_si256(b, nibble);
            const __m256i hi = _mm256_and_si256(_mm256_srli_epi16(b, 4), nibble);
            const __m256i x0 = _mm256_unpacklo_epi8(lo, hi), x1 = _mm256_unpackhi_epi8(lo, hi);
            __m256i o0 = _mm256_permute2x128_si256(x0, x1, 0x20);
            __m256i o1 = _mm256_permute2x128_si256(x0, x1, 0x31);
            if (is_signed) {
                o0 = _mm256_sub_epi8(_mm256_xor_si256(o0, eight), eight);
                o1 = _mm256_sub_epi8(_mm256_xor_si256(o1, eight), eight);
            }
            _mm256_storeu_si256(reinterpret_cast<__m256i*>(dst + i), o0);
            _mm256_storeu_si256(reinterpret_cast<__m256i*>(dst + i + 32), o1);
        }
        quantize_ref.unpack_nibbles(src + i / 2, n - i, is_signed, dst + i);
    }
};

} // namespace simd

const quantize_table quantize_avx2 = simd::quantize_kernels<xsimd::fma3<xsimd::avx2>>::table;

} // namespace hone::kernels
