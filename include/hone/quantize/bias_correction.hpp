// hone/quantize/bias_correction.hpp — empirical bias correction (Nagel et al. 2019, DFQ).
//
// Quantizing a linear layer y = W·x + b to Ŵ (and its input x to x̂) shifts the expected output
// by E[W x] − E[Ŵ x̂] = W·E[x] − Ŵ·E[x̂]. Folding that shift into the bias,
//   b' = b + W·E[x] − Ŵ·E[x̂],
// makes the quantized layer's output mean on the calibration data equal the float layer's. With
// unquantized inputs (or E[x̂] not given) this is the (W − Ŵ)·E[x] of the paper. The expectations
// come from calibration inputs, streamed through channel_mean (bounded memory: K sums).
//
// Sums are in double, rows in order; results do not depend on the thread count.
//
// Errors (hone::error, naming `name`): dtype_mismatch (non-f32), shape_mismatch (weights and
// deployed of different shapes or not rank 2, bias not N values, means not K values, a batch
// that is not [M, K]), invalid_argument (NaN/inf anywhere, naming the tensor and index;
// mean() before any row).
#pragma once

#include "hone/core/export.hpp"
#include "hone/core/tensor.hpp"

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace hone {

/// Streaming per-feature mean of [M, K] batches (the last axis is the feature axis; any rank
/// ≥ 1 is read as rows of K).
class HONE_EXPORT channel_mean {
public:
    explicit channel_mean(std::string name = "input") : name_(std::move(name)) {}
    void observe(const_tensor_view x);
    /// Column means (K values); throws before any row.
    std::vector<double> mean() const;
    std::int64_t rows() const noexcept { return rows_; }

private:
    std::string name_;
    std::vector<double> sum_;
    std::int64_t rows_ = 0;
};

struct bias_correction_result {
    std::vector<float> bias;  ///< b' = b + shift (N values)
    std::vector<float> shift; ///< W·E[x] − Ŵ·E[x̂] (N values)
};

/// weights W and deployed Ŵ (e.g. dequantized int8): f32 [N, K], same shape; bias: N values or
/// empty (= 0); mean_x: E[x] (K values); mean_x_deployed: E[x̂] (K values) or empty (= E[x]).
HONE_EXPORT bias_correction_result bias_correction(const_tensor_view weights,
                                                   const_tensor_view deployed,
                                                   std::span<const float> bias,
                                                   std::span<const double> mean_x,
                                                   std::span<const double> mean_x_deployed = {},
                                                   std::string_view name = "layer");

} // namespace hone
