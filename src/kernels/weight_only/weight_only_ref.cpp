// Scalar reference of the weight-only int4 kernels: defines the results every tier matches.
#include "weight_only.hpp"

#include "hone/core/half.hpp"

#include <algorithm>

namespace hone::kernels {

namespace {

float scale_at(const int4_matrix& w, std::int64_t i) noexcept {
    if (w.scales_f16) return to_float(half{static_cast<const std::uint16_t*>(w.scales)[i]});
    return static_cast<const float*>(w.scales)[i];
}

void prepare_x(const float* x, float* xp, std::int64_t k, std::int64_t) { std::copy(x, x + k, xp); }

void gemv_rows(const int4_matrix& w, const float* x, const float* bias, float* y, std::int64_t r0,
               std::int64_t r1) {
    const std::int64_t g = w.group_size, groups = w.groups();
    const int flip = nibble_flip(w);
    for (std::int64_t r = r0; r < r1; ++r) {
        const std::uint8_t* q = w.q + r * (w.k / 2);
        float sum = 0.0f;
        for (std::int64_t j = 0; j < groups; ++j) {
            const int zp = zero_point(w, r, j);
            float acc = 0.0f;
            for (std::int64_t c = j * g; c < (j + 1) * g; ++c)
                acc += static_cast<float>((nibble(q, c) ^ flip) - zp) * x[c];
            sum += scale_at(w, r * groups + j) * acc;
        }
        y[r] = bias ? sum + bias[r] : sum;
    }
}

void dequantize_rows(const int4_matrix& w, float* dst, std::int64_t r0, std::int64_t r1) {
    const std::int64_t g = w.group_size, groups = w.groups();
    const int flip = nibble_flip(w);
    for (std::int64_t r = r0; r < r1; ++r) {
        const std::uint8_t* q = w.q + r * (w.k / 2);
        float* out = dst + (r - r0) * w.k;
        for (std::int64_t j = 0; j < groups; ++j) {
            const int zp = zero_point(w, r, j);
            const float s = scale_at(w, r * groups + j);
            for (std::int64_t c = j * g; c < (j + 1) * g; ++c)
                out[c] = static_cast<float>((nibble(q, c) ^ flip) - zp) * s;
        }
    }
}

} // namespace

const weight_only_table weight_only_ref = {prepare_x, gemv_rows, dequantize_rows};

} // namespace hone::kernels
