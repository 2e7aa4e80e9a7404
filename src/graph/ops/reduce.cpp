// Reductions, ArgMax/ArgMin, CumSum, InstanceNormalization, GroupNormalization and
// LpNormalization (see reduce.hpp).
#include "reduce.hpp"

#include "common.hpp"

#include <algorithm>
#include <array>
#include <cmath>
#include <limits>
#include <type_traits>
#include <vector>

namespace hone::ops {

using detail::require_f32;

namespace {

constexpr float inf_f = std::numeric_limits<float>::infinity();
constexpr float nan_f = std::numeric_limits<float>::quiet_NaN();

// Which elements of x each output element reduces, and how to reach them through x's strides
// (any view: broadcast and transposed ones included).
struct reduction_plan {
    shape out;                    // output dims, keepdims applied
    std::size_t rank = 0;         // x's rank
    strides_array kept_dims{};    // per axis of x: its dim, 1 where reduced
    strides_array kept_strides{}; // per axis of x: its stride, 0 where reduced
    strides_array red_dims{};     // reduced axes (size-1 ones dropped, adjacent merged)
    strides_array red_strides{};
    std::size_t red_rank = 0;
    std::int64_t count = 1;   // elements per output
    std::int64_t outputs = 0; // output elements

    // Element offset in x of the first element output `o` reduces.
    std::int64_t base_of(std::int64_t o) const {
        std::int64_t base = 0;
        for (std::size_t d = rank; d-- > 0;) {
            base += (o % kept_dims[d]) * kept_strides[d];
            o /= kept_dims[d];
        }
        return base;
    }

    // Calls fn(offset) for each reduced element of the output at `base`, in row-major order of
    // the reduced axes.
    template <class Fn> void walk(std::int64_t base, Fn&& fn) const {
        if (count == 0) return;
        if (red_rank == 0) {
            fn(base);
            return;
        }
        const std::size_t last = red_rank - 1;
        const std::int64_t n = red_dims[last], st = red_strides[last];
        std::array<std::int64_t, shape::max_rank> idx{};
        std::int64_t off = base;
        for (;;) {
            for (std::int64_t i = 0; i < n; ++i)
                fn(off + i * st);
            std::size_t k = last;
            for (;;) { // odometer over the outer reduced axes
                if (k == 0) return;
                --k;
                off += red_strides[k];
                if (++idx[k] < red_dims[k]) break;
                off -= red_dims[k] * red_strides[k];
                idx[k] = 0;
            }
        }
    }
};

// `reduced[d]` says whether axis d of x is reduced.
reduction_plan plan_reduction(const_tensor_view x, const std::vector<bool>& reduced,
                              bool keepdims) {
    reduction_plan p;
    p.rank = x.rank();
    std::vector<std::int64_t> out_dims;
    for (std::size_t d = 0; d < p.rank; ++d) {
        const std::int64_t dim = x.dims()[d];
        if (reduced[d]) {
            p.count *= dim;
            p.kept_dims[d] = 1;
            p.kept_strides[d] = 0;
            if (keepdims) out_dims.push_back(1);
            if (dim == 1) continue;
            // Merge with the previous reduced axis when one stride walks both.
            if (p.red_rank > 0 && p.red_strides[p.red_rank - 1] == dim * x.stride(d)) {
                p.red_dims[p.red_rank - 1] *= dim;
                p.red_strides[p.red_rank - 1] = x.stride(d);
            } else {
                p.red_dims[p.red_rank] = dim;
                p.red_strides[p.red_rank] = x.stride(d);
                ++p.red_rank;
            }
        } else {
            p.kept_dims[d] = dim;
            p.kept_strides[d] = x.stride(d);
            out_dims.push_back(dim);
        }
    }
    p.out = shape(std::span<const std::int64_t>(out_dims));
    p.outputs = p.out.numel();
    return p;
}

std::vector<bool> reduced_axes(std::size_t rank, std::span<const std::int64_t> axes, bool noop,
                               const char* op) {
    std::vector<bool> reduced(rank, axes.empty() && !noop);
    for (const auto axis : axes) {
        const auto a = static_cast<std::size_t>(normalize_axis(axis, rank, op));
        if (reduced[a])
            fail(status::invalid_argument, fmt::format("{}: axis {} is repeated", op, axis));
        reduced[a] = true;
    }
    return reduced;
}

const char* reduce_name(reduce_op op) {
    switch (op) {
    case reduce_op::sum: return "ops::reduce_sum";
    case reduce_op::max: return "ops::reduce_max";
    case reduce_op::min: return "ops::reduce_min";
    case reduce_op::prod: return "ops::reduce_prod";
    case reduce_op::l1: return "ops::reduce_l1";
    case reduce_op::l2: return "ops::reduce_l2";
    case reduce_op::sum_square: return "ops::reduce_sum_square";
    case reduce_op::log_sum: return "ops::reduce_log_sum";
    case reduce_op::log_sum_exp: return "ops::reduce_log_sum_exp";
    }
    return "ops::reduce";
}

// One output element of an f32 reduction.
float reduce_f32(reduce_op op, const float* s, const reduction_plan& p, std::int64_t base) {
    double acc = 0.0;
    switch (op) {
    case reduce_op::sum: p.walk(base, [&](std::int64_t i) { acc += s[i]; }); return float(acc);
    case reduce_op::prod:
        acc = 1.0;
        p.walk(base, [&](std::int64_t i) { acc *= s[i]; });
        return float(acc);
    case reduce_op::l1:
        p.walk(base, [&](std::int64_t i) { acc += std::fabs(s[i]); });
        return float(acc);
    case reduce_op::l2:
    case reduce_op::sum_square:
        p.walk(base, [&](std::int64_t i) { acc += double(s[i]) * s[i]; });
        return float(op == reduce_op::l2 ? std::sqrt(acc) : acc);
    case reduce_op::log_sum:
        p.walk(base, [&](std::int64_t i) { acc += s[i]; });
        return float(std::log(acc));
    case reduce_op::max:
    case reduce_op::min:
    case reduce_op::log_sum_exp: {
        const bool is_min = op == reduce_op::min;
        float m = is_min ? inf_f : -inf_f;
        bool nan = false;
        p.walk(base, [&](std::int64_t i) {
            const float v = s[i];
            if (std::isnan(v))
                nan = true;
            else if (is_min ? v < m : v > m)
                m = v;
        });
        if (nan) return nan_f;
        if (op != reduce_op::log_sum_exp || std::isinf(m)) return m; // ±inf (or empty: −inf)
        p.walk(base, [&](std::int64_t i) { acc += std::exp(double(s[i]) - m); });
        return float(m + std::log(acc));
    }
    }
    return nan_f;
}

// One output element of an integer reduction (sum, prod, l1, sum_square wrap; max, min).
template <class T>
T reduce_int(reduce_op op, const T* s, const reduction_plan& p, std::int64_t base) {
    using U = std::make_unsigned_t<T>;
    U acc = op == reduce_op::prod ? U{1} : U{0};
    switch (op) {
    case reduce_op::sum: p.walk(base, [&](std::int64_t i) { acc += static_cast<U>(s[i]); }); break;
    case reduce_op::prod: p.walk(base, [&](std::int64_t i) { acc *= static_cast<U>(s[i]); }); break;
    case reduce_op::l1:
        p.walk(base, [&](std::int64_t i) {
            const U u = static_cast<U>(s[i]);
            acc += s[i] < 0 ? static_cast<U>(U{0} - u) : u;
        });
        break;
    case reduce_op::sum_square:
        p.walk(base, [&](std::int64_t i) {
            const U u = static_cast<U>(s[i]);
            acc += static_cast<U>(u * u);
        });
        break;
    case reduce_op::max: {
        T m = std::numeric_limits<T>::lowest();
        p.walk(base, [&](std::int64_t i) { m = s[i] > m ? s[i] : m; });
        return m;
    }
    case reduce_op::min: {
        T m = std::numeric_limits<T>::max();
        p.walk(base, [&](std::int64_t i) { m = s[i] < m ? s[i] : m; });
        return m;
    }
    default: break; // rejected before the loop
    }
    return static_cast<T>(acc);
}

template <class T, class F>
tensor reduce_with(const_tensor_view x, const reduction_plan& p, F one) {
    tensor out(x.type(), p.out);
    if (p.outputs == 0) return out;
    const auto* s = static_cast<const T*>(x.data());
    auto* d = static_cast<T*>(out.data());
    const int threads = detail::threads_for(std::max(x.numel(), p.outputs));
#pragma omp parallel for schedule(static) num_threads(threads) if (threads > 1)
    for (std::int64_t o = 0; o < p.outputs; ++o)
        d[o] = one(s, p.base_of(o));
    return out;
}

// A contiguous T array of x's values (a copy only when x is strided).
template <class T> struct contiguous {
    const T* data = nullptr;
    tensor copy;
    explicit contiguous(const_tensor_view x) {
        if (!x.is_contiguous()) copy = tensor::copy_of(x);
        data = static_cast<const T*>(x.is_contiguous() ? x.data() : copy.data());
    }
};

} // namespace

tensor reduce(reduce_op op, const_tensor_view x, std::span<const std::int64_t> axes, bool keepdims,
              bool noop_with_empty_axes) {
    const char* name = reduce_name(op);
    const bool int_ok = op == reduce_op::sum || op == reduce_op::max || op == reduce_op::min ||
                        op == reduce_op::prod || op == reduce_op::l1 || op == reduce_op::sum_square;
    const bool is_int = x.type() == dtype::i32 || x.type() == dtype::i64;
    if (x.type() != dtype::f32 && !(is_int && int_ok))
        fail(status::dtype_mismatch,
             fmt::format("{}: input 'data' is {}, expected {}", name, name_of(x.type()),
                         int_ok ? "f32, i32 or i64" : "f32"));
    const auto p =
        plan_reduction(x, reduced_axes(x.rank(), axes, noop_with_empty_axes, name), keepdims);
    switch (x.type()) {
    case dtype::i32:
        return reduce_with<std::int32_t>(x, p, [op, &p](const std::int32_t* s, std::int64_t b) {
            return reduce_int(op, s, p, b);
        });
    case dtype::i64:
        return reduce_with<std::int64_t>(x, p, [op, &p](const std::int64_t* s, std::int64_t b) {
            return reduce_int(op, s, p, b);
        });
    default:
        return reduce_with<float>(
            x, p, [op, &p](const float* s, std::int64_t b) { return reduce_f32(op, s, p, b); });
    }
}

// ---- ArgMax / ArgMin ---------------------------------------------------------------------------

namespace {

template <class T>
tensor arg_extreme(const_tensor_view x, const reduction_plan& p, bool is_max, bool last) {
    tensor out(dtype::i64, p.out);
    if (p.outputs == 0) return out;
    const auto* s = static_cast<const T*>(x.data());
    auto* d = static_cast<std::int64_t*>(out.data());
    const int threads = detail::threads_for(x.numel());
#pragma omp parallel for schedule(static) num_threads(threads) if (threads > 1)
    for (std::int64_t o = 0; o < p.outputs; ++o) {
        std::int64_t j = 0, best = 0;
        T bv{};
        p.walk(p.base_of(o), [&](std::int64_t i) {
            const T v = s[i];
            bool take;
            if (j == 0) {
                take = true;
            } else if constexpr (std::is_floating_point_v<T>) {
                // A NaN beats every number; among NaNs (and equal values) the first, or the
                // last with select_last_index.
                if (std::isnan(bv))
                    take = last && std::isnan(v);
                else if (std::isnan(v))
                    take = true;
                else
                    take = (is_max ? v > bv : v < bv) || (last && v == bv);
            } else {
                take = (is_max ? v > bv : v < bv) || (last && v == bv);
            }
            if (take) {
                bv = v;
                best = j;
            }
            ++j;
        });
        d[o] = best;
    }
    return out;
}

tensor arg_impl(const_tensor_view x, std::int64_t axis, bool keepdims, bool last, bool is_max) {
    const char* name = is_max ? "ops::arg_max" : "ops::arg_min";
    const auto a = static_cast<std::size_t>(normalize_axis(axis, x.rank(), name));
    std::vector<bool> reduced(x.rank(), false);
    reduced[a] = true;
    const auto p = plan_reduction(x, reduced, keepdims);
    if (p.count == 0 && p.outputs > 0)
        fail(status::invalid_argument,
             fmt::format("{}: axis {} of shape {} has length 0: there is no index to return", name,
                         axis, x.dims().to_string()));
    switch (x.type()) {
    case dtype::f32: return arg_extreme<float>(x, p, is_max, last);
    case dtype::i32: return arg_extreme<std::int32_t>(x, p, is_max, last);
    case dtype::i64: return arg_extreme<std::int64_t>(x, p, is_max, last);
    default: break;
    }
    fail(status::dtype_mismatch,
         fmt::format("{}: input 'data' is {}, expected f32, i32 or i64", name, name_of(x.type())));
}

} // namespace

tensor arg_max(const_tensor_view x, std::int64_t axis, bool keepdims, bool select_last_index) {
    return arg_impl(x, axis, keepdims, select_last_index, true);
}
tensor arg_min(const_tensor_view x, std::int64_t axis, bool keepdims, bool select_last_index) {
    return arg_impl(x, axis, keepdims, select_last_index, false);
}

// ---- CumSum ------------------------------------------------------------------------------------

namespace {

// x viewed as [outer, len, inner] around `axis`, cut into blocks: up to `width` neighbouring
// lanes (positions along inner) of one outer index. A block streams its rows [len][width]
// contiguously; each lane is still summed in axis order, so the cut changes no result.
struct lane_blocks {
    static constexpr std::int64_t width = 256;
    std::int64_t outer = 1, len = 1, inner = 1, per_outer = 1;
    lane_blocks(const shape& dims, std::size_t axis) {
        for (std::size_t d = 0; d < dims.rank(); ++d)
            (d < axis ? outer : d == axis ? len : inner) *= dims[d];
        per_outer = (inner + width - 1) / width;
    }
    std::int64_t count() const { return outer * per_outer; }
    // Offset of block b's first element, and its number of lanes.
    std::int64_t base(std::int64_t b) const {
        return (b / per_outer) * len * inner + (b % per_outer) * width;
    }
    std::int64_t lanes(std::int64_t b) const {
        return std::min(width, inner - (b % per_outer) * width);
    }
};

// Acc: the running sum's type; T the element type.
template <class T, class Acc>
tensor cum_sum_typed(const_tensor_view x, std::size_t axis, bool exclusive, bool reverse) {
    const contiguous<T> src(x);
    tensor out(x.type(), x.dims());
    if (x.numel() == 0) return out;
    const lane_blocks l(x.dims(), axis);
    auto* d = static_cast<T*>(out.data());
    const T* s = src.data;
    const int threads = detail::threads_for(x.numel());
#pragma omp parallel for schedule(static) num_threads(threads) if (threads > 1)
    for (std::int64_t b = 0; b < l.count(); ++b) {
        const std::int64_t base = l.base(b), w = l.lanes(b);
        std::array<Acc, lane_blocks::width> acc{};
        for (std::int64_t t = 0; t < l.len; ++t) {
            const std::int64_t row = base + (reverse ? l.len - 1 - t : t) * l.inner;
            for (std::int64_t i = 0; i < w; ++i) {
                if (exclusive) d[row + i] = static_cast<T>(acc[i]);
                acc[i] = static_cast<Acc>(acc[i] + static_cast<Acc>(s[row + i]));
                if (!exclusive) d[row + i] = static_cast<T>(acc[i]);
            }
        }
    }
    return out;
}

} // namespace

tensor cum_sum(const_tensor_view x, std::int64_t axis, bool exclusive, bool reverse) {
    const char* name = "ops::cum_sum";
    if (x.rank() == 0)
        fail(status::shape_mismatch, fmt::format("{}: input 'x' must have rank ≥ 1", name));
    const auto a = static_cast<std::size_t>(normalize_axis(axis, x.rank(), name));
    switch (x.type()) {
    case dtype::f32: return cum_sum_typed<float, double>(x, a, exclusive, reverse);
    case dtype::i32: return cum_sum_typed<std::int32_t, std::uint32_t>(x, a, exclusive, reverse);
    case dtype::i64: return cum_sum_typed<std::int64_t, std::uint64_t>(x, a, exclusive, reverse);
    default: break;
    }
    fail(status::dtype_mismatch,
         fmt::format("{}: input 'x' is {}, expected f32, i32 or i64", name, name_of(x.type())));
}

// ---- normalizations ----------------------------------------------------------------------------

namespace {

// A 1-D f32 input of `len` elements as a vector.
std::vector<float> vector_of(const_tensor_view v, std::int64_t len, const char* op,
                             const char* what) {
    require_f32(v, op, what);
    if (v.rank() != 1 || v.dims()[0] != len)
        fail(status::shape_mismatch, fmt::format("{}: input '{}' has shape {}, expected [{}]", op,
                                                 what, v.dims().to_string(), len));
    const tensor t = tensor::copy_of(v);
    const auto s = t.span<float>();
    return {s.begin(), s.end()};
}

// Mean and 1/√(var + epsilon) of n values (population variance, two passes in double).
std::pair<double, double> moments(const float* p, std::int64_t n, float epsilon) {
    double sum = 0.0;
    for (std::int64_t i = 0; i < n; ++i)
        sum += p[i];
    const double mean = sum / static_cast<double>(n);
    double sq = 0.0;
    for (std::int64_t i = 0; i < n; ++i)
        sq += (p[i] - mean) * (p[i] - mean);
    return {mean, 1.0 / std::sqrt(sq / static_cast<double>(n) + epsilon)};
}

void require_nc(const_tensor_view x, const char* op) {
    require_f32(x, op, "X");
    if (x.rank() < 2)
        fail(status::shape_mismatch,
             fmt::format("{}: X has shape {}, expected [N, C, ...]", op, x.dims().to_string()));
}

} // namespace

tensor instance_normalization(const_tensor_view x, const_tensor_view scale, const_tensor_view bias,
                              float epsilon) {
    // Groups of one channel each: group normalization with per-channel scale and bias.
    const char* op = "ops::instance_normalization";
    require_nc(x, op);
    const std::int64_t c = x.dims()[1];
    (void)vector_of(scale, c, op, "scale");
    (void)vector_of(bias, c, op, "B");
    return group_normalization(x, scale, bias, std::max<std::int64_t>(c, 1), epsilon);
}

tensor group_normalization(const_tensor_view x, const_tensor_view scale, const_tensor_view bias,
                           std::int64_t num_groups, float epsilon) {
    const char* op = "ops::group_normalization";
    require_nc(x, op);
    const std::int64_t n = x.dims()[0], c = x.dims()[1];
    if (num_groups < 1 || c % num_groups != 0)
        fail(status::invalid_argument,
             fmt::format("{}: num_groups {} does not divide the {} channels of X {}", op,
                         num_groups, c, x.dims().to_string()));
    // Per channel (opset 21) when the length is C, else per group (opset 18).
    const auto per = [&](const_tensor_view v, const char* what) {
        const std::int64_t len = v.rank() == 1 && v.dims()[0] == c ? c : num_groups;
        return vector_of(v, len, op, what);
    };
    const auto sc = per(scale, "scale");
    const auto bi = per(bias, "bias");
    const bool sc_channel = static_cast<std::int64_t>(sc.size()) == c;
    const bool bi_channel = static_cast<std::int64_t>(bi.size()) == c;
    const detail::contiguous_f32 src(x);
    tensor out(dtype::f32, x.dims());
    if (x.numel() == 0) return out;
    const std::int64_t per_group = c / num_groups;
    const std::int64_t spatial = x.numel() / (n * c);
    const std::int64_t group_len = per_group * spatial;
    const float* s = src.data;
    float* d = static_cast<float*>(out.data());
    const int threads = detail::threads_for(x.numel() * 4);
#pragma omp parallel for schedule(static) num_threads(threads) if (threads > 1)
    for (std::int64_t ng = 0; ng < n * num_groups; ++ng) {
        const std::int64_t g = ng % num_groups;
        const float* p = s + ng * group_len;
        float* q = d + ng * group_len;
        const auto [mean, inv] = moments(p, group_len, epsilon);
        for (std::int64_t k = 0; k < per_group; ++k) {
            const auto ch = static_cast<std::size_t>(g * per_group + k);
            const double a = sc[sc_channel ? ch : static_cast<std::size_t>(g)];
            const double b = bi[bi_channel ? ch : static_cast<std::size_t>(g)];
            for (std::int64_t i = k * spatial; i < (k + 1) * spatial; ++i)
                q[i] = static_cast<float>((p[i] - mean) * inv * a + b);
        }
    }
    return out;
}

tensor lp_normalization(const_tensor_view x, std::int64_t axis, std::int64_t p) {
    const char* op = "ops::lp_normalization";
    require_f32(x, op, "input");
    if (p != 1 && p != 2)
        fail(status::invalid_argument, fmt::format("{}: p is {}, expected 1 or 2", op, p));
    if (x.rank() == 0)
        fail(status::shape_mismatch, fmt::format("{}: input must have rank ≥ 1", op));
    const auto a = static_cast<std::size_t>(normalize_axis(axis, x.rank(), op));
    const detail::contiguous_f32 src(x);
    tensor out(dtype::f32, x.dims());
    if (x.numel() == 0) return out;
    const lane_blocks l(x.dims(), a);
    const float* s = src.data;
    float* d = static_cast<float*>(out.data());
    const int threads = detail::threads_for(x.numel() * 2);
#pragma omp parallel for schedule(static) num_threads(threads) if (threads > 1)
    for (std::int64_t b = 0; b < l.count(); ++b) {
        const std::int64_t base = l.base(b), w = l.lanes(b);
        std::array<double, lane_blocks::width> norm{};
        for (std::int64_t j = 0; j < l.len; ++j)
            for (std::int64_t i = 0; i < w; ++i) {
                const double v = s[base + j * l.inner + i];
                norm[i] += p == 1 ? std::fabs(v) : v * v;
            }
        if (p == 2)
            for (std::int64_t i = 0; i < w; ++i)
                norm[i] = std::sqrt(norm[i]);
        for (std::int64_t j = 0; j < l.len; ++j)
            for (std::int64_t i = 0; i < w; ++i) {
                const std::int64_t at = base + j * l.inner + i;
                d[at] = norm[i] == 0.0 ? 0.0f : static_cast<float>(s[at] / norm[i]);
            }
    }
    return out;
}

} // namespace hone::ops
