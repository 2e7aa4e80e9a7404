// C ABI of activation calibration, SmoothQuant and bias correction (hone.h, section
// "quantizer", sub-section "activations").
#include "guard.hpp"
#include "hone/quantize/bias_correction.hpp"
#include "hone/quantize/calibrator.hpp"
#include "hone/quantize/smooth_quant.hpp"
#include "tensor_handle.hpp"

#include <fmt/format.h>

#include <string>
#include <vector>

static_assert(HONE_CALIB_AUTO == static_cast<int>(hone::calib_method::auto_select));
static_assert(HONE_CALIB_MSE == static_cast<int>(hone::calib_method::mse));

struct hone_calibrator {
    hone::calibrator cal;
};

struct hone_smooth_quant {
    hone::smooth_quant sq;
};

namespace {

using hone::capi::guarded;
using hone::capi::require;
using hone::capi::view_of;

/// Runs body; a hone::error gets `function` as a prefix. (capi::named would drop a leading
/// identifier, which here is the user's tensor or layer name, e.g. "fc: …".)
template <class Fn> void prefixed(const char* function, Fn&& body) {
    try {
        body();
    } catch (const hone::error& e) {
        throw hone::error(e.code(), std::string(function) + ": " + e.what());
    }
}

hone::calibrator_params calibrator_params_of(const hone_calibrator_params* p, const char* fn) {
    hone::calibrator_params c;
    if (p == nullptr) return c;
    hone::capi::check_struct_size(p->struct_size, sizeof(hone_calibrator_params), fn,
                                  "hone_calibrator_params");
    const long long method = hone::capi::raw_enum(p->method);
    if (method < HONE_CALIB_MIN_MAX || method > HONE_CALIB_AUTO)
        hone::fail(hone::status::invalid_argument,
                   fmt::format("{}: params->method {} is not a hone_calib_method", fn, method));
    const long long gran = hone::capi::raw_enum(p->granularity);
    if (gran < HONE_GRANULARITY_PER_TENSOR || gran > HONE_GRANULARITY_PER_GROUP)
        hone::fail(hone::status::invalid_argument,
                   fmt::format("{}: params->granularity {} is not a hone_granularity", fn, gran));
    const long long type = hone::capi::raw_enum(p->dtype);
    if (type != HONE_DTYPE_U8 && type != HONE_DTYPE_I8)
        hone::fail(
            hone::status::dtype_mismatch,
            fmt::format("{}: params->dtype {} is not HONE_DTYPE_U8 or HONE_DTYPE_I8", fn, type));
    const long long scheme = hone::capi::raw_enum(p->scheme);
    if (scheme != HONE_QUANT_AFFINE && scheme != HONE_QUANT_SYMMETRIC)
        hone::fail(hone::status::invalid_argument,
                   fmt::format("{}: params->scheme {} is not a hone_quant_scheme", fn, scheme));
    c.method = static_cast<hone::calib_method>(method);
    c.granularity = {static_cast<hone::kernels::granularity>(gran), p->axis, 0};
    c.type = static_cast<hone::dtype>(type);
    c.scheme = static_cast<hone::kernels::quant_scheme>(scheme);
    c.reduce_range = p->reduce_range != 0;
    c.momentum = p->momentum;
    c.percentile = p->percentile;
    c.bins = p->bins;
    if (p->name != nullptr) c.name = p->name;
    return c;
}

/// A caller's result tensor of `n` elements and `type`, rank 0 or 1.
hone::tensor_view result_view(hone_tensor* t, std::int64_t n, hone::dtype type, const char* fn,
                              const char* what) {
    const hone::tensor_view v = view_of(t, fn, what);
    if (v.type() != type)
        hone::fail(hone::status::dtype_mismatch,
                   fmt::format("{}: {} must be {}, got {}", fn, what, hone::name_of(type),
                               hone::name_of(v.type())));
    if (v.rank() > 1 || v.numel() != n)
        hone::fail(hone::status::shape_mismatch,
                   fmt::format("{}: {} must hold {} values (rank 0 or 1), got shape {}", fn, what,
                               n, v.dims().to_string()));
    return v;
}

std::vector<double> f32_vector(const hone_tensor* t, std::int64_t n, const char* fn,
                               const char* what) {
    const hone::tensor c = hone::tensor::copy_of(view_of(t, fn, what));
    if (c.type() != hone::dtype::f32)
        hone::fail(hone::status::dtype_mismatch, fmt::format("{}: {} must be F32", fn, what));
    if (c.numel() != n || c.dims().rank() > 1)
        hone::fail(hone::status::shape_mismatch,
                   fmt::format("{}: {} must hold {} values, got shape {}", fn, what, n,
                               c.dims().to_string()));
    const auto s = c.span<float>();
    return {s.begin(), s.end()};
}

} // namespace

extern "C" {

HONE_API hone_status hone_calibrator_params_init(hone_calibrator_params* params) {
    return guarded([&] {
        *require(params, "hone_calibrator_params_init", "params") =
            hone_calibrator_params{sizeof(hone_calibrator_params),
                                   HONE_CALIB_MIN_MAX,
                                   HONE_GRANULARITY_PER_TENSOR,
                                   0,
                                   HONE_DTYPE_U8,
                                   HONE_QUANT_AFFINE,
                                   0,
                                   0.01f,
                                   99.99,
                                   2048,
                                   nullptr};
    });
}

HONE_API hone_status hone_calibrator_create(const hone_calibrator_params* params,
                                            hone_calibrator** out) {
    return guarded([&] {
        const char* fn = "hone_calibrator_create";
        require(out, fn, "out");
        prefixed(fn, [&] {
            *out = new hone_calibrator{hone::calibrator(calibrator_params_of(params, fn))};
        });
    });
}

HONE_API void hone_calibrator_destroy(hone_calibrator* calibrator) { delete calibrator; }

HONE_API hone_status hone_calibrator_observe(hone_calibrator* calibrator,
                                             const hone_tensor* batch) {
    return guarded([&] {
        const char* fn = "hone_calibrator_observe";
        auto* c = require(calibrator, fn, "calibrator");
        const hone::const_tensor_view b = view_of(batch, fn, "batch");
        prefixed(fn, [&] { c->cal.observe(b); });
    });
}

HONE_API hone_status hone_calibrator_set_consumer(hone_calibrator* calibrator,
                                                  const hone_tensor* weights,
                                                  const hone_tensor* deployed) {
    return guarded([&] {
        const char* fn = "hone_calibrator_set_consumer";
        auto* c = require(calibrator, fn, "calibrator");
        const hone::const_tensor_view w = view_of(weights, fn, "weights");
        std::vector<float> d;
        if (deployed != nullptr) {
            const hone::tensor dc = hone::tensor::copy_of(view_of(deployed, fn, "deployed"));
            if (dc.type() != hone::dtype::f32 || !(dc.dims() == w.dims()))
                hone::fail(hone::status::shape_mismatch,
                           fmt::format("{}: deployed must be F32 of the weights' shape {}", fn,
                                       w.dims().to_string()));
            const auto s = dc.span<float>();
            d.assign(s.begin(), s.end());
        }
        prefixed(fn, [&] { c->cal.set_consumer(w, d); });
    });
}

HONE_API hone_status hone_calibrator_score(hone_calibrator* calibrator, const hone_tensor* batch) {
    return guarded([&] {
        const char* fn = "hone_calibrator_score";
        auto* c = require(calibrator, fn, "calibrator");
        const hone::const_tensor_view b = view_of(batch, fn, "batch");
        prefixed(fn, [&] { c->cal.score(b); });
    });
}

HONE_API hone_status hone_calibrator_channels(const hone_calibrator* calibrator, int64_t* out) {
    return guarded([&] {
        const char* fn = "hone_calibrator_channels";
        const auto* c = require(calibrator, fn, "calibrator");
        *require(out, fn, "out") = c->cal.channels();
    });
}

HONE_API hone_status hone_calibrator_result(const hone_calibrator* calibrator, hone_tensor* scale,
                                            hone_tensor* zero_point, hone_tensor* min,
                                            hone_tensor* max) {
    return guarded([&] {
        const char* fn = "hone_calibrator_result";
        const auto* c = require(calibrator, fn, "calibrator");
        hone::calib_result r;
        prefixed(fn, [&] { r = c->cal.result(); });
        const auto n = static_cast<std::int64_t>(r.scale.size());
        const hone::tensor_view s = result_view(scale, n, hone::dtype::f32, fn, "scale");
        hone::tensor_view z, lo, hi;
        const hone::dtype zt = c->cal.params().type;
        if (zero_point) z = result_view(zero_point, n, zt, fn, "zero_point");
        if (min) lo = result_view(min, n, hone::dtype::f32, fn, "min");
        if (max) hi = result_view(max, n, hone::dtype::f32, fn, "max");
        // everything validated: write
        auto at = [](hone::tensor_view v, std::int64_t i, std::size_t size) {
            return v.bytes() +
                   (v.rank() == 0 ? 0 : i * v.stride(0)) * static_cast<std::int64_t>(size);
        };
        for (std::int64_t i = 0; i < n; ++i) {
            const auto ii = static_cast<std::size_t>(i);
            *reinterpret_cast<float*>(at(s, i, 4)) = r.scale[ii];
            if (zero_point) {
                if (zt == hone::dtype::u8)
                    *reinterpret_cast<std::uint8_t*>(at(z, i, 1)) =
                        static_cast<std::uint8_t>(r.zero_point[ii]);
                else
                    *reinterpret_cast<std::int8_t*>(at(z, i, 1)) =
                        static_cast<std::int8_t>(r.zero_point[ii]);
            }
            if (min) *reinterpret_cast<float*>(at(lo, i, 4)) = r.min[ii];
            if (max) *reinterpret_cast<float*>(at(hi, i, 4)) = r.max[ii];
        }
    });
}

HONE_API hone_status hone_calibrator_qparams(const hone_calibrator* calibrator, float* scale,
                                             int32_t* zero_point) {
    return guarded([&] {
        const char* fn = "hone_calibrator_qparams";
        const auto* c = require(calibrator, fn, "calibrator");
        hone::calib_result r;
        prefixed(fn, [&] { r = c->cal.result(); });
        if (scale) *scale = r.scale[0];
        if (zero_point) *zero_point = r.zero_point[0];
    });
}

HONE_API hone_status hone_smooth_quant_params_init(hone_smooth_quant_params* params) {
    return guarded([&] {
        *require(params, "hone_smooth_quant_params_init", "params") =
            hone_smooth_quant_params{sizeof(hone_smooth_quant_params),
                                     nullptr,
                                     0,
                                     HONE_DTYPE_U8,
                                     HONE_QUANT_AFFINE,
                                     0,
                                     nullptr};
    });
}

HONE_API hone_status hone_smooth_quant_create(const hone_tensor* weights,
                                              const hone_smooth_quant_params* params,
                                              hone_smooth_quant** out) {
    return guarded([&] {
        const char* fn = "hone_smooth_quant_create";
        require(out, fn, "out");
        const hone::const_tensor_view w = view_of(weights, fn, "weights");
        hone::smooth_quant_params p;
        if (params) {
            hone::capi::check_struct_size(params->struct_size, sizeof(hone_smooth_quant_params), fn,
                                          "hone_smooth_quant_params");
            if (params->alphas != nullptr)
                p.alphas.assign(params->alphas, params->alphas + params->alpha_count);
            else if (params->alpha_count != 0)
                hone::fail(hone::status::invalid_argument,
                           fmt::format("{}: params->alphas is NULL with alpha_count {}", fn,
                                       params->alpha_count));
            const long long type = hone::capi::raw_enum(params->act_dtype);
            if (type != HONE_DTYPE_U8 && type != HONE_DTYPE_I8)
                hone::fail(
                    hone::status::dtype_mismatch,
                    fmt::format("{}: params->act_dtype {} is not HONE_DTYPE_U8 or I8", fn, type));
            const long long scheme = hone::capi::raw_enum(params->act_scheme);
            if (scheme != HONE_QUANT_AFFINE && scheme != HONE_QUANT_SYMMETRIC)
                hone::fail(hone::status::invalid_argument,
                           fmt::format("{}: params->act_scheme {} is not a hone_quant_scheme", fn,
                                       scheme));
            p.act_type = static_cast<hone::dtype>(type);
            p.act_scheme = static_cast<hone::kernels::quant_scheme>(scheme);
            p.reduce_range = params->reduce_range != 0;
            if (params->name) p.name = params->name;
        }
        prefixed(fn, [&] { *out = new hone_smooth_quant{hone::smooth_quant(w, p)}; });
    });
}

HONE_API void hone_smooth_quant_destroy(hone_smooth_quant* sq) { delete sq; }

HONE_API hone_status hone_smooth_quant_observe(hone_smooth_quant* sq, const hone_tensor* x) {
    return guarded([&] {
        const char* fn = "hone_smooth_quant_observe";
        auto* s = require(sq, fn, "sq");
        const hone::const_tensor_view v = view_of(x, fn, "x");
        prefixed(fn, [&] { s->sq.observe(v); });
    });
}

HONE_API hone_status hone_smooth_quant_score(hone_smooth_quant* sq, const hone_tensor* x) {
    return guarded([&] {
        const char* fn = "hone_smooth_quant_score";
        auto* s = require(sq, fn, "sq");
        const hone::const_tensor_view v = view_of(x, fn, "x");
        prefixed(fn, [&] { s->sq.score(v); });
    });
}

HONE_API hone_status hone_smooth_quant_result(const hone_smooth_quant* sq, float* alpha,
                                              hone_tensor* scales, hone_tensor* weights,
                                              double* error_before, double* error_after) {
    return guarded([&] {
        const char* fn = "hone_smooth_quant_result";
        const auto* s = require(sq, fn, "sq");
        hone::smooth_quant_result r;
        prefixed(fn, [&] { r = s->sq.result(); });
        hone::tensor_view sv, wv;
        if (scales)
            sv = result_view(scales, static_cast<std::int64_t>(r.scales.size()), hone::dtype::f32,
                             fn, "scales");
        if (weights) {
            wv = view_of(weights, fn, "weights");
            if (wv.type() != hone::dtype::f32 || !(wv.dims() == r.weights.dims()))
                hone::fail(hone::status::shape_mismatch,
                           fmt::format("{}: weights must be F32 {}, got {} {}", fn,
                                       r.weights.dims().to_string(), hone::name_of(wv.type()),
                                       wv.dims().to_string()));
        }
        if (scales) {
            for (std::size_t i = 0; i < r.scales.size(); ++i)
                *reinterpret_cast<float*>(
                    sv.bytes() +
                    (sv.rank() == 0 ? 0 : static_cast<std::int64_t>(i) * sv.stride(0)) * 4) =
                    r.scales[i];
        }
        if (weights) hone::copy(r.weights.view(), wv);
        if (alpha) *alpha = r.alpha;
        if (error_before) *error_before = r.error_before;
        if (error_after) *error_after = r.error_after;
    });
}

HONE_API hone_status hone_bias_correction(const hone_tensor* weights, const hone_tensor* deployed,
                                          const hone_tensor* bias, const hone_tensor* mean_x,
                                          const hone_tensor* mean_xq, hone_tensor* bias_out) {
    return guarded([&] {
        const char* fn = "hone_bias_correction";
        const hone::const_tensor_view w = view_of(weights, fn, "weights");
        const hone::const_tensor_view d = view_of(deployed, fn, "deployed");
        if (w.rank() != 2)
            hone::fail(hone::status::shape_mismatch,
                       fmt::format("{}: weights must be [N, K], got {}", fn, w.dims().to_string()));
        const std::int64_t n = w.dims()[0], k = w.dims()[1];
        std::vector<float> b;
        if (bias) {
            const std::vector<double> bd = f32_vector(bias, n, fn, "bias");
            b.assign(bd.begin(), bd.end());
        }
        const std::vector<double> mx = f32_vector(mean_x, k, fn, "mean_x");
        std::vector<double> mq;
        if (mean_xq) mq = f32_vector(mean_xq, k, fn, "mean_xq");
        const hone::tensor_view out = result_view(bias_out, n, hone::dtype::f32, fn, "bias_out");
        hone::bias_correction_result r;
        prefixed(fn, [&] { r = hone::bias_correction(w, d, b, mx, mq, "layer"); });
        for (std::int64_t i = 0; i < n; ++i)
            *reinterpret_cast<float*>(out.bytes() + (out.rank() == 0 ? 0 : i * out.stride(0)) * 4) =
                r.bias[static_cast<std::size_t>(i)];
    });
}

} // extern "C"
