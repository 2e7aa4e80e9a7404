// Internal: a tensor seen as [outer, channels, inner] around one axis, and how its elements map
// onto per-tensor / per-channel / per-group parameters (reduction results, scales, zero points).
// Shared by the reduce and quantize families.
#pragma once

#include "hone/core/shape.hpp"
#include "hone/kernels/reduce.hpp"

#include <algorithm>
#include <cstdint>

namespace hone::kernels {

struct axis_layout {
    granularity kind = granularity::per_tensor;
    std::int64_t outer = 1;    ///< product of the dims before the axis
    std::int64_t channels = 1; ///< dims[axis]
    std::int64_t inner = 1;    ///< product of the dims after the axis
    std::int64_t group = 1;    ///< group size for per_group, else 1
    std::int64_t numel = 0;

    /// Number of parameters (results): 1, channels, or outer·(channels/group)·inner.
    std::int64_t params() const noexcept {
        switch (kind) {
        case granularity::per_tensor: return 1;
        case granularity::per_channel: return channels;
        case granularity::per_group: return outer * (channels / group) * inner;
        }
        return 1;
    }
};

/// axis in [-rank, rank) → [0, rank); throws invalid_argument naming `where` otherwise.
int normalize_axis(int axis, std::size_t rank, const char* where);

/// Validates g against dims (axis range, group size ≥ 1 dividing dims[axis], the enum value)
/// and splits dims around the axis. `where` prefixes error messages.
axis_layout make_axis_layout(const shape& dims, const quant_axis& g, const char* where);

/// Walks the flat elements [begin, end) of a contiguous tensor as maximal runs that read their
/// parameters the same way: fn(pos, len, param, vector) where, if !vector, elements
/// [pos, pos+len) all use parameter `param`; if vector, element pos+k uses parameter param+k.
template <class Fn>
void for_each_segment(const axis_layout& l, std::int64_t begin, std::int64_t end, Fn&& fn) {
    const std::int64_t c_count = l.channels, inner = l.inner, b = l.group;
    std::int64_t pos = begin;
    while (pos < end) {
        std::int64_t len = end - pos, param = 0;
        bool vector = false;
        if (l.kind == granularity::per_channel) {
            if (inner == 1) {
                const std::int64_t c = pos % c_count;
                len = std::min(c_count - c, len);
                param = c;
                vector = true;
            } else {
                const std::int64_t i = pos % inner;
                len = std::min(inner - i, len);
                param = (pos / inner) % c_count;
            }
        } else if (l.kind == granularity::per_group) {
            const std::int64_t blocks = c_count / b;
            if (inner == 1) {
                const std::int64_t c = pos % c_count, o = pos / c_count;
                len = std::min(b - c % b, len);
                param = o * blocks + c / b;
            } else {
                const std::int64_t i = pos % inner, c = (pos / inner) % c_count,
                                   o = pos / (inner * c_count);
                len = std::min(inner - i, len);
                param = (o * blocks + c / b) * inner + i;
                vector = true;
            }
        }
        fn(pos, len, param, vector);
        pos += len;
    }
}

} // namespace hone::kernels
