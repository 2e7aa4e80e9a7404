// Internal: the subtract_product kernel family's per-tier tables.
#pragma once

#include "../dispatch.hpp"

#include <cstddef>

namespace hone::kernels {

struct subtract_product_table {
    /// C[m, n] −= A[m, k]·B[k, n] (A contiguous; B and C with leading dimensions ldb, ldc):
    /// each element's products summed in j order from +0, then subtracted once, no fusion.
    /// m, k, n ≥ 1; one thread (the caller splits the columns into panels).
    void (*run)(const float* a, const float* b, float* c, std::size_t m, std::size_t k,
                std::size_t n, std::size_t ldb, std::size_t ldc);
};

extern const subtract_product_table subtract_product_ref;
extern const subtract_product_table subtract_product_avx2;
extern const subtract_product_table subtract_product_avx512;

const dispatch<subtract_product_table>& subtract_product_kernels() noexcept;

// Helpers every tier's translation unit compiles for itself (internal linkage).
namespace {

/// Columns x0 … x1 of rows i0 … i1 one element at a time: the reference arithmetic, and the
/// SIMD tiers' edges.
inline void subtract_product_elements(const float* a, const float* b, float* c, std::size_t k,
                                      std::size_t ldb, std::size_t ldc, std::size_t i0,
                                      std::size_t i1, std::size_t x0, std::size_t x1) {
    for (std::size_t i = i0; i < i1; ++i)
        for (std::size_t x = x0; x < x1; ++x) {
            float acc = 0.0f;
            for (std::size_t j = 0; j < k; ++j)
                acc = acc + a[i * k + j] * b[j * ldb + x];
            c[i * ldc + x] = c[i * ldc + x] - acc;
        }
}

} // namespace

} // namespace hone::kernels
