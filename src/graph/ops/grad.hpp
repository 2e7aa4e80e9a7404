// src/graph/ops/grad.hpp — the backward passes of the operator library (internal).
//
// Each function here is the backward of the ops:: forward of the same name (ops.hpp, math.hpp,
// reduce.hpp): it takes what that forward saw (its inputs, or its output where that is cheaper)
// and dY = dL/dY, and returns dL/d(input) for the inputs asked for. Same conventions as the
// forwards: f32 values through views of any strides (broadcast strides of 0 included), results
// new contiguous tensors of the input's shape, axes normalized as the forward does, errors
// hone::error naming the operator ("ops::conv_backward: dY has shape ...").
//
// Sums over many terms (weight gradients, reductions over broadcast axes, scatter-adds)
// accumulate in a fixed order, so the gradients are the same bytes at any thread count.
//
// A gradient not asked for (need_* = false) is returned as a default tensor (shape [0], no
// elements): the trainer asks only for the inputs that lead to a trainable weight.
//
// Every backward is checked against central finite differences of its forward
// (tests/graph/test_ops_grad*.cpp).
#pragma once

#include "hone/core/export.hpp"
#include "hone/core/tensor.hpp"
#include "ops.hpp"

#include <cstdint>
#include <span>
#include <vector>

namespace hone::ops {

// ---- broadcasting ------------------------------------------------------------------------------

/// dY summed down to `to`, the shape of an operand that numpy-broadcast to dY's shape (leading
/// axes summed away, axes of 1 summed with keepdims). dY's shape itself: a copy.
HONE_EXPORT tensor reduce_to_shape(const_tensor_view dy, const shape& to);

// ---- elementwise binary (grad_binary.cpp)
// --------------------------------------------------------

struct binary_grads {
    tensor da; ///< a's shape
    tensor db; ///< b's shape
};
/// Backward of binary(op, a, b) for f32 add, sub, mul, div and pow (pow: da = b·a^(b−1);
/// db = a^b·ln a, asked for only where a > 0 — a ≤ 0 gives 0 there, as PyTorch does for a = 0).
HONE_EXPORT binary_grads binary_backward(binary_op op, const_tensor_view a, const_tensor_view b,
                                         const_tensor_view dy, bool need_a = true,
                                         bool need_b = true);

/// Where(cond, x, y): dx = dY where cond, dy_ = dY elsewhere, each reduced to its operand's shape.
HONE_EXPORT binary_grads where_backward(const_tensor_view cond, const shape& x_dims,
                                        const shape& y_dims, const_tensor_view dy);

// ---- elementwise unary (grad_unary.cpp)
// ----------------------------------------------------------

HONE_EXPORT tensor relu_backward(const_tensor_view x, const_tensor_view dy);
HONE_EXPORT tensor leaky_relu_backward(const_tensor_view x, const_tensor_view dy, float alpha);
/// From the forward output y: dX = dY·y·(1 − y).
HONE_EXPORT tensor sigmoid_backward(const_tensor_view y, const_tensor_view dy);
/// From the forward output y: dX = dY·(1 − y²).
HONE_EXPORT tensor tanh_backward(const_tensor_view y, const_tensor_view dy);
HONE_EXPORT tensor gelu_backward(const_tensor_view x, const_tensor_view dy,
                                 gelu_approximation approximation);
/// dX = dY·alpha inside 0 < alpha·x + beta < 1, else 0.
HONE_EXPORT tensor hard_sigmoid_backward(const_tensor_view x, const_tensor_view dy, float alpha,
                                         float beta);
/// d/dx of x·max(0, min(1, x/6 + 1/2)): 0 below −3, 1 above 3, x/3 + 1/2 between.
HONE_EXPORT tensor hard_swish_backward(const_tensor_view x, const_tensor_view dy);
/// dX = dY where lo ≤ x ≤ hi (the value passes through), else 0.
HONE_EXPORT tensor clip_backward(const_tensor_view x, const_tensor_view dy, float lo, float hi);
/// dX = dY·2/√π·e^(−x²).
HONE_EXPORT tensor erf_backward(const_tensor_view x, const_tensor_view dy);
/// From the forward output y: dX = dY/(2y).
HONE_EXPORT tensor sqrt_backward(const_tensor_view y, const_tensor_view dy);
/// From the forward output y: dX = dY·y.
HONE_EXPORT tensor exp_backward(const_tensor_view y, const_tensor_view dy);
/// dX = dY/x.
HONE_EXPORT tensor log_backward(const_tensor_view x, const_tensor_view dy);
/// dX = −dY.
HONE_EXPORT tensor neg_backward(const_tensor_view dy);
/// From the forward output y: dX = −dY·y².
HONE_EXPORT tensor reciprocal_backward(const_tensor_view y, const_tensor_view dy);
/// dX = dY·sign(x) (0 at 0).
HONE_EXPORT tensor abs_backward(const_tensor_view x, const_tensor_view dy);
HONE_EXPORT tensor sin_backward(const_tensor_view x, const_tensor_view dy);
HONE_EXPORT tensor cos_backward(const_tensor_view x, const_tensor_view dy);
/// dX = dY·sigmoid(x).
HONE_EXPORT tensor softplus_backward(const_tensor_view x, const_tensor_view dy);
HONE_EXPORT tensor elu_backward(const_tensor_view x, const_tensor_view dy, float alpha);

/// From the forward output y (softmax(x, axis, coerce_2d)): dX = y ⊙ (dY − Σ dY·y).
HONE_EXPORT tensor softmax_backward(const_tensor_view y, const_tensor_view dy,
                                    std::int64_t axis = -1, bool coerce_2d = false);
/// From the forward output y: dX = dY − e^y·Σ dY.
HONE_EXPORT tensor log_softmax_backward(const_tensor_view y, const_tensor_view dy,
                                        std::int64_t axis = -1, bool coerce_2d = false);

// ---- linear algebra (grad_linalg.cpp)
// ------------------------------------------------------------

struct linear_grads {
    tensor da; ///< A's shape
    tensor db; ///< B's shape
    tensor dc; ///< C's shape (Gemm with C)
};
/// Backward of gemm(a, b, c, params); `c_dims` is C's shape (nullptr: no C).
HONE_EXPORT linear_grads gemm_backward(const_tensor_view a, const_tensor_view b,
                                       const shape* c_dims, const_tensor_view dy,
                                       const gemm_params& params, bool need_a = true,
                                       bool need_b = true);
/// Backward of matmul(a, b): numpy batch broadcasting (the gradient of a broadcast operand is
/// summed over the batch it was broadcast to), 1-D operands as the forward treats them.
HONE_EXPORT linear_grads matmul_backward(const_tensor_view a, const_tensor_view b,
                                         const_tensor_view dy, bool need_a = true,
                                         bool need_b = true);

// ---- convolution (grad_conv.cpp)
// ------------------------------------------------------------------

struct conv_grads {
    tensor dx;
    tensor dw;
    tensor dbias; ///< [M] when has_bias
};
/// Backward of conv(x, w, bias, params): 1-D, 2-D and 3-D, groups (depthwise included), every
/// padding mode the forward takes; im2col + hone::kernels::matmul_f32 per group.
HONE_EXPORT conv_grads conv_backward(const_tensor_view x, const_tensor_view w, bool has_bias,
                                     const_tensor_view dy, const conv_params& params,
                                     bool need_x = true, bool need_w = true);

// ---- pooling (grad_pool.cpp)
// ----------------------------------------------------------------------

/// dY routed to the window's maximum (the first in window order on ties, where the forward's
/// max sits), 1-D to 3-D, ceil_mode, dilations, padding as the forward.
HONE_EXPORT tensor max_pool_backward(const_tensor_view x, const_tensor_view dy,
                                     const pool_params& params);
/// dY spread evenly over the window's taps (the forward's divisor).
HONE_EXPORT tensor average_pool_backward(const shape& x_dims, const_tensor_view dy,
                                         const pool_params& params);
HONE_EXPORT tensor global_average_pool_backward(const shape& x_dims, const_tensor_view dy);

// ---- resize (resize.cpp, beside the forward)
// -------------------------------------------------------

/// Backward of resize(x, params) for every mode and transform the forward takes: each axis' map
/// transposed (dY scattered back to the taps the forward read, by their weights).
HONE_EXPORT tensor resize_backward(const shape& x_dims, const_tensor_view dy,
                                   const resize_params& params);

// ---- normalization (grad_norm.cpp)
// ----------------------------------------------------------------

struct norm_grads {
    tensor dx;
    tensor dscale;
    tensor dbias;
};
/// BatchNormalization in inference mode (mean and var fixed): dx, dscale [C], dbias [C].
HONE_EXPORT norm_grads batch_normalization_backward(const_tensor_view x, const_tensor_view scale,
                                                    const_tensor_view mean, const_tensor_view var,
                                                    const_tensor_view dy, float epsilon);
/// LayerNormalization over dims [axis, r): dx (through the mean and variance), dscale and dbias
/// in scale's shape (dbias asked for with need_bias).
HONE_EXPORT norm_grads layer_normalization_backward(const_tensor_view x, const_tensor_view scale,
                                                    const_tensor_view dy, std::int64_t axis,
                                                    float epsilon, bool need_bias);

// ---- reductions (grad_reduce.cpp)
// -----------------------------------------------------------------

/// ReduceMean / ReduceSum: dY (keepdims or not, as the forward) spread back over the reduced
/// axes (÷ their size for the mean). axes as the forward took them (empty: all, unless
/// noop_with_empty_axes).
HONE_EXPORT tensor reduce_mean_backward(const shape& x_dims, const_tensor_view dy,
                                        std::span<const std::int64_t> axes, bool keepdims,
                                        bool noop_with_empty_axes = false);
HONE_EXPORT tensor reduce_sum_backward(const shape& x_dims, const_tensor_view dy,
                                       std::span<const std::int64_t> axes, bool keepdims,
                                       bool noop_with_empty_axes = false);

// ---- data movement (grad_shape.cpp)
// ---------------------------------------------------------------

/// Reshape, Flatten, Squeeze, Unsqueeze, Identity: dY's values in x's shape.
HONE_EXPORT tensor reshape_backward(const_tensor_view dy, const shape& x_dims);
/// Transpose by the inverse permutation (perm empty: reversed, as the forward).
HONE_EXPORT tensor transpose_backward(const_tensor_view dy, std::span<const std::int64_t> perm);
/// One gradient per input: the slices of dY along axis.
HONE_EXPORT std::vector<tensor>
concat_backward(const_tensor_view dy, std::span<const shape> input_dims, std::int64_t axis);
/// Zeros of x's shape with dY written where the forward read.
HONE_EXPORT tensor slice_backward(const shape& x_dims, const_tensor_view dy,
                                  std::span<const std::int64_t> starts,
                                  std::span<const std::int64_t> ends,
                                  std::span<const std::int64_t> axes = {},
                                  std::span<const std::int64_t> steps = {});
/// Scatter-add of dY into zeros of data's shape along axis (embedding gradient); repeated
/// indices add up in index order.
HONE_EXPORT tensor gather_backward(const shape& data_dims, const_tensor_view indices,
                                   const_tensor_view dy, std::int64_t axis = 0);
/// Split into parts of `sizes` along axis: the parts' gradients placed back (an absent one, an
/// output nothing reads: zeros).
HONE_EXPORT tensor split_backward(const shape& x_dims, std::span<const optional_view> dys,
                                  std::span<const std::int64_t> sizes, std::int64_t axis);
/// Pad in constant mode (pads and axes as the forward took them): dY's interior; where negative
/// pads cropped x, zeros.
HONE_EXPORT tensor pad_backward(const shape& x_dims, const_tensor_view dy,
                                std::span<const std::int64_t> pads,
                                std::span<const std::int64_t> axes = {});

} // namespace hone::ops
