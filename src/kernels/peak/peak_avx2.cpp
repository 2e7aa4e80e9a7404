// AVX2 tier: 10 independent 8-wide FMA chains (covers 2 FMA pipes × 4–5 cycles latency);
// int8 as VPMADDUBSW + VPMADDWD + VPADDD, 32 multiply-accumulates per step and chain.
#include "peak.hpp"

#include <immintrin.h>

namespace hone::kernels {

namespace {

constexpr int chains = 10;

double f32_fma(std::int64_t iterations, float* sink) {
    __m256 acc[chains];
    for (int k = 0; k < chains; ++k)
        acc[k] = _mm256_set1_ps(float(k));
    const __m256 a = _mm256_set1_ps(0.999999f), b = _mm256_set1_ps(1e-7f);
    for (std::int64_t i = 0; i < iterations; ++i)
#pragma GCC unroll 16
        for (int k = 0; k < chains; ++k)
            acc[k] = _mm256_fmadd_ps(acc[k], a, b);
    __m256 s = acc[0];
    for (int k = 1; k < chains; ++k)
        s = _mm256_add_ps(s, acc[k]);
    alignas(32) float lanes[8];
    _mm256_store_ps(lanes, s);
    *sink = lanes[0] + lanes[7];
    return double(iterations) * chains * 8 * 2;
}

double int8_mac(std::int64_t iterations, std::int32_t* sink) {
    __m256i acc[chains];
    for (int k = 0; k < chains; ++k)
        acc[k] = _mm256_set1_epi32(k);
    const __m256i x = _mm256_set1_epi8(7), w = _mm256_set1_epi8(3), ones = _mm256_set1_epi16(1);
    for (std::int64_t i = 0; i < iterations; ++i)
#pragma GCC unroll 16
        for (int k = 0; k < chains; ++k)
            acc[k] = _mm256_add_epi32(acc[k], _mm256_madd_epi16(_mm256_maddubs_epi16(x, w), ones));
    __m256i s = acc[0];
    for (int k = 1; k < chains; ++k)
        s = _mm256_add_epi32(s, acc[k]);
    *sink = _mm256_extract_epi32(s, 0);
    return double(iterations) * chains * 32 * 2;
}

} // namespace

const peak_table peak_avx2 = {f32_fma, int8_mac};

} // namespace hone::kernels
