// Backward of the data-movement operators (see grad.hpp): Reshape (and its kin), Transpose,
// Concat, Slice, Gather, Split and constant Pad.
#include "common.hpp"
#include "grad.hpp"
#include "indexing.hpp"

#include <algorithm>
#include <fmt/ranges.h>
#include <numeric>

namespace hone::ops {

using detail::require_f32;

namespace {

using index_maps = std::vector<std::vector<std::int64_t>>;

void require_dims(const_tensor_view v, const shape& want, const char* op, const char* what) {
    if (!(v.dims() == want))
        fail(status::shape_mismatch, fmt::format("{}: {} has shape {}, expected {}", op, what,
                                                 v.dims().to_string(), want.to_string()));
}

shape with_dim(const shape& dims, std::size_t axis, std::int64_t value) {
    std::vector<std::int64_t> v(dims.dims().begin(), dims.dims().end());
    v[axis] = value;
    return shape(std::span<const std::int64_t>(v));
}

// dX[i₀, …] = dY[inv₀[i₀], …], or 0 where some inv holds −1 (inv[a]: for each index on axis a
// of X, the index on axis a of dY the forward wrote it to, or −1). Rows of X in parallel.
tensor place_back(const_tensor_view dy, const shape& x_dims, const index_maps& inv) {
    tensor out = new_result(dtype::f32, x_dims);
    const std::int64_t n = out.numel();
    const auto* s = static_cast<const float*>(dy.data());
    auto* pd = static_cast<float*>(out.data());
    const std::size_t r = x_dims.rank();
    if (n == 0) return out;
    if (r == 0) {
        pd[0] = s[0];
        return out;
    }
    index_maps off(r); // element offsets into dY, −1 outside
    for (std::size_t a = 0; a < r; ++a)
        for (const auto i : inv[a])
            off[a].push_back(i < 0 ? -1 : i * dy.stride(a));
    const std::int64_t inner = x_dims[r - 1];
    const auto& last = off[r - 1];
    detail::in_team(detail::threads_for(n), [&] {
#pragma omp for schedule(static)
        for (std::int64_t row = 0; row < n / inner; ++row) {
            std::int64_t base = 0, rest = row;
            bool inside = true;
            for (std::size_t a = r - 1; a-- > 0;) {
                const std::int64_t o = off[a][static_cast<std::size_t>(rest % x_dims[a])];
                rest /= x_dims[a];
                inside = inside && o >= 0;
                base += o;
            }
            float* d = pd + row * inner;
            for (std::int64_t i = 0; i < inner; ++i) {
                const std::int64_t o = last[static_cast<std::size_t>(i)];
                d[i] = inside && o >= 0 ? s[base + o] : 0.0f;
            }
        }
    });
    return out;
}

// The identity maps of x_dims (every index read, in place).
index_maps identity_maps(const shape& x_dims) {
    index_maps inv(x_dims.rank());
    for (std::size_t a = 0; a < inv.size(); ++a) {
        inv[a].resize(static_cast<std::size_t>(x_dims[a]));
        std::iota(inv[a].begin(), inv[a].end(), std::int64_t{0});
    }
    return inv;
}

// The indices ops::slice reads, in its order, from an axis of `dim` (its clamping rules: it
// slices the axis's own indices).
std::vector<std::int64_t> slice_indices(std::int64_t dim, std::int64_t start, std::int64_t end,
                                        std::int64_t step) {
    std::vector<std::int64_t> all(static_cast<std::size_t>(dim));
    std::iota(all.begin(), all.end(), std::int64_t{0});
    const tensor picked = slice(from_int64_vector(all), std::span(&start, 1), std::span(&end, 1),
                                {}, std::span(&step, 1));
    const auto v = picked.span<std::int64_t>();
    return {v.begin(), v.end()};
}

// Axes normalized for `op`, each once (empty = all of rank r, in order).
std::vector<std::size_t> unique_axes(std::span<const std::int64_t> axes, std::size_t count,
                                     std::size_t r, const char* op) {
    std::vector<std::size_t> out;
    std::vector<bool> seen(r, false);
    for (std::size_t i = 0; i < count; ++i) {
        const auto a = static_cast<std::size_t>(
            normalize_axis(axes.empty() ? static_cast<std::int64_t>(i) : axes[i], r, op));
        if (seen[a]) fail(status::invalid_argument, fmt::format("{}: axis {} is repeated", op, a));
        seen[a] = true;
        out.push_back(a);
    }
    return out;
}

} // namespace

tensor reshape_backward(const_tensor_view dy, const shape& x_dims) {
    const char* op = "ops::reshape_backward";
    require_f32(dy, op, "dY");
    if (dy.numel() != x_dims.numel())
        fail(status::shape_mismatch,
             fmt::format("{}: dY has shape {} ({} elements), X has {} ({})", op,
                         dy.dims().to_string(), dy.numel(), x_dims.to_string(), x_dims.numel()));
    return detail::copy_as(dy, x_dims);
}

tensor transpose_backward(const_tensor_view dy, std::span<const std::int64_t> perm) {
    const char* op = "ops::transpose_backward";
    require_f32(dy, op, "dY");
    if (perm.empty()) return transpose(dy); // reversing is its own inverse
    const std::size_t r = dy.rank();
    std::vector<std::int64_t> inverse(r, -1);
    for (std::size_t i = 0; i < perm.size(); ++i) {
        const bool valid = perm.size() == r && perm[i] >= 0 &&
                           perm[i] < static_cast<std::int64_t>(r) &&
                           inverse[static_cast<std::size_t>(perm[i])] < 0;
        if (!valid)
            fail(status::invalid_argument,
                 fmt::format("{}: perm [{}] is not a permutation of the {} axes of dY {}", op,
                             fmt::join(perm, ","), r, dy.dims().to_string()));
        inverse[static_cast<std::size_t>(perm[i])] = static_cast<std::int64_t>(i);
    }
    return transpose(dy, inverse);
}

std::vector<tensor> concat_backward(const_tensor_view dy, std::span<const shape> input_dims,
                                    std::int64_t axis) {
    const char* op = "ops::concat_backward";
    require_f32(dy, op, "dY");
    if (input_dims.empty()) fail(status::invalid_argument, fmt::format("{}: no inputs", op));
    const shape& first = input_dims[0];
    const auto a = static_cast<std::size_t>(normalize_axis(axis, first.rank(), op));
    std::int64_t total = 0;
    for (std::size_t i = 0; i < input_dims.size(); ++i) {
        const shape& in = input_dims[i];
        if (!(in.rank() == first.rank() && with_dim(in, a, 0) == with_dim(first, a, 0)))
            fail(status::shape_mismatch,
                 fmt::format("{}: input {} has shape {}, input 0 has {} (they may differ only on "
                             "axis {})",
                             op, i, in.to_string(), first.to_string(), a));
        total += in[a];
    }
    require_dims(dy, with_dim(first, a, total), op, "dY");
    std::vector<tensor> grads;
    std::int64_t begin = 0;
    for (const auto& in : input_dims) {
        const std::int64_t b[1] = {begin}, e[1] = {begin + in[a]}, ax[1] = {std::int64_t(a)};
        grads.push_back(slice(dy, b, e, ax));
        begin += in[a];
    }
    return grads;
}

tensor slice_backward(const shape& x_dims, const_tensor_view dy,
                      std::span<const std::int64_t> starts, std::span<const std::int64_t> ends,
                      std::span<const std::int64_t> axes, std::span<const std::int64_t> steps) {
    const char* op = "ops::slice_backward";
    require_f32(dy, op, "dY");
    const std::size_t count = starts.size();
    if (ends.size() != count || (!axes.empty() && axes.size() != count) ||
        (!steps.empty() && steps.size() != count))
        fail(status::invalid_argument,
             fmt::format("{}: {} starts, {} ends, {} axes and {} steps (axes and steps may be "
                         "empty; the others must match)",
                         op, count, ends.size(), axes.size(), steps.size()));
    const auto ax = unique_axes(axes, count, x_dims.rank(), op);
    index_maps inv = identity_maps(x_dims);
    shape dy_dims = x_dims;
    for (std::size_t i = 0; i < count; ++i) {
        const std::int64_t step = steps.empty() ? 1 : steps[i];
        if (step == 0)
            fail(status::invalid_argument, fmt::format("{}: step 0 on axis {}", op, ax[i]));
        const auto read = slice_indices(x_dims[ax[i]], starts[i], ends[i], step);
        auto& map = inv[ax[i]];
        std::fill(map.begin(), map.end(), -1);
        for (std::size_t j = 0; j < read.size(); ++j)
            map[static_cast<std::size_t>(read[j])] = static_cast<std::int64_t>(j);
        dy_dims = with_dim(dy_dims, ax[i], static_cast<std::int64_t>(read.size()));
    }
    require_dims(dy, dy_dims, op, "dY");
    return place_back(dy, x_dims, inv);
}

tensor gather_backward(const shape& data_dims, const_tensor_view indices, const_tensor_view dy,
                       std::int64_t axis) {
    const char* op = "ops::gather_backward";
    require_f32(dy, op, "dY");
    if (indices.type() != dtype::i64 && indices.type() != dtype::i32)
        fail(status::dtype_mismatch,
             fmt::format("{}: indices are {}, expected i64 or i32", op, name_of(indices.type())));
    const auto a = static_cast<std::size_t>(normalize_axis(axis, data_dims.rank(), op));
    const std::int64_t dim = data_dims[a];
    const tensor idx_t = cast(indices, dtype::i64);
    const auto idx = idx_t.span<std::int64_t>();
    const auto n = static_cast<std::int64_t>(idx.size());
    // Positions reading each row k of the axis, in index order (a stable counting sort).
    std::vector<std::int64_t> first(static_cast<std::size_t>(dim) + 1, 0), order(idx.size());
    for (std::size_t j = 0; j < idx.size(); ++j) {
        if (idx[j] < -dim || idx[j] >= dim)
            fail(status::out_of_range,
                 fmt::format("{}: index {} (at position {}) is outside [{}, {}] on axis {} of {}",
                             op, idx[j], j, -dim, dim - 1, a, data_dims.to_string()));
        ++first[static_cast<std::size_t>(idx[j] < 0 ? idx[j] + dim : idx[j]) + 1];
    }
    std::partial_sum(first.begin(), first.end(), first.begin());
    std::vector<std::int64_t> cursor(first.begin(), first.end() - 1);
    for (std::size_t j = 0; j < idx.size(); ++j)
        order[static_cast<std::size_t>(
            cursor[static_cast<std::size_t>(idx[j] < 0 ? idx[j] + dim : idx[j])]++)] =
            static_cast<std::int64_t>(j);
    std::vector<std::int64_t> dims(data_dims.dims().begin(), data_dims.dims().begin() + a);
    dims.insert(dims.end(), indices.dims().dims().begin(), indices.dims().dims().end());
    dims.insert(dims.end(), data_dims.dims().begin() + a + 1, data_dims.dims().end());
    if (dims.size() > shape::max_rank)
        fail(status::shape_mismatch, fmt::format("{}: dY would have rank {}", op, dims.size()));
    require_dims(dy, shape(std::span<const std::int64_t>(dims)), op, "dY");
    std::int64_t outer = 1, inner = 1;
    for (std::size_t d = 0; d < a; ++d)
        outer *= data_dims[d];
    for (std::size_t d = a + 1; d < data_dims.rank(); ++d)
        inner *= data_dims[d];
    const detail::contiguous_f32 g(dy);
    tensor out = new_result(dtype::f32, data_dims);
    auto* pd = static_cast<float*>(out.data());
    detail::in_team(detail::threads_for(out.numel() + dy.numel()), [&] {
        std::vector<double> acc(static_cast<std::size_t>(inner));
#pragma omp for schedule(static)
        for (std::int64_t row = 0; row < outer * dim; ++row) { // row (o, k) of dX
            const std::int64_t o = row / dim, k = row % dim;
            std::fill(acc.begin(), acc.end(), 0.0);
            for (auto p = first[std::size_t(k)]; p < first[std::size_t(k) + 1]; ++p) {
                const float* s = g.data + (o * n + order[std::size_t(p)]) * inner;
                for (std::int64_t c = 0; c < inner; ++c)
                    acc[std::size_t(c)] += s[c];
            }
            for (std::int64_t c = 0; c < inner; ++c)
                pd[row * inner + c] = static_cast<float>(acc[std::size_t(c)]);
        }
    });
    return out;
}

tensor split_backward(const shape& x_dims, std::span<const optional_view> dys,
                      std::span<const std::int64_t> sizes, std::int64_t axis) {
    const char* op = "ops::split_backward";
    const auto a = static_cast<std::size_t>(normalize_axis(axis, x_dims.rank(), op));
    if (dys.size() != sizes.size())
        fail(status::invalid_argument,
             fmt::format("{}: {} gradients for {} parts", op, dys.size(), sizes.size()));
    std::int64_t total = 0;
    bool non_negative = true;
    for (const auto s : sizes) {
        non_negative = non_negative && s >= 0;
        total += s;
    }
    if (!non_negative || total != x_dims[a])
        fail(status::invalid_argument,
             fmt::format("{}: split [{}] does not cover axis {} of {} ({} elements)", op,
                         fmt::join(sizes, ","), a, x_dims.to_string(), x_dims[a]));
    if (sizes.empty()) return tensor(dtype::f32, x_dims);
    std::vector<tensor> zeros; // for the absent parts
    std::vector<const_tensor_view> parts;
    for (std::size_t i = 0; i < sizes.size(); ++i) {
        const shape part = with_dim(x_dims, a, sizes[i]);
        if (dys[i]) {
            require_f32(*dys[i], op, "dY");
            require_dims(*dys[i], part, op, fmt::format("dY {}", i).c_str());
            parts.push_back(*dys[i]);
        } else {
            zeros.emplace_back(dtype::f32, part);
            parts.push_back(zeros.back());
        }
    }
    return concat(parts, static_cast<std::int64_t>(a));
}

tensor pad_backward(const shape& x_dims, const_tensor_view dy, std::span<const std::int64_t> pads,
                    std::span<const std::int64_t> axes) {
    const char* op = "ops::pad_backward";
    require_f32(dy, op, "dY");
    const std::size_t r = x_dims.rank();
    const auto ax = unique_axes(axes, axes.empty() ? r : axes.size(), r, op);
    if (pads.size() != 2 * ax.size())
        fail(status::invalid_argument,
             fmt::format("{}: pads [{}] has {} values, expected {} (begin and end for {} axes)", op,
                         fmt::join(pads, ","), pads.size(), 2 * ax.size(), ax.size()));
    index_maps inv = identity_maps(x_dims);
    shape dy_dims = x_dims;
    for (std::size_t i = 0; i < ax.size(); ++i) {
        const std::int64_t begin = pads[i], len = x_dims[ax[i]] + begin + pads[i + ax.size()];
        if (len < 0)
            fail(status::invalid_argument,
                 fmt::format("{}: pads {} and {} crop more than the {} elements of axis {}", op,
                             begin, pads[i + ax.size()], x_dims[ax[i]], ax[i]));
        for (auto& v : inv[ax[i]]) // X's index v lands on v + begin of dY, if inside
            v = v + begin >= 0 && v + begin < len ? v + begin : -1;
        dy_dims = with_dim(dy_dims, ax[i], len);
    }
    require_dims(dy, dy_dims, op, "dY");
    return place_back(dy, x_dims, inv);
}

} // namespace hone::ops
