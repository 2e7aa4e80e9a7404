// int32 accumulators back to an 8-bit grid (requantize.hpp).
#include "requantize.hpp"

#include "common.hpp"

#include <cmath>
#include <vector>

namespace hone::ops {

namespace {

std::vector<float> f32_values(const_tensor_view v, const char* what) {
    detail::require_f32(v, "ops::requantize", what);
    const detail::contiguous_f32 c(v);
    return {c.data, c.data + v.numel()};
}

} // namespace

tensor requantize(const_tensor_view acc, const_tensor_view a_scale, const_tensor_view b_scale,
                  const_tensor_view y_scale, optional_view y_zero_point, optional_view bias,
                  std::int64_t axis) {
    if (acc.type() != dtype::i32)
        fail(status::dtype_mismatch,
             fmt::format("ops::requantize: accumulator is {}, expected i32", name_of(acc.type())));
    const auto r = static_cast<std::int64_t>(acc.rank());
    if (axis < 0) axis += r;
    if (axis < 0 || axis >= r)
        fail(status::out_of_range,
             fmt::format("ops::requantize: channel axis {} of a rank-{} accumulator", axis, r));
    const auto channels = acc.dims()[static_cast<std::size_t>(axis)];
    const auto as = f32_values(a_scale, "a_scale"), ys = f32_values(y_scale, "y_scale");
    const auto bs = f32_values(b_scale, "b_scale");
    if (as.size() != 1 || ys.size() != 1)
        fail(status::shape_mismatch, "ops::requantize: a_scale and y_scale must be scalars");
    if (bs.size() != 1 && static_cast<std::int64_t>(bs.size()) != channels)
        fail(status::shape_mismatch,
             fmt::format("ops::requantize: b_scale has {} values, expected 1 or {} (channels)",
                         bs.size(), channels));
    std::vector<float> mult(static_cast<std::size_t>(channels));
    for (std::int64_t c = 0; c < channels; ++c)
        mult[static_cast<std::size_t>(c)] =
            (as[0] * bs[bs.size() == 1 ? 0 : static_cast<std::size_t>(c)]) / ys[0];
    std::vector<std::int32_t> add(static_cast<std::size_t>(channels), 0);
    if (bias) {
        if (bias->type() != dtype::i32 || bias->numel() != channels)
            fail(status::shape_mismatch,
                 fmt::format("ops::requantize: bias must be i32 [{}], it is {} {}", channels,
                             name_of(bias->type()), bias->dims().to_string()));
        const auto b = tensor::copy_of(*bias);
        std::copy(b.span<std::int32_t>().begin(), b.span<std::int32_t>().end(), add.begin());
    }
    dtype out_type = dtype::u8;
    std::int32_t zp = 0;
    if (y_zero_point) {
        if (y_zero_point->numel() != 1 ||
            (y_zero_point->type() != dtype::u8 && y_zero_point->type() != dtype::i8))
            fail(status::dtype_mismatch, "ops::requantize: y_zero_point must be one u8 or i8");
        out_type = y_zero_point->type();
        const auto z = tensor::copy_of(*y_zero_point);
        zp = out_type == dtype::u8 ? z.span<std::uint8_t>()[0] : z.span<std::int8_t>()[0];
    }
    const float lo = out_type == dtype::u8 ? 0.0f : -128.0f;
    const float hi = out_type == dtype::u8 ? 255.0f : 127.0f;
    const auto a = tensor::copy_of(acc);
    const auto* src = a.span<std::int32_t>().data();
    tensor y = new_result(out_type, acc.dims());
    std::int64_t inner = 1;
    for (auto d = static_cast<std::size_t>(axis) + 1; d < acc.rank(); ++d)
        inner *= acc.dims()[d];
    const std::int64_t n = acc.numel();
    auto* u8 = out_type == dtype::u8 ? static_cast<std::uint8_t*>(y.data()) : nullptr;
    auto* s8 = out_type == dtype::i8 ? static_cast<std::int8_t*>(y.data()) : nullptr;
    const int threads = detail::threads_for(n * 4);
    detail::in_team(threads, [&] {
#pragma omp for schedule(static)
        for (std::int64_t i = 0; i < n; ++i) {
            const auto c =
                static_cast<std::size_t>((i / std::max<std::int64_t>(inner, 1)) % channels);
            const float v =
                std::nearbyint(static_cast<float>(std::int64_t{src[i]} + add[c]) * mult[c]) +
                static_cast<float>(zp);
            const float q = std::fmin(std::fmax(v, lo), hi);
            if (u8)
                u8[i] = static_cast<std::uint8_t>(q);
            else
                s8[i] = static_cast<std::int8_t>(q);
        }
    });
    return y;
}

} // namespace hone::ops
