// hone/kernels/quantize.hpp — linear quantization f32 → int8/uint8/int4/uint4 and back, exactly as
// ONNX QuantizeLinear / DequantizeLinear (opset 21) specify; plus the choice of scale and zero
// point from a range (SIMD, runtime dispatch; every tier returns the reference's bits).
//
// Quantize:    y = saturate(round_half_to_even(x / scale) + zero_point)
// Dequantize:  y = (x - zero_point) * scale
// The division is a real IEEE division (not a multiplication by 1/scale), so every tier, and any
// other correct implementation of the ONNX formula, gives the same integers.
//
// Output ranges: i8 [-128, 127], u8 [0, 255], i4 [-8, 7], u4 [0, 15]. i4/u4 tensors are packed
// two per byte, element 2k in the low nibble of byte k (docs/formats.md); an odd element count
// leaves the last high nibble zero, and quantize_linear writes it so.
//
// Special values (quantize): ±inf saturate to the type's max / min; x / scale overflowing to
// ±inf saturates the same way; NaN quantizes to the zero point (so it dequantizes to 0), a
// choice ONNX leaves open; ±0 and denormals quantize like any small value (to the zero point).
//
// Granularity is read from the scale's shape, as ONNX does, with x of rank r:
//  - per tensor: scale has one element and rank 0 or 1 (block_size must be 0);
//  - per axis:   block_size = 0, scale is 1-D of length x.dims[axis] (axis in [-r, r));
//  - blocked:    block_size = B > 0, scale has rank r and the shape of x except dims[axis] / B.
//                hone requires B to divide dims[axis] (ONNX allows a ragged last block).
// The zero point, if given, has the scale's shape (for per tensor: any one-element shape of rank
// 0 or 1) and the quantized type (i8/u8/i4/u4); absent, it is 0. Scales must be f32, finite and >
// 0. The shapes quantize_linear expects are those of reduced_shape (hone/kernels/reduce.hpp), so
// min_max → choose_qparams → quantize_linear chain.
//
// Errors (hone::error), each naming the argument and the value found: dtype_mismatch (x not
// f32, y not i8/u8/i4/u4, zero point of another type than y, scale not f32), shape_mismatch
// (x vs y, scale vs the granularity, zero point vs scale), invalid_argument (axis out of range,
// block_size < 0 or not dividing the axis, scale ≤ 0, inf or NaN with its index; zero point
// outside the type's range for the span forms; non-contiguous packed tensors).
#pragma once

#include "hone/core/export.hpp"
#include "hone/core/tensor.hpp"
#include "hone/kernels/reduce.hpp"

#include <array>
#include <cstdint>
#include <optional>
#include <span>

namespace hone::kernels {

/// Scale, zero point and axis / block size, as the ONNX operators' inputs and attributes.
struct quant_params {
    const_tensor_view scale{};                     ///< f32
    std::optional<const_tensor_view> zero_point{}; ///< same shape as scale; absent = 0
    int axis = 1;                                  ///< ONNX default; used by per-axis and blocked
    std::int64_t block_size = 0;                   ///< 0 = per tensor / per axis
};

/// ONNX QuantizeLinear: x (f32, any strides) → y (i8, u8, i4 or u4; same shape as x; packed
/// types contiguous). Parallel over elements; results do not depend on the thread count.
HONE_EXPORT void quantize_linear(const_tensor_view x, const quant_params& p, tensor_view y);
/// ONNX DequantizeLinear: x (i8, u8, i4 or u4) → y (f32, same shape). The zero point, if given,
/// has x's type.
HONE_EXPORT void dequantize_linear(const_tensor_view x, const quant_params& p, tensor_view y);

// ---- span forms: one scale and zero point for the whole span (per-tensor), for callers that
// quantize their own buffers (e.g. a row of activations). zero_point must lie in the type's
// range; sizes must match. -------------------------------------------------------------------

HONE_EXPORT void quantize(std::span<const float> src, float scale, std::int32_t zero_point,
                          std::span<std::int8_t> dst);
HONE_EXPORT void quantize(std::span<const float> src, float scale, std::int32_t zero_point,
                          std::span<std::uint8_t> dst);
HONE_EXPORT void dequantize(std::span<const std::int8_t> src, float scale, std::int32_t zero_point,
                            std::span<float> dst);
HONE_EXPORT void dequantize(std::span<const std::uint8_t> src, float scale, std::int32_t zero_point,
                            std::span<float> dst);

/// dst[i] = table[src[i]]: a 256-entry byte table (requantizing one 8-bit grid onto another
/// through any elementwise function). Sizes must match; src and dst may be the same span. Runs
/// at memory speed with AVX-512 VBMI (VPERMI2B, when the active tier is avx512), else a byte
/// at a time; the same bytes on every tier.
HONE_EXPORT void byte_table(std::span<const std::uint8_t> src,
                            const std::array<std::uint8_t, 256>& table,
                            std::span<std::uint8_t> dst);

// ---- choosing scale and zero point -------------------------------------------------------------

/// The integer range of a quantized type: i8 [-128, 127], u8 [0, 255], i4 [-8, 7], u4 [0, 15].
/// Throws dtype_mismatch for any other type.
struct quant_range {
    std::int32_t min = 0;
    std::int32_t max = 0;
};
HONE_EXPORT quant_range quant_range_of(dtype type);

enum class quant_scheme : int {
    /// Zero point anywhere in the type's range; uses the full range (ONNX
    /// DynamicQuantizeLinear generalised to every type).
    affine = 0,
    /// Signed types: zero point 0, range [-max, max] (-128 / -8 unused, as ONNX Runtime's
    /// symmetric weights). Unsigned types: zero point 128 (u8) or 8 (u4), range [1, 255] / [1, 15].
    symmetric = 1,
};

struct qparams {
    float scale = 1.0f;
    std::int32_t zero_point = 0;
};

/// Scale and zero point for values in [min, max] quantized to `type` (i8, u8, i4, u4).
///
/// The range is first widened to include 0: rmin = min(min, 0), rmax = max(max, 0), so 0 is
/// exact. Then, with [qmin, qmax] the type's range:
///  - affine:    scale = (rmax - rmin) / (qmax - qmin);
///               zero_point = saturate(round_half_to_even(qmin - rmin / scale)).
///               For u8 this is exactly ONNX DynamicQuantizeLinear.
///  - symmetric: a = max(-rmin, rmax); signed: scale = a / qmax, zero_point = 0;
///               unsigned: zero_point = (qmax + 1) / 2, scale = a / (qmax - zero_point).
/// Every x in [min, max] then quantizes within range, so |dequantize(quantize(x)) - x| ≤
/// scale / 2 (up to one rounding of the scale). A degenerate range (rmin = rmax = 0, e.g. an
/// all-zero tensor) gives scale 1 and the zero point of the same formulas (affine: qmin;
/// symmetric: 0, or (qmax + 1) / 2 for unsigned types), so zeros stay exact.
/// The empty-set identities of the reductions (min = +inf, max = -inf) count as that degenerate
/// range. Throws invalid_argument for NaN, for an infinite bound, for min > max (other than the
/// empty identities) and for a range so wide that the scale overflows.
HONE_EXPORT qparams choose_qparams(float min, float max, dtype type, quant_scheme scheme);

/// choose_qparams for each i: scale[i], zero_point[i] from min[i], max[i]. All spans have one
/// size (else shape_mismatch).
HONE_EXPORT void choose_qparams(std::span<const float> min, std::span<const float> max, dtype type,
                                quant_scheme scheme, std::span<float> scale,
                                std::span<std::int32_t> zero_point);

/// Tensor form, ready for quantize_linear: min and max (f32, same shape, any strides) → scale
/// (f32, that shape, contiguous) and zero_point (of type `type`, that shape, contiguous; packed
/// for i4/u4).
HONE_EXPORT void choose_qparams(const_tensor_view min, const_tensor_view max, dtype type,
                                quant_scheme scheme, tensor_view scale, tensor_view zero_point);

} // namespace hone::kernels
