// Helpers shared by the tests of the operator library (tests/graph/test_ops_*.cpp).
#pragma once

#include "../../src/graph/ops/ops.hpp"

#include "hone/core/error.hpp"
#include "hone/core/tensor.hpp"

#include <doctest/doctest.h>

#include <cmath>
#include <cstdint>
#include <cstring>
#include <random>
#include <vector>

namespace ops_test {

template <class T> hone::tensor make(const hone::shape& dims, const std::vector<T>& values) {
    hone::tensor t(hone::dtype_of<T>, dims);
    REQUIRE(static_cast<std::int64_t>(values.size()) == t.numel());
    auto* p = static_cast<T*>(t.data());
    for (std::size_t i = 0; i < values.size(); ++i)
        p[i] = values[i];
    return t;
}

inline hone::tensor f32(const hone::shape& dims, const std::vector<float>& values) {
    return make<float>(dims, values);
}
inline hone::tensor i64(const hone::shape& dims, const std::vector<std::int64_t>& values) {
    return make<std::int64_t>(dims, values);
}

template <class T> std::vector<T> values(const hone::tensor& t) {
    const auto s = t.span<T>();
    return {s.begin(), s.end()};
}

inline std::vector<float> randn(std::size_t n, unsigned seed) {
    std::mt19937 rng(seed);
    std::normal_distribution<float> d;
    std::vector<float> v(n);
    for (auto& x : v)
        x = d(rng);
    return v;
}

inline hone::tensor random_f32(const hone::shape& dims, unsigned seed) {
    return f32(dims, randn(static_cast<std::size_t>(dims.numel()), seed));
}

/// Checks shape equality and |a − b| ≤ tol · (1 + |b|) elementwise (NaN must match NaN).
inline void check_close(const hone::tensor& a, const hone::tensor& b, double tol = 1e-5) {
    REQUIRE(a.dims() == b.dims());
    REQUIRE(a.type() == hone::dtype::f32);
    REQUIRE(b.type() == hone::dtype::f32);
    const auto x = a.span<float>(), y = b.span<float>();
    for (std::size_t i = 0; i < x.size(); ++i) {
        if (std::isnan(y[i])) {
            CHECK_MESSAGE(std::isnan(x[i]), "element ", i);
            continue;
        }
        const double err = std::fabs(double(x[i]) - double(y[i]));
        if (err > tol * (1.0 + std::fabs(double(y[i]))))
            FAIL_CHECK("element ", i, ": ", x[i], " vs expected ", y[i]);
    }
}

inline void check_values(const hone::tensor& a, const hone::shape& dims,
                         const std::vector<float>& expected, double tol = 1e-5) {
    check_close(a, f32(dims, expected), tol);
}

/// Runs fn and checks that it throws hone::error with `code`; returns the message.
template <class Fn> std::string error_of(Fn&& fn, hone::status code) {
    try {
        fn();
    } catch (const hone::error& e) {
        CHECK_MESSAGE(e.code() == code, e.what());
        return e.what();
    }
    FAIL_CHECK("no hone::error thrown");
    return {};
}

} // namespace ops_test
