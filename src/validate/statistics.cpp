#include "hone/validate/statistics.hpp"

#include "hone/core/error.hpp"

#include <algorithm>
#include <cmath>
#include <fmt/format.h>
#include <vector>

namespace hone {

namespace {

// Inverse of the standard normal CDF: Wichura's AS 241 (PPND16), accurate to about 1e-16.
double normal_quantile(double p) {
    const double q = p - 0.5;
    if (std::abs(q) <= 0.425) {
        const double r = 0.180625 - q * q;
        return q *
               (((((((2509.0809287301226727 * r + 33430.575583588128105) * r +
                     67265.770927008700853) *
                        r +
                    45921.953931549871457) *
                       r +
                   13731.693765509461125) *
                      r +
                  1971.5909503065514427) *
                     r +
                 133.14166789178437745) *
                    r +
                3.387132872796366608) /
               (((((((5226.495278852545925 * r + 28729.085735721942674) * r +
                     39307.89580009271061) *
                        r +
                    21213.794301586595867) *
                       r +
                   5394.1960214247511077) *
                      r +
                  687.1870074920579083) *
                     r +
                 42.313330701600911252) *
                    r +
                1.0);
    }
    double r = q < 0 ? p : 1.0 - p;
    r = std::sqrt(-std::log(r));
    double value;
    if (r <= 5.0) {
        r -= 1.6;
        value = (((((((7.7454501427834140764e-4 * r + 0.0227238449892691845833) * r +
                      0.24178072517745061177) *
                         r +
                     1.27045825245236838258) *
                        r +
                    3.64784832476320460504) *
                       r +
                   5.7694972214606914055) *
                      r +
                  4.6303378461565452959) *
                     r +
                 1.42343711074968357734) /
                (((((((1.05075007164441684324e-9 * r + 5.475938084995344946e-4) * r +
                      0.0151986665636164571966) *
                         r +
                     0.14810397642748007459) *
                        r +
                    0.68976733498510000455) *
                       r +
                   1.6763848301838038494) *
                      r +
                  2.05319162663775882187) *
                     r +
                 1.0);
    } else {
        r -= 5.0;
        value = (((((((2.01033439929228813265e-7 * r + 2.71155556874348757815e-5) * r +
                      0.0012426609473880784386) *
                         r +
                     0.026532189526576123093) *
                        r +
                    0.29656057182850489123) *
                       r +
                   1.7848265399172913358) *
                      r +
                  5.4637849111641143699) *
                     r +
                 6.6579046435011037772) /
                (((((((2.04426310338993978564e-15 * r + 1.4215117583164458887e-7) * r +
                      1.8463183175100546818e-5) *
                         r +
                     7.868691311456132591e-4) *
                        r +
                    0.0148753612908506148525) *
                       r +
                   0.13692988092273580531) *
                      r +
                  0.59983220655588793769) *
                     r +
                 1.0);
    }
    return q < 0 ? -value : value;
}

} // namespace

double normal_two_sided_z(double confidence) {
    if (!(confidence > 0 && confidence < 1))
        fail(status::invalid_argument,
             fmt::format("confidence must be in (0, 1), got {}", confidence));
    return normal_quantile(0.5 + confidence / 2);
}

interval wilson_interval(std::uint64_t successes, std::uint64_t n, double confidence) {
    if (successes > n)
        fail(status::invalid_argument,
             fmt::format("wilson_interval: {} successes out of {} trials", successes, n));
    const double z = normal_two_sided_z(confidence);
    if (n == 0) return {0.0, 1.0};
    const double nn = static_cast<double>(n);
    const double p = static_cast<double>(successes) / nn;
    const double z2 = z * z;
    const double centre = (p + z2 / (2 * nn)) / (1 + z2 / nn);
    const double half = z * std::sqrt(p * (1 - p) / nn + z2 / (4 * nn * nn)) / (1 + z2 / nn);
    return {std::max(0.0, centre - half), std::min(1.0, centre + half)};
}

interval paired_difference_interval(const paired_counts& t, double confidence) {
    const std::uint64_t n = t.total();
    if (n == 0) {
        normal_two_sided_z(confidence); // still validate the argument
        return {-1.0, 1.0};
    }
    const double a = double(t.both_correct), b = double(t.only_candidate_correct),
                 c = double(t.only_baseline_correct), d = double(t.both_wrong);
    // p1: candidate accuracy, p2: baseline accuracy; θ = p1 − p2.
    const double nn = double(n);
    const double p1 = (a + b) / nn, p2 = (a + c) / nn;
    const interval w1 = wilson_interval(t.both_correct + t.only_candidate_correct, n, confidence);
    const interval w2 = wilson_interval(t.both_correct + t.only_baseline_correct, n, confidence);
    const double denominator = (a + b) * (c + d) * (a + c) * (b + d);
    const double phi = denominator > 0 ? (a * d - b * c) / std::sqrt(denominator) : 0.0;
    const double dl1 = p1 - w1.low, du1 = w1.high - p1;
    const double dl2 = p2 - w2.low, du2 = w2.high - p2;
    const double delta = std::sqrt(std::max(0.0, dl1 * dl1 - 2 * phi * dl1 * du2 + du2 * du2));
    const double epsilon = std::sqrt(std::max(0.0, du1 * du1 - 2 * phi * du1 * dl2 + dl2 * dl2));
    const double theta = p1 - p2;
    return {std::max(-1.0, theta - delta), std::min(1.0, theta + epsilon)};
}

double mcnemar_exact_p(std::uint64_t b, std::uint64_t c) {
    const std::uint64_t n = b + c;
    if (n == 0) return 1.0;
    const std::uint64_t k = std::min(b, c);
    // P(X ≤ k) for X ~ Binomial(n, ½), summed in log space so large n cannot overflow.
    double tail = 0.0;
    const double log_half_n = -double(n) * std::log(2.0);
    for (std::uint64_t i = 0; i <= k; ++i)
        tail += std::exp(std::lgamma(double(n) + 1) - std::lgamma(double(i) + 1) -
                         std::lgamma(double(n - i) + 1) + log_half_n);
    return std::min(1.0, 2.0 * tail);
}

namespace {
std::vector<double> sorted_sample(std::span<const double> values, const char* what) {
    if (values.empty()) fail(status::invalid_argument, fmt::format("{}: empty sample", what));
    if (std::any_of(values.begin(), values.end(), [](double v) { return std::isnan(v); }))
        fail(status::invalid_argument, fmt::format("{}: the sample contains NaN", what));
    std::vector<double> sorted(values.begin(), values.end());
    std::sort(sorted.begin(), sorted.end());
    return sorted;
}
} // namespace

double median(std::span<const double> values) {
    const auto s = sorted_sample(values, "median");
    const std::size_t n = s.size();
    return n % 2 ? s[n / 2] : 0.5 * (s[n / 2 - 1] + s[n / 2]);
}

interval median_interval(std::span<const double> values, double confidence) {
    if (!(confidence > 0 && confidence < 1))
        fail(status::invalid_argument,
             fmt::format("median_interval: confidence {} is not in (0, 1)", confidence));
    const auto s = sorted_sample(values, "median_interval");
    const std::size_t n = s.size();
    const double alpha_half = (1 - confidence) / 2;
    // cdf = P(X ≤ i) for X ~ Binomial(n, ½), accumulated in log space; j = i + 1 is usable while
    // P(X < j) = P(X ≤ i) stays within α/2.
    std::size_t j = 0;
    double cdf = 0;
    const double log_half_n = -double(n) * std::log(2.0);
    for (std::size_t i = 0; i < n / 2; ++i) {
        cdf += std::exp(std::lgamma(double(n) + 1) - std::lgamma(double(i) + 1) -
                        std::lgamma(double(n - i) + 1) + log_half_n);
        if (cdf > alpha_half) break;
        j = i + 1;
    }
    if (j == 0) return {s.front(), s.back()};
    return {s[j - 1], s[n - j]};
}

interval percentile_interval(std::vector<double>& draws, double confidence) {
    if (!(confidence > 0 && confidence < 1))
        fail(status::invalid_argument,
             fmt::format("percentile_interval: confidence {} is not in (0, 1)", confidence));
    if (draws.empty()) fail(status::invalid_argument, "percentile_interval: no draws");
    if (std::any_of(draws.begin(), draws.end(), [](double v) { return std::isnan(v); }))
        fail(status::invalid_argument, "percentile_interval: the draws contain NaN");
    std::sort(draws.begin(), draws.end());
    const double tail = (1.0 - confidence) / 2.0;
    auto at = [&](double q) {
        const auto idx = static_cast<std::size_t>(q * double(draws.size() - 1) + 0.5);
        return draws[std::min(idx, draws.size() - 1)];
    };
    return {at(tail), at(1.0 - tail)};
}

double population_stability_index(std::span<const double> expected, std::span<const double> actual,
                                  double floor) {
    if (expected.size() != actual.size())
        fail(status::shape_mismatch, fmt::format("PSI: {} expected bins but {} actual bins",
                                                 expected.size(), actual.size()));
    double psi = 0.0;
    for (std::size_t i = 0; i < expected.size(); ++i) {
        const double e = std::max(expected[i], floor), a = std::max(actual[i], floor);
        psi += (a - e) * std::log(a / e);
    }
    return psi;
}

double population_stability_index(std::span<const float> expected_sample,
                                  std::span<const float> actual_sample, int bins) {
    if (expected_sample.empty() || actual_sample.empty())
        fail(status::invalid_argument, "PSI: both samples must be non-empty");
    if (bins < 2) fail(status::invalid_argument, fmt::format("PSI: {} bins (need ≥ 2)", bins));
    auto has_nan = [](std::span<const float> s) {
        return std::any_of(s.begin(), s.end(), [](float v) { return std::isnan(v); });
    };
    if (has_nan(expected_sample) || has_nan(actual_sample))
        fail(status::invalid_argument, "PSI: a sample contains NaN");
    std::vector<float> sorted(expected_sample.begin(), expected_sample.end());
    std::sort(sorted.begin(), sorted.end());
    std::vector<float> edges; // upper edges of all but the last bin, strictly increasing
    for (int i = 1; i < bins; ++i) {
        const float edge = sorted[sorted.size() * static_cast<std::size_t>(i) / bins];
        if (edges.empty() || edge > edges.back()) edges.push_back(edge);
    }
    auto fractions = [&](std::span<const float> s) {
        std::vector<double> f(edges.size() + 1, 0.0);
        for (float v : s)
            f[static_cast<std::size_t>(std::upper_bound(edges.begin(), edges.end(), v) -
                                       edges.begin())] += 1.0;
        for (double& x : f)
            x /= double(s.size());
        return f;
    };
    const auto e = fractions(expected_sample), a = fractions(actual_sample);
    return population_stability_index(e, a);
}

} // namespace hone
