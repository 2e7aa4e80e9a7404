#include "hone/core/dtype.hpp"
#include "hone/core/error.hpp"
#include "hone/core/half.hpp"

#include <cstdint>
#include <doctest/doctest.h>
#include <limits>

using hone::dtype;

TEST_CASE("dtype traits") {
    CHECK(hone::bits_of(dtype::f32) == 32);
    CHECK(hone::bits_of(dtype::bf16) == 16);
    CHECK(hone::bits_of(dtype::i4) == 4);
    CHECK(hone::bits_of(dtype::i64) == 64);
    CHECK(hone::size_of(dtype::u8) == 1);
    CHECK(hone::size_of(dtype::u4) == 0);
    CHECK(hone::is_packed(dtype::i4));
    CHECK_FALSE(hone::is_packed(dtype::boolean));
    CHECK(hone::is_floating(dtype::bf16));
    CHECK_FALSE(hone::is_floating(dtype::i32));
    CHECK(hone::is_signed_integer(dtype::i4));
    CHECK_FALSE(hone::is_signed_integer(dtype::u4));
    CHECK(hone::dtype_of<float> == dtype::f32);
    CHECK(hone::dtype_of<hone::half> == dtype::f16);
    CHECK(hone::dtype_of<std::uint8_t> == dtype::u8);
    CHECK(hone::dtype_of<const std::int8_t> == dtype::i8); // cv-qualifiers do not matter
    CHECK(hone::has_dtype<const volatile std::int64_t>);
    CHECK_FALSE(hone::has_dtype<double>);
    CHECK_FALSE(hone::is_valid(static_cast<dtype>(10)));
}

TEST_CASE("dtype names round-trip") {
    for (int i = 0; i < hone::dtype_count; ++i) {
        const auto t = static_cast<dtype>(i);
        CHECK(hone::dtype_from_name(hone::name_of(t)) == t);
    }
    CHECK(hone::name_of(dtype::boolean) == "bool");
    CHECK_FALSE(hone::dtype_from_name("float32").has_value());
    CHECK(hone::name_of(static_cast<dtype>(200)) == "invalid");
}

TEST_CASE("storage_bytes rounds packed types up and rejects overflow") {
    CHECK(hone::storage_bytes(dtype::i4, 0) == 0);
    CHECK(hone::storage_bytes(dtype::i4, 1) == 1);
    CHECK(hone::storage_bytes(dtype::u4, 7) == 4);
    CHECK(hone::storage_bytes(dtype::f32, 5) == 20);
    CHECK_THROWS_AS(hone::storage_bytes(dtype::f32, -1), hone::error);
    try {
        hone::storage_bytes(dtype::i64, std::numeric_limits<std::int64_t>::max());
        FAIL("overflow not detected");
    } catch (const hone::error& e) {
        CHECK(e.code() == hone::status::out_of_range);
        CHECK(std::string(e.what()).find("i64") != std::string::npos);
    }
}

TEST_CASE("status names") {
    CHECK(hone::status_name(hone::status::shape_mismatch) == "shape_mismatch");
    CHECK(hone::status_name(static_cast<hone::status>(99)) == "unknown");
}
