// hone/prune/sparse_storage.hpp — compressed storage of sparse f32 weight matrices.
//
// A weight tensor is read as [rows, K] (rows = dims[0], K = numel / rows); to_dense() restores
// the original shape bit for bit (kept values bit-identical, every other entry +0.0f).
//
// Formats (byte layouts in docs/pruner.md, "Sparse storage"):
//  - bitmask: one bit per element (LSB-first, element i = bit i%8 of byte i/8, ⌈n/8⌉ bytes) and
//    the non-zero values packed in element order (nnz·4 bytes).
//  - n_m (2:4, 4:8, ...): in every group of M along K exactly N values (N·4 bytes) and their N
//    in-group positions, each ⌈log2 M⌉ bits (2 bits for 2:4), ascending, packed per row as an
//    LSB-first bitstream starting on a byte boundary (kernels::pack_indices). A group with fewer
//    than N non-zeros stores explicit zeros at the lowest free positions.
//  - csr: row_ptr (rows + 1 × i32), column indices (nnz × i32), values (nnz × f32).
// bytes() is the size of those buffers: what storing the matrix costs, headers excluded.
#pragma once

#include "hone/core/export.hpp"
#include "hone/core/tensor.hpp"

#include <cstdint>
#include <span>
#include <string_view>
#include <vector>

namespace hone {

enum class sparse_format : std::uint8_t { bitmask = 0, n_m = 1, csr = 2 };

class HONE_EXPORT sparse_tensor {
public:
    sparse_tensor() = default;

    /// Encodes `dense` (f32 contiguous, rank ≥ 1). Exact zeros (±0) are not stored. n_m needs
    /// 1 ≤ n < m ≤ 32, m dividing K and at most n non-zeros per group (else invalid_argument
    /// naming row and group). NaN entries are stored like any value (bitmask, csr) .
    static sparse_tensor encode(const_tensor_view dense, sparse_format format, int n = 2, int m = 4,
                                std::string_view name = "weights");

    sparse_format format() const noexcept { return format_; }
    const shape& dims() const noexcept { return dims_; }
    std::int64_t rows() const noexcept { return rows_; }
    std::int64_t cols() const noexcept { return cols_; }
    int n() const noexcept { return n_; }
    int m() const noexcept { return m_; }
    /// Stored values (nnz for bitmask/csr; rows·K·N/M for n_m, explicit zeros included).
    std::int64_t stored_values() const noexcept { return std::int64_t(values_.size()); }
    /// Bytes of the stored buffers (see the formats above).
    std::size_t bytes() const noexcept;
    /// Bytes the dense f32 tensor takes.
    std::size_t dense_bytes() const noexcept { return std::size_t(dims_.numel()) * 4; }

    /// The dense tensor (shape of the source).
    tensor to_dense() const;
    /// Writes the dense tensor into `dst` (f32 contiguous of the source's shape).
    void to_dense(tensor_view dst) const;

    std::span<const float> values() const noexcept { return values_; }
    /// bitmask: the bit mask; n_m: the packed positions; csr: empty.
    std::span<const std::uint8_t> index_bytes() const noexcept { return index_; }
    std::span<const std::int32_t> row_ptr() const noexcept { return row_ptr_; }     ///< csr
    std::span<const std::int32_t> col_indices() const noexcept { return col_idx_; } ///< csr

private:
    sparse_format format_ = sparse_format::bitmask;
    shape dims_{};
    std::int64_t rows_ = 0, cols_ = 0;
    int n_ = 0, m_ = 0;
    std::vector<float> values_;
    std::vector<std::uint8_t> index_;
    std::vector<std::int32_t> row_ptr_, col_idx_;
};

/// Bits per N:M position: ⌈log2 m⌉ (2 for M = 4, 3 for M = 8).
HONE_EXPORT int n_m_index_bits(int m);

} // namespace hone
