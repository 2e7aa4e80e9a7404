// hone/retrain/lsq.hpp — learned step size quantization (LSQ, Esser et al. 2020): the fake-quant
// forward of a weight and its gradients with respect to the weight and its scales.
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
#pragma once

#include "hone/core/export.hpp"
#include "hone/core/tensor.hpp"
#include "hone/quantize/quant_spec.hpp"

#include <cstdint>
#include <span>
#include <vector>

namespace hone::retrain {

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
