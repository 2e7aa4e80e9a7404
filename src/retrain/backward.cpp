// Forward and backward passes of the trainable ops (see hone/retrain/backward.hpp).
#include "hone/retrain/backward.hpp"

#include "hone/core/error.hpp"
#include "hone/kernels/gemm.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
#include <string>
#include <vector>

namespace hone::retrain {

namespace {

using kernels::matmul_f32;
using kernels::weight_layout;

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

void require_same(const shape& a, const shape& b, const char* what) {
    if (!(a == b))
        fail(status::shape_mismatch,
             std::string(what) + ": shapes " + a.to_string() + " and " + b.to_string() + " differ");
}

void require_rank(const_tensor_view v, std::size_t r, const char* what) {
    if (v.rank() != r)
        fail(status::shape_mismatch, std::string(what) + ": expected rank " + std::to_string(r) +
                                         ", got " + v.dims().to_string());
}

tensor transpose2d(const float* src, std::int64_t rows, std::int64_t cols) {
    tensor t(dtype::f32, shape{cols, rows});
    float* d = t.span<float>().data();
    for (std::int64_t r = 0; r < rows; ++r)
        for (std::int64_t c = 0; c < cols; ++c)
            d[c * rows + r] = src[r * cols + c];
    return t;
}

void scale_in_place(tensor& t, float s) {
    if (s == 1.0f) return;
    for (float& v : t.span<float>())
        v *= s;
}

template <class F> tensor unary(const_tensor_view x, const char* what, F f) {
    f32_data xd(x, what);
    tensor y(dtype::f32, x.dims());
    float* d = y.span<float>().data();
    for (std::int64_t i = 0; i < x.numel(); ++i)
        d[i] = f(xd.p[i]);
    return y;
}

template <class F>
tensor binary_grad(const_tensor_view s, const_tensor_view dy, const char* what, F f) {
    require_same(s.dims(), dy.dims(), what);
    f32_data sd(s, what), gd(dy, what);
    tensor dx(dtype::f32, s.dims());
    float* d = dx.span<float>().data();
    for (std::int64_t i = 0; i < s.numel(); ++i)
        d[i] = f(sd.p[i], gd.p[i]);
    return dx;
}

struct axis_split {
    std::int64_t outer = 1, n = 1, inner = 1;
};
axis_split split_axis(const shape& s, std::int64_t axis, const char* what) {
    const auto r = std::int64_t(s.rank());
    if (axis < 0) axis += r;
    if (axis < 0 || axis >= r)
        fail(status::invalid_argument,
             std::string(what) + ": axis out of range for " + s.to_string());
    axis_split a;
    for (std::int64_t i = 0; i < axis; ++i)
        a.outer *= s[std::size_t(i)];
    a.n = s[std::size_t(axis)];
    for (std::int64_t i = axis + 1; i < r; ++i)
        a.inner *= s[std::size_t(i)];
    return a;
}

/// Offsets of `from` (right-aligned broadcast onto `to`) for every element of `to`.
std::vector<std::int64_t> broadcast_offsets(const shape& from, const shape& to, const char* what) {
    const std::size_t r = to.rank();
    if (from.rank() > r)
        fail(status::shape_mismatch, std::string(what) + ": " + from.to_string() +
                                         " does not broadcast to " + to.to_string());
    std::vector<std::int64_t> stride(r, 0);
    const auto cs = from.contiguous_strides();
    const std::size_t lead = r - from.rank();
    for (std::size_t i = 0; i < from.rank(); ++i) {
        const auto f = from[i], t = to[lead + i];
        if (f == t)
            stride[lead + i] = cs[i];
        else if (f == 1)
            stride[lead + i] = 0;
        else
            fail(status::shape_mismatch, std::string(what) + ": " + from.to_string() +
                                             " does not broadcast to " + to.to_string());
    }
    std::vector<std::int64_t> off(std::size_t(to.numel()));
    std::vector<std::int64_t> idx(r, 0);
    std::int64_t cur = 0;
    for (std::int64_t e = 0; e < to.numel(); ++e) {
        off[std::size_t(e)] = cur;
        for (std::size_t ax = r; ax-- > 0;) {
            ++idx[ax];
            cur += stride[ax];
            if (idx[ax] < to[ax]) break;
            cur -= stride[ax] * idx[ax];
            idx[ax] = 0;
        }
    }
    return off;
}

shape broadcast_dims(const shape& a, const shape& b, const char* what) {
    const std::size_t r = std::max(a.rank(), b.rank());
    std::vector<std::int64_t> d(r);
    for (std::size_t i = 0; i < r; ++i) {
        const std::int64_t x = i + a.rank() >= r ? a[i + a.rank() - r] : 1;
        const std::int64_t y = i + b.rank() >= r ? b[i + b.rank() - r] : 1;
        if (x != y && x != 1 && y != 1)
            fail(status::shape_mismatch, std::string(what) + ": " + a.to_string() + " and " +
                                             b.to_string() + " do not broadcast");
        d[i] = x == 1 ? y : x;
    }
    return shape(std::span<const std::int64_t>(d.data(), d.size()));
}

} // namespace

// ---- Gemm / MatMul ----------------------------------------------------------------------------

tensor gemm_forward(const_tensor_view a, const_tensor_view b, const_tensor_view c,
                    const gemm_attrs& attrs) {
    require_rank(a, 2, "gemm A");
    require_rank(b, 2, "gemm B");
    const std::int64_t m = attrs.trans_a ? a.dims()[1] : a.dims()[0];
    const std::int64_t k = attrs.trans_a ? a.dims()[0] : a.dims()[1];
    const std::int64_t kb = attrs.trans_b ? b.dims()[1] : b.dims()[0];
    const std::int64_t n = attrs.trans_b ? b.dims()[0] : b.dims()[1];
    if (k != kb)
        fail(status::shape_mismatch, "gemm: A " + a.dims().to_string() + " and B " +
                                         b.dims().to_string() + " do not agree on K");
    f32_data ad(a, "gemm A"), bd(b, "gemm B");
    tensor at;
    const float* ap = ad.p;
    if (attrs.trans_a) {
        at = transpose2d(ad.p, k, m);
        ap = at.span<float>().data();
    }
    tensor y(dtype::f32, shape{m, n});
    matmul_f32(ap, bd.p, y.span<float>().data(), m, k, n,
               attrs.trans_b ? weight_layout::n_by_k : weight_layout::k_by_n, nullptr);
    scale_in_place(y, attrs.alpha);
    if (c.data() != nullptr) {
        f32_data cd(c, "gemm C");
        const auto off = broadcast_offsets(c.dims(), y.dims(), "gemm C");
        float* yp = y.span<float>().data();
        for (std::int64_t i = 0; i < m * n; ++i)
            yp[i] += attrs.beta * cd.p[off[std::size_t(i)]];
    }
    return y;
}

gemm_grads gemm_backward(const_tensor_view a, const_tensor_view b, const_tensor_view dy,
                         const gemm_attrs& attrs, bool has_c, const shape& c_dims) {
    require_rank(a, 2, "gemm A");
    require_rank(b, 2, "gemm B");
    require_rank(dy, 2, "gemm dY");
    const std::int64_t m = attrs.trans_a ? a.dims()[1] : a.dims()[0];
    const std::int64_t k = attrs.trans_a ? a.dims()[0] : a.dims()[1];
    const std::int64_t n = attrs.trans_b ? b.dims()[0] : b.dims()[1];
    if ((attrs.trans_b ? b.dims()[1] : b.dims()[0]) != k)
        fail(status::shape_mismatch, "gemm backward: A " + a.dims().to_string() + " and B " +
                                         b.dims().to_string() + " do not agree on K");
    require_same(dy.dims(), shape{m, n}, "gemm backward dY");
    f32_data ad(a, "gemm A"), bd(b, "gemm B"), gd(dy, "gemm dY");
    gemm_grads g;
    // dA' [M, K] = dY · B'ᵀ
    tensor dap(dtype::f32, shape{m, k});
    matmul_f32(gd.p, bd.p, dap.span<float>().data(), m, n, k,
               attrs.trans_b ? weight_layout::k_by_n : weight_layout::n_by_k, nullptr);
    scale_in_place(dap, attrs.alpha);
    g.da = attrs.trans_a ? transpose2d(dap.span<float>().data(), m, k) : std::move(dap);
    // dB' [K, N] = A'ᵀ · dY
    tensor apt;
    const float* aptp = ad.p; // A'ᵀ = A when trans_a
    if (!attrs.trans_a) {
        apt = transpose2d(ad.p, m, k);
        aptp = apt.span<float>().data();
    }
    tensor dbp(dtype::f32, shape{k, n});
    matmul_f32(aptp, gd.p, dbp.span<float>().data(), k, m, n, weight_layout::k_by_n, nullptr);
    scale_in_place(dbp, attrs.alpha);
    g.db = attrs.trans_b ? transpose2d(dbp.span<float>().data(), k, n) : std::move(dbp);
    if (has_c) {
        g.dc = reduce_to_shape(dy, c_dims);
        scale_in_place(g.dc, attrs.beta);
    }
    return g;
}

gemm_grads matmul_backward(const_tensor_view a, const_tensor_view b, const_tensor_view dy) {
    return gemm_backward(a, b, dy, gemm_attrs{}, false, {});
}

// ---- Conv 2-D -----------------------------------------------------------------------------

std::int64_t conv_out_size(std::int64_t in, std::int64_t kernel, std::int64_t stride,
                           std::int64_t pad_begin, std::int64_t pad_end, std::int64_t dilation,
                           const char* what) {
    if (stride < 1 || dilation < 1 || pad_begin < 0 || pad_end < 0 || kernel < 1)
        fail(status::invalid_argument,
             std::string(what) + ": strides, dilations and kernel must be ≥ 1, pads ≥ 0");
    const std::int64_t o = (in + pad_begin + pad_end - dilation * (kernel - 1) - 1) / stride + 1;
    if (o < 1 || in + pad_begin + pad_end - dilation * (kernel - 1) - 1 < 0)
        fail(status::shape_mismatch, std::string(what) + ": output size < 1 (input " +
                                         std::to_string(in) + ", kernel " + std::to_string(kernel) +
                                         ")");
    return o;
}

namespace {

struct conv_geom {
    std::int64_t n, c, h, w, m, cg, mg, kh, kw, oh, ow, group;
    conv2d_attrs a;
};

conv_geom conv_geometry(const_tensor_view x, const_tensor_view w, const conv2d_attrs& a) {
    require_rank(x, 4, "conv X");
    require_rank(w, 4, "conv W");
    conv_geom g{};
    g.a = a;
    g.group = a.group;
    g.n = x.dims()[0];
    g.c = x.dims()[1];
    g.h = x.dims()[2];
    g.w = x.dims()[3];
    g.m = w.dims()[0];
    g.cg = w.dims()[1];
    g.kh = w.dims()[2];
    g.kw = w.dims()[3];
    if (a.group < 1 || g.c != g.cg * a.group || g.m % a.group != 0)
        fail(status::shape_mismatch, "conv: X " + x.dims().to_string() + ", W " +
                                         w.dims().to_string() + " and group " +
                                         std::to_string(a.group) + " do not agree");
    g.mg = g.m / a.group;
    g.oh = conv_out_size(g.h, g.kh, a.strides[0], a.pads[0], a.pads[2], a.dilations[0], "conv H");
    g.ow = conv_out_size(g.w, g.kw, a.strides[1], a.pads[1], a.pads[3], a.dilations[1], "conv W");
    return g;
}

/// cols [N·OH·OW, Cg·kh·kw] of group gi.
void im2col(const conv_geom& g, const float* x, std::int64_t gi, float* cols) {
    const std::int64_t ck = g.cg * g.kh * g.kw;
    for (std::int64_t n = 0; n < g.n; ++n)
        for (std::int64_t oy = 0; oy < g.oh; ++oy)
            for (std::int64_t ox = 0; ox < g.ow; ++ox) {
                float* row = cols + ((n * g.oh + oy) * g.ow + ox) * ck;
                for (std::int64_t c = 0; c < g.cg; ++c) {
                    const float* plane = x + (n * g.c + gi * g.cg + c) * g.h * g.w;
                    for (std::int64_t ky = 0; ky < g.kh; ++ky) {
                        const std::int64_t iy =
                            oy * g.a.strides[0] - g.a.pads[0] + ky * g.a.dilations[0];
                        for (std::int64_t kx = 0; kx < g.kw; ++kx) {
                            const std::int64_t ix =
                                ox * g.a.strides[1] - g.a.pads[1] + kx * g.a.dilations[1];
                            *row++ = (iy >= 0 && iy < g.h && ix >= 0 && ix < g.w)
                                         ? plane[iy * g.w + ix]
                                         : 0.0f;
                        }
                    }
                }
            }
}

void col2im(const conv_geom& g, const float* cols, std::int64_t gi, float* dx) {
    const std::int64_t ck = g.cg * g.kh * g.kw;
    for (std::int64_t n = 0; n < g.n; ++n)
        for (std::int64_t oy = 0; oy < g.oh; ++oy)
            for (std::int64_t ox = 0; ox < g.ow; ++ox) {
                const float* row = cols + ((n * g.oh + oy) * g.ow + ox) * ck;
                for (std::int64_t c = 0; c < g.cg; ++c) {
                    float* plane = dx + (n * g.c + gi * g.cg + c) * g.h * g.w;
                    for (std::int64_t ky = 0; ky < g.kh; ++ky) {
                        const std::int64_t iy =
                            oy * g.a.strides[0] - g.a.pads[0] + ky * g.a.dilations[0];
                        for (std::int64_t kx = 0; kx < g.kw; ++kx, ++row) {
                            const std::int64_t ix =
                                ox * g.a.strides[1] - g.a.pads[1] + kx * g.a.dilations[1];
                            if (iy >= 0 && iy < g.h && ix >= 0 && ix < g.w)
                                plane[iy * g.w + ix] += *row;
                        }
                    }
                }
            }
}

} // namespace

tensor conv2d_forward(const_tensor_view x, const_tensor_view w, const_tensor_view bias,
                      const conv2d_attrs& attrs) {
    const conv_geom g = conv_geometry(x, w, attrs);
    f32_data xd(x, "conv X"), wd(w, "conv W");
    const float* bp = nullptr;
    std::optional<f32_data> bd;
    if (bias.data() != nullptr) {
        if (!(bias.dims() == shape{g.m}))
            fail(status::shape_mismatch, "conv bias: expected [" + std::to_string(g.m) + "], got " +
                                             bias.dims().to_string());
        bd.emplace(bias, "conv bias");
        bp = bd->p;
    }
    const std::int64_t rows = g.n * g.oh * g.ow, ck = g.cg * g.kh * g.kw, ohw = g.oh * g.ow;
    std::vector<float> cols(std::size_t(rows * ck)), out(std::size_t(rows * g.mg));
    tensor y(dtype::f32, shape{g.n, g.m, g.oh, g.ow});
    float* yp = y.span<float>().data();
    for (std::int64_t gi = 0; gi < g.group; ++gi) {
        im2col(g, xd.p, gi, cols.data());
        matmul_f32(cols.data(), wd.p + gi * g.mg * ck, out.data(), rows, ck, g.mg,
                   weight_layout::n_by_k, bp ? bp + gi * g.mg : nullptr);
        for (std::int64_t n = 0; n < g.n; ++n)
            for (std::int64_t p = 0; p < ohw; ++p)
                for (std::int64_t o = 0; o < g.mg; ++o)
                    yp[(n * g.m + gi * g.mg + o) * ohw + p] =
                        out[std::size_t((n * ohw + p) * g.mg + o)];
    }
    return y;
}

conv2d_grads conv2d_backward(const_tensor_view x, const_tensor_view w, const_tensor_view dy,
                             const conv2d_attrs& attrs, bool has_bias) {
    const conv_geom g = conv_geometry(x, w, attrs);
    require_same(dy.dims(), shape{g.n, g.m, g.oh, g.ow}, "conv backward dY");
    f32_data xd(x, "conv X"), wd(w, "conv W"), gd(dy, "conv dY");
    const std::int64_t rows = g.n * g.oh * g.ow, ck = g.cg * g.kh * g.kw, ohw = g.oh * g.ow;
    conv2d_grads r;
    r.dx = tensor(dtype::f32, x.dims());
    r.dw = tensor(dtype::f32, w.dims());
    std::fill(r.dx.span<float>().begin(), r.dx.span<float>().end(), 0.0f);
    std::vector<float> cols(std::size_t(rows * ck)), dcols(std::size_t(rows * ck));
    std::vector<float> dyg(std::size_t(rows * g.mg));  // [rows, Mg]
    std::vector<float> dygt(std::size_t(rows * g.mg)); // [Mg, rows]
    float* dwp = r.dw.span<float>().data();
    for (std::int64_t gi = 0; gi < g.group; ++gi) {
        for (std::int64_t n = 0; n < g.n; ++n)
            for (std::int64_t o = 0; o < g.mg; ++o)
                for (std::int64_t p = 0; p < ohw; ++p) {
                    const float v = gd.p[(n * g.m + gi * g.mg + o) * ohw + p];
                    dyg[std::size_t((n * ohw + p) * g.mg + o)] = v;
                    dygt[std::size_t(o * rows + n * ohw + p)] = v;
                }
        im2col(g, xd.p, gi, cols.data());
        // dW_g [Mg, CK] = dYgᵀ [Mg, rows] · cols [rows, CK]
        matmul_f32(dygt.data(), cols.data(), dwp + gi * g.mg * ck, g.mg, rows, ck,
                   weight_layout::k_by_n, nullptr);
        // dcols [rows, CK] = dYg [rows, Mg] · W_g [Mg, CK]
        matmul_f32(dyg.data(), wd.p + gi * g.mg * ck, dcols.data(), rows, g.mg, ck,
                   weight_layout::k_by_n, nullptr);
        col2im(g, dcols.data(), gi, r.dx.span<float>().data());
    }
    if (has_bias) {
        r.dbias = tensor(dtype::f32, shape{g.m});
        float* db = r.dbias.span<float>().data();
        for (std::int64_t o = 0; o < g.m; ++o) {
            double s = 0;
            for (std::int64_t n = 0; n < g.n; ++n)
                for (std::int64_t p = 0; p < ohw; ++p)
                    s += gd.p[(n * g.m + o) * ohw + p];
            db[o] = float(s);
        }
    }
    return r;
}

// ---- Add ------------------------------------------------------------------------------------

tensor add_forward(const_tensor_view a, const_tensor_view b) {
    const shape out = broadcast_dims(a.dims(), b.dims(), "add");
    f32_data ad(a, "add A"), bd(b, "add B");
    const auto oa = broadcast_offsets(a.dims(), out, "add A");
    const auto ob = broadcast_offsets(b.dims(), out, "add B");
    tensor y(dtype::f32, out);
    float* yp = y.span<float>().data();
    for (std::int64_t i = 0; i < out.numel(); ++i)
        yp[i] = ad.p[oa[std::size_t(i)]] + bd.p[ob[std::size_t(i)]];
    return y;
}

tensor reduce_to_shape(const_tensor_view dy, const shape& to) {
    f32_data gd(dy, "reduce dY");
    const auto off = broadcast_offsets(to, dy.dims(), "reduce_to_shape");
    std::vector<double> acc(std::size_t(to.numel()), 0.0);
    for (std::int64_t i = 0; i < dy.numel(); ++i)
        acc[std::size_t(off[std::size_t(i)])] += gd.p[i];
    tensor r(dtype::f32, to);
    float* rp = r.span<float>().data();
    for (std::int64_t i = 0; i < to.numel(); ++i)
        rp[i] = float(acc[std::size_t(i)]);
    return r;
}

// ---- activations ------------------------------------------------------------------------------

tensor relu_forward(const_tensor_view x) {
    return unary(x, "relu", [](float v) { return v > 0.0f ? v : 0.0f; });
}
tensor relu_backward(const_tensor_view x, const_tensor_view dy) {
    return binary_grad(x, dy, "relu backward",
                       [](float v, float g) { return v > 0.0f ? g : 0.0f; });
}
tensor leaky_relu_forward(const_tensor_view x, float alpha) {
    return unary(x, "leaky_relu", [alpha](float v) { return v >= 0.0f ? v : alpha * v; });
}
tensor leaky_relu_backward(const_tensor_view x, const_tensor_view dy, float alpha) {
    return binary_grad(x, dy, "leaky_relu backward",
                       [alpha](float v, float g) { return v >= 0.0f ? g : alpha * g; });
}
tensor sigmoid_forward(const_tensor_view x) {
    return unary(x, "sigmoid", [](float v) {
        if (v >= 0.0f) return 1.0f / (1.0f + std::exp(-v));
        const float e = std::exp(v);
        return e / (1.0f + e);
    });
}
tensor sigmoid_backward(const_tensor_view y, const_tensor_view dy) {
    return binary_grad(y, dy, "sigmoid backward",
                       [](float s, float g) { return g * s * (1.0f - s); });
}
tensor tanh_forward(const_tensor_view x) {
    return unary(x, "tanh", [](float v) { return std::tanh(v); });
}
tensor tanh_backward(const_tensor_view y, const_tensor_view dy) {
    return binary_grad(y, dy, "tanh backward", [](float t, float g) { return g * (1.0f - t * t); });
}

namespace {
constexpr double k_sqrt_2_over_pi = 0.7978845608028654;
constexpr double k_inv_sqrt_2 = 0.7071067811865476;
constexpr double k_inv_sqrt_2pi = 0.3989422804014327;
} // namespace

tensor gelu_forward(const_tensor_view x, bool tanh_approximation) {
    if (tanh_approximation)
        return unary(x, "gelu", [](float v) {
            const double u = k_sqrt_2_over_pi * (v + 0.044715 * double(v) * v * v);
            return float(0.5 * v * (1.0 + std::tanh(u)));
        });
    return unary(x, "gelu",
                 [](float v) { return float(0.5 * v * (1.0 + std::erf(v * k_inv_sqrt_2))); });
}
tensor gelu_backward(const_tensor_view x, const_tensor_view dy, bool tanh_approximation) {
    if (tanh_approximation)
        return binary_grad(x, dy, "gelu backward", [](float v, float g) {
            const double xv = v;
            const double u = k_sqrt_2_over_pi * (xv + 0.044715 * xv * xv * xv);
            const double t = std::tanh(u);
            const double d = 0.5 * (1.0 + t) + 0.5 * xv * (1.0 - t * t) * k_sqrt_2_over_pi *
                                                   (1.0 + 3.0 * 0.044715 * xv * xv);
            return float(g * d);
        });
    return binary_grad(x, dy, "gelu backward", [](float v, float g) {
        const double xv = v;
        const double cdf = 0.5 * (1.0 + std::erf(xv * k_inv_sqrt_2));
        const double pdf = k_inv_sqrt_2pi * std::exp(-0.5 * xv * xv);
        return float(g * (cdf + xv * pdf));
    });
}

tensor softmax_forward(const_tensor_view x, std::int64_t axis) {
    const axis_split s = split_axis(x.dims(), axis, "softmax");
    f32_data xd(x, "softmax");
    tensor y(dtype::f32, x.dims());
    float* yp = y.span<float>().data();
    for (std::int64_t o = 0; o < s.outer; ++o)
        for (std::int64_t i = 0; i < s.inner; ++i) {
            const std::int64_t base = o * s.n * s.inner + i;
            float mx = -std::numeric_limits<float>::infinity();
            for (std::int64_t j = 0; j < s.n; ++j)
                mx = std::max(mx, xd.p[base + j * s.inner]);
            double sum = 0;
            for (std::int64_t j = 0; j < s.n; ++j)
                sum += std::exp(double(xd.p[base + j * s.inner]) - mx);
            for (std::int64_t j = 0; j < s.n; ++j)
                yp[base + j * s.inner] =
                    float(std::exp(double(xd.p[base + j * s.inner]) - mx) / sum);
        }
    return y;
}

tensor softmax_backward(const_tensor_view y, const_tensor_view dy, std::int64_t axis) {
    require_same(y.dims(), dy.dims(), "softmax backward");
    const axis_split s = split_axis(y.dims(), axis, "softmax backward");
    f32_data yd(y, "softmax Y"), gd(dy, "softmax dY");
    tensor dx(dtype::f32, y.dims());
    float* d = dx.span<float>().data();
    for (std::int64_t o = 0; o < s.outer; ++o)
        for (std::int64_t i = 0; i < s.inner; ++i) {
            const std::int64_t base = o * s.n * s.inner + i;
            double dot = 0;
            for (std::int64_t j = 0; j < s.n; ++j)
                dot += double(yd.p[base + j * s.inner]) * gd.p[base + j * s.inner];
            for (std::int64_t j = 0; j < s.n; ++j) {
                const std::int64_t e = base + j * s.inner;
                d[e] = float(yd.p[e] * (gd.p[e] - dot));
            }
        }
    return dx;
}

tensor log_softmax_forward(const_tensor_view x, std::int64_t axis) {
    const axis_split s = split_axis(x.dims(), axis, "log_softmax");
    f32_data xd(x, "log_softmax");
    tensor y(dtype::f32, x.dims());
    float* yp = y.span<float>().data();
    for (std::int64_t o = 0; o < s.outer; ++o)
        for (std::int64_t i = 0; i < s.inner; ++i) {
            const std::int64_t base = o * s.n * s.inner + i;
            float mx = -std::numeric_limits<float>::infinity();
            for (std::int64_t j = 0; j < s.n; ++j)
                mx = std::max(mx, xd.p[base + j * s.inner]);
            double sum = 0;
            for (std::int64_t j = 0; j < s.n; ++j)
                sum += std::exp(double(xd.p[base + j * s.inner]) - mx);
            const double lse = mx + std::log(sum);
            for (std::int64_t j = 0; j < s.n; ++j)
                yp[base + j * s.inner] = float(double(xd.p[base + j * s.inner]) - lse);
        }
    return y;
}

tensor log_softmax_backward(const_tensor_view y, const_tensor_view dy, std::int64_t axis) {
    require_same(y.dims(), dy.dims(), "log_softmax backward");
    const axis_split s = split_axis(y.dims(), axis, "log_softmax backward");
    f32_data yd(y, "log_softmax Y"), gd(dy, "log_softmax dY");
    tensor dx(dtype::f32, y.dims());
    float* d = dx.span<float>().data();
    for (std::int64_t o = 0; o < s.outer; ++o)
        for (std::int64_t i = 0; i < s.inner; ++i) {
            const std::int64_t base = o * s.n * s.inner + i;
            double sum = 0;
            for (std::int64_t j = 0; j < s.n; ++j)
                sum += gd.p[base + j * s.inner];
            for (std::int64_t j = 0; j < s.n; ++j) {
                const std::int64_t e = base + j * s.inner;
                d[e] = float(gd.p[e] - std::exp(double(yd.p[e])) * sum);
            }
        }
    return dx;
}

// ---- pooling --------------------------------------------------------------------------------

namespace {
struct pool_geom {
    std::int64_t n, c, h, w, oh, ow;
};
pool_geom pool_geometry(const shape& x, const pool2d_attrs& a, const char* what) {
    if (x.rank() != 4)
        fail(status::shape_mismatch,
             std::string(what) + ": expected [N, C, H, W], got " + x.to_string());
    pool_geom g{x[0], x[1], x[2], x[3], 0, 0};
    g.oh = conv_out_size(g.h, a.kernel[0], a.strides[0], a.pads[0], a.pads[2], 1, what);
    g.ow = conv_out_size(g.w, a.kernel[1], a.strides[1], a.pads[1], a.pads[3], 1, what);
    return g;
}
} // namespace

tensor max_pool2d_forward(const_tensor_view x, const pool2d_attrs& a) {
    const pool_geom g = pool_geometry(x.dims(), a, "max_pool");
    f32_data xd(x, "max_pool X");
    tensor y(dtype::f32, shape{g.n, g.c, g.oh, g.ow});
    float* yp = y.span<float>().data();
    for (std::int64_t nc = 0; nc < g.n * g.c; ++nc) {
        const float* plane = xd.p + nc * g.h * g.w;
        for (std::int64_t oy = 0; oy < g.oh; ++oy)
            for (std::int64_t ox = 0; ox < g.ow; ++ox) {
                float best = -std::numeric_limits<float>::infinity();
                for (std::int64_t ky = 0; ky < a.kernel[0]; ++ky) {
                    const std::int64_t iy = oy * a.strides[0] - a.pads[0] + ky;
                    if (iy < 0 || iy >= g.h) continue;
                    for (std::int64_t kx = 0; kx < a.kernel[1]; ++kx) {
                        const std::int64_t ix = ox * a.strides[1] - a.pads[1] + kx;
                        if (ix >= 0 && ix < g.w) best = std::max(best, plane[iy * g.w + ix]);
                    }
                }
                yp[(nc * g.oh + oy) * g.ow + ox] = best;
            }
    }
    return y;
}

tensor max_pool2d_backward(const_tensor_view x, const_tensor_view dy, const pool2d_attrs& a) {
    const pool_geom g = pool_geometry(x.dims(), a, "max_pool backward");
    require_same(dy.dims(), shape{g.n, g.c, g.oh, g.ow}, "max_pool backward dY");
    f32_data xd(x, "max_pool X"), gd(dy, "max_pool dY");
    tensor dx(dtype::f32, x.dims());
    float* d = dx.span<float>().data();
    std::fill(d, d + x.numel(), 0.0f);
    for (std::int64_t nc = 0; nc < g.n * g.c; ++nc) {
        const float* plane = xd.p + nc * g.h * g.w;
        for (std::int64_t oy = 0; oy < g.oh; ++oy)
            for (std::int64_t ox = 0; ox < g.ow; ++ox) {
                float best = -std::numeric_limits<float>::infinity();
                std::int64_t at = -1;
                for (std::int64_t ky = 0; ky < a.kernel[0]; ++ky) {
                    const std::int64_t iy = oy * a.strides[0] - a.pads[0] + ky;
                    if (iy < 0 || iy >= g.h) continue;
                    for (std::int64_t kx = 0; kx < a.kernel[1]; ++kx) {
                        const std::int64_t ix = ox * a.strides[1] - a.pads[1] + kx;
                        if (ix >= 0 && ix < g.w && (at < 0 || plane[iy * g.w + ix] > best)) {
                            best = plane[iy * g.w + ix];
                            at = iy * g.w + ix;
                        }
                    }
                }
                if (at >= 0) d[nc * g.h * g.w + at] += gd.p[(nc * g.oh + oy) * g.ow + ox];
            }
    }
    return dx;
}

namespace {
template <class F> void for_avg_windows(const pool_geom& g, const pool2d_attrs& a, F f) {
    for (std::int64_t nc = 0; nc < g.n * g.c; ++nc)
        for (std::int64_t oy = 0; oy < g.oh; ++oy)
            for (std::int64_t ox = 0; ox < g.ow; ++ox) {
                const std::int64_t y0 = oy * a.strides[0] - a.pads[0];
                const std::int64_t x0 = ox * a.strides[1] - a.pads[1];
                const std::int64_t ys = std::max<std::int64_t>(y0, 0),
                                   ye = std::min(y0 + a.kernel[0], g.h);
                const std::int64_t xs = std::max<std::int64_t>(x0, 0),
                                   xe = std::min(x0 + a.kernel[1], g.w);
                std::int64_t count;
                if (a.count_include_pad) {
                    const std::int64_t ph = std::min(y0 + a.kernel[0], g.h + a.pads[2]) - y0;
                    const std::int64_t pw = std::min(x0 + a.kernel[1], g.w + a.pads[3]) - x0;
                    count = ph * pw;
                } else {
                    count = std::max<std::int64_t>(ye - ys, 0) * std::max<std::int64_t>(xe - xs, 0);
                }
                f(nc, (nc * g.oh + oy) * g.ow + ox, ys, ye, xs, xe, count);
            }
}
} // namespace

tensor average_pool2d_forward(const_tensor_view x, const pool2d_attrs& a) {
    const pool_geom g = pool_geometry(x.dims(), a, "average_pool");
    f32_data xd(x, "average_pool X");
    tensor y(dtype::f32, shape{g.n, g.c, g.oh, g.ow});
    float* yp = y.span<float>().data();
    for_avg_windows(g, a,
                    [&](std::int64_t nc, std::int64_t o, std::int64_t ys, std::int64_t ye,
                        std::int64_t xs, std::int64_t xe, std::int64_t count) {
                        double s = 0;
                        for (std::int64_t iy = ys; iy < ye; ++iy)
                            for (std::int64_t ix = xs; ix < xe; ++ix)
                                s += xd.p[nc * g.h * g.w + iy * g.w + ix];
                        yp[o] = count > 0 ? float(s / double(count)) : 0.0f;
                    });
    return y;
}

tensor average_pool2d_backward(const shape& x_dims, const_tensor_view dy, const pool2d_attrs& a) {
    const pool_geom g = pool_geometry(x_dims, a, "average_pool backward");
    require_same(dy.dims(), shape{g.n, g.c, g.oh, g.ow}, "average_pool backward dY");
    f32_data gd(dy, "average_pool dY");
    tensor dx(dtype::f32, x_dims);
    float* d = dx.span<float>().data();
    std::fill(d, d + x_dims.numel(), 0.0f);
    for_avg_windows(g, a,
                    [&](std::int64_t nc, std::int64_t o, std::int64_t ys, std::int64_t ye,
                        std::int64_t xs, std::int64_t xe, std::int64_t count) {
                        if (count <= 0) return;
                        const float v = gd.p[o] / float(count);
                        for (std::int64_t iy = ys; iy < ye; ++iy)
                            for (std::int64_t ix = xs; ix < xe; ++ix)
                                d[nc * g.h * g.w + iy * g.w + ix] += v;
                    });
    return dx;
}

tensor global_average_pool_forward(const_tensor_view x) {
    if (x.rank() < 3)
        fail(status::shape_mismatch,
             "global_average_pool: expected [N, C, ...], got " + x.dims().to_string());
    f32_data xd(x, "global_average_pool X");
    const std::int64_t nc = x.dims()[0] * x.dims()[1],
                       sp = x.numel() / std::max<std::int64_t>(nc, 1);
    std::vector<std::int64_t> od(x.rank(), 1);
    od[0] = x.dims()[0];
    od[1] = x.dims()[1];
    tensor y(dtype::f32, shape(std::span<const std::int64_t>(od.data(), od.size())));
    float* yp = y.span<float>().data();
    for (std::int64_t i = 0; i < nc; ++i) {
        double s = 0;
        for (std::int64_t j = 0; j < sp; ++j)
            s += xd.p[i * sp + j];
        yp[i] = float(s / double(sp));
    }
    return y;
}

tensor global_average_pool_backward(const shape& x_dims, const_tensor_view dy) {
    if (x_dims.rank() < 3 || dy.numel() != x_dims[0] * x_dims[1])
        fail(status::shape_mismatch, "global_average_pool backward: dY " + dy.dims().to_string() +
                                         " does not match X " + x_dims.to_string());
    f32_data gd(dy, "global_average_pool dY");
    const std::int64_t nc = x_dims[0] * x_dims[1], sp = x_dims.numel() / nc;
    tensor dx(dtype::f32, x_dims);
    float* d = dx.span<float>().data();
    for (std::int64_t i = 0; i < nc; ++i)
        for (std::int64_t j = 0; j < sp; ++j)
            d[i * sp + j] = gd.p[i] / float(sp);
    return dx;
}

tensor reshape_backward(const_tensor_view dy, const shape& x_dims) {
    if (dy.numel() != x_dims.numel())
        fail(status::shape_mismatch, "reshape backward: dY " + dy.dims().to_string() +
                                         " has another element count than X " + x_dims.to_string());
    f32_data gd(dy, "reshape dY");
    tensor dx(dtype::f32, x_dims);
    std::copy(gd.p, gd.p + dy.numel(), dx.span<float>().data());
    return dx;
}

// ---- BatchNormalization -----------------------------------------------------------------------

namespace {
struct bn_geom {
    std::int64_t n, c, sp;
};
bn_geom bn_geometry(const_tensor_view x, std::initializer_list<const_tensor_view> params) {
    if (x.rank() < 2)
        fail(status::shape_mismatch,
             "batch_norm: expected X [N, C, ...], got " + x.dims().to_string());
    bn_geom g{x.dims()[0], x.dims()[1], 1};
    for (std::size_t i = 2; i < x.rank(); ++i)
        g.sp *= x.dims()[i];
    for (const auto& p : params)
        if (p.numel() != g.c)
            fail(status::shape_mismatch, "batch_norm: a parameter of shape " +
                                             p.dims().to_string() + " for " + std::to_string(g.c) +
                                             " channels");
    return g;
}
} // namespace

tensor batch_norm_forward(const_tensor_view x, const_tensor_view scale, const_tensor_view bias,
                          const_tensor_view mean, const_tensor_view var, float epsilon) {
    const bn_geom g = bn_geometry(x, {scale, bias, mean, var});
    f32_data xd(x, "bn X"), sd(scale, "bn scale"), bd(bias, "bn bias"), md(mean, "bn mean"),
        vd(var, "bn var");
    tensor y(dtype::f32, x.dims());
    float* yp = y.span<float>().data();
    for (std::int64_t n = 0; n < g.n; ++n)
        for (std::int64_t c = 0; c < g.c; ++c) {
            const float inv = 1.0f / std::sqrt(vd.p[c] + epsilon);
            const float a = sd.p[c] * inv, b = bd.p[c] - md.p[c] * a;
            const std::int64_t base = (n * g.c + c) * g.sp;
            for (std::int64_t j = 0; j < g.sp; ++j)
                yp[base + j] = xd.p[base + j] * a + b;
        }
    return y;
}

batch_norm_grads batch_norm_frozen_backward(const_tensor_view x, const_tensor_view scale,
                                            const_tensor_view mean, const_tensor_view var,
                                            const_tensor_view dy, float epsilon) {
    const bn_geom g = bn_geometry(x, {scale, mean, var});
    require_same(x.dims(), dy.dims(), "batch_norm backward dY");
    f32_data xd(x, "bn X"), sd(scale, "bn scale"), md(mean, "bn mean"), vd(var, "bn var"),
        gd(dy, "bn dY");
    batch_norm_grads r;
    r.dx = tensor(dtype::f32, x.dims());
    r.dscale = tensor(dtype::f32, shape{g.c});
    r.dbias = tensor(dtype::f32, shape{g.c});
    float* dx = r.dx.span<float>().data();
    for (std::int64_t c = 0; c < g.c; ++c) {
        const float inv = 1.0f / std::sqrt(vd.p[c] + epsilon);
        double ds = 0, db = 0;
        for (std::int64_t n = 0; n < g.n; ++n) {
            const std::int64_t base = (n * g.c + c) * g.sp;
            for (std::int64_t j = 0; j < g.sp; ++j) {
                const float gv = gd.p[base + j];
                dx[base + j] = gv * sd.p[c] * inv;
                ds += double(gv) * (xd.p[base + j] - md.p[c]) * inv;
                db += gv;
            }
        }
        r.dscale.span<float>()[std::size_t(c)] = float(ds);
        r.dbias.span<float>()[std::size_t(c)] = float(db);
    }
    return r;
}

// ---- LSQ ----------------------------------------------------------------------------------------

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
