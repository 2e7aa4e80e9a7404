// src/graph/ops/indexing.hpp — indexing and data-movement operators of the graph executor
// (internal): Pad, Split, Tile, Range, Trilu, TopK, GatherElements, ScatterND,
// ScatterElements, Size, NonZero, OneHot.
//
// The conventions of ops.hpp hold here: pure functions over views (any strides ≥ 0), new
// contiguous results, ONNX semantics (opsets 11–18), axes in [-r, r-1] normalized (out_of_range
// otherwise), errors naming the operator ("ops::pad: ...") and the argument, empty tensors valid
// wherever ONNX allows them. Data movement is exact and takes any byte-addressable dtype (f32,
// f16, bf16, i8, u8, i32, i64, bool) unless a function says otherwise; indices are i32 or i64.
// Results do not depend on the thread count.
#pragma once

#include "ops.hpp"

#include <cstdint>
#include <span>
#include <vector>

namespace hone::ops {

enum class pad_mode { constant, reflect, edge, wrap };

/// ONNX Pad (opsets 11–19, `wrap` from 19, `axes` from 18). pads = [b_1, ..., b_n, e_1, ...,
/// e_n] for the n axes in `axes` (empty = all axes of x, in order; negatives normalized,
/// repeats invalid_argument); 2n values, else invalid_argument. Output dim = dim + b + e; a
/// result dim < 0 is invalid_argument. Negative pads crop: the crop is applied first, then the
/// positive pads are filled from the cropped tensor (ONNX Runtime's order):
///  - constant: `constant_value` (a one-element tensor of x's dtype; absent = 0 / false);
///  - edge: the nearest element;
///  - reflect: the mirror image without repeating the edge (numpy's "reflect"), repeated as
///    often as the pad needs (period 2·(dim − 1); a dim of 1 repeats its element);
///  - wrap: periodic (index mod dim).
/// edge, reflect and wrap need at least one element on a padded axis (invalid_argument).
HONE_EXPORT tensor pad(const_tensor_view x, std::span<const std::int64_t> pads,
                       pad_mode mode = pad_mode::constant,
                       optional_view constant_value = std::nullopt,
                       std::span<const std::int64_t> axes = {});

/// The part sizes of ONNX Split without a `split` input for a dim of `dim` into `parts` ≥ 1
/// parts: equal parts (`dim` a multiple of `parts`, else invalid_argument) unless `uneven`
/// (opset 18's num_outputs): parts of ceil(dim / parts), the last one smaller; a last part
/// that would be negative is invalid_argument.
HONE_EXPORT std::vector<std::int64_t> split_sizes(std::int64_t dim, std::int64_t parts,
                                                  bool uneven);

/// ONNX Split along `axis` into parts of the given sizes (each ≥ 0, summing to the dim: else
/// invalid_argument); one tensor per part.
HONE_EXPORT std::vector<tensor> split(const_tensor_view x, std::span<const std::int64_t> sizes,
                                      std::int64_t axis = 0);

/// ONNX Tile: repeats (one per axis, each ≥ 0) copies of x along each axis; y dim = dim · rep.
HONE_EXPORT tensor tile(const_tensor_view x, std::span<const std::int64_t> repeats);

/// ONNX Range (opset 11): start, limit, delta scalars (rank 0 or one element) of one dtype,
/// f32, i32 or i64; n = max(ceil((limit − start) / delta), 0) elements start + i·delta. delta 0
/// is invalid_argument. f32: n and the values computed in double from the f32 inputs, then
/// rounded to f32 (the exact start + i·delta, rounded once); integers: exact (a value outside
/// the dtype cannot occur since it lies between start and limit).
HONE_EXPORT tensor range(const_tensor_view start, const_tensor_view limit, const_tensor_view delta);

/// ONNX Trilu (opset 14): x [..., N, M] (rank ≥ 2); upper keeps the elements with j − i ≥ k,
/// lower those with j − i ≤ k; the others become 0 (false).
HONE_EXPORT tensor trilu(const_tensor_view x, std::int64_t k = 0, bool upper = true);

/// ONNX TopK (opset 11): the k (0 ≤ k ≤ dim, else invalid_argument) largest (or smallest)
/// elements along `axis` → {values (x's dtype), indices (i64)}, dims of x with dim k on the axis.
/// Always sorted (ONNX leaves the order undefined for sorted = 0): largest first (smallest
/// first), equal values by lower index first. NaN ranks above +inf (first when largest, last
/// when smallest, as numpy's sort and torch.topk). Numeric dtypes: f32, f16, bf16, i8, u8, i32,
/// i64 (bool: dtype_mismatch).
HONE_EXPORT std::vector<tensor> topk(const_tensor_view x, std::int64_t k, std::int64_t axis = -1,
                                     bool largest = true);

/// ONNX GatherElements: data and indices of one rank r ≥ 1; y has the indices' dims and
/// y[i₀..i_axis..] = data[i₀..indices[...]..]. indices dims may not exceed data's on the other
/// axes (shape_mismatch); an index outside [−dim, dim − 1] is out_of_range (negatives add dim).
HONE_EXPORT tensor gather_elements(const_tensor_view data, const_tensor_view indices,
                                   std::int64_t axis = 0);

/// How ScatterND / ScatterElements combine an update with the element it lands on (opset 16:
/// add, mul; opset 18: max, min).
enum class scatter_reduction { none, add, mul, max, min };

/// ONNX ScatterND: y = copy of data; for each index tuple indices[i₀..i_{q−2}, :] (k = last dim
/// of indices ≤ rank of data; negatives add the dim; outside: out_of_range) the slice
/// data[tuple] receives updates[i₀..i_{q−2}] (updates dims = indices dims[:−1] + data dims[k:],
/// else shape_mismatch), combined per `reduction`. Updates are applied in row-major order of
/// the tuples, so with reduction none a repeated tuple keeps its last update. Reductions need a
/// numeric dtype (bool: dtype_mismatch); f16/bf16 combine in f32, rounded back; integer add and
/// mul wrap (two's complement).
HONE_EXPORT tensor scatter_nd(const_tensor_view data, const_tensor_view indices,
                              const_tensor_view updates,
                              scatter_reduction reduction = scatter_reduction::none);

/// ONNX ScatterElements (opsets 11–18): data, indices and updates of one rank; indices and
/// updates of one shape, not exceeding data's dims on the axes other than `axis`
/// (shape_mismatch); y = copy of data with y[i₀..indices[...]..] combined with updates[...] in
/// row-major order of the updates. Indices, reductions and dtypes as scatter_nd.
HONE_EXPORT tensor scatter_elements(const_tensor_view data, const_tensor_view indices,
                                    const_tensor_view updates, std::int64_t axis = 0,
                                    scatter_reduction reduction = scatter_reduction::none);

/// ONNX Size: the element count of x as an i64 scalar (any dtype, packed ones included).
HONE_EXPORT tensor size(const_tensor_view x);

/// ONNX NonZero: i64 [rank, n] holding the indices of the n non-zero elements in row-major
/// order (a scalar gives [0, n]). Non-zero: ≠ 0 for numbers (−0 is zero, NaN is not), true.
HONE_EXPORT tensor nonzero(const_tensor_view x);

/// ONNX OneHot (opset 11): indices (any numeric dtype: floats truncated toward zero) → y of
/// values' dtype with a new axis of `depth` (≥ 0, else invalid_argument) inserted at `axis`
/// ∈ [−(r+1), r]: y = values[1] (on) where the position along the new axis equals the index
/// (negative indices ≥ −depth add depth), values[0] (off) elsewhere — an index outside
/// [−depth, depth − 1] gives a row of off values. values: 2 elements, any byte-addressable
/// dtype (else shape_mismatch).
HONE_EXPORT tensor one_hot(const_tensor_view indices, std::int64_t depth, const_tensor_view values,
                           std::int64_t axis = -1);

} // namespace hone::ops
