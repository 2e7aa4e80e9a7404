// hone/kernels/conv.hpp — 2-D convolution through oneDNN, f32 and int8, for the graph executor.
//
// Tensors are NCHW f32 (src [N, C, H, W], dst [N, OC, OH, OW]) unless run() is told that one is
// NHWC (conv_layouts; its view then has dims [N, H, W, C]); weights are [OC, C/groups, KH, KW] as
// ONNX Conv and PyTorch Conv2d store them. Inside, oneDNN runs on its preferred layouts: weights
// are reordered once at construction, src/dst/addend are reordered per call only when they are
// not in the layout the primitive chose (on AVX-512 oneDNN 2.6 picks NHWC for f32 and int8, so
// a chain of convolutions that passes NHWC tensors between them runs without any reorder), and
// one primitive per input shape (N, H, W) and layouts is created on first use and cached.
//
//   OH = (H + pad_top + pad_bottom − dilation_h·(KH − 1) − 1) / stride_h + 1   (floor; ≥ 1)
//   dst[n, oc, oh, ow] = bias[oc] + Σ_{c in oc's group, kh, kw} w[oc, c, kh, kw] ·
//                        src[n, c, oh·stride_h − pad_top + kh·dilation_h, …]  (0 outside)
//   then ReLU if asked, then post_ops in order. dilation 1 is a dense kernel (ONNX convention).
//
// int8 (static activations): q = saturate_u8(round_half_even(x / act_scale) + act_zero_point);
// weights f32 are quantized symmetrically per output channel exactly as hone::kernels::linear
// does (s_w[oc] = max|w| / 127), or given as s8 with their scales;
// dst = act_scale · s_w[oc] · Σ (q − z)·q_w + bias[oc] (padding contributes real zeros), then
// ReLU. One oneDNN primitive with fixed output scales and zero point — except on CPUs without
// VNNI (see int8_pairs_saturate), whose oneDNN int8 kernels add pairs of u8·s8 products in 16
// bits with saturation: there, if any |q_w| > 64, hone splits the weights once as
// q_w = 64·w_hi + w_lo (w_lo in [0, 63], w_hi in [-2, 1]; no pair can saturate) and runs two
// primitives on the same input, the second (output scale ×64) summed into the first's result
// before the ReLU. Exact integers either way; the split costs about twice the time.
//
// int8 with a quantized result (dst_type u8 or i8, as a QDQ model's Conv → QuantizeLinear):
// dst = saturate(round_half_even(result / dst_scale) + dst_zero_point), written by the same
// primitive (output scales act_scale · s_w[oc] / dst_scale, oneDNN's destination zero point), so
// no f32 result is written or read. Only ReLU may be fused (it commutes with a positive scale).
// The one multiply by the combined scale can round differently from the division of the f32
// result where result / dst_scale lies within float rounding of a half step: such an element may
// then land one step away. (With split weights the halves are summed in f32 and that f32 result
// is quantized, exactly as QuantizeLinear.)
//
// Threads: as hone::kernels::linear, except that a call of fewer than 2^20 multiply-adds runs on
// the calling thread alone (for it, waking oneDNN's other threads costs more than they save).
// Thread safety as hone::kernels::linear: run() may be called concurrently on one object.
// Errors (hone::error): invalid_argument (non-positive sizes, strides, dilations or groups,
// negative pads, channels not divisible by groups, bad act_scale / zero point), shape_mismatch
// (weights, bias, src or dst not of the stated shapes, an empty output), dtype_mismatch.
#pragma once

#include "hone/core/export.hpp"
#include "hone/core/tensor.hpp"
#include "hone/kernels/gemm.hpp"

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <vector>

namespace hone::kernels {

/// An activation applied to the convolution's result after the bias (and `relu`), as a oneDNN
/// eltwise post-op (in int8: after the output scales).
enum class conv_activation {
    relu,      ///< x ≥ 0 ? x : alpha·x (leaky ReLU for alpha ≠ 0)
    clip,      ///< x clamped to [alpha, beta] (alpha ≤ beta)
    linear,    ///< alpha·x + beta
    hardswish, ///< x·min(max(x + 3, 0), 6) / 6
    logistic,  ///< 1 / (1 + e^−x)
    swish,     ///< x·logistic(alpha·x)
    tanh,
    gelu_erf,  ///< 0.5·x·(1 + erf(x / √2))
    gelu_tanh, ///< 0.5·x·(1 + tanh(√(2/π)·(x + 0.044715·x³)))
};
struct conv_post_op {
    conv_activation kind = conv_activation::relu;
    float alpha = 0.0f;
    float beta = 0.0f;
};

struct conv2d_params {
    gemm_type type = gemm_type::f32; ///< f32 or int8
    std::int64_t in_channels = 0;
    std::int64_t out_channels = 0;
    std::int64_t kernel_h = 1, kernel_w = 1;
    std::int64_t stride_h = 1, stride_w = 1;
    std::int64_t pad_top = 0, pad_left = 0, pad_bottom = 0, pad_right = 0;
    std::int64_t dilation_h = 1, dilation_w = 1; ///< 1 = dense
    std::int64_t groups = 1;                     ///< divides in_channels and out_channels
    bool relu = false;
    std::vector<conv_post_op> post_ops; ///< applied in order after the ReLU
    /// f32 only: an addend of dst's shape is summed into the result after the bias and before
    /// `relu` and post_ops (a residual connection; oneDNN's sum post-op); run() takes it.
    bool sum = false;
    // int8 only (static activations):
    float act_scale = 1.0f;          ///< > 0, finite
    std::int32_t act_zero_point = 0; ///< [0, 255]
    /// int8 only: f32 (the result itself), or u8 / i8 for the result quantized on the grid
    /// below (see above); sum and post_ops must then be off (relu may be on).
    dtype dst_type = dtype::f32;
    float dst_scale = 1.0f;          ///< > 0, finite
    std::int32_t dst_zero_point = 0; ///< in dst_type's range
};

/// How a tensor given to conv2d::run is laid out in memory.
enum class conv_layout {
    nchw, ///< [N, C, H, W] (ONNX's layout)
    nhwc, ///< [N, H, W, C]: the view's dims are in that order too
};
struct conv_layouts {
    conv_layout src = conv_layout::nchw;
    conv_layout dst = conv_layout::nchw;
    conv_layout addend = conv_layout::nchw; ///< params.sum only
};

class HONE_EXPORT conv2d {
public:
    /// f32 weights [OC, C/groups, KH, KW] (quantized per output channel for int8); bias OC
    /// values or empty.
    conv2d(const conv2d_params& params, std::span<const float> weights,
           std::span<const float> bias = {});
    /// int8 only: s8 weights [OC, C/groups, KH, KW] and OC scales (> 0, finite).
    conv2d(const conv2d_params& params, std::span<const std::int8_t> weights,
           std::span<const float> weight_scales, std::span<const float> bias = {});
    ~conv2d();
    conv2d(conv2d&&) noexcept;
    conv2d& operator=(conv2d&&) noexcept;
    conv2d(const conv2d&) = delete;
    conv2d& operator=(const conv2d&) = delete;

    /// dst = conv(src). src [N, C, H, W] f32 (int8: or u8 already quantized with act_scale and
    /// act_zero_point); dst [N, OC, OH, OW] of params.dst_type; both contiguous.
    void run(const_tensor_view src, tensor_view dst) const;
    /// params.sum: dst = post_ops(relu(conv(src) + addend)); addend f32 [N, OC, OH, OW],
    /// contiguous (it may be dst itself).
    void run(const_tensor_view src, tensor_view dst, const_tensor_view addend) const;
    /// The same with tensors in the given layouts (an NHWC view has dims [N, H, W, C]). The
    /// result does not depend on the layouts: reorders only move values.
    void run(const_tensor_view src, tensor_view dst, const conv_layouts& layouts) const;
    void run(const_tensor_view src, tensor_view dst, const_tensor_view addend,
             const conv_layouts& layouts) const;

    /// [N, OC, OH, OW] for an input [N, C, H, W]; throws shape_mismatch when it is empty or C
    /// is wrong.
    shape output_shape(const shape& src) const;
    const conv2d_params& params() const noexcept;
    std::span<const float> weight_scales() const noexcept;
    /// True when int8 weights run as two halves to stay exact on this CPU (see above).
    bool splits_weights() const noexcept;
    std::size_t cached_shapes() const;
    /// oneDNN's implementation name for an input shape, e.g. "jit:avx2".
    std::string implementation(const shape& src) const;
    /// Reorders one run() with these layouts does for an input shape [N, C, H, W] (src, dst
    /// and addend each count 1 when not in the layout the primitive chose).
    int reorders(const shape& src, const conv_layouts& layouts = {}) const;

    struct impl;

private:
    void run_checked(const_tensor_view src, tensor_view dst, const float* addend,
                     const conv_layouts& layouts) const;
    std::unique_ptr<impl> impl_;
};

} // namespace hone::kernels
