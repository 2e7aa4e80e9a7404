#include "hone/core/error.hpp"
#include "hone/kernels/error.hpp"

#include <cmath>
#include <doctest/doctest.h>
#include <limits>
#include <vector>

using doctest::Approx;

TEST_CASE("error sums: known values, merging, exact and degenerate cases") {
    const std::vector<float> ref{1, 2, 3, 4}, test{1, 2, 3, 5};
    const auto s = hone::kernels::compare(ref, test);
    CHECK(s.count == 4);
    CHECK(s.reference_sq == 30);
    CHECK(s.error_sq == 1);
    CHECK(s.mse() == 0.25);
    CHECK(s.max_abs_error == 1);
    CHECK(s.sqnr_db() == Approx(10 * std::log10(30.0)));
    // Two halves merged give the whole.
    const std::vector<float> r1{1, 2}, r2{3, 4}, t1{1, 2}, t2{3, 5};
    auto merged = hone::kernels::compare(r1, t1);
    merged.merge(hone::kernels::compare(r2, t2));
    CHECK(merged.count == s.count);
    CHECK(merged.error_sq == s.error_sq);
    CHECK(merged.reference_sq == s.reference_sq);
    CHECK(merged.max_abs_error == s.max_abs_error);
    // No error: +inf dB; zero reference with error: -inf dB; no elements: MSE 0.
    CHECK(hone::kernels::compare(ref, ref).sqnr_db() == std::numeric_limits<double>::infinity());
    const std::vector<float> zeros{0, 0};
    CHECK(hone::kernels::compare(zeros, r1).sqnr_db() == -std::numeric_limits<double>::infinity());
    CHECK(hone::kernels::error_sums{}.mse() == 0);
    // Non-finite values are counted, not summed.
    const std::vector<float> bad{1, std::nanf(""), 3, std::numeric_limits<float>::infinity()};
    const auto n = hone::kernels::compare(ref, bad);
    CHECK(n.non_finite == 2);
    CHECK(n.count == 2);
    CHECK(n.error_sq == 0);
    // Lengths must agree, and the message names the caller's tensor.
    try {
        hone::kernels::compare(ref, r1, "fc1.weight");
        FAIL("no error");
    } catch (const hone::error& e) {
        CHECK(e.code() == hone::status::shape_mismatch);
        CHECK(std::string(e.what()).find("fc1.weight") != std::string::npos);
    }
}
