// AVX2 tier of the norms family.
#include "norms_simd.hpp"

namespace hone::kernels {

const norms_table norms_avx2 = simd::norms_kernels<xsimd::fma3<xsimd::avx2>>::table();

} // namespace hone::kernels
