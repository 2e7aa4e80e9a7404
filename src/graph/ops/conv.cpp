// Conv (oneDNN through hone::kernels::conv2d for 1-D/2-D, a direct loop for 3-D or when the
// kernel cannot run a configuration) and ConvTranspose (direct loop, gather form).
#include "common.hpp"
#include "ops.hpp"

#include "hone/kernels/conv.hpp"

#include <fmt/ranges.h>
#include <map>
#include <mutex>

namespace hone::ops {

namespace {

struct conv_setup {
    std::int64_t c = 0, m = 0, group = 1;
    std::vector<std::int64_t> kernel;
};

conv_setup check_conv_weights(const_tensor_view w, optional_view bias, const conv_params& p,
                              const char* op) {
    detail::require_f32(w, op, "W");
    if (w.rank() < 3 || w.rank() > 5)
        fail(status::shape_mismatch, fmt::format("{}: W has shape {}, expected [M, C/group, K...] "
                                                 "with 1 to 3 spatial dims",
                                                 op, w.dims().to_string()));
    conv_setup s;
    s.group = p.group;
    if (s.group < 1)
        fail(status::invalid_argument, fmt::format("{}: group {} must be ≥ 1", op, p.group));
    s.m = w.dims()[0];
    s.c = w.dims()[1] * s.group;
    if (s.m % s.group != 0)
        fail(status::shape_mismatch, fmt::format("{}: W {} has {} output channels, not divisible "
                                                 "by group {}",
                                                 op, w.dims().to_string(), s.m, s.group));
    s.kernel.assign(w.dims().dims().begin() + 2, w.dims().dims().end());
    if (!p.spatial.kernel_shape.empty() && p.spatial.kernel_shape != s.kernel)
        fail(status::shape_mismatch,
             fmt::format("{}: kernel_shape [{}] disagrees with W {}", op,
                         fmt::join(p.spatial.kernel_shape, ","), w.dims().to_string()));
    if (bias) {
        detail::require_f32(*bias, op, "B");
        if (bias->rank() != 1 || bias->dims()[0] != s.m)
            fail(status::shape_mismatch, fmt::format("{}: B has shape {}, expected [{}]", op,
                                                     bias->dims().to_string(), s.m));
    }
    return s;
}

// Direct convolution, any k ≤ 3: y[n, oc, o] = b[oc] + Σ w[oc, ci, kk] · x[n, g·cg + ci, o·s −
// pb + kk·d]. Parallel over (n, oc) planes.
void direct_conv(const float* x, const float* w, const float* bias, float* y, std::int64_t n,
                 const conv_setup& s, const detail::resolved_spatial& r) {
    const std::int64_t cg = s.c / s.group, mg = s.m / s.group;
    const auto& in = r.in;
    const auto& out = r.out;
    const std::int64_t in_plane = in[0] * in[1] * in[2];
    const std::int64_t out_plane = out[0] * out[1] * out[2];
    const std::int64_t kvol = r.kernel[0] * r.kernel[1] * r.kernel[2];
    const std::int64_t planes = n * s.m;
    const int threads = detail::threads_for(planes * out_plane * cg * kvol);
#pragma omp parallel for schedule(static) num_threads(threads) if (threads > 1)
    for (std::int64_t plane = 0; plane < planes; ++plane) {
        const std::int64_t b = plane / s.m, oc = plane % s.m, g = oc / mg;
        float* dst = y + plane * out_plane;
        const float* wk = w + oc * cg * kvol;
        for (std::int64_t o0 = 0; o0 < out[0]; ++o0)
            for (std::int64_t o1 = 0; o1 < out[1]; ++o1)
                for (std::int64_t o2 = 0; o2 < out[2]; ++o2) {
                    double acc = bias ? bias[oc] : 0.0f;
                    for (std::int64_t ci = 0; ci < cg; ++ci) {
                        const float* src = x + (b * s.c + g * cg + ci) * in_plane;
                        const float* wc = wk + ci * kvol;
                        for (std::int64_t k0 = 0; k0 < r.kernel[0]; ++k0) {
                            const std::int64_t i0 =
                                o0 * r.stride[0] - r.pad_begin[0] + k0 * r.dilation[0];
                            if (i0 < 0 || i0 >= in[0]) continue;
                            for (std::int64_t k1 = 0; k1 < r.kernel[1]; ++k1) {
                                const std::int64_t i1 =
                                    o1 * r.stride[1] - r.pad_begin[1] + k1 * r.dilation[1];
                                if (i1 < 0 || i1 >= in[1]) continue;
                                for (std::int64_t k2 = 0; k2 < r.kernel[2]; ++k2) {
                                    const std::int64_t i2 =
                                        o2 * r.stride[2] - r.pad_begin[2] + k2 * r.dilation[2];
                                    if (i2 < 0 || i2 >= in[2]) continue;
                                    acc += static_cast<double>(
                                               wc[(k0 * r.kernel[1] + k1) * r.kernel[2] + k2]) *
                                           src[(i0 * in[1] + i1) * in[2] + i2];
                                }
                            }
                        }
                    }
                    dst[(o0 * out[1] + o1) * out[2] + o2] = static_cast<float>(acc);
                }
    }
}

} // namespace

struct conv_op::impl {
    conv_params params;
    conv_setup setup;
    tensor weights;
    tensor bias;
    bool has_bias = false;
    mutable std::mutex mutex;
    mutable std::map<std::array<std::int64_t, 4>, std::shared_ptr<kernels::conv2d>> kernels;

    std::shared_ptr<kernels::conv2d> kernel_for(const detail::resolved_spatial& r) const {
        // 1-D runs as H = 1.
        const bool one_d = r.k == 1;
        kernels::conv2d_params kp;
        kp.in_channels = setup.c;
        kp.out_channels = setup.m;
        kp.groups = setup.group;
        kp.kernel_h = one_d ? 1 : r.kernel[0];
        kp.kernel_w = one_d ? r.kernel[0] : r.kernel[1];
        kp.stride_h = one_d ? 1 : r.stride[0];
        kp.stride_w = one_d ? r.stride[0] : r.stride[1];
        kp.dilation_h = one_d ? 1 : r.dilation[0];
        kp.dilation_w = one_d ? r.dilation[0] : r.dilation[1];
        kp.pad_top = one_d ? 0 : r.pad_begin[0];
        kp.pad_bottom = one_d ? 0 : r.pad_end[0];
        kp.pad_left = one_d ? r.pad_begin[0] : r.pad_begin[1];
        kp.pad_right = one_d ? r.pad_end[0] : r.pad_end[1];
        const std::array<std::int64_t, 4> key{kp.pad_top, kp.pad_left, kp.pad_bottom, kp.pad_right};
        std::lock_guard lock(mutex);
        auto it = kernels.find(key);
        if (it != kernels.end()) return it->second;
        auto k = std::make_shared<kernels::conv2d>(
            kp, weights.span<float>(), has_bias ? bias.span<float>() : std::span<const float>{});
        kernels.emplace(key, k);
        return k;
    }
};

conv_op::conv_op(const_tensor_view w, optional_view bias, const conv_params& params)
    : impl_(std::make_unique<impl>()) {
    impl_->params = params;
    impl_->setup = check_conv_weights(w, bias, params, "ops::conv");
    impl_->weights = tensor::copy_of(w);
    if (bias) {
        impl_->bias = tensor::copy_of(*bias);
        impl_->has_bias = true;
    }
}
conv_op::~conv_op() = default;
conv_op::conv_op(conv_op&&) noexcept = default;
conv_op& conv_op::operator=(conv_op&&) noexcept = default;

tensor conv_op::run(const_tensor_view x) const {
    const char* op = "ops::conv";
    const auto& s = impl_->setup;
    detail::require_f32(x, op, "X");
    if (x.rank() != s.kernel.size() + 2)
        fail(status::shape_mismatch,
             fmt::format("{}: X has shape {} but W {} has {} spatial dims", op,
                         x.dims().to_string(), impl_->weights.dims().to_string(), s.kernel.size()));
    if (x.dims()[1] != s.c)
        fail(status::shape_mismatch,
             fmt::format("{}: X {} has {} channels, W {} with group {} expects {}", op,
                         x.dims().to_string(), x.dims()[1], impl_->weights.dims().to_string(),
                         s.group, s.c));
    const auto r = detail::resolve_spatial(x.dims().dims().subspan(2), s.kernel,
                                           impl_->params.spatial, false, op);
    std::vector<std::int64_t> out_dims{x.dims()[0], s.m};
    for (std::size_t i = 0; i < r.k; ++i)
        out_dims.push_back(r.out[i]);
    tensor y(dtype::f32, shape(std::span<const std::int64_t>(out_dims)));
    if (y.numel() == 0) return y;
    tensor xcopy;
    const float* xp = static_cast<const float*>(x.data());
    if (!x.is_contiguous()) {
        xcopy = tensor::copy_of(x);
        xp = static_cast<const float*>(xcopy.data());
    }
    bool kernel_ran = false;
    if (r.k <= 2) {
        std::shared_ptr<kernels::conv2d> kernel;
        try {
            kernel = impl_->kernel_for(r);
        } catch (const hone::error& e) {
            // A configuration oneDNN cannot run here: hone's direct loop below computes it.
            if (e.code() != status::unsupported) throw;
        }
        if (kernel) {
            const std::int64_t h = r.k == 1 ? 1 : r.in[0], wdim = r.k == 1 ? r.in[0] : r.in[1];
            const std::int64_t oh = r.k == 1 ? 1 : r.out[0], ow = r.k == 1 ? r.out[0] : r.out[1];
            const const_tensor_view src(xp, dtype::f32, shape{x.dims()[0], s.c, h, wdim},
                                        shape{x.dims()[0], s.c, h, wdim}.contiguous_strides());
            const tensor_view dst(y.data(), dtype::f32, shape{x.dims()[0], s.m, oh, ow},
                                  shape{x.dims()[0], s.m, oh, ow}.contiguous_strides());
            kernel->run(src, dst);
            kernel_ran = true;
        }
    }
    if (kernel_ran) return y;
    direct_conv(xp, static_cast<const float*>(impl_->weights.data()),
                impl_->has_bias ? static_cast<const float*>(impl_->bias.data()) : nullptr,
                static_cast<float*>(y.data()), x.dims()[0], s, r);
    return y;
}

tensor conv(const_tensor_view x, const_tensor_view w, optional_view bias,
            const conv_params& params) {
    return conv_op(w, bias, params).run(x);
}

tensor conv_transpose(const_tensor_view x, const_tensor_view w, optional_view bias,
                      const conv_transpose_params& params) {
    const char* op = "ops::conv_transpose";
    detail::require_f32(x, op, "X");
    detail::require_f32(w, op, "W");
    if (w.rank() < 3 || w.rank() > 5 || x.rank() != w.rank())
        fail(status::shape_mismatch,
             fmt::format("{}: X {} and W {} must both be [.., .., 1 to 3 spatial dims]", op,
                         x.dims().to_string(), w.dims().to_string()));
    const std::int64_t group = params.group;
    if (group < 1)
        fail(status::invalid_argument, fmt::format("{}: group {} must be ≥ 1", op, group));
    const std::int64_t c = x.dims()[1];
    if (w.dims()[0] != c || c % group != 0)
        fail(status::shape_mismatch,
             fmt::format("{}: X {} has {} channels; W {} must have them as its first dim, "
                         "divisible by group {}",
                         op, x.dims().to_string(), c, w.dims().to_string(), group));
    const std::int64_t mg = w.dims()[1], m = mg * group, cg = c / group;
    const std::size_t k = x.rank() - 2;
    const auto& sp = params.spatial;
    std::vector<std::int64_t> kernel(w.dims().dims().begin() + 2, w.dims().dims().end());
    if (!sp.kernel_shape.empty() && sp.kernel_shape != kernel)
        fail(status::shape_mismatch,
             fmt::format("{}: kernel_shape [{}] disagrees with W {}", op,
                         fmt::join(sp.kernel_shape, ","), w.dims().to_string()));
    auto check_count = [&](const std::vector<std::int64_t>& v, std::size_t want, const char* name) {
        if (!v.empty() && v.size() != want)
            fail(status::invalid_argument, fmt::format("{}: {} [{}] has {} values, expected {}", op,
                                                       name, fmt::join(v, ","), v.size(), want));
    };
    check_count(sp.strides, k, "strides");
    check_count(sp.dilations, k, "dilations");
    check_count(sp.pads, 2 * k, "pads");
    check_count(params.output_padding, k, "output_padding");
    check_count(params.output_shape, k, "output_shape");
    if (bias) {
        detail::require_f32(*bias, op, "B");
        if (bias->rank() != 1 || bias->dims()[0] != m)
            fail(status::shape_mismatch,
                 fmt::format("{}: B has shape {}, expected [{}]", op, bias->dims().to_string(), m));
    }
    std::array<std::int64_t, 3> in{1, 1, 1}, ker{1, 1, 1}, st{1, 1, 1}, dil{1, 1, 1}, pb{0, 0, 0},
        out{1, 1, 1};
    for (std::size_t i = 0; i < k; ++i) {
        in[i] = x.dims()[2 + i];
        ker[i] = kernel[i];
        st[i] = sp.strides.empty() ? 1 : sp.strides[i];
        dil[i] = sp.dilations.empty() ? 1 : sp.dilations[i];
        const std::int64_t opad = params.output_padding.empty() ? 0 : params.output_padding[i];
        if (st[i] < 1 || dil[i] < 1 || opad < 0)
            fail(status::invalid_argument,
                 fmt::format("{}: strides, dilations must be ≥ 1 and output_padding ≥ 0", op));
        const std::int64_t full = st[i] * (in[i] - 1) + opad + (ker[i] - 1) * dil[i] + 1;
        std::int64_t want = -1;
        if (!params.output_shape.empty())
            want = params.output_shape[i];
        else if (sp.padding == auto_pad::same_upper || sp.padding == auto_pad::same_lower)
            want = in[i] * st[i];
        if (want >= 0) {
            const std::int64_t total = full - want;
            pb[i] = sp.padding == auto_pad::same_upper ? total / 2 : total - total / 2;
            out[i] = want;
        } else {
            const std::int64_t b =
                sp.pads.empty() || sp.padding == auto_pad::valid ? 0 : sp.pads[i];
            const std::int64_t e =
                sp.pads.empty() || sp.padding == auto_pad::valid ? 0 : sp.pads[i + k];
            if (b < 0 || e < 0)
                fail(status::invalid_argument, fmt::format("{}: pads [{}] has a negative value", op,
                                                           fmt::join(sp.pads, ",")));
            pb[i] = b;
            out[i] = full - b - e;
        }
        if (out[i] < 1 && in[i] > 0)
            fail(status::shape_mismatch,
                 fmt::format("{}: output size {} on spatial axis {} is < 1", op, out[i], i));
    }
    std::vector<std::int64_t> out_dims{x.dims()[0], m};
    for (std::size_t i = 0; i < k; ++i)
        out_dims.push_back(std::max<std::int64_t>(out[i], 0));
    tensor y(dtype::f32, shape(std::span<const std::int64_t>(out_dims)));
    if (y.numel() == 0) return y;
    const tensor xc = tensor::copy_of(x), wc = tensor::copy_of(w);
    tensor bc;
    if (bias) bc = tensor::copy_of(*bias);
    const float* px = static_cast<const float*>(xc.data());
    const float* pw = static_cast<const float*>(wc.data());
    const float* pbias = bias ? static_cast<const float*>(bc.data()) : nullptr;
    float* py = static_cast<float*>(y.data());
    const std::int64_t in_plane = in[0] * in[1] * in[2], out_plane = out[0] * out[1] * out[2];
    const std::int64_t kvol = ker[0] * ker[1] * ker[2];
    const std::int64_t n = x.dims()[0], planes = n * m;
    const int threads = detail::threads_for(planes * out_plane * cg * kvol);
    // Gather form: y[o] = Σ x[i]·w[k] over i·s − pb + k·d = o.
#pragma omp parallel for schedule(static) num_threads(threads) if (threads > 1)
    for (std::int64_t plane = 0; plane < planes; ++plane) {
        const std::int64_t b = plane / m, oc = plane % m, g = oc / mg, ocl = oc % mg;
        float* dst = py + plane * out_plane;
        for (std::int64_t o0 = 0; o0 < out[0]; ++o0)
            for (std::int64_t o1 = 0; o1 < out[1]; ++o1)
                for (std::int64_t o2 = 0; o2 < out[2]; ++o2) {
                    double acc = pbias ? pbias[oc] : 0.0;
                    for (std::int64_t k0 = 0; k0 < ker[0]; ++k0) {
                        const std::int64_t t0 = o0 + pb[0] - k0 * dil[0];
                        if (t0 < 0 || t0 % st[0] != 0 || t0 / st[0] >= in[0]) continue;
                        for (std::int64_t k1 = 0; k1 < ker[1]; ++k1) {
                            const std::int64_t t1 = o1 + pb[1] - k1 * dil[1];
                            if (t1 < 0 || t1 % st[1] != 0 || t1 / st[1] >= in[1]) continue;
                            for (std::int64_t k2 = 0; k2 < ker[2]; ++k2) {
                                const std::int64_t t2 = o2 + pb[2] - k2 * dil[2];
                                if (t2 < 0 || t2 % st[2] != 0 || t2 / st[2] >= in[2]) continue;
                                const std::int64_t ii =
                                    ((t0 / st[0]) * in[1] + t1 / st[1]) * in[2] + t2 / st[2];
                                const std::int64_t kk = (k0 * ker[1] + k1) * ker[2] + k2;
                                for (std::int64_t ci = 0; ci < cg; ++ci) {
                                    const std::int64_t ch = g * cg + ci;
                                    acc += static_cast<double>(px[(b * c + ch) * in_plane + ii]) *
                                           pw[(ch * mg + ocl) * kvol + kk];
                                }
                            }
                        }
                    }
                    dst[(o0 * out[1] + o1) * out[2] + o2] = static_cast<float>(acc);
                }
    }
    return y;
}

} // namespace hone::ops
