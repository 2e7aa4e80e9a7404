// Scalar reference of the subtract_product family (compiled with -ffp-contract=off: no fused
// multiply-adds, so its bits are the SIMD tiers' bits).
#include "subtract_product.hpp"

#include <algorithm>

namespace hone::kernels {

namespace {

// A row of C at a time, 64 columns of accumulators: every element still sums its products in
// j order (the compiler may vectorise across columns, which changes no element's arithmetic).
void run(const float* a, const float* b, float* c, std::size_t m, std::size_t k, std::size_t n,
         std::size_t ldb, std::size_t ldc) {
    constexpr std::size_t cols = 64;
    float acc[cols];
    for (std::size_t i = 0; i < m; ++i)
        for (std::size_t x0 = 0; x0 < n; x0 += cols) {
            const std::size_t w = std::min(cols, n - x0);
            std::fill(acc, acc + w, 0.0f);
            for (std::size_t j = 0; j < k; ++j) {
                const float aij = a[i * k + j];
                const float* bj = b + j * ldb + x0;
                if (w == cols) // (a constant trip count: the compiler vectorises it at -O2)
                    for (std::size_t x = 0; x < cols; ++x)
                        acc[x] = acc[x] + aij * bj[x];
                else
                    for (std::size_t x = 0; x < w; ++x)
                        acc[x] = acc[x] + aij * bj[x];
            }
            float* ci = c + i * ldc + x0;
            for (std::size_t x = 0; x < w; ++x)
                ci[x] = ci[x] - acc[x];
        }
}

} // namespace

const subtract_product_table subtract_product_ref = {run};

} // namespace hone::kernels
