// hone/metrics/layer_error.hpp — per-layer error of a candidate against its baseline.
//
// Feed it, batch by batch, the activations the two models produce at the same named tensors
// (a graph runner's observed activations, or an engine's own): it accumulates, per name, the
// signal-to-quantization-noise ratio SQNR = 10·log10(Σ ref² / Σ (cand − ref)²) in dB, the MSE
// and the largest absolute error. The first layer whose SQNR falls is where a change hurts.
#pragma once

#include "hone/core/export.hpp"
#include "hone/core/tensor.hpp"
#include "hone/kernels/error.hpp"

#include <string>
#include <string_view>
#include <vector>

namespace hone {

struct layer_error {
    std::string name;
    kernels::error_sums sums;
    double sqnr_db() const noexcept { return sums.sqnr_db(); }
    double mse() const noexcept { return sums.mse(); }
};

class HONE_EXPORT layer_error_collector {
public:
    /// One batch of the tensor `name`: baseline and candidate activations (f32, same shape,
    /// any strides). Throws dtype_mismatch / shape_mismatch naming the tensor; NaN or inf in
    /// either is an error naming the tensor (a model emitting them must not look accurate).
    void add(std::string_view name, const_tensor_view baseline, const_tensor_view candidate);

    /// The tensors in the order they were first added.
    const std::vector<layer_error>& layers() const noexcept { return layers_; }
    /// As JSON: [{"name", "elements", "sqnr_db" (null when the error is exactly 0), "mse",
    /// "max_abs_error"}].
    std::string to_json() const;

private:
    std::vector<layer_error> layers_;
};

} // namespace hone
