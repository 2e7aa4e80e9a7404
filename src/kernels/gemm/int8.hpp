// int8 helpers of the linear layer: weight quantization, activation quantization (static or
// dynamic, per tensor or per row) and the exact-integer rescale pass of the dynamic path.
#pragma once

#include "hone/kernels/gemm.hpp"

#include <cstdint>
#include <span>
#include <vector>

namespace hone::kernels::detail {

struct int8_weights {
    std::vector<std::int8_t> q; ///< [N, K] row-major (n_by_k), symmetric, in [-127, 127]
    std::vector<float> scales;  ///< N
};

/// Symmetric per-output-channel quantization of f32 weights given in `layout`.
int8_weights quantize_weights(std::span<const float> w, std::int64_t k, std::int64_t n,
                              weight_layout layout);

/// Σ_k q[n, k] for each output channel n (q in `layout`).
std::vector<std::int32_t> channel_sums(const std::int8_t* q, std::int64_t k, std::int64_t n,
                                       weight_layout layout);

/// Quantizes src [m, k] into q (u8 in [0, qmax], qmax = 255, or 127 with reduce_range) with
/// one (scale, zero point) per tensor or per row: static uses (scale, zero_point) as given;
/// dynamic ones compute them from min/max (u8 affine as hone::kernels::choose_qparams, with
/// qmax in place of 255), each row's min/max and quantization done back to back while the row
/// is in cache. scales / zero_points must hold 1 (per tensor) or m (per row) entries. Runs on
/// one thread for small inputs. Throws invalid_argument (naming src) for non-finite input of
/// a dynamic mode.
void quantize_activations(const float* src, std::int64_t m, std::int64_t k, act_quant mode,
                          float static_scale, std::int32_t static_zero_point, std::int32_t qmax,
                          std::uint8_t* q, float* scales, std::int32_t* zero_points);

/// In place over dst [m, n], which holds s32 accumulators acc = Σ q_a·q_w (zero point not yet
/// removed): dst = s_a[r] · s_w[j] · (acc − z_a[r] · colsum[j]) + bias[j], then ReLU if asked.
/// s_a / z_a have 1 (per tensor) or m entries. The float part is computed as
/// (s_a · s_w[j]) · float(acc − z·colsum) + bias[j], in that order. k (the reduction length)
/// bounds |acc − z·colsum| ≤ 255·128·k: up to k = 65793 the difference is taken in s32 (and
/// the loop vectorizes), beyond in s64. Runs on one thread for small outputs.
void rescale_s32(float* dst, std::int64_t m, std::int64_t n, std::int64_t k,
                 std::span<const float> act_scales, std::span<const std::int32_t> act_zero_points,
                 std::span<const float> w_scales, std::span<const std::int32_t> colsum,
                 std::span<const float> bias, bool relu);

/// dst[i] (an s32 stored in an f32 slot) += factor · add[i], exactly.
void add_scaled_s32(float* dst, const std::int32_t* add, std::size_t count, std::int32_t factor);

} // namespace hone::kernels::detail
