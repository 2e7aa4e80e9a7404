// Backward of ops::max_pool, ops::average_pool and ops::global_average_pool: the forward's window
// geometry (detail::resolve_spatial, ceil_mode included), each (n, c) plane by one thread.
#include "common.hpp"
#include "grad.hpp"

#include "hone/core/error.hpp"

#include <fmt/format.h>

#include <cmath>
#include <vector>

namespace hone::ops {

namespace {

struct pool_geometry {
    detail::resolved_spatial r;
    std::int64_t planes = 0, in_plane = 0, out_plane = 0;
};

pool_geometry geometry_of(const shape& x, const_tensor_view dy, const pool_params& p,
                          const char* op) {
    detail::require_f32(dy, op, "dY");
    if (x.rank() < 3 || x.rank() > 5)
        fail(status::shape_mismatch,
             fmt::format("{}: X has shape {}, expected [N, C, D1..Dk], k = 1..3", op,
                         x.to_string()));
    if (p.spatial.kernel_shape.empty())
        fail(status::invalid_argument, fmt::format("{}: kernel_shape is required", op));
    pool_geometry g;
    g.r = detail::resolve_spatial(x.dims().subspan(2), p.spatial.kernel_shape, p.spatial,
                                  p.ceil_mode, op);
    std::vector<std::int64_t> out{x[0], x[1]};
    for (std::size_t i = 0; i < g.r.k; ++i)
        out.push_back(g.r.out[i]);
    if (!(dy.dims() == shape(std::span<const std::int64_t>(out))))
        fail(status::shape_mismatch, fmt::format("{}: dY has shape {}, the forward's output [{}]",
                                                 op, dy.dims().to_string(), fmt::join(out, ", ")));
    g.planes = x[0] * x[1];
    g.in_plane = g.r.in[0] * g.r.in[1] * g.r.in[2];
    g.out_plane = g.r.out[0] * g.r.out[1] * g.r.out[2];
    return g;
}

// Calls f(output index, input indices inside the input, taps inside the padded input) per
// window of one plane.
template <class F> void for_each_window(const detail::resolved_spatial& r, F f) {
    std::vector<std::int64_t> inside;
    for (std::int64_t o0 = 0; o0 < r.out[0]; ++o0)
        for (std::int64_t o1 = 0; o1 < r.out[1]; ++o1)
            for (std::int64_t o2 = 0; o2 < r.out[2]; ++o2) {
                const std::array<std::int64_t, 3> o{o0, o1, o2};
                inside.clear();
                std::int64_t padded = 1;
                for (std::size_t a = 0; a < 3; ++a) {
                    std::int64_t count = 0;
                    for (std::int64_t k = 0; k < r.kernel[a]; ++k) {
                        const std::int64_t i =
                            o[a] * r.stride[a] - r.pad_begin[a] + k * r.dilation[a];
                        if (i >= -r.pad_begin[a] && i < r.in[a] + r.pad_end[a]) ++count;
                    }
                    padded *= count;
                }
                for (std::int64_t k0 = 0; k0 < r.kernel[0]; ++k0) {
                    const std::int64_t i0 = o0 * r.stride[0] - r.pad_begin[0] + k0 * r.dilation[0];
                    if (i0 < 0 || i0 >= r.in[0]) continue;
                    for (std::int64_t k1 = 0; k1 < r.kernel[1]; ++k1) {
                        const std::int64_t i1 =
                            o1 * r.stride[1] - r.pad_begin[1] + k1 * r.dilation[1];
                        if (i1 < 0 || i1 >= r.in[1]) continue;
                        for (std::int64_t k2 = 0; k2 < r.kernel[2]; ++k2) {
                            const std::int64_t i2 =
                                o2 * r.stride[2] - r.pad_begin[2] + k2 * r.dilation[2];
                            if (i2 >= 0 && i2 < r.in[2])
                                inside.push_back((i0 * r.in[1] + i1) * r.in[2] + i2);
                        }
                    }
                }
                f((o0 * r.out[1] + o1) * r.out[2] + o2, inside, padded);
            }
}

template <class F> void per_plane(const pool_geometry& g, std::int64_t work, F f) {
    detail::in_team(detail::threads_for(work), [&] {
#pragma omp for schedule(static)
        for (std::int64_t plane = 0; plane < g.planes; ++plane)
            f(plane);
    });
}

} // namespace

tensor max_pool_backward(const_tensor_view x, const_tensor_view dy, const pool_params& params) {
    constexpr const char* op = "ops::max_pool_backward";
    detail::require_f32(x, op, "X");
    const pool_geometry g = geometry_of(x.dims(), dy, params, op);
    const detail::contiguous_f32 xs(x), ds(dy);
    tensor dx(dtype::f32, x.dims());
    float* pdx = static_cast<float*>(dx.data());
    per_plane(g, g.planes * g.out_plane * 8, [&](std::int64_t plane) {
        const float* s = xs.data + plane * g.in_plane;
        const float* d = ds.data + plane * g.out_plane;
        float* t = pdx + plane * g.in_plane;
        for_each_window(g.r,
                        [&](std::int64_t o, const std::vector<std::int64_t>& in, std::int64_t) {
                            if (in.empty()) return;
                            std::int64_t arg = in[0];
                            for (std::int64_t i : in)
                                if (s[i] > s[arg] || (std::isnan(s[i]) && !std::isnan(s[arg])))
                                    arg = i;
                            t[arg] += d[o];
                        });
    });
    return dx;
}

tensor average_pool_backward(const shape& x_dims, const_tensor_view dy, const pool_params& params) {
    constexpr const char* op = "ops::average_pool_backward";
    const pool_geometry g = geometry_of(x_dims, dy, params, op);
    const detail::contiguous_f32 ds(dy);
    tensor dx(dtype::f32, x_dims);
    float* pdx = static_cast<float*>(dx.data());
    per_plane(g, g.planes * g.out_plane * 8, [&](std::int64_t plane) {
        const float* d = ds.data + plane * g.out_plane;
        float* t = pdx + plane * g.in_plane;
        for_each_window(
            g.r, [&](std::int64_t o, const std::vector<std::int64_t>& in, std::int64_t padded) {
                const auto divisor = params.count_include_pad ? padded : std::int64_t(in.size());
                if (divisor == 0) return;
                const float share = float(double(d[o]) / double(divisor));
                for (std::int64_t i : in)
                    t[i] += share;
            });
    });
    return dx;
}

tensor global_average_pool_backward(const shape& x_dims, const_tensor_view dy) {
    constexpr const char* op = "ops::global_average_pool_backward";
    detail::require_f32(dy, op, "dY");
    if (x_dims.rank() < 3 || dy.rank() != x_dims.rank() || dy.dims()[0] != x_dims[0] ||
        dy.dims()[1] != x_dims[1] || dy.numel() != x_dims[0] * x_dims[1])
        fail(status::shape_mismatch, fmt::format("{}: dY {} is not the [N, C, 1, ...] of X {}", op,
                                                 dy.dims().to_string(), x_dims.to_string()));
    const detail::contiguous_f32 ds(dy);
    tensor dx(dtype::f32, x_dims);
    const std::int64_t planes = x_dims[0] * x_dims[1];
    const std::int64_t size = planes ? x_dims.numel() / planes : 0;
    float* p = static_cast<float*>(dx.data());
    for (std::int64_t plane = 0; plane < planes; ++plane) {
        const float share = float(double(ds.data[plane]) / double(size));
        std::fill(p + plane * size, p + (plane + 1) * size, share);
    }
    return dx;
}

} // namespace hone::ops
