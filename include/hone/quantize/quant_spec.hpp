// hone/quantize/quant_spec.hpp — what a quantized weight tensor looks like: bit width,
// signedness, symmetric or affine, granularity (per tensor, per channel, group-wise) and the
// type of its scales. Formulas and packed layouts: docs/quantizer.md.
//
// Integer range of `bits` b (2…8):  signed   [−2^(b−1), 2^(b−1) − 1]   (b = 4: [−8, 7])
//                                   unsigned [0, 2^b − 1]              (b = 4: [0, 15])
// Scale and zero point of a range [lo, hi] (first widened to include 0), exactly the formulas
// of kernels::choose_qparams (hone/kernels/quantize.hpp) with the b-bit range [qmin, qmax]:
//   affine:    scale = (hi − lo)/(qmax − qmin), zp = clamp(round_half_even(qmin − lo/scale));
//   symmetric: a = max(−lo, hi); signed: zp = 0, scale = a/qmax (−2^(b−1) unused);
//              unsigned: zp = (qmax + 1)/2, scale = a/(qmax − zp).
// A zero-width range gives scale 1. For b = 8 and b = 4 the results are bit-identical to
// kernels::choose_qparams with i8/u8/i4/u4. f16 scales: the f32 scale rounded to the nearest
// f16, or the next one up when that is smaller (so the range still fits), then the zero point
// of the affine scheme recomputed with it.
// Quantization is ONNX QuantizeLinear clamped to the b-bit range:
//   q = clamp(round_half_even(x / scale) + zp, qmin, qmax);   x' = (q − zp) · scale.
#pragma once

#include "hone/core/dtype.hpp"
#include "hone/core/export.hpp"
#include "hone/core/shape.hpp"

#include <cstdint>
#include <string>
#include <string_view>

namespace hone {

/// Which elements share one scale / zero point.
enum class quant_granularity : int {
    per_tensor = 0,  ///< one scale for the whole tensor
    per_channel = 1, ///< one per index of `channel_axis` (rows of a [N, K] linear weight)
    per_group = 2,   ///< groups of `group_size` consecutive elements along `group_axis`
};

/// A weight quantization scheme. Aggregate; defaults: signed symmetric int8 per channel.
struct HONE_EXPORT quant_spec {
    int bits = 8;          ///< 2…8
    bool is_signed = true; ///< signed range [−2^(b−1), 2^(b−1)−1] or unsigned [0, 2^b−1]
    bool symmetric = true; ///< symmetric (zp fixed: 0 signed, 2^(b−1) unsigned) or affine
    quant_granularity granularity = quant_granularity::per_channel;
    int channel_axis = 0; ///< per_channel: the channel axis (negative counts from the end)
    int group_axis = -1;  ///< per_group: the axis cut into groups (−1 = last: K of [N, K])
    std::int64_t group_size = 128; ///< per_group: elements per group; must divide that axis
    dtype scale_type = dtype::f32; ///< f32 or f16 (scales rounded to f16 before quantizing)

    std::int32_t qmin() const noexcept { return is_signed ? -(1 << (bits - 1)) : 0; }
    std::int32_t qmax() const noexcept {
        return is_signed ? (1 << (bits - 1)) - 1 : (1 << bits) - 1;
    }
    /// Dtype of the packed elements: i8/u8 for 5…8 bits, i4/u4 for 3…4 bits, u8 (four 2-bit
    /// fields per byte, see docs/quantizer.md) for 2 bits.
    dtype storage_type() const noexcept;
    /// Dtype of the zero points: i8/u8 for 5…8 bits, i4/u4 for 2…4 bits (packed like data).
    dtype zero_point_type() const noexcept;
    /// Whether zero points are stored (false only for signed symmetric: all zero).
    bool has_zero_points() const noexcept { return !(symmetric && is_signed); }

    /// "int4 signed symmetric per_group(axis 1, 128) f32 scales", for messages and reports.
    std::string to_string() const;
};

/// Throws invalid_argument naming `what` when the spec itself is malformed (bits outside 2…8,
/// group_size < 1, scale_type not f32/f16).
HONE_EXPORT void validate(const quant_spec& spec, std::string_view what);

/// Throws (invalid_argument / shape_mismatch) naming `what` when the spec cannot apply to a
/// tensor of shape `dims`: empty tensor, axis out of range, group size not dividing the axis.
/// Returns the normalised axis (channel or group axis; 0 for per_tensor).
HONE_EXPORT int validate(const quant_spec& spec, const shape& dims, std::string_view what);

/// Shape of the scales (and zero points) of a tensor of shape `dims` under `spec` (validated):
/// per_tensor [1]; per_channel [dims[axis]]; per_group dims with dims[axis] / group_size —
/// the shapes kernels::quantize_linear / dequantize_linear expect.
HONE_EXPORT shape scale_shape(const quant_spec& spec, const shape& dims);

} // namespace hone
