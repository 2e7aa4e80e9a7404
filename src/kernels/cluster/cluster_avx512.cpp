// AVX-512 tier of the cluster family (compiled everywhere on x86-64, run only where present).
#include "cluster_simd.hpp"

namespace hone::kernels {

const cluster_table cluster_avx512 = simd::cluster_kernels<xsimd::avx512bw>::table();

} // namespace hone::kernels
