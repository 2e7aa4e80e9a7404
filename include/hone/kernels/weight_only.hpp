// hone/kernels/weight_only.hpp — weight-only int4 group-wise GEMV/GEMM: y = x · Wᵀ (+ bias)
// with W quantized to 4 bits per weight, in groups along K, and x, y in f32.
//
// Format (docs/formats.md, "weight-only int4 group-wise"): W is [N, K] (N output rows, K the
// reduction axis, contiguous, as nn.Linear.weight), cut along K into groups of g consecutive
// weights. Three plain hone tensors hold it:
//   weights      i4 [N, K] (symmetric) or u4 [N, K] (asymmetric), 4-bit elements packed two per
//                byte in flat element order (element 2i = low nibble of byte i);
//   scales       f32 or f16 [N, K/g], one per group;
//   zero_points  u4 [N, K/g] (asymmetric only), packed the same way.
// Value of a weight: w[n,k] = (q[n,k] − zp[n,k/g]) · scale[n,k/g], zp = 0 for i4. No kernel-
// specific repacking: the SIMD GEMV reads this layout as it is (it reorders x once per call).
//
// Group sizes: any even g ≥ 2 dividing K. The SIMD GEMV is fastest for g a multiple of 32 (32,
// 64, 128, 256, ...); the g mod 32 trailing weights of each group take a scalar path.
//
// Numerics of int4_gemv (every tier): per group, acc = Σ_k (q − zp)·x[k] in f32; y = Σ_groups
// scale·acc (+ bias). The scalar reference sums in index order, the SIMD tiers in lanes, so
// results differ by rounding only: |y_tier − y_exact| ≤ (g + K/g + 16)·2⁻²⁴·(Σ_k |w·x| + |bias|)
// (plus underflow, ≤ 2⁻¹⁴⁹ per term), and they are bit-identical whenever every partial sum is
// exact (e.g. small-integer x with power-of-two scales). ±inf and NaN in x propagate as in the
// exact formula: 0·inf (a zero weight-minus-zero-point, or a zero scale) gives NaN, +inf and
// −inf contributions give NaN. Each output row is computed by one thread in a fixed order, so
// results do not depend on the thread count. Dequantization is exact and identical on every tier.
//
// int4_matmul with M ≤ 16 runs the GEMV once per row of x (faster than dequantizing: measured
// crossover M ≈ 20 for 4096×4096). Larger M dequantizes W to f32 in blocks of whole rows (at
// most 8 MiB of f32 scratch per call, never cached; each block stays in cache for oneDNN) and
// multiplies each block with matmul_f32 (oneDNN); error ≤ (K + 2)·2⁻²⁴·Σ|w·x| (the weights are
// exact, the f32 product sums in oneDNN's order). Caching the f32 weights would undo the memory
// saving that is the point of int4 (64 MiB f32 versus 8.5 MiB int4 for 4096×4096, g = 128), and the
// per-call dequantization is O(N·K) against the product's O(M·N·K).
//
// Errors (hone::error, messages name the argument): invalid_argument (group size odd, < 2 or
// not dividing K, null or non-contiguous buffers, scales that are not positive and finite,
// non-finite weights, zero points outside 0…15), shape_mismatch (operands that do not agree),
// dtype_mismatch (weights not i4/u4, scales not f32/f16, zero points not u4, x/y/bias not f32).
#pragma once

#include "hone/core/export.hpp"
#include "hone/core/tensor.hpp"

#include <cstdint>
#include <span>

namespace hone::kernels {

/// Non-owning view of int4 group-wise weights in the plain packed form (see the top).
struct int4_weights_view {
    const_tensor_view weights;     ///< i4 or u4, [N, K], contiguous
    const_tensor_view scales;      ///< f32 or f16, [N, K / group_size], contiguous
    const_tensor_view zero_points; ///< u4 [N, K / group_size] for u4 weights; none (null) for i4
    std::int64_t group_size = 0;   ///< g: even, ≥ 2, divides K

    std::int64_t rows() const noexcept { return weights.rank() == 2 ? weights.dims()[0] : 0; }
    std::int64_t cols() const noexcept { return weights.rank() == 2 ? weights.dims()[1] : 0; }
};

/// Owning int4 group-wise weights. zero_points is an empty u4 tensor ([0]) when symmetric.
struct HONE_EXPORT int4_weights {
    tensor weights;
    tensor scales;
    tensor zero_points;
    std::int64_t group_size = 0;

    bool symmetric() const noexcept { return weights.type() == dtype::i4; }
    std::int64_t rows() const noexcept {
        return weights.dims().rank() == 2 ? weights.dims()[0] : 0;
    }
    std::int64_t cols() const noexcept {
        return weights.dims().rank() == 2 ? weights.dims()[1] : 0;
    }
    /// Bytes of weights + scales + zero points.
    std::size_t nbytes() const noexcept {
        return weights.nbytes() + scales.nbytes() + zero_points.nbytes();
    }
    int4_weights_view view() const;
};

/// How int4_quantize chooses each group's parameters.
struct int4_config {
    std::int64_t group_size = 128;
    /// true: i4, q = clamp(round(w / s), −8, 7), s = max|w| / 7.
    /// false: u4, q = clamp(round(w / s) + zp, 0, 15) over [lo, hi] = [min(0, min w),
    /// max(0, max w)], s = (hi − lo) / 15, zp = clamp(round(−lo / s), 0, 15).
    /// An all-zero group gets s = 1 (and zp = 0). round = half to even (ONNX QuantizeLinear).
    bool symmetric = true;
    dtype scale_type = dtype::f32; ///< f32 or f16; f16 scales are rounded before quantizing
};

/// Quantizes f32 weights src [N, K] (any strides) group-wise, choosing scales (and zero
/// points) as int4_config says. Throws invalid_argument for non-finite weights, or for f16
/// scales that overflow or underflow f16.
HONE_EXPORT int4_weights int4_quantize(const_tensor_view src, const int4_config& config);

/// Quantizes f32 weights src [N, K] with given scales [N, K/g] (f32 or f16, each > 0 and
/// finite) and zero points [N, K/g] (u4, or u8 holding 0…15; a null view = symmetric i4):
/// q = clamp(round_half_even(w / s) + zp, qmin, qmax), exactly ONNX QuantizeLinear.
HONE_EXPORT int4_weights int4_pack(const_tensor_view src, const_tensor_view scales,
                                   const_tensor_view zero_points, std::int64_t group_size);

/// A checked copy of packed weights (the view's tensors are copied; validated as for a GEMV).
HONE_EXPORT int4_weights int4_copy(const int4_weights_view& w);

/// dst [N, K] f32 contiguous = (q − zp) · scale, exactly (one f32 multiply per weight).
HONE_EXPORT void int4_dequantize(const int4_weights_view& w, tensor_view dst);

/// y[N] = W · x[K] (+ bias[N] when bias is not empty). Own SIMD kernel, OpenMP over N.
HONE_EXPORT void int4_gemv(const int4_weights_view& w, std::span<const float> x, std::span<float> y,
                           std::span<const float> bias = {});

/// y = x · Wᵀ (+ bias): x f32 [M, K] → y f32 [M, N], or x [K] → y [N]; contiguous.
HONE_EXPORT void int4_matmul(const int4_weights_view& w, const_tensor_view x, tensor_view y,
                             std::span<const float> bias = {});

} // namespace hone::kernels
