// Per-tensor error report (see hone/quantize/error_report.hpp).
#include "hone/quantize/error_report.hpp"

#include "hone/kernels/gemm.hpp"
#include "quant_common.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>

namespace hone {

double sqnr_db(double signal_energy, double noise_energy) noexcept {
    if (noise_energy == 0) return std::numeric_limits<double>::infinity();
    return 10.0 * std::log10(signal_energy / noise_energy);
}

quant_error_report measure_error(const_tensor_view original, const quantized_tensor& quantized,
                                 std::string_view name, const_tensor_view inputs,
                                 std::span<const float> input_scales) {
    if (original.dims() != quantized.dims)
        fail(status::shape_mismatch,
             fmt::format("measure_error: '{}' is {}, its quantized form {}", name,
                         original.dims().to_string(), quantized.dims.to_string()));
    const std::vector<float> w = detail::gather_finite(original, name);
    quantized.validate(name);
    tensor dq = quantized.dequantize();
    auto ws = dq.span<float>(); // becomes the effective weights
    const auto& dims = quantized.dims;
    const bool scaled = !input_scales.empty();
    std::int64_t k = dims.rank() == 2 ? dims[1] : 0;
    if (scaled) {
        if (dims.rank() != 2 || static_cast<std::int64_t>(input_scales.size()) != k)
            fail(status::shape_mismatch,
                 fmt::format("measure_error: '{}': {} input scales for shape {}", name,
                             input_scales.size(), dims.to_string()));
        for (float s : input_scales)
            if (!(s > 0) || !std::isfinite(s))
                fail(status::invalid_argument,
                     fmt::format("measure_error: '{}': input scale {} must be finite and > 0", name,
                                 s));
    }
    quant_error_report rep;
    rep.name = std::string(name);
    rep.elements = quantized.numel();
    const int axis = validate(quantized.spec, dims, name);
    const detail::group_map map(quantized.spec, dims, axis);
    const auto scales = quantized.scale_values();
    const auto zps = quantized.zero_point_values();
    const std::int32_t qmin = quantized.spec.qmin(), qmax = quantized.spec.qmax();
    double signal = 0, noise = 0, worst = 0;
    std::int64_t clipped = 0;
    for (std::size_t i = 0; i < w.size(); ++i) {
        const float s = scaled ? input_scales[i % std::size_t(k)] : 1.0f;
        const float quantized_value = w[i] * s; // the value that was quantized
        const auto grp = std::size_t(map(std::int64_t(i)));
        bool clip = false;
        detail::quantize_value(quantized_value, scales[grp], zps[grp], qmin, qmax, &clip);
        clipped += clip;
        if (scaled) ws[i] /= s;
        const double d = double(w[i]) - double(ws[i]);
        signal += double(w[i]) * w[i];
        noise += d * d;
        worst = std::max(worst, std::fabs(d));
    }
    rep.mse = noise / double(w.size());
    rep.max_abs_error = worst;
    rep.sqnr_db = sqnr_db(signal, noise);
    rep.fraction_clipped = double(clipped) / double(w.size());
    if (inputs.data() != nullptr || inputs.rank() > 0) {
        if (dims.rank() != 2 || inputs.rank() != 2 || inputs.dims()[1] != k)
            fail(status::shape_mismatch,
                 fmt::format("measure_error: inputs of '{}' are {}, expected [M, {}] for "
                             "weights {}",
                             name, inputs.dims().to_string(), k, dims.to_string()));
        const std::vector<float> x = detail::gather_finite(inputs, std::string(name) + " inputs");
        const std::int64_t m = inputs.dims()[0], n = dims[0];
        if (m == 0)
            fail(status::invalid_argument,
                 fmt::format("measure_error: inputs of '{}' are empty", name));
        std::vector<float> y(std::size_t(m * n)), yq(std::size_t(m * n));
        kernels::matmul_f32(x.data(), w.data(), y.data(), m, k, n, kernels::weight_layout::n_by_k,
                            nullptr);
        kernels::matmul_f32(x.data(), ws.data(), yq.data(), m, k, n, kernels::weight_layout::n_by_k,
                            nullptr);
        double ysig = 0, ynoise = 0;
        for (std::size_t i = 0; i < y.size(); ++i) {
            const double d = double(y[i]) - yq[i];
            ysig += double(y[i]) * y[i];
            ynoise += d * d;
        }
        rep.has_output = true;
        rep.output_mse = ynoise / double(y.size());
        rep.output_sqnr_db = sqnr_db(ysig, ynoise);
    }
    return rep;
}

} // namespace hone
