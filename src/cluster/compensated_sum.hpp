// Internal to the clustering area: the Neumaier-compensated sum behind the k-means objectives
// and the palettized tensors' weighted SSE. Not part of the public API.
#pragma once

#include <cmath>

namespace hone::detail {

/// Neumaier-compensated sum of doubles (exact order: add() in sequence, value() at the end).
struct compensated_sum {
    double sum = 0, carry = 0;
    void add(double x) noexcept {
        const double t = sum + x;
        if (std::fabs(sum) >= std::fabs(x))
            carry += (sum - t) + x;
        else
            carry += (x - t) + sum;
        sum = t;
    }
    double value() const noexcept { return sum + carry; }
};

} // namespace hone::detail
