// Backward of ops::batch_normalization in inference mode: the statistics are constants, so the
// layer is a per-channel affine map y = a·x + b with a = scale/√(var + ε), b = bias − mean·a.
#include "common.hpp"
#include "grad.hpp"

#include "hone/core/error.hpp"

#include <fmt/format.h>

#include <cmath>

namespace hone::ops {

norm_grads batch_normalization_backward(const_tensor_view x, const_tensor_view scale,
                                        const_tensor_view mean, const_tensor_view var,
                                        const_tensor_view dy, float epsilon) {
    constexpr const char* op = "ops::batch_normalization_backward";
    for (const auto& [v, what] :
         {std::pair{x, "X"}, std::pair{scale, "scale"}, std::pair{mean, "mean"},
          std::pair{var, "var"}, std::pair{dy, "dY"}})
        detail::require_f32(v, op, what);
    if (x.rank() < 2 || !(dy.dims() == x.dims()))
        fail(status::shape_mismatch, fmt::format("{}: X {} must be [N, C, ...] and dY its shape "
                                                 "(has {})",
                                                 op, x.dims().to_string(), dy.dims().to_string()));
    const std::int64_t n = x.dims()[0], c = x.dims()[1], size = n * c ? x.numel() / (n * c) : 0;
    for (const auto& [v, what] :
         {std::pair{scale, "scale"}, std::pair{mean, "mean"}, std::pair{var, "var"}})
        if (v.numel() != c)
            fail(status::shape_mismatch, fmt::format("{}: {} has shape {} for {} channels", op,
                                                     what, v.dims().to_string(), c));
    const detail::contiguous_f32 xs(x), ss(scale), ms(mean), vs(var), ds(dy);
    norm_grads r;
    r.dx = tensor(dtype::f32, x.dims());
    r.dscale = tensor(dtype::f32, shape{c});
    r.dbias = tensor(dtype::f32, shape{c});
    float* dx = static_cast<float*>(r.dx.data());
    float* dscale = static_cast<float*>(r.dscale.data());
    float* dbias = static_cast<float*>(r.dbias.data());
    detail::in_team(detail::threads_for(x.numel() * 4), [&] {
#pragma omp for schedule(static)
        for (std::int64_t ch = 0; ch < c; ++ch) {
            const float inv = 1.0f / std::sqrt(vs.data[ch] + epsilon);
            const float a = ss.data[ch] * inv;
            double sum_scale = 0, sum_bias = 0;
            for (std::int64_t b = 0; b < n; ++b) {
                const std::int64_t base = (b * c + ch) * size;
                for (std::int64_t j = 0; j < size; ++j) {
                    const float g = ds.data[base + j];
                    dx[base + j] = g * a;
                    sum_scale += double(g) * (xs.data[base + j] - ms.data[ch]) * inv;
                    sum_bias += g;
                }
            }
            dscale[ch] = float(sum_scale);
            dbias[ch] = float(sum_bias);
        }
    });
    return r;
}

} // namespace hone::ops
