// C ABI of the weight-only int4 kernels (hone.h section "kernels: weight-only low-bit
// GEMV/GEMM"). Tensor handles are read through the public accessors; every body validates
// everything before it writes, so out-parameters and outputs are untouched on failure.
#include "guard.hpp"
#include "hone/kernels/weight_only.hpp"
#include "tensor_handle.hpp"

#include <fmt/format.h>

#include <cstring>
#include <memory>
#include <string>

struct hone_int4_weights {
    hone::kernels::int4_weights w;
};

namespace {

using hone::capi::export_target;
using hone::capi::guarded;
using hone::capi::require;

using hone::capi::view_of;

using hone::capi::named;

const hone_int4_weights_params& checked_params(const hone_int4_weights_params* p, const char* fn) {
    require(p, fn, "params");
    hone::capi::check_struct_size(p->struct_size, sizeof(hone_int4_weights_params), fn,
                                  "hone_int4_weights_params");
    return *p;
}

hone::kernels::int4_weights& weights_of(const hone_int4_weights* w, const char* fn) {
    return const_cast<hone_int4_weights*>(require(w, fn, "weights"))->w;
}

} // namespace

extern "C" {

HONE_API hone_status hone_int4_weights_params_init(hone_int4_weights_params* params) {
    return guarded([&] {
        *require(params, "hone_int4_weights_params_init", "params") =
            hone_int4_weights_params{sizeof(hone_int4_weights_params), 128, 1, HONE_DTYPE_F32};
    });
}

HONE_API hone_status hone_int4_weights_create(const hone_int4_weights_params* params,
                                              const hone_tensor* weights, hone_int4_weights** out) {
    return guarded([&] {
        constexpr const char* fn = "hone_int4_weights_create";
        const auto& p = checked_params(params, fn);
        require(out, fn, "out");
        const auto src = view_of(weights, fn, "weights");
        const auto scale_raw = hone::capi::raw_enum(p.scale_dtype);
        if (scale_raw != HONE_DTYPE_F32 && scale_raw != HONE_DTYPE_F16)
            hone::fail(hone::status::dtype_mismatch,
                       fmt::format("{}: params->scale_dtype {} is not HONE_DTYPE_F32 or "
                                   "HONE_DTYPE_F16",
                                   fn, static_cast<long long>(scale_raw)));
        auto handle = std::make_unique<hone_int4_weights>();
        named(fn, [&] {
            handle->w = hone::kernels::int4_quantize(
                src, {p.group_size, p.symmetric != 0, static_cast<hone::dtype>(scale_raw)});
        });
        *out = handle.release();
    });
}

HONE_API hone_status hone_int4_weights_create_packed(const hone_int4_weights_params* params,
                                                     const hone_tensor* weights,
                                                     const hone_tensor* scales,
                                                     const hone_tensor* zero_points,
                                                     hone_int4_weights** out) {
    return guarded([&] {
        constexpr const char* fn = "hone_int4_weights_create_packed";
        const auto& p = checked_params(params, fn);
        require(out, fn, "out");
        hone::kernels::int4_weights_view v{
            view_of(weights, fn, "weights"), view_of(scales, fn, "scales"), {}, p.group_size};
        if (zero_points) v.zero_points = view_of(zero_points, fn, "zero_points");
        auto handle = std::make_unique<hone_int4_weights>();
        named(fn, [&] { handle->w = hone::kernels::int4_copy(v); });
        *out = handle.release();
    });
}

HONE_API void hone_int4_weights_destroy(hone_int4_weights* weights) { delete weights; }

HONE_API hone_status hone_int4_weights_shape(const hone_int4_weights* weights, int64_t* n,
                                             int64_t* k) {
    return guarded([&] {
        const auto& w = weights_of(weights, "hone_int4_weights_shape");
        if (n) *n = w.rows();
        if (k) *k = w.cols();
    });
}

HONE_API hone_status hone_int4_weights_get_params(const hone_int4_weights* weights,
                                                  hone_int4_weights_params* params) {
    return guarded([&] {
        constexpr const char* fn = "hone_int4_weights_get_params";
        const auto& w = weights_of(weights, fn);
        auto& p = const_cast<hone_int4_weights_params&>(checked_params(params, fn));
        p.group_size = w.group_size;
        p.symmetric = w.symmetric() ? 1 : 0;
        p.scale_dtype = static_cast<hone_dtype>(w.scales.type());
    });
}

HONE_API hone_status hone_int4_weights_nbytes(const hone_int4_weights* weights, size_t* out) {
    return guarded([&] {
        const auto& w = weights_of(weights, "hone_int4_weights_nbytes");
        *require(out, "hone_int4_weights_nbytes", "out") = w.nbytes();
    });
}

HONE_API hone_status hone_int4_weights_export(const hone_int4_weights* weights, hone_tensor* packed,
                                              hone_tensor* scales, hone_tensor* zero_points) {
    return guarded([&] {
        constexpr const char* fn = "hone_int4_weights_export";
        const auto& w = weights_of(weights, fn);
        const auto q = export_target(packed, w.weights, fn, "packed");
        const auto s = export_target(scales, w.scales, fn, "scales");
        hone::tensor_view z;
        if (w.symmetric() && zero_points)
            hone::fail(hone::status::invalid_argument,
                       fmt::format("{}: symmetric i4 weights have no zero points; pass NULL", fn));
        if (!w.symmetric()) z = export_target(zero_points, w.zero_points, fn, "zero_points");
        if (w.weights.nbytes()) std::memcpy(q.data(), w.weights.data(), w.weights.nbytes());
        if (w.scales.nbytes()) std::memcpy(s.data(), w.scales.data(), w.scales.nbytes());
        if (!w.symmetric() && w.zero_points.nbytes())
            std::memcpy(z.data(), w.zero_points.data(), w.zero_points.nbytes());
    });
}

HONE_API hone_status hone_int4_weights_dequantize(const hone_int4_weights* weights,
                                                  hone_tensor* dst) {
    return guarded([&] {
        constexpr const char* fn = "hone_int4_weights_dequantize";
        const auto& w = weights_of(weights, fn);
        const auto d = view_of(dst, fn, "dst");
        named(fn, [&] { hone::kernels::int4_dequantize(w.view(), d); });
    });
}

HONE_API hone_status hone_int4_matmul(const hone_int4_weights* weights, const hone_tensor* x,
                                      const hone_tensor* bias, hone_tensor* y) {
    return guarded([&] {
        constexpr const char* fn = "hone_int4_matmul";
        const auto& w = weights_of(weights, fn);
        const auto xv = view_of(x, fn, "x");
        const auto yv = view_of(y, fn, "y");
        std::span<const float> b;
        if (bias) {
            const auto bv = view_of(bias, fn, "bias");
            if (bv.type() != hone::dtype::f32)
                hone::fail(hone::status::dtype_mismatch, fmt::format("{}: bias must be f32, got {}",
                                                                     fn, hone::name_of(bv.type())));
            if (bv.rank() != 1 || bv.dims()[0] != w.rows())
                hone::fail(hone::status::shape_mismatch,
                           fmt::format("{}: bias must be [{}], got {}", fn, w.rows(),
                                       bv.dims().to_string()));
            if (!bv.is_contiguous())
                hone::fail(hone::status::invalid_argument,
                           fmt::format("{}: bias must be contiguous", fn));
            b = {static_cast<const float*>(bv.data()), static_cast<std::size_t>(w.rows())};
        }
        named(fn, [&] { hone::kernels::int4_matmul(w.view(), xv, yv, b); });
    });
}

} // extern "C"
