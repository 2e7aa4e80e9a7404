// hone/retrain/backward.hpp — forward and backward passes of the trainable ops, as pure
// functions on f32 tensors (row-major, contiguous inputs are not required: every function
// copies what it needs).
//
// Each backward takes what its forward saw (inputs and/or the output) and dY, the gradient of
// the loss with respect to the output, and returns the gradients with respect to the inputs.
// Products run through hone::kernels::matmul_f32 (Gemm/MatMul with the right transposes; Conv
// through im2col). Semantics follow ONNX (opset ≥ 13):
//   - gemm: Y = alpha·A'·B' + beta·C, A' = transA ? Aᵀ : A, B' likewise, C broadcast to [M, N];
//   - matmul: 2-D only ([M, K]·[K, N]);
//   - conv2d: x [N, C, H, W], w [M, C/group, kh, kw], optional bias [M]; explicit pads,
//     strides, dilations, groups;
//   - add: numpy broadcasting; the backward sums dY over the broadcast axes;
//   - activations, softmax / log_softmax over one axis;
//   - max_pool2d / average_pool2d (count_include_pad or not) / global_average_pool;
//   - batch_norm_frozen: inference statistics (mean, var) fixed, scale and bias trainable.
//
// Errors: hone::error with shape_mismatch / invalid_argument naming the operand.
#pragma once

#include "hone/core/export.hpp"
#include "hone/core/tensor.hpp"
#include "hone/quantize/quant_spec.hpp"

#include <array>
#include <cstdint>
#include <optional>
#include <span>
#include <vector>

namespace hone::retrain {

// ---- Gemm / MatMul ----------------------------------------------------------------------------

struct gemm_attrs {
    float alpha = 1.0f;
    float beta = 1.0f;
    bool trans_a = false;
    bool trans_b = false;
};

/// ONNX Gemm forward; c: null view for none, else broadcastable to [M, N].
HONE_EXPORT tensor gemm_forward(const_tensor_view a, const_tensor_view b, const_tensor_view c,
                                const gemm_attrs& attrs = {});

struct gemm_grads {
    tensor da; ///< A's shape
    tensor db; ///< B's shape
    tensor dc; ///< C's shape (empty tensor when there was no C)
};
/// dA, dB, dC for dY [M, N]. c_dims: C's shape (ignored when has_c is false).
HONE_EXPORT gemm_grads gemm_backward(const_tensor_view a, const_tensor_view b, const_tensor_view dy,
                                     const gemm_attrs& attrs = {}, bool has_c = false,
                                     const shape& c_dims = {});

/// 2-D MatMul: dA = dY·Bᵀ, dB = Aᵀ·dY.
HONE_EXPORT gemm_grads matmul_backward(const_tensor_view a, const_tensor_view b,
                                       const_tensor_view dy);

// ---- Conv 2-D -----------------------------------------------------------------------------

struct conv2d_attrs {
    std::array<std::int64_t, 2> strides{1, 1};
    std::array<std::int64_t, 4> pads{0, 0, 0, 0}; ///< top, left, bottom, right (ONNX order)
    std::array<std::int64_t, 2> dilations{1, 1};
    std::int64_t group = 1;
};

/// Output spatial size of one axis; throws shape_mismatch when < 1.
HONE_EXPORT std::int64_t conv_out_size(std::int64_t in, std::int64_t kernel, std::int64_t stride,
                                       std::int64_t pad_begin, std::int64_t pad_end,
                                       std::int64_t dilation, const char* what);

HONE_EXPORT tensor conv2d_forward(const_tensor_view x, const_tensor_view w, const_tensor_view bias,
                                  const conv2d_attrs& attrs = {});

struct conv2d_grads {
    tensor dx;
    tensor dw;
    tensor dbias; ///< [M] (empty when has_bias is false)
};
HONE_EXPORT conv2d_grads conv2d_backward(const_tensor_view x, const_tensor_view w,
                                         const_tensor_view dy, const conv2d_attrs& attrs = {},
                                         bool has_bias = false);

// ---- Add ------------------------------------------------------------------------------------

/// numpy-broadcast a + b.
HONE_EXPORT tensor add_forward(const_tensor_view a, const_tensor_view b);
/// dY summed down to `to` (the shape of an operand that was broadcast to dY's shape).
HONE_EXPORT tensor reduce_to_shape(const_tensor_view dy, const shape& to);

// ---- activations ------------------------------------------------------------------------------

HONE_EXPORT tensor relu_forward(const_tensor_view x);
HONE_EXPORT tensor relu_backward(const_tensor_view x, const_tensor_view dy);
HONE_EXPORT tensor leaky_relu_forward(const_tensor_view x, float alpha = 0.01f);
HONE_EXPORT tensor leaky_relu_backward(const_tensor_view x, const_tensor_view dy,
                                       float alpha = 0.01f);
HONE_EXPORT tensor sigmoid_forward(const_tensor_view x);
/// From the forward output y: dX = dY·y·(1 − y).
HONE_EXPORT tensor sigmoid_backward(const_tensor_view y, const_tensor_view dy);
HONE_EXPORT tensor tanh_forward(const_tensor_view x);
/// From the forward output y: dX = dY·(1 − y²).
HONE_EXPORT tensor tanh_backward(const_tensor_view y, const_tensor_view dy);
/// Exact GELU x·Φ(x) (tanh_approximation = false) or the tanh form.
HONE_EXPORT tensor gelu_forward(const_tensor_view x, bool tanh_approximation = false);
HONE_EXPORT tensor gelu_backward(const_tensor_view x, const_tensor_view dy,
                                 bool tanh_approximation = false);

/// Softmax over `axis` (negative counts from the end).
HONE_EXPORT tensor softmax_forward(const_tensor_view x, std::int64_t axis = -1);
/// From the forward output y: dX = y ⊙ (dY − Σ dY·y).
HONE_EXPORT tensor softmax_backward(const_tensor_view y, const_tensor_view dy,
                                    std::int64_t axis = -1);
HONE_EXPORT tensor log_softmax_forward(const_tensor_view x, std::int64_t axis = -1);
/// From the forward output y: dX = dY − e^y · Σ dY.
HONE_EXPORT tensor log_softmax_backward(const_tensor_view y, const_tensor_view dy,
                                        std::int64_t axis = -1);

// ---- pooling --------------------------------------------------------------------------------

struct pool2d_attrs {
    std::array<std::int64_t, 2> kernel{2, 2};
    std::array<std::int64_t, 2> strides{1, 1};
    std::array<std::int64_t, 4> pads{0, 0, 0, 0}; ///< top, left, bottom, right
    bool count_include_pad = false;               ///< average pool
};

/// MaxPool over x [N, C, H, W] (padding ignored: −inf).
HONE_EXPORT tensor max_pool2d_forward(const_tensor_view x, const pool2d_attrs& attrs);
/// dY routed to the first maximum of each window (ties: lowest index, as the forward).
HONE_EXPORT tensor max_pool2d_backward(const_tensor_view x, const_tensor_view dy,
                                       const pool2d_attrs& attrs);
HONE_EXPORT tensor average_pool2d_forward(const_tensor_view x, const pool2d_attrs& attrs);
HONE_EXPORT tensor average_pool2d_backward(const shape& x_dims, const_tensor_view dy,
                                           const pool2d_attrs& attrs);
/// [N, C, H, W] → [N, C, 1, 1].
HONE_EXPORT tensor global_average_pool_forward(const_tensor_view x);
HONE_EXPORT tensor global_average_pool_backward(const shape& x_dims, const_tensor_view dy);

// ---- shape ops ------------------------------------------------------------------------------

/// Flatten / Reshape backward: dY's values in x's shape (element counts must agree).
HONE_EXPORT tensor reshape_backward(const_tensor_view dy, const shape& x_dims);

// ---- BatchNormalization (frozen statistics) -----------------------------------------------------

/// y = scale·(x − mean)/√(var + ε) + bias over channel axis 1 of x [N, C, ...].
HONE_EXPORT tensor batch_norm_forward(const_tensor_view x, const_tensor_view scale,
                                      const_tensor_view bias, const_tensor_view mean,
                                      const_tensor_view var, float epsilon = 1e-5f);
struct batch_norm_grads {
    tensor dx;
    tensor dscale; ///< [C]
    tensor dbias;  ///< [C]
};
HONE_EXPORT batch_norm_grads batch_norm_frozen_backward(const_tensor_view x,
                                                        const_tensor_view scale,
                                                        const_tensor_view mean,
                                                        const_tensor_view var, const_tensor_view dy,
                                                        float epsilon = 1e-5f);

// ---- LSQ: learned step size quantization (Esser et al. 2020)
// -------------------------------------
//
// Weights w are fake-quantized with per-group scales s (the groups of `spec`: per tensor, per
// channel or per group, in the order of scale_shape / quantized_tensor::group_of) and fixed zero
// points z, exactly as quantized_tensor stores and dequantizes them:
//   v = w / s_g,  q = clamp(round_half_even(v) + z_g, qmin, qmax),  w' = (q − z_g)·s_g.
// With qn = qmin − z_g and qp = qmax − z_g (the clipping points of v), the gradients are
//   dL/dw   = dL/dw'                      where qn < v < qp, else 0 (straight-through estimator);
//   dL/ds_g = gs_g · Σ_{i ∈ g} dL/dw'_i · (qn if v_i ≤ qn; qp if v_i ≥ qp; round(v_i) − v_i else),
// with the gradient scale gs_g = 1/√(N_g·Qp), N_g the elements of group g and Qp = qp (the
// number of positive levels; −qn when qp ≤ 0).

/// Scale-group index of every element (row-major) of a tensor of shape `dims` under `spec`.
HONE_EXPORT std::vector<std::int64_t> scale_groups(const quant_spec& spec, const shape& dims);

/// LSQ forward: w' as above (f32, w's shape). `scales` (finite, > 0) and `zero_points` have one
/// entry per group (zero_points may be empty: all 0). When `q` is given it receives the integers.
HONE_EXPORT tensor lsq_forward(const_tensor_view w, const quant_spec& spec,
                               std::span<const float> scales,
                               std::span<const std::int32_t> zero_points,
                               std::vector<std::int32_t>* q = nullptr);

struct lsq_grads {
    tensor dw;                  ///< dL/dw (STE, zero where clipped)
    std::vector<float> dscales; ///< dL/ds per group, with the gradient scale gs_g applied
};
/// LSQ backward from dY = dL/dw'.
HONE_EXPORT lsq_grads lsq_backward(const_tensor_view w, const quant_spec& spec,
                                   std::span<const float> scales,
                                   std::span<const std::int32_t> zero_points, const_tensor_view dy);

} // namespace hone::retrain
