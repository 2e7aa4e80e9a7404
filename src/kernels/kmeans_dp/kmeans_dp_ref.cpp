// Scalar reference of the kmeans_dp family (compiled with -ffp-contract=off: no fused
// multiply-adds, so its bits are the SIMD tiers' bits).
#include "kmeans_dp.hpp"

namespace hone::kernels {

namespace {

template <bool Unit>
std::size_t row_minima(const kmeans_dp_columns& c, const kmeans_dp_row* rows, std::size_t count,
                       double ub, double* cost, std::uint32_t* arg) {
    return kmeans_dp_rows(rows, count, ub, cost, arg, [&](const kmeans_dp_row& row, double& v) {
        return kmeans_dp_scan<Unit>(c, row.j, row.first, row.last, v);
    });
}

std::size_t row_minima_any(const kmeans_dp_columns& c, const kmeans_dp_row* rows, std::size_t count,
                           double ub, double* cost, std::uint32_t* arg) {
    return c.pw.empty() ? row_minima<true>(c, rows, count, ub, cost, arg)
                        : row_minima<false>(c, rows, count, ub, cost, arg);
}

} // namespace

const kmeans_dp_table kmeans_dp_ref = {row_minima_any};

} // namespace hone::kernels
