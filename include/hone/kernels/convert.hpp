// hone/kernels/convert.hpp — bulk f32 ↔ f16 / bf16 conversion (SIMD, runtime dispatch).
//
// Bit-identical to the scalar conversions of hone/core/half.hpp on every tier: round to nearest
// even, subnormals kept, NaN stays NaN (quiet, top payload bits kept), ±inf and ±0 keep sign.
// Spans must have equal sizes (else hone::error(shape_mismatch)) and must not overlap.
#pragma once

#include "hone/core/export.hpp"
#include "hone/core/half.hpp"
#include "hone/core/tensor.hpp"

#include <span>

namespace hone::kernels {

HONE_EXPORT void convert(std::span<const float> src, std::span<half> dst);
HONE_EXPORT void convert(std::span<const half> src, std::span<float> dst);
HONE_EXPORT void convert(std::span<const float> src, std::span<bfloat16> dst);
HONE_EXPORT void convert(std::span<const bfloat16> src, std::span<float> dst);

/// hone::copy with the SIMD path for contiguous f32 ↔ f16/bf16; any other case goes to
/// hone::copy (same rules, same errors).
HONE_EXPORT void convert(const_tensor_view src, tensor_view dst);

} // namespace hone::kernels
