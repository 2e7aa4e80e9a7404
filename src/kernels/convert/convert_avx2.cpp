// AVX2 tier: F16C for f16, xsimd for bf16.
#include "convert_simd.hpp"

namespace hone::kernels {

namespace {

using k = simd::convert_kernels<xsimd::fma3<xsimd::avx2>>;

void f32_to_f16(const float* src, std::uint16_t* dst, std::size_t n) {
    std::size_t i = 0;
    for (; i + 8 <= n; i += 8)
        _mm_storeu_si128(reinterpret_cast<__m128i*>(dst + i),
                         _mm256_cvtps_ph(_mm256_loadu_ps(src + i), _MM_FROUND_TO_NEAREST_INT));
    convert_ref.f32_to_f16(src + i, dst + i, n - i);
}

void f16_to_f32(const std::uint16_t* src, float* dst, std::size_t n) {
    std::size_t i = 0;
    for (; i + 8 <= n; i += 8)
        _mm256_storeu_ps(
            dst + i, _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(src + i))));
    convert_ref.f16_to_f32(src + i, dst + i, n - i);
}

} // namespace

const convert_table convert_avx2 = {f32_to_f16, f16_to_f32, k::f32_to_bf16, k::bf16_to_f32};

} // namespace hone::kernels
