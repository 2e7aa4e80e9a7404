// src/graph/ops/ops.hpp — the numeric operator library behind the graph executor (internal).
//
// Pure functions over hone tensors: explicit typed parameters (the executor parses node
// attributes and constant inputs and passes them here), no nodes, no attribute maps. Each
// function reads its inputs through views (any strides ≥ 0, broadcast strides of 0 included)
// and returns a new contiguous `hone::tensor`. Semantics are those of the ONNX operator of the
// same name (opset given where it matters); every deviation or limit is written next to the
// function.
//
// Conventions, for every function here:
//  - Axes: the functions normalize them. An axis a of a rank-r tensor may be given in [-r, r-1]
//    (negative counts from the end: a + r); anything else is an error (out_of_range) naming
//    the operator, the axis and the rank. Where ONNX allows the range [-r, r] (Flatten), it
//    says so.
//  - Broadcasting: "numpy" = ONNX multidirectional broadcasting (shapes aligned on the right,
//    each pair of dims equal or one of them 1). "unidirectional" = B broadcast to A's shape.
//  - Dtypes: math operators take f32. Shape-ish operators (Shape, Gather, Concat, Slice,
//    Reshape, Flatten, Transpose, Squeeze, Unsqueeze, Expand, Where, Cast, Identity-like copies)
//    take any byte-addressable dtype (f32, f16, bf16, i8, u8, i32, i64, bool); Add, Sub, Mul,
//    Div also take i32 and i64 (shape arithmetic). Anything else: dtype_mismatch naming the
//    operator and the dtype. Mixed dtypes where ONNX requires equal ones: dtype_mismatch.
//  - Errors: hone::error, message starting with the operator ("ops::conv: ...") and naming
//    the argument and what was wrong (shape_mismatch for shapes that do not agree,
//    invalid_argument for attributes out of their domain, out_of_range for axes/indices,
//    unsupported for valid ONNX the library does not run). The executor prefixes node names.
//  - Empty tensors (a dimension of 0) are valid everywhere ONNX allows them: the result has
//    the ONNX shape and no elements.
//  - Determinism: heavy loops are OpenMP-parallel over output elements (hone::num_threads());
//    each output element is computed by one thread in a fixed order, so results are
//    bit-identical at any thread count. Sums (Softmax, ReduceMean, LayerNormalization,
//    AveragePool, BatchNormalization statistics) accumulate in double.
#pragma once

#include "hone/core/export.hpp"
#include "hone/core/tensor.hpp"

#include <array>
#include <cstdint>
#include <limits>
#include <memory>
#include <optional>
#include <span>
#include <vector>

namespace hone::ops {

/// An optional input (ONNX's empty-name input): std::nullopt = absent.
using optional_view = std::optional<const_tensor_view>;

// ---- result buffers -----------------------------------------------------------------------------

/// Where the result tensors of operators come from. By default each is a new zero-filled
/// tensor. The executor installs its run's buffer pool on the calling thread (result_scope), so
/// that an operator's result reuses a buffer of an earlier run of the same shape (no fresh pages
/// to fault in and zero): `take` may then return a tensor whose contents are unspecified, which
/// is why only operators that write every element of their result call new_result().
class result_source {
public:
    virtual ~result_source() = default;
    virtual tensor take(dtype type, const shape& dims) = 0;
};

/// Installs `source` for new_result() on this thread until destroyed (then the previous one).
class HONE_EXPORT result_scope {
public:
    explicit result_scope(result_source* source) noexcept;
    ~result_scope();
    result_scope(const result_scope&) = delete;
    result_scope& operator=(const result_scope&) = delete;

private:
    result_source* saved_;
};

/// A tensor the caller overwrites entirely: from this thread's result_source when one is
/// installed (contents unspecified), else new and zero-filled.
HONE_EXPORT tensor new_result(dtype type, const shape& dims);

// ---- helpers ------------------------------------------------------------------------------------

/// Normalizes `axis` ∈ [-rank, rank − 1] for a tensor of rank `rank` into [0, rank); with
/// `inclusive_end` (Flatten) the range is [-rank, rank] and the result [0, rank]. Negative axes
/// add rank. Throws out_of_range naming `op`, the axis and the rank.
HONE_EXPORT std::int64_t normalize_axis(std::int64_t axis, std::size_t rank, const char* op,
                                        bool inclusive_end = false);

/// The numpy (multidirectional) broadcast of a and b; shape_mismatch naming `op` and both
/// shapes when they do not broadcast.
HONE_EXPORT shape broadcast_shapes(const shape& a, const shape& b, const char* op);

/// A view of `src` with the shape `to` through stride-0 dims (no copy). `src` must broadcast
/// unidirectionally to `to`; shape_mismatch naming `op` otherwise.
HONE_EXPORT const_tensor_view broadcast_view(const_tensor_view src, const shape& to,
                                             const char* op);

/// The values of a 1-D (or scalar) i64/i32 tensor as int64 — for shape inputs (Reshape's
/// shape, Slice's starts, ...). `what` names the input in errors.
HONE_EXPORT std::vector<std::int64_t> to_int64_vector(const_tensor_view src, const char* op,
                                                      const char* what);

/// A 1-D i64 tensor holding `values`.
HONE_EXPORT tensor from_int64_vector(std::span<const std::int64_t> values);

// ---- quantization -------------------------------------------------------------------------------

/// ONNX DequantizeLinear of INT32 values (a quantized bias): y = (x − zero_point) · scale, the
/// scale (and the optional INT32 zero point, same shape) per tensor (one element) or per `axis`
/// (1-D, x.dims[axis] long); the difference is taken in int64, then converted to f32.
/// dtype_mismatch for x or the zero point not i32 or scale not f32, shape_mismatch for a scale or
/// zero point of another length.
HONE_EXPORT tensor dequantize_int32(const_tensor_view x, const_tensor_view scale,
                                    optional_view zero_point, std::int64_t axis);

// ---- elementwise binary (numpy broadcasting) ----------------------------------------------------

enum class binary_op { add, sub, mul, div, pow };

/// dst = a ∘ b with numpy broadcasting. a and b must have the same dtype: f32 (all ops), or
/// i32/i64 (add, sub, mul, div, pow). Integer Div truncates toward zero (C++ and ONNX Runtime);
/// an integer division by zero is invalid_argument. Integer add/sub/mul wrap (two's complement).
/// Pow: f32 base with an f32, i32 or i64 exponent (converted to f32 — ONNX Pow allows the
/// exponent type to differ); integer base with an integer exponent ≥ 0 (negative:
/// invalid_argument).
HONE_EXPORT tensor binary(binary_op op, const_tensor_view a, const_tensor_view b);
HONE_EXPORT tensor add(const_tensor_view a, const_tensor_view b);
HONE_EXPORT tensor sub(const_tensor_view a, const_tensor_view b);
HONE_EXPORT tensor mul(const_tensor_view a, const_tensor_view b);
HONE_EXPORT tensor div(const_tensor_view a, const_tensor_view b);
HONE_EXPORT tensor pow(const_tensor_view a, const_tensor_view b);

/// ONNX Equal: bool tensor, numpy broadcasting; a and b of the same dtype (f32, i32, i64, bool).
HONE_EXPORT tensor equal(const_tensor_view a, const_tensor_view b);

/// ONNX Where (opset 9+): cond (bool), x and y (same dtype, any byte-addressable), all three
/// broadcast (numpy) to one shape; dst = cond ? x : y.
HONE_EXPORT tensor where(const_tensor_view cond, const_tensor_view x, const_tensor_view y);

// ---- elementwise unary (f32 → f32) --------------------------------------------------------------

HONE_EXPORT tensor sqrt(const_tensor_view x); ///< sqrt; NaN for x < 0 (IEEE)
HONE_EXPORT tensor relu(const_tensor_view x); ///< max(0, x); NaN stays NaN
/// x ≥ 0 ? x : alpha·x (ONNX default alpha 0.01)
HONE_EXPORT tensor leaky_relu(const_tensor_view x, float alpha = 0.01f);
HONE_EXPORT tensor sigmoid(const_tensor_view x); ///< 1 / (1 + e^−x), overflow-safe
/// max(0, min(1, alpha·x + beta)) (ONNX defaults alpha 0.2, beta 0.5)
HONE_EXPORT tensor hard_sigmoid(const_tensor_view x, float alpha = 0.2f, float beta = 0.5f);
/// x · max(0, min(1, x/6 + 1/2)) (ONNX HardSwish: HardSigmoid with alpha 1/6, beta 0.5)
HONE_EXPORT tensor hard_swish(const_tensor_view x);
HONE_EXPORT tensor tanh(const_tensor_view x);
HONE_EXPORT tensor erf(const_tensor_view x);

enum class gelu_approximation { none, tanh };
/// ONNX Gelu (opset 20): none: 0.5·x·(1 + erf(x/√2)); tanh: 0.5·x·(1 + tanh(√(2/π)·(x +
/// 0.044715·x³))).
HONE_EXPORT tensor gelu(const_tensor_view x,
                        gelu_approximation approximation = gelu_approximation::none);

/// ONNX Clip: min(max(x, lo), hi) (f32). Defaults: no bound. lo > hi gives hi everywhere
/// (ONNX: "min(max(x, lo), hi)"); NaN stays NaN. Opset ≥ 11 passes bounds as optional
/// scalar inputs: the executor reads them and passes floats.
HONE_EXPORT tensor clip(const_tensor_view x, float lo = -std::numeric_limits<float>::infinity(),
                        float hi = std::numeric_limits<float>::infinity());

/// ONNX Cast between f32, f16, bf16, i64, i32, i8, u8 and bool:
///  - float → float: f16/bf16 rounding to nearest even (hone/core/half.hpp), exact widening;
///  - float → integer: truncation toward zero, saturated to the target range; NaN → 0
///    (ONNX leaves out-of-range undefined; hone picks saturation, as ORT's saturate=1 does
///    for float8, so results are defined);
///  - integer → integer: two's-complement wrap (the C++/numpy conversion);
///  - integer → float: nearest (the C++ conversion);
///  - anything → bool: value ≠ 0 (NaN → true); bool → anything: 0 or 1.
/// Cast to the same dtype copies.
HONE_EXPORT tensor cast(const_tensor_view x, dtype to);

// ---- softmax family -----------------------------------------------------------------------------

/// ONNX Softmax along one axis (opset 13): y = e^(x − max) / Σ e^(x − max) over `axis`.
/// With `coerce_2d` (opset ≤ 12 semantics) x is viewed as 2-D [∏ dims[0:axis], ∏ dims[axis:]]
/// and softmax runs over each row (axis may then be in [-r, r-1]; ONNX ≤ 12 default axis 1,
/// ≥ 13 default −1 — the caller passes the attribute value or its default).
HONE_EXPORT tensor softmax(const_tensor_view x, std::int64_t axis = -1, bool coerce_2d = false);
/// log_softmax: x − max − log Σ e^(x − max); same axis rules.
HONE_EXPORT tensor log_softmax(const_tensor_view x, std::int64_t axis = -1, bool coerce_2d = false);

// ---- linear algebra -----------------------------------------------------------------------------

/// ONNX MatMul (numpy matmul): a [..., M, K], b [..., K, N]; batch dims broadcast (numpy);
/// a 1-D a is [1, K] with the 1 removed from the result, a 1-D b is [K, 1] likewise. f32.
/// Each 2-D product runs through hone::kernels::matmul_f32.
HONE_EXPORT tensor matmul(const_tensor_view a, const_tensor_view b);

struct gemm_params {
    float alpha = 1.0f;
    float beta = 1.0f;
    bool trans_a = false;
    bool trans_b = false;
};
/// ONNX Gemm: Y = alpha · A' · B' + beta · C, A' = transA ? Aᵀ : A ([M, K]), B' = transB ? Bᵀ
/// : B ([K, N]); A and B rank 2; C optional, broadcast unidirectionally to [M, N] (scalar,
/// [N], [1, N], [M, 1], [M, N]). f32.
HONE_EXPORT tensor gemm(const_tensor_view a, const_tensor_view b, optional_view c = std::nullopt,
                        const gemm_params& params = {});

// ---- convolution --------------------------------------------------------------------------------

enum class auto_pad { notset, same_upper, same_lower, valid };

/// Spatial attributes shared by Conv, ConvTranspose and the pools. Empty vectors take the ONNX
/// defaults: strides and dilations 1, pads 0, kernel_shape from the weights (Conv).
/// pads = [x1_begin, x2_begin, ..., x1_end, x2_end, ...] (ONNX order), ignored unless auto_pad
/// is notset. SAME_UPPER/SAME_LOWER: output = ceil(input / stride); total pad = max(0,
/// (output − 1)·stride + (kernel − 1)·dilation + 1 − input), the odd pixel at the end (UPPER) or
/// the beginning (LOWER). VALID: no padding.
struct spatial_params {
    std::vector<std::int64_t> kernel_shape;
    std::vector<std::int64_t> strides;
    std::vector<std::int64_t> pads;
    std::vector<std::int64_t> dilations;
    auto_pad padding = auto_pad::notset;
};

struct conv_params {
    spatial_params spatial;
    std::int64_t group = 1;
};

/// ONNX Conv: x [N, C, D1, ..., Dk] (k = 1, 2 or 3), w [M, C/group, K1, ..., Kk], bias [M]
/// optional; y [N, M, O1, ..., Ok], Oi = floor((Di + pad_begin + pad_end − dil·(Ki − 1) − 1) /
/// stride) + 1. Groups (incl. depthwise: group = C = M). 1-D and 2-D run through
/// hone::kernels::conv2d (oneDNN; 1-D as H = 1); 3-D, and any configuration the kernel reports
/// unsupported, through hone's own direct loop (double accumulation). f32.
/// Errors: shape_mismatch (C not group·w.dims[1], M not divisible by group, bias not [M],
/// kernel_shape disagreeing with w, output size < 1), invalid_argument (strides/dilations < 1,
/// pads < 0 or of the wrong count).
HONE_EXPORT tensor conv(const_tensor_view x, const_tensor_view w, optional_view bias = std::nullopt,
                        const conv_params& params = {});

/// Conv configured once and run many times (weights reordered once — what the executor wants
/// for a Conv node with constant weights). Same semantics and errors as conv(); `run` may be
/// called concurrently.
class HONE_EXPORT conv_op {
public:
    conv_op(const_tensor_view w, optional_view bias, const conv_params& params);
    ~conv_op();
    conv_op(conv_op&&) noexcept;
    conv_op& operator=(conv_op&&) noexcept;
    tensor run(const_tensor_view x) const;
    struct impl;

private:
    std::unique_ptr<impl> impl_;
};

struct conv_transpose_params {
    spatial_params spatial;
    std::int64_t group = 1;
    std::vector<std::int64_t> output_padding; ///< empty = zeros
    std::vector<std::int64_t> output_shape;   ///< spatial dims; empty = computed from pads
};
/// ONNX ConvTranspose: x [N, C, D1..Dk] (k = 1, 2, 3), w [C, M/group, K1..Kk], bias [M];
/// Oi = stride·(Di − 1) + output_padding + (Ki − 1)·dil + 1 − pad_begin − pad_end. With
/// output_shape given (or auto_pad SAME_*, where output = Di·stride), total padding =
/// stride·(Di − 1) + output_padding + (Ki − 1)·dil + 1 − Oi, split as the ONNX spec says
/// (SAME_UPPER: begin = total/2, end = total − total/2; otherwise begin = total − total/2,
/// end = total/2). hone's own loop in gather form (parallel over output planes,
/// deterministic). f32.
HONE_EXPORT tensor conv_transpose(const_tensor_view x, const_tensor_view w,
                                  optional_view bias = std::nullopt,
                                  const conv_transpose_params& params = {});

// ---- normalization ------------------------------------------------------------------------------

/// ONNX BatchNormalization, inference mode: x [N, C, ...]; scale, bias, mean, var [C];
/// y = (x − mean) / sqrt(var + epsilon) · scale + bias. f32. channels_last: x (and y) are held
/// [N, ..., C] (NHWC); each element gets the same operation as in [N, C, ...].
HONE_EXPORT tensor batch_normalization(const_tensor_view x, const_tensor_view scale,
                                       const_tensor_view bias, const_tensor_view mean,
                                       const_tensor_view var, float epsilon = 1e-5f,
                                       bool channels_last = false);

/// ONNX LayerNormalization (opset 17): normalize over dims [axis, r) (axis in [-r, r-1]):
/// y = (x − mean) / sqrt(var + epsilon) · scale + bias (population variance); scale and bias
/// (optional) broadcast unidirectionally to x.dims[axis:]. Only the first output (Y). f32.
HONE_EXPORT tensor layer_normalization(const_tensor_view x, const_tensor_view scale,
                                       optional_view bias = std::nullopt, std::int64_t axis = -1,
                                       float epsilon = 1e-5f);

// ---- pooling ------------------------------------------------------------------------------------

struct pool_params {
    spatial_params spatial; ///< kernel_shape required
    bool ceil_mode = false;
    bool count_include_pad = false; ///< AveragePool only
};
/// ONNX MaxPool / AveragePool over x [N, C, D1..Dk], k = 1, 2, 3. Output size: floor (or ceil
/// with ceil_mode) of (Di + pads − dil·(Ki − 1) − 1) / stride + 1; with ceil_mode a last window
/// that would start in the end padding is dropped (ONNX ≥ 19 / PyTorch rule). MaxPool ignores
/// padded positions (−inf); its Indices output is not produced. AveragePool divides by the
/// number of window positions inside the input, or with count_include_pad by those inside the
/// padded input (positions past the end padding, reachable only with ceil_mode, never count);
/// AveragePool dilations (opset 19) are supported. f32.
HONE_EXPORT tensor max_pool(const_tensor_view x, const pool_params& params);
HONE_EXPORT tensor average_pool(const_tensor_view x, const pool_params& params);
/// ONNX GlobalAveragePool / GlobalMaxPool: x [N, C, D...] → [N, C, 1, ...].
HONE_EXPORT tensor global_average_pool(const_tensor_view x);
HONE_EXPORT tensor global_max_pool(const_tensor_view x);
/// The same pools over x held NHWC ([N, H, W, C]; MaxPool/AveragePool 2-D only): the result is
/// NHWC [N, OH, OW, C], for the global pools [N, C, 1, 1] (the bytes of NHWC [N, 1, 1, C]).
/// Values are bitwise those of the functions above, transposed (each channel sees its window
/// in their order, with their update). Errors as above; shape_mismatch for a rank other than 4.
/// max_pool_nhwc also takes u8 / i8 (quantized values: the max of dequantized values is the
/// dequantized max, scale > 0), giving x's type; a window with no tap inside the input (pads as
/// large as the kernel) then gives the type's lowest value instead of −inf.
HONE_EXPORT tensor max_pool_nhwc(const_tensor_view x, const pool_params& params);
HONE_EXPORT tensor average_pool_nhwc(const_tensor_view x, const pool_params& params);
HONE_EXPORT tensor global_average_pool_nhwc(const_tensor_view x);
HONE_EXPORT tensor global_max_pool_nhwc(const_tensor_view x);

// ---- resize -------------------------------------------------------------------------------------

enum class resize_mode { nearest, linear, cubic };
enum class coordinate_transform {
    half_pixel,           ///< (x + 0.5) / scale − 0.5
    pytorch_half_pixel,   ///< output length > 1 ? (x + 0.5) / scale − 0.5 : 0
    align_corners,        ///< output length > 1 ? x · (in − 1) / (out − 1) : 0
    asymmetric,           ///< x / scale
    tf_half_pixel_for_nn, ///< (x + 0.5) / scale
};
enum class nearest_mode { round_prefer_floor, round_prefer_ceil, floor, ceil };

struct resize_params {
    resize_mode mode = resize_mode::nearest;
    coordinate_transform transform = coordinate_transform::half_pixel;
    nearest_mode nearest = nearest_mode::round_prefer_floor;
    /// One per axis of x (> 0), or empty when `sizes` is given. Output dim = floor(in · scale).
    std::vector<float> scales;
    /// One per axis of x (≥ 1 where in ≥ 1), or empty; scale then = size / in per axis.
    std::vector<std::int64_t> sizes;
    /// cubic: the A of Keys' kernel (ONNX cubic_coeff_a; −0.75 as TensorFlow, −0.5 as
    /// PyTorch's bicubic).
    float cubic_coeff_a = -0.75f;
    /// cubic: taps outside the input get weight 0 and the others are renormalized to sum 1.
    bool exclude_outside = false;
};
/// ONNX Resize (opset 11–19) for modes nearest, linear and cubic (n-linear / n-cubic, applied
/// axis by axis) with the coordinate transforms above (tf_crop_and_resize, antialias, axes and
/// keep_aspect_ratio_policy: unsupported). Nearest: index = nearest_mode(x_original), clamped
/// to [0, in − 1]. Linear: x_original clamped to [0, in − 1], then the two neighbours weighted
/// by distance. Cubic: x_original not clamped; the four neighbours floor(x) − 1 … floor(x) + 2
/// weighted by Keys' kernel with A = cubic_coeff_a at distances 1 + t, t, 1 − t, 2 − t
/// (t = x − floor(x)), indices outside the input reading the edge value (or, with
/// exclude_outside, dropped and the weights renormalized). Exactly one of scales/sizes must be
/// given. f32.
HONE_EXPORT tensor resize(const_tensor_view x, const resize_params& params);

// ---- shape and data movement (any byte-addressable dtype) ---------------------------------------

/// ONNX Flatten: axis in [-r, r]; y [∏ dims[0:axis], ∏ dims[axis:]].
HONE_EXPORT tensor flatten(const_tensor_view x, std::int64_t axis = 1);

/// The output shape of ONNX Reshape: a 0 copies the input dim at that position (unless
/// allowzero, where 0 is a zero dim and may not be combined with −1), one −1 is inferred;
/// the element count must be preserved (shape_mismatch otherwise).
HONE_EXPORT shape reshape_shape(const shape& in, std::span<const std::int64_t> requested,
                                bool allowzero = false);
HONE_EXPORT tensor reshape(const_tensor_view x, std::span<const std::int64_t> requested,
                           bool allowzero = false);

/// ONNX Transpose: perm a permutation of [0, r) (empty = reversed dims).
HONE_EXPORT tensor transpose(const_tensor_view x, std::span<const std::int64_t> perm = {});

/// ONNX Concat along `axis`: all inputs the same dtype and rank, equal dims except on axis.
HONE_EXPORT tensor concat(std::span<const const_tensor_view> inputs, std::int64_t axis);

/// ONNX Slice (opset 10+): starts, ends (same length), axes (empty = 0..n−1; negatives
/// normalized; repeats are invalid_argument), steps (empty = 1s; 0 is invalid_argument).
/// Negative starts/ends add the dim; then clamped: step > 0 to [0, dim], step < 0 start to
/// [0, dim − 1] and end to [−1, dim − 1]. INT64_MAX/INT64_MIN work as "to the end".
HONE_EXPORT tensor slice(const_tensor_view x, std::span<const std::int64_t> starts,
                         std::span<const std::int64_t> ends,
                         std::span<const std::int64_t> axes = {},
                         std::span<const std::int64_t> steps = {});

/// ONNX Squeeze: removes the given axes (each of dim 1, else shape_mismatch); empty axes
/// removes every dim of 1.
HONE_EXPORT tensor squeeze(const_tensor_view x, std::span<const std::int64_t> axes = {});
HONE_EXPORT shape squeeze_shape(const shape& in, std::span<const std::int64_t> axes);
/// ONNX Unsqueeze: axes refer to the output (rank r + len(axes)); repeats are invalid.
HONE_EXPORT tensor unsqueeze(const_tensor_view x, std::span<const std::int64_t> axes);
HONE_EXPORT shape unsqueeze_shape(const shape& in, std::span<const std::int64_t> axes);

/// ONNX Gather: indices (i32/i64, any shape, negative = from the end, out of [-d, d − 1] is
/// out_of_range) along axis; y = data.dims[:axis] + indices.dims + data.dims[axis+1:].
HONE_EXPORT tensor gather(const_tensor_view data, const_tensor_view indices, std::int64_t axis = 0);

/// ONNX Shape (opset 15 start/end, clamped to [0, r] after adding r to negatives): 1-D i64.
HONE_EXPORT tensor shape_of(const shape& dims, std::int64_t start = 0,
                            std::optional<std::int64_t> end = std::nullopt);

/// ONNX Expand: x broadcast (numpy, bidirectional) with `dims`.
HONE_EXPORT tensor expand(const_tensor_view x, std::span<const std::int64_t> dims);

// ---- reductions ---------------------------------------------------------------------------------

/// ONNX ReduceMean: mean over `axes` (empty = all axes, unless noop_with_empty_axes, which
/// returns a copy); keepdims keeps them as 1. The mean of an empty set is NaN. f32.
HONE_EXPORT tensor reduce_mean(const_tensor_view x, std::span<const std::int64_t> axes = {},
                               bool keepdims = true, bool noop_with_empty_axes = false);

// ---- quantized chains (src/graph/ops/int8_chain.cpp) -------------------------------------------
// What the executor runs between int8 layers of a QDQ model, in place of DequantizeLinear →
// f32 operators → QuantizeLinear.

/// One per-tensor quantization grid: real = scale · (q − zero_point), q of `type` (u8 or i8).
struct quant_grid {
    float scale = 1.0f;
    std::int32_t zero_point = 0;
    dtype type = dtype::u8;
};

/// dst[i] = table[src[i]] for n bytes (threads for large n).
HONE_EXPORT void byte_table(const std::uint8_t* src, std::int64_t n,
                            const std::array<std::uint8_t, 256>& table, std::uint8_t* dst);

/// dst[i] = table[src[i]] for n bytes into floats (threads for large n).
HONE_EXPORT void float_table(const std::uint8_t* src, std::int64_t n,
                             const std::array<float, 256>& table, float* dst);

/// QuantizeLinear(Clip(DequantizeLinear(a) + DequantizeLinear(b), lo, hi), y) (the Clip when
/// `clip`; Relu is lo = 0, hi = +inf) for a and b of equal shapes on grids ga and gb: every step
/// through the kernels ONNX's operators run on (kernels::dequantize, an f32 add, the executor's
/// Clip rule, kernels::quantize), so the bytes are those of the four operators. a and b
/// contiguous, of their grids' types; the result has gy.type. Errors: shape_mismatch,
/// dtype_mismatch.
HONE_EXPORT tensor quantized_add(const_tensor_view a, const quant_grid& ga, const_tensor_view b,
                                 const quant_grid& gb, const quant_grid& gy, bool clip = false,
                                 float lo = 0.0f, float hi = 0.0f);

// ---- integer operators (src/graph/ops/integer.cpp) ---------------------------------------------
// Integer-exact: products and sums in 64-bit integers, results wrapped to i32 as ONNX Runtime's
// i32 accumulators would be (no wrap occurs below K·255·255 < 2^31, i.e. K < 33 025).

/// ONNX DynamicQuantizeLinear (opset 11): x f32 → {y u8 (x's shape), y_scale f32 scalar,
/// y_zero_point u8 scalar}. Range [lo, hi] = [min(0, min x), max(0, max x)]; y_scale =
/// (hi − lo)/255 (a zero-width range — x all 0 — gives 1); zp = round_half_even(clamp(−lo /
/// y_scale, 0, 255)); y = clamp(round_half_even(x / y_scale) + zp, 0, 255). NaN in x:
/// invalid_argument (the range is undefined).
HONE_EXPORT std::vector<tensor> dynamic_quantize_linear(const_tensor_view x);

/// ONNX MatMulInteger (opset 10): a [..., M, K] (or [K]) and b [K, N], each u8 or i8;
/// a_zero_point scalar (or [1]) of a's type, b_zero_point scalar or [N] (per column) of b's
/// type; absent = 0. y i32 [..., M, N] = Σ_k (a − a_zp)(b − b_zp). Limit: b of rank 2 (batched
/// b is unsupported).
HONE_EXPORT tensor matmul_integer(const_tensor_view a, const_tensor_view b,
                                  optional_view a_zero_point = std::nullopt,
                                  optional_view b_zero_point = std::nullopt);

/// MatMulInteger's B prepared once (a constant weight): [N, K] int16 values b − b_zp.
struct integer_matrix {
    std::int64_t k = 0, n = 0;
    std::vector<std::int16_t> values; ///< row c holds column c of B minus its zero point
};
/// Prepares b (u8/i8 [K, N]) and b_zero_point as matmul_integer takes them (same errors).
HONE_EXPORT integer_matrix prepare_integer_matrix(const_tensor_view b,
                                                  optional_view b_zero_point = std::nullopt);
/// matmul_integer with a prepared B: identical results.
HONE_EXPORT tensor matmul_integer(const_tensor_view a, const integer_matrix& b,
                                  optional_view a_zero_point = std::nullopt);

/// ONNX ConvInteger (opset 10): x [N, C, D1..Dk] (k = 1…3), w [M, C/group, K1..Kk], each u8 or
/// i8; x_zero_point scalar, w_zero_point scalar or [M]; y i32 [N, M, O1..Ok] =
/// Σ (x − x_zp)(w − w_zp) over the window, padding contributing 0 (x padded with x_zp).
/// Attributes and output sizes as ops::conv (auto_pad, pads, strides, dilations, group).
HONE_EXPORT tensor conv_integer(const_tensor_view x, const_tensor_view w,
                                optional_view x_zero_point = std::nullopt,
                                optional_view w_zero_point = std::nullopt,
                                const conv_params& params = {});

} // namespace hone::ops
