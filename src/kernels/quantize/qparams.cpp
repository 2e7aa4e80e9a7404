// Choice of scale and zero point from a range (ONNX DynamicQuantizeLinear, generalised to every
// quantized type, plus the symmetric scheme). See hone/kernels/quantize.hpp for the formulas.
#include "hone/kernels/quantize.hpp"

#include "quantize.hpp"

#include <cmath>
#include <fmt/format.h>
#include <limits>
#include <vector>

namespace hone::kernels {

namespace {

/// A scale that underflowed to 0 (a range of a few denormals) becomes the smallest positive
/// float, so it stays a valid divisor and the range still fits.
float positive(float scale) {
    return scale > 0.0f ? scale : std::numeric_limits<float>::denorm_min();
}

} // namespace

qparams choose_qparams(float min, float max, dtype type, quant_scheme scheme) {
    constexpr const char* where = "choose_qparams";
    const quant_range r = quant_range_of(type);
    const int raw_scheme = static_cast<int>(scheme);
    if (raw_scheme != 0 && raw_scheme != 1)
        fail(status::invalid_argument,
             fmt::format("{}: scheme {} is not affine (0) or symmetric (1)", where, raw_scheme));
    if (std::isnan(min) || std::isnan(max))
        fail(status::invalid_argument,
             fmt::format("{}: the range [{}, {}] contains NaN", where, min, max));
    constexpr float inf = std::numeric_limits<float>::infinity();
    const bool empty = min == inf && max == -inf;
    if (!empty && (std::isinf(min) || std::isinf(max)))
        fail(status::invalid_argument,
             fmt::format("{}: the range [{}, {}] is not finite", where, min, max));
    if (!empty && min > max)
        fail(status::invalid_argument,
             fmt::format("{}: min {} is greater than max {}", where, min, max));
    const float rmin = empty ? 0.0f : std::min(min, 0.0f);
    const float rmax = empty ? 0.0f : std::max(max, 0.0f);
    const float qmin = static_cast<float>(r.min), qmax = static_cast<float>(r.max);

    qparams q;
    if (scheme == quant_scheme::affine) {
        const float width = rmax - rmin;
        if (!std::isfinite(width))
            fail(status::invalid_argument,
                 fmt::format("{}: the range [{}, {}] is too wide for a finite scale", where, min,
                             max));
        q.scale = width == 0.0f ? 1.0f : positive(width / (qmax - qmin));
        float zp = quantize_rules::round_half_even(qmin - rmin / q.scale);
        zp = zp < qmin ? qmin : (zp > qmax ? qmax : zp);
        q.zero_point = static_cast<std::int32_t>(zp);
    } else {
        const float a = std::max(-rmin, rmax);
        q.zero_point = r.min < 0 ? 0 : (r.max + 1) / 2;
        const float steps = qmax - static_cast<float>(q.zero_point);
        q.scale = a == 0.0f ? 1.0f : positive(a / steps);
    }
    return q;
}

void choose_qparams(std::span<const float> min, std::span<const float> max, dtype type,
                    quant_scheme scheme, std::span<float> scale,
                    std::span<std::int32_t> zero_point) {
    const std::size_t n = min.size();
    if (max.size() != n || scale.size() != n || zero_point.size() != n)
        fail(status::shape_mismatch,
             fmt::format("choose_qparams: min has {} elements, max {}, scale {}, zero_point {}; "
                         "they must be equal",
                         n, max.size(), scale.size(), zero_point.size()));
    std::vector<qparams> out(n);
    for (std::size_t i = 0; i < n; ++i) {
        try {
            out[i] = choose_qparams(min[i], max[i], type, scheme);
        } catch (const error& e) {
            throw error(e.code(), fmt::format("{} (element {})", e.what(), i));
        }
    }
    for (std::size_t i = 0; i < n; ++i) { // outputs written only once every element succeeded
        scale[i] = out[i].scale;
        zero_point[i] = out[i].zero_point;
    }
}

void choose_qparams(const_tensor_view min, const_tensor_view max, dtype type, quant_scheme scheme,
                    tensor_view scale, tensor_view zero_point) {
    constexpr const char* where = "choose_qparams";
    quant_range_of(type); // validates the type
    for (const auto& [t, name] : {std::pair{min, "min"}, std::pair{max, "max"},
                                  std::pair{const_tensor_view(scale), "scale"}})
        if (t.type() != dtype::f32)
            fail(status::dtype_mismatch,
                 fmt::format("{}: '{}' is {}, must be f32", where, name, name_of(t.type())));
    if (zero_point.type() != type)
        fail(status::dtype_mismatch, fmt::format("{}: 'zero_point' is {}, must be {}", where,
                                                 name_of(zero_point.type()), name_of(type)));
    for (const auto& [t, name] :
         {std::pair{max, "max"}, std::pair{const_tensor_view(scale), "scale"},
          std::pair{const_tensor_view(zero_point), "zero_point"}})
        if (!(t.dims() == min.dims()))
            fail(status::shape_mismatch,
                 fmt::format("{}: '{}' has shape {}, 'min' {}; they must be equal", where, name,
                             t.dims().to_string(), min.dims().to_string()));
    if (!scale.is_contiguous() || !zero_point.is_contiguous())
        fail(status::invalid_argument,
             fmt::format("{}: 'scale' and 'zero_point' must be contiguous", where));
    const tensor lo = tensor::copy_of(min), hi = tensor::copy_of(max);
    const auto n = static_cast<std::size_t>(min.numel());
    std::vector<float> s(n);
    std::vector<std::int32_t> z(n);
    choose_qparams(lo.span<float>(), hi.span<float>(), type, scheme, s, z);
    std::vector<std::uint8_t> bytes(n);
    for (std::size_t i = 0; i < n; ++i)
        bytes[i] = static_cast<std::uint8_t>(z[i]);
    std::copy(s.begin(), s.end(), static_cast<float*>(scale.data()));
    auto* zp = static_cast<std::uint8_t*>(zero_point.data());
    if (is_packed(type))
        quantize_ref.pack_nibbles(bytes.data(), n, zp);
    else
        std::copy(bytes.begin(), bytes.end(), zp);
}

} // namespace hone::kernels
