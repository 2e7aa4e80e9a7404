// MaxPool, AveragePool, GlobalAveragePool, GlobalMaxPool over (n, c) planes.
//
// MaxPool/AveragePool run row-wise: every axis gets, per output index, the range of kernel taps
// that fall inside the input, precomputed once. An output row (o0, o1) then visits its input
// rows (i0, i1) in order, and for each kernel column tap updates every output column of the row
// in one contiguous SIMD loop over the interior columns (whose windows lie fully inside the
// input, no bounds checks), the few border columns by a checked scalar loop. Each output sees
// its window in the same row-major order as the direct reference loops (pool_reference), with
// the same update (std::max plus a NaN flag, or a double sum), so results are bitwise equal,
// signed zeros included.
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
#pragma omp parallel for schedule(static) num_threads(threads) if (threads > 1)
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

// One input row `src` into the output row accumulator `acc` (float max or double sum) for the
// interior output columns [lo, hi) (every tap inside the input) and the border columns.
// Stride S is a compile-time constant when > 0 (so the strided loads vectorize), else `stride`.
template <int S, pool_kind Kind, class Acc>
void row_update(Acc* acc, const float* src, std::int64_t in_w, std::int64_t out_w, std::int64_t lo,
                std::int64_t hi, std::int64_t kernel, std::int64_t stride_rt, std::int64_t dilation,
                std::int64_t pad) {
    const std::int64_t stride = S > 0 ? S : stride_rt;
    for (std::int64_t kw = 0; kw < kernel; ++kw) {
        const std::int64_t off = kw * dilation - pad;
        // Border columns before the interior.
        for (std::int64_t ow = 0; ow < lo; ++ow) {
            const std::int64_t i = ow * stride + off;
            if (i < 0 || i >= in_w) continue;
            if constexpr (Kind == pool_kind::max)
                acc[ow] = max_update(acc[ow], src[i]);
            else
                acc[ow] += src[i];
        }
        const float* s = src + off;
        std::int64_t c = lo;
#if defined(__SSE2__)
        if constexpr (S == 1 || S == 2) {
            // Four output columns at a time: their taps s[ow·S], loaded without reading past
            // the last tap of column ow + 3 (stride 2: p[0..3] and p[3..6], even lanes kept).
            const auto load4 = [](const float* q) {
                if constexpr (S == 1)
                    return _mm_loadu_ps(q);
                else
                    return _mm_shuffle_ps(_mm_loadu_ps(q), _mm_loadu_ps(q + 3),
                                          _MM_SHUFFLE(3, 1, 2, 0));
            };
            for (; c + 4 <= hi; c += 4) {
                const __m128 v = load4(s + c * S);
                if constexpr (Kind == pool_kind::max) {
                    const __m128 m = _mm_loadu_ps(acc + c);
                    const __m128 take = _mm_or_ps(_mm_cmplt_ps(m, v), _mm_cmpunord_ps(v, v));
                    _mm_storeu_ps(acc + c, _mm_or_ps(_mm_and_ps(take, v), _mm_andnot_ps(take, m)));
                } else {
                    _mm_storeu_pd(acc + c, _mm_add_pd(_mm_loadu_pd(acc + c), _mm_cvtps_pd(v)));
                    _mm_storeu_pd(acc + c + 2, _mm_add_pd(_mm_loadu_pd(acc + c + 2),
                                                          _mm_cvtps_pd(_mm_movehl_ps(v, v))));
                }
            }
            // Max only: the remaining columns by one last overlapping vector (applying a tap twice
            // to a column leaves it unchanged: the update is idempotent).
            if constexpr (Kind == pool_kind::max) {
                if (c < hi && hi - lo >= 4) {
                    c = hi - 4;
                    const __m128 v = load4(s + c * S);
                    const __m128 m = _mm_loadu_ps(acc + c);
                    const __m128 take = _mm_or_ps(_mm_cmplt_ps(m, v), _mm_cmpunord_ps(v, v));
                    _mm_storeu_ps(acc + c, _mm_or_ps(_mm_and_ps(take, v), _mm_andnot_ps(take, m)));
                    c = hi;
                }
            }
        }
#endif
        for (; c < hi; ++c) {
            if constexpr (Kind == pool_kind::max)
                acc[c] = max_update(acc[c], s[c * stride]);
            else
                acc[c] += static_cast<double>(s[c * stride]);
        }
        for (std::int64_t ow = hi; ow < out_w; ++ow) {
            const std::int64_t i = ow * stride + off;
            if (i < 0 || i >= in_w) continue;
            if constexpr (Kind == pool_kind::max)
                acc[ow] = max_update(acc[ow], src[i]);
            else
                acc[ow] += src[i];
        }
    }
}

template <pool_kind Kind, class Acc>
void row_update_any(Acc* acc, const float* src, const detail::resolved_spatial& r, std::int64_t lo,
                    std::int64_t hi) {
    const auto call = [&]<int S>() {
        row_update<S, Kind>(acc, src, r.in[2], r.out[2], lo, hi, r.kernel[2], r.stride[2],
                            r.dilation[2], r.pad_begin[2]);
    };
    if (r.stride[2] == 1)
        call.template operator()<1>();
    else if (r.stride[2] == 2)
        call.template operator()<2>();
    else
        call.template operator()<0>();
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
    tensor y(dtype::f32, shape(std::span<const std::int64_t>(out_dims)));
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
    const int threads = detail::threads_for(planes * out_plane * kvol);
#pragma omp parallel num_threads(threads) if (threads > 1)
    {
        std::vector<double> sums(kind == pool_kind::average ? std::size_t(out[2]) : 0);
#pragma omp for schedule(static)
        for (std::int64_t plane = 0; plane < planes; ++plane) {
            const float* s = src.data + plane * in_plane;
            float* d = py + plane * out_plane;
            for (std::int64_t o0 = 0; o0 < out[0]; ++o0)
                for (std::int64_t o1 = 0; o1 < out[1]; ++o1) {
                    float* drow = d + (o0 * out[1] + o1) * out[2];
                    if (kind == pool_kind::max)
                        std::fill(drow, drow + out[2], -std::numeric_limits<float>::infinity());
                    else
                        std::fill(sums.begin(), sums.end(), 0.0);
                    for (std::int64_t j0 = t0.begin[o0]; j0 < t0.begin[o0 + 1]; ++j0)
                        for (std::int64_t j1 = t1.begin[o1]; j1 < t1.begin[o1 + 1]; ++j1) {
                            const float* srow = s + (t0.index[j0] * in[1] + t1.index[j1]) * in[2];
                            if (kind == pool_kind::max)
                                row_update_any<pool_kind::max>(drow, srow, r, lo, hi);
                            else
                                row_update_any<pool_kind::average>(sums.data(), srow, r, lo, hi);
                        }
                    if (kind == pool_kind::max) {
                        for (std::int64_t ow = 0; ow < out[2]; ++ow)
                            if (std::isnan(drow[ow]))
                                drow[ow] = std::numeric_limits<float>::quiet_NaN();
                        continue;
                    }
                    const std::int64_t rows =
                        (t0.begin[o0 + 1] - t0.begin[o0]) * (t1.begin[o1 + 1] - t1.begin[o1]);
                    const std::int64_t padded_rows = t0.padded[o0] * t1.padded[o1];
                    for (std::int64_t ow = 0; ow < out[2]; ++ow) {
                        const std::int64_t divisor = p.count_include_pad
                                                         ? padded_rows * t2.padded[ow]
                                                         : rows * (t2.begin[ow + 1] - t2.begin[ow]);
                        drow[ow] =
                            divisor == 0
                                ? 0.0f
                                : static_cast<float>(sums[ow] / static_cast<double>(divisor));
                    }
                }
        }
    }
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
    tensor y(dtype::f32, shape(std::span<const std::int64_t>(out_dims)));
    const std::int64_t planes = y.numel();
    if (planes == 0) return y;
    const detail::contiguous_f32 src(x);
    float* py = static_cast<float*>(y.data());
    const int threads = detail::threads_for(x.numel());
#pragma omp parallel for schedule(static) num_threads(threads) if (threads > 1)
    for (std::int64_t plane = 0; plane < planes; ++plane) {
        const float* s = src.data + plane * plane_size;
        if (kind == pool_kind::average) {
            double sum = 0.0;
            for (std::int64_t i = 0; i < plane_size; ++i)
                sum += s[i];
            py[plane] = plane_size == 0 ? std::numeric_limits<float>::quiet_NaN()
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
