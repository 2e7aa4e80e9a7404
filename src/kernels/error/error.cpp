#include "hone/kernels/error.hpp"

#include "hone/core/error.hpp"

#include <algorithm>
#include <cmath>
#include <fmt/format.h>
#include <limits>

namespace hone::kernels {

void error_sums::merge(const error_sums& other) noexcept {
    count += other.count;
    reference_sq += other.reference_sq;
    error_sq += other.error_sq;
    max_abs_error = std::max(max_abs_error, other.max_abs_error);
    non_finite += other.non_finite;
}

double error_sums::mse() const noexcept { return count ? error_sq / double(count) : 0.0; }

double error_sums::sqnr_db() const noexcept {
    constexpr double inf = std::numeric_limits<double>::infinity();
    if (error_sq == 0) return inf;
    if (reference_sq == 0) return -inf;
    return 10.0 * std::log10(reference_sq / error_sq);
}

error_sums compare(std::span<const float> reference, std::span<const float> test,
                   const char* what) {
    if (reference.size() != test.size())
        fail(status::shape_mismatch, fmt::format("{}: {} reference values but {} to compare", what,
                                                 reference.size(), test.size()));
    error_sums s;
    for (std::size_t i = 0; i < reference.size(); ++i) {
        const double r = reference[i], t = test[i];
        if (!std::isfinite(r) || !std::isfinite(t)) {
            ++s.non_finite;
            continue;
        }
        const double e = t - r;
        ++s.count;
        s.reference_sq += r * r;
        s.error_sq += e * e;
        s.max_abs_error = std::max(s.max_abs_error, std::abs(e));
    }
    return s;
}

} // namespace hone::kernels
