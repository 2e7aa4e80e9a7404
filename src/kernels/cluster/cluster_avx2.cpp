// AVX2 tier of the cluster family.
#include "cluster_simd.hpp"

namespace hone::kernels {

const cluster_table cluster_avx2 = simd::cluster_kernels<xsimd::fma3<xsimd::avx2>>::table();

} // namespace hone::kernels
