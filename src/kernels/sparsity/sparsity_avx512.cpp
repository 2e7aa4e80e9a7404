// AVX-512 tier of the sparsity family (compiled everywhere on x86-64, run only where present).
#include "sparsity_simd.hpp"

namespace hone::kernels {

const sparsity_table sparsity_avx512 = simd::sparsity_kernels<xsimd::avx512bw>::table();

} // namespace hone::kernels
