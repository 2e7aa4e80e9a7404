// hone/kernels/kmeans_dp.hpp — row minima of one layer of the optimal 1-D k-means programme.
//
// The inner loop of kmeans1d_optimal (hone/cluster/kmeans1d.hpp). Over sorted values with
// prefix sums p1 (of w·y), p2 (of w·y²) and pw (of w; absent for unit weights), layer m of the
// dynamic programme has rows j (the last value of cluster m) and columns i ≤ j (its first
// value); entry (j, i) is the best cost of m clusters over the values 0 … j whose last cluster
// is i … j:
//
//   unit weights:  (r[i] + q2) − (s · s) · rv[n − 1 − j + i]
//   weighted:      (r[i] + q2) − (s · s) / (qw − pw[i])
//
// with s = q1 − p1[i], q1 = p1[j + 1], q2 = p2[j + 1], qw = pw[j + 1], r[i] = D_{m−1}[i − 1] −
// p2[i] (the previous layer's cost, supplied by the caller) and rv[u] = 1 / (n − u), so that
// rv[n − 1 − j + i] = 1 / (j + 1 − i) (a multiply instead of a division). A row's result is its
// minimum over the columns first … last and the leftmost column attaining it.
//
// Determinism: every tier (scalar, AVX2, AVX-512) evaluates each entry with exactly these IEEE
// double operations in this order — no fused multiply-add, no reassociation (the family is
// compiled with -ffp-contract=off) — and the leftmost minimum does not depend on the order in
// which lanes visit the columns, so value and column are bit-identical on every tier and at any
// thread count. NaN entries are never chosen (a comparison with NaN is false); a row whose
// entries are all NaN or +inf has minimum +inf at column `first`. −0 and +0 are one value: the
// leftmost of them wins, and its own bits are returned.
#pragma once

#include "hone/core/export.hpp"

#include <cstdint>
#include <span>

namespace hone::kernels {

/// Readable entries every array needs after the last one a row uses: the SIMD tiers load whole
/// vectors (up to 8 doubles) and mask the lanes past `last`, whose values are ignored.
inline constexpr std::int64_t kmeans_dp_padding = 8;

/// The columns of one layer over n sorted values. Unit weights: pw empty, rv holds 1/(n − u);
/// weighted: rv empty, pw holds the weight prefix sums. Sizes (at least): p1, p2, pw
/// n + 1 + kmeans_dp_padding; r and rv n + kmeans_dp_padding.
struct kmeans_dp_columns {
    std::span<const double> p1, p2, pw, r, rv;
    std::int64_t n = 0;
};

/// One row to solve: row j over the columns first … last (0 ≤ first ≤ last ≤ j < n).
struct kmeans_dp_row {
    std::int64_t j, first, last;
};

/// For each row in order: cost[j] = its minimum, arg[j] = the leftmost column attaining it (or
/// `first` when no entry is below +inf). Stops after the first row whose minimum is not ≤ ub
/// (its result is written) and returns the number of rows solved: rows.size() when every
/// minimum is within ub (ub = +inf solves all). Rows of one call must not depend on each other.
/// cost and arg are indexed by j and need n entries. Throws invalid_argument for n outside
/// 1 … 2^32 − 1 or both / neither of pw and rv; out_of_range for a missing or short array or a
/// row outside 0 ≤ first ≤ last ≤ j < n (naming the row). Nothing is written then.
HONE_EXPORT std::int64_t kmeans_dp_row_minima(const kmeans_dp_columns& columns,
                                              std::span<const kmeans_dp_row> rows, double ub,
                                              std::span<double> cost, std::span<std::uint32_t> arg);

} // namespace hone::kernels
