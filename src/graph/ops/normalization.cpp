// Softmax, LogSoftmax, BatchNormalization, LayerNormalization and ReduceMean.
#include "common.hpp"
#include "ops.hpp"

#include <algorithm>
#include <cmath>
#include <fmt/ranges.h>

namespace hone::ops {

using detail::require_f32;

namespace {

tensor softmax_impl(const_tensor_view x, std::int64_t axis, bool coerce_2d, bool log,
                    const char* op) {
    require_f32(x, op, "input");
    if (x.rank() == 0)
        fail(status::shape_mismatch, fmt::format("{}: input must have rank ≥ 1", op));
    const auto a = static_cast<std::size_t>(normalize_axis(axis, x.rank(), op));
    std::int64_t outer = 1, len = 1, inner = 1;
    for (std::size_t d = 0; d < x.rank(); ++d) {
        const std::int64_t dim = x.dims()[d];
        if (d < a)
            outer *= dim;
        else if (d == a || coerce_2d)
            len *= dim;
        else
            inner *= dim;
    }
    const detail::contiguous_f32 src(x);
    tensor out = new_result(dtype::f32, x.dims());
    if (out.numel() == 0) return out;
    const float* s = src.data;
    float* d = static_cast<float*>(out.data());
    const std::int64_t lanes = outer * inner;
    const int threads = detail::threads_for(x.numel() * 4);
    detail::in_team(threads, [&] {
#pragma omp for schedule(static)
        for (std::int64_t lane = 0; lane < lanes; ++lane) {
            const std::int64_t o = lane / inner, i = lane % inner;
            const float* p = s + o * len * inner + i;
            float* q = d + o * len * inner + i;
            float mx = -std::numeric_limits<float>::infinity();
            for (std::int64_t j = 0; j < len; ++j)
                mx = std::max(mx, p[j * inner]);
            double sum = 0.0;
            for (std::int64_t j = 0; j < len; ++j) {
                const float e = std::exp(p[j * inner] - mx);
                if (!log) q[j * inner] = e;
                sum += e;
            }
            if (log) {
                const auto lse = static_cast<float>(std::log(sum));
                for (std::int64_t j = 0; j < len; ++j)
                    q[j * inner] = p[j * inner] - mx - lse;
            } else {
                const double inv = 1.0 / sum;
                for (std::int64_t j = 0; j < len; ++j)
                    q[j * inner] = static_cast<float>(q[j * inner] * inv);
            }
        }
    });
    return out;
}

std::vector<float> channel_values(const_tensor_view v, std::int64_t c, const char* op,
                                  const char* what) {
    require_f32(v, op, what);
    if (v.rank() != 1 || v.dims()[0] != c)
        fail(status::shape_mismatch, fmt::format("{}: input '{}' has shape {}, expected [{}]", op,
                                                 what, v.dims().to_string(), c));
    const tensor t = tensor::copy_of(v);
    const auto s = t.span<float>();
    return {s.begin(), s.end()};
}

} // namespace

tensor softmax(const_tensor_view x, std::int64_t axis, bool coerce_2d) {
    return softmax_impl(x, axis, coerce_2d, false, "ops::softmax");
}
tensor log_softmax(const_tensor_view x, std::int64_t axis, bool coerce_2d) {
    return softmax_impl(x, axis, coerce_2d, true, "ops::log_softmax");
}

tensor batch_normalization(const_tensor_view x, const_tensor_view scale, const_tensor_view bias,
                           const_tensor_view mean, const_tensor_view var, float epsilon,
                           bool channels_last) {
    const char* op = "ops::batch_normalization";
    require_f32(x, op, "X");
    if (x.rank() < 2)
        fail(status::shape_mismatch,
             fmt::format("{}: X has shape {}, expected [N, C, ...]", op, x.dims().to_string()));
    const std::int64_t c = x.dims()[channels_last ? x.rank() - 1 : 1];
    const auto sc = channel_values(scale, c, op, "scale");
    const auto bi = channel_values(bias, c, op, "B");
    const auto mu = channel_values(mean, c, op, "input_mean");
    const auto va = channel_values(var, c, op, "input_var");
    std::vector<float> mul(static_cast<std::size_t>(c)), add(static_cast<std::size_t>(c));
    for (std::size_t i = 0; i < mul.size(); ++i) {
        const double inv = 1.0 / std::sqrt(static_cast<double>(va[i]) + epsilon);
        mul[i] = static_cast<float>(sc[i] * inv);
        add[i] = static_cast<float>(bi[i] - mu[i] * sc[i] * inv);
    }
    const detail::contiguous_f32 src(x);
    tensor out = new_result(dtype::f32, x.dims());
    const std::int64_t n = x.dims()[0];
    const std::int64_t inner = c == 0 || n == 0 ? 0 : x.numel() / (n * c);
    const float* s = src.data;
    float* d = static_cast<float*>(out.data());
    const int threads = detail::threads_for(x.numel());
    if (channels_last) { // the same operation per element, channel = the innermost index
        detail::in_team(threads, [&] {
#pragma omp for schedule(static)
            for (std::int64_t pixel = 0; pixel < n * inner; ++pixel)
#pragma omp simd
                for (std::int64_t ch = 0; ch < c; ++ch)
                    d[pixel * c + ch] =
                        s[pixel * c + ch] * mul[std::size_t(ch)] + add[std::size_t(ch)];
        });
        return out;
    }
    detail::in_team(threads, [&] {
#pragma omp for schedule(static)
        for (std::int64_t plane = 0; plane < n * c; ++plane) {
            const auto ch = static_cast<std::size_t>(plane % c);
            for (std::int64_t i = 0; i < inner; ++i)
                d[plane * inner + i] = s[plane * inner + i] * mul[ch] + add[ch];
        }
    });
    return out;
}

tensor layer_normalization(const_tensor_view x, const_tensor_view scale, optional_view bias,
                           std::int64_t axis, float epsilon) {
    const char* op = "ops::layer_normalization";
    require_f32(x, op, "X");
    if (x.rank() == 0) fail(status::shape_mismatch, fmt::format("{}: X must have rank ≥ 1", op));
    const auto a = static_cast<std::size_t>(normalize_axis(axis, x.rank(), op));
    const shape norm_shape(x.dims().dims().subspan(a));
    require_f32(scale, op, "Scale");
    const tensor sc = tensor::copy_of(broadcast_view(scale, norm_shape, op));
    tensor bi;
    if (bias) {
        require_f32(*bias, op, "B");
        bi = tensor::copy_of(broadcast_view(*bias, norm_shape, op));
    }
    const std::int64_t len = norm_shape.numel();
    const std::int64_t rows = len == 0 ? 0 : x.numel() / len;
    const detail::contiguous_f32 src(x);
    tensor out = new_result(dtype::f32, x.dims());
    const float* s = src.data;
    float* d = static_cast<float*>(out.data());
    const float* g = static_cast<const float*>(sc.data());
    const float* b = bias ? static_cast<const float*>(bi.data()) : nullptr;
    const int threads = detail::threads_for(x.numel() * 4);
    detail::in_team(threads, [&] {
#pragma omp for schedule(static)
        for (std::int64_t r = 0; r < rows; ++r) {
            const float* p = s + r * len;
            float* q = d + r * len;
            double sum = 0.0;
            for (std::int64_t i = 0; i < len; ++i)
                sum += p[i];
            const double mean = sum / static_cast<double>(len);
            double sq = 0.0;
            for (std::int64_t i = 0; i < len; ++i)
                sq += (p[i] - mean) * (p[i] - mean);
            const double inv = 1.0 / std::sqrt(sq / static_cast<double>(len) + epsilon);
            for (std::int64_t i = 0; i < len; ++i) {
                const double v = (p[i] - mean) * inv * g[i];
                q[i] = static_cast<float>(b ? v + b[i] : v);
            }
        }
    });
    return out;
}

tensor reduce_mean(const_tensor_view x, std::span<const std::int64_t> axes, bool keepdims,
                   bool noop_with_empty_axes) {
    const char* op = "ops::reduce_mean";
    require_f32(x, op, "data");
    if (axes.empty() && noop_with_empty_axes) return tensor::copy_of(x);
    const std::size_t r = x.rank();
    std::vector<bool> reduced(r, axes.empty());
    for (const auto axis : axes) {
        const auto a = static_cast<std::size_t>(normalize_axis(axis, r, op));
        if (reduced[a])
            fail(status::invalid_argument, fmt::format("{}: axis {} is repeated", op, axis));
        reduced[a] = true;
    }
    std::vector<std::int64_t> out_dims, kept_dims;
    std::int64_t count = 1;
    for (std::size_t d = 0; d < r; ++d) {
        if (reduced[d]) {
            count *= x.dims()[d];
            if (keepdims) out_dims.push_back(1);
            kept_dims.push_back(1);
        } else {
            out_dims.push_back(x.dims()[d]);
            kept_dims.push_back(x.dims()[d]);
        }
    }
    tensor out = new_result(dtype::f32, shape(std::span<const std::int64_t>(out_dims)));
    const std::int64_t outputs = out.numel();
    if (outputs == 0) return out;
    // Fast path: a contiguous input reduced over its trailing axes (LayerNorm decompositions).
    std::size_t first_reduced = r;
    while (first_reduced > 0 && reduced[first_reduced - 1])
        --first_reduced;
    const bool suffix =
        std::none_of(reduced.begin(), reduced.begin() + static_cast<std::ptrdiff_t>(first_reduced),
                     [](bool b) { return b; });
    if (suffix && x.is_contiguous()) {
        const auto* s = static_cast<const float*>(x.data());
        float* dst = static_cast<float*>(out.data());
        const int threads = detail::threads_for(x.numel());
        detail::in_team(threads, [&] {
#pragma omp for schedule(static)
            for (std::int64_t o = 0; o < outputs; ++o) {
                double sum = 0.0;
                for (std::int64_t e = 0; e < count; ++e)
                    sum += s[o * count + e];
                dst[o] = count == 0 ? std::numeric_limits<float>::quiet_NaN()
                                    : static_cast<float>(sum / static_cast<double>(count));
            }
        });
        return out;
    }
    // Iterate the reduced axes through a view: the kept axes become the outer index.
    const shape kept{std::span<const std::int64_t>(kept_dims)};
    strides_array kept_strides{}, red_strides{};
    std::vector<std::int64_t> red_dims;
    {
        std::size_t j = 0;
        for (std::size_t d = 0; d < r; ++d) {
            kept_strides[d] = reduced[d] ? 0 : x.stride(d);
            if (reduced[d]) {
                red_dims.push_back(x.dims()[d]);
                red_strides[j++] = x.stride(d);
            }
        }
    }
    const shape red{std::span<const std::int64_t>(red_dims)};
    const auto* s = static_cast<const float*>(x.data());
    float* dst = static_cast<float*>(out.data());
    const int threads = detail::threads_for(x.numel());
    detail::in_team(threads, [&] {
#pragma omp for schedule(static)
        for (std::int64_t o = 0; o < outputs; ++o) {
            std::int64_t rest = o, base = 0;
            for (std::size_t d = r; d-- > 0;) {
                const std::int64_t idx = rest % kept[d];
                rest /= kept[d];
                base += idx * kept_strides[d];
            }
            double sum = 0.0;
            for (std::int64_t e = 0; e < count; ++e) {
                std::int64_t re = e, off = base;
                for (std::size_t d = red.rank(); d-- > 0;) {
                    const std::int64_t idx = re % red[d];
                    re /= red[d];
                    off += idx * red_strides[d];
                }
                sum += s[off];
            }
            dst[o] = count == 0 ? std::numeric_limits<float>::quiet_NaN()
                                : static_cast<float>(sum / static_cast<double>(count));
        }
    });
    return out;
}

} // namespace hone::ops
