// AVX2 tier of the sparsity family.
#include "sparsity_simd.hpp"

namespace hone::kernels {

const sparsity_table sparsity_avx2 = simd::sparsity_kernels<xsimd::fma3<xsimd::avx2>>::table();

} // namespace hone::kernels
