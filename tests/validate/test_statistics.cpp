#include "hone/core/error.hpp"
#include "hone/validate/statistics.hpp"

#include <cmath>
#include <doctest/doctest.h>
#include <random>
#include <vector>

using doctest::Approx;

TEST_CASE("normal quantiles") {
    CHECK(hone::normal_two_sided_z(0.95) == Approx(1.959963984540054).epsilon(1e-13));
    CHECK(hone::normal_two_sided_z(0.99) == Approx(2.5758293035489004).epsilon(1e-13));
    CHECK(hone::normal_two_sided_z(0.6826894921370859) == Approx(1.0).epsilon(1e-12));
    CHECK(hone::normal_two_sided_z(1 - 2e-12) ==
          Approx(7.034483825).epsilon(1e-6)); // Φ⁻¹(1 − 1e−12)
    CHECK_THROWS_AS(hone::normal_two_sided_z(1.0), hone::error);
    CHECK_THROWS_AS(hone::normal_two_sided_z(0.0), hone::error);
}

TEST_CASE("Wilson intervals match Newcombe (1998), Table I") {
    auto check = [](std::uint64_t x, std::uint64_t n, double lo, double hi) {
        const auto i = hone::wilson_interval(x, n);
        CHECK(std::abs(i.low - lo) < 5e-5);
        CHECK(std::abs(i.high - hi) < 5e-5);
    };
    check(81, 263, 0.2553, 0.3662);
    check(15, 148, 0.0624, 0.1605);
    check(0, 20, 0.0, 0.1611);
    check(1, 29, 0.0061, 0.1718);
    const auto empty = hone::wilson_interval(0, 0);
    CHECK(empty.low == 0.0);
    CHECK(empty.high == 1.0);
    CHECK_THROWS_AS(hone::wilson_interval(3, 2), hone::error);
}

TEST_CASE("McNemar exact p-values (exact rational references)") {
    CHECK(hone::mcnemar_exact_p(10, 2) == Approx(0.03857421875).epsilon(1e-12));
    CHECK(hone::mcnemar_exact_p(2, 10) == Approx(0.03857421875).epsilon(1e-12));
    CHECK(hone::mcnemar_exact_p(600, 500) == Approx(0.0028195449914364275).epsilon(1e-9));
    CHECK(hone::mcnemar_exact_p(37, 61) == Approx(0.019690184799846844).epsilon(1e-10));
    CHECK(hone::mcnemar_exact_p(3, 0) == Approx(0.25));
    CHECK(hone::mcnemar_exact_p(0, 0) == 1.0);
    CHECK(hone::mcnemar_exact_p(5, 5) == 1.0);
}

TEST_CASE("paired difference interval (Newcombe method 10): properties") {
    const hone::paired_counts t{9000, 60, 25, 915}; // 60 regressions, 25 improvements
    const auto i = hone::paired_difference_interval(t);
    const double theta = (25.0 - 60.0) / 10000.0;
    CHECK(i.low < theta);
    CHECK(i.high > theta);
    CHECK(i.high < 0.0); // 60 vs 25 discordant pairs: a real drop
    // mirror symmetry: swapping the roles negates the interval
    const auto m = hone::paired_difference_interval({9000, 25, 60, 915});
    CHECK(m.low == Approx(-i.high).epsilon(1e-12));
    CHECK(m.high == Approx(-i.low).epsilon(1e-12));
    // ten times the data: about √10 narrower
    const auto big = hone::paired_difference_interval({90000, 600, 250, 9150});
    CHECK((i.high - i.low) / (big.high - big.low) == Approx(std::sqrt(10.0)).epsilon(0.05));
    // no disagreements: the interval holds 0 and is narrow
    const auto same = hone::paired_difference_interval({9000, 0, 0, 1000});
    CHECK(same.low <= 0.0);
    CHECK(same.high >= 0.0);
    CHECK(same.high - same.low < 0.002);
    // balanced disagreements: centred near 0 and includes it
    const auto balanced = hone::paired_difference_interval({9000, 40, 40, 920});
    CHECK(balanced.low < 0.0);
    CHECK(balanced.high > 0.0);
    CHECK(balanced.low == Approx(-balanced.high).epsilon(1e-9));
    const auto none = hone::paired_difference_interval({});
    CHECK(none.low == -1.0);
    CHECK(none.high == 1.0);
}

TEST_CASE("paired difference interval: coverage near the nominal 95% by simulation") {
    // Baseline right with p = 0.9; the candidate flips 2% of right answers to wrong and 1% of
    // wrong ones to right: true difference = 0.1·0.01 − 0.9·0.02 = −0.017.
    std::mt19937 rng(5);
    std::bernoulli_distribution base(0.9), lose(0.02), gain(0.01);
    const double truth = 0.1 * 0.01 - 0.9 * 0.02;
    int covered = 0;
    const int trials = 400;
    for (int t = 0; t < trials; ++t) {
        hone::paired_counts c;
        for (int i = 0; i < 2000; ++i) {
            const bool b = base(rng);
            const bool k = b ? !lose(rng) : gain(rng);
            (b && k ? c.both_correct
             : b    ? c.only_baseline_correct
             : k    ? c.only_candidate_correct
                    : c.both_wrong)++;
        }
        const auto i = hone::paired_difference_interval(c);
        covered += i.low <= truth && truth <= i.high;
    }
    CHECK(covered >= int(0.92 * trials));
    CHECK(covered <= int(0.985 * trials));
}

TEST_CASE("median and its distribution-free interval") {
    const std::vector<double> odd{5, 1, 4, 2, 3};
    CHECK(hone::median(odd) == 3);
    const std::vector<double> even{4, 1, 3, 2};
    CHECK(hone::median(even) == 2.5);
    // n = 20 at 95%: P(Bin(20, ½) ≤ 5) = 0.0207 ≤ 0.025 < P(≤ 6) = 0.0577, so [x₍₆₎, x₍₁₅₎].
    std::vector<double> twenty;
    for (int i = 20; i >= 1; --i)
        twenty.push_back(i);
    const auto ci = hone::median_interval(twenty, 0.95);
    CHECK(ci.low == 6);
    CHECK(ci.high == 15);
    // Too few samples for 95% (P(Bin(5, ½) = 0) = 0.031 > 0.025): the whole range.
    const auto wide = hone::median_interval(odd, 0.95);
    CHECK(wide.low == 1);
    CHECK(wide.high == 5);
    // Coverage by simulation: the interval holds the true median (0 for a normal) ≥ 95%.
    std::mt19937_64 rng(7);
    std::normal_distribution<double> normal;
    int covered = 0;
    for (int trial = 0; trial < 2000; ++trial) {
        std::vector<double> sample(30);
        for (auto& v : sample)
            v = normal(rng);
        const auto i = hone::median_interval(sample, 0.95);
        covered += i.low <= 0 && 0 <= i.high;
    }
    CHECK(covered >= 1880); // nominal ≥ 95.7% for n = 30; 94% leaves room for sampling noise
    const std::vector<double> empty, with_nan{1, std::nan("")};
    CHECK_THROWS_AS(hone::median(empty), hone::error);
    CHECK_THROWS_AS(hone::median_interval(with_nan), hone::error);
    CHECK_THROWS_AS(hone::median_interval(odd, 1.0), hone::error);
}

TEST_CASE("population stability index") {
    const double e[] = {0.5, 0.5}, a[] = {0.25, 0.75};
    CHECK(hone::population_stability_index(e, a) ==
          Approx(-0.25 * std::log(0.5) + 0.25 * std::log(1.5)).epsilon(1e-12));
    const double three[] = {0.2, 0.3, 0.5};
    CHECK_THROWS_AS(hone::population_stability_index(e, three), hone::error);
    std::mt19937 rng(1);
    std::normal_distribution<float> n01(0, 1), shifted(1.0f, 1);
    std::vector<float> x(20000), y(20000), z(20000);
    for (auto& v : x)
        v = n01(rng);
    for (auto& v : y)
        v = n01(rng);
    for (auto& v : z)
        v = shifted(rng);
    CHECK(hone::population_stability_index(x, y) < 0.01);
    CHECK(hone::population_stability_index(x, z) > 0.25);
    std::vector<float> constant(100, 1.0f); // all ties: a single bin, PSI 0 against itself
    CHECK(hone::population_stability_index(constant, constant) == Approx(0.0));
    std::vector<float> with_nan = {1.0f, NAN};
    CHECK_THROWS_AS(hone::population_stability_index(x, with_nan), hone::error);
    CHECK_THROWS_AS(hone::population_stability_index(x, std::vector<float>{}), hone::error);
}
