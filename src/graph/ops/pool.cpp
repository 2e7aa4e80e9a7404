// MaxPool, AveragePool, GlobalAveragePool, GlobalMaxPool: direct loops over (n, c) planes.
#include "common.hpp"
#include "ops.hpp"

#include <cmath>

namespace hone::ops {

namespace {

enum class pool_kind { max, average };

tensor pool(const_tensor_view x, const pool_params& p, pool_kind kind, const char* op) {
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
