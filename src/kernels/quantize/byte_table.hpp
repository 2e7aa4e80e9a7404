// src/kernels/quantize/byte_table.hpp — the AVX-512 VBMI loop of kernels::byte_table (internal).
#pragma once

#include <cstddef>
#include <cstdint>

namespace hone::kernels::detail {

/// Maps the first 64·⌊n/64⌋ bytes (returned) of src through table into dst. Only on CPUs with
/// AVX-512 VBMI (cpu_features::avx512_vbmi).
std::size_t byte_table_vbmi(const std::uint8_t* src, std::size_t n, const std::uint8_t* table,
                            std::uint8_t* dst);

} // namespace hone::kernels::detail
