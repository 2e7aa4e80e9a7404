// quant_spec validation, shapes and names; b-bit scale/zero-point choice; group indexing.
#include "hone/quantize/quant_spec.hpp"

#include "hone/core/half.hpp"
#include "hone/kernels/quantize.hpp"
#include "quant_common.hpp"

#include <fmt/format.h>

#include <algorithm>

namespace hone {

dtype quant_spec::storage_type() const noexcept {
    if (bits >= 5) return is_signed ? dtype::i8 : dtype::u8;
    if (bits >= 3) return is_signed ? dtype::i4 : dtype::u4;
    return dtype::u8;
}

dtype quant_spec::zero_point_type() const noexcept {
    if (bits >= 5) return is_signed ? dtype::i8 : dtype::u8;
    return is_signed ? dtype::i4 : dtype::u4;
}

std::string quant_spec::to_string() const {
    std::string g;
    switch (granularity) {
    case quant_granularity::per_tensor: g = "per_tensor"; break;
    case quant_granularity::per_channel:
        g = fmt::format("per_channel(axis {})", channel_axis);
        break;
    case quant_granularity::per_group:
        g = fmt::format("per_group(axis {}, size {})", group_axis, group_size);
        break;
    default: g = fmt::format("granularity {}", static_cast<int>(granularity));
    }
    return fmt::format("int{} {} {} {} {} scales", bits, is_signed ? "signed" : "unsigned",
                       symmetric ? "symmetric" : "affine", g, name_of(scale_type));
}

void validate(const quant_spec& spec, std::string_view what) {
    if (spec.bits < 2 || spec.bits > 8)
        fail(status::invalid_argument,
             fmt::format("quant_spec for '{}': bits = {} is outside 2…8", what, spec.bits));
    const int g = static_cast<int>(spec.granularity);
    if (g < 0 || g > 2)
        fail(status::invalid_argument,
             fmt::format("quant_spec for '{}': granularity {} is not per_tensor (0), per_channel "
                         "(1) or per_group (2)",
                         what, g));
    if (spec.granularity == quant_granularity::per_group && spec.group_size < 1)
        fail(
            status::invalid_argument,
            fmt::format("quant_spec for '{}': group_size = {} must be ≥ 1", what, spec.group_size));
    if (spec.scale_type != dtype::f32 && spec.scale_type != dtype::f16)
        fail(status::invalid_argument,
             fmt::format("quant_spec for '{}': scale_type {} must be f32 or f16", what,
                         name_of(spec.scale_type)));
}

int validate(const quant_spec& spec, const shape& dims, std::string_view what) {
    validate(spec, what);
    if (dims.numel() == 0)
        fail(status::invalid_argument,
             fmt::format("'{}' is empty (shape {}): nothing to quantize", what, dims.to_string()));
    if (spec.granularity == quant_granularity::per_tensor) return 0;
    const int rank = static_cast<int>(dims.rank());
    const bool channel = spec.granularity == quant_granularity::per_channel;
    const int raw = channel ? spec.channel_axis : spec.group_axis;
    const int axis = raw < 0 ? raw + rank : raw;
    if (axis < 0 || axis >= rank)
        fail(status::invalid_argument,
             fmt::format("'{}': {} axis {} is out of range for shape {}", what,
                         channel ? "channel" : "group", raw, dims.to_string()));
    if (!channel && dims[std::size_t(axis)] % spec.group_size != 0)
        fail(status::invalid_argument,
             fmt::format("'{}': group size {} does not divide axis {} of shape {} ({} elements)",
                         what, spec.group_size, axis, dims.to_string(), dims[std::size_t(axis)]));
    return axis;
}

shape scale_shape(const quant_spec& spec, const shape& dims) {
    const int axis = validate(spec, dims, "tensor");
    if (spec.granularity == quant_granularity::per_tensor) return shape{1};
    if (spec.granularity == quant_granularity::per_channel) return shape{dims[std::size_t(axis)]};
    std::vector<std::int64_t> d(dims.dims().begin(), dims.dims().end());
    d[std::size_t(axis)] /= spec.group_size;
    return shape(std::span<const std::int64_t>(d));
}

namespace detail {

group_params choose_params(float lo, float hi, const quant_spec& spec, std::string_view what) {
    group_params p;
    if (spec.bits == 8 || spec.bits == 4) { // the kernel layer's choice, bit for bit
        const auto q = kernels::choose_qparams(lo, hi, spec.storage_type(),
                                               spec.symmetric ? kernels::quant_scheme::symmetric
                                                              : kernels::quant_scheme::affine);
        p = {q.scale, q.zero_point};
    } else { // the same formulas on the b-bit range
        if (!std::isfinite(lo) || !std::isfinite(hi) || lo > hi)
            fail(status::invalid_argument,
                 fmt::format("'{}': range [{}, {}] is not a finite interval", what, lo, hi));
        const float rmin = std::min(lo, 0.0f), rmax = std::max(hi, 0.0f);
        const float qmin = float(spec.qmin()), qmax = float(spec.qmax());
        if (!spec.symmetric) {
            const float width = rmax - rmin;
            if (!std::isfinite(width))
                fail(status::invalid_argument,
                     fmt::format("'{}': range [{}, {}] is too wide for a finite scale", what, lo,
                                 hi));
            p.scale = width == 0.0f ? 1.0f : width / (qmax - qmin);
            if (!(p.scale > 0)) p.scale = std::numeric_limits<float>::denorm_min();
            float zp = round_half_even(qmin - rmin / p.scale);
            zp = zp < qmin ? qmin : (zp > qmax ? qmax : zp);
            p.zero_point = static_cast<std::int32_t>(zp);
        } else {
            const float a = std::max(-rmin, rmax);
            p.zero_point = spec.is_signed ? 0 : (spec.qmax() + 1) / 2;
            const float steps = qmax - float(p.zero_point);
            p.scale = a == 0.0f ? 1.0f : a / steps;
            if (!(p.scale > 0)) p.scale = std::numeric_limits<float>::denorm_min();
        }
    }
    if (spec.scale_type == dtype::f16) {
        // Rounded up to the next f16 when rounding to nearest went down, so the range still
        // fits: every value of [lo, hi] stays within [qmin, qmax] and |x' − x| ≤ scale/2.
        half h = to_half(p.scale);
        if (to_float(h) < p.scale && (h.bits & 0x7fffu) < 0x7c00u) ++h.bits;
        const float r = to_float(h);
        if (!(r > 0) || !std::isfinite(r))
            fail(status::invalid_argument,
                 fmt::format("'{}': scale {} is not representable as a positive finite f16", what,
                             p.scale));
        if (!spec.symmetric && r != p.scale) { // keep 0 exact with the rounded scale
            const float qmin = float(spec.qmin()), qmax = float(spec.qmax());
            float zp = round_half_even(qmin - std::min(lo, 0.0f) / r);
            p.zero_point = static_cast<std::int32_t>(zp < qmin ? qmin : (zp > qmax ? qmax : zp));
        }
        p.scale = r;
    }
    return p;
}

group_map::group_map(const quant_spec& spec, const shape& dims, int axis) {
    if (spec.granularity == quant_granularity::per_tensor) return;
    axis_dim = dims[std::size_t(axis)];
    for (std::size_t d = std::size_t(axis) + 1; d < dims.rank(); ++d)
        inner *= dims[d];
    if (spec.granularity == quant_granularity::per_channel) {
        kind = 1;
        groups = axis_dim;
    } else {
        kind = 2;
        block = spec.group_size;
        groups = dims.numel() / block;
    }
}

namespace {

void check_finite(std::span<const float> v, std::string_view what) {
    const std::size_t i = first_non_finite(v);
    if (i < v.size())
        fail(status::invalid_argument,
             fmt::format("'{}' has a non-finite value ({}) at flat index {}", what, v[i], i));
}

} // namespace

std::vector<float> gather_finite(const_tensor_view x, std::string_view what) {
    if (x.type() != dtype::f32)
        fail(status::dtype_mismatch,
             fmt::format("'{}' is {}, must be f32", what, name_of(x.type())));
    std::vector<float> out(static_cast<std::size_t>(x.numel()));
    if (!out.empty()) {
        if (x.is_contiguous()) {
            const auto s = x.span<float>();
            std::copy(s.begin(), s.end(), out.begin());
        } else {
            tensor dst(dtype::f32, x.dims());
            hone::copy(x, dst);
            const auto s = dst.span<float>();
            std::copy(s.begin(), s.end(), out.begin());
        }
    }
    check_finite(out, what);
    return out;
}

std::span<const float> finite_values(const_tensor_view x, std::string_view what,
                                     std::vector<float>& storage) {
    if (x.type() == dtype::f32 && x.numel() > 0 && x.is_contiguous()) {
        const auto s = x.span<float>();
        check_finite(s, what);
        return s;
    }
    storage = gather_finite(x, what);
    return storage;
}

} // namespace detail
} // namespace hone
