// 1-D k-means: the optimal dynamic programme (level-order divide and conquer per layer) and Lloyd
// on sorted prefix sums.
#include "hone/cluster/kmeans1d.hpp"

#include "compensated_sum.hpp"

#include "hone/core/error.hpp"
#include "hone/core/threads.hpp"
#include "hone/kernels/cluster.hpp"

#include <fmt/format.h>
#include <immintrin.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <numeric>
#include <random>

namespace hone {
namespace {

using i64 = std::int64_t;

using detail::compensated_sum;

void check_k(int k, std::string_view name) {
    if (k < 2 || k > kernels::max_centroids)
        fail(status::invalid_argument,
             fmt::format("{}: k = {} clusters is outside 2 … {}", name, k, kernels::max_centroids));
}

void check_inputs(std::span<const float> values, std::span<const float> importance,
                  std::string_view name) {
    if (values.empty()) fail(status::invalid_argument, fmt::format("{} is empty", name));
    if (!importance.empty() && importance.size() != values.size())
        fail(status::shape_mismatch, fmt::format("{}: importance has {} entries for {} values",
                                                 name, importance.size(), values.size()));
    for (std::size_t i = 0; i < values.size(); ++i)
        if (!std::isfinite(values[i]))
            fail(status::invalid_argument,
                 fmt::format("{}: value {} is {} (clustering needs finite values)", name, i,
                             values[i]));
    if (importance.empty()) return;
    bool any_positive = false;
    for (std::size_t i = 0; i < importance.size(); ++i) {
        const float w = importance[i];
        if (!std::isfinite(w) || w < 0)
            fail(status::invalid_argument,
                 fmt::format("{}: importance {} is {} (must be finite and >= 0)", name, i, w));
        any_positive |= w > 0;
    }
    if (!any_positive)
        fail(status::invalid_argument, fmt::format("{}: every importance is zero", name));
}

/// Sorted distinct values with positive total importance, and their total importance.
struct sorted_data {
    std::vector<double> x, w;
    i64 size() const noexcept { return static_cast<i64>(x.size()); }
};

/// The values ascending: an LSD radix sort (3 passes of 11 bits) on order-preserving integer
/// keys of the finite floats (−0 just before +0); std::sort for small inputs.
std::vector<float> sorted_values(std::span<const float> values) {
    std::vector<float> s(values.begin(), values.end());
    if (s.size() < 4096) {
        std::sort(s.begin(), s.end());
        return s;
    }
    std::vector<std::uint32_t> a(s.size()), b(s.size());
    for (std::size_t i = 0; i < s.size(); ++i) {
        std::uint32_t u;
        std::memcpy(&u, &s[i], 4);
        a[i] = (u & 0x80000000u) ? ~u : (u | 0x80000000u);
    }
    for (int shift = 0; shift < 32; shift += 11) {
        std::size_t count[2048] = {};
        for (const std::uint32_t k : a)
            ++count[(k >> shift) & 2047u];
        std::size_t sum = 0;
        for (auto& c : count) {
            const std::size_t t = c;
            c = sum;
            sum += t;
        }
        for (const std::uint32_t k : a)
            b[count[(k >> shift) & 2047u]++] = k;
        std::swap(a, b);
    }
    for (std::size_t i = 0; i < s.size(); ++i) {
        const std::uint32_t k = a[i];
        const std::uint32_t u = (k & 0x80000000u) ? (k & 0x7fffffffu) : ~k;
        std::memcpy(&s[i], &u, 4);
    }
    return s;
}

sorted_data sort_distinct(std::span<const float> values, std::span<const float> importance) {
    sorted_data d;
    if (importance.empty()) {
        const std::vector<float> s = sorted_values(values);
        d.x.reserve(s.size());
        d.w.reserve(s.size());
        for (std::size_t i = 0; i < s.size();) {
            std::size_t j = i + 1;
            while (j < s.size() && s[j] == s[i])
                ++j;
            d.x.push_back(s[i] == 0.0f ? 0.0 : double(s[i]));
            d.w.push_back(double(j - i));
            i = j;
        }
        return d;
    }
    std::vector<std::pair<float, float>> s;
    s.reserve(values.size());
    for (std::size_t i = 0; i < values.size(); ++i)
        if (importance[i] > 0) s.emplace_back(values[i], importance[i]);
    std::sort(s.begin(), s.end(), [](const auto& a, const auto& b) { return a.first < b.first; });
    for (std::size_t i = 0; i < s.size();) {
        compensated_sum w;
        std::size_t j = i;
        for (; j < s.size() && s[j].first == s[i].first; ++j)
            w.add(s[j].second);
        d.x.push_back(s[i].first == 0.0f ? 0.0 : double(s[i].first));
        d.w.push_back(w.value());
        i = j;
    }
    return d;
}

/// Prefix sums of w, w·(x − shift), w·(x − shift)² (shift = the median value keeps them small).
struct prefix_sums {
    std::vector<double> pw, p1, p2;
    double shift = 0;

    explicit prefix_sums(const sorted_data& d) {
        const i64 n = d.size();
        shift = d.x[static_cast<std::size_t>(n / 2)];
        pw.assign(n + 1, 0.0);
        p1.assign(n + 1, 0.0);
        p2.assign(n + 1, 0.0);
        compensated_sum sw, s1, s2;
        for (i64 i = 0; i < n; ++i) {
            const double y = d.x[i] - shift, w = d.w[i];
            sw.add(w);
            s1.add(w * y);
            s2.add(w * y * y);
            pw[i + 1] = sw.value();
            p1[i + 1] = s1.value();
            p2[i + 1] = s2.value();
        }
    }
    /// Weighted SSE of the run [i, j] (inclusive) around its weighted mean.
    double cost(i64 i, i64 j) const noexcept {
        const double w = pw[j + 1] - pw[i];
        if (w <= 0) return 0;
        const double s = p1[j + 1] - p1[i], s2 = p2[j + 1] - p2[i];
        const double c = s2 - s * s / w;
        return c > 0 ? c : 0;
    }
    double mean(i64 i, i64 j) const noexcept {
        const double w = pw[j + 1] - pw[i];
        return shift + (p1[j + 1] - p1[i]) / w;
    }
    double weight(i64 i, i64 j) const noexcept { return pw[j + 1] - pw[i]; }
};

/// Weighted mean of d[i..j] by direct summation (accurate: used for the returned centroids).
double run_mean(const sorted_data& d, i64 i, i64 j) {
    compensated_sum s, w;
    for (i64 t = i; t <= j; ++t) {
        s.add(d.w[t] * d.x[t]);
        w.add(d.w[t]);
    }
    const double m = s.value() / w.value();
    return std::clamp(m, d.x[i], d.x[j]);
}

/// Objective of sorted centroids over sorted distinct data (ties to the lower centroid).
double sorted_sse(const sorted_data& d, std::span<const double> c) {
    compensated_sum s;
    std::size_t j = 0;
    for (i64 i = 0; i < d.size(); ++i) {
        const double x = d.x[i];
        while (j + 1 < c.size() && x > 0.5 * (c[j] + c[j + 1]))
            ++j;
        const double e = x - c[j];
        s.add(d.w[i] * e * e);
    }
    return s.value();
}

/// The leftmost argmin over i ∈ [a, b] of (r[i] + q2) − (q1 − p1[i])² / (qw − pw[i]), the DP
/// entry with r[i] = D_{m−1}[i − 1] − p2[i] (qw − pw[i] > 0: every value has positive weight);
/// its value goes to best_value. The same IEEE operations in the same order on every path (no
/// contraction is possible), so the AVX2 and the scalar versions give identical bits.
i64 scan_row_scalar(double q1, double q2, double qw, const double* p1, const double* pw,
                    const double* r, i64 a, i64 b, double& best_value) {
    double bv = std::numeric_limits<double>::infinity();
    i64 best = a;
    for (i64 i = a; i <= b; ++i) {
        const double s = q1 - p1[i];
        const double v = (r[i] + q2) - s * s / (qw - pw[i]);
        best = v < bv ? i : best;
        bv = v < bv ? v : bv;
    }
    best_value = bv;
    return best;
}

/// AVX2: four columns per step, a running minimum and its first index per lane (one pass), then
/// the smallest index among the lanes holding the overall minimum.
__attribute__((target("avx2"))) i64 scan_row_avx2(double q1, double q2, double qw, const double* p1,
                                                  const double* pw, const double* r, i64 a, i64 b,
                                                  double& best_value) {
    const __m256d vq1 = _mm256_set1_pd(q1), vq2 = _mm256_set1_pd(q2), vqw = _mm256_set1_pd(qw);
    __m256d vmin = _mm256_set1_pd(std::numeric_limits<double>::infinity());
    __m256d vidx = _mm256_setzero_pd();
    __m256d cur = _mm256_setr_pd(double(a), double(a + 1), double(a + 2), double(a + 3));
    const __m256d four = _mm256_set1_pd(4.0);
    i64 i = a;
    for (; i + 3 <= b; i += 4) {
        const __m256d s = _mm256_sub_pd(vq1, _mm256_loadu_pd(p1 + i));
        const __m256d v = _mm256_sub_pd(
            _mm256_add_pd(_mm256_loadu_pd(r + i), vq2),
            _mm256_div_pd(_mm256_mul_pd(s, s), _mm256_sub_pd(vqw, _mm256_loadu_pd(pw + i))));
        const __m256d lt = _mm256_cmp_pd(v, vmin, _CMP_LT_OQ);
        vmin = _mm256_blendv_pd(vmin, v, lt);
        vidx = _mm256_blendv_pd(vidx, cur, lt);
        cur = _mm256_add_pd(cur, four);
    }
    alignas(32) double mv[4], mi[4];
    _mm256_store_pd(mv, vmin);
    _mm256_store_pd(mi, vidx);
    double bv = std::numeric_limits<double>::infinity();
    i64 best = a;
    for (int l = 0; l < 4; ++l)
        if (mv[l] < bv || (mv[l] == bv && i64(mi[l]) < best)) {
            bv = mv[l];
            best = i64(mi[l]);
        }
    for (; i <= b; ++i) { // the tail: later columns than every lane's
        const double s = q1 - p1[i];
        const double v = (r[i] + q2) - s * s / (qw - pw[i]);
        best = v < bv ? i : best;
        bv = v < bv ? v : bv;
    }
    best_value = bv;
    return best;
}

const bool has_avx2 = __builtin_cpu_supports("avx2");

i64 scan_row(double q1, double q2, double qw, const double* p1, const double* pw, const double* r,
             i64 a, i64 b, double& best_value) {
    return has_avx2 ? scan_row_avx2(q1, q2, qw, p1, pw, r, a, b, best_value)
                    : scan_row_scalar(q1, q2, qw, p1, pw, r, a, b, best_value);
}

/// One layer of the dynamic programme over monotone argmins, in level order:
/// cur[j] = min_{i ∈ [col_lo, j]} r[i] + q2[j] − (q1[j] − p1[i])² / (qw[j] − pw[i]) with
/// q = the prefix sums up to and including j and r[i] = D_{m−1}[i − 1] − p2[i]; the leftmost
/// argmin goes to arg[j]. Number the rows t = j − row_lo + 1 ∈ [1, rows]; the row t with lowest
/// set bit h has its neighbours t ± h at coarser levels (or outside: the bounds col_lo and
/// col_hi), and its argmin lies between theirs (the quadrangle inequality) and at or after the
/// previous layer's argmin of the same row. That is divide and conquer (every row scans the same
/// range as in the recursion), but the rows of one level are independent: no recursion, the
/// scans of neighbouring rows overlap in the pipeline, and a level can run in parallel. The
/// coarse levels (h ≥ block) run over the whole layer; then each block of `block` rows runs its
/// fine levels while its columns stay in cache.
class level_layer {
public:
    level_layer(const prefix_sums& ps, const std::vector<double>& r, double* cur,
                std::uint32_t* arg, const std::uint32_t* lower, i64 row_lo, i64 row_hi, i64 col_lo)
        : p1_(ps.p1.data()), p2_(ps.p2.data()), pw_(ps.pw.data()), r_(r.data()), cur_(cur),
          arg_(arg), lower_(lower), row_lo_(row_lo), rows_(row_hi - row_lo + 1), col_lo_(col_lo),
          col_hi_(row_hi) {}

    void solve() {
        top_ = 1;
        while (top_ * 2 <= rows_)
            top_ *= 2;
        if (top_ < block) {
            fine(0);
            return;
        }
        const bool parallel = rows_ >= 65536;
        // Levels above `split` over the whole layer (few rows, long vectorised scans) …
        const i64 root = std::min(top_, split);
        for (i64 h = top_; h > root; h /= 2) {
            const i64 count = (rows_ - h) / (2 * h) + 1; // t = h, 3h, 5h, … ≤ rows
#pragma omp parallel for num_threads(num_threads()) schedule(static) if (parallel && count >= 8)
            for (i64 u = 0; u < count; ++u)
                row(h + 2 * h * u, h);
        }
        // … then each subtree depth first, its blocks in level order (columns stay in cache).
        const i64 roots = (rows_ + root - 1) / (2 * root) + 1; // t = root·(2u+1), t − root < rows
#pragma omp parallel for num_threads(num_threads()) schedule(dynamic, 1) if (parallel)
        for (i64 u = 0; u < roots; ++u)
            subtree(root * (2 * u + 1), root);
    }

private:
    static constexpr i64 block = 4096;    ///< rows solved level by level in cache (power of 2)
    static constexpr i64 split = 1 << 16; ///< subtrees solved depth first (power of 2)

    /// The rows of the implicit tree below row t of level h ≥ block, depth first; the two
    /// blocks next to a row of level `block` are solved level by level.
    void subtree(i64 t, i64 h) {
        if (t - h >= rows_) return;
        if (t <= rows_) row(t, h);
        if (h == block) {
            fine(t - block);
            fine(t);
            return;
        }
        subtree(t - h / 2, h / 2);
        subtree(t + h / 2, h / 2);
    }

    /// Rows t ∈ (t0, t0 + block), level by level (their neighbours t0 and t0 + block are done).
    void fine(i64 t0) {
        for (i64 h = std::min(block / 2, top_); h >= 1; h /= 2)
            for (i64 t = t0 + h; t < t0 + block && t <= rows_; t += 2 * h)
                row(t, h);
    }

    /// Row t (1-based) whose neighbours are t ± h.
    void row(i64 t, i64 h) {
        const i64 j = row_lo_ + t - 1;
        const i64 lo_bound = t - h >= 1 ? i64(arg_[j - h]) : col_lo_;
        const i64 b = t + h <= rows_ ? std::min<i64>(arg_[j + h], j) : std::min(col_hi_, j);
        const i64 a = lower_ ? std::min(b, std::max<i64>(lo_bound, lower_[j])) : lo_bound;
        const double q1 = p1_[j + 1], q2 = p2_[j + 1], qw = pw_[j + 1];
        double best_value = std::numeric_limits<double>::infinity();
        i64 best = a;
        if (b - a < 8) // short ranges (most rows)
            best = scan_row_scalar(q1, q2, qw, p1_, pw_, r_, a, b, best_value);
        else
            best = scan_row(q1, q2, qw, p1_, pw_, r_, a, b, best_value);
        cur_[j] = best_value;
        arg_[j] = static_cast<std::uint32_t>(best);
    }

    const double *p1_, *p2_, *pw_, *r_;
    double* cur_;
    std::uint32_t* arg_;
    const std::uint32_t* lower_;
    i64 row_lo_, rows_, col_lo_, col_hi_, top_ = 1;
};

/// Optimal centroids of sorted distinct data with more than k values.
std::vector<double> optimal_centroids(const sorted_data& d, int k, std::string_view name) {
    const i64 n = d.size();
    // Back-pointers: (k − 2)·n entries of 4 bytes; refuse more than 4 GiB rather than thrash.
    if (n > i64(std::numeric_limits<std::uint32_t>::max()) ||
        i64(std::max(0, k - 2)) * n > (i64(1) << 30))
        fail(status::out_of_memory,
             fmt::format("{}: the optimal solver for {} distinct values and k = {} needs {} MiB "
                         "of back-pointers (limit 4096); use lloyd or automatic",
                         name, n, k, (i64(std::max(0, k - 2)) * n * 4) >> 20));
    const prefix_sums ps(d);
    constexpr double inf = std::numeric_limits<double>::infinity();
    // prev[i] = D_{m−1}[i − 1]: the best cost of m − 1 clusters over the first i values.
    std::vector<double> prev(static_cast<std::size_t>(n + 1), inf), cur(prev.size(), inf);
    for (i64 i = 1; i <= n; ++i)
        prev[i] = ps.cost(0, i - 1);
    // Back-pointers of layers 2 … k−1 (layer k needs only its last row).
    std::vector<std::uint32_t> back(static_cast<std::size_t>(std::max(0, k - 2)) * n);
    std::vector<double> r(static_cast<std::size_t>(n + 1));
    for (int m = 2; m < k; ++m) {
        // Row j (last value of cluster m) ∈ [m−1, n−1−(k−m)]; column i (its first value) ≥ m−1.
        const i64 row_lo = m - 1, row_hi = n - 1 - (k - m);
        for (i64 i = 0; i <= n; ++i)
            r[i] = prev[i] - ps.p2[i];
        std::uint32_t* arg = back.data() + static_cast<std::size_t>(m - 2) * n;
        // cur[j + 1] = D_m[j] for the layer's rows, +∞ elsewhere.
        std::fill(cur.begin(), cur.begin() + row_lo + 1, inf);
        std::fill(cur.begin() + row_hi + 2, cur.end(), inf);
        level_layer(ps, r, cur.data() + 1, arg, m >= 3 ? arg - n : nullptr, row_lo, row_hi, row_lo)
            .solve();
        std::swap(prev, cur);
    }
    // Last cluster: starts at i ∈ [k−1, n−1] and ends at n−1.
    i64 start = k - 1;
    double best = inf;
    for (i64 i = k - 1; i < n; ++i) {
        const double v = prev[i] + ps.cost(i, n - 1);
        if (v < best) {
            best = v;
            start = i;
        }
    }
    std::vector<i64> starts(static_cast<std::size_t>(k));
    starts[k - 1] = start;
    for (int m = k - 1; m >= 2; --m)
        starts[m - 1] = back[static_cast<std::size_t>(m - 2) * n + (starts[m] - 1)];
    starts[0] = 0;
    std::vector<double> c(static_cast<std::size_t>(k));
    for (int m = 0; m < k; ++m)
        c[m] = run_mean(d, starts[m], m + 1 < k ? starts[m + 1] - 1 : n - 1);
    return c;
}

double uniform01(std::mt19937_64& rng) { return double(rng() >> 11) * 0x1.0p-53; }

/// Index of the first entry whose cumulative weight exceeds u · total (u ∈ [0, 1)).
i64 sample(std::span<const double> weights, double total, double u) {
    double target = u * total, acc = 0;
    i64 last_positive = 0;
    for (std::size_t i = 0; i < weights.size(); ++i) {
        if (weights[i] <= 0) continue;
        acc += weights[i];
        last_positive = i64(i);
        if (acc > target) return i64(i);
    }
    return last_positive;
}

std::vector<double> initial_centroids(const sorted_data& d, const prefix_sums& ps, int k,
                                      const lloyd_options& o) {
    const i64 n = d.size();
    const double lo = d.x.front(), hi = d.x.back();
    std::vector<double> c(static_cast<std::size_t>(k));
    std::mt19937_64 rng(o.seed);
    switch (o.init) {
    case kmeans_init::linear:
        for (int j = 0; j < k; ++j)
            c[j] = j == k - 1 ? hi : lo + (hi - lo) * double(j) / double(k - 1);
        break;
    case kmeans_init::density: {
        const double total = ps.pw[n];
        for (int j = 0; j < k; ++j) {
            const double target = total * double(j) / double(k - 1);
            // First value whose cumulative weight reaches the target.
            const auto it = std::lower_bound(ps.pw.begin() + 1, ps.pw.end(), target);
            const i64 idx = std::min<i64>(n - 1, i64(it - (ps.pw.begin() + 1)));
            c[j] = d.x[idx];
        }
        break;
    }
    case kmeans_init::random:
        for (int j = 0; j < k; ++j)
            c[j] = lo + (hi - lo) * uniform01(rng);
        break;
    case kmeans_init::kmeans_plus_plus: {
        std::vector<double> dist(static_cast<std::size_t>(n));
        c[0] = d.x[sample(d.w, ps.pw[n], uniform01(rng))];
        std::vector<double> score(static_cast<std::size_t>(n));
        for (i64 i = 0; i < n; ++i) {
            const double e = d.x[i] - c[0];
            dist[i] = e * e;
        }
        for (int j = 1; j < k; ++j) {
            compensated_sum total;
            for (i64 i = 0; i < n; ++i) {
                score[i] = d.w[i] * dist[i];
                total.add(score[i]);
            }
            c[j] = total.value() > 0 ? d.x[sample(score, total.value(), uniform01(rng))] : c[0];
            for (i64 i = 0; i < n; ++i) {
                const double e = d.x[i] - c[j];
                dist[i] = std::min(dist[i], e * e);
            }
        }
        break;
    }
    default:
        fail(status::invalid_argument,
             fmt::format("kmeans1d_lloyd: unknown initialisation {}", static_cast<int>(o.init)));
    }
    std::sort(c.begin(), c.end());
    return c;
}

} // namespace

kmeans1d_result kmeans1d_optimal(std::span<const float> values, std::span<const float> importance,
                                 int k, std::string_view name) {
    check_k(k, name);
    check_inputs(values, importance, name);
    const sorted_data d = sort_distinct(values, importance);
    kmeans1d_result r;
    if (d.size() <= k)
        r.centroids = d.x;
    else
        r.centroids = optimal_centroids(d, k, name);
    r.sse = sorted_sse(d, r.centroids);
    return r;
}

kmeans1d_result kmeans1d_lloyd(std::span<const float> values, std::span<const float> importance,
                               int k, const lloyd_options& o, std::string_view name) {
    check_k(k, name);
    if (o.max_iterations < 1)
        fail(status::invalid_argument,
             fmt::format("{}: lloyd max_iterations {} must be >= 1", name, o.max_iterations));
    if (!(o.tolerance >= 0) || !std::isfinite(o.tolerance))
        fail(status::invalid_argument,
             fmt::format("{}: lloyd tolerance {} must be finite and >= 0", name, o.tolerance));
    const int init = static_cast<int>(o.init);
    if (init < 0 || init > 3)
        fail(status::invalid_argument,
             fmt::format("{}: unknown lloyd initialisation {}", name, init));
    check_inputs(values, importance, name);
    const sorted_data d = sort_distinct(values, importance);
    kmeans1d_result r;
    if (d.size() <= k) {
        r.centroids = d.x;
        r.sse = sorted_sse(d, r.centroids);
        return r;
    }
    const i64 n = d.size();
    const prefix_sums ps(d);
    std::vector<double> c = initial_centroids(d, ps, k, o);
    std::vector<i64> bounds(static_cast<std::size_t>(k + 1)), previous;
    double sse_prev = std::numeric_limits<double>::infinity();
    for (int it = 0; it < o.max_iterations; ++it) {
        // Assignment: cluster j holds the values in [bounds[j], bounds[j+1]); a value on a
        // midpoint goes to the lower centroid.
        bounds[0] = 0;
        bounds[k] = n;
        for (int j = 0; j + 1 < k; ++j) {
            const double mid = 0.5 * (c[j] + c[j + 1]);
            bounds[j + 1] = std::max(
                bounds[j], i64(std::upper_bound(d.x.begin(), d.x.end(), mid) - d.x.begin()));
        }
        if (bounds == previous) break; // fixed point: c are already this partition's means
        previous = bounds;
        double sse = 0;
        for (int j = 0; j < k; ++j) {
            const i64 a = bounds[j], b = bounds[j + 1] - 1;
            if (a > b || ps.weight(a, b) <= 0) continue; // an empty cluster keeps its centroid
            c[j] = std::clamp(ps.mean(a, b), d.x[a], d.x[b]);
            sse += ps.cost(a, b);
        }
        std::sort(c.begin(), c.end());
        r.iterations = it + 1;
        if (it > 0 && sse_prev - sse <= o.tolerance * sse_prev) break;
        sse_prev = sse;
    }
    r.centroids = std::move(c);
    r.sse = sorted_sse(d, r.centroids);
    return r;
}

double kmeans1d_sse(std::span<const float> values, std::span<const float> importance,
                    std::span<const double> centroids, std::string_view name) {
    check_inputs(values, importance, name);
    if (centroids.empty()) fail(status::invalid_argument, fmt::format("{}: no centroids", name));
    std::vector<double> c(centroids.begin(), centroids.end());
    for (std::size_t j = 0; j < c.size(); ++j)
        if (!std::isfinite(c[j]))
            fail(status::invalid_argument, fmt::format("{}: centroid {} is {}", name, j, c[j]));
    std::sort(c.begin(), c.end());
    std::vector<double> mids(c.size() - 1);
    for (std::size_t j = 0; j + 1 < c.size(); ++j)
        mids[j] = 0.5 * (c[j] + c[j + 1]);
    compensated_sum s;
    for (std::size_t i = 0; i < values.size(); ++i) {
        const double x = values[i];
        const auto j = std::lower_bound(mids.begin(), mids.end(), x) - mids.begin();
        const double e = x - c[static_cast<std::size_t>(j)];
        s.add((importance.empty() ? 1.0 : double(importance[i])) * e * e);
    }
    return s.value();
}

} // namespace hone
