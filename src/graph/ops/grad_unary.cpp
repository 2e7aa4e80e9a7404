// Backward of the elementwise unary operators and of Softmax / LogSoftmax (see grad.hpp).
#include "common.hpp"
#include "grad.hpp"

#include <cmath>

namespace hone::ops {

using detail::require_f32;

namespace {

// dX[i] = f(v[i], dY[i]), v the forward's input or output (`what`), of dY's shape.
template <class F>
tensor pointwise(const_tensor_view v, const_tensor_view dy, const char* op, const char* what, F f) {
    require_f32(v, op, what);
    require_f32(dy, op, "dY");
    if (!(v.dims() == dy.dims()))
        fail(status::shape_mismatch,
             fmt::format("{}: dY has shape {}, {} has {}", op, dy.dims().to_string(), what,
                         v.dims().to_string()));
    const detail::contiguous_f32 sv(v), sg(dy);
    tensor out = new_result(dtype::f32, v.dims());
    float* d = static_cast<float*>(out.data());
    const float* pv = sv.data;
    const float* pg = sg.data;
    const std::int64_t n = v.numel();
    detail::in_team(detail::threads_for(n * 8), [&] {
#pragma omp for simd schedule(static)
        for (std::int64_t i = 0; i < n; ++i)
            d[i] = f(pv[i], pg[i]);
    });
    return out;
}

constexpr double inv_sqrt_2 = 0.7071067811865476;   // 1/√2
constexpr double inv_sqrt_2pi = 0.3989422804014327; // 1/√(2π)
constexpr double sqrt_2_over_pi = 0.7978845608028654;
constexpr double gelu_c = 0.044715;

// d/dx 0.5·x·(1 + erf(x/√2)) = Φ(x) + x·φ(x).
float gelu_erf_grad(float v) {
    const double x = v;
    return static_cast<float>(0.5 * (1.0 + std::erf(x * inv_sqrt_2)) +
                              x * inv_sqrt_2pi * std::exp(-0.5 * x * x));
}

// d/dx 0.5·x·(1 + tanh(u)), u = √(2/π)·(x + c·x³).
float gelu_tanh_grad(float v) {
    const double x = v;
    const double t = std::tanh(sqrt_2_over_pi * (x + gelu_c * x * x * x));
    return static_cast<float>(0.5 * (1.0 + t) + 0.5 * x * (1.0 - t * t) * sqrt_2_over_pi *
                                                    (1.0 + 3.0 * gelu_c * x * x));
}

// Softmax lanes as ops::softmax takes them: [outer, len, inner], the reduction over len.
struct lanes {
    std::int64_t outer = 1, len = 1, inner = 1;
};

lanes softmax_lanes(const shape& dims, std::int64_t axis, bool coerce_2d, const char* op) {
    if (dims.rank() == 0) fail(status::shape_mismatch, fmt::format("{}: Y must have rank ≥ 1", op));
    const auto a = static_cast<std::size_t>(normalize_axis(axis, dims.rank(), op));
    lanes l;
    for (std::size_t d = 0; d < dims.rank(); ++d)
        (d < a ? l.outer : (d == a || coerce_2d) ? l.len : l.inner) *= dims[d];
    return l;
}

// fn(y, dy, dx, len, inner) per lane (y, dy, dx at the lane's first element, step inner).
template <class F>
tensor softmax_grad(const_tensor_view y, const_tensor_view dy, std::int64_t axis, bool coerce_2d,
                    const char* op, F fn) {
    require_f32(y, op, "Y");
    require_f32(dy, op, "dY");
    if (!(y.dims() == dy.dims()))
        fail(status::shape_mismatch, fmt::format("{}: dY has shape {}, Y has {}", op,
                                                 dy.dims().to_string(), y.dims().to_string()));
    const lanes l = softmax_lanes(y.dims(), axis, coerce_2d, op);
    const detail::contiguous_f32 sy(y), sg(dy);
    tensor out = new_result(dtype::f32, y.dims());
    float* d = static_cast<float*>(out.data());
    const std::int64_t count = l.outer * l.inner;
    detail::in_team(detail::threads_for(y.numel() * 4), [&] {
#pragma omp for schedule(static)
        for (std::int64_t lane = 0; lane < count; ++lane) {
            const std::int64_t first = (lane / l.inner) * l.len * l.inner + lane % l.inner;
            fn(sy.data + first, sg.data + first, d + first, l.len, l.inner);
        }
    });
    return out;
}

} // namespace

tensor relu_backward(const_tensor_view x, const_tensor_view dy) {
    return pointwise(x, dy, "ops::relu_backward", "X",
                     [](float v, float g) { return v > 0.0f ? g : 0.0f; });
}
tensor leaky_relu_backward(const_tensor_view x, const_tensor_view dy, float alpha) {
    return pointwise(x, dy, "ops::leaky_relu_backward", "X",
                     [alpha](float v, float g) { return v >= 0.0f ? g : alpha * g; });
}
tensor sigmoid_backward(const_tensor_view y, const_tensor_view dy) {
    return pointwise(y, dy, "ops::sigmoid_backward", "Y",
                     [](float v, float g) { return g * v * (1.0f - v); });
}
tensor tanh_backward(const_tensor_view y, const_tensor_view dy) {
    return pointwise(y, dy, "ops::tanh_backward", "Y",
                     [](float v, float g) { return g * (1.0f - v * v); });
}
tensor gelu_backward(const_tensor_view x, const_tensor_view dy, gelu_approximation approximation) {
    if (approximation == gelu_approximation::tanh)
        return pointwise(x, dy, "ops::gelu_backward", "X",
                         [](float v, float g) { return g * gelu_tanh_grad(v); });
    return pointwise(x, dy, "ops::gelu_backward", "X",
                     [](float v, float g) { return g * gelu_erf_grad(v); });
}
tensor hard_sigmoid_backward(const_tensor_view x, const_tensor_view dy, float alpha, float beta) {
    return pointwise(x, dy, "ops::hard_sigmoid_backward", "X", [alpha, beta](float v, float g) {
        const float t = alpha * v + beta;
        return t > 0.0f && t < 1.0f ? g * alpha : 0.0f;
    });
}
tensor hard_swish_backward(const_tensor_view x, const_tensor_view dy) {
    // PyTorch's boundaries: 0 below −3, x/3 + 1/2 on [−3, 3], 1 above.
    return pointwise(x, dy, "ops::hard_swish_backward", "X", [](float v, float g) {
        if (v < -3.0f) return 0.0f;
        return v <= 3.0f ? g * (v / 3.0f + 0.5f) : g;
    });
}
tensor clip_backward(const_tensor_view x, const_tensor_view dy, float lo, float hi) {
    return pointwise(x, dy, "ops::clip_backward", "X",
                     [lo, hi](float v, float g) { return v >= lo && v <= hi ? g : 0.0f; });
}
tensor erf_backward(const_tensor_view x, const_tensor_view dy) {
    return pointwise(x, dy, "ops::erf_backward", "X", [](float v, float g) {
        return static_cast<float>(g * 1.1283791670955126 * std::exp(-double(v) * v)); // 2/√π
    });
}
tensor sqrt_backward(const_tensor_view y, const_tensor_view dy) {
    return pointwise(y, dy, "ops::sqrt_backward", "Y",
                     [](float v, float g) { return g / (2.0f * v); });
}
tensor exp_backward(const_tensor_view y, const_tensor_view dy) {
    return pointwise(y, dy, "ops::exp_backward", "Y", [](float v, float g) { return g * v; });
}
tensor log_backward(const_tensor_view x, const_tensor_view dy) {
    return pointwise(x, dy, "ops::log_backward", "X", [](float v, float g) { return g / v; });
}
tensor neg_backward(const_tensor_view dy) {
    return pointwise(dy, dy, "ops::neg_backward", "dY", [](float, float g) { return -g; });
}
tensor reciprocal_backward(const_tensor_view y, const_tensor_view dy) {
    return pointwise(y, dy, "ops::reciprocal_backward", "Y",
                     [](float v, float g) { return -g * v * v; });
}
tensor abs_backward(const_tensor_view x, const_tensor_view dy) {
    return pointwise(x, dy, "ops::abs_backward", "X",
                     [](float v, float g) { return v > 0.0f ? g : (v < 0.0f ? -g : 0.0f); });
}
tensor sin_backward(const_tensor_view x, const_tensor_view dy) {
    return pointwise(x, dy, "ops::sin_backward", "X",
                     [](float v, float g) { return g * std::cos(v); });
}
tensor cos_backward(const_tensor_view x, const_tensor_view dy) {
    return pointwise(x, dy, "ops::cos_backward", "X",
                     [](float v, float g) { return -g * std::sin(v); });
}
tensor softplus_backward(const_tensor_view x, const_tensor_view dy) {
    require_f32(x, "ops::softplus_backward", "X");
    const tensor s = sigmoid(x);
    return pointwise(s, dy, "ops::softplus_backward", "X", [](float v, float g) { return g * v; });
}
tensor elu_backward(const_tensor_view x, const_tensor_view dy, float alpha) {
    return pointwise(x, dy, "ops::elu_backward", "X",
                     [alpha](float v, float g) { return v >= 0.0f ? g : g * alpha * std::exp(v); });
}

tensor softmax_backward(const_tensor_view y, const_tensor_view dy, std::int64_t axis,
                        bool coerce_2d) {
    return softmax_grad(
        y, dy, axis, coerce_2d, "ops::softmax_backward",
        [](const float* p, const float* g, float* d, std::int64_t len, std::int64_t inner) {
            double s = 0.0; // Σ dY·y
            for (std::int64_t j = 0; j < len; ++j)
                s += double(g[j * inner]) * p[j * inner];
            for (std::int64_t j = 0; j < len; ++j)
                d[j * inner] = static_cast<float>(p[j * inner] * (g[j * inner] - s));
        });
}

tensor log_softmax_backward(const_tensor_view y, const_tensor_view dy, std::int64_t axis,
                            bool coerce_2d) {
    return softmax_grad(
        y, dy, axis, coerce_2d, "ops::log_softmax_backward",
        [](const float* p, const float* g, float* d, std::int64_t len, std::int64_t inner) {
            double s = 0.0; // Σ dY
            for (std::int64_t j = 0; j < len; ++j)
                s += g[j * inner];
            for (std::int64_t j = 0; j < len; ++j)
                d[j * inner] =
                    static_cast<float>(g[j * inner] - std::exp(double(p[j * inner])) * s);
        });
}

} // namespace hone::ops
