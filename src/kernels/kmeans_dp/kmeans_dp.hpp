// Internal: the kmeans_dp kernel family's per-tier tables.
#pragma once

#include "../dispatch.hpp"
#include "hone/kernels/kmeans_dp.hpp"

#include <cstddef>
#include <cstdint>
#include <limits>

namespace hone::kernels {

struct kmeans_dp_table {
    /// kmeans_dp_row_minima after its checks (rows valid, arrays long enough, exactly one of
    /// pw / rv present).
    std::size_t (*row_minima)(const kmeans_dp_columns& c, const kmeans_dp_row* rows,
                              std::size_t count, double ub, double* cost, std::uint32_t* arg);
};

extern const kmeans_dp_table kmeans_dp_ref;
extern const kmeans_dp_table kmeans_dp_avx2;
extern const kmeans_dp_table kmeans_dp_avx512;

const dispatch<kmeans_dp_table>& kmeans_dp_kernels() noexcept;

// Helpers every tier's translation unit compiles for itself (internal linkage: the AVX
// instances never stand in for the scalar one).
namespace {

/// The scalar scan of row j over the columns a … b: its minimum in best_value, the leftmost
/// column attaining it returned. The reference; the SIMD tiers use it for rows of 1–2 columns.
template <bool Unit>
[[gnu::always_inline]] inline std::int64_t kmeans_dp_scan(const kmeans_dp_columns& c,
                                                          std::int64_t j, std::int64_t a,
                                                          std::int64_t b, double& best_value) {
    const double* p1 = c.p1.data();
    const double* r = c.r.data();
    const double q1 = p1[j + 1], q2 = c.p2.data()[j + 1];
    double bv = std::numeric_limits<double>::infinity();
    std::int64_t best = a;
    if constexpr (Unit) {
        const double* rv = c.rv.data() + (c.n - 1 - j);
        for (std::int64_t i = a; i <= b; ++i) {
            const double s = q1 - p1[i];
            const double v = (r[i] + q2) - (s * s) * rv[i];
            best = v < bv ? i : best;
            bv = v < bv ? v : bv;
        }
    } else {
        const double* pw = c.pw.data();
        const double qw = pw[j + 1];
        for (std::int64_t i = a; i <= b; ++i) {
            const double s = q1 - p1[i];
            const double v = (r[i] + q2) - (s * s) / (qw - pw[i]);
            best = v < bv ? i : best;
            bv = v < bv ? v : bv;
        }
    }
    best_value = bv;
    return best;
}

/// Solves rows in order with scan(row, value) → column, writing cost[j] and arg[j]; stops
/// after the first row whose minimum is not within ub. The loop every tier shares.
template <class Scan>
std::size_t kmeans_dp_rows(const kmeans_dp_row* rows, std::size_t count, double ub, double* cost,
                           std::uint32_t* arg, Scan&& scan) {
    for (std::size_t t = 0; t < count; ++t) {
        double v;
        const std::int64_t best = scan(rows[t], v);
        cost[rows[t].j] = v;
        arg[rows[t].j] = static_cast<std::uint32_t>(best);
        if (!(v <= ub)) return t + 1;
    }
    return count;
}

} // namespace

} // namespace hone::kernels
