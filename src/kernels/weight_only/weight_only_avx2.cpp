// AVX2 tier of the weight-only int4 kernels (8 f32 lanes; 4 batches per 32-weight chunk).
#include "weight_only_simd.hpp"

namespace hone::kernels {

namespace {

using arch = xsimd::fma3<xsimd::avx2>;

struct widen {
    /// 8 bytes → 8 zero-extended 32-bit lanes.
    static xsimd::batch<std::int32_t, arch> load(const std::uint8_t* p) noexcept {
        return _mm256_cvtepu8_epi32(_mm_loadl_epi64(reinterpret_cast<const __m128i*>(p)));
    }
    /// 16 signed bytes → two batches of 8 f32, in order.
    static void to_f32(__m128i v, xsimd::batch<float, arch>* out) noexcept {
        out[0] = _mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(v));
        out[1] = _mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(_mm_srli_si128(v, 8)));
    }
};

} // namespace

const weight_only_table weight_only_avx2 = simd::weight_only_kernels<arch, widen>::table;

} // namespace hone::kernels
