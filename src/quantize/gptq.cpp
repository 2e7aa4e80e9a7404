// GPTQ (see hone/quantize/gptq.hpp for the method and the choices made).
#include "hone/quantize/gptq.hpp"

#include "hessian.hpp"
#include "hone/core/threads.hpp"
#include "quant_common.hpp"

#include "hone/kernels/gemm.hpp"
#include <fmt/format.h>

#include <algorithm>
#include <numeric>

namespace hone {
namespace {

// Rows are quantized in chunks, one thread each; each chunk's products run on its thread alone
// (a single-thread oneDNN primitive), so the bytes do not depend on the thread count.
constexpr std::int64_t chunk_rows = 64;

} // namespace

quantized_tensor gptq_quantize(const_tensor_view weights, const_tensor_view hessian,
                               const quant_spec& spec, const gptq_config& config,
                               std::string_view name) {
    // Products on this thread run single-threaded too (when one chunk leaves the loop serial).
    const kernels::single_thread_scope one_thread;
    if (weights.rank() != 2)
        fail(status::invalid_argument,
             fmt::format("gptq: '{}' must be a [N, K] linear weight, got shape {}", name,
                         weights.dims().to_string()));
    const int axis = validate(spec, weights.dims(), name);
    if ((spec.granularity == quant_granularity::per_channel && axis != 0) ||
        (spec.granularity == quant_granularity::per_group && axis != 1))
        fail(status::invalid_argument,
             fmt::format("gptq: '{}': {} is not supported (per_channel needs axis 0, per_group "
                         "axis 1: groups along the reduction axis K)",
                         name, spec.to_string()));
    if (!(config.damp_fraction >= 0) || !std::isfinite(config.damp_fraction))
        fail(status::invalid_argument, fmt::format("gptq: '{}': damp_fraction = {} must be "
                                                   "finite and ≥ 0",
                                                   name, config.damp_fraction));
    if (config.block_size < 1)
        fail(status::invalid_argument,
             fmt::format("gptq: '{}': block_size = {} must be ≥ 1", name, config.block_size));
    if (config.clip_search) detail::validate(config.clip, name);
    const std::int64_t n = weights.dims()[0], k = weights.dims()[1];
    if (hessian.rank() != 2 || hessian.dims()[0] != k || hessian.dims()[1] != k)
        fail(status::shape_mismatch,
             fmt::format("gptq: Hessian of '{}' is {}, expected [{}, {}] (K of the weights {})",
                         name, hessian.dims().to_string(), k, k, weights.dims().to_string()));
    std::vector<float> w = detail::gather_finite(weights, name);

    // Act-order: columns by decreasing H_kk (stable, so ties keep their order).
    std::vector<std::int64_t> perm(static_cast<std::size_t>(k));
    std::iota(perm.begin(), perm.end(), std::int64_t{0});
    if (config.act_order) {
        if (hessian.type() != dtype::f32)
            fail(status::invalid_argument, fmt::format("gptq: Hessian of '{}' must be f32", name));
        std::vector<float> diag(static_cast<std::size_t>(k));
        const auto* hp = static_cast<const float*>(hessian.data());
        for (std::int64_t i = 0; i < k; ++i)
            diag[std::size_t(i)] = hp[i * hessian.stride(0) + i * hessian.stride(1)];
        std::stable_sort(perm.begin(), perm.end(), [&](std::int64_t a, std::int64_t b) {
            return diag[std::size_t(a)] > diag[std::size_t(b)];
        });
    }
    const detail::prepared_hessian prep = detail::prepare_hessian(
        hessian, config.damp_fraction,
        config.act_order ? std::span<const std::int64_t>(perm) : std::span<const std::int64_t>{},
        name);
    for (std::int64_t c = 0; c < k; ++c)
        if (prep.dead[std::size_t(c)])
            for (std::int64_t r = 0; r < n; ++r)
                w[std::size_t(r * k + c)] = 0.0f;

    const clip_search_config* clip = config.clip_search ? &config.clip : nullptr;
    const bool grouped = spec.granularity == quant_granularity::per_group;
    const bool dynamic_groups = grouped && !config.act_order && !config.static_groups;
    const std::int64_t g = grouped ? spec.group_size : k;
    const std::int64_t groups_per_row = grouped ? k / g : 1;
    std::int64_t block = config.block_size;
    if (dynamic_groups) block = std::max<std::int64_t>(1, block / g) * g;
    // Two-level blocking: within a block, sub-blocks of `sub` columns update each other
    // column by column; each sub-block then updates the rest of the block with one product.
    // With per-column groups recomputed on the fly, sub divides the group size so a group
    // always starts a sub-block (its columns then have every earlier update).
    std::int64_t sub = 16;
    while (dynamic_groups && g % sub != 0)
        sub /= 2;

    // Up-front parameters: per tensor, per channel, static groups (from W, dead columns zeroed).
    std::vector<detail::group_params> params;
    const detail::group_map map(spec, weights.dims(), axis);
    if (!dynamic_groups)
        params = detail::choose_all(w, spec, map, clip, name);
    else
        params.resize(static_cast<std::size_t>(n * groups_per_row));

    auto param_index = [&](std::int64_t row, std::int64_t col) -> std::int64_t {
        switch (spec.granularity) {
        case quant_granularity::per_tensor: return 0;
        case quant_granularity::per_channel: return row;
        default: return row * groups_per_row + col / g;
        }
    };

    const std::int32_t qmin = spec.qmin(), qmax = spec.qmax();
    const float* u = prep.inverse_cholesky_upper.data();
    // W in the permuted column order (row-major, N×K); updated in place.
    std::vector<float> wp(static_cast<std::size_t>(n * k));
    for (std::int64_t r = 0; r < n; ++r)
        for (std::int64_t i = 0; i < k; ++i)
            wp[std::size_t(r * k + i)] = w[std::size_t(r * k + perm[std::size_t(i)])];
    std::vector<std::int32_t> q(static_cast<std::size_t>(n * k));
    const std::int64_t chunks = (n + chunk_rows - 1) / chunk_rows;
    const int threads = hone::num_threads();
    std::string first_error;
    status first_code = status::ok;
    std::int64_t first_chunk = chunks;
    std::vector<float> ub; // U[i1:i2, i2:K], contiguous
    for (std::int64_t i1 = 0; i1 < k && first_chunk == chunks; i1 += block) {
        const std::int64_t i2 = std::min(i1 + block, k), count = i2 - i1, rest = k - i2;
        ub.resize(static_cast<std::size_t>(count * rest));
        for (std::int64_t i = i1; i < i2; ++i)
            std::copy(u + i * k + i2, u + i * k + k, ub.data() + (i - i1) * rest);
#pragma omp parallel num_threads(threads) if (chunks > 1)
        {
            std::vector<float> err(static_cast<std::size_t>(chunk_rows * count));
            std::vector<float> prod(static_cast<std::size_t>(chunk_rows * std::max(rest, count)));
            std::vector<float> sub_err(static_cast<std::size_t>(chunk_rows * sub));
            std::vector<float> sub_u(static_cast<std::size_t>(sub * count));
#pragma omp for schedule(dynamic, 1)
            for (std::int64_t c = 0; c < chunks; ++c) {
                try {
                    const std::int64_t r0 = c * chunk_rows, rows = std::min(chunk_rows, n - r0);
                    for (std::int64_t s1 = i1; s1 < i2; s1 += sub) {
                        const std::int64_t s2 = std::min(s1 + sub, i2);
                        for (std::int64_t i = s1; i < s2; ++i) {
                            if (dynamic_groups && i % g == 0) // columns [i, i+g) fully updated
                                for (std::int64_t r = 0; r < rows; ++r) {
                                    const std::span<const float> vals(wp.data() + (r0 + r) * k + i,
                                                                      std::size_t(g));
                                    params[std::size_t((r0 + r) * groups_per_row + i / g)] =
                                        clip ? detail::clip_params(vals, spec, *clip, name)
                                             : detail::minmax_params(vals, spec, name);
                                }
                            const float d = u[i * k + i];
                            const float* urow = u + i * k;
                            const std::int64_t col = perm[std::size_t(i)];
                            for (std::int64_t r = 0; r < rows; ++r) {
                                const auto& p = params[std::size_t(param_index(r0 + r, col))];
                                float* wr = wp.data() + (r0 + r) * k;
                                const float x = wr[i];
                                const std::int32_t qi =
                                    detail::quantize_value(x, p.scale, p.zero_point, qmin, qmax);
                                q[std::size_t((r0 + r) * k + col)] = qi;
                                const float e =
                                    (x - detail::dequantize_value(qi, p.scale, p.zero_point)) / d;
                                err[std::size_t(r * count + (i - i1))] = e;
#pragma omp simd
                                for (std::int64_t j = i + 1; j < s2; ++j)
                                    wr[j] -= e * urow[j];
                            }
                        }
                        const std::int64_t width = s2 - s1, after = i2 - s2;
                        if (after > 0) { // the sub-block's update of the rest of the block
                            for (std::int64_t r = 0; r < rows; ++r)
                                std::copy_n(err.data() + r * count + (s1 - i1), width,
                                            sub_err.data() + r * width);
                            for (std::int64_t i = s1; i < s2; ++i)
                                std::copy_n(u + i * k + s2, after, sub_u.data() + (i - s1) * after);
                            kernels::matmul_f32(sub_err.data(), sub_u.data(), prod.data(), rows,
                                                width, after, kernels::weight_layout::k_by_n,
                                                nullptr);
                            for (std::int64_t r = 0; r < rows; ++r) {
                                float* wr = wp.data() + (r0 + r) * k + s2;
                                const float* pr = prod.data() + r * after;
#pragma omp simd
                                for (std::int64_t j = 0; j < after; ++j)
                                    wr[j] -= pr[j];
                            }
                        }
                    }
                    if (rest > 0) { // lazy batch update of every column after the block
                        kernels::matmul_f32(err.data(), ub.data(), prod.data(), rows, count, rest,
                                            kernels::weight_layout::k_by_n, nullptr);
                        for (std::int64_t r = 0; r < rows; ++r) {
                            float* wr = wp.data() + (r0 + r) * k + i2;
                            const float* pr = prod.data() + r * rest;
#pragma omp simd
                            for (std::int64_t j = 0; j < rest; ++j)
                                wr[j] -= pr[j];
                        }
                    }
                } catch (const error& e) {
#pragma omp critical(hone_gptq_error)
                    if (c < first_chunk) {
                        first_chunk = c;
                        first_error = e.what();
                        first_code = e.code();
                    }
                }
            }
        }
    }
    if (first_chunk < chunks) fail(first_code, first_error);

    std::vector<float> scales(params.size());
    std::vector<std::int32_t> zps(params.size());
    for (std::size_t i = 0; i < params.size(); ++i) {
        scales[i] = params[i].scale;
        zps[i] = params[i].zero_point;
    }
    return quantized_tensor::from_values(spec, weights.dims(), q, scales, zps, name);
}

} // namespace hone
