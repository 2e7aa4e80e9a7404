// quantized_tensor: packing, validation, exact dequantization (through the kernel layer's
// dequantize_linear), export to the int4 weight-only form.
#include "hone/quantize/quantized_tensor.hpp"

#include "hone/core/half.hpp"
#include "hone/kernels/quantize.hpp"
#include "quant_common.hpp"

#include <fmt/format.h>

#include <cstring>

namespace hone {
namespace {

std::int64_t storage_elements(const quant_spec& spec, std::int64_t numel) {
    return spec.bits == 2 ? (numel + 3) / 4 : numel;
}

/// Writes integer v (already in range) as element i of a packed buffer of type t.
void put(std::byte* base, dtype t, int bits, std::int64_t i, std::int32_t v) {
    auto* b = reinterpret_cast<std::uint8_t*>(base);
    if (bits == 2) {
        const int shift = int(i % 4) * 2;
        b[i / 4] = std::uint8_t((b[i / 4] & ~(3u << shift)) | ((std::uint32_t(v) & 3u) << shift));
    } else if (t == dtype::i4 || t == dtype::u4) {
        const int shift = int(i % 2) * 4;
        b[i / 2] = std::uint8_t((b[i / 2] & ~(15u << shift)) | ((std::uint32_t(v) & 15u) << shift));
    } else {
        b[i] = std::uint8_t(std::uint32_t(v) & 255u);
    }
}

std::int32_t get(const std::byte* base, dtype t, int bits, bool is_signed, std::int64_t i) {
    const auto* b = reinterpret_cast<const std::uint8_t*>(base);
    std::uint32_t raw;
    int width;
    if (bits == 2) {
        raw = (b[i / 4] >> (int(i % 4) * 2)) & 3u;
        width = 2;
    } else if (t == dtype::i4 || t == dtype::u4) {
        raw = (b[i / 2] >> (int(i % 2) * 4)) & 15u;
        width = 4;
    } else {
        raw = b[i];
        width = 8;
    }
    if (is_signed && (raw >> (width - 1)) & 1u) return std::int32_t(raw) - (1 << width);
    return std::int32_t(raw);
}

/// Data of a 2-bit tensor widened to i4/u4 (the zero points' type) for dequantize_linear.
tensor widen_2bit(const quantized_tensor& q) {
    tensor out(q.spec.zero_point_type(), q.dims);
    for (std::int64_t i = 0; i < q.numel(); ++i)
        put(out.view().bytes(), out.type(), 4, i,
            get(q.data.view().bytes(), dtype::u8, 2, q.spec.is_signed, i));
    return out;
}

} // namespace

quantized_tensor quantized_tensor::from_values(const quant_spec& spec, const shape& dims,
                                               std::span<const std::int32_t> q,
                                               std::span<const float> scales,
                                               std::span<const std::int32_t> zero_points,
                                               std::string_view what) {
    hone::validate(spec, dims, what);
    const shape sshape = scale_shape(spec, dims);
    if (static_cast<std::int64_t>(q.size()) != dims.numel())
        fail(status::shape_mismatch, fmt::format("'{}': {} values for shape {} ({} elements)", what,
                                                 q.size(), dims.to_string(), dims.numel()));
    if (static_cast<std::int64_t>(scales.size()) != sshape.numel())
        fail(status::shape_mismatch,
             fmt::format("'{}': {} scales, expected {} (shape {})", what, scales.size(),
                         sshape.numel(), sshape.to_string()));
    if (spec.has_zero_points() && static_cast<std::int64_t>(zero_points.size()) != sshape.numel())
        fail(status::shape_mismatch, fmt::format("'{}': {} zero points, expected {}", what,
                                                 zero_points.size(), sshape.numel()));
    quantized_tensor out;
    out.spec = spec;
    out.dims = dims;
    const std::int32_t qmin = spec.qmin(), qmax = spec.qmax();
    if (spec.bits == 2)
        out.data = tensor(dtype::u8, shape{storage_elements(spec, dims.numel())});
    else
        out.data = tensor(spec.storage_type(), dims);
    std::byte* dbase = static_cast<std::byte*>(out.data.data());
    for (std::size_t i = 0; i < q.size(); ++i) {
        if (q[i] < qmin || q[i] > qmax)
            fail(status::out_of_range, fmt::format("'{}': value {} at flat index {} is outside "
                                                   "the {}-bit range [{}, {}]",
                                                   what, q[i], i, spec.bits, qmin, qmax));
        put(dbase, out.data.type(), spec.bits, std::int64_t(i), q[i]);
    }
    out.scales = tensor(spec.scale_type, sshape);
    for (std::size_t i = 0; i < scales.size(); ++i) {
        const float s = scales[i];
        if (!(s > 0) || !std::isfinite(s))
            fail(status::invalid_argument,
                 fmt::format("'{}': scale {} at index {} must be finite and > 0", what, s, i));
        if (spec.scale_type == dtype::f16) {
            const half h = to_half(s);
            if (!(to_float(h) > 0) || !std::isfinite(to_float(h)))
                fail(status::invalid_argument,
                     fmt::format("'{}': scale {} at index {} does not fit f16", what, s, i));
            out.scales.span<half>()[i] = h;
        } else {
            out.scales.span<float>()[i] = s;
        }
    }
    if (spec.has_zero_points()) {
        out.zero_points = tensor(spec.zero_point_type(), sshape);
        for (std::size_t i = 0; i < zero_points.size(); ++i) {
            if (zero_points[i] < qmin || zero_points[i] > qmax)
                fail(status::out_of_range,
                     fmt::format("'{}': zero point {} at index {} is outside [{}, {}]", what,
                                 zero_points[i], i, qmin, qmax));
            put(out.zero_points.view().bytes(), out.zero_points.type(), 8, std::int64_t(i),
                zero_points[i]); // nibble or byte, by dtype
        }
    } else {
        out.zero_points = tensor(spec.zero_point_type(), shape{0});
    }
    return out;
}

void quantized_tensor::validate(std::string_view what) const {
    hone::validate(spec, dims, what);
    const shape sshape = scale_shape(spec, dims);
    const shape dshape = spec.bits == 2 ? shape{storage_elements(spec, dims.numel())} : dims;
    const dtype dtype_expected = spec.bits == 2 ? dtype::u8 : spec.storage_type();
    if (data.type() != dtype_expected || data.dims() != dshape)
        fail(status::shape_mismatch,
             fmt::format("'{}': data is {} {}, expected {} {} for {}", what, name_of(data.type()),
                         data.dims().to_string(), name_of(dtype_expected), dshape.to_string(),
                         spec.to_string()));
    if (scales.type() != spec.scale_type || scales.dims() != sshape)
        fail(status::shape_mismatch,
             fmt::format("'{}': scales are {} {}, expected {} {}", what, name_of(scales.type()),
                         scales.dims().to_string(), name_of(spec.scale_type), sshape.to_string()));
    const shape zshape = spec.has_zero_points() ? sshape : shape{0};
    if (zero_points.type() != spec.zero_point_type() || zero_points.dims() != zshape)
        fail(status::shape_mismatch,
             fmt::format("'{}': zero points are {} {}, expected {} {}", what,
                         name_of(zero_points.type()), zero_points.dims().to_string(),
                         name_of(spec.zero_point_type()), zshape.to_string()));
    const auto s = scale_values();
    for (std::size_t i = 0; i < s.size(); ++i)
        if (!(s[i] > 0) || !std::isfinite(s[i]))
            fail(status::invalid_argument,
                 fmt::format("'{}': scale {} at index {} must be finite and > 0", what, s[i], i));
    const std::int32_t qmin = spec.qmin(), qmax = spec.qmax();
    for (auto z : zero_point_values())
        if (z < qmin || z > qmax)
            fail(status::out_of_range,
                 fmt::format("'{}': zero point {} is outside [{}, {}]", what, z, qmin, qmax));
    const std::byte* base = static_cast<const std::byte*>(data.data());
    for (std::int64_t i = 0; i < numel(); ++i) {
        const auto v = get(base, data.type(), spec.bits, spec.is_signed, i);
        if (v < qmin || v > qmax)
            fail(status::out_of_range,
                 fmt::format("'{}': value {} at flat index {} is outside [{}, {}]", what, v, i,
                             qmin, qmax));
    }
}

std::int32_t quantized_tensor::value(std::int64_t i) const {
    if (i < 0 || i >= numel())
        fail(status::out_of_range,
             fmt::format("quantized_tensor::value: index {} outside [0, {})", i, numel()));
    return get(data.view().bytes(), data.type(), spec.bits, spec.is_signed, i);
}

std::vector<std::int32_t> quantized_tensor::values() const {
    std::vector<std::int32_t> out(static_cast<std::size_t>(numel()));
    const std::byte* base = static_cast<const std::byte*>(data.data());
    for (std::int64_t i = 0; i < numel(); ++i)
        out[std::size_t(i)] = get(base, data.type(), spec.bits, spec.is_signed, i);
    return out;
}

std::vector<float> quantized_tensor::scale_values() const {
    std::vector<float> out(static_cast<std::size_t>(scales.numel()));
    if (scales.type() == dtype::f16) {
        const auto s = scales.span<half>();
        for (std::size_t i = 0; i < out.size(); ++i)
            out[i] = to_float(s[i]);
    } else {
        const auto s = scales.span<float>();
        std::copy(s.begin(), s.end(), out.begin());
    }
    return out;
}

std::vector<std::int32_t> quantized_tensor::zero_point_values() const {
    std::vector<std::int32_t> out(static_cast<std::size_t>(scales.numel()), 0);
    if (zero_points.numel() == 0) return out;
    const bool sgn = zero_points.type() == dtype::i8 || zero_points.type() == dtype::i4;
    const std::byte* base = static_cast<const std::byte*>(zero_points.data());
    for (std::size_t i = 0; i < out.size() && std::int64_t(i) < zero_points.numel(); ++i)
        out[i] = get(base, zero_points.type(), 8, sgn, std::int64_t(i));
    return out;
}

std::int64_t quantized_tensor::group_of(std::int64_t i) const {
    const int axis = hone::validate(spec, dims, "tensor");
    return detail::group_map(spec, dims, axis)(i);
}

void quantized_tensor::dequantize(tensor_view dst) const {
    validate("quantized_tensor");
    if (dst.type() != dtype::f32 || dst.dims() != dims)
        fail(status::shape_mismatch,
             fmt::format("quantized_tensor::dequantize: dst is {} {}, expected f32 {}",
                         name_of(dst.type()), dst.dims().to_string(), dims.to_string()));
    const int axis = hone::validate(spec, dims, "quantized_tensor");
    tensor scale_f32(dtype::f32, scales.dims());
    hone::copy(scales, scale_f32); // f16 → f32 exactly
    kernels::quant_params p;
    p.scale = scale_f32.view();
    if (spec.has_zero_points()) p.zero_point = zero_points.view();
    p.axis = axis;
    p.block_size = spec.granularity == quant_granularity::per_group ? spec.group_size : 0;
    if (spec.bits == 2) {
        const tensor wide = widen_2bit(*this);
        kernels::dequantize_linear(wide, p, dst);
    } else {
        kernels::dequantize_linear(data, p, dst);
    }
}

tensor quantized_tensor::dequantize() const {
    tensor out(dtype::f32, dims);
    dequantize(out.view());
    return out;
}

kernels::int4_weights quantized_tensor::to_int4_weights() const {
    validate("quantized_tensor");
    const bool ok = spec.bits == 4 && dims.rank() == 2 &&
                    spec.granularity == quant_granularity::per_group &&
                    (spec.group_axis == 1 || spec.group_axis == -1) && spec.group_size % 2 == 0 &&
                    (!spec.is_signed || spec.symmetric);
    if (!ok)
        fail(status::unsupported,
             fmt::format("to_int4_weights: {} on shape {} is not the kernel's int4 form (needs "
                         "4 bits, per_group along the last axis of a [N, K] tensor, even group "
                         "size, signed symmetric or unsigned)",
                         spec.to_string(), dims.to_string()));
    kernels::int4_weights w;
    w.weights = data.clone();
    w.scales = scales.clone();
    w.zero_points = spec.has_zero_points() ? zero_points.clone() : tensor(dtype::u4, shape{0});
    w.group_size = spec.group_size;
    return w;
}

} // namespace hone
