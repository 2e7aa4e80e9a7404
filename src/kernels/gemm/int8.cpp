#include "int8.hpp"

#include "hone/core/error.hpp"
#include "hone/core/threads.hpp"
#include "hone/kernels/quantize.hpp"
#include "hone/kernels/reduce.hpp"

#include <cstring>
#include <fmt/format.h>

namespace hone::kernels::detail {

int8_weights quantize_weights(std::span<const float> w, std::int64_t k, std::int64_t n,
                              weight_layout layout) {
    // Work on [N, K] rows: one output channel per row.
    std::vector<float> transposed;
    std::span<const float> rows = w;
    if (layout == weight_layout::k_by_n) {
        transposed.resize(w.size());
        for (std::int64_t kk = 0; kk < k; ++kk)
            for (std::int64_t j = 0; j < n; ++j)
                transposed[std::size_t(j * k + kk)] = w[std::size_t(kk * n + j)];
        rows = transposed;
    }
    int8_weights out;
    out.q.resize(w.size());
    out.scales.resize(std::size_t(n));
    std::vector<float> lo(static_cast<std::size_t>(n)), hi(static_cast<std::size_t>(n));
    min_max_rows(rows, n, k, lo, hi);
    std::vector<std::int32_t> zero(static_cast<std::size_t>(n));
    for (std::int64_t j = 0; j < n; ++j)
        if (std::isnan(lo[j]) || std::isinf(lo[j]) || std::isinf(hi[j]))
            fail(status::invalid_argument,
                 fmt::format("linear: weights of output channel {} contain inf or NaN", j));
    choose_qparams(lo, hi, dtype::i8, quant_scheme::symmetric, out.scales, zero);
    for (std::int64_t j = 0; j < n; ++j)
        quantize(rows.subspan(std::size_t(j * k), std::size_t(k)), out.scales[j], 0,
                 std::span<std::int8_t>(out.q.data() + j * k, std::size_t(k)));
    return out;
}

std::vector<std::int32_t> channel_sums(const std::int8_t* q, std::int64_t k, std::int64_t n,
                                       weight_layout layout) {
    std::vector<std::int32_t> sums(std::size_t(n), 0);
    for (std::int64_t kk = 0; kk < k; ++kk)
        for (std::int64_t j = 0; j < n; ++j)
            sums[std::size_t(j)] += layout == weight_layout::n_by_k ? q[j * k + kk] : q[kk * n + j];
    return sums;
}

void quantize_activations(const float* src, std::int64_t m, std::int64_t k, act_quant mode,
                          float static_scale, std::int32_t static_zero_point, std::uint8_t* q,
                          std::vector<float>& scales, std::vector<std::int32_t>& zero_points) {
    const std::span<const float> all(src, std::size_t(m * k));
    const auto rows = mode == act_quant::dynamic_per_row ? m : 1;
    scales.assign(std::size_t(rows), static_scale);
    zero_points.assign(std::size_t(rows), static_zero_point);
    if (mode != act_quant::static_per_tensor) {
        std::vector<float> lo(static_cast<std::size_t>(rows)), hi(static_cast<std::size_t>(rows));
        if (mode == act_quant::dynamic_per_row) {
            min_max_rows(all, m, k, lo, hi);
        } else {
            const auto r = min_max(all);
            lo[0] = r.min;
            hi[0] = r.max;
        }
        try {
            choose_qparams(lo, hi, dtype::u8, quant_scheme::affine, scales, zero_points);
        } catch (const hone::error& e) {
            fail(e.code(), std::string("linear::run: dynamic quantization of src: ") + e.what());
        }
    }
    // Sequential calls: the quantize kernel parallelises internally, and nothing may throw
    // out of an OpenMP region.
    for (std::int64_t r = 0; r < rows; ++r) {
        const std::int64_t count = rows == 1 ? m * k : k;
        quantize(all.subspan(std::size_t(r * k), std::size_t(count)), scales[std::size_t(r)],
                 zero_points[std::size_t(r)],
                 std::span<std::uint8_t>(q + r * k, std::size_t(count)));
    }
}

void add_scaled_s32(float* dst, const std::int32_t* add, std::size_t count, std::int32_t factor) {
    for (std::size_t i = 0; i < count; ++i) {
        std::int32_t acc;
        std::memcpy(&acc, dst + i, sizeof acc);
        acc += factor * add[i];
        std::memcpy(dst + i, &acc, sizeof acc);
    }
}

void rescale_s32(float* dst, std::int64_t m, std::int64_t n, std::span<const float> act_scales,
                 std::span<const std::int32_t> act_zero_points, std::span<const float> w_scales,
                 std::span<const std::int32_t> colsum, std::span<const float> bias, bool relu) {
    const bool per_row = act_scales.size() > 1;
    const bool has_bias = !bias.empty();
#pragma omp parallel for num_threads(hone::num_threads()) schedule(static)
    for (std::int64_t r = 0; r < m; ++r) {
        const float s_a = act_scales[per_row ? std::size_t(r) : 0];
        const std::int64_t z_a = act_zero_points[per_row ? std::size_t(r) : 0];
        float* row = dst + r * n;
        for (std::int64_t j = 0; j < n; ++j) {
            std::int32_t acc;
            std::memcpy(&acc, row + j, sizeof acc); // the s32 the primitive wrote here
            const float scale = s_a * w_scales[std::size_t(j)];
            float y = scale * float(std::int64_t(acc) - z_a * colsum[std::size_t(j)]);
            if (has_bias) y += bias[std::size_t(j)];
            if (relu) y = y > 0.0f ? y : 0.0f;
            row[j] = y;
        }
    }
}

} // namespace hone::kernels::detail
