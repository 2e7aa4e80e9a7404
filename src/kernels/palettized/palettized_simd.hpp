// The palettized family for one SIMD tier: unpack W indices, look the weights up in registers,
// multiply-add against x. Two accumulators per row; the column tail is scalar.
#pragma once

#include "palette_lanes.hpp"
#include "palettized.hpp"

namespace hone::kernels::simd {

template <class Arch> struct palettized_kernels {
    using f32 = xsimd::batch<float, Arch>;
    using P = palette<Arch>;
    static constexpr std::size_t W = P::W;
    static_assert(f32::size == W);

    static const float* codebook_of(const palette_rows& w, std::size_t r) {
        return w.codebooks + (r / w.group_rows) * (std::size_t(1) << w.bits);
    }

    static void gemv(const palette_rows& w, const float* x, const float* bias, float* y,
                     std::size_t r0, std::size_t r1) {
        if (r0 >= r1) return;
        const typename P::plan plan(w.bits);
        const std::size_t step_bytes = W * std::size_t(w.bits) / 8; // W·b is a multiple of 8
        std::size_t group = r0 / w.group_rows;
        typename P::lut lut(codebook_of(w, r0), w.bits);
        for (std::size_t r = r0; r < r1; ++r) {
            const float* cb = codebook_of(w, r);
            if (r / w.group_rows != group) {
                group = r / w.group_rows;
                lut = typename P::lut(cb, w.bits);
            }
            const std::uint8_t* row = w.indices + r * w.row_bytes;
            f32 acc0(0.0f), acc1(0.0f);
            std::size_t j = 0;
            const std::uint8_t* p = row;
            for (; j + 2 * W <= w.cols; j += 2 * W, p += 2 * step_bytes) {
                const f32 w0 = P::lookup(lut, P::unpack(p, w.end, plan));
                const f32 w1 = P::lookup(lut, P::unpack(p + step_bytes, w.end, plan));
                acc0 = xsimd::fma(w0, f32::load_unaligned(x + j), acc0);
                acc1 = xsimd::fma(w1, f32::load_unaligned(x + j + W), acc1);
            }
            for (; j + W <= w.cols; j += W, p += step_bytes)
                acc0 = xsimd::fma(f32(P::lookup(lut, P::unpack(p, w.end, plan))),
                                  f32::load_unaligned(x + j), acc0);
            float acc = xsimd::hadd(acc0 + acc1);
            for (; j < w.cols; ++j)
                acc += cb[packed_index(row, j, w.bits)] * x[j];
            y[r] = bias ? acc + bias[r] : acc;
        }
    }

    static void decode(const palette_rows& w, float* dst, std::size_t r0, std::size_t r1) {
        const typename P::plan plan(w.bits);
        const std::size_t step_bytes = W * std::size_t(w.bits) / 8;
        for (std::size_t r = r0; r < r1; ++r) {
            const float* cb = codebook_of(w, r);
            const typename P::lut lut(cb, w.bits);
            const std::uint8_t* row = w.indices + r * w.row_bytes;
            float* out = dst + r * w.cols;
            std::size_t j = 0;
            for (const std::uint8_t* p = row; j + W <= w.cols; j += W, p += step_bytes)
                f32(P::lookup(lut, P::unpack(p, w.end, plan))).store_unaligned(out + j);
            for (; j < w.cols; ++j)
                out[j] = cb[packed_index(row, j, w.bits)];
        }
    }

    static constexpr palettized_table table() { return {gemv, decode}; }
};

} // namespace hone::kernels::simd
