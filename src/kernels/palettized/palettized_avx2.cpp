// AVX2 tier of the palettized family.
#include "palettized_simd.hpp"

namespace hone::kernels {

const palettized_table palettized_avx2 =
    simd::palettized_kernels<xsimd::fma3<xsimd::avx2>>::table();

} // namespace hone::kernels
