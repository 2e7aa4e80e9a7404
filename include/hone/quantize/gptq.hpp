// hone/quantize/gptq.hpp — GPTQ (Frantar et al., 2022): quantize a linear weight W [N, K]
// column by column, each time spreading the rounding error over the not-yet-quantized columns
// so as to minimise the layer's output error ‖XWᵀ − XŴᵀ‖² on calibration inputs X.
//
// Input: W (f32 [N, K], K the reduction axis) and H = Σ xᵀx over the calibration inputs
// (f32 [K, K]; kernels::hessian_accumulate builds it batch by batch, or pass the inputs and
// quantizer does it). The method, as the paper:
//   - dead inputs (H_kk = 0) get H_kk = 1 and W[:, k] = 0 (they never affect the output);
//   - dampening: H += damp_fraction · mean(diag H) · I;
//   - act-order (optional): columns in order of decreasing H_kk;
//   - U = upper Cholesky factor of H⁻¹ (src/quantize/hessian.hpp, double precision);
//   - for each column i: q = Q(w_i), e = (w_i − q)/U_ii, w_j −= e·U_ij for j > i — within a
//     block of `block_size` columns at once, then one matrix product for the columns after the
//     block (lazy batch updates); inside a block, sub-blocks of 16 columns update the rest of the
//     block with one product each (two-level blocking; the same arithmetic, reordered).
// Scales: per_tensor and per_channel (axis 0) scales come from W (after dead columns are
// zeroed) before the first column. per_group (along K): without act-order, each group's scale
// is computed from the current (already error-updated) weights when its first column is
// reached, as the reference does; the block is shrunk to a multiple of the group size (or
// grown to one group) so a group never straddles a block and is always computed from fully
// updated weights. With act-order, or static_groups = true, group scales are computed from W
// up front ("static groups"), so the packed tensor keeps the plain contiguous group layout
// (no per-column group index) whatever the column order. With clip_search, every scale is the
// MSE-optimal clipped one (clip_search_config) instead of min/max.
// Rows are independent: they are processed in fixed chunks of 64 rows in parallel, each chunk
// by one thread in a fixed order, so the result is identical at any thread count.
#pragma once

#include "hone/core/export.hpp"
#include "hone/core/tensor.hpp"
#include "hone/quantize/quant_spec.hpp"
#include "hone/quantize/quantized_tensor.hpp"

#include <cstdint>
#include <string_view>

namespace hone {

/// Clipping search: for each scale group, the range [r·lo, r·hi] with r on the grid
/// 1, 1 − (1 − min_ratio)/steps, …, min_ratio that minimises Σ |w − ŵ|^norm over the group
/// (norm 2 = MSE). Ties keep the larger r (r = 1 is plain min/max, so never worse than RTN).
struct clip_search_config {
    int steps = 20;         ///< ≥ 1 grid steps below 1
    float min_ratio = 0.5f; ///< in (0, 1]
    float norm = 2.0f;      ///< p ≥ 1 of the error norm
};

struct gptq_config {
    double damp_fraction = 0.01;   ///< λ = damp_fraction · mean(diag H), ≥ 0
    bool act_order = false;        ///< columns by decreasing H_kk (implies static groups)
    std::int64_t block_size = 128; ///< lazy-update block, ≥ 1
    bool static_groups = false;    ///< group scales from W before GPTQ (always with act_order)
    bool clip_search = false;      ///< MSE-optimal clipped scales (clip config below)
    clip_search_config clip{};
};

/// GPTQ-quantizes W [N, K] with the Hessian H [K, K] (see the top). spec: per_tensor,
/// per_channel on axis 0, or per_group along axis 1 (−1). Throws invalid_argument naming
/// `name` for non-finite W or H, empty W, a spec that does not fit (bits, group size not
/// dividing K, other axes), a bad config, or an H that is not positive definite after
/// dampening; shape_mismatch when H is not K×K.
HONE_EXPORT quantized_tensor gptq_quantize(const_tensor_view weights, const_tensor_view hessian,
                                           const quant_spec& spec, const gptq_config& config,
                                           std::string_view name = "weights");

} // namespace hone
