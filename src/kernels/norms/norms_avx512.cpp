// AVX-512 tier of the norms family (compiled everywhere on x86-64, run only where present).
#include "norms_simd.hpp"

namespace hone::kernels {

const norms_table norms_avx512 = simd::norms_kernels<xsimd::avx512bw>::table();

} // namespace hone::kernels
