// AVX-512 tier: 12 independent 16-wide FMA chains; int8 by VPDPBUSD when the CPU has AVX-512
// VNNI (64 multiply-accumulates per instruction), else VPMADDUBSW + VPMADDWD + VPADDD.
#include "peak.hpp"

#include <immintrin.h>

namespace hone::kernels {

namespace {

constexpr int chains = 12;

double f32_fma(std::int64_t iterations, float* sink) {
    __m512 acc[chains];
    for (int k = 0; k < chains; ++k)
        acc[k] = _mm512_set1_ps(float(k));
    const __m512 a = _mm512_set1_ps(0.999999f), b = _mm512_set1_ps(1e-7f);
    for (std::int64_t i = 0; i < iterations; ++i)
#pragma GCC unroll 16
        for (int k = 0; k < chains; ++k)
            acc[k] = _mm512_fmadd_ps(acc[k], a, b);
    __m512 s = acc[0];
    for (int k = 1; k < chains; ++k)
        s = _mm512_add_ps(s, acc[k]);
    *sink = _mm512_reduce_add_ps(s);
    return double(iterations) * chains * 16 * 2;
}

__attribute__((target("avx512vnni"))) double int8_vnni(std::int64_t iterations,
                                                       std::int32_t* sink) {
    __m512i acc[chains];
    for (int k = 0; k < chains; ++k)
        acc[k] = _mm512_set1_epi32(k);
    const __m512i x = _mm512_set1_epi8(7), w = _mm512_set1_epi8(3);
    for (std::int64_t i = 0; i < iterations; ++i)
#pragma GCC unroll 16
        for (int k = 0; k < chains; ++k)
            acc[k] = _mm512_dpbusd_epi32(acc[k], x, w);
    __m512i s = acc[0];
    for (int k = 1; k < chains; ++k)
        s = _mm512_add_epi32(s, acc[k]);
    *sink = _mm512_reduce_add_epi32(s);
    return double(iterations) * chains * 64 * 2;
}

double int8_mac(std::int64_t iterations, std::int32_t* sink) {
    if (detected_cpu().avx512_vnni) return int8_vnni(iterations, sink);
    __m512i acc[chains];
    for (int k = 0; k < chains; ++k)
        acc[k] = _mm512_set1_epi32(k);
    const __m512i x = _mm512_set1_epi8(7), w = _mm512_set1_epi8(3), ones = _mm512_set1_epi16(1);
    for (std::int64_t i = 0; i < iterations; ++i)
#pragma GCC unroll 16
        for (int k = 0; k < chains; ++k)
            acc[k] = _mm512_add_epi32(acc[k], _mm512_madd_epi16(_mm512_maddubs_epi16(x, w), ones));
    __m512i s = acc[0];
    for (int k = 1; k < chains; ++k)
        s = _mm512_add_epi32(s, acc[k]);
    *sink = _mm512_reduce_add_epi32(s);
    return double(iterations) * chains * 64 * 2;
}

} // namespace

const peak_table peak_avx512 = {f32_fma, int8_mac};

} // namespace hone::kernels
