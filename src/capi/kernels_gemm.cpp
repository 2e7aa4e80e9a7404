// C ABI of the GEMM and convolution kernels (hone.h section "kernels: GEMM and convolution").
// Handles are read through the public tensor accessors; everything is validated before any
// output is written.
#include "guard.hpp"
#include "hone/kernels/conv.hpp"
#include "hone/kernels/gemm.hpp"
#include "tensor_handle.hpp"

#include <fmt/format.h>

#include <cstddef>
#include <memory>
#include <optional>
#include <string>

static_assert(HONE_GEMM_INT8 == static_cast<int>(hone::kernels::gemm_type::int8));
static_assert(HONE_WEIGHTS_N_BY_K == static_cast<int>(hone::kernels::weight_layout::n_by_k));
static_assert(HONE_ACT_DYNAMIC_PER_ROW ==
              static_cast<int>(hone::kernels::act_quant::dynamic_per_row));

struct hone_linear {
    hone::kernels::linear layer;
};
struct hone_conv2d {
    hone::kernels::conv2d conv;
};

namespace {

using hone::capi::guarded;
using hone::capi::require;

using hone::capi::view_of;

using hone::capi::named;

/// A contiguous typed span of a tensor handle, naming it in errors.
template <class T>
std::span<const T> span_of(const hone_tensor* t, const char* fn, const char* what) {
    const auto v = view_of(t, fn, what);
    if (v.type() != hone::dtype_of<T>)
        hone::fail(hone::status::dtype_mismatch,
                   fmt::format("{}: '{}' is {}; expected {}", fn, what, hone::name_of(v.type()),
                               hone::name_of(hone::dtype_of<T>)));
    if (!v.is_contiguous())
        hone::fail(hone::status::invalid_argument,
                   fmt::format("{}: '{}' must be contiguous", fn, what));
    return {static_cast<const T*>(v.data()), static_cast<std::size_t>(v.numel())};
}

template <class E> int checked_enum(const E& value, int max, const char* fn, const char* what) {
    const long long raw = hone::capi::raw_enum(value);
    if (raw < 0 || raw > max)
        hone::fail(hone::status::invalid_argument,
                   fmt::format("{}: {} = {} is not valid", fn, what, raw));
    return raw;
}

hone::kernels::linear_params linear_params_of(const hone_linear_params* p, const char* fn) {
    require(p, fn, "params");
    // The first version of the struct ended with `exact`.
    hone::capi::check_struct_size(p->struct_size,
                                  offsetof(hone_linear_params, exact) + sizeof p->exact, fn,
                                  "hone_linear_params");
    hone::kernels::linear_params q;
    q.type = static_cast<hone::kernels::gemm_type>(
        checked_enum(p->type, HONE_GEMM_INT8, fn, "params->type"));
    q.k = p->k;
    q.n = p->n;
    q.layout = static_cast<hone::kernels::weight_layout>(
        checked_enum(p->layout, HONE_WEIGHTS_N_BY_K, fn, "params->layout"));
    q.relu = p->relu != 0;
    q.activations = static_cast<hone::kernels::act_quant>(
        checked_enum(p->activations, HONE_ACT_DYNAMIC_PER_ROW, fn, "params->activations"));
    q.act_scale = p->act_scale;
    q.act_zero_point = p->act_zero_point;
    q.exact = p->exact != 0;
    // Appended field: read only when the caller's struct has it (older callers: default 0).
    if (p->struct_size >= offsetof(hone_linear_params, reduce_range) + sizeof p->reduce_range)
        q.reduce_range = p->reduce_range != 0;
    return q;
}

hone::kernels::conv2d_params conv_params_of(const hone_conv2d_params* p, const char* fn) {
    require(p, fn, "params");
    hone::capi::check_struct_size(p->struct_size, sizeof(hone_conv2d_params), fn,
                                  "hone_conv2d_params");
    hone::kernels::conv2d_params q;
    q.type = static_cast<hone::kernels::gemm_type>(
        checked_enum(p->type, HONE_GEMM_INT8, fn, "params->type"));
    q.in_channels = p->in_channels;
    q.out_channels = p->out_channels;
    q.kernel_h = p->kernel_h;
    q.kernel_w = p->kernel_w;
    q.stride_h = p->stride_h;
    q.stride_w = p->stride_w;
    q.pad_top = p->pad_top;
    q.pad_left = p->pad_left;
    q.pad_bottom = p->pad_bottom;
    q.pad_right = p->pad_right;
    q.dilation_h = p->dilation_h;
    q.dilation_w = p->dilation_w;
    q.groups = p->groups;
    q.relu = p->relu != 0;
    q.act_scale = p->act_scale;
    q.act_zero_point = p->act_zero_point;
    return q;
}

// The shapes hone.h documents for a layer's weights, and its number of outputs.
hone::shape weight_shape(const hone::kernels::linear_params& p) {
    return p.layout == hone::kernels::weight_layout::n_by_k ? hone::shape{p.n, p.k}
                                                            : hone::shape{p.k, p.n};
}
hone::shape weight_shape(const hone::kernels::conv2d_params& p) {
    return {p.out_channels, p.groups > 0 ? p.in_channels / p.groups : 0, p.kernel_h, p.kernel_w};
}
std::int64_t outputs(const hone::kernels::linear_params& p) { return p.n; }
std::int64_t outputs(const hone::kernels::conv2d_params& p) { return p.out_channels; }
// Whether the sizes are sane enough to compare shapes with (else the layer names the problem).
bool sane(const hone::kernels::linear_params& p) { return p.k >= 1 && p.n >= 1; }
bool sane(const hone::kernels::conv2d_params& p) {
    return p.in_channels >= 1 && p.out_channels >= 1 && p.groups >= 1 && p.kernel_h >= 1 &&
           p.kernel_w >= 1 && p.in_channels % p.groups == 0;
}

void check_dims(const hone_tensor* t, const hone::shape& want, const char* fn, const char* what) {
    const hone::shape got = view_of(t, fn, what).dims();
    if (!(got == want))
        hone::fail(hone::status::shape_mismatch,
                   fmt::format("{}: '{}' has shape {}, expected {}", fn, what, got.to_string(),
                               want.to_string()));
}

// Builds a layer (linear or conv2d) from f32 or i8 weights, after checking every shape.
template <class Layer, class Params>
Layer make_layer(const Params& params, const hone_tensor* weights, const hone_tensor* weight_scales,
                 const hone_tensor* bias, const char* fn) {
    const auto w = view_of(weights, fn, "weights");
    // Shapes are checked when the parameters are sane; otherwise the layer's own checks name
    // the bad parameter (negative or overflowing sizes).
    if (sane(params)) {
        try {
            check_dims(weights, weight_shape(params), fn, "weights");
        } catch (const hone::error& e) {
            if (e.code() == hone::status::shape_mismatch) throw;
        }
        const hone::shape per_output{outputs(params)};
        if (weight_scales) check_dims(weight_scales, per_output, fn, "weight_scales");
        if (bias) check_dims(bias, per_output, fn, "bias");
    }
    std::span<const float> b;
    if (bias) b = span_of<float>(bias, fn, "bias");
    if (w.type() == hone::dtype::i8) {
        if (!weight_scales)
            hone::fail(hone::status::invalid_argument,
                       fmt::format("{}: 'weight_scales' is NULL but the weights are i8", fn));
        return Layer(params, span_of<std::int8_t>(weights, fn, "weights"),
                     span_of<float>(weight_scales, fn, "weight_scales"), b);
    }
    if (weight_scales)
        hone::fail(hone::status::invalid_argument,
                   fmt::format("{}: 'weight_scales' must be NULL for {} weights", fn,
                               hone::name_of(w.type())));
    return Layer(params, span_of<float>(weights, fn, "weights"), b);
}

} // namespace

extern "C" {

HONE_API hone_status hone_matmul(hone_gemm_type type, const hone_tensor* a, const hone_tensor* b,
                                 hone_weight_layout b_layout, const hone_tensor* bias,
                                 hone_tensor* c) {
    return guarded([&] {
        constexpr const char* fn = "hone_matmul";
        const int t = checked_enum(type, HONE_GEMM_INT8, fn, "type");
        if (t == HONE_GEMM_INT8)
            hone::fail(hone::status::unsupported,
                       "hone_matmul: int8 products go through hone_linear");
        const auto layout = static_cast<hone::kernels::weight_layout>(
            checked_enum(b_layout, HONE_WEIGHTS_N_BY_K, fn, "b_layout"));
        const auto va = view_of(a, fn, "a"), vb = view_of(b, fn, "b");
        const auto vc = view_of(c, fn, "c");
        const std::pair<hone::const_tensor_view, const char*> operands[] = {
            {va, "a"}, {vb, "b"}, {hone::const_tensor_view(vc), "c"}};
        for (const auto& [v, name] : operands) {
            if (v.type() != hone::dtype::f32)
                hone::fail(
                    hone::status::dtype_mismatch,
                    fmt::format("{}: '{}' is {}; expected f32", fn, name, hone::name_of(v.type())));
            if (v.rank() != 2)
                hone::fail(
                    hone::status::shape_mismatch,
                    fmt::format("{}: '{}' is {}; expected rank 2", fn, name, v.dims().to_string()));
            if (!v.is_contiguous())
                hone::fail(hone::status::invalid_argument,
                           fmt::format("{}: '{}' must be contiguous", fn, name));
        }
        const std::int64_t m = va.dims()[0], k = va.dims()[1];
        const bool kn = layout == hone::kernels::weight_layout::k_by_n;
        const std::int64_t bk = kn ? vb.dims()[0] : vb.dims()[1],
                           n = kn ? vb.dims()[1] : vb.dims()[0];
        if (bk != k)
            hone::fail(hone::status::shape_mismatch,
                       fmt::format("{}: a is {} but b is {} ({}): K differs ({} vs {})", fn,
                                   va.dims().to_string(), vb.dims().to_string(),
                                   kn ? "[K, N]" : "[N, K]", k, bk));
        if (vc.dims()[0] != m || vc.dims()[1] != n)
            hone::fail(hone::status::shape_mismatch, fmt::format("{}: c is {}; expected [{}, {}]",
                                                                 fn, vc.dims().to_string(), m, n));
        const float* bias_data = nullptr;
        if (bias) {
            const auto s = span_of<float>(bias, fn, "bias");
            if (std::int64_t(s.size()) != n)
                hone::fail(
                    hone::status::shape_mismatch,
                    fmt::format("{}: bias has {} elements; expected N = {}", fn, s.size(), n));
            bias_data = s.data();
        }
        named(fn, [&] {
            auto* f = t == HONE_GEMM_F32 ? &hone::kernels::matmul_f32 : &hone::kernels::matmul_bf16;
            f(static_cast<const float*>(va.data()), static_cast<const float*>(vb.data()),
              static_cast<float*>(vc.data()), m, k, n, layout, bias_data);
        });
    });
}

HONE_API hone_status hone_hessian_accumulate(const hone_tensor* x, hone_tensor* h) {
    return guarded([&] {
        constexpr const char* fn = "hone_hessian_accumulate";
        const auto vx = view_of(x, fn, "x");
        const auto vh = view_of(h, fn, "h");
        named(fn, [&] { hone::kernels::hessian_accumulate(vx, vh); });
    });
}

HONE_API hone_status hone_onednn_info(const char** isa, const char** version, int* int8_saturates) {
    return guarded([&] {
        static const std::string isa_name = hone::kernels::onednn_isa();
        static const std::string version_name = hone::kernels::onednn_version();
        if (isa) *isa = isa_name.c_str();
        if (version) *version = version_name.c_str();
        if (int8_saturates) *int8_saturates = hone::kernels::int8_pairs_saturate() ? 1 : 0;
    });
}

HONE_API hone_status hone_linear_params_init(hone_linear_params* params) {
    return guarded([&] {
        hone_linear_params p{};
        p.struct_size = sizeof(hone_linear_params);
        p.type = HONE_GEMM_F32;
        p.layout = HONE_WEIGHTS_N_BY_K;
        p.activations = HONE_ACT_DYNAMIC_PER_TENSOR;
        p.act_scale = 1.0f;
        p.exact = 1;
        *require(params, "hone_linear_params_init", "params") = p;
    });
}

HONE_API hone_status hone_linear_create(const hone_linear_params* params,
                                        const hone_tensor* weights,
                                        const hone_tensor* weight_scales, const hone_tensor* bias,
                                        hone_linear** out) {
    return guarded([&] {
        constexpr const char* fn = "hone_linear_create";
        require(out, fn, "out");
        const auto p = linear_params_of(params, fn);
        named(fn, [&] {
            auto layer = make_layer<hone::kernels::linear>(p, weights, weight_scales, bias, fn);
            *out = new hone_linear{std::move(layer)};
        });
    });
}

HONE_API hone_status hone_linear_run(const hone_linear* layer, const hone_tensor* src,
                                     hone_tensor* dst) {
    return guarded([&] {
        constexpr const char* fn = "hone_linear_run";
        require(layer, fn, "layer");
        const auto s = view_of(src, fn, "src");
        const auto d = view_of(dst, fn, "dst");
        named(fn, [&] { layer->layer.run(s, d); });
    });
}

HONE_API void hone_linear_destroy(hone_linear* layer) { delete layer; }

HONE_API hone_status hone_conv2d_params_init(hone_conv2d_params* params) {
    return guarded([&] {
        hone_conv2d_params p{};
        p.struct_size = sizeof(hone_conv2d_params);
        p.type = HONE_GEMM_F32;
        p.kernel_h = p.kernel_w = 1;
        p.stride_h = p.stride_w = 1;
        p.dilation_h = p.dilation_w = 1;
        p.groups = 1;
        p.act_scale = 1.0f;
        *require(params, "hone_conv2d_params_init", "params") = p;
    });
}

HONE_API hone_status hone_conv2d_create(const hone_conv2d_params* params,
                                        const hone_tensor* weights,
                                        const hone_tensor* weight_scales, const hone_tensor* bias,
                                        hone_conv2d** out) {
    return guarded([&] {
        constexpr const char* fn = "hone_conv2d_create";
        require(out, fn, "out");
        const auto p = conv_params_of(params, fn);
        named(fn, [&] {
            auto conv = make_layer<hone::kernels::conv2d>(p, weights, weight_scales, bias, fn);
            *out = new hone_conv2d{std::move(conv)};
        });
    });
}

HONE_API hone_status hone_conv2d_run(const hone_conv2d* conv, const hone_tensor* src,
                                     hone_tensor* dst) {
    return guarded([&] {
        constexpr const char* fn = "hone_conv2d_run";
        require(conv, fn, "conv");
        const auto s = view_of(src, fn, "src");
        const auto d = view_of(dst, fn, "dst");
        named(fn, [&] { conv->conv.run(s, d); });
    });
}

HONE_API hone_status hone_conv2d_output_shape(const hone_conv2d* conv, const int64_t* src_dims,
                                              int64_t* dims) {
    return guarded([&] {
        constexpr const char* fn = "hone_conv2d_output_shape";
        require(conv, fn, "conv");
        require(src_dims, fn, "src_dims");
        require(dims, fn, "dims");
        hone::shape out;
        named(fn, [&] {
            out = conv->conv.output_shape(hone::shape(std::span<const std::int64_t>(src_dims, 4)));
        });
        for (std::size_t i = 0; i < 4; ++i)
            dims[i] = out[i];
    });
}

HONE_API void hone_conv2d_destroy(hone_conv2d* conv) { delete conv; }

} // extern "C"
