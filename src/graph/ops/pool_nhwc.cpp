// MaxPool, AveragePool, GlobalAveragePool, GlobalMaxPool over tensors held NHWC (the layout the
// executor keeps between oneDNN convolutions): each output pixel's C channels are updated
// together, one kernel tap after the other. Every channel sees its window's taps in the order
// the NCHW functions (pool.cpp) visit them, with the same update (the NaN-propagating max with
// std::max's tie rule, or a double sum), so the values are bitwise theirs, transposed.
// OpenMP over output rows (n, oh), each by one thread: deterministic at any thread count.
#include "common.hpp"

#include <array>
#include <cmath>
#include <limits>
#include <optional>
#include <type_traits>
#include <vector>

namespace hone::ops {

namespace {

// X of rank 4, f32 (or, bytes_ok, u8 / i8).
void require_nhwc(const_tensor_view x, const char* op, bool bytes_ok = false) {
    if (!bytes_ok || (x.type() != dtype::u8 && x.type() != dtype::i8))
        detail::require_f32(x, op, "X");
    if (x.rank() != 4)
        fail(status::shape_mismatch, fmt::format("{}: X has shape {}, expected NHWC [N, H, W, C]",
                                                 op, x.dims().to_string()));
}

// One output pixel's C channels from its window's taps (pixel pointers, kernel order): taps
// outer and channels inner, so each tap is a run of contiguous loads. The max keeps the earlier
// of equal values ((v > m) ? v : m, one vector max instruction) and NaN is tracked apart: the
// NaN-propagating update of pool.cpp in fewer instructions.
void max_window(float* d, std::int64_t c, const float* const* taps, std::size_t count, float* nan) {
#pragma omp simd
    for (std::int64_t k = 0; k < c; ++k) {
        d[k] = -std::numeric_limits<float>::infinity();
        nan[k] = 0.0f;
    }
    for (std::size_t j = 0; j < count; ++j) {
        const float* s = taps[j];
#pragma omp simd
        for (std::int64_t k = 0; k < c; ++k) {
            d[k] = s[k] > d[k] ? s[k] : d[k];
            nan[k] = s[k] != s[k] ? 1.0f : nan[k];
        }
    }
#pragma omp simd
    for (std::int64_t k = 0; k < c; ++k)
        d[k] = nan[k] != 0.0f ? std::numeric_limits<float>::quiet_NaN() : d[k];
}

// The same for quantized values (u8/i8): no NaN; an empty window (only reachable with pads as
// large as the kernel) gives the type's lowest value.
template <class T> void max_window(T* d, std::int64_t c, const T* const* taps, std::size_t count) {
#pragma omp simd
    for (std::int64_t k = 0; k < c; ++k)
        d[k] = std::numeric_limits<T>::lowest();
    for (std::size_t j = 0; j < count; ++j) {
        const T* s = taps[j];
#pragma omp simd
        for (std::int64_t k = 0; k < c; ++k)
            d[k] = s[k] > d[k] ? s[k] : d[k];
    }
}

void average_window(float* d, std::int64_t c, const float* const* taps, std::size_t count,
                    std::int64_t divisor, double* sum) {
#pragma omp simd
    for (std::int64_t k = 0; k < c; ++k)
        sum[k] = 0.0;
    for (std::size_t j = 0; j < count; ++j) {
        const float* s = taps[j];
#pragma omp simd
        for (std::int64_t k = 0; k < c; ++k)
            sum[k] += s[k];
    }
    const double div = static_cast<double>(divisor);
#pragma omp simd
    for (std::int64_t k = 0; k < c; ++k)
        d[k] = divisor == 0 ? 0.0f : static_cast<float>(sum[k] / div);
}

// T: float (max or average) or a quantized byte type (max only).
template <class T>
tensor pool_nhwc(const_tensor_view x, const pool_params& p, bool max, const char* op) {
    require_nhwc(x, op, !std::is_same_v<T, float>);
    if (p.spatial.kernel_shape.size() != 2)
        fail(status::invalid_argument,
             fmt::format("{}: kernel_shape has {} axes; NHWC pooling is 2-D", op,
                         p.spatial.kernel_shape.size()));
    const std::int64_t n_ = x.dims()[0], h = x.dims()[1], w = x.dims()[2], c = x.dims()[3];
    const std::array<std::int64_t, 2> hw{h, w};
    const auto r = detail::resolve_spatial(hw, p.spatial.kernel_shape, p.spatial, p.ceil_mode, op);
    const std::int64_t oh_ = r.out[0], ow_ = r.out[1];
    tensor y = new_result(x.type(), shape{n_, oh_, ow_, c});
    if (y.numel() == 0) return y;
    std::optional<tensor> copy;
    if (!x.is_contiguous()) copy = tensor::copy_of(x);
    const T* src = static_cast<const T*>(copy ? copy->data() : x.data());
    T* py = static_cast<T*>(y.data());
    // Per axis and output index: the first tap, and the taps inside the input / padded input.
    struct axis_window {
        std::vector<std::int64_t> first, valid, padded;
    };
    auto window = [&](std::size_t a) {
        axis_window t;
        for (std::int64_t o = 0; o < r.out[a]; ++o) {
            std::int64_t valid = 0, padded = 0;
            for (std::int64_t k = 0; k < r.kernel[a]; ++k) {
                const std::int64_t i = o * r.stride[a] - r.pad_begin[a] + k * r.dilation[a];
                padded += i >= -r.pad_begin[a] && i < r.in[a] + r.pad_end[a];
                valid += i >= 0 && i < r.in[a];
            }
            t.first.push_back(o * r.stride[a] - r.pad_begin[a]);
            t.valid.push_back(valid);
            t.padded.push_back(padded);
        }
        return t;
    };
    const axis_window wh = window(0), ww = window(1);
    const int threads = detail::threads_for(y.numel() * r.kernel[0] * r.kernel[1]);
    detail::in_team(threads, [&] {
        {
            // The window's taps inside the input, in kernel order (row-major), as pixel pointers.
            std::vector<const T*> taps(static_cast<std::size_t>(r.kernel[0] * r.kernel[1]));
            std::vector<double> sum(max ? 0 : static_cast<std::size_t>(c));
            std::vector<float> nan(max ? static_cast<std::size_t>(c) : 0);
#pragma omp for schedule(static)
            for (std::int64_t row = 0; row < n_ * oh_; ++row) {
                const std::int64_t n = row / oh_, oh = row % oh_;
                for (std::int64_t ow = 0; ow < ow_; ++ow) {
                    std::size_t t = 0;
                    for (std::int64_t kh = 0; kh < r.kernel[0]; ++kh) {
                        const std::int64_t ih = wh.first[std::size_t(oh)] + kh * r.dilation[0];
                        if (ih < 0 || ih >= h) continue;
                        for (std::int64_t kw = 0; kw < r.kernel[1]; ++kw) {
                            const std::int64_t iw = ww.first[std::size_t(ow)] + kw * r.dilation[1];
                            if (iw >= 0 && iw < w) taps[t++] = src + ((n * h + ih) * w + iw) * c;
                        }
                    }
                    T* d = py + ((n * oh_ + oh) * ow_ + ow) * c;
                    if constexpr (std::is_same_v<T, float>) {
                        if (max) {
                            max_window(d, c, taps.data(), t, nan.data());
                            continue;
                        }
                        const auto i_h = std::size_t(oh), i_w = std::size_t(ow);
                        const std::int64_t divisor = p.count_include_pad
                                                         ? wh.padded[i_h] * ww.padded[i_w]
                                                         : wh.valid[i_h] * ww.valid[i_w];
                        average_window(d, c, taps.data(), t, divisor, sum.data());
                    } else {
                        max_window(d, c, taps.data(), t);
                    }
                }
            }
        }
    });
    return y;
}

tensor global_pool_nhwc(const_tensor_view x, bool max, const char* op) {
    require_nhwc(x, op);
    const std::int64_t n_ = x.dims()[0], c = x.dims()[3], plane = x.dims()[1] * x.dims()[2];
    tensor y = new_result(dtype::f32, shape{n_, c, 1, 1}); // = NHWC [N, 1, 1, C] byte for byte
    if (y.numel() == 0) return y;
    const detail::contiguous_f32 src(x);
    float* py = static_cast<float*>(y.data());
    const int threads = detail::threads_for(x.numel());
    detail::in_team(threads, [&] {
        {
            std::vector<double> sum(static_cast<std::size_t>(c));
            std::vector<char> nan(static_cast<std::size_t>(c));
#pragma omp for schedule(static)
            for (std::int64_t n = 0; n < n_; ++n) {
                float* d = py + n * c;
                const float* s = src.data + n * plane * c;
                if (max) {
                    std::fill(d, d + c, -std::numeric_limits<float>::infinity());
                    std::fill(nan.begin(), nan.end(), 0);
                    for (std::int64_t i = 0; i < plane; ++i, s += c)
                        for (std::int64_t k = 0; k < c; ++k) {
                            nan[std::size_t(k)] |= s[k] != s[k];
                            d[k] = d[k] < s[k] ? s[k] : d[k]; // std::max(d, s)
                        }
                    for (std::int64_t k = 0; k < c; ++k)
                        if (nan[std::size_t(k)]) d[k] = std::numeric_limits<float>::quiet_NaN();
                    continue;
                }
                std::fill(sum.begin(), sum.end(), 0.0);
                double* acc = sum.data();
                for (std::int64_t i = 0; i < plane; ++i, s += c) {
#pragma omp simd
                    for (std::int64_t k = 0; k < c; ++k)
                        acc[k] += s[k];
                }
                for (std::int64_t k = 0; k < c; ++k)
                    d[k] = plane == 0 ? std::numeric_limits<float>::quiet_NaN()
                                      : static_cast<float>(acc[k] / static_cast<double>(plane));
            }
        }
    });
    return y;
}

} // namespace

tensor max_pool_nhwc(const_tensor_view x, const pool_params& params) {
    const char* op = "ops::max_pool (NHWC)";
    if (x.type() == dtype::u8) return pool_nhwc<std::uint8_t>(x, params, true, op);
    if (x.type() == dtype::i8) return pool_nhwc<std::int8_t>(x, params, true, op);
    return pool_nhwc<float>(x, params, true, op);
}
tensor average_pool_nhwc(const_tensor_view x, const pool_params& params) {
    detail::require_f32(x, "ops::average_pool (NHWC)", "X");
    return pool_nhwc<float>(x, params, false, "ops::average_pool (NHWC)");
}
tensor global_average_pool_nhwc(const_tensor_view x) {
    return global_pool_nhwc(x, false, "ops::global_average_pool (NHWC)");
}
tensor global_max_pool_nhwc(const_tensor_view x) {
    return global_pool_nhwc(x, true, "ops::global_max_pool (NHWC)");
}

} // namespace hone::ops
