// f32 ↔ f16 / bf16: checked against the compiler's _Float16 and an independent reference.
#include "hone/core/half.hpp"

#include <algorithm>
#include <bit>
#include <cmath>
#include <cstdint>
#include <doctest/doctest.h>
#include <ios>
#include <limits>
#include <random>

namespace {

std::uint32_t bits(float f) { return std::bit_cast<std::uint32_t>(f); }
float from_bits(std::uint32_t b) { return std::bit_cast<float>(b); }

// Reference f32 → bf16: of the two bf16 values around x, the nearer (in exact double
// arithmetic), ties to the even one. Independent of hone's bit trick.
std::uint16_t bf16_reference(float x) {
    const std::uint32_t b = bits(x);
    const auto lo = static_cast<std::uint16_t>(b >> 16);
    if ((b & 0xffffu) == 0) return lo;
    const auto hi = static_cast<std::uint16_t>(lo + 1);
    const double dx = x;
    const double dlo = from_bits(std::uint32_t(lo) << 16);
    const double dhi = (hi & 0x7fffu) == 0x7f80u ? std::copysign(std::ldexp(1.0, 128), dx)
                                                 : double(from_bits(std::uint32_t(hi) << 16));
    const double e_lo = std::abs(dx - dlo), e_hi = std::abs(dhi - dx);
    if (e_lo < e_hi) return lo;
    if (e_hi < e_lo) return hi;
    return (lo & 1u) ? hi : lo;
}

// f32 → f16 by the compiler (_Float16) where it has the type on x86 (GCC 12, clang ≥ 15);
// else an independent reference: x / quantum rounded to nearest even in exact double
// arithmetic (the quantum of f16 at x's binade is a power of two, so the division is exact).
#if defined(__clang__) && __clang_major__ < 15
#define HONE_TEST_NO_FLOAT16 1
std::uint16_t f16_compiler(float x) {
    const std::uint16_t sign = std::signbit(x) ? 0x8000u : 0u;
    if (std::isnan(x)) return std::uint16_t(sign | 0x7e00u);
    const double a = std::fabs(double(x));
    if (std::isinf(a)) return std::uint16_t(sign | 0x7c00u);
    if (a == 0) return sign;
    int e = 0;
    std::frexp(a, &e);                   // a ∈ [2^(e−1), 2^e)
    int exponent = std::max(e - 1, -14); // below 2^−14: subnormals, quantum 2^−24
    double r = std::nearbyint(a / std::ldexp(1.0, exponent - 10)); // ties to even
    if (r == 2048) { // rounded up into the next binade
        r = 1024;
        ++exponent;
    }
    if (exponent > 15) return std::uint16_t(sign | 0x7c00u);     // overflow: ±inf
    if (r < 1024) return std::uint16_t(sign | std::uint16_t(r)); // subnormal (or 2^−14 edge)
    return std::uint16_t(sign | ((exponent + 15) << 10) | (std::uint16_t(r) - 1024));
}
#else
std::uint16_t f16_compiler(float x) {
    return std::bit_cast<std::uint16_t>(static_cast<_Float16>(x));
}
#endif

void check_f16(float x) {
    const auto got = hone::to_half(x).bits;
    if (std::isnan(x)) {
        CHECK((got & 0x7c00u) == 0x7c00u);
        CHECK((got & 0x3ffu) != 0);
        CHECK((got & 0x8000u) == ((bits(x) >> 16) & 0x8000u));
    } else {
        INFO("x = " << x << " bits " << std::hex << bits(x));
        CHECK(got == f16_compiler(x));
    }
}

} // namespace

TEST_CASE("f16 → f32 → f16 is the identity for every non-NaN f16") {
    int checked = 0;
    for (std::uint32_t h = 0; h <= 0xffffu; ++h) {
        const hone::half value{static_cast<std::uint16_t>(h)};
        const float f = hone::to_float(value);
        REQUIRE(f16_compiler(f) == (std::isnan(f) ? f16_compiler(f) : h)); // f32 exact
        if (((h >> 10) & 0x1fu) == 0x1fu && (h & 0x3ffu) != 0) {
            CHECK(std::isnan(f));
            CHECK((hone::to_half(f).bits & 0x3ffu) == ((h & 0x3ffu) | 0x200u)); // payload, quiet
            continue;
        }
#ifndef HONE_TEST_NO_FLOAT16
        CHECK(static_cast<float>(std::bit_cast<_Float16>(static_cast<std::uint16_t>(h))) == f);
#endif
        CHECK(hone::to_half(f).bits == h);
        ++checked;
    }
    CHECK(checked == 65536 - 2 * 1023);
}

TEST_CASE("f32 → f16 rounds to nearest even, like the compiler's _Float16") {
    SUBCASE("known values") {
        CHECK(hone::to_half(1.0f).bits == 0x3c00);
        CHECK(hone::to_half(-2.0f).bits == 0xc000);
        CHECK(hone::to_half(65504.0f).bits == 0x7bff);
        CHECK(hone::to_half(65519.99f).bits == 0x7bff);
        CHECK(hone::to_half(65520.0f).bits == 0x7c00); // tie above max rounds to inf
        CHECK(hone::to_half(std::numeric_limits<float>::infinity()).bits == 0x7c00);
        CHECK(hone::to_half(-std::numeric_limits<float>::infinity()).bits == 0xfc00);
        CHECK(hone::to_half(0.0f).bits == 0x0000);
        CHECK(hone::to_half(-0.0f).bits == 0x8000);
        CHECK(hone::to_half(std::ldexp(1.0f, -24)).bits == 0x0001); // smallest subnormal
        CHECK(hone::to_half(std::ldexp(1.0f, -25)).bits == 0x0000); // tie → even (0)
        CHECK(hone::to_half(std::ldexp(1.5f, -25)).bits == 0x0001);
        CHECK(hone::to_half(std::ldexp(3.0f, -25)).bits == 0x0002);        // 1.5 ulp tie → even 2
        CHECK(hone::to_half(1.0f + std::ldexp(1.0f, -11)).bits == 0x3c00); // tie → even
        CHECK(hone::to_half(1.0f + std::ldexp(3.0f, -11)).bits == 0x3c02); // tie → even
        CHECK(hone::to_half(std::numeric_limits<float>::denorm_min()).bits == 0);
    }
    SUBCASE("every exponent and rounding boundary") {
        for (std::uint32_t e = 0; e < 256; ++e)
            for (std::uint32_t m : {0u, 1u, 0xfffu, 0x1000u, 0x1001u, 0x2000u, 0x3000u, 0x7fe000u,
                                    0x7ff000u, 0x7fffffu, 0x400000u, 0x401000u})
                for (std::uint32_t s : {0u, 0x80000000u})
                    check_f16(from_bits(s | (e << 23) | m));
    }
    SUBCASE("random bit patterns") {
        std::mt19937 rng(7);
        for (int i = 0; i < 200000; ++i)
            check_f16(from_bits(rng()));
    }
}

TEST_CASE("f32 → bf16 rounds to nearest even; NaN stays NaN") {
    CHECK(hone::to_bfloat16(1.0f).bits == 0x3f80);
    CHECK(hone::to_bfloat16(-0.0f).bits == 0x8000);
    CHECK(hone::to_bfloat16(from_bits(0x3f808000u)).bits == 0x3f80); // tie → even
    CHECK(hone::to_bfloat16(from_bits(0x3f818000u)).bits == 0x3f82); // tie → even (up)
    CHECK(hone::to_bfloat16(from_bits(0x7f7fffffu)).bits == 0x7f80); // max f32 → inf
    CHECK(hone::to_bfloat16(std::numeric_limits<float>::infinity()).bits == 0x7f80);
    const auto nan = hone::to_bfloat16(from_bits(0x7f800001u)); // payload only in low bits
    CHECK(std::isnan(hone::to_float(nan)));
    CHECK(hone::to_bfloat16(from_bits(0xffc00000u)).bits == 0xffc0);
    std::mt19937 rng(11);
    for (int i = 0; i < 200000; ++i) {
        const float x = from_bits(rng());
        if (std::isnan(x)) {
            CHECK(std::isnan(hone::to_float(hone::to_bfloat16(x))));
            continue;
        }
        REQUIRE(hone::to_bfloat16(x).bits == bf16_reference(x));
    }
    for (std::uint32_t h = 0; h <= 0xffffu; ++h) { // bf16 → f32 → bf16 identity
        const hone::bfloat16 v{static_cast<std::uint16_t>(h)};
        const float f = hone::to_float(v);
        if (!std::isnan(f)) REQUIRE(hone::to_bfloat16(f).bits == h);
    }
}
