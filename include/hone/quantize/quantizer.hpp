// hone/quantize/quantizer.hpp — the weight quantizer: configure once, run many.
//
//   hone::quantizer q{{.spec = {.bits = 4, .granularity = hone::quant_granularity::per_group,
//                               .group_size = 128},
//                      .method = hone::weight_method::gptq}};
//   auto r = q.run(fc1_weight, {.inputs = calibration_batch}, "fc1.weight");
//   // r.weights: packed int4; r.report: SQNR, MSE, max error, clipped share, output SQNR
//
// Methods (docs/quantizer.md):
//  - rtn: round to nearest with min/max scales (quant_spec.hpp formulas);
//  - clip_search: per scale group, the clip ratio minimising the chosen error norm
//    (clip_search_config in gptq.hpp);
//  - gptq: gptq.hpp; needs a Hessian or calibration inputs;
//  - awq: activation-aware scaling for weight-only low-bit (Lin et al., 2023). With
//    s_x[k] = mean_m |X[m, k]| over calibration inputs X [M, K], for α on the grid
//    0, 1/G, …, (G−1)/G: s = max(s_x^α, 1e-4), s /= sqrt(max s · min s); quantize
//    W·diag(s) (RTN, or clip search if awq_config::clip_search) and measure the output error
//    ‖XWᵀ − (X/s)·Q(W·diag(s))ᵀ‖² on X. The best α wins (ties keep the smaller; α = 0 is
//    s = 1, i.e. plain RTN, so AWQ is never worse than RTN on the calibration data).
//    Result: weights = Q(W·diag(s)) and input_scales = s. The layer stays equivalent when its
//    inputs are divided by s: y = (x / s) · Ŵsᵀ — fold 1/s into whatever produces x (the
//    previous layer's weight rows and bias, a norm's γ/β), or scale x at run time.
// The quantizer holds only its configuration: run() may be called concurrently.
#pragma once

#include "hone/core/export.hpp"
#include "hone/core/tensor.hpp"
#include "hone/quantize/error_report.hpp"
#include "hone/quantize/gptq.hpp"
#include "hone/quantize/quant_spec.hpp"
#include "hone/quantize/quantized_tensor.hpp"

#include <cstdint>
#include <string_view>
#include <vector>

namespace hone {

enum class weight_method : int { rtn = 0, clip_search = 1, gptq = 2, awq = 3 };

struct awq_config {
    int grid = 20;                ///< G ≥ 1: α ∈ {0, 1/G, …, (G−1)/G}
    std::int64_t max_rows = 4096; ///< calibration rows used for the search (first ones); 0 = all
    bool clip_search = false;     ///< quantize with clip search (quantizer_config::clip)
};

struct quantizer_config {
    quant_spec spec{};
    weight_method method = weight_method::rtn;
    clip_search_config clip{}; ///< clip_search, and awq/gptq when they ask for it
    gptq_config gptq{};
    awq_config awq{};
};

/// Calibration data of one linear layer (weights [N, K]): its inputs X [M, K] (f32) and/or
/// H = Σ xᵀx [K, K] (f32). Default (null) views = absent. GPTQ uses H when given, else builds
/// it from X; AWQ needs X; the report's output figures need X.
struct weight_calibration {
    const_tensor_view inputs{};
    const_tensor_view hessian{};
};

struct quantize_result {
    quantized_tensor weights;
    std::vector<float> input_scales; ///< AWQ: s (divide the layer's inputs by it); else empty
    double awq_alpha = 0;            ///< AWQ: the α chosen
    quant_error_report report;       ///< against the original weights (and inputs, if given)
};

class HONE_EXPORT quantizer {
public:
    /// Validates the configuration (spec, grid sizes, ratios); throws invalid_argument.
    explicit quantizer(const quantizer_config& config = {});

    const quantizer_config& config() const noexcept { return config_; }

    /// RTN or clip search of any-rank f32 weights (any strides). Throws invalid_argument for
    /// gptq/awq (they need calibration: use run), non-finite or empty weights, a spec that
    /// does not fit (message naming `name`).
    quantized_tensor quantize(const_tensor_view weights, std::string_view name = "weights") const;

    /// Any method, with the error report. GPTQ/AWQ need rank-2 weights [N, K] and calibration.
    quantize_result run(const_tensor_view weights, const weight_calibration& calibration = {},
                        std::string_view name = "weights") const;

private:
    quantizer_config config_;
};

} // namespace hone
