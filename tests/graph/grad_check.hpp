// Finite-difference checks of backward passes, shared by the gradient tests.
//
// L = Σ r ⊙ f(x) with a random r, so dL/dx is backward(x, dY = r). Elements of x (every one, or
// an evenly spaced sample of at most 300) are perturbed by ±eps; the forward is f32 and L is
// accumulated in double. Inputs should avoid kinks (ReLU at 0, Clip at its bounds). The
// tolerance is relative to the gradient's largest element: a missing factor or a wrong transpose
// fails by orders of magnitude.
#pragma once

#include "hone/core/tensor.hpp"

#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <functional>
#include <random>

namespace hone::test {

/// Uniform values in [lo, hi).
inline tensor random_tensor(const shape& s, unsigned seed, float lo = -1.0f, float hi = 1.0f) {
    tensor t(dtype::f32, s);
    std::mt19937 rng(seed);
    std::uniform_real_distribution<float> u(lo, hi);
    for (float& v : t.span<float>())
        v = u(rng);
    return t;
}

/// Values ±[0.1, 1] (no kink within eps of 0).
inline tensor away_from_zero(const shape& s, unsigned seed) {
    tensor t = random_tensor(s, seed);
    for (float& v : t.span<float>())
        v = (v >= 0 ? 1.0f : -1.0f) * (0.1f + 0.9f * std::abs(v));
    return t;
}

/// Σ y·r in double.
inline double weighted_sum(const tensor& y, const tensor& r) {
    const auto a = y.span<float>();
    const auto b = r.span<float>();
    REQUIRE(a.size() == b.size());
    double s = 0;
    for (std::size_t i = 0; i < a.size(); ++i)
        s += double(a[i]) * b[i];
    return s;
}

/// Compares `analytic` (dL/dx) with central differences of L(x) = Σ r·f(x) at up to `samples`
/// evenly spaced elements of x; f reads x.
inline void check_gradient(tensor& x, const std::function<tensor()>& f, const tensor& r,
                           const tensor& analytic, double eps = 1e-2, double tol = 2e-3,
                           std::size_t samples = 300) {
    REQUIRE(analytic.dims() == x.dims());
    auto xs = x.span<float>();
    const auto g = analytic.span<float>();
    double gmax = 0;
    for (const float v : g)
        gmax = std::max(gmax, double(std::abs(v)));
    REQUIRE(gmax > 0);
    const std::size_t n = xs.size();
    const std::size_t step = std::max<std::size_t>(1, n / samples);
    double worst = 0;
    for (std::size_t i = 0; i < n; i += step) {
        const float keep = xs[i];
        xs[i] = keep + float(eps);
        const double lp = weighted_sum(f(), r);
        xs[i] = keep - float(eps);
        const double lm = weighted_sum(f(), r);
        xs[i] = keep;
        worst = std::max(worst, std::abs((lp - lm) / (2 * eps) - g[i]));
    }
    INFO("max |numeric − analytic| = " << worst << ", max |analytic| = " << gmax);
    CHECK(worst <= tol * std::max(1.0, gmax) + 1e-4);
}

} // namespace hone::test
