// Backward of ReduceMean and ReduceSum (see grad.hpp): dY broadcast back over the reduced axes.
#include "common.hpp"
#include "grad.hpp"

#include <fmt/ranges.h>

namespace hone::ops {

using detail::require_f32;

namespace {

// dX = dY (÷ the count for the mean) broadcast over the axes `axes` reduced (ops::reduce's axis
// rules).
tensor spread(const shape& x_dims, const_tensor_view dy, std::span<const std::int64_t> axes,
              bool keepdims, bool noop_with_empty_axes, bool mean, const char* op) {
    require_f32(dy, op, "dY");
    const std::size_t r = x_dims.rank();
    std::vector<bool> reduced(r, axes.empty() && !noop_with_empty_axes);
    for (const auto axis : axes) {
        const auto a = static_cast<std::size_t>(normalize_axis(axis, r, op));
        if (reduced[a])
            fail(status::invalid_argument, fmt::format("{}: axis {} is repeated", op, axis));
        reduced[a] = true;
    }
    std::vector<std::int64_t> dy_dims; // as the forward gave them
    std::int64_t count = 1;
    for (std::size_t d = 0; d < r; ++d) {
        if (reduced[d]) count *= x_dims[d];
        if (!reduced[d] || keepdims) dy_dims.push_back(reduced[d] ? 1 : x_dims[d]);
    }
    if (!(dy.dims() == shape(std::span<const std::int64_t>(dy_dims))))
        fail(status::shape_mismatch,
             fmt::format("{}: dY has shape {}, expected [{}] for X {} (keepdims={})", op,
                         dy.dims().to_string(), fmt::join(dy_dims, ", "), x_dims.to_string(),
                         keepdims));
    strides_array strides{}; // dY's strides over x's axes, 0 on the reduced ones
    for (std::size_t d = 0, j = 0; d < r; ++d) {
        if (!reduced[d]) strides[d] = dy.stride(j);
        if (!reduced[d] || keepdims) ++j;
    }
    tensor out = new_result(dtype::f32, x_dims);
    const double divisor = mean ? static_cast<double>(count) : 1.0;
    const auto* s = static_cast<const float*>(dy.data());
    auto* pd = static_cast<float*>(out.data());
    detail::for_each_row<1>(x_dims, {strides},
                            [&](std::int64_t row, const std::array<std::int64_t, 1>& off,
                                const std::array<std::int64_t, 1>& st, std::int64_t inner) {
                                float* d = pd + row * inner;
                                for (std::int64_t i = 0; i < inner; ++i)
                                    d[i] = static_cast<float>(s[off[0] + i * st[0]] / divisor);
                            });
    return out;
}

} // namespace

tensor reduce_mean_backward(const shape& x_dims, const_tensor_view dy,
                            std::span<const std::int64_t> axes, bool keepdims,
                            bool noop_with_empty_axes) {
    return spread(x_dims, dy, axes, keepdims, noop_with_empty_axes, true,
                  "ops::reduce_mean_backward");
}

tensor reduce_sum_backward(const shape& x_dims, const_tensor_view dy,
                           std::span<const std::int64_t> axes, bool keepdims,
                           bool noop_with_empty_axes) {
    return spread(x_dims, dy, axes, keepdims, noop_with_empty_axes, false,
                  "ops::reduce_sum_backward");
}

} // namespace hone::ops
