// hone/quantize/error_report.hpp — how much a quantized weight tensor differs from the original,
// and (with calibration inputs) how much the layer's output does.
//
// For weights W (f32) and their dequantization Ŵ (elementwise, n elements):
//   mse            = Σ (W − Ŵ)² / n
//   max_abs_error  = max |W − Ŵ|
//   sqnr_db        = 10·log10(Σ W² / Σ (W − Ŵ)²)     (+inf when Ŵ = W exactly)
//   fraction_clipped = share of elements whose round_half_even(w / scale) + zp fell outside
//                    [qmin, qmax] and was saturated (with the tensor's own scales).
// With inputs X [M, K] for a linear weight W [N, K] (y = x·Wᵀ):
//   output_mse     = Σ (XWᵀ − XŴᵀ)² / (M·N)
//   output_sqnr_db = 10·log10(Σ (XWᵀ)² / Σ (XWᵀ − XŴᵀ)²)
// Products through kernels::matmul_f32; the sums are kernels::compare's (hone/kernels/error.hpp,
// in double; SQNR −inf when the reference is all zeros but the error is not).
// AWQ-scaled tensors (input_scales s given): the tensor holds W·diag(s), the layer computes
// (x / s)·Ŵsᵀ, so Ŵ above is the effective weight dequantize()·diag(1/s); fraction_clipped is
// measured on W·diag(s), the values that were quantized.
#pragma once

#include "hone/core/export.hpp"
#include "hone/core/tensor.hpp"
#include "hone/quantize/quantized_tensor.hpp"

#include <cstdint>
#include <limits>
#include <span>
#include <string>
#include <string_view>

namespace hone {

struct quant_error_report {
    std::string name;          ///< the tensor's name
    std::int64_t elements = 0; ///< n
    double mse = 0;
    double max_abs_error = 0;
    double sqnr_db = 0;
    double fraction_clipped = 0;
    bool has_output = false; ///< whether the output figures below were measured
    double output_mse = std::numeric_limits<double>::quiet_NaN();
    double output_sqnr_db = std::numeric_limits<double>::quiet_NaN();
};

/// The report of `quantized` against `original` (f32, its dims; any strides). `inputs` (f32
/// [M, K], may be an empty/default view) adds the layer-output figures for a rank-2 weight
/// [N, K]; `input_scales` (K values) when the tensor was AWQ-scaled. Throws naming `name` on
/// mismatched shapes or non-finite values.
HONE_EXPORT quant_error_report measure_error(const_tensor_view original,
                                             const quantized_tensor& quantized,
                                             std::string_view name, const_tensor_view inputs = {},
                                             std::span<const float> input_scales = {});

} // namespace hone
