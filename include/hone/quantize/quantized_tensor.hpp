// hone/quantize/quantized_tensor.hpp — a packed low-bit tensor with its scales, zero points and
// spec; exact dequantization.
//
// Layout (docs/quantizer.md, docs/formats.md):
//   data         5…8 bits: i8/u8, one byte per element (values within the b-bit range);
//                3…4 bits: i4/u4, two per byte, element 2k in the low nibble of byte k;
//                2 bits:   u8 [⌈numel/4⌉], four per byte, element 4k+j in bits 2j…2j+1 of
//                          byte k (two's complement fields when signed); unused fields are 0.
//                Elements are in the row-major order of `dims`.
//   scales       f32 or f16 (spec.scale_type), shape scale_shape(spec, dims) (row-major).
//   zero_points  spec.zero_point_type(), the scales' shape (packed like data for 4-bit types);
//                an empty tensor ([0]) when the spec is signed symmetric (all zero).
// Value: x'[i] = (q[i] − zp[g(i)]) · scale[g(i)], one f32 multiply (f16 scales widened exactly),
// so dequantize() is exact and identical to kernels::dequantize_linear.
// With bits 4, per_group along the last axis of a [N, K] tensor, and either signed symmetric or
// unsigned affine/symmetric, the tensors are exactly kernels::int4_weights (to_int4_weights()),
// ready for kernels::int4_gemv / int4_matmul.
#pragma once

#include "hone/core/export.hpp"
#include "hone/core/tensor.hpp"
#include "hone/kernels/weight_only.hpp"
#include "hone/quantize/quant_spec.hpp"

#include <cstdint>
#include <span>
#include <string_view>
#include <vector>

namespace hone {

/// Owning packed quantized tensor. Build it with quantizer (or from_values / from parts);
/// the members stay consistent as long as they are not edited by hand (validate() checks).
struct HONE_EXPORT quantized_tensor {
    quant_spec spec{};
    shape dims{};         ///< shape of the original f32 tensor
    tensor data{};        ///< packed integers (see the top)
    tensor scales{};      ///< f32 / f16, scale_shape(spec, dims)
    tensor zero_points{}; ///< zero_point_type(), scales' shape; empty when signed symmetric

    /// Packs integers q (row-major, numel(dims) of them, each within [qmin, qmax]) with the
    /// given scales (f32 values, scale_shape entries, each finite and > 0; rounded to f16 when
    /// the spec says so — pass f16-exact values to keep them) and zero points (same count;
    /// ignored/empty for signed symmetric). Throws naming `what` on any inconsistency.
    static quantized_tensor from_values(const quant_spec& spec, const shape& dims,
                                        std::span<const std::int32_t> q,
                                        std::span<const float> scales,
                                        std::span<const std::int32_t> zero_points,
                                        std::string_view what = "tensor");

    /// Checks every part against the spec (dtypes, shapes, scales finite and > 0, zero points
    /// and values within range); throws naming `what`.
    void validate(std::string_view what = "tensor") const;

    std::int64_t numel() const noexcept { return dims.numel(); }
    /// Integer of element i (row-major flat index), unpacked; throws out_of_range.
    std::int32_t value(std::int64_t i) const;
    /// All integers, unpacked, row-major.
    std::vector<std::int32_t> values() const;
    /// Scales widened to f32, row-major over scale_shape.
    std::vector<float> scale_values() const;
    /// Zero points as integers (all zero when not stored).
    std::vector<std::int32_t> zero_point_values() const;
    /// Index into scales / zero points of element i.
    std::int64_t group_of(std::int64_t i) const;

    /// Exact dequantization into a new f32 tensor of shape dims.
    tensor dequantize() const;
    /// The same into dst (f32, shape dims, any strides).
    void dequantize(tensor_view dst) const;

    /// Stored bytes: data + scales + zero points.
    std::size_t bytes() const noexcept {
        return data.nbytes() + scales.nbytes() + zero_points.nbytes();
    }

    /// The kernel layer's int4 weight-only form (copies). Throws unsupported unless bits = 4,
    /// per_group along the last axis of a rank-2 tensor, group size even, and signed symmetric
    /// or unsigned.
    kernels::int4_weights to_int4_weights() const;
};

} // namespace hone
