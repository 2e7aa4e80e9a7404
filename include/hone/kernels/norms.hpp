// hone/kernels/norms.hpp — per-row and per-column sums of squares, L2 and L1 norms (SIMD).
//
// Of a row-major [rows, cols] f32 matrix. Sums are accumulated in double on every tier (so a
// million squared terms lose nothing an f32 result can show) and rounded once to f32 at the end;
// an f32 result can overflow to +inf when the double sum exceeds FLT_MAX. NaN and ±inf propagate
// (a NaN entry makes its row's and column's sums NaN). Uses: Wanda's ‖X_j‖ over calibration
// tokens (column norms of X [tokens, K], accumulated across batches) and L1/L2 channel
// importance for structured pruning (row norms of W [N, K]).
//
// Tolerance between tiers: column sums are summed in the same order (row by row) with the same
// fused multiply-adds, so every tier gives identical bits. Row sums are split into SIMD lanes, so
// they may differ from the scalar reference in the last bit of the double sum; after rounding
// to f32 they agree to within 1 ulp (relative 1.2e-7).
#pragma once

#include "hone/core/export.hpp"
#include "hone/core/tensor.hpp"

#include <cstdint>
#include <span>

namespace hone::kernels {

enum class norm : std::uint8_t {
    sum_squares = 0, ///< Σ x²
    l2 = 1,          ///< √(Σ x²)
    l1 = 2,          ///< Σ |x|
};

/// dst[r] = norm of row r (cols entries). dst.size() must be rows; src.size() rows·cols.
/// rows or cols may be 0 (an empty row has norm 0). Throws shape_mismatch / invalid_argument.
HONE_EXPORT void row_norms(std::span<const float> src, std::int64_t rows, std::int64_t cols,
                           norm kind, std::span<float> dst);

/// dst[c] = norm of column c (rows entries). dst.size() must be cols.
HONE_EXPORT void col_norms(std::span<const float> src, std::int64_t rows, std::int64_t cols,
                           norm kind, std::span<float> dst);

/// Streaming statistics: acc[c] += Σ_r src[r, c]² in double, for running ‖X_j‖² over batches
/// (take the square root at the end). acc.size() must be cols.
HONE_EXPORT void accumulate_col_sum_squares(std::span<const float> src, std::int64_t rows,
                                            std::int64_t cols, std::span<double> acc);

/// Tensor forms: src f32 contiguous [rows, cols]; dst f32 contiguous [rows] / [cols].
HONE_EXPORT void row_norms(const_tensor_view src, norm kind, tensor_view dst);
HONE_EXPORT void col_norms(const_tensor_view src, norm kind, tensor_view dst);

} // namespace hone::kernels
