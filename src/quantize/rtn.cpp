// Round-to-nearest and clipping search: per-group parameters and packing.
#include "quant_common.hpp"

#include "hone/core/threads.hpp"
#include "hone/kernels/quantize.hpp"

#include <fmt/format.h>

#include <algorithm>

namespace hone::detail {

void validate(const clip_search_config& clip, std::string_view what) {
    if (clip.steps < 1 || clip.steps > 10000)
        fail(status::invalid_argument,
             fmt::format("clip search for '{}': steps = {} must be in 1…10000", what, clip.steps));
    if (!(clip.min_ratio > 0.0f && clip.min_ratio <= 1.0f))
        fail(status::invalid_argument,
             fmt::format("clip search for '{}': min_ratio = {} must be in (0, 1]", what,
                         clip.min_ratio));
    if (!(clip.norm >= 1.0f) || !std::isfinite(clip.norm))
        fail(
            status::invalid_argument,
            fmt::format("clip search for '{}': norm = {} must be finite and ≥ 1", what, clip.norm));
}

group_params minmax_params(std::span<const float> values, const quant_spec& spec,
                           std::string_view what) {
    float lo = 0, hi = 0;
    const float* p = values.data();
    const std::size_t n = values.size();
#pragma omp simd reduction(min : lo) reduction(max : hi)
    for (std::size_t i = 0; i < n; ++i) {
        lo = std::min(lo, p[i]);
        hi = std::max(hi, p[i]);
    }
    return choose_params(lo, hi, spec, what);
}

group_params clip_params(std::span<const float> values, const quant_spec& spec,
                         const clip_search_config& clip, std::string_view what) {
    float lo = 0, hi = 0;
    for (float v : values) {
        lo = std::min(lo, v);
        hi = std::max(hi, v);
    }
    const std::int32_t qmin = spec.qmin(), qmax = spec.qmax();
    group_params best = choose_params(lo, hi, spec, what);
    double best_err = std::numeric_limits<double>::infinity();
    const bool mse = clip.norm == 2.0f;
    for (int j = 0; j <= clip.steps; ++j) {
        const float r = 1.0f - float(j) * (1.0f - clip.min_ratio) / float(clip.steps);
        const group_params p = j == 0 ? best : choose_params(r * lo, r * hi, spec, what);
        double err = 0;
        for (float v : values) {
            const float d = dequantize_value(quantize_value(v, p.scale, p.zero_point, qmin, qmax),
                                             p.scale, p.zero_point) -
                            v;
            err += mse ? double(d) * d : std::pow(std::fabs(double(d)), double(clip.norm));
        }
        if (err < best_err) {
            best_err = err;
            best = p;
        }
    }
    return best;
}

std::vector<group_params> choose_all(std::span<const float> values, const quant_spec& spec,
                                     const group_map& map, const clip_search_config* clip,
                                     std::string_view what) {
    const std::int64_t groups = map.groups;
    const std::int64_t total = static_cast<std::int64_t>(values.size());
    // Elements of each group, contiguous: as they are when every group is one run of the
    // row-major order (per tensor, channels of axis 0, groups along the last axis), else
    // gathered by a stable counting sort.
    const bool runs = map.kind == 0 || (map.kind == 1 && map.inner * map.axis_dim == total) ||
                      (map.kind == 2 && map.inner == 1);
    std::vector<std::int64_t> start(std::size_t(groups) + 1, 0);
    std::vector<float> sorted;
    const float* base = values.data();
    if (runs) {
        const std::int64_t len = total / groups;
        for (std::int64_t g = 0; g <= groups; ++g)
            start[std::size_t(g)] = g * len;
    } else {
        for (std::int64_t i = 0; i < total; ++i)
            ++start[std::size_t(map(i)) + 1];
        for (std::int64_t g = 0; g < groups; ++g)
            start[std::size_t(g) + 1] += start[std::size_t(g)];
        sorted.resize(values.size());
        std::vector<std::int64_t> fill(start.begin(), start.end() - 1);
        for (std::int64_t i = 0; i < total; ++i)
            sorted[std::size_t(fill[std::size_t(map(i))]++)] = values[std::size_t(i)];
        base = sorted.data();
    }
    std::vector<group_params> out(static_cast<std::size_t>(groups));
    const int threads = hone::num_threads();
    std::string first_error;
    status first_code = status::ok;
    std::int64_t first_group = groups;
#pragma omp parallel for num_threads(threads) schedule(dynamic, 16) if (groups > 16)
    for (std::int64_t g = 0; g < groups; ++g) {
        try {
            const std::span<const float> v(
                base + start[std::size_t(g)],
                std::size_t(start[std::size_t(g) + 1] - start[std::size_t(g)]));
            out[std::size_t(g)] =
                clip ? clip_params(v, spec, *clip, what) : minmax_params(v, spec, what);
        } catch (const error& e) {
#pragma omp critical(hone_quant_choose_all)
            if (g < first_group) { // report the first failing group, whatever the threads
                first_group = g;
                first_error = e.what();
                first_code = e.code();
            }
        }
    }
    if (first_group < groups)
        fail(first_code, fmt::format("{} (scale group {})", first_error, first_group));
    return out;
}

quantized_tensor pack(std::span<const float> values, const shape& dims, const quant_spec& spec,
                      int axis, std::span<const group_params> params, std::string_view what) {
    const group_map map(spec, dims, axis);
    const shape sshape = scale_shape(spec, dims);
    if (spec.bits == 8 || spec.bits == 4) { // the kernel layer's QuantizeLinear, as is
        quantized_tensor out;
        out.spec = spec;
        out.dims = dims;
        tensor scale(dtype::f32, sshape);
        tensor zp(spec.zero_point_type(), sshape);
        auto s = scale.span<float>();
        std::vector<std::int32_t> zps(params.size());
        for (std::size_t g = 0; g < params.size(); ++g) {
            s[g] = params[g].scale;
            zps[g] = params[g].zero_point;
        }
        // Zero points packed by the kernel too: integer-valued floats quantized with scale 1
        // and zero point 0 are exact.
        if (spec.has_zero_points()) {
            tensor zf(dtype::f32, sshape);
            auto zs = zf.span<float>();
            for (std::size_t g = 0; g < zps.size(); ++g)
                zs[g] = float(zps[g]);
            tensor one(dtype::f32, shape{1});
            one.span<float>()[0] = 1.0f;
            kernels::quant_params unit;
            unit.scale = one.view();
            kernels::quantize_linear(zf, unit, zp);
        }
        const const_tensor_view x =
            make_view(values.data(), values.size() * sizeof(float), dtype::f32, dims);
        out.data = tensor(spec.storage_type(), dims);
        kernels::quant_params p;
        p.scale = scale.view();
        if (spec.has_zero_points()) p.zero_point = zp.view();
        p.axis = axis;
        p.block_size = spec.granularity == quant_granularity::per_group ? spec.group_size : 0;
        kernels::quantize_linear(x, p, out.data);
        out.zero_points =
            spec.has_zero_points() ? std::move(zp) : tensor(spec.zero_point_type(), shape{0});
        if (spec.scale_type == dtype::f32) {
            out.scales = std::move(scale);
        } else {
            out.scales = tensor(dtype::f16, sshape);
            hone::copy(scale, out.scales); // exact: the scales were rounded to f16 already
        }
        return out;
    }
    std::vector<std::int32_t> q(values.size());
    const std::int32_t qmin = spec.qmin(), qmax = spec.qmax();
    for (std::size_t i = 0; i < values.size(); ++i) {
        const auto& p = params[std::size_t(map(std::int64_t(i)))];
        q[i] = quantize_value(values[i], p.scale, p.zero_point, qmin, qmax);
    }
    std::vector<float> scales(params.size());
    std::vector<std::int32_t> zps(params.size());
    for (std::size_t g = 0; g < params.size(); ++g) {
        scales[g] = params[g].scale;
        zps[g] = params[g].zero_point;
    }
    return quantized_tensor::from_values(spec, dims, q, scales, zps, what);
}

} // namespace hone::detail
