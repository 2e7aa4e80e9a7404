// src/graph/ops/requantize.hpp — int32 accumulators back to an 8-bit grid (internal).
//
// The second half of ONNX's QLinearConv and QLinearMatMul: y = saturate(round_half_even(
// (acc[i] + bias[c]) · a_scale · b_scale[c] / y_scale) + y_zero_point), c the channel of element
// i along `axis`. The multiplier is formed in f32 as (a_scale · b_scale[c]) / y_scale and the
// product acc · multiplier is f32, as ONNX Runtime's reference kernels do.
#pragma once

#include "ops.hpp"

namespace hone::ops {

/// acc: i32. a_scale, y_scale: f32 scalars (or [1]). b_scale: f32 scalar or [C] where C =
/// acc.dims()[axis]. y_zero_point: u8 or i8 scalar, absent = u8 0. bias: i32 [C] or absent.
/// Returns a tensor of y_zero_point's type and acc's shape.
HONE_EXPORT tensor requantize(const_tensor_view acc, const_tensor_view a_scale,
                              const_tensor_view b_scale, const_tensor_view y_scale,
                              optional_view y_zero_point, optional_view bias, std::int64_t axis);

} // namespace hone::ops
