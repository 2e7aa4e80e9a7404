#include "axis_layout.hpp"

#include "hone/core/error.hpp"

#include <fmt/format.h>

namespace hone::kernels {

int normalize_axis(int axis, std::size_t rank, const char* where) {
    const auto r = static_cast<std::int64_t>(rank);
    if (axis < -r || axis >= r)
        fail(status::invalid_argument,
             fmt::format("{}: axis {} is out of range for a tensor of rank {} (valid: [{}, {}])",
                         where, axis, rank, -r, r - 1));
    return axis < 0 ? static_cast<int>(axis + r) : axis;
}

axis_layout make_axis_layout(const shape& dims, const quant_axis& g, const char* where) {
    axis_layout l;
    l.numel = dims.numel();
    const int kind = static_cast<int>(g.kind);
    if (kind < 0 || kind > static_cast<int>(granularity::per_group))
        fail(status::invalid_argument,
             fmt::format("{}: granularity {} is not per_tensor (0), per_channel (1) or "
                         "per_group (2)",
                         where, kind));
    l.kind = g.kind;
    if (g.kind == granularity::per_tensor) {
        l.inner = l.numel;
        return l;
    }
    const int axis = normalize_axis(g.axis, dims.rank(), where);
    for (int d = 0; d < axis; ++d)
        l.outer *= dims[d];
    l.channels = dims[axis];
    for (std::size_t d = axis + 1; d < dims.rank(); ++d)
        l.inner *= dims[d];
    if (g.kind == granularity::per_group) {
        if (g.group_size < 1)
            fail(status::invalid_argument,
                 fmt::format("{}: group size {} must be at least 1", where, g.group_size));
        if (l.channels % g.group_size != 0)
            fail(status::invalid_argument,
                 fmt::format("{}: group size {} does not divide dimension {} (axis {}) of shape {}",
                             where, g.group_size, l.channels, axis, dims.to_string()));
        l.group = g.group_size;
    }
    return l;
}

} // namespace hone::kernels
