// Scalar reference of the palettized family: one index at a time, f32 sums in column order.
#include "palettized.hpp"

namespace hone::kernels {

namespace {

const float* codebook_of(const palette_rows& w, std::size_t r) {
    return w.codebooks + (r / w.group_rows) * (std::size_t(1) << w.bits);
}

void gemv(const palette_rows& w, const float* x, const float* bias, float* y, std::size_t r0,
          std::size_t r1) {
    for (std::size_t r = r0; r < r1; ++r) {
        const std::uint8_t* row = w.indices + r * w.row_bytes;
        const float* cb = codebook_of(w, r);
        float acc = 0.0f;
        for (std::size_t j = 0; j < w.cols; ++j)
            acc += cb[packed_index(row, j, w.bits)] * x[j];
        y[r] = bias ? acc + bias[r] : acc;
    }
}

void decode(const palette_rows& w, float* dst, std::size_t r0, std::size_t r1) {
    for (std::size_t r = r0; r < r1; ++r) {
        const std::uint8_t* row = w.indices + r * w.row_bytes;
        const float* cb = codebook_of(w, r);
        for (std::size_t j = 0; j < w.cols; ++j)
            dst[r * w.cols + j] = cb[packed_index(row, j, w.bits)];
    }
}

} // namespace

const palettized_table palettized_ref = {gemv, decode};

} // namespace hone::kernels
