// AVX-512 tier of the subtract_product family (tiles of 4 × 32 floats; compiled everywhere on
// x86-64, run only where present).
#include "subtract_product_simd.hpp"

namespace hone::kernels {

const subtract_product_table subtract_product_avx512 =
    simd::subtract_product_kernels<xsimd::avx512bw>::table();

} // namespace hone::kernels
