// Backward of ops::conv: im2col per group with hone's matmul for dense groups, direct loops for
// depthwise (one input and one output channel per group, where an im2col product is 1 wide).
#include "common.hpp"
#include "grad.hpp"

#include "hone/core/error.hpp"
#include "hone/kernels/gemm.hpp"

#include <fmt/format.h>

#include <vector>

namespace hone::ops {

namespace {

constexpr const char* op_name = "ops::conv_backward";

struct conv_geometry {
    std::int64_t n = 0, c = 0, m = 0, group = 1, cg = 0, mg = 0;
    detail::resolved_spatial r;
    std::int64_t in_plane = 0, out_plane = 0, taps = 0;
};

conv_geometry geometry_of(const_tensor_view x, const_tensor_view w, const conv_params& p) {
    detail::require_f32(x, op_name, "X");
    detail::require_f32(w, op_name, "W");
    if (x.rank() < 3 || x.rank() > 5 || w.rank() != x.rank())
        fail(status::shape_mismatch,
             fmt::format("{}: X {} and W {} must both be [*, *, D1..Dk] with k = 1..3", op_name,
                         x.dims().to_string(), w.dims().to_string()));
    conv_geometry g;
    g.n = x.dims()[0];
    g.c = x.dims()[1];
    g.m = w.dims()[0];
    g.group = p.group;
    g.cg = w.dims()[1];
    if (g.group < 1 || g.c != g.cg * g.group || g.m % g.group != 0)
        fail(status::shape_mismatch,
             fmt::format("{}: X {}, W {} and group {} do not agree", op_name, x.dims().to_string(),
                         w.dims().to_string(), g.group));
    g.mg = g.m / g.group;
    g.r = detail::resolve_spatial(x.dims().dims().subspan(2), w.dims().dims().subspan(2), p.spatial,
                                  false, op_name);
    g.in_plane = g.r.in[0] * g.r.in[1] * g.r.in[2];
    g.out_plane = g.r.out[0] * g.r.out[1] * g.r.out[2];
    g.taps = g.r.kernel[0] * g.r.kernel[1] * g.r.kernel[2];
    return g;
}

// Calls f(output position, tap, input position) for every tap of every output position whose
// input position lies inside the input (padding reads zeros).
template <class F> void for_each_tap(const detail::resolved_spatial& r, F f) {
    for (std::int64_t o0 = 0; o0 < r.out[0]; ++o0)
        for (std::int64_t o1 = 0; o1 < r.out[1]; ++o1)
            for (std::int64_t o2 = 0; o2 < r.out[2]; ++o2) {
                const std::int64_t o = (o0 * r.out[1] + o1) * r.out[2] + o2;
                for (std::int64_t k0 = 0; k0 < r.kernel[0]; ++k0) {
                    const std::int64_t i0 = o0 * r.stride[0] - r.pad_begin[0] + k0 * r.dilation[0];
                    for (std::int64_t k1 = 0; k1 < r.kernel[1]; ++k1) {
                        const std::int64_t i1 =
                            o1 * r.stride[1] - r.pad_begin[1] + k1 * r.dilation[1];
                        for (std::int64_t k2 = 0; k2 < r.kernel[2]; ++k2) {
                            const std::int64_t i2 =
                                o2 * r.stride[2] - r.pad_begin[2] + k2 * r.dilation[2];
                            if (i0 < 0 || i0 >= r.in[0] || i1 < 0 || i1 >= r.in[1] || i2 < 0 ||
                                i2 >= r.in[2])
                                continue;
                            const std::int64_t k = (k0 * r.kernel[1] + k1) * r.kernel[2] + k2;
                            f(o, k, (i0 * r.in[1] + i1) * r.in[2] + i2);
                        }
                    }
                }
            }
}

// cols [N·OUT, Cg·taps] of group gi (zeros where a tap reads padding).
void im2col(const conv_geometry& g, const float* x, std::int64_t gi, float* cols) {
    const std::int64_t width = g.cg * g.taps;
    std::fill(cols, cols + g.n * g.out_plane * width, 0.0f);
    detail::in_team(detail::threads_for(g.n * g.out_plane * width), [&] {
#pragma omp for schedule(static)
        for (std::int64_t n = 0; n < g.n; ++n)
            for (std::int64_t c = 0; c < g.cg; ++c) {
                const float* plane = x + (n * g.c + gi * g.cg + c) * g.in_plane;
                float* base = cols + n * g.out_plane * width + c * g.taps;
                for_each_tap(g.r, [&](std::int64_t o, std::int64_t k, std::int64_t i) {
                    base[o * width + k] = plane[i];
                });
            }
    });
}

// dx planes of group gi += the columns scattered back (each (n, c) plane by one thread).
void col2im(const conv_geometry& g, const float* cols, std::int64_t gi, float* dx) {
    const std::int64_t width = g.cg * g.taps;
    detail::in_team(detail::threads_for(g.n * g.out_plane * width), [&] {
#pragma omp for schedule(static)
        for (std::int64_t n = 0; n < g.n; ++n)
            for (std::int64_t c = 0; c < g.cg; ++c) {
                float* plane = dx + (n * g.c + gi * g.cg + c) * g.in_plane;
                const float* base = cols + n * g.out_plane * width + c * g.taps;
                for_each_tap(g.r, [&](std::int64_t o, std::int64_t k, std::int64_t i) {
                    plane[i] += base[o * width + k];
                });
            }
    });
}

void dense_backward(const conv_geometry& g, const float* x, const float* w, const float* dy,
                    float* dx, float* dw) {
    const std::int64_t rows = g.n * g.out_plane, width = g.cg * g.taps;
    std::vector<float> cols(std::size_t(rows * width));
    std::vector<float> dyg(std::size_t(rows * g.mg));  // [rows, Mg]
    std::vector<float> dygt(std::size_t(rows * g.mg)); // [Mg, rows]
    for (std::int64_t gi = 0; gi < g.group; ++gi) {
        for (std::int64_t n = 0; n < g.n; ++n)
            for (std::int64_t o = 0; o < g.mg; ++o)
                for (std::int64_t p = 0; p < g.out_plane; ++p) {
                    const float v = dy[(n * g.m + gi * g.mg + o) * g.out_plane + p];
                    dyg[std::size_t((n * g.out_plane + p) * g.mg + o)] = v;
                    dygt[std::size_t(o * rows + n * g.out_plane + p)] = v;
                }
        if (dw) {
            im2col(g, x, gi, cols.data());
            // dW_g [Mg, Cg·taps] = dYgᵀ [Mg, rows] · cols [rows, Cg·taps]
            kernels::matmul_f32(dygt.data(), cols.data(), dw + gi * g.mg * width, g.mg, rows, width,
                                kernels::weight_layout::k_by_n, nullptr);
        }
        if (dx) {
            // dcols [rows, Cg·taps] = dYg [rows, Mg] · W_g [Mg, Cg·taps]
            kernels::matmul_f32(dyg.data(), w + gi * g.mg * width, cols.data(), rows, g.mg, width,
                                kernels::weight_layout::k_by_n, nullptr);
            col2im(g, cols.data(), gi, dx);
        }
    }
}

// Depthwise (Cg = Mg = 1): channel c reads only plane c; each channel by one thread.
void depthwise_backward(const conv_geometry& g, const float* x, const float* w, const float* dy,
                        float* dx, float* dw) {
    detail::in_team(detail::threads_for(g.n * g.c * g.out_plane * g.taps), [&] {
#pragma omp for schedule(static)
        for (std::int64_t c = 0; c < g.c; ++c) {
            std::vector<double> acc(std::size_t(g.taps), 0.0);
            for (std::int64_t n = 0; n < g.n; ++n) {
                const float* xs = x + (n * g.c + c) * g.in_plane;
                const float* d = dy + (n * g.c + c) * g.out_plane;
                float* dxs = dx ? dx + (n * g.c + c) * g.in_plane : nullptr;
                for_each_tap(g.r, [&](std::int64_t o, std::int64_t k, std::int64_t i) {
                    acc[std::size_t(k)] += double(d[o]) * xs[i];
                    if (dxs) dxs[i] += d[o] * w[c * g.taps + k];
                });
            }
            if (dw)
                for (std::int64_t k = 0; k < g.taps; ++k)
                    dw[c * g.taps + k] = float(acc[std::size_t(k)]);
        }
    });
}

} // namespace

conv_grads conv_backward(const_tensor_view x, const_tensor_view w, bool has_bias,
                         const_tensor_view dy, const conv_params& params, bool need_x,
                         bool need_w) {
    const conv_geometry g = geometry_of(x, w, params);
    detail::require_f32(dy, op_name, "dY");
    std::vector<std::int64_t> out_dims{g.n, g.m};
    for (std::size_t i = 0; i < g.r.k; ++i)
        out_dims.push_back(g.r.out[i]);
    if (!(dy.dims() == shape(std::span<const std::int64_t>(out_dims))))
        fail(status::shape_mismatch,
             fmt::format("{}: dY has shape {}, the forward's output [{}]", op_name,
                         dy.dims().to_string(), fmt::join(out_dims, ", ")));
    const detail::contiguous_f32 xs(x), ws(w), ds(dy);
    conv_grads r;
    if (need_x) r.dx = tensor(dtype::f32, x.dims()); // zero-filled: col2im adds
    if (need_w) r.dw = tensor(dtype::f32, w.dims());
    float* dx = need_x ? static_cast<float*>(r.dx.data()) : nullptr;
    float* dw = need_w ? static_cast<float*>(r.dw.data()) : nullptr;
    if (g.n * g.out_plane > 0 && (dx || dw)) {
        if (g.cg == 1 && g.mg == 1)
            depthwise_backward(g, xs.data, ws.data, ds.data, dx, dw);
        else
            dense_backward(g, xs.data, ws.data, ds.data, dx, dw);
    }
    if (has_bias) {
        r.dbias = tensor(dtype::f32, shape{g.m});
        float* db = static_cast<float*>(r.dbias.data());
        for (std::int64_t o = 0; o < g.m; ++o) {
            double s = 0;
            for (std::int64_t n = 0; n < g.n; ++n)
                for (std::int64_t p = 0; p < g.out_plane; ++p)
                    s += ds.data[(n * g.m + o) * g.out_plane + p];
            db[o] = float(s);
        }
    }
    return r;
}

} // namespace hone::ops
