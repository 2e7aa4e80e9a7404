// Row minima of the k-means dynamic programme: every tier bit for bit (value and column) against
// an entry-by-entry reference written here, unit and weighted, on rows of every length around the
// vector widths, with ties (±0 among them), NaN and inf entries and NaN padding; the stop after
// the first row above the bound; whole kmeans1d_optimal runs byte-identical on every tier; errors.
#include "hone/cluster/kmeans1d.hpp"
#include "hone/core/error.hpp"
#include "hone/kernels/kmeans_dp.hpp"
#include "isa_tiers.hpp"

#include <algorithm>
#include <bit>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <random>
#include <vector>

namespace hk = hone::kernels;

namespace {

constexpr std::int64_t pad = hk::kmeans_dp_padding;
const double qnan = std::numeric_limits<double>::quiet_NaN();
const double inf = std::numeric_limits<double>::infinity();

/// A layer over n values: arrays with their padding filled with NaN (never to be chosen).
struct layer {
    std::int64_t n;
    bool unit;
    std::vector<double> p1, p2, pw, r, rv;

    layer(std::int64_t n_, bool unit_, unsigned seed) : n(n_), unit(unit_) {
        std::mt19937_64 rng(seed);
        std::normal_distribution<double> normal;
        std::uniform_real_distribution<double> weight(0.1, 3.0);
        p1.assign(std::size_t(n + 1 + pad), qnan);
        p2 = p1;
        r.assign(std::size_t(n + pad), qnan);
        p1[0] = p2[0] = 0;
        if (!unit) {
            pw = p1;
            pw[0] = 0;
        }
        for (std::int64_t u = 0; u < n; ++u) {
            const double y = normal(rng), w = unit ? 1.0 : weight(rng);
            p1[std::size_t(u + 1)] = p1[std::size_t(u)] + w * y;
            p2[std::size_t(u + 1)] = p2[std::size_t(u)] + w * y * y;
            if (!unit) pw[std::size_t(u + 1)] = pw[std::size_t(u)] + w;
            r[std::size_t(u)] = std::fabs(normal(rng)) * double(u) - p2[std::size_t(u)];
        }
        if (unit) {
            rv.assign(std::size_t(n + pad), qnan);
            for (std::int64_t u = 0; u < n; ++u)
                rv[std::size_t(u)] = 1.0 / double(n - u);
        }
    }
    hk::kmeans_dp_columns columns() const { return {p1, p2, pw, r, rv, n}; }

    /// The documented entry, each operation on its own (volatile: nothing fused).
    double entry(std::int64_t j, std::int64_t i) const {
        volatile double s = p1[std::size_t(j + 1)] - p1[std::size_t(i)];
        volatile double base = r[std::size_t(i)] + p2[std::size_t(j + 1)];
        volatile double sq = s * s;
        volatile double t = unit ? sq * rv[std::size_t(n - 1 - j + i)]
                                 : sq / (pw[std::size_t(j + 1)] - pw[std::size_t(i)]);
        return base - t;
    }
    /// Leftmost minimum of row j over a … b: (value, column).
    std::pair<double, std::int64_t> row_min(std::int64_t j, std::int64_t a, std::int64_t b) const {
        double best = inf;
        std::int64_t arg = a;
        for (std::int64_t i = a; i <= b; ++i) {
            const double v = entry(j, i);
            if (v < best) {
                best = v;
                arg = i;
            }
        }
        return {best, arg};
    }
};

std::uint64_t bits(double x) { return std::bit_cast<std::uint64_t>(x); }

/// Runs rows through the kernel and checks every result bit for bit against the reference.
void check_rows(const layer& l, const std::vector<hk::kmeans_dp_row>& rows) {
    std::vector<double> cost(std::size_t(l.n), -1.0);
    std::vector<std::uint32_t> arg(std::size_t(l.n), 0xffffffffu);
    REQUIRE(hk::kmeans_dp_row_minima(l.columns(), rows, inf, cost, arg) ==
            std::int64_t(rows.size()));
    for (const auto& row : rows) {
        const auto [v, i] = l.row_min(row.j, row.first, row.last);
        CAPTURE(row.j);
        CAPTURE(row.first);
        CAPTURE(row.last);
        REQUIRE(bits(cost[std::size_t(row.j)]) == bits(v));
        REQUIRE(arg[std::size_t(row.j)] == std::uint32_t(i));
    }
}

} // namespace

TEST_CASE("kmeans_dp: every tier bit for bit, unit and weighted, rows of every length") {
    hone::test::for_each_tier([](hone::isa) {
        for (bool unit : {true, false})
            for (std::int64_t n : {1, 2, 3, 5, 8, 9, 16, 17, 40, 301}) {
                const layer l(n, unit, unsigned(n * 2 + unit));
                // Every (first, last) of some rows j, one row per call and the lot in one call.
                std::vector<hk::kmeans_dp_row> all;
                for (std::int64_t j = 0; j < n; j += std::max<std::int64_t>(1, n / 9)) {
                    std::vector<hk::kmeans_dp_row> rows;
                    for (std::int64_t a = 0; a <= j; ++a)
                        for (std::int64_t b = a; b <= j; ++b)
                            if (b - a <= 40 || b == j) rows.push_back({j, a, b});
                    for (const auto& row : rows)
                        check_rows(l, {row});
                    all.push_back(rows.back());
                }
                check_rows(l, all);
            }
    });
}

TEST_CASE("kmeans_dp: ties go to the leftmost column with its own zero; NaN and inf entries") {
    hone::test::for_each_tier([](hone::isa) {
        for (bool unit : {true, false})
            for (std::int64_t n : {3, 4, 7, 8, 9, 15, 16, 17, 33}) {
                layer l(n, unit, 7);
                // s = 0 everywhere (p1 constant) and q2 = −0: entries are r[i] + (−0) − (+0), so
                // r[i] = ±0 gives ±0 entries, r[i] = 1 gives 1; a NaN or +inf r is never chosen.
                std::mt19937 rng{static_cast<unsigned>(n)};
                for (int trial = 0; trial < 40; ++trial) {
                    std::fill(l.p1.begin(), l.p1.begin() + n + 1, 2.0);
                    std::fill(l.p2.begin(), l.p2.begin() + n + 1, -0.0);
                    for (std::int64_t i = 0; i < n; ++i) {
                        const double choices[] = {0.0, -0.0, 1.0, qnan, inf, -inf};
                        l.r[std::size_t(i)] = choices[rng() % (trial < 20 ? 3 : 6)];
                    }
                    std::vector<hk::kmeans_dp_row> rows;
                    for (std::int64_t a = 0; a < n; ++a)
                        rows.push_back({n - 1, a, n - 1});
                    for (const auto& row : rows)
                        check_rows(l, {row});
                }
                // All NaN: +inf at the first column.
                std::fill(l.r.begin(), l.r.begin() + n, qnan);
                std::vector<double> cost(static_cast<std::size_t>(n));
                std::vector<std::uint32_t> arg(static_cast<std::size_t>(n));
                const hk::kmeans_dp_row row{n - 1, 1, n - 1};
                hk::kmeans_dp_row_minima(l.columns(), std::span<const hk::kmeans_dp_row>(&row, 1),
                                         inf, cost, arg);
                CHECK(cost[std::size_t(n - 1)] == inf);
                CHECK(arg[std::size_t(n - 1)] == 1u);
            }
    });
}

TEST_CASE("kmeans_dp: stops after the first row above the bound") {
    hone::test::for_each_tier([](hone::isa) {
        const layer l(50, true, 3);
        std::vector<hk::kmeans_dp_row> rows;
        for (std::int64_t j = 10; j < 50; j += 5)
            rows.push_back({j, 0, j});
        std::vector<double> mins;
        for (const auto& row : rows)
            mins.push_back(l.row_min(row.j, row.first, row.last).first);
        // A bound just below the largest of the first four minima: the row holding it stops.
        const auto top = std::max_element(mins.begin(), mins.begin() + 4);
        const std::size_t stop = std::size_t(
            std::find_if(mins.begin(), mins.end(), [&](double v) { return v >= *top; }) -
            mins.begin());
        const double ub = std::nextafter(*top, -inf);
        std::vector<double> cost(50, -7.0);
        std::vector<std::uint32_t> arg(50, 0);
        CHECK(hk::kmeans_dp_row_minima(l.columns(), rows, ub, cost, arg) == std::int64_t(stop + 1));
        CHECK(bits(cost[std::size_t(rows[stop].j)]) == bits(mins[stop])); // the row above: written
        CHECK(cost[std::size_t(rows[stop + 1].j)] == -7.0);               // the next: not
        CHECK(hk::kmeans_dp_row_minima(l.columns(), rows, inf, cost, arg) ==
              std::int64_t(rows.size()));
        CHECK(hk::kmeans_dp_row_minima(l.columns(), {}, inf, cost, arg) == 0);
    });
}

TEST_CASE("kmeans1d_optimal gives the same bytes on every tier") {
    std::vector<float> values(20000), importance(values.size());
    std::mt19937 rng(5);
    std::normal_distribution<float> normal;
    std::uniform_real_distribution<float> u(0.1f, 2.0f);
    for (std::size_t i = 0; i < values.size(); ++i) {
        values[i] = normal(rng);
        importance[i] = u(rng);
    }
    auto run = [&](bool weighted, int k) {
        const auto r = hone::kmeans1d_optimal(
            values, weighted ? std::span<const float>(importance) : std::span<const float>(), k);
        std::vector<double> out = r.centroids;
        out.push_back(r.sse);
        return out;
    };
    hone::set_max_isa(hone::isa::scalar);
    const std::vector<double> reference[3] = {run(false, 16), run(true, 16), run(false, 5)};
    hone::set_max_isa(hone::isa::avx512);
    hone::test::for_each_tier([&](hone::isa) {
        const std::vector<double> now[3] = {run(false, 16), run(true, 16), run(false, 5)};
        for (int i = 0; i < 3; ++i) {
            CAPTURE(i);
            REQUIRE(now[i].size() == reference[i].size());
            CHECK(std::memcmp(now[i].data(), reference[i].data(), now[i].size() * 8) == 0);
        }
    });
}

TEST_CASE("kmeans_dp: argument errors name the problem") {
    const layer l(10, true, 1);
    std::vector<double> cost(10);
    std::vector<std::uint32_t> arg(10);
    auto code = [&](hk::kmeans_dp_columns c, hk::kmeans_dp_row row) {
        try {
            hk::kmeans_dp_row_minima(c, std::span<const hk::kmeans_dp_row>(&row, 1), inf, cost,
                                     arg);
        } catch (const hone::error& e) {
            return e.code();
        }
        return hone::status::ok;
    };
    using hone::status;
    CHECK(code(l.columns(), {9, 0, 9}) == status::ok);
    CHECK(code(l.columns(), {9, 3, 2}) == status::out_of_range);  // first > last
    CHECK(code(l.columns(), {5, 0, 6}) == status::out_of_range);  // last > j
    CHECK(code(l.columns(), {10, 0, 9}) == status::out_of_range); // j ≥ n
    CHECK(code(l.columns(), {3, -1, 2}) == status::out_of_range);
    auto c = l.columns();
    c.r = c.r.first(std::size_t(10 + pad - 1)); // the padding is short
    CHECK(code(c, {9, 0, 9}) == status::out_of_range);
    c = l.columns();
    c.pw = c.p1; // both pw and rv
    CHECK(code(c, {9, 0, 9}) == status::invalid_argument);
    c = l.columns();
    c.n = 0;
    CHECK(code(c, {0, 0, 0}) == status::invalid_argument);
    try {
        const hk::kmeans_dp_row row{5, 0, 6};
        hk::kmeans_dp_row_minima(l.columns(), std::span<const hk::kmeans_dp_row>(&row, 1), inf,
                                 cost, arg);
    } catch (const hone::error& e) {
        CHECK(std::string(e.what()).find("row 0 (j = 5, columns 0 … 6)") != std::string::npos);
    }
}
