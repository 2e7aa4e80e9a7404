// Public entry of the reduce family: argument checks, the walk over [outer, channels, inner]
// and the OpenMP split. Each result is owned by one thread and min/max are exact, so results are
// identical for any thread count.
#include "hone/kernels/reduce.hpp"

#include "axis_layout.hpp"
#include "hone/core/threads.hpp"
#include "reduce.hpp"

#include <fmt/format.h>
#include <optional>
#include <vector>

namespace hone::kernels {

const dispatch<reduce_table>& reduce_kernels() noexcept {
#ifdef HONE_X86_KERNELS
    static const dispatch<reduce_table> d{&reduce_ref, &reduce_avx2, &reduce_avx512};
#else
    static const dispatch<reduce_table> d{&reduce_ref, nullptr, nullptr};
#endif
    return d;
}

namespace {

using namespace reduce_rules;

constexpr std::int64_t parallel_threshold = 1 << 15; // elements; below, one thread
constexpr std::int64_t tensor_chunk = 1 << 16;       // per-tensor partial reductions
constexpr std::int64_t column_block = 512;           // columns per task for inner == 1

struct min_max_op {
    using partial = value_range;
    const reduce_table& k;
    float* min;
    float* max;

    partial identity() const { return {inf, -inf}; }
    partial reduce(const float* x, std::int64_t n) const {
        partial p;
        k.min_max(x, static_cast<std::size_t>(n), &p.min, &p.max);
        return p;
    }
    static partial combine(partial a, partial b) {
        if (std::isnan(a.min) || std::isnan(b.min)) return {nan, nan};
        return {min2(a.min, b.min), max2(a.max, b.max)};
    }
    void store(std::int64_t i, partial p) const { min[i] = p.min, max[i] = p.max; }
    void fill(std::int64_t i, std::int64_t n) const {
        for (std::int64_t j = i; j < i + n; ++j)
            min[j] = inf, max[j] = -inf;
    }
    void accumulate(const float* row, std::int64_t n, std::int64_t i) const {
        k.min_max_accumulate(row, static_cast<std::size_t>(n), min + i, max + i);
    }
};

struct abs_max_op {
    using partial = float;
    const reduce_table& k;
    float* dst;

    partial identity() const { return 0.0f; }
    partial reduce(const float* x, std::int64_t n) const {
        return k.abs_max(x, static_cast<std::size_t>(n));
    }
    static partial combine(partial a, partial b) {
        if (std::isnan(a) || std::isnan(b)) return nan;
        return b > a ? b : a;
    }
    void store(std::int64_t i, partial p) const { dst[i] = p; }
    void fill(std::int64_t i, std::int64_t n) const {
        for (std::int64_t j = i; j < i + n; ++j)
            dst[j] = 0.0f;
    }
    void accumulate(const float* row, std::int64_t n, std::int64_t i) const {
        k.abs_max_accumulate(row, static_cast<std::size_t>(n), dst + i);
    }
};

template <class Op> void run(const float* x, const axis_layout& l, const Op& op) {
    const int threads = num_threads();
    const bool parallel = l.numel >= parallel_threshold && threads > 1;
    const std::int64_t c_count = l.channels, inner = l.inner, b = l.group;
    if (l.numel == 0) { // every result is over an empty set (and inner may be 0)
        op.fill(0, l.params());
        return;
    }
    if (l.kind == granularity::per_tensor) {
        const std::int64_t chunks = (l.numel + tensor_chunk - 1) / tensor_chunk;
        std::vector<typename Op::partial> parts(static_cast<std::size_t>(chunks));
#pragma omp parallel for num_threads(threads) schedule(static) if (parallel)
        for (std::int64_t k = 0; k < chunks; ++k)
            parts[k] =
                op.reduce(x + k * tensor_chunk, std::min(tensor_chunk, l.numel - k * tensor_chunk));
        auto total = op.identity();
        for (const auto& p : parts)
            total = Op::combine(total, p);
        op.store(0, total);
    } else if (l.kind == granularity::per_channel && inner > 1) {
#pragma omp parallel for num_threads(threads) schedule(static) if (parallel)
        for (std::int64_t c = 0; c < c_count; ++c) {
            auto p = op.identity();
            for (std::int64_t o = 0; o < l.outer; ++o)
                p = Op::combine(p, op.reduce(x + (o * c_count + c) * inner, inner));
            op.store(c, p);
        }
    } else if (l.kind == granularity::per_channel) { // inner == 1: accumulate rows
        const std::int64_t blocks = (c_count + column_block - 1) / column_block;
#pragma omp parallel for num_threads(threads) schedule(static) if (parallel)
        for (std::int64_t blk = 0; blk < blocks; ++blk) {
            const std::int64_t j0 = blk * column_block;
            const std::int64_t n = std::min(column_block, c_count - j0);
            op.fill(j0, n);
            for (std::int64_t o = 0; o < l.outer; ++o)
                op.accumulate(x + o * c_count + j0, n, j0);
        }
    } else if (inner == 1) { // per_group along the contiguous axis: groups are consecutive
        const std::int64_t groups = l.params();
#pragma omp parallel for num_threads(threads) schedule(static) if (parallel)
        for (std::int64_t g = 0; g < groups; ++g)
            op.store(g, op.reduce(x + g * b, b));
    } else { // per_group, inner > 1: each result row accumulates `b` rows of `inner`
        const std::int64_t blocks = c_count / b, rows = l.outer * blocks;
#pragma omp parallel for num_threads(threads) schedule(static) if (parallel)
        for (std::int64_t r = 0; r < rows; ++r) {
            const std::int64_t o = r / blocks, cb = r % blocks;
            op.fill(r * inner, inner);
            for (std::int64_t c = cb * b; c < (cb + 1) * b; ++c)
                op.accumulate(x + (o * c_count + c) * inner, inner, r * inner);
        }
    }
}

void check_result(const_tensor_view t, const shape& expected, const char* where, const char* name) {
    if (t.type() != dtype::f32)
        fail(status::dtype_mismatch,
             fmt::format("{}: result '{}' is {}, must be f32", where, name, name_of(t.type())));
    if (!(t.dims() == expected))
        fail(status::shape_mismatch, fmt::format("{}: result '{}' has shape {}, expected {}", where,
                                                 name, t.dims().to_string(), expected.to_string()));
    if (!t.is_contiguous())
        fail(status::invalid_argument,
             fmt::format("{}: result '{}' must be contiguous", where, name));
}

/// src as contiguous f32 data; copies when strided (kept alive in `holder`).
const float* contiguous_f32(const_tensor_view src, std::optional<tensor>& holder,
                            const char* where) {
    if (src.type() != dtype::f32)
        fail(status::dtype_mismatch,
             fmt::format("{}: input is {}, must be f32", where, name_of(src.type())));
    if (src.is_contiguous()) return static_cast<const float*>(src.data());
    holder.emplace(tensor::copy_of(src));
    return static_cast<const float*>(holder->data());
}

void check_span(std::size_t size, std::int64_t expected, const char* where, const char* name) {
    if (static_cast<std::int64_t>(size) != expected)
        fail(status::shape_mismatch,
             fmt::format("{}: '{}' has {} elements, expected {}", where, name, size, expected));
}

shape matrix(std::span<const float> src, std::int64_t rows, std::int64_t cols, const char* where) {
    if (rows < 0 || cols < 0)
        fail(status::invalid_argument,
             fmt::format("{}: matrix dimensions {} × {} must be ≥ 0", where, rows, cols));
    shape dims{rows, cols};
    check_span(src.size(), dims.numel(), where, "src");
    return dims;
}

void span_min_max(std::span<const float> src, std::int64_t rows, std::int64_t cols,
                  const quant_axis& g, std::span<float> min, std::span<float> max,
                  const char* where) {
    const auto l = make_axis_layout(matrix(src, rows, cols, where), g, where);
    check_span(min.size(), l.params(), where, "min");
    check_span(max.size(), l.params(), where, "max");
    run(src.data(), l, min_max_op{reduce_kernels().pick(), min.data(), max.data()});
}

void span_abs_max(std::span<const float> src, std::int64_t rows, std::int64_t cols,
                  const quant_axis& g, std::span<float> dst, const char* where) {
    const auto l = make_axis_layout(matrix(src, rows, cols, where), g, where);
    check_span(dst.size(), l.params(), where, "dst");
    run(src.data(), l, abs_max_op{reduce_kernels().pick(), dst.data()});
}

} // namespace

shape reduced_shape(const shape& dims, const quant_axis& g) {
    const auto l = make_axis_layout(dims, g, "reduced_shape");
    if (g.kind == granularity::per_tensor) return shape{};
    const int axis = normalize_axis(g.axis, dims.rank(), "reduced_shape");
    if (g.kind == granularity::per_channel) return shape{l.channels};
    std::array<std::int64_t, shape::max_rank> d{};
    std::copy(dims.dims().begin(), dims.dims().end(), d.begin());
    d[axis] /= l.group;
    return shape(std::span<const std::int64_t>(d.data(), dims.rank()));
}

void min_max(const_tensor_view src, const quant_axis& g, tensor_view min, tensor_view max) {
    constexpr const char* where = "min_max";
    std::optional<tensor> holder;
    const float* x = contiguous_f32(src, holder, where);
    const auto l = make_axis_layout(src.dims(), g, where);
    const shape out = reduced_shape(src.dims(), g);
    check_result(min, out, where, "min");
    check_result(max, out, where, "max");
    run(x, l,
        min_max_op{reduce_kernels().pick(), static_cast<float*>(min.data()),
                   static_cast<float*>(max.data())});
}

void abs_max(const_tensor_view src, const quant_axis& g, tensor_view dst) {
    constexpr const char* where = "abs_max";
    std::optional<tensor> holder;
    const float* x = contiguous_f32(src, holder, where);
    const auto l = make_axis_layout(src.dims(), g, where);
    check_result(dst, reduced_shape(src.dims(), g), where, "dst");
    run(x, l, abs_max_op{reduce_kernels().pick(), static_cast<float*>(dst.data())});
}

value_range min_max(std::span<const float> src) {
    value_range r;
    span_min_max(src, 1, static_cast<std::int64_t>(src.size()), {}, {&r.min, 1}, {&r.max, 1},
                 "min_max");
    return r;
}

float abs_max(std::span<const float> src) {
    float r = 0.0f;
    span_abs_max(src, 1, static_cast<std::int64_t>(src.size()), {}, {&r, 1}, "abs_max");
    return r;
}

void min_max_rows(std::span<const float> src, std::int64_t rows, std::int64_t cols,
                  std::span<float> min, std::span<float> max) {
    span_min_max(src, rows, cols, {granularity::per_channel, 0, 0}, min, max, "min_max_rows");
}

void abs_max_rows(std::span<const float> src, std::int64_t rows, std::int64_t cols,
                  std::span<float> dst) {
    span_abs_max(src, rows, cols, {granularity::per_channel, 0, 0}, dst, "abs_max_rows");
}

void min_max_cols(std::span<const float> src, std::int64_t rows, std::int64_t cols,
                  std::span<float> min, std::span<float> max) {
    span_min_max(src, rows, cols, {granularity::per_channel, 1, 0}, min, max, "min_max_cols");
}

void abs_max_cols(std::span<const float> src, std::int64_t rows, std::int64_t cols,
                  std::span<float> dst) {
    span_abs_max(src, rows, cols, {granularity::per_channel, 1, 0}, dst, "abs_max_cols");
}

void min_max_groups(std::span<const float> src, std::int64_t rows, std::int64_t cols,
                    std::int64_t group, std::span<float> min, std::span<float> max) {
    span_min_max(src, rows, cols, {granularity::per_group, 1, group}, min, max, "min_max_groups");
}

void abs_max_groups(std::span<const float> src, std::int64_t rows, std::int64_t cols,
                    std::int64_t group, std::span<float> dst) {
    span_abs_max(src, rows, cols, {granularity::per_group, 1, group}, dst, "abs_max_groups");
}

} // namespace hone::kernels
