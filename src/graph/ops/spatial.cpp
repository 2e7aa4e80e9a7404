// Spatial attribute resolution shared by Conv and the pools (auto_pad, pads, output sizes).
#include "common.hpp"
#include "ops.hpp"

#include <fmt/ranges.h>

namespace hone::ops {

namespace detail {

resolved_spatial resolve_spatial(std::span<const std::int64_t> in,
                                 std::span<const std::int64_t> kernel, const spatial_params& p,
                                 bool ceil_mode, const char* op) {
    resolved_spatial r;
    r.k = in.size();
    if (r.k < 1 || r.k > 3)
        fail(status::unsupported, fmt::format("{}: {} spatial dims; hone runs 1, 2 or 3", op, r.k));
    auto check_count = [&](const std::vector<std::int64_t>& v, std::size_t want, const char* name) {
        if (!v.empty() && v.size() != want)
            fail(status::invalid_argument, fmt::format("{}: {} [{}] has {} values, expected {}", op,
                                                       name, fmt::join(v, ","), v.size(), want));
    };
    check_count(p.strides, r.k, "strides");
    check_count(p.dilations, r.k, "dilations");
    check_count(p.pads, 2 * r.k, "pads");
    if (kernel.size() != r.k)
        fail(status::shape_mismatch, fmt::format("{}: kernel_shape [{}] has {} dims for {} spatial "
                                                 "dims",
                                                 op, fmt::join(kernel, ","), kernel.size(), r.k));
    for (std::size_t i = 0; i < r.k; ++i) {
        r.in[i] = in[i];
        r.kernel[i] = kernel[i];
        r.stride[i] = p.strides.empty() ? 1 : p.strides[i];
        r.dilation[i] = p.dilations.empty() ? 1 : p.dilations[i];
        if (r.kernel[i] < 1)
            fail(status::invalid_argument,
                 fmt::format("{}: kernel_shape [{}] has a dim < 1", op, fmt::join(kernel, ",")));
        if (r.stride[i] < 1)
            fail(status::invalid_argument,
                 fmt::format("{}: strides [{}] has a value < 1", op, fmt::join(p.strides, ",")));
        if (r.dilation[i] < 1)
            fail(status::invalid_argument, fmt::format("{}: dilations [{}] has a value < 1", op,
                                                       fmt::join(p.dilations, ",")));
        const std::int64_t extent = (r.kernel[i] - 1) * r.dilation[i] + 1;
        switch (p.padding) {
        case auto_pad::notset: {
            r.pad_begin[i] = p.pads.empty() ? 0 : p.pads[i];
            r.pad_end[i] = p.pads.empty() ? 0 : p.pads[i + r.k];
            if (r.pad_begin[i] < 0 || r.pad_end[i] < 0)
                fail(status::invalid_argument,
                     fmt::format("{}: pads [{}] has a negative value", op, fmt::join(p.pads, ",")));
            const std::int64_t span = r.in[i] + r.pad_begin[i] + r.pad_end[i] - extent;
            if (span < 0) {
                r.out[i] = 0;
            } else if (ceil_mode) {
                r.out[i] = (span + r.stride[i] - 1) / r.stride[i] + 1;
                if ((r.out[i] - 1) * r.stride[i] >= r.in[i] + r.pad_begin[i]) --r.out[i];
            } else {
                r.out[i] = span / r.stride[i] + 1;
            }
            break;
        }
        case auto_pad::valid:
            r.out[i] = r.in[i] >= extent ? (r.in[i] - extent) / r.stride[i] + 1 : 0;
            break;
        case auto_pad::same_upper:
        case auto_pad::same_lower: {
            r.out[i] = (r.in[i] + r.stride[i] - 1) / r.stride[i];
            const std::int64_t total =
                std::max<std::int64_t>(0, (r.out[i] - 1) * r.stride[i] + extent - r.in[i]);
            r.pad_begin[i] = p.padding == auto_pad::same_upper ? total / 2 : total - total / 2;
            r.pad_end[i] = total - r.pad_begin[i];
            break;
        }
        }
        if (r.out[i] < 1 && r.in[i] > 0)
            fail(status::shape_mismatch,
                 fmt::format("{}: spatial axis {} of size {} is too small for a kernel of extent "
                             "{} (pads {}+{}): the output would be empty",
                             op, i, r.in[i], extent, r.pad_begin[i], r.pad_end[i]));
        if (r.out[i] < 0) r.out[i] = 0;
    }
    for (std::size_t i = r.k; i < 3; ++i) {
        r.in[i] = r.kernel[i] = r.stride[i] = r.dilation[i] = r.out[i] = 1;
        r.pad_begin[i] = r.pad_end[i] = 0;
    }
    return r;
}

} // namespace detail

} // namespace hone::ops
