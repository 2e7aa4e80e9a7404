// Internal: the convert kernel family's per-tier tables.
#pragma once

#include "../dispatch.hpp"

#include <cstddef>
#include <cstdint>

namespace hone::kernels {

struct convert_table {
    void (*f32_to_f16)(const float* src, std::uint16_t* dst, std::size_t n);
    void (*f16_to_f32)(const std::uint16_t* src, float* dst, std::size_t n);
    void (*f32_to_bf16)(const float* src, std::uint16_t* dst, std::size_t n);
    void (*bf16_to_f32)(const std::uint16_t* src, float* dst, std::size_t n);
};

extern const convert_table convert_ref;
extern const convert_table convert_avx2;
extern const convert_table convert_avx512;

const dispatch<convert_table>& convert_kernels() noexcept;

} // namespace hone::kernels
