// src/graph/ops/reduce.hpp — reductions, ArgMax/ArgMin, CumSum and the normalizations over
// instance, group and Lp (internal). Implemented in reduce.cpp. ReduceMean is ops::reduce_mean
// (ops.hpp).
//
// The conventions of ops.hpp hold: ONNX semantics; axes in [-r, r−1] (negative add r, anything
// else out_of_range naming the operator, the axis and the rank; a repeated axis is
// invalid_argument); f32 sums and products accumulate in double; each output element is
// computed by one thread in a fixed order, so results are bit-identical at any thread count.
#pragma once

#include "ops.hpp"

#include <cstdint>
#include <span>

namespace hone::ops {

// ---- reductions ---------------------------------------------------------------------------------

enum class reduce_op {
    sum,         ///< Σ x
    max,         ///< max x; the empty set gives −inf (f32) or the dtype's lowest value
    min,         ///< min x; the empty set gives +inf (f32) or the dtype's highest value
    prod,        ///< Π x; the empty set gives 1
    l1,          ///< Σ |x|
    l2,          ///< √(Σ x²)
    sum_square,  ///< Σ x²
    log_sum,     ///< ln Σ x
    log_sum_exp, ///< ln Σ e^x, computed as m + ln Σ e^(x − m) with m = max x (no overflow)
};

/// ONNX ReduceSum, ReduceMax, ReduceMin, ReduceProd, ReduceL1, ReduceL2, ReduceSumSquare,
/// ReduceLogSum and ReduceLogSumExp (opset 13–18: the caller passes the axes whether they came
/// as the attribute or as the input).
///  - axes: the axes reduced; empty = all axes, unless noop_with_empty_axes. keepdims keeps
///    them as dims of 1.
///  - noop_with_empty_axes with empty axes: nothing is reduced, i.e. every element is reduced
///    over the set holding only itself (the ONNX reference): sum/max/min/prod/log_sum_exp
///    return x, l1 and l2 |x|, sum_square x², log_sum ln x.
///  - dtypes: f32 for all; i32 and i64 for sum, max, min, prod, l1 and sum_square (integer
///    arithmetic wraps in two's complement, like the executor's Add/Mul); l2, log_sum and
///    log_sum_exp of an integer tensor are dtype_mismatch. The result has x's dtype.
///  - NaN propagates through max and min (numpy's maximum.reduce, the ONNX reference).
HONE_EXPORT tensor reduce(reduce_op op, const_tensor_view x,
                          std::span<const std::int64_t> axes = {}, bool keepdims = true,
                          bool noop_with_empty_axes = false);

/// ONNX ArgMax / ArgMin (opset 13): the index (i64) of the largest / smallest value along
/// `axis`, the first one or with select_last_index the last one; keepdims keeps the axis as a
/// dim of 1. A NaN counts as larger and smaller than any number (numpy's argmax/argmin: the
/// first NaN wins; with select_last_index the last one). f32, i32, i64. An axis of length 0 is
/// invalid_argument (no index to return).
HONE_EXPORT tensor arg_max(const_tensor_view x, std::int64_t axis = 0, bool keepdims = true,
                           bool select_last_index = false);
HONE_EXPORT tensor arg_min(const_tensor_view x, std::int64_t axis = 0, bool keepdims = true,
                           bool select_last_index = false);

/// ONNX CumSum (opset 14): running sums along `axis`; exclusive leaves out the element itself
/// (the first sum is 0); reverse runs from the end. f32 (running sum in double, each output
/// rounded once), i32, i64 (wrapping). Same shape and dtype as x; rank ≥ 1.
HONE_EXPORT tensor cum_sum(const_tensor_view x, std::int64_t axis, bool exclusive = false,
                           bool reverse = false);

// ---- normalizations (f32; statistics in double, population variance) ---------------------------

/// ONNX InstanceNormalization: x [N, C, D1, ...] (rank ≥ 2), scale and bias [C]; each (n, c)
/// plane normalized over its spatial elements: y = (x − mean) / √(var + epsilon) · scale[c] +
/// bias[c].
HONE_EXPORT tensor instance_normalization(const_tensor_view x, const_tensor_view scale,
                                          const_tensor_view bias, float epsilon = 1e-5f);

/// ONNX GroupNormalization: x [N, C, D1, ...] (rank ≥ 2), C divisible by num_groups (≥ 1);
/// statistics over each group of C/num_groups channels (and their spatial elements). scale and
/// bias are 1-D, each either [C] (opset 21: per channel) or [num_groups] (opset 18: per group,
/// deprecated by ONNX): the length decides (when C = num_groups both readings agree). Other
/// lengths: shape_mismatch. The opset-21 stash_type is not a parameter: statistics are always
/// computed in double.
HONE_EXPORT tensor group_normalization(const_tensor_view x, const_tensor_view scale,
                                       const_tensor_view bias, std::int64_t num_groups,
                                       float epsilon = 1e-5f);

/// ONNX LpNormalization: y = x / ‖x‖_p along `axis`, p 1 or 2 (else invalid_argument). A
/// vector whose norm is 0 gives zeros (ONNX Runtime's behaviour; 0/0 is left undefined by the
/// spec).
HONE_EXPORT tensor lp_normalization(const_tensor_view x, std::int64_t axis = -1,
                                    std::int64_t p = 2);

} // namespace hone::ops
