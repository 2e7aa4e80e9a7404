// Internal: the norms kernel family's per-tier tables.
#pragma once

#include "../dispatch.hpp"

#include <cstddef>

namespace hone::kernels {

struct norms_table {
    /// dst[r] = Σ_c f(src[r, c]) in double, f = x² (squares) or |x|.
    void (*row_sums)(const float* src, std::size_t rows, std::size_t cols, bool squares,
                     double* dst);
    /// acc[c] += Σ_r f(src[r, c]) in double, summed row by row (the same order on every tier).
    void (*col_sums)(const float* src, std::size_t rows, std::size_t cols, bool squares,
                     double* acc);
};

extern const norms_table norms_ref;
extern const norms_table norms_avx2;
extern const norms_table norms_avx512;

const dispatch<norms_table>& norms_kernels() noexcept;

} // namespace hone::kernels
