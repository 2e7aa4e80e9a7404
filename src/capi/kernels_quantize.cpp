// C ABI of the quantize and reduction kernels (hone.h section "kernels: quantize and
// reductions"). Handles are read through the public tensor accessors; every body validates
// everything before the kernel writes, so outputs are untouched on failure.
#include "guard.hpp"
#include "hone/kernels/quantize.hpp"
#include "hone/kernels/reduce.hpp"
#include "tensor_handle.hpp"

#include <fmt/format.h>

#include <optional>
#include <string>

static_assert(HONE_GRANULARITY_PER_GROUP ==
              static_cast<int>(hone::kernels::granularity::per_group));
static_assert(HONE_QUANT_SYMMETRIC == static_cast<int>(hone::kernels::quant_scheme::symmetric));

namespace {

using hone::capi::guarded;
using hone::capi::require;

using hone::capi::view_of;

using hone::capi::named;

hone::kernels::quant_axis reduce_axis(const hone_reduce_params* p, const char* fn) {
    if (p == nullptr) return {};
    hone::capi::check_struct_size(p->struct_size, sizeof(hone_reduce_params), fn,
                                  "hone_reduce_params");
    const long long raw = hone::capi::raw_enum(p->granularity);
    if (raw < HONE_GRANULARITY_PER_TENSOR || raw > HONE_GRANULARITY_PER_GROUP)
        hone::fail(hone::status::invalid_argument,
                   fmt::format("{}: params->granularity {} is not a hone_granularity", fn, raw));
    return {static_cast<hone::kernels::granularity>(raw), p->axis, p->group_size};
}

hone::dtype quantized_dtype(const hone_dtype& d, const char* fn) {
    const auto raw = static_cast<long long>(hone::capi::raw_enum(d));
    if (raw != HONE_DTYPE_I8 && raw != HONE_DTYPE_U8 && raw != HONE_DTYPE_I4 &&
        raw != HONE_DTYPE_U4)
        hone::fail(hone::status::dtype_mismatch,
                   fmt::format("{}: dtype {} is not HONE_DTYPE_I8, U8, I4 or U4", fn, raw));
    return static_cast<hone::dtype>(raw);
}

hone::kernels::quant_scheme checked_scheme(const hone_quant_scheme& s, const char* fn) {
    const auto raw = static_cast<long long>(hone::capi::raw_enum(s));
    if (raw != HONE_QUANT_AFFINE && raw != HONE_QUANT_SYMMETRIC)
        hone::fail(hone::status::invalid_argument,
                   fmt::format("{}: scheme {} is not a hone_quant_scheme", fn, raw));
    return static_cast<hone::kernels::quant_scheme>(raw);
}

hone::kernels::quant_params quant_params_of(const hone_tensor* scale, const hone_tensor* zero_point,
                                            const hone_quantize_params* p, const char* fn) {
    hone::kernels::quant_params q;
    q.scale = view_of(scale, fn, "scale");
    if (zero_point) q.zero_point = view_of(zero_point, fn, "zero_point");
    if (p) {
        hone::capi::check_struct_size(p->struct_size, sizeof(hone_quantize_params), fn,
                                      "hone_quantize_params");
        q.axis = p->axis;
        q.block_size = p->block_size;
    }
    return q;
}

} // namespace

extern "C" {

HONE_API hone_status hone_reduce_params_init(hone_reduce_params* params) {
    return guarded([&] {
        *require(params, "hone_reduce_params_init", "params") =
            hone_reduce_params{sizeof(hone_reduce_params), HONE_GRANULARITY_PER_TENSOR, 0, 0};
    });
}

HONE_API hone_status hone_reduced_shape(const int64_t* dims, size_t rank,
                                        const hone_reduce_params* params, int64_t* out_dims,
                                        size_t capacity, size_t* out_rank) {
    return guarded([&] {
        constexpr const char* fn = "hone_reduced_shape";
        require(out_rank, fn, "out_rank");
        if (rank > HONE_MAX_RANK)
            hone::fail(
                hone::status::invalid_argument,
                fmt::format("{}: rank {} exceeds HONE_MAX_RANK ({})", fn, rank, HONE_MAX_RANK));
        if (rank > 0) require(dims, fn, "dims");
        hone::shape out;
        named(fn, [&] {
            out = hone::kernels::reduced_shape(
                hone::shape(std::span<const std::int64_t>(dims, rank)), reduce_axis(params, fn));
        });
        if (out.rank() > 0) require(out_dims, fn, "out_dims");
        if (capacity < out.rank())
            hone::fail(hone::status::out_of_range,
                       fmt::format("{}: capacity {} is less than the result's rank {}", fn,
                                   capacity, out.rank()));
        for (std::size_t i = 0; i < out.rank(); ++i)
            out_dims[i] = out[i];
        *out_rank = out.rank();
    });
}

HONE_API hone_status hone_min_max(const hone_tensor* src, const hone_reduce_params* params,
                                  hone_tensor* min, hone_tensor* max) {
    return guarded([&] {
        constexpr const char* fn = "hone_min_max";
        const auto g = reduce_axis(params, fn);
        const auto s = view_of(src, fn, "src");
        const auto lo = view_of(min, fn, "min"), hi = view_of(max, fn, "max");
        named(fn, [&] { hone::kernels::min_max(s, g, lo, hi); });
    });
}

HONE_API hone_status hone_abs_max(const hone_tensor* src, const hone_reduce_params* params,
                                  hone_tensor* dst) {
    return guarded([&] {
        constexpr const char* fn = "hone_abs_max";
        const auto g = reduce_axis(params, fn);
        const auto s = view_of(src, fn, "src");
        const auto d = view_of(dst, fn, "dst");
        named(fn, [&] { hone::kernels::abs_max(s, g, d); });
    });
}

HONE_API hone_status hone_quantize_params_init(hone_quantize_params* params) {
    return guarded([&] {
        *require(params, "hone_quantize_params_init", "params") =
            hone_quantize_params{sizeof(hone_quantize_params), 1, 0};
    });
}

HONE_API hone_status hone_quantize_linear(const hone_tensor* x, const hone_tensor* scale,
                                          const hone_tensor* zero_point,
                                          const hone_quantize_params* params, hone_tensor* y) {
    return guarded([&] {
        constexpr const char* fn = "hone_quantize_linear";
        const auto in = view_of(x, fn, "x");
        const auto out = view_of(y, fn, "y");
        const auto q = quant_params_of(scale, zero_point, params, fn);
        named(fn, [&] { hone::kernels::quantize_linear(in, q, out); });
    });
}

HONE_API hone_status hone_dequantize_linear(const hone_tensor* x, const hone_tensor* scale,
                                            const hone_tensor* zero_point,
                                            const hone_quantize_params* params, hone_tensor* y) {
    return guarded([&] {
        constexpr const char* fn = "hone_dequantize_linear";
        const auto in = view_of(x, fn, "x");
        const auto out = view_of(y, fn, "y");
        const auto q = quant_params_of(scale, zero_point, params, fn);
        named(fn, [&] { hone::kernels::dequantize_linear(in, q, out); });
    });
}

HONE_API hone_status hone_choose_qparams(float min, float max, hone_dtype dtype,
                                         hone_quant_scheme scheme, float* scale,
                                         int32_t* zero_point) {
    return guarded([&] {
        constexpr const char* fn = "hone_choose_qparams";
        require(scale, fn, "scale");
        require(zero_point, fn, "zero_point");
        const auto type = quantized_dtype(dtype, fn);
        const auto sch = checked_scheme(scheme, fn);
        hone::kernels::qparams q;
        named(fn, [&] { q = hone::kernels::choose_qparams(min, max, type, sch); });
        *scale = q.scale;
        *zero_point = q.zero_point;
    });
}

HONE_API hone_status hone_choose_qparams_tensor(const hone_tensor* min, const hone_tensor* max,
                                                hone_dtype dtype, hone_quant_scheme scheme,
                                                hone_tensor* scale, hone_tensor* zero_point) {
    return guarded([&] {
        constexpr const char* fn = "hone_choose_qparams_tensor";
        const auto lo = view_of(min, fn, "min"), hi = view_of(max, fn, "max");
        const auto s = view_of(scale, fn, "scale"), z = view_of(zero_point, fn, "zero_point");
        const auto type = quantized_dtype(dtype, fn);
        const auto sch = checked_scheme(scheme, fn);
        named(fn, [&] { hone::kernels::choose_qparams(lo, hi, type, sch, s, z); });
    });
}

} // extern "C"
