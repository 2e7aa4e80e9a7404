// AVX-512 tier of the quantize family: byte moves with AVX-512 F/BW narrowing and widening,
// arithmetic from the template.
#include "quantize_simd.hpp"

namespace hone::kernels {

namespace simd {

template <> struct byte_io<xsimd::avx512bw> {
    using i32 = xsimd::batch<std::int32_t, xsimd::avx512bw>;

    static i32 load_s8(const std::uint8_t* src) {
        return _mm512_cvtepi8_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(src)));
    }
    static i32 load_u8(const std::uint8_t* src) {
        return _mm512_cvtepu8_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(src)));
    }
    static void store(i32 v, std::uint8_t* dst) {
        _mm_storeu_si128(reinterpret_cast<__m128i*>(dst), _mm512_cvtepi32_epi8(v));
    }

    // 64 elements → 32 bytes: maddubs forms lo + 16·hi in each 16-bit lane, vpmovwb narrows.
    static void pack_nibbles(const std::uint8_t* src, std::size_t n, std::uint8_t* dst) {
        const __m512i nibble = _mm512_set1_epi8(15), weights = _mm512_set1_epi16(0x1001);
        std::size_t i = 0;
        for (; i + 64 <= n; i += 64) {
            const __m512i a = _mm512_and_si512(_mm512_loadu_si512(src + i), nibble);
            _mm256_storeu_si256(reinterpret_cast<__m256i*>(dst + i / 2),
                                _mm512_cvtepi16_epi8(_mm512_maddubs_epi16(a, weights)));
        }
        quantize_ref.pack_nibbles(src + i, n - i, dst + i / 2);
    }

    // 32 bytes → 64 elements: widen each byte to 16 bits, then low nibble | high nibble << 8.
    static void unpack_nibbles(const std::uint8_t* src, std::size_t n, bool is_signed,
                               std::uint8_t* dst) {
        const __m512i nibble = _mm512_set1_epi16(15), eight = _mm512_set1_epi8(8);
        std::size_t i = 0;
        for (; i + 64 <= n; i += 64) {
            const __m512i w = _mm512_cvtepu8_epi16(
                _mm256_loadu_si256(reinterpret_cast<const __m256i*>(src + i / 2)));
            const __m512i lo = _mm512_and_si512(w, nibble);
            const __m512i hi = _mm512_and_si512(_mm512_srli_epi16(w, 4), nibble);
            __m512i o = _mm512_or_si512(lo, _mm512_slli_epi16(hi, 8));
            if (is_signed) o = _mm512_sub_epi8(_mm512_xor_si512(o, eight), eight);
            _mm512_storeu_si512(dst + i, o);
        }
        quantize_ref.unpack_nibbles(src + i / 2, n - i, is_signed, dst + i);
    }
};

} // namespace simd

const quantize_table quantize_avx512 = simd::quantize_kernels<xsimd::avx512bw>::table;

} // namespace hone::kernels
