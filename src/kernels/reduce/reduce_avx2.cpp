// AVX2 tier of the reduce family.
#include "reduce_simd.hpp"

namespace hone::kernels {

const reduce_table reduce_avx2 = simd::reduce_kernels<xsimd::fma3<xsimd::avx2>>::table;

} // namespace hone::kernels
