// AVX-512 tier of the weight-only int4 kernels (16 f32 lanes; 2 batches per 32-weight chunk).
#include "weight_only_simd.hpp"

namespace hone::kernels {

namespace {

using arch = xsimd::avx512bw;

struct widen {
    /// 16 bytes → 16 zero-extended 32-bit lanes.
    static xsimd::batch<std::int32_t, arch> load(const std::uint8_t* p) noexcept {
        return _mm512_cvtepu8_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p)));
    }
    /// 16 signed bytes → one batch of 16 f32, in order.
    static void to_f32(__m128i v, xsimd::batch<float, arch>* out) noexcept {
        out[0] = _mm512_cvtepi32_ps(_mm512_cvtepi8_epi32(v));
    }
};

} // namespace

const weight_only_table weight_only_avx512 = simd::weight_only_kernels<arch, widen>::table;

} // namespace hone::kernels
