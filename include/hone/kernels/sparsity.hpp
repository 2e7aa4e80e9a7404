// hone/kernels/sparsity.hpp — exact top-k selection, N:M masks and mask apply (SIMD, dispatched).
//
// Scores. Every selection ranks float scores under one of two keys:
//   score_kind::magnitude  key = |x|  (the weights themselves: magnitude pruning)
//   score_kind::value      key = x    (a precomputed importance, e.g. Wanda's |W|·‖X‖; any sign)
// Keys are compared as real numbers: -0 equals +0, -inf and +inf are ordinary extremes. A NaN
// anywhere in the scores is an error (hone::error(invalid_argument) naming its position).
//
// Ties are broken by position, deterministically: among entries with equal keys, the one with
// the LOWER flat (row-major) index is kept first. So the number of kept entries is always
// exactly what was asked, and every tier (scalar, AVX2, AVX-512) gives the same mask bytes.
//
// Masks are one byte per element, 0 (pruned) or 1 (kept), in the element order of the scores,
// as dtype u8 or dtype boolean tensors. Layout and N:M groups: docs/formats.md, "Sparsity".
#pragma once

#include "hone/core/export.hpp"
#include "hone/core/tensor.hpp"

#include <cstdint>
#include <span>

namespace hone::kernels {

enum class score_kind : std::uint8_t {
    magnitude = 0, ///< rank by |x|
    value = 1,     ///< rank by x itself
};

/// What a top-k selection kept.
struct topk_result {
    /// The key of the weakest kept entry (|x| for magnitude, x for value; -0 reads as +0).
    /// Every entry with a greater key is kept, every entry with a smaller one pruned.
    /// +inf when nothing is kept (keep = 0).
    float threshold = 0.0f;
    std::int64_t kept = 0;  ///< = keep
    std::int64_t above = 0; ///< entries with key > threshold (all kept)
    std::int64_t tied = 0; ///< entries with key == threshold; the first keep − above of them kept
};

/// Keeps the `keep` entries of `scores` with the largest keys: mask[i] = 1 for them, 0 for the
/// rest. Exact (not a histogram estimate) and O(n): a radix select on the float bits, no sort.
/// Throws invalid_argument for keep outside [0, n] or a NaN score (naming its index), and
/// shape_mismatch when mask.size() ≠ scores.size(). mask must not overlap scores.
HONE_EXPORT topk_result topk_mask(std::span<const float> scores, std::int64_t keep, score_kind kind,
                                  std::span<std::uint8_t> mask);

/// Tensor form: scores f32 contiguous of any shape, mask u8 or boolean of the same shape.
HONE_EXPORT topk_result topk_mask(const_tensor_view scores, std::int64_t keep, score_kind kind,
                                  tensor_view mask);

/// N:M semi-structured mask of a row-major [rows, cols] matrix: in every group of M consecutive
/// entries along a row (columns g·M … g·M+M−1), exactly the N with the largest keys are kept
/// (ties to the lower column). 1 ≤ N < M ≤ 32 (2:4, 4:8, 1:4, 8:16, ...). Throws
/// invalid_argument for N, M out of range, cols % M ≠ 0 (naming both), or a NaN score (naming
/// row and column); shape_mismatch when the sizes disagree.
HONE_EXPORT void nm_mask(std::span<const float> scores, std::int64_t rows, std::int64_t cols, int n,
                         int m, score_kind kind, std::span<std::uint8_t> mask);

/// Tensor form: scores f32 contiguous [rows, cols] (rank 2; rank 1 is one row), mask u8 or
/// boolean of the same shape.
HONE_EXPORT void nm_mask(const_tensor_view scores, int n, int m, score_kind kind, tensor_view mask);

/// dst[i] = src[i] where mask[i] ≠ 0 (bit-identical: -0, NaN payloads, infinities kept), and
/// +0.0f where mask[i] = 0 (a pruned -0 or negative weight becomes +0, never -0). dst may be
/// src itself (in place); any other overlap is not allowed. Sizes must agree (shape_mismatch).
HONE_EXPORT void apply_mask(std::span<const float> src, std::span<const std::uint8_t> mask,
                            std::span<float> dst);

/// Tensor form: src and dst f32 contiguous of one shape, mask u8 or boolean of that shape.
HONE_EXPORT void apply_mask(const_tensor_view src, const_tensor_view mask, tensor_view dst);

} // namespace hone::kernels
