// Backward of LayerNormalization (see grad.hpp). With x̂ = (x − mean)·inv, inv = 1/√(var + ε)
// (population variance) and h = dY·scale per row: dX = inv·(h − mean(h) − x̂·mean(h·x̂)),
// dScale = Σ_rows dY·x̂, dBias = Σ_rows dY, both then summed down to scale's shape.
#include "common.hpp"
#include "grad.hpp"

#include <algorithm>
#include <cmath>

namespace hone::ops {

using detail::require_f32;

namespace {

constexpr std::int64_t column_block = 256;

struct row_stats {
    std::vector<double> mean, inv;
};

// dX row by row (rows in parallel); returns each row's mean and inv, computed as the forward.
row_stats input_grad(const float* x, const float* g, const float* sc, float* dx, std::int64_t rows,
                     std::int64_t len, float epsilon) {
    row_stats st{std::vector<double>(std::size_t(rows)), std::vector<double>(std::size_t(rows))};
    const auto n = static_cast<double>(len);
    detail::in_team(detail::threads_for(rows * len * 6), [&] {
#pragma omp for schedule(static)
        for (std::int64_t r = 0; r < rows; ++r) {
            const float* p = x + r * len;
            const float* q = g + r * len;
            double sum = 0.0;
            for (std::int64_t i = 0; i < len; ++i)
                sum += p[i];
            const double mean = sum / n;
            double sq = 0.0;
            for (std::int64_t i = 0; i < len; ++i)
                sq += (p[i] - mean) * (p[i] - mean);
            const double inv = 1.0 / std::sqrt(sq / n + epsilon);
            double sh = 0.0, shx = 0.0; // Σ h, Σ h·x̂
            for (std::int64_t i = 0; i < len; ++i) {
                const double h = double(q[i]) * sc[i];
                sh += h;
                shx += h * (p[i] - mean) * inv;
            }
            for (std::int64_t i = 0; i < len; ++i) {
                const double h = double(q[i]) * sc[i];
                dx[r * len + i] =
                    static_cast<float>(inv * (h - sh / n - (p[i] - mean) * inv * shx / n));
            }
            st.mean[std::size_t(r)] = mean;
            st.inv[std::size_t(r)] = inv;
        }
    });
    return st;
}

// dScale and dBias over the normalized shape: column sums over the rows, in row order (blocks of
// columns in parallel).
void param_grads(const float* x, const float* g, const row_stats& st, std::int64_t rows,
                 std::int64_t len, float* dscale, float* dbias) {
    const std::int64_t blocks = (len + column_block - 1) / column_block;
    detail::in_team(detail::threads_for(rows * len * 4), [&] {
#pragma omp for schedule(static)
        for (std::int64_t b = 0; b < blocks; ++b) {
            const std::int64_t c0 = b * column_block, cn = std::min(column_block, len - c0);
            double ds[column_block] = {}, db[column_block] = {};
            for (std::int64_t r = 0; r < rows; ++r) {
                const float* p = x + r * len + c0;
                const float* q = g + r * len + c0;
                const double mean = st.mean[std::size_t(r)], inv = st.inv[std::size_t(r)];
                for (std::int64_t c = 0; c < cn; ++c) {
                    ds[c] += double(q[c]) * ((p[c] - mean) * inv);
                    db[c] += q[c];
                }
            }
            for (std::int64_t c = 0; c < cn; ++c) {
                dscale[c0 + c] = static_cast<float>(ds[c]);
                if (dbias) dbias[c0 + c] = static_cast<float>(db[c]);
            }
        }
    });
}

// `full` (the normalized shape) summed down to scale's shape.
tensor to_scale_shape(tensor full, const shape& scale_dims) {
    return full.dims() == scale_dims ? std::move(full) : reduce_to_shape(full, scale_dims);
}

} // namespace

norm_grads layer_normalization_backward(const_tensor_view x, const_tensor_view scale,
                                        const_tensor_view dy, std::int64_t axis, float epsilon,
                                        bool need_bias) {
    const char* op = "ops::layer_normalization_backward";
    require_f32(x, op, "X");
    require_f32(scale, op, "Scale");
    require_f32(dy, op, "dY");
    if (x.rank() == 0) fail(status::shape_mismatch, fmt::format("{}: X must have rank ≥ 1", op));
    if (!(dy.dims() == x.dims()))
        fail(status::shape_mismatch, fmt::format("{}: dY has shape {}, X has {}", op,
                                                 dy.dims().to_string(), x.dims().to_string()));
    const auto a = static_cast<std::size_t>(normalize_axis(axis, x.rank(), op));
    const shape norm_shape(x.dims().dims().subspan(a));
    const tensor sc = tensor::copy_of(broadcast_view(scale, norm_shape, op));
    const std::int64_t len = norm_shape.numel();
    const std::int64_t rows = len == 0 ? 0 : x.numel() / len;
    const detail::contiguous_f32 xs(x), gs(dy);
    norm_grads g;
    g.dx = new_result(dtype::f32, x.dims());
    const row_stats st = input_grad(xs.data, gs.data, static_cast<const float*>(sc.data()),
                                    static_cast<float*>(g.dx.data()), rows, len, epsilon);
    tensor dscale(dtype::f32, norm_shape), dbias;
    if (need_bias) dbias = tensor(dtype::f32, norm_shape);
    param_grads(xs.data, gs.data, st, rows, len, static_cast<float*>(dscale.data()),
                need_bias ? static_cast<float*>(dbias.data()) : nullptr);
    g.dscale = to_scale_shape(std::move(dscale), scale.dims());
    if (need_bias) g.dbias = to_scale_shape(std::move(dbias), scale.dims());
    return g;
}

} // namespace hone::ops
