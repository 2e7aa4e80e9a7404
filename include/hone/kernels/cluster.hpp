// hone/kernels/cluster.hpp — 1-D nearest-centroid assignment and codebook lookup (SIMD).
//
// The two inner loops of weight clustering (k-means palettization): assigning every weight to
// its nearest centroid, and expanding indices back to values through the codebook.
#pragma once

#include "hone/core/export.hpp"
#include "hone/core/tensor.hpp"

#include <cstdint>
#include <span>

namespace hone::kernels {

/// Most centroids a codebook may hold (indices are one byte).
inline constexpr std::int64_t max_centroids = 256;

/// indices[i] = the index j of the centroid nearest to values[i]: |values[i] − c[j]| minimal
/// in exact real arithmetic, ties (a value exactly halfway between two centroids, or equal
/// centroids) going to the LOWER index. Equivalently: the number of midpoints
/// (c[j] + c[j+1]) / 2 strictly below the value, evaluated exactly (no rounding of the midpoint
/// can move a value to the other side). ±inf go to the last / first centroid.
///
/// centroids: 1 … 256 finite values in non-decreasing order (duplicates allowed; the higher
/// of equal centroids is then never chosen). Throws invalid_argument naming the position for
/// an unsorted or non-finite centroid, a wrong count, or a NaN value; shape_mismatch when
/// indices.size() ≠ values.size(). Every tier gives identical indices.
HONE_EXPORT void nearest_centroid(std::span<const float> values, std::span<const float> centroids,
                                  std::span<std::uint8_t> indices);

/// Tensor form: values f32 contiguous (any shape), centroids f32 contiguous rank 1, indices u8
/// of the values' shape.
HONE_EXPORT void nearest_centroid(const_tensor_view values, const_tensor_view centroids,
                                  tensor_view indices);

/// dst[i] = codebook[indices[i]] (bit-identical copies). Throws out_of_range naming the first
/// index ≥ codebook.size() (nothing is written then); shape_mismatch when sizes disagree;
/// invalid_argument for an empty or > 256-entry codebook.
HONE_EXPORT void codebook_lookup(std::span<const std::uint8_t> indices,
                                 std::span<const float> codebook, std::span<float> dst);

/// Tensor form: indices u8 contiguous (any shape), codebook f32 rank 1, dst f32 of the
/// indices' shape.
HONE_EXPORT void codebook_lookup(const_tensor_view indices, const_tensor_view codebook,
                                 tensor_view dst);

} // namespace hone::kernels
