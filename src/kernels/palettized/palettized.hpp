// Internal: the palettized kernel family's per-tier tables.
#pragma once

#include "../dispatch.hpp"

#include <cstddef>
#include <cstdint>

namespace hone::kernels {

/// A validated palettized matrix as the kernels see it: f32 codebooks, raw pointers.
struct palette_rows {
    const std::uint8_t* indices; ///< rows · row_bytes bytes
    const std::uint8_t* end;     ///< indices + rows · row_bytes (loads never pass it)
    std::size_t row_bytes;
    std::size_t cols;
    int bits;
    const float* codebooks; ///< 2^bits f32 entries per group
    std::size_t group_rows;
};

/// Index j of a packed row (LSB-first bitstream; see docs/formats.md).
inline unsigned packed_index(const std::uint8_t* row, std::size_t j, int bits) noexcept {
    const std::size_t p = j * std::size_t(bits);
    const unsigned shift = unsigned(p & 7);
    unsigned v = unsigned(row[p >> 3]) >> shift;
    if (shift + unsigned(bits) > 8) v |= unsigned(row[(p >> 3) + 1]) << (8 - shift);
    return v & ((1u << bits) - 1u);
}

struct palettized_table {
    /// y[r] = Σ_j codebook(r)[index(r, j)] · x[j] (+ bias[r] when bias), rows [r0, r1).
    void (*gemv)(const palette_rows& w, const float* x, const float* bias, float* y, std::size_t r0,
                 std::size_t r1);
    /// dst[r·cols + j] = codebook(r)[index(r, j)], rows [r0, r1).
    void (*decode)(const palette_rows& w, float* dst, std::size_t r0, std::size_t r1);
};

extern const palettized_table palettized_ref;
extern const palettized_table palettized_avx2;
extern const palettized_table palettized_avx512;

const dispatch<palettized_table>& palettized_kernels() noexcept;

} // namespace hone::kernels
