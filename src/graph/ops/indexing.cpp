// Indexing and data-movement operators (see indexing.hpp).
#include "indexing.hpp"

#include "common.hpp"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <fmt/ranges.h>
#include <type_traits>

namespace hone::ops {

using detail::require_byte_addressable;
using detail::visit_dtype;

namespace {

shape make_shape(const std::vector<std::int64_t>& dims, const char* op) {
    if (dims.size() > shape::max_rank)
        fail(status::unsupported, fmt::format("{}: result rank {} exceeds hone's maximum {}", op,
                                              dims.size(), shape::max_rank));
    return shape(std::span<const std::int64_t>(dims));
}

template <class T>
constexpr bool is_half_v = std::is_same_v<T, half> || std::is_same_v<T, bfloat16>;

// A value as an arithmetic type (f16/bf16 widened to f32).
template <class T> auto arith(T v) {
    if constexpr (is_half_v<T>)
        return to_float(v);
    else
        return v;
}
template <class T> T from_arith(float v) {
    if constexpr (std::is_same_v<T, half>)
        return to_half(v);
    else
        return to_bfloat16(v);
}

// Indices (i32/i64, any shape) as contiguous int64 values.
tensor int64_indices(const_tensor_view indices, const char* op) {
    if (indices.type() != dtype::i64 && indices.type() != dtype::i32)
        fail(status::dtype_mismatch,
             fmt::format("{}: indices are {}, expected i64 or i32", op, name_of(indices.type())));
    return cast(indices, dtype::i64);
}

// An index into a dim of `dim`, negative counting from the end; out_of_range naming it.
std::int64_t checked_index(std::int64_t v, std::int64_t dim, const char* op, std::int64_t position,
                           std::size_t axis) {
    if (v < -dim || v >= dim)
        fail(status::out_of_range,
             fmt::format("{}: index {} (at position {}) is outside [{}, {}] on axis {}", op, v,
                         position, -dim, dim - 1, axis));
    return v < 0 ? v + dim : v;
}

// Multi-index of the flat position `flat` in `dims` (row-major).
void unravel(std::int64_t flat, const shape& dims, std::int64_t* index) {
    for (std::size_t d = dims.rank(); d-- > 0;) {
        index[d] = flat % dims[d];
        flat /= dims[d];
    }
}

// y[o₀..o_{r−1}] = x[map₀[o₀], ..., map_{r−1}[o_{r−1}]], or `fill` (one element of x's dtype,
// nullptr = zero bytes) where a map holds −1. Rows of the last axis in parallel.
tensor remap(const_tensor_view x, const shape& out_dims,
             const std::vector<std::vector<std::int64_t>>& maps, const void* fill) {
    tensor out = new_result(x.type(), out_dims);
    if (out.numel() == 0) return out;
    const std::size_t r = out_dims.rank();
    if (r == 0) {
        std::memcpy(out.data(), x.data(), size_of(x.type()));
        return out;
    }
    // Element offsets into x per axis and output position (−1: fill).
    std::vector<std::vector<std::int64_t>> off(r);
    for (std::size_t a = 0; a < r; ++a) {
        off[a].resize(maps[a].size());
        for (std::size_t o = 0; o < maps[a].size(); ++o)
            off[a][o] = maps[a][o] < 0 ? -1 : maps[a][o] * x.stride(a);
    }
    visit_dtype(x.type(), [&]<class T>() {
        T fill_value{};
        if (fill) std::memcpy(&fill_value, fill, sizeof(T));
        const auto* px = static_cast<const T*>(x.data());
        auto* py = static_cast<T*>(out.data());
        const std::int64_t inner = out_dims[r - 1];
        const std::int64_t rows = out.numel() / inner;
        const auto& last = off[r - 1];
        const int threads = detail::threads_for(out.numel());
#pragma omp parallel for schedule(static) num_threads(threads) if (threads > 1)
        for (std::int64_t row = 0; row < rows; ++row) {
            T* d = py + row * inner;
            std::int64_t base = 0, rest = row;
            bool filled = false;
            for (std::size_t a = r - 1; a-- > 0;) {
                const std::int64_t o = off[a][static_cast<std::size_t>(rest % out_dims[a])];
                rest /= out_dims[a];
                if (o < 0) filled = true;
                base += o;
            }
            if (filled) {
                std::fill(d, d + inner, fill_value);
                continue;
            }
            for (std::int64_t i = 0; i < inner; ++i) {
                const std::int64_t o = last[static_cast<std::size_t>(i)];
                d[i] = o < 0 ? fill_value : px[base + o];
            }
        }
    });
    return out;
}

} // namespace

// ---- Pad ----------------------------------------------------------------------------------------

tensor pad(const_tensor_view x, std::span<const std::int64_t> pads, pad_mode mode,
           optional_view constant_value, std::span<const std::int64_t> axes) {
    const char* op = "ops::pad";
    require_byte_addressable(x, op, "data");
    const std::size_t r = x.rank();
    std::vector<std::size_t> ax;
    std::vector<bool> seen(r, false);
    if (axes.empty()) {
        for (std::size_t a = 0; a < r; ++a)
            ax.push_back(a);
    } else {
        for (const auto a : axes) {
            const auto n = static_cast<std::size_t>(normalize_axis(a, r, op));
            if (seen[n])
                fail(status::invalid_argument,
                     fmt::format("{}: axes [{}] repeat axis {}", op, fmt::join(axes, ","), n));
            seen[n] = true;
            ax.push_back(n);
        }
    }
    if (pads.size() != 2 * ax.size())
        fail(status::invalid_argument,
             fmt::format("{}: pads [{}] has {} values, expected {} (begin and end for {} axes)", op,
                         fmt::join(pads, ","), pads.size(), 2 * ax.size(), ax.size()));
    std::vector<std::int64_t> begin(r, 0), end(r, 0), out_dims(r);
    for (std::size_t i = 0; i < ax.size(); ++i) {
        begin[ax[i]] = pads[i];
        end[ax[i]] = pads[i + ax.size()];
    }
    const void* fill = nullptr;
    if (constant_value && mode == pad_mode::constant) {
        if (constant_value->type() != x.type())
            fail(status::dtype_mismatch,
                 fmt::format("{}: constant_value is {}, data is {}", op,
                             name_of(constant_value->type()), name_of(x.type())));
        if (constant_value->numel() != 1)
            fail(status::shape_mismatch,
                 fmt::format("{}: constant_value has shape {}, expected one element", op,
                             constant_value->dims().to_string()));
        fill = constant_value->data();
    }
    for (std::size_t a = 0; a < r; ++a) {
        const std::int64_t n = x.dims()[a];
        out_dims[a] = n + begin[a] + end[a];
        const std::int64_t kept =
            n - std::max<std::int64_t>(0, -begin[a]) - std::max<std::int64_t>(0, -end[a]);
        if (out_dims[a] < 0 || kept < 0)
            fail(status::invalid_argument,
                 fmt::format("{}: pads {} and {} crop more than the {} elements of axis {}", op,
                             begin[a], end[a], n, a));
    }
    const shape out_shape = make_shape(out_dims, op);
    if (out_shape.numel() == 0) return tensor(x.type(), out_shape);
    std::vector<std::vector<std::int64_t>> maps(r);
    for (std::size_t a = 0; a < r; ++a) {
        const std::int64_t n = x.dims()[a];
        const std::int64_t lo = std::max<std::int64_t>(0, -begin[a]);
        const std::int64_t m = n - lo - std::max<std::int64_t>(0, -end[a]); // after cropping
        const std::int64_t pb = std::max<std::int64_t>(0, begin[a]);
        if (m == 0 && mode != pad_mode::constant && out_dims[a] > 0)
            fail(status::invalid_argument,
                 fmt::format("{}: axis {} has no elements to pad from in mode {}", op, a,
                             mode == pad_mode::edge   ? "edge"
                             : mode == pad_mode::wrap ? "wrap"
                                                      : "reflect"));
        auto& map = maps[a];
        map.resize(static_cast<std::size_t>(out_dims[a]));
        for (std::int64_t o = 0; o < out_dims[a]; ++o) {
            std::int64_t c = o - pb;
            if (c < 0 || c >= m) {
                switch (mode) {
                case pad_mode::constant: c = -1 - lo; break;
                case pad_mode::edge: c = std::clamp<std::int64_t>(c, 0, m - 1); break;
                case pad_mode::wrap: c = ((c % m) + m) % m; break;
                case pad_mode::reflect: {
                    if (m == 1) {
                        c = 0;
                        break;
                    }
                    const std::int64_t period = 2 * (m - 1);
                    c = ((c % period) + period) % period;
                    if (c >= m) c = period - c;
                    break;
                }
                }
            }
            map[static_cast<std::size_t>(o)] = c + lo;
        }
    }
    return remap(x, out_shape, maps, fill);
}

// ---- Split, Tile --------------------------------------------------------------------------------

std::vector<std::int64_t> split_sizes(std::int64_t dim, std::int64_t parts, bool uneven) {
    const char* op = "ops::split";
    if (parts < 1)
        fail(status::invalid_argument,
             fmt::format("{}: {} parts requested, expected at least 1", op, parts));
    if (!uneven) {
        if (dim % parts != 0)
            fail(status::invalid_argument,
                 fmt::format("{}: a dim of {} does not split into {} equal parts (give 'split')",
                             op, dim, parts));
        return std::vector<std::int64_t>(static_cast<std::size_t>(parts), dim / parts);
    }
    const std::int64_t chunk = (dim + parts - 1) / parts;
    std::vector<std::int64_t> sizes(static_cast<std::size_t>(parts), chunk);
    sizes.back() = dim - chunk * (parts - 1);
    if (sizes.back() < 0)
        fail(status::invalid_argument,
             fmt::format("{}: a dim of {} does not split into {} outputs of {} (num_outputs)", op,
                         dim, parts, chunk));
    return sizes;
}

std::vector<tensor> split(const_tensor_view x, std::span<const std::int64_t> sizes,
                          std::int64_t axis) {
    const char* op = "ops::split";
    require_byte_addressable(x, op, "input");
    const auto a = normalize_axis(axis, x.rank(), op);
    const std::int64_t dim = x.dims()[static_cast<std::size_t>(a)];
    std::int64_t total = 0;
    for (const auto s : sizes) {
        if (s < 0)
            fail(status::invalid_argument,
                 fmt::format("{}: split [{}] has a negative size", op, fmt::join(sizes, ",")));
        total += s;
    }
    if (total != dim)
        fail(status::invalid_argument,
             fmt::format("{}: split [{}] sums to {}, axis {} of {} has {}", op,
                         fmt::join(sizes, ","), total, a, x.dims().to_string(), dim));
    std::vector<tensor> parts;
    std::int64_t start = 0;
    for (const auto s : sizes) {
        const std::int64_t b[1] = {start}, e[1] = {start + s}, ax[1] = {a};
        parts.push_back(slice(x, b, e, ax));
        start += s;
    }
    return parts;
}

tensor tile(const_tensor_view x, std::span<const std::int64_t> repeats) {
    const char* op = "ops::tile";
    require_byte_addressable(x, op, "input");
    if (repeats.size() != x.rank())
        fail(status::invalid_argument,
             fmt::format("{}: repeats [{}] has {} values for an input of rank {}", op,
                         fmt::join(repeats, ","), repeats.size(), x.rank()));
    std::vector<std::int64_t> dims(x.rank());
    std::vector<std::vector<std::int64_t>> maps(x.rank());
    for (std::size_t a = 0; a < x.rank(); ++a) {
        if (repeats[a] < 0)
            fail(status::invalid_argument,
                 fmt::format("{}: repeats [{}] has a negative value", op, fmt::join(repeats, ",")));
        const std::int64_t n = x.dims()[a];
        if (n != 0 && repeats[a] > std::numeric_limits<std::int64_t>::max() / n)
            fail(status::out_of_range,
                 fmt::format("{}: repeats [{}] overflow", op, fmt::join(repeats, ",")));
        dims[a] = n * repeats[a];
    }
    const shape out_shape = make_shape(dims, op);
    if (out_shape.numel() == 0) return tensor(x.type(), out_shape);
    for (std::size_t a = 0; a < x.rank(); ++a) {
        maps[a].resize(static_cast<std::size_t>(dims[a]));
        for (std::int64_t o = 0; o < dims[a]; ++o)
            maps[a][static_cast<std::size_t>(o)] = o % x.dims()[a];
    }
    return remap(x, out_shape, maps, nullptr);
}

// ---- Range, Trilu -------------------------------------------------------------------------------

tensor range(const_tensor_view start, const_tensor_view limit, const_tensor_view delta) {
    const char* op = "ops::range";
    const std::pair<const char*, const_tensor_view> in[3] = {
        {"start", start}, {"limit", limit}, {"delta", delta}};
    for (const auto& [what, v] : in) {
        if (v.type() != start.type())
            fail(status::dtype_mismatch, fmt::format("{}: {} is {}, start is {}", op, what,
                                                     name_of(v.type()), name_of(start.type())));
        if (v.numel() != 1 || v.rank() > 1)
            fail(status::shape_mismatch, fmt::format("{}: {} has shape {}, expected a scalar", op,
                                                     what, v.dims().to_string()));
    }
    if (start.type() == dtype::f32) {
        const double s = *static_cast<const float*>(start.data());
        const double l = *static_cast<const float*>(limit.data());
        const double d = *static_cast<const float*>(delta.data());
        if (d == 0) fail(status::invalid_argument, fmt::format("{}: delta is 0", op));
        const double count = std::ceil((l - s) / d);
        if (!(count < 0x1p62))
            fail(
                status::invalid_argument,
                fmt::format("{}: start {}, limit {}, delta {} give no usable length", op, s, l, d));
        const auto n = static_cast<std::int64_t>(std::max(count, 0.0));
        tensor out(dtype::f32, shape{n});
        auto* p = static_cast<float*>(out.data());
        for (std::int64_t i = 0; i < n; ++i)
            p[i] = static_cast<float>(s + static_cast<double>(i) * d);
        return out;
    }
    if (start.type() != dtype::i32 && start.type() != dtype::i64)
        fail(status::dtype_mismatch,
             fmt::format("{}: start is {}, expected f32, i32 or i64", op, name_of(start.type())));
    auto get = [](const_tensor_view v) -> std::int64_t {
        return v.type() == dtype::i32 ? *static_cast<const std::int32_t*>(v.data())
                                      : *static_cast<const std::int64_t*>(v.data());
    };
    const std::int64_t s = get(start), l = get(limit), d = get(delta);
    if (d == 0) fail(status::invalid_argument, fmt::format("{}: delta is 0", op));
    // ceil((l − s) / d) in unsigned arithmetic: |l − s| < 2^64 never overflows.
    using u64 = std::uint64_t;
    u64 n = 0;
    if (d > 0 ? l > s : l < s) {
        const u64 dist = d > 0 ? u64(l) - u64(s) : u64(s) - u64(l);
        const u64 step = d > 0 ? u64(d) : u64(0) - u64(d);
        n = dist / step + (dist % step != 0 ? 1 : 0);
    }
    if (n > u64(std::numeric_limits<std::int64_t>::max()))
        fail(status::invalid_argument,
             fmt::format("{}: start {}, limit {}, delta {} give {} elements", op, s, l, d, n));
    tensor out(start.type(), shape{static_cast<std::int64_t>(n)});
    visit_dtype(start.type(), [&]<class T>() {
        if constexpr (std::is_same_v<T, std::int32_t> || std::is_same_v<T, std::int64_t>) {
            auto* p = static_cast<T*>(out.data());
            // s + i·d lies between start and limit: exact in T (wrapping arithmetic, no UB).
            for (u64 i = 0; i < n; ++i)
                p[i] = static_cast<T>(static_cast<std::int64_t>(u64(s) + i * u64(d)));
        }
    });
    return out;
}

tensor trilu(const_tensor_view x, std::int64_t k, bool upper) {
    const char* op = "ops::trilu";
    require_byte_addressable(x, op, "input");
    if (x.rank() < 2)
        fail(status::shape_mismatch,
             fmt::format("{}: input has shape {}, expected rank ≥ 2", op, x.dims().to_string()));
    tensor out = detail::copy_as(x, x.dims());
    if (out.numel() == 0) return out;
    const std::int64_t n = x.dims()[x.rank() - 2], m = x.dims()[x.rank() - 1];
    const std::int64_t mats = out.numel() / (n * m);
    const std::size_t es = size_of(x.type());
    auto* p = static_cast<std::byte*>(out.data());
    // Zero bytes are 0 (or false) in every dtype.
    for (std::int64_t b = 0; b < mats * n; ++b) {
        const std::int64_t i = b % n;
        std::byte* row = p + static_cast<std::size_t>(b * m) * es;
        // upper keeps j ≥ i + k, lower keeps j ≤ i + k.
        const std::int64_t cut = std::clamp<std::int64_t>(upper ? i + k : i + k + 1, 0, m);
        if (upper)
            std::memset(row, 0, static_cast<std::size_t>(cut) * es);
        else
            std::memset(row + static_cast<std::size_t>(cut) * es, 0,
                        static_cast<std::size_t>(m - cut) * es);
    }
    return out;
}

// ---- TopK ---------------------------------------------------------------------------------------

std::vector<tensor> topk(const_tensor_view x, std::int64_t k, std::int64_t axis, bool largest) {
    const char* op = "ops::topk";
    require_byte_addressable(x, op, "X");
    if (x.type() == dtype::boolean)
        fail(status::dtype_mismatch, fmt::format("{}: X is bool, expected a numeric dtype", op));
    const auto a = static_cast<std::size_t>(normalize_axis(axis, x.rank(), op));
    const std::int64_t dim = x.dims()[a];
    if (k < 0 || k > dim)
        fail(status::invalid_argument, fmt::format("{}: K = {} is outside [0, {}] (axis {} of {})",
                                                   op, k, dim, a, x.dims().to_string()));
    std::vector<std::int64_t> dims(x.dims().dims().begin(), x.dims().dims().end());
    dims[a] = k;
    const shape out_shape = make_shape(dims, op);
    std::vector<tensor> result;
    result.emplace_back(x.type(), out_shape);
    result.emplace_back(dtype::i64, out_shape);
    if (out_shape.numel() == 0) return result;
    std::int64_t outer = 1, inner = 1;
    for (std::size_t d = 0; d < a; ++d)
        outer *= dims[d];
    for (std::size_t d = a + 1; d < dims.size(); ++d)
        inner *= dims[d];
    const tensor src = tensor::copy_of(x);
    visit_dtype(x.type(), [&]<class T>() {
        if constexpr (!std::is_same_v<T, bool>) {
            const auto* px = static_cast<const T*>(src.data());
            auto* pv = static_cast<T*>(result[0].data());
            auto* pi = static_cast<std::int64_t*>(result[1].data());
            // `a` ranks before `b`: NaN above every number, equal values by index.
            auto above = [](auto va, auto vb) {
                if constexpr (std::is_floating_point_v<decltype(va)>) {
                    if (std::isnan(va)) return !std::isnan(vb);
                    if (std::isnan(vb)) return false;
                }
                return va > vb;
            };
            // Copies for the comparator (clang 14 refuses a lambda in an OpenMP region that
            // names the enclosing function's variables).
            const bool big = largest;
            const std::int64_t step = inner;
            const std::int64_t slices = outer * inner;
            const int threads = detail::threads_for(slices * dim);
#pragma omp parallel num_threads(threads) if (threads > 1)
            {
                std::vector<std::int64_t> order(static_cast<std::size_t>(dim));
#pragma omp for schedule(static)
                for (std::int64_t sl = 0; sl < slices; ++sl) {
                    const std::int64_t o = sl / step, in = sl % step;
                    const T* base = px + o * dim * step + in;
                    for (std::int64_t j = 0; j < dim; ++j)
                        order[static_cast<std::size_t>(j)] = j;
                    std::partial_sort(order.begin(), order.begin() + k, order.end(),
                                      [base, step, big, above](std::int64_t i, std::int64_t j) {
                                          const auto vi = arith(base[i * step]);
                                          const auto vj = arith(base[j * step]);
                                          if (big ? above(vi, vj) : above(vj, vi)) return true;
                                          if (big ? above(vj, vi) : above(vi, vj)) return false;
                                          return i < j;
                                      });
                    for (std::int64_t j = 0; j < k; ++j) {
                        const std::int64_t at = o * k * inner + j * inner + in;
                        pv[at] = base[order[static_cast<std::size_t>(j)] * inner];
                        pi[at] = order[static_cast<std::size_t>(j)];
                    }
                }
            }
        }
    });
    return result;
}

// ---- GatherElements, ScatterND, ScatterElements -------------------------------------------------

namespace {

// Checks ScatterElements/GatherElements operand shapes: equal ranks ≥ 1 and indices dims not
// exceeding data's except on `axis`.
std::size_t element_axis(const_tensor_view data, const_tensor_view indices, std::int64_t axis,
                         const char* op) {
    if (data.rank() == 0 || indices.rank() != data.rank())
        fail(status::shape_mismatch,
             fmt::format("{}: data {} and indices {} must have one rank ≥ 1", op,
                         data.dims().to_string(), indices.dims().to_string()));
    const auto a = static_cast<std::size_t>(normalize_axis(axis, data.rank(), op));
    for (std::size_t d = 0; d < data.rank(); ++d)
        if (d != a && indices.dims()[d] > data.dims()[d])
            fail(status::shape_mismatch,
                 fmt::format("{}: indices {} exceed data {} on axis {}", op,
                             indices.dims().to_string(), data.dims().to_string(), d));
    return a;
}

template <class T> T combine(T a, T b, scatter_reduction r) {
    if constexpr (is_half_v<T>) {
        return from_arith<T>(combine(to_float(a), to_float(b), r));
    } else if constexpr (std::is_same_v<T, bool>) {
        return b; // reductions on bool are refused before
    } else if constexpr (std::is_floating_point_v<T>) {
        switch (r) {
        case scatter_reduction::none: return b;
        case scatter_reduction::add: return a + b;
        case scatter_reduction::mul: return a * b;
        case scatter_reduction::max: return std::isnan(a) || a > b ? a : b;
        case scatter_reduction::min: return std::isnan(a) || a < b ? a : b;
        }
        return b;
    } else {
        using U = std::make_unsigned_t<T>; // wrapping arithmetic
        switch (r) {
        case scatter_reduction::none: return b;
        case scatter_reduction::add: return static_cast<T>(static_cast<U>(a) + static_cast<U>(b));
        case scatter_reduction::mul:
            return static_cast<T>(static_cast<U>(static_cast<U>(a) * static_cast<U>(b)));
        case scatter_reduction::max: return std::max(a, b);
        case scatter_reduction::min: return std::min(a, b);
        }
        return b;
    }
}

void check_scatter_dtypes(const_tensor_view data, const_tensor_view updates,
                          scatter_reduction reduction, const char* op) {
    require_byte_addressable(data, op, "data");
    if (updates.type() != data.type())
        fail(status::dtype_mismatch, fmt::format("{}: updates are {}, data is {}", op,
                                                 name_of(updates.type()), name_of(data.type())));
    if (reduction != scatter_reduction::none && data.type() == dtype::boolean)
        fail(status::dtype_mismatch,
             fmt::format("{}: reduction on bool data (only 'none' is defined)", op));
}

} // namespace

tensor gather_elements(const_tensor_view data, const_tensor_view indices, std::int64_t axis) {
    const char* op = "ops::gather_elements";
    require_byte_addressable(data, op, "data");
    const std::size_t a = element_axis(data, indices, axis, op);
    tensor idx = int64_indices(indices, op);
    auto iv = idx.span<std::int64_t>();
    const std::int64_t dim = data.dims()[a];
    for (std::size_t i = 0; i < iv.size(); ++i)
        iv[i] = checked_index(iv[i], dim, op, static_cast<std::int64_t>(i), a);
    tensor out(data.type(), indices.dims());
    if (out.numel() == 0) return out;
    const std::size_t r = data.rank();
    const shape& od = indices.dims();
    visit_dtype(data.type(), [&]<class T>() {
        const auto* px = static_cast<const T*>(data.data());
        auto* py = static_cast<T*>(out.data());
        const std::int64_t n = out.numel();
        const int threads = detail::threads_for(n);
#pragma omp parallel for schedule(static) num_threads(threads) if (threads > 1)
        for (std::int64_t e = 0; e < n; ++e) {
            std::int64_t index[shape::max_rank];
            unravel(e, od, index);
            index[a] = iv[static_cast<std::size_t>(e)];
            std::int64_t off = 0;
            for (std::size_t d = 0; d < r; ++d)
                off += index[d] * data.stride(d);
            py[e] = px[off];
        }
    });
    return out;
}

tensor scatter_elements(const_tensor_view data, const_tensor_view indices,
                        const_tensor_view updates, std::int64_t axis, scatter_reduction reduction) {
    const char* op = "ops::scatter_elements";
    check_scatter_dtypes(data, updates, reduction, op);
    const std::size_t a = element_axis(data, indices, axis, op);
    if (updates.dims() != indices.dims())
        fail(status::shape_mismatch,
             fmt::format("{}: updates {} and indices {} differ", op, updates.dims().to_string(),
                         indices.dims().to_string()));
    const tensor idx = int64_indices(indices, op);
    const auto iv = idx.span<std::int64_t>();
    tensor out = detail::copy_as(data, data.dims());
    const auto cs = data.dims().contiguous_strides();
    const std::int64_t dim = data.dims()[a];
    const std::size_t r = data.rank();
    visit_dtype(data.type(), [&]<class T>() {
        const auto* pu = static_cast<const T*>(updates.data());
        auto* py = static_cast<T*>(out.data());
        // In row-major order of the updates (a repeated target keeps the last with 'none').
        for (std::int64_t e = 0; e < updates.numel(); ++e) {
            std::int64_t index[shape::max_rank];
            unravel(e, updates.dims(), index);
            std::int64_t src = 0, dst = 0;
            for (std::size_t d = 0; d < r; ++d)
                src += index[d] * updates.stride(d);
            index[a] = checked_index(iv[static_cast<std::size_t>(e)], dim, op, e, a);
            for (std::size_t d = 0; d < r; ++d)
                dst += index[d] * cs[d];
            py[dst] = combine(py[dst], pu[src], reduction);
        }
    });
    return out;
}

tensor scatter_nd(const_tensor_view data, const_tensor_view indices, const_tensor_view updates,
                  scatter_reduction reduction) {
    const char* op = "ops::scatter_nd";
    check_scatter_dtypes(data, updates, reduction, op);
    if (data.rank() == 0 || indices.rank() == 0)
        fail(status::shape_mismatch,
             fmt::format("{}: data {} and indices {} must have rank ≥ 1", op,
                         data.dims().to_string(), indices.dims().to_string()));
    const std::size_t q = indices.rank();
    const std::int64_t k = indices.dims()[q - 1];
    if (k > static_cast<std::int64_t>(data.rank()))
        fail(status::shape_mismatch,
             fmt::format("{}: indices {} address {} axes of data {} (rank {})", op,
                         indices.dims().to_string(), k, data.dims().to_string(), data.rank()));
    std::vector<std::int64_t> want(indices.dims().dims().begin(), indices.dims().dims().end() - 1);
    for (std::size_t d = static_cast<std::size_t>(k); d < data.rank(); ++d)
        want.push_back(data.dims()[d]);
    if (want.size() > shape::max_rank ||
        updates.dims() != shape(std::span<const std::int64_t>(want)))
        fail(status::shape_mismatch,
             fmt::format("{}: updates {} should be [{}] (indices {} without the last dim, then "
                         "data {} from axis {})",
                         op, updates.dims().to_string(), fmt::join(want, ","),
                         indices.dims().to_string(), data.dims().to_string(), k));
    const tensor idx = int64_indices(indices, op);
    const auto iv = idx.span<std::int64_t>();
    tensor out = detail::copy_as(data, data.dims());
    const tensor upd = tensor::copy_of(updates);
    const auto cs = data.dims().contiguous_strides();
    std::int64_t slice_size = 1;
    for (std::size_t d = static_cast<std::size_t>(k); d < data.rank(); ++d)
        slice_size *= data.dims()[d];
    std::int64_t tuples = 1;
    for (std::size_t d = 0; d + 1 < q; ++d)
        tuples *= indices.dims()[d];
    visit_dtype(data.type(), [&]<class T>() {
        const auto* pu = static_cast<const T*>(upd.data());
        auto* py = static_cast<T*>(out.data());
        for (std::int64_t t = 0; t < tuples; ++t) {
            std::int64_t off = 0;
            for (std::int64_t j = 0; j < k; ++j) {
                const auto at = t * k + j;
                off += checked_index(iv[static_cast<std::size_t>(at)],
                                     data.dims()[static_cast<std::size_t>(j)], op, at,
                                     static_cast<std::size_t>(j)) *
                       cs[static_cast<std::size_t>(j)];
            }
            for (std::int64_t e = 0; e < slice_size; ++e)
                py[off + e] = combine(py[off + e], pu[t * slice_size + e], reduction);
        }
    });
    return out;
}

// ---- Size, NonZero, OneHot ----------------------------------------------------------------------

tensor size(const_tensor_view x) {
    tensor out(dtype::i64, shape{});
    *static_cast<std::int64_t*>(out.data()) = x.numel();
    return out;
}

tensor nonzero(const_tensor_view x) {
    const char* op = "ops::nonzero";
    require_byte_addressable(x, op, "X");
    const tensor src = tensor::copy_of(x);
    std::vector<std::int64_t> flat;
    visit_dtype(x.type(), [&]<class T>() {
        const auto* p = static_cast<const T*>(src.data());
        for (std::int64_t e = 0; e < src.numel(); ++e)
            if (arith(p[e]) != 0) flat.push_back(e);
    });
    const std::size_t r = x.rank();
    const auto n = static_cast<std::int64_t>(flat.size());
    tensor out(dtype::i64, shape{static_cast<std::int64_t>(r), n});
    auto* po = static_cast<std::int64_t*>(out.data());
    for (std::int64_t j = 0; j < n; ++j) {
        std::int64_t index[shape::max_rank];
        unravel(flat[static_cast<std::size_t>(j)], x.dims(), index);
        for (std::size_t d = 0; d < r; ++d)
            po[static_cast<std::int64_t>(d) * n + j] = index[d];
    }
    return out;
}

tensor one_hot(const_tensor_view indices, std::int64_t depth, const_tensor_view values,
               std::int64_t axis) {
    const char* op = "ops::one_hot";
    require_byte_addressable(indices, op, "indices");
    require_byte_addressable(values, op, "values");
    if (depth < 0)
        fail(status::invalid_argument, fmt::format("{}: depth {} is negative", op, depth));
    if (values.numel() != 2)
        fail(status::shape_mismatch,
             fmt::format("{}: values has shape {}, expected two elements [off, on]", op,
                         values.dims().to_string()));
    const std::size_t r = indices.rank();
    const auto a = static_cast<std::size_t>(normalize_axis(axis, r + 1, op));
    std::vector<std::int64_t> dims(indices.dims().dims().begin(), indices.dims().dims().end());
    dims.insert(dims.begin() + static_cast<std::ptrdiff_t>(a), depth);
    tensor out(values.type(), make_shape(dims, op));
    if (out.numel() == 0) return out;
    const tensor idx = cast(indices, dtype::i64); // floats truncate toward zero
    const auto iv = idx.span<std::int64_t>();
    std::int64_t outer = 1, inner = 1;
    for (std::size_t d = 0; d < a; ++d)
        outer *= indices.dims()[d];
    for (std::size_t d = a; d < r; ++d)
        inner *= indices.dims()[d];
    const tensor vals = tensor::copy_of(values);
    visit_dtype(values.type(), [&]<class T>() {
        const auto* pv = static_cast<const T*>(vals.data());
        auto* py = static_cast<T*>(out.data());
        std::fill(py, py + out.numel(), pv[0]);
        for (std::int64_t o = 0; o < outer; ++o)
            for (std::int64_t i = 0; i < inner; ++i) {
                std::int64_t v = iv[static_cast<std::size_t>(o * inner + i)];
                if (v < 0) v += depth;
                if (v >= 0 && v < depth) py[(o * depth + v) * inner + i] = pv[1];
            }
    });
    return out;
}

} // namespace hone::ops
