// The weight quantizer: RTN, clipping search, GPTQ and AWQ behind one configuration.
#include "hone/quantize/quantizer.hpp"

#include "hone/core/threads.hpp"
#include "hone/kernels/error.hpp"
#include "hone/kernels/gemm.hpp"
#include "quant_common.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>

namespace hone {
namespace {

bool present(const_tensor_view v) { return v.data() != nullptr || v.rank() > 0; }

quantized_tensor quantize_plain(std::span<const float> values, const shape& dims,
                                const quant_spec& spec, const clip_search_config* clip,
                                std::string_view name) {
    const int axis = validate(spec, dims, name);
    const detail::group_map map(spec, dims, axis);
    const auto params = detail::choose_all(values, spec, map, clip, name);
    return detail::pack(values, dims, spec, axis, params, name);
}

/// Calibration inputs [M, K] of `name`, checked and gathered (row-major, finite).
std::vector<float> gather_inputs(const_tensor_view x, std::int64_t k, std::string_view name) {
    if (x.rank() != 2 || x.dims()[1] != k)
        fail(status::shape_mismatch,
             fmt::format("calibration inputs of '{}' are {}, expected [M, {}]", name,
                         x.dims().to_string(), k));
    if (x.dims()[0] == 0)
        fail(status::invalid_argument,
             fmt::format("calibration inputs of '{}' are empty (0 rows)", name));
    return detail::gather_finite(x, std::string(name) + " calibration inputs");
}

struct awq_outcome {
    quantized_tensor weights;
    std::vector<float> scales;
    double alpha = 0;
};

awq_outcome run_awq(std::span<const float> w, const shape& dims, const_tensor_view inputs,
                    const quantizer_config& cfg, std::string_view name) {
    const std::int64_t n = dims[0], k = dims[1];
    const std::vector<float> x_all = gather_inputs(inputs, k, name);
    std::int64_t m = inputs.dims()[0];
    if (cfg.awq.max_rows > 0) m = std::min(m, cfg.awq.max_rows);
    const std::span<const float> x(x_all.data(), std::size_t(m * k));
    std::vector<double> mean_abs(std::size_t(k), 0.0);
    for (std::int64_t r = 0; r < m; ++r)
        for (std::int64_t c = 0; c < k; ++c)
            mean_abs[std::size_t(c)] += std::fabs(double(x[std::size_t(r * k + c)]));
    for (auto& v : mean_abs)
        v /= double(m);
    std::vector<float> y(std::size_t(m * n)), yq(std::size_t(m * n));
    detail::matmul_rows(x.data(), w.data(), y.data(), m, k, n);
    const clip_search_config* clip = cfg.awq.clip_search ? &cfg.clip : nullptr;
    awq_outcome best;
    double best_err = std::numeric_limits<double>::infinity();
    std::vector<float> ws(w.size()), eff(w.size());
    for (int step = 0; step < cfg.awq.grid; ++step) {
        const double alpha = double(step) / double(cfg.awq.grid);
        std::vector<float> s(static_cast<std::size_t>(k));
        double smax = 0, smin = std::numeric_limits<double>::infinity();
        std::vector<double> sd(static_cast<std::size_t>(k));
        for (std::int64_t c = 0; c < k; ++c) {
            const double v = std::max(std::pow(mean_abs[std::size_t(c)], alpha), 1e-4);
            sd[std::size_t(c)] = v;
            smax = std::max(smax, v);
            smin = std::min(smin, v);
        }
        const double norm = std::sqrt(smax * smin);
        for (std::int64_t c = 0; c < k; ++c)
            s[std::size_t(c)] = float(sd[std::size_t(c)] / norm);
        for (std::int64_t r = 0; r < n; ++r)
            for (std::int64_t c = 0; c < k; ++c)
                ws[std::size_t(r * k + c)] = w[std::size_t(r * k + c)] * s[std::size_t(c)];
        quantized_tensor qt = quantize_plain(ws, dims, cfg.spec, clip, name);
        const tensor dq = qt.dequantize();
        const auto d = dq.span<float>();
        for (std::int64_t r = 0; r < n; ++r)
            for (std::int64_t c = 0; c < k; ++c)
                eff[std::size_t(r * k + c)] = d[std::size_t(r * k + c)] / s[std::size_t(c)];
        detail::matmul_rows(x.data(), eff.data(), yq.data(), m, k, n);
        const double err = kernels::compare(y, yq, "awq search").error_sq;
        if (err < best_err) {
            best_err = err;
            best.weights = std::move(qt);
            best.scales = std::move(s);
            best.alpha = alpha;
        }
    }
    return best;
}

} // namespace

quantizer::quantizer(const quantizer_config& config) : config_(config) {
    validate(config_.spec, "quantizer_config.spec");
    const int method = static_cast<int>(config_.method);
    if (method < 0 || method > 3)
        fail(status::invalid_argument,
             fmt::format("quantizer_config: method {} is not rtn (0), clip_search (1), gptq (2) "
                         "or awq (3)",
                         method));
    if (config_.method == weight_method::clip_search || config_.gptq.clip_search ||
        config_.awq.clip_search)
        detail::validate(config_.clip, "quantizer_config.clip");
    if (config_.awq.grid < 1 || config_.awq.grid > 1000)
        fail(status::invalid_argument,
             fmt::format("quantizer_config: awq.grid = {} must be in 1…1000", config_.awq.grid));
    if (config_.awq.max_rows < 0)
        fail(status::invalid_argument,
             fmt::format("quantizer_config: awq.max_rows = {} must be ≥ 0", config_.awq.max_rows));
    if (config_.gptq.block_size < 1)
        fail(status::invalid_argument, fmt::format("quantizer_config: gptq.block_size = {} must "
                                                   "be ≥ 1",
                                                   config_.gptq.block_size));
    if (!(config_.gptq.damp_fraction >= 0) || !std::isfinite(config_.gptq.damp_fraction))
        fail(status::invalid_argument,
             fmt::format("quantizer_config: gptq.damp_fraction = {} must be finite and ≥ 0",
                         config_.gptq.damp_fraction));
}

quantized_tensor quantizer::quantize(const_tensor_view weights, std::string_view name) const {
    if (config_.method == weight_method::gptq || config_.method == weight_method::awq)
        fail(status::invalid_argument,
             fmt::format("quantizer: '{}': {} needs calibration data (use run with inputs{})", name,
                         config_.method == weight_method::gptq ? "gptq" : "awq",
                         config_.method == weight_method::gptq ? " or a Hessian" : ""));
    validate(config_.spec, weights.dims(), name);
    std::vector<float> storage;
    const std::span<const float> w = detail::finite_values(weights, name, storage);
    return quantize_plain(w, weights.dims(), config_.spec,
                          config_.method == weight_method::clip_search ? &config_.clip : nullptr,
                          name);
}

quantize_result quantizer::run(const_tensor_view weights, const weight_calibration& calibration,
                               std::string_view name) const {
    quantize_result out;
    const bool has_inputs = present(calibration.inputs);
    switch (config_.method) {
    case weight_method::rtn:
    case weight_method::clip_search: out.weights = quantize(weights, name); break;
    case weight_method::gptq: {
        if (weights.rank() != 2)
            fail(status::invalid_argument,
                 fmt::format("quantizer: gptq needs a [N, K] weight; '{}' is {}", name,
                             weights.dims().to_string()));
        if (present(calibration.hessian)) {
            out.weights =
                gptq_quantize(weights, calibration.hessian, config_.spec, config_.gptq, name);
        } else if (has_inputs) {
            const std::int64_t k = weights.dims()[1];
            const std::vector<float> x = gather_inputs(calibration.inputs, k, name);
            tensor h(dtype::f32, shape{k, k});
            kernels::hessian_accumulate(x.data(), calibration.inputs.dims()[0], k,
                                        static_cast<float*>(h.data()));
            out.weights = gptq_quantize(weights, h, config_.spec, config_.gptq, name);
        } else {
            fail(status::invalid_argument,
                 fmt::format("quantizer: gptq for '{}' needs calibration inputs or a Hessian",
                             name));
        }
        break;
    }
    case weight_method::awq: {
        if (weights.rank() != 2)
            fail(status::invalid_argument,
                 fmt::format("quantizer: awq needs a [N, K] weight; '{}' is {}", name,
                             weights.dims().to_string()));
        if (!has_inputs)
            fail(status::invalid_argument,
                 fmt::format("quantizer: awq for '{}' needs calibration inputs", name));
        const int axis = validate(config_.spec, weights.dims(), name);
        if ((config_.spec.granularity == quant_granularity::per_channel && axis != 0) ||
            (config_.spec.granularity == quant_granularity::per_group && axis != 1))
            fail(status::invalid_argument,
                 fmt::format("quantizer: awq for '{}': {} is not supported (per_channel axis 0 "
                             "or per_group axis 1)",
                             name, config_.spec.to_string()));
        const std::vector<float> w = detail::gather_finite(weights, name);
        auto r = run_awq(w, weights.dims(), calibration.inputs, config_, name);
        out.weights = std::move(r.weights);
        out.input_scales = std::move(r.scales);
        out.awq_alpha = r.alpha;
        break;
    }
    }
    out.report =
        measure_error(weights, out.weights, name,
                      has_inputs ? calibration.inputs : const_tensor_view{}, out.input_scales);
    return out;
}

} // namespace hone
