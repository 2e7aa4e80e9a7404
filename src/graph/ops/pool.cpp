// MaxPool, AveragePool, GlobalAveragePool, GlobalMaxPool over (n, c) planes.
//
// MaxPool/AveragePool: the spatial axes are right-aligned (axis 2 is the contiguous one) and
// every axis gets, per output index, the input indices of its kernel taps inside the input
// (plus the count inside the padded input), precomputed once per call. Per output row the input
// rows of its window are gathered in kernel order; interior columns (every tap inside the
// input) then go four at a time with stride 1 or 2 (SSE2; the accumulators stay in registers
// over all taps, one store per block, the last block overlapping instead of a scalar tail),
// border columns and other strides by a checked scalar loop. Each output sees its window in
// the same row-major order as the direct reference loops (detail::pool_reference, kept for
// tests and benchmarks) with the same update (std::max tie rule plus NaN propagation, or a
// double sum), so results are bitwise equal to them, signed zeros and NaN included. OpenMP
// over (n, c) planes, each plane by one thread: deterministic at any thread count.
#include "common.hpp"
#include "ops.hpp"
#include "pool_reference.hpp"

#include <cmath>
#include <vector>

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

namespace hone::ops {

namespace {

enum class pool_kind { max, average };

tensor pool_direct(const_tensor_view x, const pool_params& p, pool_kind kind, const char* op) {
    detail::require_f32(x, op, "X");
    if (x.rank() < 3 || x.rank() > 5)
        fail(status::shape_mismatch,
             fmt::format("{}: X has shape {}, expected [N, C, D1..Dk], k = 1..3", op,
                         x.dims().to_string()));
    if (p.spatial.kernel_shape.empty())
        fail(status::invalid_argument, fmt::format("{}: kernel_shape is required", op));
    const auto r = detail::resolve_spatial(x.dims().dims().subspan(2), p.spatial.kernel_shape,
                                           p.spatial, p.ceil_mode, op);
    std::vector<std::int64_t> out_dims{x.dims()[0], x.dims()[1]};
    for (std::size_t i = 0; i < r.k; ++i)
        out_dims.push_back(r.out[i]);
    tensor y(dtype::f32, shape(std::span<const std::int64_t>(out_dims)));
    if (y.numel() == 0) return y;
    const detail::contiguous_f32 src(x);
    const auto& in = r.in;
    const auto& out = r.out;
    const std::int64_t in_plane = in[0] * in[1] * in[2], out_plane = out[0] * out[1] * out[2];
    const std::int64_t planes = x.dims()[0] * x.dims()[1];
    const std::int64_t kvol = r.kernel[0] * r.kernel[1] * r.kernel[2];
    float* py = static_cast<float*>(y.data());
    const int threads = detail::threads_for(planes * out_plane * kvol);
    detail::in_team(threads, [&] {
#pragma omp for schedule(static)
        for (std::int64_t plane = 0; plane < planes; ++plane) {
            const float* s = src.data + plane * in_plane;
            float* d = py + plane * out_plane;
            for (std::int64_t o0 = 0; o0 < out[0]; ++o0)
                for (std::int64_t o1 = 0; o1 < out[1]; ++o1)
                    for (std::int64_t o2 = 0; o2 < out[2]; ++o2) {
                        const std::array<std::int64_t, 3> o{o0, o1, o2};
                        // Per axis: window positions inside the input, and inside the padded input.
                        std::int64_t padded_count = 1;
                        for (std::size_t a = 0; a < 3; ++a) {
                            std::int64_t cnt = 0;
                            for (std::int64_t kk = 0; kk < r.kernel[a]; ++kk) {
                                const std::int64_t i =
                                    o[a] * r.stride[a] - r.pad_begin[a] + kk * r.dilation[a];
                                if (i >= -r.pad_begin[a] && i < in[a] + r.pad_end[a]) ++cnt;
                            }
                            padded_count *= cnt;
                        }
                        float mx = -std::numeric_limits<float>::infinity();
                        double sum = 0.0;
                        std::int64_t count = 0;
                        bool nan = false;
                        for (std::int64_t k0 = 0; k0 < r.kernel[0]; ++k0) {
                            const std::int64_t i0 =
                                o0 * r.stride[0] - r.pad_begin[0] + k0 * r.dilation[0];
                            if (i0 < 0 || i0 >= in[0]) continue;
                            for (std::int64_t k1 = 0; k1 < r.kernel[1]; ++k1) {
                                const std::int64_t i1 =
                                    o1 * r.stride[1] - r.pad_begin[1] + k1 * r.dilation[1];
                                if (i1 < 0 || i1 >= in[1]) continue;
                                for (std::int64_t k2 = 0; k2 < r.kernel[2]; ++k2) {
                                    const std::int64_t i2 =
                                        o2 * r.stride[2] - r.pad_begin[2] + k2 * r.dilation[2];
                                    if (i2 < 0 || i2 >= in[2]) continue;
                                    const float v = s[(i0 * in[1] + i1) * in[2] + i2];
                                    if (std::isnan(v)) nan = true;
                                    mx = std::max(mx, v);
                                    sum += v;
                                    ++count;
                                }
                            }
                        }
                        float result;
                        if (kind == pool_kind::max) {
                            result = nan ? std::numeric_limits<float>::quiet_NaN() : mx;
                        } else {
                            const std::int64_t divisor = p.count_include_pad ? padded_count : count;
                            result = divisor == 0
                                         ? 0.0f
                                         : static_cast<float>(sum / static_cast<double>(divisor));
                        }
                        d[(o0 * out[1] + o1) * out[2] + o2] = result;
                    }
        }
    });
    return y;
}

// Kernel taps of one axis, per output index: the input indices inside the input (kernel
// order), how many there are, and how many lie inside the padded input (count_include_pad).
struct axis_taps {
    std::vector<std::int64_t> begin;  // per output: first entry in `index` (size out + 1)
    std::vector<std::int64_t> index;  // valid input indices, kernel order
    std::vector<std::int64_t> padded; // per output: taps inside the padded input
};

axis_taps taps_of(const detail::resolved_spatial& r, std::size_t a) {
    axis_taps t;
    t.begin.reserve(std::size_t(r.out[a] + 1));
    for (std::int64_t o = 0; o < r.out[a]; ++o) {
        t.begin.push_back(std::int64_t(t.index.size()));
        std::int64_t padded = 0;
        for (std::int64_t kk = 0; kk < r.kernel[a]; ++kk) {
            const std::int64_t i = o * r.stride[a] - r.pad_begin[a] + kk * r.dilation[a];
            if (i >= -r.pad_begin[a] && i < r.in[a] + r.pad_end[a]) ++padded;
            if (i >= 0 && i < r.in[a]) t.index.push_back(i);
        }
        t.padded.push_back(padded);
    }
    t.begin.push_back(std::int64_t(t.index.size()));
    return t;
}

// NaN-propagating max with std::max's tie rule (keeps the earlier of equal values, so signed
// zeros come out as in the reference): once m is NaN it stays NaN; a NaN v replaces m.
inline float max_update(float m, float v) { return (m < v || std::isnan(v)) ? v : m; }

// Taps and interior column range of one pool, shared by every plane.
struct plane_context {
    const detail::resolved_spatial* r;
    const axis_taps *t0, *t1, *t2;
    std::int64_t lo, hi; // interior output columns: every tap inside the input
    bool count_include_pad;
};

// The result of one output from its accumulator (max with NaN flag folded in, or sum).
template <pool_kind Kind>
inline float finish(const plane_context& c, float m, double sum, std::int64_t rows,
                    std::int64_t padded_rows, std::int64_t ow) {
    if constexpr (Kind == pool_kind::max) {
        return std::isnan(m) ? std::numeric_limits<float>::quiet_NaN() : m;
    } else {
        const auto& t2 = *c.t2;
        const std::int64_t divisor = c.count_include_pad ? padded_rows * t2.padded[ow]
                                                         : rows * (t2.begin[ow + 1] - t2.begin[ow]);
        return divisor == 0 ? 0.0f : static_cast<float>(sum / static_cast<double>(divisor));
    }
}

// One output column ow of an output row, taps checked (border columns, odd strides).
template <pool_kind Kind>
inline float column(const plane_context& c, const float* const* rows, std::int64_t nrows,
                    std::int64_t padded_rows, std::int64_t ow) {
    const auto& r = *c.r;
    float m = -std::numeric_limits<float>::infinity();
    double sum = 0.0;
    for (std::int64_t j = 0; j < nrows; ++j)
        for (std::int64_t kw = 0; kw < r.kernel[2]; ++kw) {
            const std::int64_t i = ow * r.stride[2] - r.pad_begin[2] + kw * r.dilation[2];
            if (i < 0 || i >= r.in[2]) continue;
            if constexpr (Kind == pool_kind::max)
                m = max_update(m, rows[j][i]);
            else
                sum += rows[j][i];
        }
    return finish<Kind>(c, m, sum, nrows, padded_rows, ow);
}

// One (n, c) plane: input s → output d. `rows` has room for kernel[0]·kernel[1] pointers.
// Per output row, the input rows of its window are gathered in kernel order; interior columns
// then go four at a time (stride 1 or 2, SSE2): the accumulators stay in registers over all
// taps (rows, then kernel columns: the reference order) and are stored once; the last block
// overlaps the previous one instead of a scalar tail (it recomputes those columns fully).
template <int S, pool_kind Kind>
void pool_plane(const plane_context& c, const float* s, float* d, const float** rows) {
    const auto& r = *c.r;
    const auto &t0 = *c.t0, &t1 = *c.t1;
    const auto& in = r.in;
    const auto& out = r.out;
    const std::int64_t lo = c.lo, hi = c.hi;
    for (std::int64_t o0 = 0; o0 < out[0]; ++o0)
        for (std::int64_t o1 = 0; o1 < out[1]; ++o1) {
            float* drow = d + (o0 * out[1] + o1) * out[2];
            std::int64_t nrows = 0;
            for (std::int64_t j0 = t0.begin[o0]; j0 < t0.begin[o0 + 1]; ++j0)
                for (std::int64_t j1 = t1.begin[o1]; j1 < t1.begin[o1 + 1]; ++j1)
                    rows[nrows++] = s + (t0.index[j0] * in[1] + t1.index[j1]) * in[2];
            const std::int64_t padded_rows = t0.padded[o0] * t1.padded[o1];
            for (std::int64_t ow = 0; ow < lo; ++ow)
                drow[ow] = column<Kind>(c, rows, nrows, padded_rows, ow);
            for (std::int64_t ow = hi; ow < out[2]; ++ow)
                drow[ow] = column<Kind>(c, rows, nrows, padded_rows, ow);
            std::int64_t ow = lo;
#if defined(__SSE2__)
            if constexpr (S == 1 || S == 2) {
                // Taps s[ow·S] of four columns, loaded without reading past the last tap of
                // column ow + 3 (stride 2: q[0..3] and q[3..6], even elements kept).
                const auto load4 = [](const float* q) {
                    if constexpr (S == 1)
                        return _mm_loadu_ps(q);
                    else
                        return _mm_shuffle_ps(_mm_loadu_ps(q), _mm_loadu_ps(q + 3),
                                              _MM_SHUFFLE(3, 1, 2, 0));
                };
                const std::int64_t kernel = r.kernel[2], dilation = r.dilation[2],
                                   pad = r.pad_begin[2];
                for (; hi - lo >= 4 && ow < hi; ow += 4) {
                    if (ow + 4 > hi) ow = hi - 4;
                    if constexpr (Kind == pool_kind::max) {
                        __m128 m = _mm_set1_ps(-std::numeric_limits<float>::infinity());
                        for (std::int64_t j = 0; j < nrows; ++j) {
                            const float* q = rows[j] + ow * S - pad;
                            for (std::int64_t kw = 0; kw < kernel; ++kw) {
                                const __m128 v = load4(q + kw * dilation);
                                const __m128 take =
                                    _mm_or_ps(_mm_cmplt_ps(m, v), _mm_cmpunord_ps(v, v));
                                m = _mm_or_ps(_mm_and_ps(take, v), _mm_andnot_ps(take, m));
                            }
                        }
                        const __m128 nan = _mm_cmpunord_ps(m, m);
                        m = _mm_or_ps(
                            _mm_and_ps(nan, _mm_set1_ps(std::numeric_limits<float>::quiet_NaN())),
                            _mm_andnot_ps(nan, m));
                        _mm_storeu_ps(drow + ow, m);
                    } else {
                        __m128d s01 = _mm_setzero_pd(), s23 = _mm_setzero_pd();
                        for (std::int64_t j = 0; j < nrows; ++j) {
                            const float* q = rows[j] + ow * S - pad;
                            for (std::int64_t kw = 0; kw < kernel; ++kw) {
                                const __m128 v = load4(q + kw * dilation);
                                s01 = _mm_add_pd(s01, _mm_cvtps_pd(v));
                                s23 = _mm_add_pd(s23, _mm_cvtps_pd(_mm_movehl_ps(v, v)));
                            }
                        }
                        alignas(16) double sums[4];
                        _mm_store_pd(sums, s01);
                        _mm_store_pd(sums + 2, s23);
                        for (std::int64_t k = 0; k < 4; ++k)
                            drow[ow + k] =
                                finish<Kind>(c, 0.0f, sums[k], nrows, padded_rows, ow + k);
                    }
                }
            }
#endif
            for (; ow < hi; ++ow)
                drow[ow] = column<Kind>(c, rows, nrows, padded_rows, ow);
        }
}

template <pool_kind Kind>
auto plane_function(std::int64_t stride)
    -> void (*)(const plane_context&, const float*, float*, const float**) {
    if (stride == 1) return &pool_plane<1, Kind>;
    if (stride == 2) return &pool_plane<2, Kind>;
    return &pool_plane<0, Kind>;
}

tensor pool(const_tensor_view x, const pool_params& p, pool_kind kind, const char* op) {
    detail::require_f32(x, op, "X");
    if (x.rank() < 3 || x.rank() > 5)
        fail(status::shape_mismatch,
             fmt::format("{}: X has shape {}, expected [N, C, D1..Dk], k = 1..3", op,
                         x.dims().to_string()));
    if (p.spatial.kernel_shape.empty())
        fail(status::invalid_argument, fmt::format("{}: kernel_shape is required", op));
    const auto resolved = detail::resolve_spatial(
        x.dims().dims().subspan(2), p.spatial.kernel_shape, p.spatial, p.ceil_mode, op);
    std::vector<std::int64_t> out_dims{x.dims()[0], x.dims()[1]};
    for (std::size_t i = 0; i < resolved.k; ++i)
        out_dims.push_back(resolved.out[i]);
    tensor y = new_result(dtype::f32, shape(std::span<const std::int64_t>(out_dims)));
    if (y.numel() == 0) return y;
    // Right-align the k spatial axes so axis 2 is always the contiguous one (leading axes of
    // 1-D/2-D pools are trivial: size 1, kernel 1).
    detail::resolved_spatial r;
    r.k = 3;
    const std::size_t shift = 3 - resolved.k;
    for (std::size_t a = 0; a < 3; ++a) {
        const bool real = a >= shift;
        const std::size_t i = real ? a - shift : 0;
        r.in[a] = real ? resolved.in[i] : 1;
        r.kernel[a] = real ? resolved.kernel[i] : 1;
        r.stride[a] = real ? resolved.stride[i] : 1;
        r.dilation[a] = real ? resolved.dilation[i] : 1;
        r.pad_begin[a] = real ? resolved.pad_begin[i] : 0;
        r.pad_end[a] = real ? resolved.pad_end[i] : 0;
        r.out[a] = real ? resolved.out[i] : 1;
    }
    const detail::contiguous_f32 src(x);
    const auto& in = r.in;
    const auto& out = r.out;
    const std::int64_t in_plane = in[0] * in[1] * in[2], out_plane = out[0] * out[1] * out[2];
    const std::int64_t planes = x.dims()[0] * x.dims()[1];
    const std::int64_t kvol = r.kernel[0] * r.kernel[1] * r.kernel[2];
    const axis_taps t0 = taps_of(r, 0), t1 = taps_of(r, 1), t2 = taps_of(r, 2);
    // Interior output columns: ow·stride − pad ≥ 0 and ow·stride − pad + (K−1)·dil ≤ in − 1.
    const std::int64_t last = in[2] - 1 + r.pad_begin[2] - (r.kernel[2] - 1) * r.dilation[2];
    const std::int64_t lo = std::min(out[2], (r.pad_begin[2] + r.stride[2] - 1) / r.stride[2]);
    const std::int64_t hi = std::max(lo, std::min(out[2], last < 0 ? 0 : last / r.stride[2] + 1));
    float* py = static_cast<float*>(y.data());
    const plane_context ctx{&r, &t0, &t1, &t2, lo, hi, p.count_include_pad};
    const auto plane_fn = kind == pool_kind::max ? plane_function<pool_kind::max>(r.stride[2])
                                                 : plane_function<pool_kind::average>(r.stride[2]);
    const int threads = detail::threads_for(planes * out_plane * kvol);
    detail::in_team(threads, [&] {
        {
            std::vector<const float*> rows(std::size_t(r.kernel[0] * r.kernel[1]));
#pragma omp for schedule(static)
            for (std::int64_t plane = 0; plane < planes; ++plane)
                plane_fn(ctx, src.data + plane * in_plane, py + plane * out_plane, rows.data());
        }
    });
    return y;
}

tensor global_pool(const_tensor_view x, pool_kind kind, const char* op) {
    detail::require_f32(x, op, "X");
    if (x.rank() < 3)
        fail(status::shape_mismatch,
             fmt::format("{}: X has shape {}, expected [N, C, D...]", op, x.dims().to_string()));
    std::vector<std::int64_t> out_dims(x.dims().dims().begin(), x.dims().dims().end());
    std::int64_t plane_size = 1;
    for (std::size_t i = 2; i < out_dims.size(); ++i) {
        plane_size *= out_dims[i];
        out_dims[i] = 1;
    }
    tensor y = new_result(dtype::f32, shape(std::span<const std::int64_t>(out_dims)));
    const std::int64_t planes = y.numel();
    if (planes == 0) return y;
    const detail::contiguous_f32 src(x);
    float* py = static_cast<float*>(y.data());
    const int threads = detail::threads_for(x.numel());
    detail::in_team(threads, [&] {
#pragma omp for schedule(static)
        for (std::int64_t plane = 0; plane < planes; ++plane) {
            const float* s = src.data + plane * plane_size;
            if (kind == pool_kind::average) {
                double sum = 0.0;
                for (std::int64_t i = 0; i < plane_size; ++i)
                    sum += s[i];
                py[plane] = plane_size == 0
                                ? std::numeric_limits<float>::quiet_NaN()
                                : static_cast<float>(sum / static_cast<double>(plane_size));
            } else {
                float mx = -std::numeric_limits<float>::infinity();
                bool nan = false;
                for (std::int64_t i = 0; i < plane_size; ++i) {
                    nan = nan || std::isnan(s[i]);
                    mx = std::max(mx, s[i]);
                }
                py[plane] = nan ? std::numeric_limits<float>::quiet_NaN() : mx;
            }
        }
    });
    return y;
}

} // namespace

tensor detail::pool_reference(const_tensor_view x, const pool_params& params, bool max) {
    return pool_direct(x, params, max ? pool_kind::max : pool_kind::average,
                       max ? "ops::max_pool" : "ops::average_pool");
}

tensor max_pool(const_tensor_view x, const pool_params& params) {
    return pool(x, params, pool_kind::max, "ops::max_pool");
}
tensor average_pool(const_tensor_view x, const pool_params& params) {
    return pool(x, params, pool_kind::average, "ops::average_pool");
}
tensor global_average_pool(const_tensor_view x) {
    return global_pool(x, pool_kind::average, "ops::global_average_pool");
}
tensor global_max_pool(const_tensor_view x) {
    return global_pool(x, pool_kind::max, "ops::global_max_pool");
}

} // namespace hone::ops
