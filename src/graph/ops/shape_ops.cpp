// Shape and data-movement operators: Flatten, Reshape, Transpose, Concat, Slice, Squeeze,
// Unsqueeze, Gather, Shape, Expand. Any byte-addressable dtype.
#include "common.hpp"
#include "ops.hpp"

#include <algorithm>
#include <cstring>
#include <fmt/ranges.h>
#include <optional>

namespace hone::ops {

using detail::require_byte_addressable;

namespace {

// d[i] = the element at s + i·step bytes, i < inner (a size known at compile time is one move).
template <std::size_t E>
void gather_row(std::byte* d, const std::byte* s, std::int64_t step, std::int64_t inner) {
    for (std::int64_t i = 0; i < inner; ++i)
        std::memcpy(d + static_cast<std::size_t>(i) * E, s + i * step, E);
}
void gather_row(std::byte* d, const std::byte* s, std::int64_t step, std::int64_t inner,
                std::size_t es) {
    for (std::int64_t i = 0; i < inner; ++i)
        std::memcpy(d + static_cast<std::size_t>(i) * es, s + i * step, es);
}

// Copies the elements reached by (base, strides in elements, may be negative) over `dims`
// into a new contiguous tensor.
tensor strided_copy(const std::byte* base, dtype type, const shape& dims,
                    const strides_array& strides) {
    tensor out = new_result(type, dims);
    const std::size_t es = size_of(type);
    auto* pd = static_cast<std::byte*>(out.data());
    detail::for_each_row<1>(dims, {strides},
                            [&](std::int64_t row, const std::array<std::int64_t, 1>& off,
                                const std::array<std::int64_t, 1>& st, std::int64_t inner) {
                                std::byte* d = pd + static_cast<std::size_t>(row * inner) * es;
                                const std::byte* s = base + off[0] * static_cast<std::int64_t>(es);
                                if (st[0] == 1) {
                                    std::memcpy(d, s, static_cast<std::size_t>(inner) * es);
                                    return;
                                }
                                const std::int64_t step = st[0] * static_cast<std::int64_t>(es);
                                switch (es) {
                                case 1: gather_row<1>(d, s, step, inner); break;
                                case 2: gather_row<2>(d, s, step, inner); break;
                                case 4: gather_row<4>(d, s, step, inner); break;
                                case 8: gather_row<8>(d, s, step, inner); break;
                                default: gather_row(d, s, step, inner, es);
                                }
                            });
    return out;
}

shape make_shape(const std::vector<std::int64_t>& dims, const char* op) {
    if (dims.size() > shape::max_rank)
        fail(status::unsupported, fmt::format("{}: result rank {} exceeds hone's maximum {}", op,
                                              dims.size(), shape::max_rank));
    return shape(std::span<const std::int64_t>(dims));
}

} // namespace

tensor flatten(const_tensor_view x, std::int64_t axis) {
    require_byte_addressable(x, "ops::flatten", "input");
    const auto a = static_cast<std::size_t>(normalize_axis(axis, x.rank(), "ops::flatten", true));
    std::int64_t outer = 1, inner = 1;
    for (std::size_t i = 0; i < x.rank(); ++i)
        (i < a ? outer : inner) *= x.dims()[i];
    return detail::copy_as(x, shape{outer, inner});
}

shape reshape_shape(const shape& in, std::span<const std::int64_t> requested, bool allowzero) {
    const char* op = "ops::reshape";
    std::vector<std::int64_t> dims(requested.begin(), requested.end());
    int infer = -1;
    bool has_zero = false;
    std::int64_t known = 1;
    for (std::size_t i = 0; i < dims.size(); ++i) {
        if (dims[i] == -1) {
            if (infer >= 0)
                fail(status::invalid_argument, fmt::format("{}: shape {} has more than one -1", op,
                                                           fmt::join(requested, ",")));
            infer = static_cast<int>(i);
            continue;
        }
        if (dims[i] < -1)
            fail(status::invalid_argument,
                 fmt::format("{}: shape {} has the invalid dim {} at position {}", op,
                             fmt::join(requested, ","), dims[i], i));
        if (dims[i] == 0) {
            if (allowzero) {
                has_zero = true;
            } else {
                if (i >= in.rank())
                    fail(
                        status::shape_mismatch,
                        fmt::format("{}: shape {} copies dim {} (a 0) but the input {} has rank {}",
                                    op, fmt::join(requested, ","), i, in.to_string(), in.rank()));
                dims[i] = in[i];
            }
        }
        if (dims[i] != 0 && known > std::numeric_limits<std::int64_t>::max() / dims[i])
            fail(status::out_of_range,
                 fmt::format("{}: shape {} overflows", op, fmt::join(requested, ",")));
        known *= dims[i];
    }
    if (allowzero && has_zero && infer >= 0)
        fail(status::invalid_argument,
             fmt::format("{}: shape {} combines 0 and -1 with allowzero=1", op,
                         fmt::join(requested, ",")));
    if (infer >= 0) {
        if (known == 0 || in.numel() % known != 0)
            fail(status::shape_mismatch,
                 fmt::format("{}: cannot infer the -1 in {} for an input {} of {} elements", op,
                             fmt::join(requested, ","), in.to_string(), in.numel()));
        dims[static_cast<std::size_t>(infer)] = in.numel() / known;
        known = in.numel();
    }
    if (known != in.numel())
        fail(status::shape_mismatch,
             fmt::format("{}: input {} has {} elements, shape {} has {}", op, in.to_string(),
                         in.numel(), fmt::join(dims, ","), known));
    return make_shape(dims, op);
}

tensor reshape(const_tensor_view x, std::span<const std::int64_t> requested, bool allowzero) {
    require_byte_addressable(x, "ops::reshape", "data");
    return detail::copy_as(x, reshape_shape(x.dims(), requested, allowzero));
}

tensor transpose(const_tensor_view x, std::span<const std::int64_t> perm) {
    const char* op = "ops::transpose";
    require_byte_addressable(x, op, "data");
    const std::size_t r = x.rank();
    std::vector<std::int64_t> p(perm.begin(), perm.end());
    if (p.empty())
        for (std::size_t i = 0; i < r; ++i)
            p.push_back(static_cast<std::int64_t>(r - 1 - i));
    if (p.size() != r)
        fail(status::invalid_argument, fmt::format("{}: perm [{}] has {} entries for rank {}", op,
                                                   fmt::join(p, ","), p.size(), r));
    std::vector<bool> seen(r, false);
    strides_array strides{};
    std::vector<std::int64_t> dims(r);
    for (std::size_t i = 0; i < r; ++i) {
        if (p[i] < 0 || p[i] >= static_cast<std::int64_t>(r) ||
            seen[static_cast<std::size_t>(p[i])])
            fail(status::invalid_argument,
                 fmt::format("{}: perm [{}] is not a permutation of 0..{}", op, fmt::join(p, ","),
                             static_cast<std::int64_t>(r) - 1));
        seen[static_cast<std::size_t>(p[i])] = true;
        dims[i] = x.dims()[static_cast<std::size_t>(p[i])];
        strides[i] = x.stride(static_cast<std::size_t>(p[i]));
    }
    return strided_copy(x.bytes(), x.type(), make_shape(dims, op), strides);
}

tensor concat(std::span<const const_tensor_view> inputs, std::int64_t axis) {
    const char* op = "ops::concat";
    if (inputs.empty()) fail(status::invalid_argument, "ops::concat: no inputs");
    const auto& first = inputs[0];
    require_byte_addressable(first, op, "inputs[0]");
    const auto a = static_cast<std::size_t>(normalize_axis(axis, first.rank(), op));
    std::vector<std::int64_t> dims(first.dims().dims().begin(), first.dims().dims().end());
    dims[a] = 0;
    for (std::size_t i = 0; i < inputs.size(); ++i) {
        const auto& in = inputs[i];
        if (in.type() != first.type())
            fail(status::dtype_mismatch, fmt::format("{}: input {} is {}, input 0 is {}", op, i,
                                                     name_of(in.type()), name_of(first.type())));
        if (in.rank() != first.rank())
            fail(status::shape_mismatch,
                 fmt::format("{}: input {} has shape {}, input 0 has {}", op, i,
                             in.dims().to_string(), first.dims().to_string()));
        for (std::size_t d = 0; d < first.rank(); ++d)
            if (d != a && in.dims()[d] != first.dims()[d])
                fail(status::shape_mismatch,
                     fmt::format("{}: input {} has shape {}, input 0 has {} (they may differ only "
                                 "on axis {})",
                                 op, i, in.dims().to_string(), first.dims().to_string(), a));
        dims[a] += in.dims()[a];
    }
    tensor out = new_result(first.type(), make_shape(dims, op));
    const std::size_t es = size_of(first.type());
    std::int64_t outer = 1, after = 1;
    for (std::size_t d = 0; d < a; ++d)
        outer *= dims[d];
    for (std::size_t d = a + 1; d < dims.size(); ++d)
        after *= dims[d];
    const std::int64_t out_row = dims[a] * after;
    auto* pd = static_cast<std::byte*>(out.data());
    std::int64_t column = 0;
    for (const auto& in : inputs) {
        const std::int64_t chunk = in.dims()[a] * after;
        if (chunk > 0 && outer > 0) {
            std::optional<tensor> copy; // only for a strided input
            if (!in.is_contiguous()) copy = tensor::copy_of(in);
            const auto* ps = static_cast<const std::byte*>(copy ? copy->data() : in.data());
            for (std::int64_t o = 0; o < outer; ++o)
                std::memcpy(pd + static_cast<std::size_t>(o * out_row + column) * es,
                            ps + static_cast<std::size_t>(o * chunk) * es,
                            static_cast<std::size_t>(chunk) * es);
        }
        column += chunk;
    }
    return out;
}

tensor slice(const_tensor_view x, std::span<const std::int64_t> starts,
             std::span<const std::int64_t> ends, std::span<const std::int64_t> axes,
             std::span<const std::int64_t> steps) {
    const char* op = "ops::slice";
    require_byte_addressable(x, op, "data");
    const std::size_t r = x.rank();
    if (starts.size() != ends.size())
        fail(status::invalid_argument,
             fmt::format("{}: {} starts but {} ends", op, starts.size(), ends.size()));
    if (!axes.empty() && axes.size() != starts.size())
        fail(status::invalid_argument,
             fmt::format("{}: {} axes for {} starts", op, axes.size(), starts.size()));
    if (!steps.empty() && steps.size() != starts.size())
        fail(status::invalid_argument,
             fmt::format("{}: {} steps for {} starts", op, steps.size(), starts.size()));
    std::vector<std::int64_t> begin(r, 0), count(r), step(r, 1);
    for (std::size_t d = 0; d < r; ++d)
        count[d] = x.dims()[d];
    std::vector<bool> seen(r, false);
    for (std::size_t i = 0; i < starts.size(); ++i) {
        const auto a = static_cast<std::size_t>(
            normalize_axis(axes.empty() ? static_cast<std::int64_t>(i) : axes[i], r, op));
        if (seen[a]) fail(status::invalid_argument, fmt::format("{}: axis {} is repeated", op, a));
        seen[a] = true;
        const std::int64_t s = steps.empty() ? 1 : steps[i];
        if (s == 0) fail(status::invalid_argument, fmt::format("{}: step 0 on axis {}", op, a));
        const std::int64_t dim = x.dims()[a];
        auto clampv = [](std::int64_t v, std::int64_t lo, std::int64_t hi) {
            return std::min(std::max(v, lo), hi);
        };
        std::int64_t st = starts[i], en = ends[i];
        // Add dim to negatives; below -dim any negative value clamps alike (and INT64_MIN stays
        // safe).
        if (st < 0) st = st < -dim ? -1 : st + dim;
        if (en < 0) en = en < -dim ? -1 : en + dim;
        std::int64_t n = 0;
        if (s > 0) {
            st = clampv(st, 0, dim);
            en = clampv(en, 0, dim);
            n = en > st ? (en - st + s - 1) / s : 0;
        } else {
            st = clampv(st, 0, dim - 1);
            en = clampv(en, -1, dim - 1);
            n = st > en ? (st - en + (-s) - 1) / (-s) : 0;
        }
        begin[a] = st;
        count[a] = dim == 0 ? 0 : n;
        step[a] = s;
    }
    strides_array strides{};
    std::int64_t offset = 0;
    for (std::size_t d = 0; d < r; ++d) {
        strides[d] = x.stride(d) * step[d];
        if (count[d] > 0) offset += begin[d] * x.stride(d);
    }
    const shape out_dims = make_shape(count, op);
    if (out_dims.numel() == 0) return tensor(x.type(), out_dims);
    return strided_copy(x.bytes() + offset * static_cast<std::int64_t>(size_of(x.type())), x.type(),
                        out_dims, strides);
}

shape squeeze_shape(const shape& in, std::span<const std::int64_t> axes) {
    const char* op = "ops::squeeze";
    std::vector<bool> drop(in.rank(), false);
    if (axes.empty()) {
        for (std::size_t d = 0; d < in.rank(); ++d)
            drop[d] = in[d] == 1;
    } else {
        for (const auto axis : axes) {
            const auto a = static_cast<std::size_t>(normalize_axis(axis, in.rank(), op));
            if (in[a] != 1)
                fail(status::shape_mismatch, fmt::format("{}: axis {} of {} has dim {}, not 1", op,
                                                         axis, in.to_string(), in[a]));
            drop[a] = true;
        }
    }
    std::vector<std::int64_t> dims;
    for (std::size_t d = 0; d < in.rank(); ++d)
        if (!drop[d]) dims.push_back(in[d]);
    return make_shape(dims, op);
}

tensor squeeze(const_tensor_view x, std::span<const std::int64_t> axes) {
    require_byte_addressable(x, "ops::squeeze", "data");
    return detail::copy_as(x, squeeze_shape(x.dims(), axes));
}

shape unsqueeze_shape(const shape& in, std::span<const std::int64_t> axes) {
    const char* op = "ops::unsqueeze";
    const std::size_t out_rank = in.rank() + axes.size();
    if (out_rank > shape::max_rank)
        fail(status::unsupported, fmt::format("{}: result rank {} exceeds hone's maximum {}", op,
                                              out_rank, shape::max_rank));
    std::vector<bool> inserted(out_rank, false);
    for (const auto axis : axes) {
        const auto a = static_cast<std::size_t>(normalize_axis(axis, out_rank, op));
        if (inserted[a])
            fail(status::invalid_argument, fmt::format("{}: axis {} is repeated", op, axis));
        inserted[a] = true;
    }
    std::vector<std::int64_t> dims;
    std::size_t next = 0;
    for (std::size_t d = 0; d < out_rank; ++d)
        dims.push_back(inserted[d] ? 1 : in[next++]);
    return make_shape(dims, op);
}

tensor unsqueeze(const_tensor_view x, std::span<const std::int64_t> axes) {
    require_byte_addressable(x, "ops::unsqueeze", "data");
    return detail::copy_as(x, unsqueeze_shape(x.dims(), axes));
}

tensor gather(const_tensor_view data, const_tensor_view indices, std::int64_t axis) {
    const char* op = "ops::gather";
    require_byte_addressable(data, op, "data");
    if (indices.type() != dtype::i64 && indices.type() != dtype::i32)
        fail(status::dtype_mismatch,
             fmt::format("{}: indices are {}, expected i64 or i32", op, name_of(indices.type())));
    const auto a = static_cast<std::size_t>(normalize_axis(axis, data.rank(), op));
    const std::int64_t dim = data.dims()[a];
    const tensor idx_i64 = cast(indices, dtype::i64);
    const auto idx = idx_i64.span<std::int64_t>();
    for (std::size_t i = 0; i < idx.size(); ++i)
        if (idx[i] < -dim || idx[i] >= dim)
            fail(status::out_of_range,
                 fmt::format("{}: index {} (at position {}) is outside [{}, {}] "
                             "on axis {} of {}",
                             op, idx[i], i, -dim, dim - 1, a, data.dims().to_string()));
    std::vector<std::int64_t> dims;
    for (std::size_t d = 0; d < a; ++d)
        dims.push_back(data.dims()[d]);
    for (const auto d : indices.dims().dims())
        dims.push_back(d);
    for (std::size_t d = a + 1; d < data.rank(); ++d)
        dims.push_back(data.dims()[d]);
    tensor out = new_result(data.type(), make_shape(dims, op));
    if (out.numel() == 0) return out;
    const tensor src = tensor::copy_of(data);
    std::int64_t outer = 1, inner = 1;
    for (std::size_t d = 0; d < a; ++d)
        outer *= data.dims()[d];
    for (std::size_t d = a + 1; d < data.rank(); ++d)
        inner *= data.dims()[d];
    const std::size_t es = size_of(data.type());
    const auto n = static_cast<std::int64_t>(idx.size());
    const auto* ps = static_cast<const std::byte*>(src.data());
    auto* pd = static_cast<std::byte*>(out.data());
    const std::size_t chunk = static_cast<std::size_t>(inner) * es;
    for (std::int64_t o = 0; o < outer; ++o)
        for (std::int64_t j = 0; j < n; ++j) {
            const std::int64_t k = idx[static_cast<std::size_t>(j)] < 0
                                       ? idx[static_cast<std::size_t>(j)] + dim
                                       : idx[static_cast<std::size_t>(j)];
            std::memcpy(pd + static_cast<std::size_t>(o * n + j) * chunk,
                        ps + static_cast<std::size_t>(o * dim + k) * chunk, chunk);
        }
    return out;
}

tensor shape_of(const shape& dims, std::int64_t start, std::optional<std::int64_t> end) {
    const auto r = static_cast<std::int64_t>(dims.rank());
    auto norm = [r](std::int64_t v) {
        if (v < 0) v = v < -r ? 0 : v + r;
        return std::min(v, r);
    };
    const std::int64_t s = norm(start);
    const std::int64_t e = end ? norm(*end) : r;
    std::vector<std::int64_t> values;
    for (std::int64_t i = s; i < e; ++i)
        values.push_back(dims[static_cast<std::size_t>(i)]);
    return from_int64_vector(values);
}

tensor expand(const_tensor_view x, std::span<const std::int64_t> dims) {
    const char* op = "ops::expand";
    require_byte_addressable(x, op, "input");
    for (const auto d : dims)
        if (d < 0)
            fail(status::invalid_argument,
                 fmt::format("{}: shape [{}] has a negative dim", op, fmt::join(dims, ",")));
    if (dims.size() > shape::max_rank)
        fail(status::unsupported,
             fmt::format("{}: rank {} exceeds hone's maximum", op, dims.size()));
    const shape target = broadcast_shapes(x.dims(), shape(dims), op);
    const auto v = broadcast_view(x, target, op);
    return strided_copy(v.bytes(), v.type(), target, v.strides());
}

} // namespace hone::ops
