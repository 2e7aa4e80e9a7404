#include "int8.hpp"

#include "hone/core/error.hpp"
#include "hone/core/threads.hpp"
#include "hone/kernels/quantize.hpp"
#include "hone/kernels/reduce.hpp"

#include "../quantize/quantize.hpp"
#include "../reduce/reduce.hpp"

#include <algorithm>
#include <cmath>
#include <limits>

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

namespace {

// Below this many elements a pass runs on the calling thread: an OpenMP fork/join costs more
// than the work (a 64×784 activation block quantizes in a few microseconds).
constexpr std::int64_t parallel_threshold = 1 << 17;

// choose_qparams(lo, hi, u8, affine) with qmax in place of 255; false for a non-finite range.
bool dynamic_qparams(float lo, float hi, float qmax, float& scale, std::int32_t& zero_point) {
    if (!std::isfinite(lo) || !std::isfinite(hi)) return false;
    const float rmin = std::min(lo, 0.0f), rmax = std::max(hi, 0.0f);
    const float width = rmax - rmin;
    if (!std::isfinite(width)) return false;
    float s = width == 0.0f ? 1.0f : width / qmax;
    if (!(s > 0.0f)) s = std::numeric_limits<float>::denorm_min(); // as choose_qparams
    float zp = quantize_rules::round_half_even(0.0f - rmin / s);
    zp = zp < 0.0f ? 0.0f : (zp > qmax ? qmax : zp);
    scale = s;
    zero_point = std::int32_t(zp);
    return true;
}

[[noreturn]] void non_finite(float lo, float hi, const char* where) {
    fail(status::invalid_argument,
         fmt::format("linear::run: dynamic quantization of src: the range [{}, {}] of {} is not "
                     "finite",
                     lo, hi, where));
}

} // namespace

void quantize_activations(const float* src, std::int64_t m, std::int64_t k, act_quant mode,
                          float static_scale, std::int32_t static_zero_point, std::int32_t qmax,
                          std::uint8_t* q, float* scales, std::int32_t* zero_points) {
    const auto& qk = quantize_kernels().pick();
    const float hi_q = float(qmax);
    const std::int64_t total = m * k;
    const int threads = total >= parallel_threshold ? hone::num_threads() : 1;
    if (mode == act_quant::dynamic_per_row) {
        const auto& rk = reduce_kernels().pick();
        std::int64_t bad = -1; // a row with a non-finite range (the last one found)
#pragma omp parallel for num_threads(threads) schedule(static) if (threads > 1)
        for (std::int64_t r = 0; r < m; ++r) {
            const float* row = src + r * k;
            float lo, hi;
            rk.min_max(row, std::size_t(k), &lo, &hi);
            float s;
            std::int32_t z;
            if (!dynamic_qparams(lo, hi, hi_q, s, z)) {
#pragma omp atomic write
                bad = r;
                continue;
            }
            scales[r] = s;
            zero_points[r] = z;
            qk.quantize(row, std::size_t(k), s, float(z), 0.0f, hi_q, q + r * k);
        }
        if (bad >= 0) {
            float lo, hi;
            rk.min_max(src + bad * k, std::size_t(k), &lo, &hi);
            non_finite(lo, hi, fmt::format("row {}", bad).c_str());
        }
        return;
    }
    if (mode == act_quant::dynamic_per_tensor) {
        const auto r = min_max(std::span<const float>(src, std::size_t(total)));
        if (!dynamic_qparams(r.min, r.max, hi_q, scales[0], zero_points[0]))
            non_finite(r.min, r.max, "the tensor");
    } else {
        scales[0] = static_scale;
        zero_points[0] = static_zero_point;
    }
    const float s = scales[0], z = float(zero_points[0]);
    // Chunks of whole rows; every element is independent, so the split does not matter.
#pragma omp parallel for num_threads(threads) schedule(static) if (threads > 1)
    for (std::int64_t r = 0; r < m; ++r)
        qk.quantize(src + r * k, std::size_t(k), s, z, 0.0f, hi_q, q + r * k);
}

void add_scaled_s32(float* dst, const std::int32_t* add, std::size_t count, std::int32_t factor) {
    for (std::size_t i = 0; i < count; ++i) {
        std::int32_t acc;
        std::memcpy(&acc, dst + i, sizeof acc);
        acc += factor * add[i];
        std::memcpy(dst + i, &acc, sizeof acc);
    }
}

void rescale_s32(float* dst, std::int64_t m, std::int64_t n, std::int64_t k,
                 std::span<const float> act_scales, std::span<const std::int32_t> act_zero_points,
                 std::span<const float> w_scales, std::span<const std::int32_t> colsum,
                 std::span<const float> bias, bool relu) {
    const bool per_row = act_scales.size() > 1;
    const float* ws = w_scales.data();
    const std::int32_t* cs = colsum.data();
    const float* b = bias.empty() ? nullptr : bias.data();
    const bool narrow = k <= 65793; // 255·128·k < 2^31
    const int threads = m * n >= parallel_threshold ? hone::num_threads() : 1;
#pragma omp parallel for num_threads(threads) schedule(static) if (threads > 1)
    for (std::int64_t r = 0; r < m; ++r) {
        const float s_a = act_scales[per_row ? std::size_t(r) : 0];
        const std::int32_t z_a = act_zero_points[per_row ? std::size_t(r) : 0];
        float* row = dst + r * n;
        if (narrow) {
            for (std::int64_t j = 0; j < n; ++j) {
                std::int32_t acc;
                std::memcpy(&acc, row + j, sizeof acc); // the s32 the primitive wrote here
                float y = (s_a * ws[j]) * float(acc - z_a * cs[j]);
                if (b) y += b[j];
                if (relu) y = y > 0.0f ? y : 0.0f;
                row[j] = y;
            }
        } else {
            for (std::int64_t j = 0; j < n; ++j) {
                std::int32_t acc;
                std::memcpy(&acc, row + j, sizeof acc);
                float y = (s_a * ws[j]) * float(std::int64_t(acc) - std::int64_t(z_a) * cs[j]);
                if (b) y += b[j];
                if (relu) y = y > 0.0f ? y : 0.0f;
                row[j] = y;
            }
        }
    }
}

} // namespace hone::kernels::detail
