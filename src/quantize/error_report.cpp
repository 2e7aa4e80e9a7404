// Per-tensor error report (see hone/quantize/error_report.hpp).
#include "hone/quantize/error_report.hpp"

#include "hone/core/threads.hpp"
#include "hone/kernels/error.hpp"
#include "hone/kernels/gemm.hpp"
#include "quant_common.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <exception>
#include <vector>

namespace hone {

namespace detail {

void matmul_rows(const float* x, const float* w, float* y, std::int64_t m, std::int64_t k,
                 std::int64_t n) {
    constexpr std::int64_t chunk = 64;
    const std::int64_t chunks = (m + chunk - 1) / chunk;
    const kernels::single_thread_scope one_thread; // also when the loop stays serial
    std::vector<std::exception_ptr> errors(static_cast<std::size_t>(chunks));
#pragma omp parallel for num_threads(hone::num_threads()) schedule(dynamic, 1) if (chunks > 1)
    for (std::int64_t c = 0; c < chunks; ++c) {
        try {
            const std::int64_t r0 = c * chunk;
            kernels::matmul_f32(x + r0 * k, w, y + r0 * n, std::min(chunk, m - r0), k, n,
                                kernels::weight_layout::n_by_k, nullptr);
        } catch (...) {
            errors[std::size_t(c)] = std::current_exception();
        }
    }
    for (const auto& e : errors)
        if (e) std::rethrow_exception(e);
}

} // namespace detail

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
    std::int64_t clipped = 0;
    for (std::size_t i = 0; i < w.size(); ++i) {
        const float s = scaled ? input_scales[i % std::size_t(k)] : 1.0f;
        const float quantized_value = w[i] * s; // the value that was quantized
        const auto grp = std::size_t(map(std::int64_t(i)));
        bool clip = false;
        detail::quantize_value(quantized_value, scales[grp], zps[grp], qmin, qmax, &clip);
        clipped += clip;
        if (scaled) ws[i] /= s;
    }
    const kernels::error_sums weight_error = kernels::compare(w, ws, "measure_error");
    rep.mse = weight_error.mse();
    rep.max_abs_error = weight_error.max_abs_error;
    rep.sqnr_db = weight_error.sqnr_db();
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
        detail::matmul_rows(x.data(), w.data(), y.data(), m, k, n);
        detail::matmul_rows(x.data(), ws.data(), yq.data(), m, k, n);
        const kernels::error_sums output_error = kernels::compare(y, yq, "measure_error");
        rep.has_output = true;
        rep.output_mse = output_error.mse();
        rep.output_sqnr_db = output_error.sqnr_db();
    }
    return rep;
}

} // namespace hone
