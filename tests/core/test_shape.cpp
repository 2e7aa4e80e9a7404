#include "../status_of.hpp"
#include "hone/core/error.hpp"
#include "hone/core/shape.hpp"

#include <doctest/doctest.h>
#include <limits>
#include <string>

TEST_CASE("shape basics") {
    const hone::shape scalar;
    CHECK(scalar.rank() == 0);
    CHECK(scalar.numel() == 1);
    CHECK(scalar.to_string() == "[]");
    const hone::shape s{2, 3, 4};
    CHECK(s.rank() == 3);
    CHECK(s.numel() == 24);
    CHECK(s.dim(2) == 4);
    CHECK(s.to_string() == "[2, 3, 4]");
    const auto strides = s.contiguous_strides();
    CHECK(strides[0] == 12);
    CHECK(strides[1] == 4);
    CHECK(strides[2] == 1);
    CHECK(hone::shape{0, 5}.numel() == 0);
    CHECK(s == hone::shape{2, 3, 4});
    CHECK_FALSE(s == hone::shape{2, 3});
}

TEST_CASE("shape rejects bad dimensions with a clear message") {
    try {
        hone::shape bad{4, -2};
        FAIL("accepted");
    } catch (const hone::error& e) {
        CHECK(e.code() == hone::status::invalid_argument);
        CHECK(std::string(e.what()) == "shape [4, -2]: dimension 1 is negative (-2)");
    }
    const auto big = std::numeric_limits<std::int64_t>::max() / 2;
    CHECK(status_of([&] { hone::shape{big, 3}; }) == hone::status::out_of_range);
    CHECK(status_of([&] { hone::shape{big, 3, 0}; }) == hone::status::out_of_range);
    CHECK(status_of([&] { hone::shape{1, 1, 1, 1, 1, 1, 1, 1, 1}; }) ==
          hone::status::invalid_argument);
    CHECK(status_of([&] { (void)hone::shape{2}.dim(1); }) == hone::status::out_of_range);
}
