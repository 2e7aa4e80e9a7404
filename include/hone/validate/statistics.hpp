// hone/validate/statistics.hpp — the statistics that keep noise from passing for degradation.
//
// Accuracy on an evaluation set is a proportion with sampling error. Comparing a candidate to
// its baseline on the SAME samples is a paired design: the right interval for the accuracy
// difference uses the paired 2×2 table (Newcombe's method 10, hybrid score interval), and the
// right test of "did anything change" is McNemar's exact test on the discordant pairs.
#pragma once

#include "hone/core/export.hpp"

#include <cstdint>
#include <span>
#include <vector>

namespace hone {

struct interval {
    double low = 0;
    double high = 0;
};

/// Two-sided standard-normal quantile: z such that P(|Z| ≤ z) = confidence (0.95 → 1.95996…).
/// Throws invalid_argument unless 0 < confidence < 1.
HONE_EXPORT double normal_two_sided_z(double confidence);

/// Wilson score interval for a proportion successes/n (no continuity correction).
/// n = 0 gives [0, 1]. Throws invalid_argument when successes > n.
HONE_EXPORT interval wilson_interval(std::uint64_t successes, std::uint64_t n,
                                     double confidence = 0.95);

/// Paired outcomes of baseline and candidate on the same samples (top-1 correct or not).
struct paired_counts {
    std::uint64_t both_correct = 0;
    std::uint64_t only_baseline_correct = 0;  ///< regressions
    std::uint64_t only_candidate_correct = 0; ///< improvements
    std::uint64_t both_wrong = 0;
    std::uint64_t total() const noexcept {
        return both_correct + only_baseline_correct + only_candidate_correct + both_wrong;
    }
};

/// Interval for accuracy(candidate) − accuracy(baseline) from paired outcomes: Newcombe (1998),
/// "Improved confidence intervals for the difference between binomial proportions based on
/// paired data", method 10. Empty input gives [−1, 1].
HONE_EXPORT interval paired_difference_interval(const paired_counts& counts,
                                                double confidence = 0.95);

/// Two-sided exact McNemar test: p-value of b regressions vs c improvements under H0 that
/// both are equally likely (binomial(b + c, ½)). 1 when b + c = 0.
HONE_EXPORT double mcnemar_exact_p(std::uint64_t regressions, std::uint64_t improvements);

/// Median of a sample (the mean of the two middle values for an even count). Throws
/// invalid_argument for an empty sample or NaN.
HONE_EXPORT double median(std::span<const double> values);

/// Distribution-free interval for the median: the order statistics [x₍ⱼ₎, x₍ₙ₋ⱼ₊₁₎] with the
/// largest j such that P(Binomial(n, ½) < j) ≤ (1 − confidence)/2, so its coverage is at least
/// `confidence` for any continuous distribution. Samples too small for that (n < 6 at 95%)
/// give [min, max]. Throws invalid_argument for an empty sample, NaN, or a bad confidence.
HONE_EXPORT interval median_interval(std::span<const double> values, double confidence = 0.95);

/// Percentile interval of bootstrap draws: sorts `draws` and returns the values at the
/// (1 − confidence)/2 and (1 + confidence)/2 quantiles (nearest rank: index q·(n − 1) rounded).
/// Throws invalid_argument for no draws, NaN, or a bad confidence.
HONE_EXPORT interval percentile_interval(std::vector<double>& draws, double confidence = 0.95);

/// Population stability index Σ (a − e)·ln(a / e) between two binned distributions given as
/// fractions (each summing to 1); bins with a zero fraction are floored at `floor`.
/// Throws shape_mismatch when the bin counts differ.
HONE_EXPORT double population_stability_index(std::span<const double> expected,
                                              std::span<const double> actual, double floor = 1e-4);

/// PSI of two samples: `bins` bins at the expected sample's quantiles (ties merge bins).
/// Common reading: < 0.1 stable, 0.1–0.25 shifted, > 0.25 a different population.
/// Throws invalid_argument for empty samples, bins < 2 or NaN values.
HONE_EXPORT double population_stability_index(std::span<const float> expected_sample,
                                              std::span<const float> actual_sample, int bins = 10);

} // namespace hone
