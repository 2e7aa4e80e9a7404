// LSQ fake-quant forward and backward (see hone/retrain/lsq.hpp).
#include "hone/retrain/lsq.hpp"

#include "hone/core/error.hpp"

#include <algorithm>
#include <cmath>
#include <string>
#include <vector>

namespace hone::retrain {

namespace {

/// f32 data of a view, contiguous (copied only when the view is strided).
struct f32_data {
    tensor owned;
    const float* p = nullptr;
    f32_data(const_tensor_view v, const char* what) {
        if (v.type() != dtype::f32)
            fail(status::dtype_mismatch,
                 std::string(what) + ": expected f32, got " + std::string(name_of(v.type())));
        if (v.is_contiguous()) {
            p = static_cast<const float*>(v.data());
        } else {
            owned = tensor::copy_of(v);
            p = owned.span<float>().data();
        }
    }
};

} // namespace

std::vector<std::int64_t> scale_groups(const quant_spec& spec, const shape& dims) {
    const int axis = validate(spec, dims, "lsq weights");
    const std::int64_t n = dims.numel();
    std::vector<std::int64_t> g(static_cast<std::size_t>(n), 0);
    if (spec.granularity == quant_granularity::per_tensor) return g;
    std::int64_t inner = 1;
    for (std::size_t d = std::size_t(axis) + 1; d < dims.rank(); ++d)
        inner *= dims[d];
    const std::int64_t len = dims[std::size_t(axis)];
    for (std::int64_t i = 0; i < n; ++i) {
        const std::int64_t a = (i / inner) % len;
        if (spec.granularity == quant_granularity::per_channel) {
            g[std::size_t(i)] = a;
        } else {
            const std::int64_t outer = i / (inner * len), in = i % inner;
            const std::int64_t per = len / spec.group_size;
            g[std::size_t(i)] = (outer * per + a / spec.group_size) * inner + in;
        }
    }
    return g;
}

namespace {

struct lsq_setup {
    std::vector<std::int64_t> group;
    std::int64_t groups = 0;
    f32_data w;
    lsq_setup(const_tensor_view wv, const quant_spec& spec, std::span<const float> scales,
              std::span<const std::int32_t> zps, const char* fn)
        : w(wv, fn) {
        group = scale_groups(spec, wv.dims());
        groups = scale_shape(spec, wv.dims()).numel();
        if (std::int64_t(scales.size()) != groups)
            fail(status::shape_mismatch, std::string(fn) + ": " + std::to_string(scales.size()) +
                                             " scales for " + std::to_string(groups) + " groups");
        if (!zps.empty() && std::int64_t(zps.size()) != groups)
            fail(status::shape_mismatch, std::string(fn) + ": " + std::to_string(zps.size()) +
                                             " zero points for " + std::to_string(groups) +
                                             " groups");
        for (std::size_t i = 0; i < scales.size(); ++i)
            if (!(scales[i] > 0) || !std::isfinite(scales[i]))
                fail(status::invalid_argument,
                     std::string(fn) + ": scale " + std::to_string(i) + " is not finite and > 0");
        for (auto z : zps)
            if (z < spec.qmin() || z > spec.qmax())
                fail(status::invalid_argument,
                     std::string(fn) + ": zero point " + std::to_string(z) + " outside the range");
    }
};

} // namespace

tensor lsq_forward(const_tensor_view w, const quant_spec& spec, std::span<const float> scales,
                   std::span<const std::int32_t> zero_points, std::vector<std::int32_t>* q) {
    lsq_setup st(w, spec, scales, zero_points, "lsq_forward");
    tensor out(dtype::f32, w.dims());
    float* o = out.span<float>().data();
    const std::int64_t n = w.dims().numel();
    if (q) q->resize(std::size_t(n));
    const std::int32_t qmin = spec.qmin(), qmax = spec.qmax();
    for (std::int64_t i = 0; i < n; ++i) {
        const std::size_t g = std::size_t(st.group[std::size_t(i)]);
        const float s = scales[g];
        const std::int32_t z = zero_points.empty() ? 0 : zero_points[g];
        if (!std::isfinite(st.w.p[i]))
            fail(status::invalid_argument,
                 "lsq_forward: weight " + std::to_string(i) + " is not finite");
        const float r = std::nearbyint(st.w.p[i] / s); // round half to even
        const std::int32_t qi =
            std::int32_t(std::clamp(r + float(z), float(qmin), float(qmax))); // exact integers
        if (q) (*q)[std::size_t(i)] = qi;
        o[i] = float(qi - z) * s; // quantized_tensor::dequantize's formula
    }
    return out;
}

lsq_grads lsq_backward(const_tensor_view w, const quant_spec& spec, std::span<const float> scales,
                       std::span<const std::int32_t> zero_points, const_tensor_view dy) {
    lsq_setup st(w, spec, scales, zero_points, "lsq_backward");
    if (!(dy.dims() == w.dims()))
        fail(status::shape_mismatch,
             "lsq_backward: dY " + dy.dims().to_string() + " for weights " + w.dims().to_string());
    f32_data d(dy, "lsq_backward (dY)");
    lsq_grads r;
    r.dw = tensor(dtype::f32, w.dims());
    float* dw = r.dw.span<float>().data();
    std::vector<double> acc(std::size_t(st.groups), 0.0);
    std::vector<std::int64_t> count(std::size_t(st.groups), 0);
    const std::int64_t n = w.dims().numel();
    for (std::int64_t i = 0; i < n; ++i) {
        const std::size_t g = std::size_t(st.group[std::size_t(i)]);
        const float s = scales[g];
        const std::int32_t z = zero_points.empty() ? 0 : zero_points[g];
        const double qn = double(spec.qmin() - z), qp = double(spec.qmax() - z);
        const float v = st.w.p[i] / s;
        double ds;
        if (v <= qn) {
            ds = qn;
            dw[i] = 0.0f;
        } else if (v >= qp) {
            ds = qp;
            dw[i] = 0.0f;
        } else {
            ds = double(std::nearbyint(v)) - double(v);
            dw[i] = d.p[i];
        }
        acc[g] += double(d.p[i]) * ds;
        ++count[g];
    }
    r.dscales.resize(std::size_t(st.groups));
    for (std::size_t g = 0; g < acc.size(); ++g) {
        const std::int32_t z = zero_points.empty() ? 0 : zero_points[g];
        const double qp =
            double(spec.qmax() - z) > 0 ? double(spec.qmax() - z) : double(z - spec.qmin());
        const double gs = 1.0 / std::sqrt(double(std::max<std::int64_t>(count[g], 1)) * qp);
        r.dscales[g] = float(acc[g] * gs);
    }
    return r;
}

} // namespace hone::retrain
