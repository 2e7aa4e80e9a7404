// hone/quantize/smooth_quant.hpp — SmoothQuant (Xiao et al. 2022): migrate activation outliers
// into the weights of a linear layer y = x·Wᵀ + b before W8A8 quantization.
//
// For input channel j (a column of W [N, K], a feature of x [M, K]) the smoothing factor is
//   s_j = max|X_j|^α / max|W_j|^(1−α)
// with max|X_j| over the calibration data and max|W_j| over column j of W. The layer is then
// computed as (x / s)·(W·s)ᵀ, which is exactly x·Wᵀ in real arithmetic: the activations lose
// their per-channel outliers, the weights take them. Dead channels (max|X_j| = 0 or max|W_j| =
// 0) get s_j = 1; factors are clamped to [1e-5, 1e5] (the paper clamps at 1e-5).
//
// α search: each α of the grid is scored on the calibration data by the layer's W8A8 output
// error, exactly as it would run:
//   - weights W·s quantized per output channel, symmetric int8 RTN as kernels::linear does it:
//     hone::quantizer's default spec (hone/quantize/quantizer.hpp), the same values bit for bit
//     (s_w[n] = max_k |w[n,k]| / 127, q = clamp(round_half_even(w / s_w), −128, 127), where
//     −128 is never reached);
//   - activations x / s quantized per tensor with static MinMax parameters (act type/scheme,
//     reduce_range as the calibrator conventions, hone/quantize/calibrator.hpp). The range of x / s
//     is known exactly from pass one: max over j of max X_j / s_j, likewise for the min;
//   - error = Σ over calibration rows of ‖x·Wᵀ − qdq(x/s)·Ŵ(W·s)ᵀ‖² (the bias cancels).
// The same error without smoothing (s = 1) is reported as error_before. The result is the best α
// of the grid (ties: the first in the grid); it is the caller's choice to keep the layer
// unsmoothed if error_before is lower.
//
// Determinism: the products are computed by a fixed-order kernel, so the errors and the chosen α
// are bitwise identical at any thread count; another batch split changes only the order of the
// double sums of squared errors.
//
// Streaming use, two passes over the calibration batches (bounded memory: O(K) statistics and
// O(|grid|) error sums): observe(x) for every batch, then score(x) for every batch, then
// result(). smooth_quant_search() does both passes over a list of batches.
//
// Errors (hone::error, messages start with params.name): dtype_mismatch (non-f32 weights or
// batches), shape_mismatch (weights not rank 2, batch not [M, K] with the weights' K),
// invalid_argument (NaN/inf in weights or batches naming the index/column, an empty or
// non-finite α grid or α outside [0, 1], score() before observe(), result() before score(),
// observe() after score(), activation type not u8/i8).
#pragma once

#include "hone/core/export.hpp"
#include "hone/core/tensor.hpp"
#include "hone/kernels/quantize.hpp"

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <vector>

namespace hone {

struct smooth_quant_params {
    /// α grid, each in [0, 1]; default 0, 0.05, …, 1.
    std::vector<float> alphas = {0.0f,  0.05f, 0.1f,  0.15f, 0.2f,  0.25f, 0.3f,
                                 0.35f, 0.4f,  0.45f, 0.5f,  0.55f, 0.6f,  0.65f,
                                 0.7f,  0.75f, 0.8f,  0.85f, 0.9f,  0.95f, 1.0f};
    dtype act_type = dtype::u8; ///< activation quantization in the search: u8 or i8
    kernels::quant_scheme act_scheme = kernels::quant_scheme::affine;
    bool reduce_range = false;
    std::string name = "layer";
};

struct smooth_quant_result {
    float alpha = 0.0f;                   ///< the best α of the grid
    std::vector<float> scales;            ///< s_j, K values: feed x / s to the layer
    tensor weights;                       ///< W·s, f32 [N, K] (column j multiplied by s_j)
    float act_min = 0.0f, act_max = 0.0f; ///< MinMax range of x / s on the calibration data
    kernels::qparams act_qparams{};       ///< per-tensor static parameters of x / s
    std::vector<float> alphas;            ///< the grid, as searched
    std::vector<double> errors;           ///< output squared error per α (summed)
    double error_before = 0.0;            ///< the same error without smoothing (s = 1)
    double error_after = 0.0;             ///< errors at the best α
    double reference_energy = 0.0; ///< Σ ‖x·Wᵀ‖², for SQNR = 10·log10(energy / error)
};

class HONE_EXPORT smooth_quant {
public:
    /// weights: f32 [N, K] (nn.Linear layout), copied.
    smooth_quant(const_tensor_view weights, const smooth_quant_params& params = {});
    ~smooth_quant();
    smooth_quant(smooth_quant&&) noexcept;
    smooth_quant& operator=(smooth_quant&&) noexcept;
    smooth_quant(const smooth_quant&) = delete;
    smooth_quant& operator=(const smooth_quant&) = delete;

    /// Pass one: per-input-channel min, max and max|x| of a batch f32 [M, K].
    void observe(const_tensor_view x);
    /// Pass two: adds each α's output error on a batch (the same batches as pass one).
    void score(const_tensor_view x);
    smooth_quant_result result() const;

    /// The smoothing factors for one α from the statistics of pass one.
    std::vector<float> factors(float alpha) const;

    struct impl;

private:
    std::unique_ptr<impl> impl_;
};

/// Both passes over `batches` (each f32 [M_i, K]) and the result.
HONE_EXPORT smooth_quant_result smooth_quant_search(const_tensor_view weights,
                                                    std::span<const const_tensor_view> batches,
                                                    const smooth_quant_params& params = {});

} // namespace hone
