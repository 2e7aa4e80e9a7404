// 1-D k-means: the optimal dynamic programme (level-order divide and conquer per layer) and Lloyd
// on sorted prefix sums.
#include "hone/cluster/kmeans1d.hpp"

#include "compensated_sum.hpp"

#include "hone/core/error.hpp"
#include "hone/core/threads.hpp"
#include "hone/kernels/cluster.hpp"
#include "hone/kernels/kmeans_dp.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <limits>
#include <memory>
#include <numeric>
#include <optional>
#include <random>

#ifdef __linux__
#include <sys/mman.h>
#endif

namespace hone {
namespace {

using i64 = std::int64_t;

using detail::compensated_sum;

/// Zero entries after every column array (the kmeans_dp kernel loads whole vectors).
constexpr i64 pad = kernels::kmeans_dp_padding;

/// Memory for the solver's large arrays: blocks of 4 MiB and more are 2 MiB-aligned and asked
/// for transparent huge pages (Linux), so that touching them for the first time costs a few
/// page faults instead of one per 4 KiB (which took a third of the time at 1 M values).
void* allocate_large(std::size_t bytes) {
    constexpr std::size_t huge = std::size_t(2) << 20;
    void* p = nullptr;
    if (bytes < 2 * huge) {
        p = std::malloc(std::max<std::size_t>(bytes, 1));
    } else {
        const std::size_t rounded = (bytes + huge - 1) / huge * huge;
        p = std::aligned_alloc(huge, rounded);
#ifdef MADV_HUGEPAGE
        if (p) madvise(p, rounded, MADV_HUGEPAGE);
#endif
    }
    if (!p) throw std::bad_alloc();
    return p;
}

struct free_deleter {
    void operator()(void* p) const noexcept { std::free(p); }
};

/// An uninitialised array of a trivial type (pages the solver never reaches stay untouched).
template <class T> using raw_array = std::unique_ptr<T[], free_deleter>;
template <class T> raw_array<T> make_raw_array(i64 size) {
    return raw_array<T>(
        static_cast<T*>(allocate_large(static_cast<std::size_t>(size) * sizeof(T))));
}

/// std::allocator on allocate_large (for the prefix sums).
template <class T> struct large_allocator {
    using value_type = T;
    large_allocator() = default;
    template <class U> large_allocator(const large_allocator<U>&) noexcept {}
    T* allocate(std::size_t count) { return static_cast<T*>(allocate_large(count * sizeof(T))); }
    void deallocate(T* p, std::size_t) noexcept { std::free(p); }
    friend bool operator==(const large_allocator&, const large_allocator&) noexcept { return true; }
};

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

/// Sorted values and their importances: the distinct values with positive total importance and
/// that total, or (w empty) values of weight 1 each, repeats allowed.
struct sorted_data {
    std::vector<double, large_allocator<double>> x, w;
    i64 size() const noexcept { return static_cast<i64>(x.size()); }
    double weight(i64 i) const noexcept { return w.empty() ? 1.0 : w[i]; }
};

/// The values ascending: an LSD radix sort (3 passes of 11 bits) on order-preserving integer
/// keys of the finite floats (−0 just before +0); std::sort for small inputs.
std::vector<float> sorted_values(std::span<const float> values) {
    std::vector<float> s(values.begin(), values.end());
    if (s.size() < 4096) {
        std::sort(s.begin(), s.end());
        return s;
    }
    std::vector<std::uint32_t, large_allocator<std::uint32_t>> a(s.size()), b(s.size());
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

/// The distinct values of sorted s and their counts (−0 and +0 are one value, +0).
sorted_data distinct_of(const std::vector<float>& s) {
    sorted_data d;
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

sorted_data sort_distinct(std::span<const float> values, std::span<const float> importance) {
    sorted_data d;
    if (importance.empty()) return distinct_of(sorted_values(values));
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

/// Prefix sums of w, w·(x − shift), w·(x − shift)² (shift = the median value keeps them small);
/// pw stays empty for unit weights (pw[i] = i). `mirror`: of the values mirrored (x → −x, order
/// reversed), whose prefixes are the original suffixes. Each array has `pad` zeros after its
/// n + 1 sums (whole-vector loads).
struct prefix_sums {
    std::vector<double, large_allocator<double>> pw, p1, p2;
    double shift = 0;
    i64 n = 0;

    explicit prefix_sums(const sorted_data& d, bool mirror = false) : n(d.size()) {
        const auto at = [&](i64 u) { return mirror ? n - 1 - u : u; };
        const double sign = mirror ? -1.0 : 1.0;
        shift = sign * d.x[at(n / 2)];
        if (!d.w.empty()) pw.assign(n + 1 + pad, 0.0);
        p1.assign(n + 1 + pad, 0.0);
        p2.assign(n + 1 + pad, 0.0);
        compensated_sum sw, s1, s2;
        for (i64 u = 0; u < n; ++u) {
            const double y = sign * d.x[at(u)] - shift, w = d.weight(at(u));
            s1.add(w * y);
            s2.add(w * y * y);
            p1[u + 1] = s1.value();
            p2[u + 1] = s2.value();
            if (pw.empty()) continue;
            sw.add(w);
            pw[u + 1] = sw.value();
        }
    }
    /// Total weight of the first i values.
    double cumulative(i64 i) const noexcept { return pw.empty() ? double(i) : pw[i]; }
    /// Weighted SSE of the run [i, j] (inclusive) around its weighted mean.
    double cost(i64 i, i64 j) const noexcept {
        const double w = weight(i, j);
        if (w <= 0) return 0;
        const double s = p1[j + 1] - p1[i], s2 = p2[j + 1] - p2[i];
        const double c = s2 - s * s / w;
        return c > 0 ? c : 0;
    }
    double mean(i64 i, i64 j) const noexcept { return shift + (p1[j + 1] - p1[i]) / weight(i, j); }
    double weight(i64 i, i64 j) const noexcept { return cumulative(j + 1) - cumulative(i); }
};

/// Weighted mean of d[i..j] by direct summation (accurate: used for the returned centroids).
double run_mean(const sorted_data& d, i64 i, i64 j) {
    compensated_sum s, w;
    for (i64 t = i; t <= j; ++t) {
        s.add(d.weight(t) * d.x[t]);
        w.add(d.weight(t));
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
        s.add(d.weight(i) * e * e);
    }
    return s.value();
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
        const double total = ps.cumulative(n);
        for (int j = 0; j < k; ++j) {
            const double target = total * double(j) / double(k - 1);
            // First value whose cumulative weight reaches the target.
            const i64 reach =
                ps.pw.empty()
                    ? i64(std::ceil(target))
                    : i64(std::lower_bound(ps.pw.begin() + 1, ps.pw.begin() + 1 + n, target) -
                          ps.pw.begin());
            c[j] = d.x[std::clamp<i64>(reach - 1, 0, n - 1)];
        }
        break;
    }
    case kmeans_init::random:
        for (int j = 0; j < k; ++j)
            c[j] = lo + (hi - lo) * uniform01(rng);
        break;
    case kmeans_init::kmeans_plus_plus: {
        std::vector<double> dist(static_cast<std::size_t>(n)), ones;
        if (d.w.empty()) ones.assign(static_cast<std::size_t>(n), 1.0);
        const std::span<const double> weights =
            d.w.empty() ? std::span<const double>(ones) : std::span<const double>(d.w);
        c[0] = d.x[sample(weights, ps.cumulative(n), uniform01(rng))];
        std::vector<double> score(static_cast<std::size_t>(n));
        for (i64 i = 0; i < n; ++i) {
            const double e = d.x[i] - c[0];
            dist[i] = e * e;
        }
        for (int j = 1; j < k; ++j) {
            compensated_sum total;
            for (i64 i = 0; i < n; ++i) {
                score[i] = d.weight(i) * dist[i];
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

/// Lloyd iterations from the sorted centroids c on sorted data (the values in c's runs by
/// midpoints, a value on a midpoint to the lower centroid); returns the iterations run.
int lloyd_iterate(const sorted_data& d, const prefix_sums& ps, int k, const lloyd_options& o,
                  std::vector<double>& c) {
    const i64 n = d.size();
    std::vector<i64> bounds(static_cast<std::size_t>(k + 1)), previous;
    double sse_prev = std::numeric_limits<double>::infinity();
    int iterations = 0;
    for (int it = 0; it < o.max_iterations; ++it) {
        // Assignment: cluster j holds the values in [bounds[j], bounds[j+1]).
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
        iterations = it + 1;
        if (it > 0 && sse_prev - sse <= o.tolerance * sse_prev) break;
        sse_prev = sse;
    }
    return iterations;
}

/// An upper bound of the optimal k-cluster cost: the cost, from the prefix sums, of the runs
/// that a short Lloyd (density initialisation) ends with — a partition into at most k runs.
double lloyd_upper_bound(const sorted_data& d, const prefix_sums& ps, int k) {
    const lloyd_options o{kmeans_init::density, 50, 0, 0};
    std::vector<double> c = initial_centroids(d, ps, k, o);
    lloyd_iterate(d, ps, k, o, c);
    double total = 0;
    i64 a = 0;
    for (int j = 0; j < k; ++j) {
        const i64 b = j + 1 < k ? std::max(a, i64(std::upper_bound(d.x.begin(), d.x.end(),
                                                                   0.5 * (c[j] + c[j + 1])) -
                                                  d.x.begin()))
                                : d.size();
        if (b > a) total += ps.cost(a, b - 1);
        a = b;
    }
    return total;
}

// ---- The optimal solver ------------------------------------------------------------------
//
// Entry (j, i) of layer m: D_{m−1}[i − 1] + cost(i, j), the best cost of m clusters over the
// values 0 … j whose last cluster starts at i. Written (r[i] + q2) − (q1 − p1[i])² / c with
// r[i] = D_{m−1}[i − 1] − p2[i], q = the prefix sums up to and including j and c the weight of
// i … j. With unit weights, c = j + 1 − i and 1/c comes from a table (a multiply, not a
// division). The row scans are the kmeans_dp kernel (hone/kernels/kmeans_dp.hpp): every tier
// computes each entry with the same IEEE operations in the same order, and a row's result is
// its leftmost minimum, which does not depend on the order of evaluation: the bits are the same
// on every tier and at any thread count.

/// One layer of the dynamic programme over monotone argmins, in level order: cur[j] = the
/// minimum of row j over the columns [col_lo, min(j, col_hi)], its leftmost argmin in arg[j].
/// Number the rows t = j − row_lo + 1 ∈ [1, rows]; the row t with lowest set bit h has its
/// neighbours t ± h at coarser levels (or outside: the column bounds), and its argmin lies
/// between theirs (the quadrangle inequality) and at or after the previous layer's argmin of the
/// same row. That is divide and conquer (every row scans the same range as in the recursion),
/// but the rows of one level are independent: no recursion per row, and the rows of a level go
/// to the kernel in batches. The coarse levels (h ≥ block) run over the whole layer, then
/// subtrees of `split` rows depth first, and each block of `block` rows runs its fine levels
/// while its columns stay in cache.
///
/// Pruning by an upper bound `ub` of the optimal cost: costs are ≥ 0, so a state whose best cost
/// exceeds ub lies on no optimal path, and D_m[j] is non-decreasing in j, so the rows with
/// D_m[j] ≤ ub are a prefix: once a row comes out above ub (the smallest such row is `limit_`),
/// every row after it is skipped, subtrees and blocks at once, and never touched (as an upper
/// bound for the rows before it, a skipped row stands for their last column). A computed row
/// above ub may have been computed over too few columns; it is above ub either way and the next
/// layer does not use it as a lower bound. The rows run in a fixed order, so which rows are
/// skipped does not depend on anything but the data.
class level_layer {
public:
    level_layer(const kernels::kmeans_dp_columns& c, double* cur, std::uint32_t* arg,
                const std::uint32_t* lower, const double* lower_cost, i64 lower_last, double ub,
                i64 row_lo, i64 row_hi, i64 col_lo, i64 col_hi)
        : c_(c), cur_(cur), arg_(arg), lower_(lower), lower_cost_(lower_cost),
          lower_last_(lower ? lower_last : -1), ub_(ub), row_lo_(row_lo),
          rows_(row_hi - row_lo + 1), col_lo_(col_lo), col_hi_(col_hi) {
        batch_.reserve(max_batch);
    }

    void solve() {
        top_ = 1;
        while (top_ * 2 <= rows_)
            top_ *= 2;
        if (top_ < block) {
            fine(0);
            return;
        }
        // Levels above `split` over the whole layer (few rows, long vectorised scans) …
        const i64 root = std::min(top_, split);
        for (i64 h = top_; h > root; h /= 2)
            level(h, rows_, h);
        // … then each subtree depth first, its blocks in level order (columns stay in cache).
        for (i64 t = root; t - root < rows_; t += 2 * root)
            subtree(t, root);
    }

    /// The last row within ub, or −1.
    i64 last_within() const {
        for (i64 t = std::min(limit_, rows_); t >= 1; --t)
            if (cur_[row_lo_ + t - 1] <= ub_) return row_lo_ + t - 1;
        return -1;
    }

private:
    static constexpr i64 block = 4096;    ///< rows solved level by level in cache (power of 2)
    static constexpr i64 split = 1 << 16; ///< subtrees solved depth first (power of 2)
    static constexpr std::size_t max_batch = 1024; ///< rows per kernel call

    /// The rows of the implicit tree below row t of level h ≥ block, depth first; the two
    /// blocks next to a row of level `block` are solved level by level.
    void subtree(i64 t, i64 h) {
        if (t - h >= rows_ || t - h >= limit_) return;
        level(t, t, h);
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
            level(t0 + h, t0 + block - 1, h);
    }

    /// Rows t = first, first + 2h, … up to `end` (and rows_, below limit_), whose neighbours are
    /// t ± h: independent of each other, solved in order by the kernel, batch by batch.
    void level(i64 first, i64 end, i64 h) {
        end = std::min(end, rows_);
        for (i64 t = first; t <= end && t < limit_;) {
            batch_.clear();
            const i64 t0 = t;
            for (; t <= end && t < limit_ && batch_.size() < max_batch; t += 2 * h)
                batch_.push_back(range(t, h));
            const std::int64_t done = kernels::kmeans_dp_row_minima(
                c_, batch_, ub_, {cur_, std::size_t(c_.n)}, {arg_, std::size_t(c_.n)});
            if (done < std::int64_t(batch_.size()) || !(cur_[batch_.back().j] <= ub_)) {
                limit_ = std::min(limit_, t0 + (done - 1) * 2 * h); // the row above ub
                return;
            }
        }
    }

    /// The columns row t (1-based) scans: between its neighbours' argmins t ± h.
    kernels::kmeans_dp_row range(i64 t, i64 h) const {
        const i64 j = row_lo_ + t - 1;
        const i64 last = std::min(j, col_hi_);
        i64 a = t - h >= 1 ? i64(arg_[j - h]) : col_lo_;
        const i64 b = t + h <= std::min(rows_, limit_) ? std::min<i64>(arg_[j + h], last) : last;
        // (The previous layer's argmin tightens long ranges, rarely short ones: coarse rows only.)
        if (h >= 16 && j <= lower_last_ && lower_cost_[j] <= ub_) a = std::max<i64>(a, lower_[j]);
        return {j, std::min(a, b), b};
    }

    kernels::kmeans_dp_columns c_;
    double* cur_;
    std::uint32_t* arg_;
    const std::uint32_t* lower_;
    const double* lower_cost_;
    i64 lower_last_;
    double ub_;
    i64 row_lo_, rows_, col_lo_, col_hi_, top_ = 1;
    i64 limit_ = std::numeric_limits<i64>::max(); ///< rows after it are skipped
    std::vector<kernels::kmeans_dp_row> batch_;
};

/// Layers 1 … layers of the programme for `clusters` clusters in all (each layer leaves room
/// for the clusters after it). Returns D with D[j + 1] = the best cost of `layers` clusters over
/// the values 0 … j for j ≤ last (beyond: above ub, not stored); fills back (layers 2 … layers,
/// n entries each) with the first value of the last cluster of the rows within ub.
template <bool Unit> struct layers_result {
    raw_array<double> cost;
    i64 last = -1;
};

template <bool Unit>
layers_result<Unit> solve_layers(const prefix_sums& ps, const double* rv, int layers, int clusters,
                                 double ub, std::uint32_t* back) {
    const i64 n = ps.n;
    auto prev = make_raw_array<double>(n + 1 + pad), cur = make_raw_array<double>(n + 1 + pad);
    auto r = make_raw_array<double>(n + 1 + pad);
    // Layer 1 (closed form; non-decreasing, so it stops at the first row above ub).
    i64 valid = -1; // the last row within ub
    for (i64 j = 0; j <= n - clusters; ++j) {
        prev[j + 1] = ps.cost(0, j);
        if (!(prev[j + 1] <= ub)) break;
        valid = j;
    }
    // The kernel's view of the columns (its sizes include the padding it reads past a row).
    const auto padded = [&](const double* p, i64 size) {
        return p ? std::span<const double>(p, std::size_t(size + pad)) : std::span<const double>();
    };
    const kernels::kmeans_dp_columns c{padded(ps.p1.data(), n + 1),
                                       padded(ps.p2.data(), n + 1),
                                       padded(Unit ? nullptr : ps.pw.data(), n + 1),
                                       padded(r.get(), n + 1),
                                       padded(Unit ? rv : nullptr, n),
                                       n};
    for (int m = 2; m <= layers; ++m) {
        // Row j (last value of cluster m) ∈ [m − 1, n − 1 − (clusters − m)]; column i (its
        // first value) ∈ [m − 1, j], and D_{m−1}[i − 1] ≤ ub needs i ≤ valid + 1.
        const i64 row_lo = m - 1, row_hi = n - 1 - (clusters - m);
        const i64 col_hi = std::min(valid + 1, row_hi);
        for (i64 i = row_lo; i <= col_hi; ++i)
            r[i] = prev[i] - ps.p2[i];
        std::fill(r.get() + col_hi + 1, r.get() + col_hi + 1 + pad, 0.0); // (read, masked)
        std::uint32_t* arg = back + static_cast<std::size_t>(m - 2) * n;
        level_layer layer(c, cur.get() + 1, arg, m >= 3 ? arg - n : nullptr, prev.get() + 1, valid,
                          ub, row_lo, row_hi, row_lo, col_hi);
        layer.solve();
        valid = layer.last_within();
        if (valid < 0)
            fail(status::internal,
                 fmt::format("kmeans1d_optimal: no state of layer {} within the upper bound {}", m,
                             ub));
        std::swap(prev, cur);
    }
    return {std::move(prev), valid};
}

/// Runs work(0) and work(1), on two threads when hone may use two (no exception may leave an
/// OpenMP region: they are rethrown here).
template <class Work> void both(Work&& work) {
    std::exception_ptr error[2];
#pragma omp parallel for num_threads(2) schedule(static, 1) if (num_threads() >= 2)
    for (int h = 0; h < 2; ++h) {
        try {
            work(h);
        } catch (...) {
            error[h] = std::current_exception();
        }
    }
    for (const auto& e : error)
        if (e) std::rethrow_exception(e);
}

/// Starts of the optimal runs over sorted data with more than k values: the first a = ⌈k/2⌉
/// clusters over prefixes and, independently, the last k − a over the mirrored values
/// (suffixes), then the best meeting point. The two halves run on two threads, and few
/// clusters over a long prefix cost more than the optimum: the pruning is strongest there.
template <bool Unit> std::vector<i64> optimal_starts(const sorted_data& d, int k) {
    const i64 n = d.size();
    const int a = k - k / 2, b = k / 2;
    std::optional<prefix_sums> ps[2];
    double bound = 0;
    raw_array<double> rv;
    both([&](int h) {
        ps[h].emplace(d, h == 1);
        if (h == 0) bound = lloyd_upper_bound(d, *ps[0], k);
        if (h == 0 || !Unit) return;
        rv = make_raw_array<double>(n + pad);
#pragma omp simd
        for (i64 u = 0; u < n + pad; ++u)
            rv[u] = u < n ? 1.0 / double(n - u) : 0.0;
    });
    // Tolerance for rounding: entries are sums of prefix sums of magnitude ≤ p2[n], rounded
    // to ~1e-15 of it; the tolerance is 1e-9 of it.
    const double ub =
        bound + 1e-9 * (bound + std::max(std::fabs(ps[0]->p2[n]), std::fabs(ps[1]->p2[n])));
    raw_array<std::uint32_t> back[2] = {make_raw_array<std::uint32_t>(std::max(1, a - 1) * n),
                                        make_raw_array<std::uint32_t>(std::max(1, b - 1) * n)};
    layers_result<Unit> half[2];
    both([&](int h) {
        half[h] = solve_layers<Unit>(*ps[h], rv.get(), h == 0 ? a : b, k, ub, back[h].get());
    });
    // The first a clusters end at j, the last b start at j + 1 (mirrored row n − 2 − j).
    i64 meet = -1;
    double best = std::numeric_limits<double>::infinity();
    for (i64 j = std::max<i64>(a - 1, n - 2 - half[1].last); j <= half[0].last; ++j) {
        const double v = half[0].cost[j + 1] + half[1].cost[n - 1 - j];
        if (v < best) {
            best = v;
            meet = j;
        }
    }
    if (meet < 0) fail(status::internal, "kmeans1d_optimal: no partition within the upper bound");
    std::vector<i64> starts{0};
    for (i64 e = meet, m = a; m >= 2; --m) { // prefix clusters a … 2 start at e
        e = back[0][static_cast<std::size_t>(m - 2) * n + e];
        starts.push_back(e);
        --e;
    }
    starts.push_back(meet + 1);
    for (i64 e = n - 2 - meet, m = b; m >= 2; --m) { // mirrored clusters b … 2 start at s
        const i64 s = back[1][static_cast<std::size_t>(m - 2) * n + e];
        starts.push_back(n - s); // mirrored cluster m − 1 ends at s − 1: original n − s
        e = s - 1;
    }
    std::sort(starts.begin(), starts.end());
    return starts;
}

/// Optimal centroids of sorted data with more than k distinct values.
std::vector<double> optimal_centroids(const sorted_data& d, int k) {
    const std::vector<i64> starts =
        d.w.empty() ? optimal_starts<true>(d, k) : optimal_starts<false>(d, k);
    std::vector<double> c(static_cast<std::size_t>(k));
    for (int m = 0; m < k; ++m)
        c[m] = run_mean(d, starts[m], m + 1 < k ? starts[m + 1] - 1 : d.size() - 1);
    return c;
}

/// Whether `total` values, `distinct` of them distinct, are solved as values of weight 1 each
/// (repeats allowed): at most one value in 9 a repeat, and back-pointers within the limit.
bool unit_weights(double total, i64 distinct, int k) {
    return total <= double(distinct + distinct / 8) &&
           i64(std::max(0, k - 2)) * i64(total) <= (i64(1) << 30);
}

/// The data the optimal solver runs on, from distinct weighted data: with integer importances
/// and few repeats, the values repeated, each of weight 1 — the same optimum (an optimal
/// solution never needs to split equal values, and one that does costs the same) on the faster
/// unit-weight path; otherwise the distinct values and their total importances.
sorted_data solver_data(sorted_data d, int k) {
    const i64 nd = d.size();
    double total = 0;
    bool integral = true;
    for (const double w : d.w) {
        integral &= w == std::floor(w) && w <= double(1 << 20);
        total += w;
    }
    if (!integral || !unit_weights(total, nd, k)) return d;
    sorted_data u;
    u.x.resize(static_cast<std::size_t>(total));
    std::size_t at = 0;
    for (i64 i = 0; i < nd; ++i)
        for (i64 t = 0; t < i64(d.w[i]); ++t)
            u.x[at++] = d.x[i];
    return u;
}

} // namespace

kmeans1d_result kmeans1d_optimal(std::span<const float> values, std::span<const float> importance,
                                 int k, std::string_view name) {
    check_k(k, name);
    check_inputs(values, importance, name);
    sorted_data d;
    i64 nd = 0;
    if (importance.empty()) {
        // Unweighted: the radix-sorted values themselves when they go to the unit-weight path
        // (the same data as solver_data makes from their distinct values and counts).
        const std::vector<float> s = sorted_values(values);
        nd = s.empty() ? 0 : 1;
        for (std::size_t i = 1; i < s.size(); ++i)
            nd += s[i] != s[i - 1];
        if (nd > k && unit_weights(double(s.size()), nd, k)) {
            d.x.resize(s.size());
            for (std::size_t i = 0; i < s.size(); ++i)
                d.x[i] = s[i] == 0.0f ? 0.0 : double(s[i]);
        } else {
            d = distinct_of(s);
        }
    } else {
        d = sort_distinct(values, importance);
        nd = d.size();
    }
    kmeans1d_result r;
    if (nd <= k) {
        r.centroids.assign(d.x.begin(), d.x.end());
        r.sse = sorted_sse(d, r.centroids);
        return r;
    }
    // Back-pointers: (k − 2)·n entries of 4 bytes; refuse more than 4 GiB rather than thrash.
    if (nd > i64(std::numeric_limits<std::uint32_t>::max()) - pad ||
        i64(std::max(0, k - 2)) * nd > (i64(1) << 30))
        fail(status::out_of_memory,
             fmt::format("{}: the optimal solver for {} distinct values and k = {} needs {} MiB "
                         "of back-pointers (limit 4096); use lloyd or automatic",
                         name, nd, k, (i64(std::max(0, k - 2)) * nd * 4) >> 20));
    if (!d.w.empty()) d = solver_data(std::move(d), k);
    r.centroids = optimal_centroids(d, k);
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
        r.centroids.assign(d.x.begin(), d.x.end());
        r.sse = sorted_sse(d, r.centroids);
        return r;
    }
    const prefix_sums ps(d);
    std::vector<double> c = initial_centroids(d, ps, k, o);
    r.iterations = lloyd_iterate(d, ps, k, o, c);
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
