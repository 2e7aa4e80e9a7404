// The norms family for one SIMD tier: f32 loads widened to double, fused multiply-adds.
#pragma once

#include "../sparsity/lanes.hpp"
#include "norms.hpp"

#include <cmath>

namespace hone::kernels::simd {

template <class Arch> struct norms_kernels {
    using f64 = xsimd::batch<double, Arch>;
    using L = lanes<Arch>;
    static constexpr std::size_t W = 2 * f64::size; // floats per step

    static f64 add(f64 v, f64 acc, bool squares) {
        return squares ? xsimd::fma(v, v, acc) : acc + xsimd::abs(v);
    }

    static void row_sums(const float* src, std::size_t rows, std::size_t cols, bool squares,
                         double* dst) {
        for (std::size_t r = 0; r < rows; ++r) {
            const float* row = src + r * cols;
            f64 a0(0.0), a1(0.0), a2(0.0), a3(0.0);
            std::size_t c = 0;
            for (; c + 2 * W <= cols; c += 2 * W) {
                const auto [p, q] = L::widen(row + c);
                const auto [s, t] = L::widen(row + c + W);
                a0 = add(p, a0, squares);
                a1 = add(q, a1, squares);
                a2 = add(s, a2, squares);
                a3 = add(t, a3, squares);
            }
            for (; c + W <= cols; c += W) {
                const auto [p, q] = L::widen(row + c);
                a0 = add(p, a0, squares);
                a1 = add(q, a1, squares);
            }
            double acc = xsimd::hadd((a0 + a1) + (a2 + a3));
            for (; c < cols; ++c) {
                const double v = row[c];
                acc = squares ? std::fma(v, v, acc) : acc + std::fabs(v);
            }
            dst[r] = acc;
        }
    }

    static void col_sums(const float* src, std::size_t rows, std::size_t cols, bool squares,
                         double* acc) {
        constexpr std::size_t block = 1024; // columns whose accumulators stay in L1
        for (std::size_t c0 = 0; c0 < cols; c0 += block) {
            const std::size_t c1 = std::min(cols, c0 + block);
            for (std::size_t r = 0; r < rows; ++r) {
                const float* row = src + r * cols;
                std::size_t c = c0;
                for (; c + W <= c1; c += W) {
                    const auto [p, q] = L::widen(row + c);
                    add(p, f64::load_unaligned(acc + c), squares).store_unaligned(acc + c);
                    add(q, f64::load_unaligned(acc + c + W / 2), squares)
                        .store_unaligned(acc + c + W / 2);
                }
                for (; c < c1; ++c) {
                    const double v = row[c];
                    acc[c] = squares ? std::fma(v, v, acc[c]) : acc[c] + std::fabs(v);
                }
            }
        }
    }

    static constexpr norms_table table() { return {row_sums, col_sums}; }
};

} // namespace hone::kernels::simd
