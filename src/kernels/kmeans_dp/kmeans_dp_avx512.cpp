// AVX-512 tier of the kmeans_dp family (eight doubles per step; compiled everywhere on x86-64,
// run only where present).
#include "kmeans_dp_simd.hpp"

namespace hone::kernels {

const kmeans_dp_table kmeans_dp_avx512 = simd::kmeans_dp_kernels<xsimd::avx512bw>::table();

} // namespace hone::kernels
