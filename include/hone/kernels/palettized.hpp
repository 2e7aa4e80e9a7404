// hone/kernels/palettized.hpp — palettized (codebook) weights: packed indices, decode, and the
// weight-only GEMV/GEMM y = x · Wᵀ with W stored as b-bit indices into f32/f16 codebooks.
//
// Layout (byte-level diagrams in docs/formats.md, "Palettized weights"):
//  - W is [rows = N output channels, cols = K inputs]; every entry is an index of `bits` bits
//    (1 … 8) into the codebook of its row's group.
//  - Indices are packed per row as an LSB-first bitstream: index j of a row occupies stream bits
//    [j·bits, (j+1)·bits), stream bit p being bit (p mod 8) of byte ⌊p/8⌋ of the row, with the
//    index's least significant bit first. Each row starts on a byte boundary:
//    packed_row_bytes(cols, bits) = ⌈cols·bits/8⌉ bytes; the unused high bits of a row's last
//    byte are zero. Row r begins at byte r · packed_row_bytes.
//  - Codebooks: `groups` = ⌈rows / rows_per_group⌉ tables of exactly 2^bits entries (f32 or
//    f16, little-endian), table g serving rows [g·rows_per_group, (g+1)·rows_per_group).
//    rows_per_group = rows (or 0) is one codebook per tensor; 1 is one per output channel. A
//    clusterer with fewer than 2^bits centroids pads its table (unused entries are never read
//    for valid indices; pack with zeros).
#pragma once

#include "hone/core/dtype.hpp"
#include "hone/core/export.hpp"

#include <cstddef>
#include <cstdint>
#include <span>

namespace hone::kernels {

/// Bytes of one packed row of `cols` indices at `bits` bits: ⌈cols·bits/8⌉. Throws
/// invalid_argument for bits outside 1 … 8 or negative cols, out_of_range on overflow.
HONE_EXPORT std::size_t packed_row_bytes(std::int64_t cols, int bits);

/// Packs a row-major [rows, cols] matrix of one-byte indices into the bitstream layout above.
/// packed.size() must be rows · packed_row_bytes(cols, bits) (shape_mismatch otherwise).
/// Throws out_of_range naming row, column and value of the first index ≥ 2^bits (nothing is
/// written then).
HONE_EXPORT void pack_indices(std::span<const std::uint8_t> indices, std::int64_t rows,
                              std::int64_t cols, int bits, std::span<std::uint8_t> packed);

/// The inverse of pack_indices: one byte per index. Padding bits are ignored.
HONE_EXPORT void unpack_indices(std::span<const std::uint8_t> packed, std::int64_t rows,
                                std::int64_t cols, int bits, std::span<std::uint8_t> indices);

/// A palettized [rows, cols] weight matrix: a view of packed indices and codebooks, owning
/// nothing. validate() checks every size against the layout.
struct palettized_matrix {
    std::int64_t rows = 0;                 ///< N (output channels)
    std::int64_t cols = 0;                 ///< K (the reduction axis)
    int bits = 4;                          ///< 1 … 8
    std::int64_t rows_per_group = 0;       ///< rows per codebook; 0 = rows (one per tensor)
    dtype codebook_type = dtype::f32;      ///< f32 or f16
    std::span<const std::uint8_t> indices; ///< rows · packed_row_bytes(cols, bits) bytes
    std::span<const std::byte> codebooks;  ///< groups() · 2^bits entries of codebook_type

    /// Rows per codebook with 0 resolved (≥ 1).
    HONE_EXPORT std::int64_t group_rows() const noexcept;
    /// Number of codebooks: ⌈rows / group_rows()⌉ (0 for rows = 0).
    HONE_EXPORT std::int64_t groups() const noexcept;
    /// Entries per codebook: 2^bits.
    std::int64_t entries() const noexcept { return std::int64_t(1) << bits; }
    /// Stored size in bytes: indices plus codebooks.
    HONE_EXPORT std::size_t bytes() const;
    /// Throws invalid_argument / shape_mismatch / dtype_mismatch naming the field that is wrong.
    HONE_EXPORT void validate() const;
};

/// dst = W as a row-major f32 [rows, cols] matrix (codebook entries copied bit-identically;
/// f16 codebooks converted exactly). dst.size() must be rows · cols.
HONE_EXPORT void palettized_decode(const palettized_matrix& w, std::span<float> dst);

/// y[M, N] = x[M, K] · Wᵀ (+ bias[N]), x and y row-major. M = 1 (the memory-bound decode
/// shape) runs hone's own SIMD kernel, which reads only the packed indices and looks the
/// weights up in registers; M > 1 decodes W to f32 once and calls kernels::matmul_f32
/// (oneDNN), which needs rows·cols·4 bytes of scratch. bias may be empty.
/// Accuracy (M = 1): each y[n] is summed in f32 in an order that depends on the tier; it is
/// within 2·K·2⁻²⁴·Σ_k |w[n,k]·x[k]| of the exact dot product (and of every other tier).
/// NaN/inf in x, the codebooks or bias propagate as IEEE arithmetic does.
/// Throws shape_mismatch when x is not M·K, y not M·N, or bias neither empty nor N; m < 0 is
/// invalid_argument.
HONE_EXPORT void palettized_matmul(const palettized_matrix& w, std::span<const float> x,
                                   std::int64_t m, std::span<float> y,
                                   std::span<const float> bias = {});

/// palettized_matmul with M = 1: y[N] = W · x[K] (+ bias).
HONE_EXPORT void palettized_gemv(const palettized_matrix& w, std::span<const float> x,
                                 std::span<float> y, std::span<const float> bias = {});

} // namespace hone::kernels
