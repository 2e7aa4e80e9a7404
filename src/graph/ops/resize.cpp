// Resize (nearest, n-linear, n-cubic), one axis at a time.
#include "common.hpp"
#include "grad.hpp"
#include "ops.hpp"

#include <cmath>
#include <fmt/ranges.h>

namespace hone::ops {

namespace {

double original_coordinate(coordinate_transform t, std::int64_t x, double scale, std::int64_t in,
                           std::int64_t out) {
    const auto xd = static_cast<double>(x);
    switch (t) {
    case coordinate_transform::half_pixel: return (xd + 0.5) / scale - 0.5;
    case coordinate_transform::pytorch_half_pixel: return out > 1 ? (xd + 0.5) / scale - 0.5 : 0.0;
    case coordinate_transform::align_corners:
        return out > 1 ? xd * static_cast<double>(in - 1) / static_cast<double>(out - 1) : 0.0;
    case coordinate_transform::asymmetric: return xd / scale;
    case coordinate_transform::tf_half_pixel_for_nn: return (xd + 0.5) / scale;
    }
    return xd / scale;
}

std::int64_t nearest_index(nearest_mode m, double v) {
    switch (m) {
    case nearest_mode::round_prefer_floor:
        return v == std::floor(v) + 0.5 ? static_cast<std::int64_t>(std::floor(v))
                                        : static_cast<std::int64_t>(std::round(v));
    case nearest_mode::round_prefer_ceil:
        return v == std::floor(v) + 0.5 ? static_cast<std::int64_t>(std::ceil(v))
                                        : static_cast<std::int64_t>(std::round(v));
    case nearest_mode::floor: return static_cast<std::int64_t>(std::floor(v));
    case nearest_mode::ceil: return static_cast<std::int64_t>(std::ceil(v));
    }
    return static_cast<std::int64_t>(std::floor(v));
}

// Per output index of one axis: `taps` source indices and weights (nearest: one, linear: two,
// cubic: four).
struct axis_taps {
    std::size_t taps = 1;
    std::vector<std::int64_t> idx;
    std::vector<float> wt;
};

axis_taps taps_of(std::int64_t in, std::int64_t out, double scale, const resize_params& p) {
    axis_taps t;
    t.taps = p.mode == resize_mode::nearest ? 1 : p.mode == resize_mode::linear ? 2 : 4;
    const std::size_t taps = t.taps;
    t.idx.resize(static_cast<std::size_t>(out) * taps);
    t.wt.resize(static_cast<std::size_t>(out) * taps);
    for (std::int64_t x = 0; x < out; ++x) {
        const double v = original_coordinate(p.transform, x, scale, in, out);
        auto* ix = t.idx.data() + static_cast<std::size_t>(x) * taps;
        auto* w = t.wt.data() + static_cast<std::size_t>(x) * taps;
        if (p.mode == resize_mode::nearest) {
            ix[0] = std::min(std::max<std::int64_t>(nearest_index(p.nearest, v), 0), in - 1);
            w[0] = 1.0f;
        } else if (p.mode == resize_mode::linear) {
            const double c = std::min(std::max(v, 0.0), static_cast<double>(in - 1));
            const auto lo = static_cast<std::int64_t>(std::floor(c));
            ix[0] = lo;
            ix[1] = std::min(lo + 1, in - 1);
            w[1] = static_cast<float>(c - static_cast<double>(lo));
            w[0] = 1.0f - w[1];
        } else {
            const double fl = std::floor(v), tt = v - fl, a = p.cubic_coeff_a;
            // Keys' kernel: |d| ≤ 1: (A+2)|d|³ − (A+3)|d|² + 1; 1 < |d| < 2: A|d|³ − 5A|d|² +
            // 8A|d| − 4A.
            auto near = [a](double d) { return ((a + 2) * d - (a + 3)) * d * d + 1; };
            auto far = [a](double d) { return ((a * d - 5 * a) * d + 8 * a) * d - 4 * a; };
            const double c[4] = {far(1 + tt), near(tt), near(1 - tt), far(2 - tt)};
            const auto base = static_cast<std::int64_t>(fl) - 1;
            double sum = 0;
            for (std::size_t k = 0; k < 4; ++k) {
                const auto j = base + static_cast<std::int64_t>(k);
                const bool inside = j >= 0 && j < in;
                ix[k] = std::min(std::max<std::int64_t>(j, 0), in - 1);
                const double ck = p.exclude_outside && !inside ? 0.0 : c[k];
                w[k] = static_cast<float>(ck);
                sum += ck;
            }
            if (p.exclude_outside && sum != 0.0)
                for (std::size_t k = 0; k < 4; ++k)
                    w[k] = static_cast<float>(static_cast<double>(w[k]) / sum);
        }
    }
    return t;
}

// Resizes axis `a` of the contiguous tensor src (dims `dims`) to `out` entries.
tensor resize_axis(const tensor& src, std::size_t a, std::int64_t out, double scale,
                   const resize_params& p) {
    const shape& dims = src.dims();
    std::vector<std::int64_t> od(dims.dims().begin(), dims.dims().end());
    const std::int64_t in = od[a];
    od[a] = out;
    tensor dst(dtype::f32, shape(std::span<const std::int64_t>(od)));
    if (dst.numel() == 0) return dst;
    std::int64_t outer = 1, inner = 1;
    for (std::size_t d = 0; d < a; ++d)
        outer *= dims[d];
    for (std::size_t d = a + 1; d < dims.rank(); ++d)
        inner *= dims[d];
    const axis_taps t = taps_of(in, out, scale, p);
    const std::size_t taps = t.taps;
    const auto& idx = t.idx;
    const auto& wt = t.wt;
    const float* s = static_cast<const float*>(src.data());
    float* d = static_cast<float*>(dst.data());
    const int threads = detail::threads_for(dst.numel() * static_cast<std::int64_t>(taps));
#pragma omp parallel for schedule(static) num_threads(threads) if (threads > 1)
    for (std::int64_t o = 0; o < outer; ++o)
        for (std::int64_t x = 0; x < out; ++x) {
            const auto* ix = idx.data() + static_cast<std::size_t>(x) * taps;
            const auto* w = wt.data() + static_cast<std::size_t>(x) * taps;
            float* q = d + (o * out + x) * inner;
            const float* a0 = s + (o * in + ix[0]) * inner;
            if (taps == 1 || (taps == 2 && w[1] == 0.0f)) {
                for (std::int64_t i = 0; i < inner; ++i)
                    q[i] = a0[i];
                continue;
            }
            for (std::int64_t i = 0; i < inner; ++i)
                q[i] = w[0] * a0[i];
            for (std::size_t k = 1; k < taps; ++k) {
                const float* ak = s + (o * in + ix[k]) * inner;
                const float wk = w[k];
                for (std::int64_t i = 0; i < inner; ++i)
                    q[i] += wk * ak[i];
            }
        }
    return dst;
}

} // namespace

namespace {

// Output dims and scales per axis, validated.
struct resize_plan {
    std::vector<std::int64_t> out;
    std::vector<double> scale;
    // The axes resized (an identity axis is skipped: equal size, scale 1, not tf_half_pixel).
    bool resized(const shape& in, std::size_t a, const resize_params& p) const {
        return !(out[a] == in[a] && scale[a] == 1.0 &&
                 p.transform != coordinate_transform::tf_half_pixel_for_nn);
    }
};

resize_plan plan_of(const shape& dims, const resize_params& p, const char* op) {
    const std::size_t r = dims.rank();
    if (p.scales.empty() == p.sizes.empty())
        fail(status::invalid_argument,
             fmt::format("{}: exactly one of scales and sizes must be given", op));
    if (!p.scales.empty() && p.scales.size() != r)
        fail(status::invalid_argument,
             fmt::format("{}: {} scales for X of rank {}", op, p.scales.size(), r));
    if (!p.sizes.empty() && p.sizes.size() != r)
        fail(status::invalid_argument,
             fmt::format("{}: {} sizes for X of rank {}", op, p.sizes.size(), r));
    resize_plan plan{std::vector<std::int64_t>(r), std::vector<double>(r)};
    auto& out = plan.out;
    auto& scale = plan.scale;
    for (std::size_t a = 0; a < r; ++a) {
        const std::int64_t in = dims[a];
        if (!p.scales.empty()) {
            const float s = p.scales[a];
            if (!(s > 0.0f) || !std::isfinite(s))
                fail(status::invalid_argument,
                     fmt::format("{}: scales [{}] must be positive and finite", op,
                                 fmt::join(p.scales, ",")));
            const double o = std::floor(static_cast<double>(in) * static_cast<double>(s));
            if (o > 1e12)
                fail(status::out_of_range, fmt::format("{}: output dim {} is too large", op, o));
            out[a] = static_cast<std::int64_t>(o);
            scale[a] = s;
        } else {
            if (p.sizes[a] < 0 || (p.sizes[a] == 0 && in > 0))
                fail(status::invalid_argument,
                     fmt::format("{}: sizes [{}] has a value < 1", op, fmt::join(p.sizes, ",")));
            out[a] = p.sizes[a];
            scale[a] = in == 0 ? 1.0 : static_cast<double>(out[a]) / static_cast<double>(in);
        }
    }
    return plan;
}

} // namespace

tensor resize(const_tensor_view x, const resize_params& p) {
    const char* op = "ops::resize";
    detail::require_f32(x, op, "X");
    const std::size_t r = x.rank();
    const resize_plan plan = plan_of(x.dims(), p, op);
    const auto& out = plan.out;
    const auto& scale = plan.scale;
    tensor cur = tensor::copy_of(x);
    for (std::size_t a = 0; a < r; ++a) {
        if (!plan.resized(x.dims(), a, p)) continue; // identity on this axis
        if (x.dims()[a] == 0) {
            std::vector<std::int64_t> od(cur.dims().dims().begin(), cur.dims().dims().end());
            od[a] = out[a];
            cur = tensor(dtype::f32, shape(std::span<const std::int64_t>(od)));
            continue;
        }
        cur = resize_axis(cur, a, out[a], scale[a], p);
    }
    return cur;
}

// The forward is one linear map per axis, applied in axis order: its backward applies each
// map's transpose in reverse order (dX[o, ix, i] += w·dY[o, x, i]; each outer row by one thread,
// taps in index order: the same bytes at any thread count).
tensor resize_backward(const shape& x_dims, const_tensor_view dy, const resize_params& p) {
    const char* op = "ops::resize_backward";
    detail::require_f32(dy, op, "dY");
    const std::size_t r = x_dims.rank();
    const resize_plan plan = plan_of(x_dims, p, op);
    if (!(dy.dims() == shape(std::span<const std::int64_t>(plan.out))))
        fail(status::shape_mismatch,
             fmt::format("{}: dY has shape {}, the forward's output [{}]", op,
                         dy.dims().to_string(), fmt::join(plan.out, ", ")));
    // The dims after each axis of the forward: the backward walks them back.
    std::vector<std::int64_t> dims(x_dims.dims().begin(), x_dims.dims().end());
    std::vector<std::vector<std::int64_t>> before(r);
    for (std::size_t a = 0; a < r; ++a) {
        before[a] = dims;
        if (plan.resized(x_dims, a, p)) dims[a] = plan.out[a];
    }
    tensor cur = tensor::copy_of(dy);
    for (std::size_t a = r; a-- > 0;) {
        if (!plan.resized(x_dims, a, p)) continue;
        const shape in_shape{std::span<const std::int64_t>(before[a])};
        tensor dst(dtype::f32, in_shape); // zero-filled: taps add into it
        const std::int64_t in = before[a][a], out = plan.out[a];
        if (dst.numel() == 0 || cur.numel() == 0) {
            cur = std::move(dst);
            continue;
        }
        std::int64_t outer = 1, inner = 1;
        for (std::size_t d = 0; d < a; ++d)
            outer *= before[a][d];
        for (std::size_t d = a + 1; d < r; ++d)
            inner *= before[a][d];
        const axis_taps t = taps_of(in, out, plan.scale[a], p);
        const float* g = static_cast<const float*>(cur.data());
        float* d = static_cast<float*>(dst.data());
        const int threads = detail::threads_for(cur.numel() * static_cast<std::int64_t>(t.taps));
#pragma omp parallel for schedule(static) num_threads(threads) if (threads > 1)
        for (std::int64_t o = 0; o < outer; ++o)
            for (std::int64_t x = 0; x < out; ++x) {
                const float* gy = g + (o * out + x) * inner;
                for (std::size_t k = 0; k < t.taps; ++k) {
                    const float w = t.wt[static_cast<std::size_t>(x) * t.taps + k];
                    float* q =
                        d + (o * in + t.idx[static_cast<std::size_t>(x) * t.taps + k]) * inner;
                    for (std::int64_t i = 0; i < inner; ++i)
                        q[i] += w * gy[i];
                }
            }
        cur = std::move(dst);
    }
    return cur;
}

} // namespace hone::ops
