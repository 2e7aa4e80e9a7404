// Internal: the GGUF block kernels' scalar row functions (gguf_blocks_ref.cpp). The callers in
// gguf_blocks.cpp have checked everything: n is a multiple of the block size, every x is finite
// with |x| ≤ gguf_max_abs, importance is null or n finite non-negative weights. Blocks are read
// and written through memcpy, so the byte pointers need no alignment.
#pragma once

#include "hone/kernels/gguf_blocks.hpp"

#include <cstddef>
#include <cstdint>

namespace hone::kernels::gguf_ref {

void quantize_row_q8_0(const float* x, std::int64_t n, std::byte* y) noexcept;
void quantize_row_q4_0(const float* x, std::int64_t n, const float* importance,
                       std::byte* y) noexcept;
void quantize_row_q4_k(const float* x, std::int64_t n, const float* importance,
                       std::byte* y) noexcept;

/// These return the index of the first block whose scale is not finite (nothing written from
/// it on), or n / B when every block decoded.
std::int64_t dequantize_row_q8_0(const std::byte* x, std::int64_t n, float* y) noexcept;
std::int64_t dequantize_row_q4_0(const std::byte* x, std::int64_t n, float* y) noexcept;
std::int64_t dequantize_row_q4_k(const std::byte* x, std::int64_t n, float* y) noexcept;

} // namespace hone::kernels::gguf_ref
