#include "hone/kernels/convert.hpp"

#include "convert.hpp"

#include <fmt/format.h>

namespace hone::kernels {

const dispatch<convert_table>& convert_kernels() noexcept {
#ifdef HONE_X86_KERNELS
    static const dispatch<convert_table> d{&convert_ref, &convert_avx2, &convert_avx512};
#else
    static const dispatch<convert_table> d{&convert_ref, nullptr, nullptr};
#endif
    return d;
}

namespace {

void check_sizes(std::size_t src, std::size_t dst, const char* what) {
    if (src != dst)
        fail(status::shape_mismatch,
             fmt::format("convert {}: source has {} elements, destination {}", what, src, dst));
}

std::uint16_t* bits(std::span<half> s) { return reinterpret_cast<std::uint16_t*>(s.data()); }
std::uint16_t* bits(std::span<bfloat16> s) { return reinterpret_cast<std::uint16_t*>(s.data()); }
const std::uint16_t* bits(std::span<const half> s) {
    return reinterpret_cast<const std::uint16_t*>(s.data());
}
const std::uint16_t* bits(std::span<const bfloat16> s) {
    return reinterpret_cast<const std::uint16_t*>(s.data());
}

} // namespace

void convert(std::span<const float> src, std::span<half> dst) {
    check_sizes(src.size(), dst.size(), "f32 → f16");
    convert_kernels().pick().f32_to_f16(src.data(), bits(dst), src.size());
}

void convert(std::span<const half> src, std::span<float> dst) {
    check_sizes(src.size(), dst.size(), "f16 → f32");
    convert_kernels().pick().f16_to_f32(bits(src), dst.data(), src.size());
}

void convert(std::span<const float> src, std::span<bfloat16> dst) {
    check_sizes(src.size(), dst.size(), "f32 → bf16");
    convert_kernels().pick().f32_to_bf16(src.data(), bits(dst), src.size());
}

void convert(std::span<const bfloat16> src, std::span<float> dst) {
    check_sizes(src.size(), dst.size(), "bf16 → f32");
    convert_kernels().pick().bf16_to_f32(bits(src), dst.data(), src.size());
}

void convert(const_tensor_view src, tensor_view dst) {
    const bool fast = src.dims() == dst.dims() && src.is_contiguous() && dst.is_contiguous();
    const auto from = src.type(), to = dst.type();
    if (fast && from == dtype::f32 && to == dtype::f16)
        return convert(src.span<float>(), dst.span<half>());
    if (fast && from == dtype::f16 && to == dtype::f32)
        return convert(src.span<half>(), dst.span<float>());
    if (fast && from == dtype::f32 && to == dtype::bf16)
        return convert(src.span<float>(), dst.span<bfloat16>());
    if (fast && from == dtype::bf16 && to == dtype::f32)
        return convert(src.span<bfloat16>(), dst.span<float>());
    copy(src, dst);
}

} // namespace hone::kernels
