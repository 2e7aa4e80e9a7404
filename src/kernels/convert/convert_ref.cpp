// Scalar reference: the element conversions of hone/core/half.hpp, in a loop.
#include "convert.hpp"

#include "hone/core/half.hpp"

namespace hone::kernels {

namespace {

void f32_to_f16(const float* src, std::uint16_t* dst, std::size_t n) {
    for (std::size_t i = 0; i < n; ++i)
        dst[i] = to_half(src[i]).bits;
}
void f16_to_f32(const std::uint16_t* src, float* dst, std::size_t n) {
    for (std::size_t i = 0; i < n; ++i)
        dst[i] = to_float(half{src[i]});
}
void f32_to_bf16(const float* src, std::uint16_t* dst, std::size_t n) {
    for (std::size_t i = 0; i < n; ++i)
        dst[i] = to_bfloat16(src[i]).bits;
}
void bf16_to_f32(const std::uint16_t* src, float* dst, std::size_t n) {
    for (std::size_t i = 0; i < n; ++i)
        dst[i] = to_float(bfloat16{src[i]});
}

} // namespace

const convert_table convert_ref = {f32_to_f16, f16_to_f32, f32_to_bf16, bf16_to_f32};

} // namespace hone::kernels
