// C ABI of the weight quantizer (hone.h section "quantizer", "weights"). Every body validates
// before it writes: out-parameters are untouched on failure.
#include "guard.hpp"
#include "handles.hpp"
#include "hone/quantize/quantizer.hpp"
#include "tensor_handle.hpp"

#include <fmt/format.h>

#include <cmath>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

struct hone_quantizer {
    hone::quantizer q;
};

namespace {

using hone::capi::guarded;
using hone::capi::named;
using hone::capi::raw_enum;
using hone::capi::require;
using hone::capi::spec_from;
using hone::capi::view_of;

hone::dtype dtype_from(const hone_dtype& d, const char* fn, const char* what) {
    const auto raw = raw_enum(d);
    if (raw == HONE_DTYPE_F32) return hone::dtype::f32;
    if (raw == HONE_DTYPE_F16) return hone::dtype::f16;
    hone::fail(hone::status::invalid_argument,
               fmt::format("{}: {} {} is not HONE_DTYPE_F32 or HONE_DTYPE_F16", fn, what, raw));
}

} // namespace

hone::quant_spec hone::capi::spec_from(const hone_quant_spec* s, const char* fn, const char* what) {
    require(s, fn, what);
    hone::capi::check_struct_size(s->struct_size, sizeof(hone_quant_spec), fn, "hone_quant_spec");
    const auto g = raw_enum(s->granularity);
    if (g < 0 || g > 2)
        hone::fail(hone::status::invalid_argument,
                   fmt::format("{}: {} granularity {} is not HONE_QUANT_PER_TENSOR, "
                               "_PER_CHANNEL or _PER_GROUP",
                               fn, what, g));
    hone::quant_spec out{
        .bits = s->bits,
        .is_signed = s->is_signed != 0,
        .symmetric = s->symmetric != 0,
        .granularity = static_cast<hone::quant_granularity>(g),
        .channel_axis = s->channel_axis,
        .group_axis = s->group_axis,
        .group_size = s->group_size,
        .scale_type = dtype_from(s->scale_dtype, fn, fmt::format("{} scale_dtype", what).c_str())};
    named(fn, [&] { hone::validate(out, what); });
    return out;
}

namespace {

void spec_to(const hone::quant_spec& s, hone_quant_spec* out) {
    out->struct_size = sizeof(hone_quant_spec);
    out->bits = s.bits;
    out->is_signed = s.is_signed;
    out->symmetric = s.symmetric;
    out->granularity = static_cast<hone_quant_granularity>(static_cast<int>(s.granularity));
    out->channel_axis = s.channel_axis;
    out->group_axis = s.group_axis;
    out->group_size = s.group_size;
    out->scale_dtype = s.scale_type == hone::dtype::f16 ? HONE_DTYPE_F16 : HONE_DTYPE_F32;
}

void report_to(const hone::quant_error_report& r, hone_quant_report* out) {
    out->elements = r.elements;
    out->mse = r.mse;
    out->max_abs_error = r.max_abs_error;
    out->sqnr_db = r.sqnr_db;
    out->fraction_clipped = r.fraction_clipped;
    out->has_output = r.has_output;
    out->output_mse = r.output_mse;
    out->output_sqnr_db = r.output_sqnr_db;
}

void check_report(hone_quant_report* r, const char* fn) {
    if (r)
        hone::capi::check_struct_size(r->struct_size, sizeof(hone_quant_report), fn,
                                      "hone_quant_report");
}

const hone::quantized_tensor& qt_of(const hone_quantized_tensor* t, const char* fn) {
    return require(t, fn, "tensor")->t;
}

hone_tensor* new_tensor(const hone::tensor& t) { return hone::capi::make_owned_handle(t.clone()); }

} // namespace

extern "C" {

HONE_API hone_status hone_quant_spec_init(hone_quant_spec* spec) {
    return guarded(
        [&] { spec_to(hone::quant_spec{}, require(spec, "hone_quant_spec_init", "spec")); });
}

HONE_API hone_status hone_quantizer_params_init(hone_quantizer_params* params) {
    return guarded([&] {
        auto* p = require(params, "hone_quantizer_params_init", "params");
        const hone::quantizer_config c;
        hone_quantizer_params v{};
        v.struct_size = sizeof(hone_quantizer_params);
        spec_to(c.spec, &v.spec);
        v.method = HONE_WEIGHT_RTN;
        v.clip_steps = c.clip.steps;
        v.clip_min_ratio = c.clip.min_ratio;
        v.clip_norm = c.clip.norm;
        v.gptq_damp_fraction = c.gptq.damp_fraction;
        v.gptq_act_order = c.gptq.act_order;
        v.gptq_block_size = c.gptq.block_size;
        v.gptq_static_groups = c.gptq.static_groups;
        v.gptq_clip_search = c.gptq.clip_search;
        v.awq_grid = c.awq.grid;
        v.awq_max_rows = c.awq.max_rows;
        v.awq_clip_search = c.awq.clip_search;
        *p = v;
    });
}

HONE_API hone_status hone_quantizer_create(const hone_quantizer_params* params,
                                           hone_quantizer** out) {
    return guarded([&] {
        constexpr const char* fn = "hone_quantizer_create";
        require(params, fn, "params");
        require(out, fn, "out");
        hone::capi::check_struct_size(params->struct_size, sizeof(hone_quantizer_params), fn,
                                      "hone_quantizer_params");
        const auto method = raw_enum(params->method);
        if (method < 0 || method > 3)
            hone::fail(
                hone::status::invalid_argument,
                fmt::format("{}: params->method {} is not a hone_weight_method", fn, method));
        hone::quantizer_config c;
        c.spec = spec_from(&params->spec, fn);
        c.method = static_cast<hone::weight_method>(method);
        c.clip = {params->clip_steps, params->clip_min_ratio, params->clip_norm};
        c.gptq.damp_fraction = params->gptq_damp_fraction;
        c.gptq.act_order = params->gptq_act_order != 0;
        c.gptq.block_size = params->gptq_block_size;
        c.gptq.static_groups = params->gptq_static_groups != 0;
        c.gptq.clip_search = params->gptq_clip_search != 0;
        c.gptq.clip = c.clip;
        c.awq.grid = params->awq_grid;
        c.awq.max_rows = params->awq_max_rows;
        c.awq.clip_search = params->awq_clip_search != 0;
        std::unique_ptr<hone_quantizer> h;
        named(fn, [&] { h.reset(new hone_quantizer{hone::quantizer(c)}); });
        *out = h.release();
    });
}

HONE_API void hone_quantizer_destroy(hone_quantizer* quantizer) { delete quantizer; }

HONE_API hone_status hone_quantizer_run(const hone_quantizer* quantizer, const hone_tensor* weights,
                                        const char* name, const hone_tensor* inputs,
                                        const hone_tensor* hessian, hone_quantized_tensor** out,
                                        hone_tensor** input_scales, hone_quant_report* report) {
    return guarded([&] {
        constexpr const char* fn = "hone_quantizer_run";
        const auto& q = require(quantizer, fn, "quantizer")->q;
        const auto w = view_of(weights, fn, "weights");
        require(out, fn, "out");
        check_report(report, fn);
        hone::weight_calibration cal;
        if (inputs) cal.inputs = inputs->view;
        if (hessian) cal.hessian = hessian->view;
        hone::quantize_result r;
        named(fn, [&] { r = q.run(w, cal, name ? name : "weights"); });
        auto h =
            std::make_unique<hone_quantized_tensor>(hone_quantized_tensor{std::move(r.weights)});
        hone_tensor* scales = nullptr;
        if (input_scales && !r.input_scales.empty()) {
            hone::tensor s(hone::dtype::f32, hone::shape{std::int64_t(r.input_scales.size())});
            std::memcpy(s.data(), r.input_scales.data(), r.input_scales.size() * sizeof(float));
            scales = hone::capi::make_owned_handle(std::move(s));
        }
        if (report) report_to(r.report, report);
        if (input_scales) *input_scales = scales;
        *out = h.release();
    });
}

HONE_API hone_status hone_quantized_tensor_create(const hone_quant_spec* spec, const int64_t* dims,
                                                  size_t rank, const hone_tensor* data,
                                                  const hone_tensor* scales,
                                                  const hone_tensor* zero_points,
                                                  hone_quantized_tensor** out) {
    return guarded([&] {
        constexpr const char* fn = "hone_quantized_tensor_create";
        require(out, fn, "out");
        const auto s = spec_from(spec, fn);
        if (rank > HONE_MAX_RANK)
            hone::fail(hone::status::invalid_argument,
                       fmt::format("{}: rank {} exceeds HONE_MAX_RANK", fn, rank));
        if (rank > 0) require(dims, fn, "dims");
        for (size_t i = 0; i < rank; ++i)
            if (dims[i] < 0)
                hone::fail(hone::status::invalid_argument,
                           fmt::format("{}: dims[{}] = {} is negative", fn, i, dims[i]));
        hone::quantized_tensor t;
        t.spec = s;
        t.dims = hone::shape(std::span<const std::int64_t>(dims, rank));
        t.data = hone::tensor::copy_of(view_of(data, fn, "data"));
        t.scales = hone::tensor::copy_of(view_of(scales, fn, "scales"));
        t.zero_points = zero_points ? hone::tensor::copy_of(zero_points->view)
                                    : hone::tensor(s.zero_point_type(), hone::shape{0});
        named(fn, [&] { t.validate("tensor"); });
        *out = new hone_quantized_tensor{std::move(t)};
    });
}

HONE_API void hone_quantized_tensor_destroy(hone_quantized_tensor* tensor) { delete tensor; }

HONE_API hone_status hone_quantized_tensor_spec(const hone_quantized_tensor* tensor,
                                                hone_quant_spec* out) {
    return guarded([&] {
        constexpr const char* fn = "hone_quantized_tensor_spec";
        const auto& t = qt_of(tensor, fn);
        spec_to(t.spec, require(out, fn, "out"));
    });
}

HONE_API hone_status hone_quantized_tensor_shape(const hone_quantized_tensor* tensor, int64_t* dims,
                                                 size_t capacity, size_t* rank) {
    return guarded([&] {
        constexpr const char* fn = "hone_quantized_tensor_shape";
        const auto& t = qt_of(tensor, fn);
        require(rank, fn, "rank");
        const auto d = t.dims.dims();
        if (dims) {
            if (capacity < d.size())
                hone::fail(hone::status::out_of_range,
                           fmt::format("{}: capacity {} < rank {}", fn, capacity, d.size()));
            std::copy(d.begin(), d.end(), dims);
        }
        *rank = d.size();
    });
}

HONE_API hone_status hone_quantized_tensor_bytes(const hone_quantized_tensor* tensor, size_t* out) {
    return guarded([&] {
        constexpr const char* fn = "hone_quantized_tensor_bytes";
        const auto& t = qt_of(tensor, fn);
        *require(out, fn, "out") = t.bytes();
    });
}

HONE_API hone_status hone_quantized_tensor_parts(const hone_quantized_tensor* tensor,
                                                 hone_tensor** data, hone_tensor** scales,
                                                 hone_tensor** zero_points) {
    return guarded([&] {
        const auto& t = qt_of(tensor, "hone_quantized_tensor_parts");
        std::unique_ptr<hone_tensor> d(data ? new_tensor(t.data) : nullptr);
        std::unique_ptr<hone_tensor> s(scales ? new_tensor(t.scales) : nullptr);
        std::unique_ptr<hone_tensor> z(zero_points ? new_tensor(t.zero_points) : nullptr);
        if (data) *data = d.release();
        if (scales) *scales = s.release();
        if (zero_points) *zero_points = z.release();
    });
}

HONE_API hone_status hone_quantized_tensor_dequantize(const hone_quantized_tensor* tensor,
                                                      hone_tensor* dst) {
    return guarded([&] {
        constexpr const char* fn = "hone_quantized_tensor_dequantize";
        const auto& t = qt_of(tensor, fn);
        const auto v = view_of(dst, fn, "dst");
        named(fn, [&] {
            const auto d = t.dequantize(); // validated; dst untouched on failure
            hone::copy(d, v);
        });
    });
}

HONE_API hone_status hone_quantized_tensor_measure_error(
    const hone_quantized_tensor* tensor, const hone_tensor* original, const char* name,
    const hone_tensor* inputs, const hone_tensor* input_scales, hone_quant_report* out) {
    return guarded([&] {
        constexpr const char* fn = "hone_quantized_tensor_measure_error";
        const auto& t = qt_of(tensor, fn);
        const auto o = view_of(original, fn, "original");
        require(out, fn, "out");
        check_report(out, fn);
        std::vector<float> s;
        if (input_scales) {
            const auto v = input_scales->view;
            if (v.type() != hone::dtype::f32 || v.rank() != 1)
                hone::fail(hone::status::invalid_argument,
                           fmt::format("{}: input_scales must be F32 [K]", fn));
            hone::tensor c = hone::tensor::copy_of(v);
            s.assign(c.span<float>().begin(), c.span<float>().end());
        }
        hone::quant_error_report r;
        named(fn, [&] {
            r = hone::measure_error(
                o, t, name ? name : "tensor",
                inputs ? hone::const_tensor_view(inputs->view) : hone::const_tensor_view{}, s);
        });
        report_to(r, out);
    });
}

} // extern "C"
