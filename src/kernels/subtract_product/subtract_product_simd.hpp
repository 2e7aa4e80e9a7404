// The subtract_product family for one SIMD tier: tiles of 4 rows × 2 vectors of columns whose
// eight accumulators stay in registers over the whole k loop; rows left over go one at a time,
// columns left over element by element. Every element is the reference's expression, product
// and sum rounded separately (the family's files are compiled with -ffp-contract=off).
#pragma once

#include "subtract_product.hpp"

#include <xsimd/xsimd.hpp>

namespace hone::kernels::simd {

template <class Arch> struct subtract_product_kernels {
    using f32 = xsimd::batch<float, Arch>;
    static constexpr std::size_t W = f32::size, NR = 2 * W;

    /// acc + a·b, rounded twice (as in the reference).
    static f32 step(f32 acc, f32 a, f32 b) { return acc + a * b; }

    static void tile4(const float* a, const float* b, float* c, std::size_t k, std::size_t ldb,
                      std::size_t ldc) {
        f32 c00(0.0f), c01(0.0f), c10(0.0f), c11(0.0f), c20(0.0f), c21(0.0f), c30(0.0f), c31(0.0f);
        for (std::size_t j = 0; j < k; ++j) {
            const f32 b0 = f32::load_unaligned(b + j * ldb),
                      b1 = f32::load_unaligned(b + j * ldb + W);
            const f32 a0(a[j]), a1(a[k + j]), a2(a[2 * k + j]), a3(a[3 * k + j]);
            c00 = step(c00, a0, b0);
            c01 = step(c01, a0, b1);
            c10 = step(c10, a1, b0);
            c11 = step(c11, a1, b1);
            c20 = step(c20, a2, b0);
            c21 = step(c21, a2, b1);
            c30 = step(c30, a3, b0);
            c31 = step(c31, a3, b1);
        }
        const f32 acc[8] = {c00, c01, c10, c11, c20, c21, c30, c31};
        for (std::size_t t = 0; t < 8; ++t) {
            float* p = c + (t / 2) * ldc + (t % 2) * W;
            (f32::load_unaligned(p) - acc[t]).store_unaligned(p);
        }
    }

    static void tile1(const float* a, const float* b, float* c, std::size_t k, std::size_t ldb) {
        f32 c0(0.0f), c1(0.0f);
        for (std::size_t j = 0; j < k; ++j) {
            const f32 aj(a[j]);
            c0 = step(c0, aj, f32::load_unaligned(b + j * ldb));
            c1 = step(c1, aj, f32::load_unaligned(b + j * ldb + W));
        }
        (f32::load_unaligned(c) - c0).store_unaligned(c);
        (f32::load_unaligned(c + W) - c1).store_unaligned(c + W);
    }

    static void run(const float* a, const float* b, float* c, std::size_t m, std::size_t k,
                    std::size_t n, std::size_t ldb, std::size_t ldc) {
        const std::size_t full = n / NR * NR; // columns in whole tiles
        std::size_t i = 0;
        for (; i + 4 <= m; i += 4)
            for (std::size_t x = 0; x < full; x += NR)
                tile4(a + i * k, b + x, c + i * ldc + x, k, ldb, ldc);
        for (; i < m; ++i)
            for (std::size_t x = 0; x < full; x += NR)
                tile1(a + i * k, b + x, c + i * ldc + x, k, ldb);
        if (full < n) subtract_product_elements(a, b, c, k, ldb, ldc, 0, m, full, n);
    }

    static constexpr subtract_product_table table() { return {run}; }
};

} // namespace hone::kernels::simd
