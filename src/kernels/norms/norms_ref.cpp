// Scalar reference of the norms family.
#include "norms.hpp"

#include <cmath>

namespace hone::kernels {

namespace {

double term(float x, double acc, bool squares) {
    const double v = x;
    return squares ? std::fma(v, v, acc) : acc + std::fabs(v);
}

void row_sums(const float* src, std::size_t rows, std::size_t cols, bool squares, double* dst) {
    for (std::size_t r = 0; r < rows; ++r) {
        double acc = 0.0;
        for (std::size_t c = 0; c < cols; ++c)
            acc = term(src[r * cols + c], acc, squares);
        dst[r] = acc;
    }
}

void col_sums(const float* src, std::size_t rows, std::size_t cols, bool squares, double* acc) {
    for (std::size_t r = 0; r < rows; ++r)
        for (std::size_t c = 0; c < cols; ++c)
            acc[c] = term(src[r * cols + c], acc[c], squares);
}

} // namespace

const norms_table norms_ref = {row_sums, col_sums};

} // namespace hone::kernels
