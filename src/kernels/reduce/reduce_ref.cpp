// Scalar reference of the reduce family: defines the exact results every tier must return.
#include "reduce.hpp"

namespace hone::kernels {

namespace {

using namespace reduce_rules;

void min_max(const float* src, std::size_t n, float* min, float* max) {
    float lo = inf, hi = -inf;
    bool any_nan = false;
    for (std::size_t i = 0; i < n; ++i) {
        const float x = src[i];
        if (std::isnan(x)) {
            any_nan = true;
            continue;
        }
        lo = min2(lo, x);
        hi = max2(hi, x);
    }
    *min = any_nan ? nan : lo;
    *max = any_nan ? nan : hi;
}

float abs_max(const float* src, std::size_t n) {
    float hi = 0.0f;
    for (std::size_t i = 0; i < n; ++i) {
        const float a = std::fabs(src[i]);
        if (std::isnan(a)) return nan;
        if (a > hi) hi = a;
    }
    return hi;
}

void min_max_accumulate(const float* row, std::size_t n, float* min, float* max) {
    for (std::size_t j = 0; j < n; ++j) {
        if (std::isnan(row[j]) || std::isnan(min[j]) || std::isnan(max[j])) {
            min[j] = max[j] = nan;
            continue;
        }
        min[j] = min2(min[j], row[j]);
        max[j] = max2(max[j], row[j]);
    }
}

void abs_max_accumulate(const float* row, std::size_t n, float* amax) {
    for (std::size_t j = 0; j < n; ++j) {
        const float a = std::fabs(row[j]);
        if (std::isnan(a) || std::isnan(amax[j]))
            amax[j] = nan;
        else if (a > amax[j])
            amax[j] = a;
    }
}

} // namespace

const reduce_table reduce_ref = {min_max, abs_max, min_max_accumulate, abs_max_accumulate};

} // namespace hone::kernels
