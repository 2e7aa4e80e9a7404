// Backward of the broadcasting elementwise operators (see grad.hpp): reduce_to_shape, Add, Sub,
// Mul, Div, Pow and Where.
#include "common.hpp"
#include "grad.hpp"
#include "reduce.hpp"

#include <algorithm>
#include <cmath>

namespace hone::ops {

using detail::require_f32;

namespace {

const char* backward_name(binary_op op) {
    switch (op) {
    case binary_op::add: return "ops::add_backward";
    case binary_op::sub: return "ops::sub_backward";
    case binary_op::mul: return "ops::mul_backward";
    case binary_op::div: return "ops::div_backward";
    case binary_op::pow: return "ops::pow_backward";
    }
    return "ops::binary_backward";
}

void require_dims(const_tensor_view v, const shape& want, const char* op, const char* what) {
    if (!(v.dims() == want))
        fail(status::shape_mismatch, fmt::format("{}: {} has shape {}, expected {}", op, what,
                                                 v.dims().to_string(), want.to_string()));
}

// `full` (the broadcast shape) summed down to `to`; no copy when the shapes agree.
tensor summed(tensor full, const shape& to) {
    return full.dims() == to ? std::move(full) : reduce_to_shape(full, to);
}

// dst[i] = f(dy[i], a[i], b[i]) over dY's shape, a and b broadcast to it.
template <class F>
tensor grad_apply(const_tensor_view dy, const_tensor_view a, const_tensor_view b, const char* op,
                  F f) {
    const shape& out_shape = dy.dims();
    tensor out = new_result(dtype::f32, out_shape);
    const auto va = broadcast_view(a, out_shape, op);
    const auto vb = broadcast_view(b, out_shape, op);
    const auto* pg = static_cast<const float*>(dy.data());
    const auto* pa = static_cast<const float*>(va.data());
    const auto* pb = static_cast<const float*>(vb.data());
    auto* pd = static_cast<float*>(out.data());
    detail::for_each_row<3>(out_shape, {dy.strides(), va.strides(), vb.strides()},
                            [&](std::int64_t row, const std::array<std::int64_t, 3>& off,
                                const std::array<std::int64_t, 3>& st, std::int64_t inner) {
                                float* d = pd + row * inner;
                                for (std::int64_t i = 0; i < inner; ++i)
                                    d[i] = f(pg[off[0] + i * st[0]], pa[off[1] + i * st[1]],
                                             pb[off[2] + i * st[2]]);
                            });
    return out;
}

} // namespace

tensor reduce_to_shape(const_tensor_view dy, const shape& to) {
    const char* op = "ops::reduce_to_shape";
    require_f32(dy, op, "dY");
    const std::size_t r = dy.rank();
    const std::size_t shift = r - std::min(r, to.rank());
    bool ok = to.rank() <= r;
    std::vector<std::int64_t> axes; // leading axes and axes of 1 that dY broadcast
    for (std::size_t d = 0; d < r; ++d) {
        if (d >= shift && to[d - shift] == dy.dims()[d]) continue;
        ok = ok && (d < shift || to[d - shift] == 1);
        axes.push_back(static_cast<std::int64_t>(d));
    }
    if (!ok)
        fail(status::shape_mismatch, fmt::format("{}: shape {} does not broadcast to dY's shape {}",
                                                 op, to.to_string(), dy.dims().to_string()));
    if (axes.empty()) return detail::copy_as(dy, to);
    return detail::copy_as(reduce(reduce_op::sum, dy, axes, true), to);
}

binary_grads binary_backward(binary_op op, const_tensor_view a, const_tensor_view b,
                             const_tensor_view dy, bool need_a, bool need_b) {
    const char* name = backward_name(op);
    require_f32(a, name, "A");
    require_f32(b, name, "B");
    require_f32(dy, name, "dY");
    require_dims(dy, broadcast_shapes(a.dims(), b.dims(), name), name, "dY");
    auto grad = [&](const shape& to, auto f) { return summed(grad_apply(dy, a, b, name, f), to); };
    binary_grads g;
    switch (op) {
    case binary_op::add:
    case binary_op::sub:
        if (need_a) g.da = reduce_to_shape(dy, a.dims());
        if (need_b) {
            g.db = reduce_to_shape(dy, b.dims());
            if (op == binary_op::sub)
                for (float& v : g.db.span<float>())
                    v = -v;
        }
        break;
    case binary_op::mul:
        if (need_a) g.da = grad(a.dims(), [](float d, float, float y) { return d * y; });
        if (need_b) g.db = grad(b.dims(), [](float d, float x, float) { return d * x; });
        break;
    case binary_op::div:
        if (need_a) g.da = grad(a.dims(), [](float d, float, float y) { return d / y; });
        if (need_b)
            g.db = grad(b.dims(), [](float d, float x, float y) { return -d * x / (y * y); });
        break;
    case binary_op::pow:
        if (need_a)
            g.da = grad(a.dims(),
                        [](float d, float x, float y) { return d * y * std::pow(x, y - 1.0f); });
        if (need_b)
            g.db = grad(b.dims(), [](float d, float x, float y) {
                return x > 0.0f ? d * std::pow(x, y) * std::log(x) : 0.0f;
            });
        break;
    }
    return g;
}

binary_grads where_backward(const_tensor_view cond, const shape& x_dims, const shape& y_dims,
                            const_tensor_view dy) {
    const char* op = "ops::where_backward";
    if (cond.type() != dtype::boolean)
        fail(status::dtype_mismatch,
             fmt::format("{}: condition is {}, expected bool", op, name_of(cond.type())));
    require_f32(dy, op, "dY");
    const shape out = broadcast_shapes(broadcast_shapes(cond.dims(), x_dims, op), y_dims, op);
    require_dims(dy, out, op, "dY");
    const tensor zero(dtype::f32, shape{});
    binary_grads g;
    g.da = summed(where(cond, dy, zero), x_dims);
    g.db = summed(where(cond, zero, dy), y_dims);
    return g;
}

} // namespace hone::ops
