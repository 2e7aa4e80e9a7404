// Row and column norms: every tier against a long-double reference.
#include "hone/kernels/norms.hpp"
#include "isa_tiers.hpp"

#include <cmath>
#include <limits>
#include <random>
#include <vector>

using hone::kernels::norm;

namespace {

double exact(const std::vector<float>& m, std::int64_t rows, std::int64_t cols, std::int64_t i,
             bool by_row, norm kind) {
    long double acc = 0;
    const std::int64_t len = by_row ? cols : rows;
    for (std::int64_t t = 0; t < len; ++t) {
        const long double v = by_row ? m[std::size_t(i * cols + t)] : m[std::size_t(t * cols + i)];
        acc += kind == norm::l1 ? std::fabs(v) : v * v;
    }
    return double(kind == norm::l2 ? std::sqrt(acc) : acc);
}

} // namespace

TEST_CASE("row and column norms on every tier, edge shapes") {
    hone::test::for_each_tier([](hone::isa) {
        for (auto shape : std::vector<std::pair<std::int64_t, std::int64_t>>{
                 {0, 5}, {5, 0}, {1, 1}, {3, 7}, {2, 8}, {5, 17}, {7, 33}, {4, 1025}, {300, 3}}) {
            const std::int64_t rows = shape.first, cols = shape.second; // captured below
            std::vector<float> m(std::size_t(rows * cols));
            std::mt19937 rng(unsigned(rows * 131 + cols));
            std::normal_distribution<float> normal;
            for (auto& x : m)
                x = normal(rng) * 10.0f;
            for (norm kind : {norm::sum_squares, norm::l2, norm::l1}) {
                CAPTURE(rows);
                CAPTURE(cols);
                CAPTURE(int(kind));
                std::vector<float> r(static_cast<std::size_t>(rows)),
                    c(static_cast<std::size_t>(cols));
                hone::kernels::row_norms(m, rows, cols, kind, r);
                hone::kernels::col_norms(m, rows, cols, kind, c);
                for (std::int64_t i = 0; i < rows; ++i)
                    REQUIRE(r[std::size_t(i)] ==
                            doctest::Approx(exact(m, rows, cols, i, true, kind)).epsilon(2.5e-7));
                for (std::int64_t j = 0; j < cols; ++j)
                    REQUIRE(c[std::size_t(j)] ==
                            doctest::Approx(exact(m, rows, cols, j, false, kind)).epsilon(2.5e-7));
            }
        }
    });
}

TEST_CASE("column sums are bit-identical across tiers; accumulation adds up") {
    const std::int64_t rows = 37, cols = 45;
    std::vector<float> m(std::size_t(rows * cols));
    std::mt19937 rng(4);
    std::uniform_real_distribution<float> u(-3, 3);
    for (auto& x : m)
        x = u(rng);
    hone::set_max_isa(hone::isa::scalar);
    std::vector<double> ref(std::size_t(cols), 1.0);
    hone::kernels::accumulate_col_sum_squares(m, rows, cols, ref);
    hone::set_max_isa(hone::isa::avx512);
    hone::test::for_each_tier([&](hone::isa) {
        std::vector<double> acc(std::size_t(cols), 1.0);
        hone::kernels::accumulate_col_sum_squares(m, rows, cols, acc);
        CHECK(acc == ref);
        hone::kernels::accumulate_col_sum_squares(m, rows, cols, acc);
        for (std::size_t j = 0; j < acc.size(); ++j)
            CHECK(acc[j] == doctest::Approx(2 * ref[j] - 1).epsilon(1e-14));
    });
}

TEST_CASE("norms: special values propagate; errors") {
    const float inf = std::numeric_limits<float>::infinity();
    std::vector<float> m = {1, -0.0f, inf, 2, std::nanf(""), 3, 1e-45f, 0, 4};
    hone::test::for_each_tier([&](hone::isa) {
        std::vector<float> r(3), c(3);
        hone::kernels::row_norms(m, 3, 3, norm::sum_squares, r);
        CHECK(std::isinf(r[0]));
        CHECK(std::isnan(r[1]));
        CHECK(r[2] == 16.0f);
        hone::kernels::col_norms(m, 3, 3, norm::l1, c);
        CHECK(c[0] == 3.0f);
        CHECK(std::isnan(c[1]));
        CHECK(std::isinf(c[2]));
        std::vector<float> big = {2e38f, 2e38f};
        std::vector<float> one(1);
        hone::kernels::row_norms(big, 1, 2, norm::l2, one);
        CHECK(one[0] == doctest::Approx(2.8284e38).epsilon(1e-4)); // no overflow inside
    });
    std::vector<float> r(2);
    CHECK_THROWS_AS(hone::kernels::row_norms(m, 3, 3, norm::l2, r), hone::error);
    CHECK_THROWS_AS(hone::kernels::row_norms(m, 2, 3, norm::l2, r), hone::error);
    CHECK_THROWS_AS(hone::kernels::row_norms(m, 3, 3, norm(7), std::span<float>(m).first(3)),
                    hone::error);
    hone::tensor t(hone::dtype::f32, {2, 3});
    hone::tensor out(hone::dtype::f32, {3});
    t.span<float>()[4] = 2.0f;
    hone::kernels::col_norms(t, norm::l2, out);
    CHECK(out.span<float>()[1] == 2.0f);
    CHECK_THROWS_AS(hone::kernels::row_norms(t, norm::l2, out), hone::error);
}
