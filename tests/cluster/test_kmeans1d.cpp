// 1-D k-means: the optimal solver against brute force, against Lloyd from every
// initialisation, the weighted variant against replication, and the documented edge cases.
#include <hone/cluster/kmeans1d.hpp>
#include <hone/core/error.hpp>
#include <hone/core/threads.hpp>

#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <functional>
#include <limits>
#include <random>
#include <vector>

namespace {

using hone::kmeans1d_lloyd;
using hone::kmeans1d_optimal;

/// Weighted SSE of a partition of sorted (x, w) into runs around their weighted means, in
/// long double, two passes.
long double partition_sse(const std::vector<std::pair<float, float>>& s,
                          const std::vector<std::size_t>& starts, std::vector<double>* means) {
    long double total = 0;
    for (std::size_t r = 0; r < starts.size(); ++r) {
        const std::size_t a = starts[r], b = r + 1 < starts.size() ? starts[r + 1] : s.size();
        long double sw = 0, sx = 0;
        for (std::size_t i = a; i < b; ++i) {
            sw += s[i].second;
            sx += (long double)s[i].second * s[i].first;
        }
        const long double m = sx / sw;
        if (means) means->push_back(double(m));
        for (std::size_t i = a; i < b; ++i)
            total += s[i].second * (s[i].first - m) * (s[i].first - m);
    }
    return total;
}

struct brute_result {
    long double best = std::numeric_limits<long double>::infinity();
    long double second = std::numeric_limits<long double>::infinity();
    std::vector<double> centroids;
};

/// Every way to cut the sorted values into k non-empty contiguous runs.
brute_result brute_force(std::vector<float> x, std::vector<float> w, int k) {
    std::vector<std::pair<float, float>> s(x.size());
    for (std::size_t i = 0; i < x.size(); ++i)
        s[i] = {x[i], w.empty() ? 1.0f : w[i]};
    std::sort(s.begin(), s.end());
    brute_result r;
    std::vector<std::size_t> starts{0};
    std::function<void(std::size_t)> rec = [&](std::size_t from) {
        if (int(starts.size()) == k) {
            std::vector<double> means;
            const long double v = partition_sse(s, starts, &means);
            if (v < r.best) {
                r.second = r.best;
                r.best = v;
                r.centroids = means;
            } else if (v < r.second) {
                r.second = v;
            }
            return;
        }
        for (std::size_t c = from; c + (k - starts.size()) <= s.size(); ++c) {
            // Equal values are never split by an optimal solution; skipping such cuts keeps
            // the enumeration to distinct partitions.
            if (s[c].first == s[c - 1].first) continue;
            starts.push_back(c);
            rec(c + 1);
            starts.pop_back();
        }
    };
    rec(1);
    return r;
}

std::size_t distinct(std::vector<float> x) {
    std::sort(x.begin(), x.end());
    return std::size_t(std::unique(x.begin(), x.end()) - x.begin());
}

/// Draws n values from one of several distributions (some with many duplicates).
std::vector<float> draw(int dist, std::size_t n, std::mt19937_64& rng) {
    std::vector<float> v(n);
    std::normal_distribution<double> normal;
    std::uniform_real_distribution<double> uniform(-1, 1);
    std::exponential_distribution<double> expo(1.0);
    std::student_t_distribution<double> student(2.0);
    std::uniform_int_distribution<int> small_int(-5, 5);
    for (auto& x : v) {
        switch (dist % 6) {
        case 0: x = float(normal(rng)); break;
        case 1: x = float(uniform(rng)); break;
        case 2: x = float((rng() & 1 ? 1 : -1) * expo(rng)); break;             // Laplace
        case 3: x = float(student(rng)); break;                                 // heavy tails
        case 4: x = float((rng() & 1 ? 3.0 : -2.0) + 0.3 * normal(rng)); break; // bimodal
        default: x = float(small_int(rng)) * 0.25f; break;                      // duplicates
        }
    }
    return v;
}

} // namespace

TEST_CASE("kmeans1d_optimal matches brute force on every small input") {
    std::mt19937_64 rng(11);
    int compared = 0, centroid_checks = 0;
    for (int trial = 0; trial < 400; ++trial) {
        const std::size_t n = 1 + rng() % 11;
        auto x = draw(int(rng() % 6), n, rng);
        std::vector<float> w;
        if (trial % 2) {
            std::uniform_real_distribution<float> u(0.1f, 3.0f);
            for (std::size_t i = 0; i < n; ++i)
                w.push_back(u(rng));
        }
        const std::size_t nd = distinct(x);
        for (int k = 2; k <= 6; ++k) {
            const auto r = kmeans1d_optimal(x, w, k);
            if (nd <= std::size_t(k)) {
                // Documented: fewer distinct values than k → each is its own centroid.
                CHECK(r.centroids.size() == nd);
                CHECK(r.sse == 0.0);
                continue;
            }
            CHECK(r.centroids.size() == std::size_t(k));
            const auto b = brute_force(x, w, k);
            const double scale = double(b.best) + 1e-30;
            CHECK(std::fabs(r.sse - double(b.best)) <= 1e-12 * scale + 1e-300);
            ++compared;
            // Where the optimum is unique by a margin, the centroids are the brute-force ones.
            if (b.second - b.best > 1e-9L * (b.best + 1e-12L)) {
                ++centroid_checks;
                for (int j = 0; j < k; ++j)
                    CHECK(r.centroids[j] == doctest::Approx(b.centroids[j]).epsilon(1e-12));
            }
        }
    }
    MESSAGE("brute-force comparisons: " << compared << ", centroid checks: " << centroid_checks);
    CHECK(compared > 800);
}

TEST_CASE("the optimal SSE is never above Lloyd's from any initialisation") {
    std::mt19937_64 rng(2024);
    int comparisons = 0, lloyd_worse = 0;
    double worst_gap = 0;
    const hone::kmeans_init inits[] = {hone::kmeans_init::kmeans_plus_plus,
                                       hone::kmeans_init::linear, hone::kmeans_init::density,
                                       hone::kmeans_init::random};
    for (int trial = 0; trial < 120; ++trial) {
        const std::size_t n = std::size_t(30) << (trial % 4); // 30 … 240
        const auto x = draw(trial, n + rng() % 200, rng);
        std::vector<float> w;
        if (trial % 3 == 0) {
            std::exponential_distribution<float> e(1.0f);
            for (std::size_t i = 0; i < x.size(); ++i)
                w.push_back(e(rng));
        }
        const int ks[] = {2, 3, 5, 8, 16, 32};
        const int k = ks[trial % 6];
        const auto opt = kmeans1d_optimal(x, w, k);
        const double one = [&] {
            // SSE of a single centroid (the weighted mean): the scale of the tolerance.
            double sw = 0, sx = 0;
            for (std::size_t i = 0; i < x.size(); ++i) {
                const double wi = w.empty() ? 1.0 : w[i];
                sw += wi;
                sx += wi * x[i];
            }
            const double m = sx / sw;
            return hone::kmeans1d_sse(x, w, std::vector<double>{m});
        }();
        CHECK(opt.sse == doctest::Approx(hone::kmeans1d_sse(x, w, opt.centroids)).epsilon(1e-12));
        for (const auto init : inits)
            for (std::uint64_t seed = 0; seed < 3; ++seed) {
                const auto l = kmeans1d_lloyd(x, w, k, {init, 300, 0.0, seed});
                ++comparisons;
                CHECK(opt.sse <= l.sse + 1e-12 * one);
                if (l.sse > opt.sse * (1 + 1e-9)) ++lloyd_worse;
                worst_gap = std::max(worst_gap, l.sse / std::max(opt.sse, 1e-300));
            }
    }
    MESSAGE("optimal vs lloyd comparisons: " << comparisons << ", lloyd strictly worse in "
                                             << lloyd_worse << ", worst lloyd/optimal "
                                             << worst_gap);
    CHECK(comparisons == 120 * 12);
    CHECK(lloyd_worse > 0); // the test can tell the two apart
}

TEST_CASE("integer importances equal replicating the values") {
    std::mt19937_64 rng(5);
    for (int trial = 0; trial < 30; ++trial) {
        const auto x = draw(trial, 60, rng);
        std::vector<float> w(x.size()), rep;
        for (std::size_t i = 0; i < x.size(); ++i) {
            w[i] = float(rng() % 4); // 0 … 3; zero importance drops a value
            for (int t = 0; t < int(w[i]); ++t)
                rep.push_back(x[i]);
        }
        if (rep.empty()) continue;
        const int k = 2 + trial % 7;
        const auto a = kmeans1d_optimal(x, w, k);
        const auto b = kmeans1d_optimal(rep, {}, k);
        REQUIRE(a.centroids.size() == b.centroids.size());
        CHECK(a.sse == doctest::Approx(b.sse).epsilon(1e-12));
        for (std::size_t j = 0; j < a.centroids.size(); ++j)
            CHECK(a.centroids[j] == doctest::Approx(b.centroids[j]).epsilon(1e-12));
    }
}

TEST_CASE("lloyd: initialisations, seeds, stopping") {
    std::vector<float> x;
    for (int c = 0; c < 3; ++c)
        for (int i = 0; i < 50; ++i)
            x.push_back(float(c * 10) + 0.01f * float(i));
    for (const auto init : {hone::kmeans_init::linear, hone::kmeans_init::density}) {
        const auto r = kmeans1d_lloyd(x, {}, 3, {init, 100, 0.0, 0});
        REQUIRE(r.centroids.size() == 3);
        CHECK(r.centroids[0] == doctest::Approx(0.245));
        CHECK(r.centroids[1] == doctest::Approx(10.245));
        CHECK(r.centroids[2] == doctest::Approx(20.245));
        CHECK(r.iterations >= 1);
    }
    std::mt19937_64 rng(1);
    const auto y = draw(0, 5000, rng);
    const auto a = kmeans1d_lloyd(y, {}, 16, {hone::kmeans_init::kmeans_plus_plus, 300, 0, 7});
    const auto b = kmeans1d_lloyd(y, {}, 16, {hone::kmeans_init::kmeans_plus_plus, 300, 0, 7});
    CHECK(a.centroids == b.centroids);
    CHECK(a.sse == b.sse);
    const auto r1 = kmeans1d_lloyd(y, {}, 16, {hone::kmeans_init::random, 1, 0, 3});
    CHECK(r1.iterations == 1);
    const auto loose = kmeans1d_lloyd(y, {}, 16, {hone::kmeans_init::random, 300, 1e-2, 3});
    const auto tight = kmeans1d_lloyd(y, {}, 16, {hone::kmeans_init::random, 300, 0, 3});
    CHECK(loose.iterations < tight.iterations);
    CHECK(tight.sse <= loose.sse);
    CHECK(r1.sse >= tight.sse);
    // Linear init is evenly spaced from min to max: one iteration on uniform-grid data keeps it.
    std::vector<float> grid;
    for (int i = 0; i <= 100; ++i)
        grid.push_back(float(i));
    const auto g = kmeans1d_lloyd(grid, {}, 2, {hone::kmeans_init::linear, 1, 0, 0});
    CHECK(g.centroids[0] == doctest::Approx(25.0));
    CHECK(g.centroids[1] == doctest::Approx(75.5));
}

TEST_CASE("optimal solver on a large input stays optimal and deterministic") {
    std::mt19937_64 rng(9);
    const auto x = draw(3, 200000, rng);
    const auto a = kmeans1d_optimal(x, {}, 16);
    const auto b = kmeans1d_optimal(x, {}, 16);
    CHECK(a.centroids == b.centroids);
    CHECK(std::is_sorted(a.centroids.begin(), a.centroids.end()));
    for (const auto init : {hone::kmeans_init::kmeans_plus_plus, hone::kmeans_init::density})
        CHECK(a.sse <= kmeans1d_lloyd(x, {}, 16, {init, 300, 0, 1}).sse * (1 + 1e-12));
    // Moving any single centroid a little never helps (a necessary optimality condition).
    for (std::size_t j = 0; j < a.centroids.size(); ++j)
        for (const double d : {-1e-3, 1e-3}) {
            auto c = a.centroids;
            c[j] += d;
            CHECK(hone::kmeans1d_sse(x, {}, c) >= a.sse);
        }
}

TEST_CASE("edge cases: few distinct values, bad k, bad values, bad importance") {
    const std::vector<float> three{1, 1, 2, 2, 3, 3};
    const auto r = kmeans1d_optimal(three, {}, 8);
    CHECK(r.centroids == std::vector<double>{1, 2, 3});
    CHECK(r.sse == 0);
    const auto l = kmeans1d_lloyd(three, {}, 8);
    CHECK(l.centroids == std::vector<double>{1, 2, 3});
    const auto exact = kmeans1d_optimal(three, {}, 3);
    CHECK(exact.centroids == std::vector<double>{1, 2, 3});
    // One distinct value.
    CHECK(kmeans1d_optimal(std::vector<float>{4, 4, 4}, {}, 2).centroids == std::vector<double>{4});
    // -0 and +0 are one value.
    CHECK(kmeans1d_optimal(std::vector<float>{-0.0f, 0.0f, 1.0f}, {}, 2).centroids ==
          std::vector<double>{0, 1});

    auto fails = [](auto&& fn, hone::status code, const char* needle) {
        try {
            fn();
            FAIL("no error");
        } catch (const hone::error& e) {
            CHECK(e.code() == code);
            CHECK_MESSAGE(std::string(e.what()).find(needle) != std::string::npos, e.what());
        }
    };
    const std::vector<float> v{1, 2, 3, 4};
    fails([&] { kmeans1d_optimal(v, {}, 1, "fc1"); }, hone::status::invalid_argument, "fc1: k = 1");
    fails([&] { kmeans1d_optimal(v, {}, 257, "fc1"); }, hone::status::invalid_argument, "257");
    fails([&] { kmeans1d_lloyd(v, {}, 0); }, hone::status::invalid_argument, "k = 0");
    fails([&] { kmeans1d_optimal(std::vector<float>{}, {}, 4, "w"); },
          hone::status::invalid_argument, "w is empty");
    fails(
        [&] {
            kmeans1d_optimal(std::vector<float>{1, NAN, 3}, {}, 2);
        },
        hone::status::invalid_argument, "value 1 is nan");
    fails(
        [&] {
            kmeans1d_lloyd(std::vector<float>{1, 2, INFINITY}, {}, 2);
        },
        hone::status::invalid_argument, "value 2 is inf");
    fails(
        [&] {
            kmeans1d_optimal(v, std::vector<float>{1, -1, 1, 1}, 2);
        },
        hone::status::invalid_argument, "importance 1");
    fails(
        [&] {
            kmeans1d_optimal(v, std::vector<float>{1, 1, NAN, 1}, 2);
        },
        hone::status::invalid_argument, "importance 2");
    fails(
        [&] {
            kmeans1d_optimal(v, std::vector<float>{0, 0, 0, 0}, 2);
        },
        hone::status::invalid_argument, "every importance is zero");
    fails(
        [&] {
            kmeans1d_optimal(v, std::vector<float>{1, 1}, 2);
        },
        hone::status::shape_mismatch, "importance has 2 entries");
    fails(
        [&] {
            kmeans1d_lloyd(v, {}, 2, {hone::kmeans_init::linear, 0, 0, 0});
        },
        hone::status::invalid_argument, "max_iterations");
    fails(
        [&] {
            kmeans1d_lloyd(v, {}, 2, {hone::kmeans_init::linear, 5, -1, 0});
        },
        hone::status::invalid_argument, "tolerance");
    fails(
        [&] {
            kmeans1d_lloyd(v, {}, 2, {hone::kmeans_init(9), 5, 0, 0});
        },
        hone::status::invalid_argument, "initialisation 9");
    // Zero importance drops a value: it cannot pull a centroid.
    const auto z = kmeans1d_optimal(std::vector<float>{0, 1, 100}, std::vector<float>{1, 1, 0}, 2);
    CHECK(z.centroids == std::vector<double>{0, 1});
}

TEST_CASE("the optimal solver gives identical bits for any thread count") {
    std::mt19937_64 rng(21);
    const auto x = draw(0, 300000, rng); // above the size where the layers run as tasks
    std::vector<hone::kmeans1d_result> r;
    for (const int threads : {1, 2, 4}) {
        hone::set_num_threads(threads);
        r.push_back(kmeans1d_optimal(x, {}, 12));
    }
    hone::set_num_threads(0);
    CHECK(r[0].centroids == r[1].centroids);
    CHECK(r[0].centroids == r[2].centroids);
    CHECK(r[0].sse == r[1].sse);
    CHECK(r[0].sse == r[2].sse);
}

TEST_CASE("the optimal solver refuses more than 4 GiB of back-pointers") {
    std::vector<float> x(5'000'000);
    for (std::size_t i = 0; i < x.size(); ++i)
        x[i] = float(i);
    try {
        kmeans1d_optimal(x, {}, 256, "big");
        FAIL("no error");
    } catch (const hone::error& e) {
        CHECK(e.code() == hone::status::out_of_memory);
        CHECK(std::string(e.what()).find("big: the optimal solver for 5000000 distinct values") !=
              std::string::npos);
    }
}

TEST_CASE("the radix-sorted unweighted path equals the weighted path with unit importance") {
    std::mt19937_64 rng(33);
    for (int dist = 0; dist < 6; ++dist) {
        auto x = draw(dist, 20000, rng); // ≥ 4096: the unweighted path radix-sorts
        x[10] = -0.0f;
        x[11] = 0.0f;
        x[12] = -1e-30f;
        x[13] = 1e-30f;
        const std::vector<float> ones(x.size(), 1.0f);
        const auto a = kmeans1d_optimal(x, {}, 7);
        const auto b = kmeans1d_optimal(x, ones, 7);
        CHECK(a.centroids == b.centroids);
        CHECK(a.sse == b.sse);
        const auto la = kmeans1d_lloyd(x, {}, 7, {hone::kmeans_init::density, 50, 0, 0});
        const auto lb = kmeans1d_lloyd(x, ones, 7, {hone::kmeans_init::density, 50, 0, 0});
        CHECK(la.centroids == lb.centroids);
    }
}

/// The optimal cost by a full-scan dynamic programme (every split of every row, O(k·n²), long
/// double) over the distinct values of x and their total importances (none: 1 each).
long double full_scan_optimum(const std::vector<float>& x, const std::vector<float>& w, int k) {
    std::vector<std::pair<double, long double>> s;
    for (std::size_t i = 0; i < x.size(); ++i)
        if (w.empty() || w[i] > 0) s.emplace_back(x[i] == 0 ? 0.0 : x[i], w.empty() ? 1 : w[i]);
    std::sort(s.begin(), s.end());
    std::vector<std::pair<double, long double>> d;
    for (const auto& [v, wt] : s)
        if (!d.empty() && d.back().first == v)
            d.back().second += wt;
        else
            d.emplace_back(v, wt);
    const std::size_t n = d.size();
    std::vector<long double> pw(n + 1, 0), p1(n + 1, 0), p2(n + 1, 0);
    for (std::size_t i = 0; i < n; ++i) {
        pw[i + 1] = pw[i] + d[i].second;
        p1[i + 1] = p1[i] + d[i].second * d[i].first;
        p2[i + 1] = p2[i] + d[i].second * d[i].first * d[i].first;
    }
    const auto cost = [&](std::size_t i, std::size_t j) { // values i … j−1
        const long double c = pw[j] - pw[i], a = p1[j] - p1[i];
        return std::max<long double>(0, (p2[j] - p2[i]) - a * a / c);
    };
    const long double inf = std::numeric_limits<long double>::infinity();
    std::vector<long double> prev(n + 1, inf), cur(n + 1, inf);
    for (std::size_t j = 1; j <= n; ++j)
        prev[j] = cost(0, j);
    for (int m = 2; m <= k; ++m) {
        std::fill(cur.begin(), cur.end(), inf);
        for (std::size_t j = std::size_t(m); j <= n; ++j)
            for (std::size_t i = std::size_t(m - 1); i < j; ++i)
                cur[j] = std::min(cur[j], prev[i] + cost(i, j));
        std::swap(prev, cur);
    }
    return prev[n];
}

TEST_CASE("the level-order layers equal a full-scan dynamic programme across block boundaries") {
    // 4500 values: more rows than one 4096-row block, so the subtree and block paths of
    // the layer solver run; the reference scans every split of every row (O(k·n²), long double).
    std::mt19937_64 rng(33);
    for (const int dist : {0, 4}) {
        auto x = draw(dist, 4500, rng);
        std::vector<double> s(x.begin(), x.end());
        std::sort(s.begin(), s.end());
        s.erase(std::unique(s.begin(), s.end()), s.end());
        const std::size_t n = s.size();
        std::vector<float> xs(s.begin(), s.end());
        const long double reference = full_scan_optimum(xs, {}, 7);
        const auto r = kmeans1d_optimal(xs, {}, 7);
        CHECK(double(reference) == doctest::Approx(r.sse).epsilon(1e-12));
        CHECK(n > 4096);
        CHECK(r.sse <= double(reference) * (1 + 1e-12));
    }
}

TEST_CASE("every solver path equals the full-scan optimum: weights, repeats, odd and small k") {
    // The solver runs the first ⌈k/2⌉ clusters over prefixes and the rest over the mirrored
    // values, pruned by an upper bound; unit weights (distinct values, or integer importances
    // and few repeats: the values repeated) take a reciprocal table, other weights divide.
    std::mt19937_64 rng(77);
    struct scenario {
        int dist;
        std::size_t n;
        int k;
        int weights; // 0: none, 1: real importances, 2: integer importances (1, one in 16 is 2)
        bool repeats;
    };
    const scenario cases[] = {{0, 4600, 6, 1, false}, {4, 4600, 5, 0, true},
                              {2, 4300, 9, 2, false}, {1, 1500, 2, 0, false},
                              {3, 1500, 3, 1, false}, {0, 1500, 4, 0, true}};
    for (const auto& c : cases) {
        CAPTURE(c.dist);
        CAPTURE(c.k);
        auto x = draw(c.dist, c.n, rng);
        if (c.repeats) // about one value in 20 repeated: still the unit-weight path
            for (std::size_t i = 0; i + 1 < x.size(); i += 20)
                x[i + 1] = x[i];
        std::vector<float> w;
        for (std::size_t i = 0; c.weights && i < x.size(); ++i)
            w.push_back(c.weights == 1 ? float(0.05 + double(rng() % 1000) / 300.0)
                                       : float(1 + (rng() % 16 == 0)));
        const auto r = kmeans1d_optimal(x, w, c.k);
        const long double best = full_scan_optimum(x, w, c.k);
        CHECK(r.centroids.size() == std::size_t(c.k));
        CHECK(r.sse == doctest::Approx(double(best)).epsilon(1e-12));
        CHECK(r.sse <= double(best) * (1 + 1e-12));
    }
}
