// AVX-512 tier of the reduce family.
#include "reduce_simd.hpp"

namespace hone::kernels {

const reduce_table reduce_avx512 = simd::reduce_kernels<xsimd::avx512bw>::table;

} // namespace hone::kernels
