// hone/cluster/kmeans1d.hpp — 1-D k-means: a globally optimal solver and Lloyd's algorithm.
//
// Problem: given values x_i with importances w_i ≥ 0 (all 1 when none are given), find k
// centroids c_1 ≤ … ≤ c_k minimising the weighted sum of squared errors
//     SSE(c) = Σ_i w_i · min_j (x_i − c_j)².
// In one dimension every optimal solution clusters contiguous runs of the sorted values, so
// the problem is a dynamic programme over the sorted values (Wang & Song 2011, Ckmeans.1d.dp):
// D[m][j] = min_i D[m−1][i−1] + cost(i, j), cost = the weighted SSE of the run i…j around its
// weighted mean. hone solves it exactly, faster:
//  - meet in the middle: the first ⌈k/2⌉ clusters over every prefix and, independently, the
//    last ⌊k/2⌋ over every suffix (the same programme on the mirrored values), then the best
//    meeting point; the two halves run on two threads;
//  - pruning: an upper bound of the optimum (the cost of a short Lloyd run's partition, plus a
//    1e-9 relative margin for rounding) drops every state costing more; costs are ≥ 0 and
//    D[m][j] grows with j, so each layer keeps a prefix of its rows — at 1 M values and k = 16,
//    6.2 M of the 14 M rows of the two halves (as many as the undivided programme has);
//  - each layer by divide and conquer over the monotone argmins (the cost satisfies the
//    quadrangle inequality), in level order: the rows of one level of the implicit recursion
//    tree are independent, so there is no recursion per row; the top levels run over the whole
//    layer, then subtrees of 65,536 rows depth first and blocks of 4,096 rows level by level
//    (their columns stay in cache); the previous layer's argmin of the same row is a further
//    lower bound (opt[m−1][j] ≤ opt[m][j]);
//  - row scans four columns per AVX2 step; with unit weights (no importance, or integer
//    importances, and at most one value in 9 a repeat: the values are then solved repeated,
//    each of weight 1, the same optimum) the 1/(run length) of an entry comes from a table, a
//    multiply instead of a division;
//  - large arrays on transparent huge pages (Linux).
// Every entry is computed with the same IEEE operations on every path, and each row's result is
// its leftmost minimum, so results are identical at any thread count. Cost: the sort, then
// O(k·n log n) time at most (≈ 14 entry evaluations per kept row at 1 M values) and
// 4·(k−2)·n bytes of back-pointers (n = values solved), of which only the kept rows' pages are
// touched; more than 4 GiB of back-pointers (counted over the distinct values) is refused
// (out_of_memory: use Lloyd). Run costs come from compensated prefix sums in double of values
// shifted by their median; the returned centroids are recomputed from the partition
// (compensated sums) and the SSE from the centroids.
//
// Lloyd's algorithm runs on the same sorted prefix sums: an assignment step is k − 1 binary
// searches for the midpoints (a value exactly on a midpoint goes to the lower centroid, as
// kernels::nearest_centroid does) and an update step is k divisions, so one iteration costs
// O(k log n), not O(n·k). Initialisations are those of TFMOT's clustering: linear (evenly
// spaced from min to max), density (the weighted quantiles at i/(k−1): evenly spaced in the
// CDF), k-means++ (D²-weighted sampling, seeded) and random (uniform in [min, max], seeded).
// An empty cluster keeps its centroid. Lloyd stops at a fixed point (no assignment changes),
// when the SSE improves by at most tolerance·SSE, or after max_iterations.
//
// Degenerate inputs (documented and tested behaviour):
//  - fewer distinct values (with positive importance) than k: every distinct value becomes its
//    own centroid, result.centroids.size() < k and the SSE is 0 (no error);
//  - values with importance 0 do not influence the centroids (they are dropped before solving);
//  - errors (hone::error, the message names `name` and the position): k outside 2 … 256
//    (invalid_argument), no values (invalid_argument "is empty"), a NaN or ±inf value or
//    importance, a negative importance, all importances zero (invalid_argument), importance of
//    another length (shape_mismatch).
// Results are deterministic: the same inputs and seed give identical bits on any machine state
// and thread count.
#pragma once

#include "hone/core/export.hpp"

#include <cstdint>
#include <span>
#include <string_view>
#include <vector>

namespace hone {

/// Lloyd initialisations (TFMOT's CentroidInitialization names).
enum class kmeans_init : int {
    kmeans_plus_plus = 0, ///< D²-weighted sampling (Arthur & Vassilvitskii), seeded
    linear = 1,           ///< evenly spaced between min and max
    density = 2,          ///< weighted quantiles at i/(k−1): evenly spaced in the CDF
    random = 3,           ///< uniform in [min, max], seeded
};

/// Options of Lloyd's algorithm.
struct lloyd_options {
    kmeans_init init = kmeans_init::kmeans_plus_plus;
    int max_iterations = 300; ///< ≥ 1
    double tolerance =
        1e-7; ///< stop when SSE_prev − SSE ≤ tolerance·SSE_prev (≥ 0; 0 = fixed point)
    std::uint64_t seed = 0; ///< for kmeans_plus_plus and random
};

/// Result of a 1-D k-means solve.
struct kmeans1d_result {
    std::vector<double> centroids; ///< ascending; min(k, distinct values) entries
    double sse = 0;     ///< Σ w·min_j (x − c_j)² over all values (importance-weighted)
    int iterations = 0; ///< Lloyd iterations run (0 for the optimal solver)
};

/// Globally optimal weighted 1-D k-means (see the top). importance: empty (all 1) or one
/// finite, non-negative value per value. `name` appears in error messages.
HONE_EXPORT kmeans1d_result kmeans1d_optimal(std::span<const float> values,
                                             std::span<const float> importance, int k,
                                             std::string_view name = "values");

/// Lloyd's algorithm from the chosen initialisation (see the top).
HONE_EXPORT kmeans1d_result kmeans1d_lloyd(std::span<const float> values,
                                           std::span<const float> importance, int k,
                                           const lloyd_options& options = {},
                                           std::string_view name = "values");

/// The objective Σ w·min_j (x − c_j)² of arbitrary centroids (any order, ≥ 1, finite), summed
/// in double with each term exact to rounding. Same argument checks as the solvers.
HONE_EXPORT double kmeans1d_sse(std::span<const float> values, std::span<const float> importance,
                                std::span<const double> centroids,
                                std::string_view name = "values");

/// Estimated cost units of the optimal solver: k × the number of values (an upper bound on
/// k × distinct values); the clusterer's automatic method compares it with its budget.
inline std::int64_t kmeans1d_optimal_cells(std::int64_t n, int k) noexcept {
    return n * static_cast<std::int64_t>(k);
}

} // namespace hone
