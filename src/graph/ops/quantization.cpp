// ONNX DequantizeLinear of INT32 values (ops.hpp): the quantized biases of QDQ models.
#include "ops.hpp"

#include "hone/core/error.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <vector>

namespace hone::ops {

tensor dequantize_int32(const_tensor_view x, const_tensor_view scale, optional_view zero_point,
                        std::int64_t axis) {
    if (x.type() != dtype::i32)
        fail(status::dtype_mismatch,
             fmt::format("ops::dequantize_int32: x is {}, i32 expected", name_of(x.type())));
    if (scale.type() != dtype::f32)
        fail(status::dtype_mismatch, fmt::format("ops::dequantize_int32: scale is {}, f32 expected",
                                                 name_of(scale.type())));
    const auto xs = tensor::copy_of(x);
    const auto ss = tensor::copy_of(scale);
    const auto sv = ss.span<float>();
    std::vector<std::int32_t> zp(sv.size(), 0);
    if (zero_point) {
        if (zero_point->type() != dtype::i32)
            fail(status::dtype_mismatch,
                 fmt::format("ops::dequantize_int32: zero point is {}, i32 expected",
                             name_of(zero_point->type())));
        if (zero_point->numel() != scale.numel())
            fail(status::shape_mismatch,
                 fmt::format("ops::dequantize_int32: zero point of shape {} for scale {}",
                             zero_point->dims().to_string(), scale.dims().to_string()));
        const auto zs = tensor::copy_of(*zero_point);
        std::copy(zs.span<std::int32_t>().begin(), zs.span<std::int32_t>().end(), zp.begin());
    }
    tensor y = new_result(dtype::f32, x.dims());
    const auto q = xs.span<std::int32_t>();
    auto out = y.span<float>();
    const auto value = [&](std::size_t i, std::size_t c) {
        return float(std::int64_t(q[i]) - std::int64_t(zp[c])) * sv[c];
    };
    if (sv.size() == 1 && scale.rank() <= 1) {
        for (std::size_t i = 0; i < q.size(); ++i)
            out[i] = value(i, 0);
        return y;
    }
    const auto a = normalize_axis(axis, x.rank(), "ops::dequantize_int32");
    const auto len = x.dims()[std::size_t(a)];
    if (scale.rank() != 1 || std::int64_t(sv.size()) != len)
        fail(status::shape_mismatch,
             fmt::format("ops::dequantize_int32: scale of shape {} for axis {} of x {}",
                         scale.dims().to_string(), a, x.dims().to_string()));
    std::int64_t inner = 1;
    for (std::size_t d = std::size_t(a) + 1; d < x.rank(); ++d)
        inner *= x.dims()[d];
    for (std::size_t i = 0; i < q.size(); ++i)
        out[i] = value(i, std::size_t((std::int64_t(i) / inner) % len));
    return y;
}

} // namespace hone::ops
