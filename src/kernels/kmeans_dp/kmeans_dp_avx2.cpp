// AVX2 tier of the kmeans_dp family (four doubles per step).
#include "kmeans_dp_simd.hpp"

namespace hone::kernels {

const kmeans_dp_table kmeans_dp_avx2 = simd::kmeans_dp_kernels<xsimd::fma3<xsimd::avx2>>::table();

} // namespace hone::kernels
