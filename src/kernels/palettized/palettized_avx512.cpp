// AVX-512 tier of the palettized family (compiled everywhere on x86-64, run only where present).
#include "palettized_simd.hpp"

namespace hone::kernels {

const palettized_table palettized_avx512 = simd::palettized_kernels<xsimd::avx512bw>::table();

} // namespace hone::kernels
