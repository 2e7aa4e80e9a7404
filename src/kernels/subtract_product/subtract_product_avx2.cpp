// AVX2 tier of the subtract_product family (tiles of 4 × 16 floats).
#include "subtract_product_simd.hpp"

namespace hone::kernels {

const subtract_product_table subtract_product_avx2 =
    simd::subtract_product_kernels<xsimd::fma3<xsimd::avx2>>::table();

} // namespace hone::kernels
