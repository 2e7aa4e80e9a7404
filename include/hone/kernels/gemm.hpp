// hone/kernels/gemm.hpp — matrix products through oneDNN: f32, bf16 and int8 (u8·s8).
//
// Every operand is row-major and contiguous; A (the activations, "src") is [M, K], the result
// C ("dst") is [M, N] f32. The weights B are either [K, N] (weight_layout::k_by_n) or [N, K]
// (weight_layout::n_by_k: one row per output channel, as nn.Linear.weight and ONNX Gemm with
// transB=1). oneDNN primitives are created once per shape and kept in a process-wide cache, so
// repeated calls of one shape pay creation only once. oneDNN picks its own ISA at run time
// (onednn_isa() tells which); the HONE_MAX_ISA environment variable caps it too (avx2 → AVX2,
// scalar → SSE4.1) unless ONEDNN_MAX_CPU_ISA is set, but only at oneDNN's first use:
// set_max_isa() at run time does not move oneDNN's cap. Threads: hone::num_threads() when called
// from outside any OpenMP parallel region; called from inside one (or within a
// single_thread_scope), each call runs on the calling thread alone, so callers may run products
// concurrently from their own threads. Every primitive is safe to run from any thread,
// concurrently.
//
// Bytes: a product run on one thread (inside a parallel region or a single_thread_scope) gives
// the same bytes for the same operands and shapes on a given ISA, whatever hone::num_threads()
// is. Outside, oneDNN may split a reduction across its threads, so bytes can change with the
// thread count (not the value beyond rounding). hessian_accumulate fixes its order itself.
//
// Errors: hone::error with invalid_argument (null buffer, negative dimension), shape_mismatch
// (operands that do not agree, naming both), dtype_mismatch (a view of the wrong element type),
// unsupported (a combination oneDNN cannot run here), each message naming the argument.
#pragma once

#include "hone/core/export.hpp"
#include "hone/core/tensor.hpp"

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <vector>

namespace hone::kernels {

/// While alive, hone's oneDNN products called from this thread (matmul_f32/bf16, linear,
/// conv2d) run on this thread alone, with primitives made for one thread, exactly as they do
/// inside an OpenMP parallel region: their bytes then do not depend on hone::num_threads().
/// Nestable; this thread only.
class HONE_EXPORT single_thread_scope {
public:
    single_thread_scope() noexcept;
    ~single_thread_scope();
    single_thread_scope(const single_thread_scope&) = delete;
    single_thread_scope& operator=(const single_thread_scope&) = delete;
};

/// Layout of the weights B: [K, N] row-major, or [N, K] row-major (nn.Linear weight).
enum class weight_layout { k_by_n = 0, n_by_k = 1 };

/// C[M,N] = A[M,K] · B (+ bias[N] if not null); all f32 contiguous row-major; oneDNN, cached
/// primitive. M, K, N ≥ 0 (an empty product writes zeros, or the bias, into C). a, b, c must not
/// be null unless the buffer is empty. c must not overlap a or b.
HONE_EXPORT void matmul_f32(const float* a, const float* b, float* c, std::int64_t m,
                            std::int64_t k, std::int64_t n, weight_layout b_layout,
                            const float* bias);

/// As matmul_f32, with A and B rounded to bf16 (round to nearest even) and products accumulated
/// in f32: C = bf16(A) · bf16(B) (+ bias). On CPUs without native bf16 dot products (no
/// AVX-512 BF16/AMX) oneDNN only has a slow reference kernel, so hone rounds the operands itself
/// and runs the f32 kernel: the same arithmetic (a bf16×bf16 product is exact in f32).
HONE_EXPORT void matmul_bf16(const float* a, const float* b, float* c, std::int64_t m,
                             std::int64_t k, std::int64_t n, weight_layout b_layout,
                             const float* bias);

/// H += Xᵀ·X: X is a [rows, K] f32 calibration batch (row-major), H a [K, K] f32 accumulator
/// (row-major, updated in place), as GPTQ/SparseGPT collect it. f32 accumulation in an order
/// hone fixes: X is taken in chunks of 256 rows, each chunk's Xᵀ·X (256×256 tiles, one
/// single-thread oneDNN product each) is added to H in turn. So H's bytes do not depend on the
/// thread count, and accumulating X in several calls gives the bytes of one call when every
/// call but the last has a multiple of 256 rows. Off the 256×256 diagonal tiles H stays exactly
/// symmetric (each off-diagonal product is computed once and added to both halves). rows = 0
/// leaves H unchanged.
HONE_EXPORT void hessian_accumulate(const float* x, std::int64_t rows, std::int64_t k, float* h);

/// Tensor forms: x [rows, K] f32, h [K, K] f32, both contiguous.
HONE_EXPORT void hessian_accumulate(const_tensor_view x, tensor_view h);

/// Compute type of a linear layer.
enum class gemm_type {
    f32 = 0,  ///< f32 × f32 → f32
    bf16 = 1, ///< bf16(A) × bf16(B) → f32 (see matmul_bf16)
    int8 = 2, ///< u8 activations × s8 weights → s32 accumulators → f32 (scales, zero point)
};

/// How int8 activations get their scale and zero point.
enum class act_quant {
    static_per_tensor = 0,  ///< fixed at creation: act_scale, act_zero_point
    dynamic_per_tensor = 1, ///< computed per call from the min/max of the whole of A
    dynamic_per_row = 2,    ///< computed per call for each row of A from its own min/max
};

/// Configuration of a linear (fully connected) layer: y = x · W (+ bias), optional ReLU.
///
/// int8 arithmetic (exact up to the final float rescale):
///   q_a = saturate_u8(round_half_even(a / s_a) + z_a)            (activations, per tensor or row)
///   acc[m,n] = Σ_k (q_a[m,k] − z_a) · q_w[n,k]                   (exact, in s32)
///   y[m,n] = s_a · s_w[n] · acc[m,n] + bias[n]; ReLU if asked
/// Weights given as f32 are quantized symmetrically per output channel:
///   s_w[n] = max_k |w[n,k]| / 127 (1 for an all-zero channel), q_w = clamp(round_half_even(w/s_w),
///   −127, 127).
/// Dynamic activation scales (affine u8 over [min(0, lo), max(0, hi)] so 0 is exact):
///   s_a = (hi − lo) / 255 (1 if hi = lo), z_a = clamp(round_half_even(−lo / s_a), 0, 255).
/// With reduce_range, Q = 127 replaces 255 in all of the above (q_a and z_a in [0, 127];
/// dynamic s_a = (hi − lo) / 127); the s32 accumulation stays exact (see reduce_range).
struct linear_params {
    gemm_type type = gemm_type::f32;
    std::int64_t k = 0; ///< input features (reduction axis)
    std::int64_t n = 0; ///< output features
    weight_layout layout = weight_layout::n_by_k;
    bool relu = false; ///< apply max(0, y) after the bias
    // int8 only:
    act_quant activations = act_quant::dynamic_per_tensor;
    float act_scale = 1.0f;          ///< static: s_a > 0 and finite
    std::int32_t act_zero_point = 0; ///< static: z_a in [0, 255]
    /// Guarantee the exact s32 accumulation above on every CPU. Without VNNI (AVX2, plain
    /// AVX-512), oneDNN's u8·s8 kernels add pairs of products in 16 bits with saturation
    /// (vpmaddubsw), which is wrong whenever |a₁w₁ + a₂w₂| > 32767 — e.g. u8 values above 127
    /// with |w| > 64. With exact = true and such weights on such a CPU, hone splits each
    /// activation into its low 7 bits and its top bit and runs the product twice (no
    /// saturation possible; about half the int8 speed). exact = false lets oneDNN saturate.
    bool exact = true;
    /// 7-bit activations (PyTorch/fbgemm's reduce_range for x86 without VNNI): q_a is
    /// saturated to [0, 127] instead of [0, 255]. Then |q_a| ≤ 127 and |q_w| ≤ 128, so a pair
    /// of products never exceeds 2·127·128 = 32512 < 32767: oneDNN's 16-bit pair sums cannot
    /// saturate, the accumulation is exact without splitting (splits_activations() is false)
    /// and int8 runs at full speed on every CPU, at the cost of one bit of activation precision.
    ///  - dynamic: s_a = (hi − lo) / 127 (1 if hi = lo), z_a = clamp(round_half_even(−lo / s_a),
    ///    0, 127), q_a = clamp(round_half_even(a / s_a) + z_a, 0, 127);
    ///  - static: act_zero_point must lie in [0, 127] and act_scale is used as given, as the
    ///    step of a 0..127 grid: q_a = clamp(round_half_even(a / act_scale) + act_zero_point,
    ///    0, 127) (a calibrated range [lo, hi] calls for act_scale = (hi − lo) / 127). u8 src
    ///    given to run() must already hold values in [0, 127]; a larger value is an error
    ///    (invalid_argument), never clamped silently.
    bool reduce_range = false;
    /// The row count M the weights are packed for at construction. oneDNN may want another
    /// blocked layout for another M, made on first use and kept beside the first: a caller
    /// that knows its M (one large batch) avoids holding two packed copies. ≤ 0 means 1.
    std::int64_t first_rows = 1;
};

/// A linear layer configured once and run many times. Weights are converted (bf16) or
/// quantized (int8) and reordered into oneDNN's preferred layout once, at construction;
/// the primitive for each M is created on first use and cached inside the object.
///
/// Thread safety: run() may be called concurrently from several threads on one object (the
/// per-M cache is guarded by a mutex; oneDNN primitives are stateless; scratch buffers are
/// per thread, reused from call to call). Construction and destruction are not concurrent with
/// run().
class HONE_EXPORT linear {
public:
    /// f32 weights (quantized per output channel for int8). weights: [N, K] or [K, N] per
    /// params.layout; bias: N values or empty.
    linear(const linear_params& params, std::span<const float> weights,
           std::span<const float> bias = {});
    /// int8 only: weights already quantized (s8, symmetric, layout per params.layout) with
    /// their per-output-channel scales (N values, each > 0 and finite).
    linear(const linear_params& params, std::span<const std::int8_t> weights,
           std::span<const float> weight_scales, std::span<const float> bias = {});
    ~linear();
    linear(linear&&) noexcept;
    linear& operator=(linear&&) noexcept;
    linear(const linear&) = delete;
    linear& operator=(const linear&) = delete;

    /// dst[M,N] = layer(src[M,K]). src: f32 for every type; for int8 with static activations
    /// it may also be u8 already quantized with (act_scale, act_zero_point). dst: f32. Both
    /// rank 2 and contiguous; M may differ between calls (M = 0 is a no-op).
    void run(const_tensor_view src, tensor_view dst) const;
    /// Raw form: src is f32 [m, K], dst f32 [m, N].
    void run(const float* src, float* dst, std::int64_t m) const;

    const linear_params& params() const noexcept;
    /// The per-output-channel weight scales (int8; empty otherwise).
    std::span<const float> weight_scales() const noexcept;
    /// True when int8 products run twice (split activations) to stay exact on this CPU: only
    /// with exact, without reduce_range, on a CPU whose pairs saturate and with some |q_w| > 64.
    bool splits_activations() const noexcept;
    /// Number of M values whose primitive is cached in this object.
    std::size_t cached_shapes() const;
    /// oneDNN's implementation name for the primitive of this M (creating it if needed), e.g.
    /// "brg:avx2" or "gemm:jit" — for benchmarks and diagnostics.
    std::string implementation(std::int64_t m) const;

    struct impl;

private:
    std::unique_ptr<impl> impl_;
};

/// oneDNN's effective CPU ISA, e.g. "avx2", "avx512_core_vnni" (after ONEDNN_MAX_CPU_ISA).
HONE_EXPORT std::string onednn_isa();
/// Whether oneDNN's u8·s8 kernels can saturate pairs of products in 16 bits on this CPU
/// (no VNNI in oneDNN's effective ISA; see linear_params::exact).
HONE_EXPORT bool int8_pairs_saturate();
/// oneDNN's version, "major.minor.patch".
HONE_EXPORT std::string onednn_version();

} // namespace hone::kernels
