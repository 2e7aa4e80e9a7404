// Bulk conversion: every tier bit-identical to the scalar element conversions.
#include "hone/kernels/convert.hpp"
#include "isa_tiers.hpp"

#include <bit>
#include <cmath>
#include <cstdint>
#include <limits>
#include <random>
#include <vector>

namespace {

std::vector<float> special_and_random(std::size_t n) {
    std::vector<float> v = {0.0f,
                            -0.0f,
                            1.0f,
                            -1.0f,
                            65504.0f,
                            65520.0f,
                            -65520.0f,
                            std::ldexp(1.0f, -24),
                            std::ldexp(1.0f, -25),
                            std::ldexp(3.0f, -25),
                            std::numeric_limits<float>::denorm_min(),
                            -std::numeric_limits<float>::denorm_min(),
                            std::numeric_limits<float>::min(),
                            std::numeric_limits<float>::max(),
                            std::numeric_limits<float>::infinity(),
                            -std::numeric_limits<float>::infinity(),
                            std::bit_cast<float>(0x7f800001u),
                            std::bit_cast<float>(0xffc12345u),
                            std::bit_cast<float>(0x7fbfffffu),
                            std::bit_cast<float>(0x3f808000u),
                            std::bit_cast<float>(0x3f818000u),
                            std::bit_cast<float>(0x7f7fffffu)};
    std::mt19937 rng(3);
    while (v.size() < n)
        v.push_back(std::bit_cast<float>(static_cast<std::uint32_t>(rng())));
    v.resize(n);
    return v;
}

} // namespace

TEST_CASE("f32 → f16/bf16 → f32: every tier matches the scalar reference bit for bit") {
    hone::test::for_each_tier([](hone::isa) {
        for (std::size_t n : {0u, 1u, 7u, 8u, 15u, 16u, 17u, 33u, 1000u, 65537u}) {
            CAPTURE(n);
            const auto src = special_and_random(n);
            std::vector<hone::half> h(n);
            std::vector<hone::bfloat16> b(n);
            hone::kernels::convert(src, h);
            hone::kernels::convert(src, b);
            for (std::size_t i = 0; i < n; ++i) {
                CAPTURE(i);
                REQUIRE(h[i].bits == hone::to_half(src[i]).bits);
                REQUIRE(b[i].bits == hone::to_bfloat16(src[i]).bits);
            }
            std::vector<float> fh(n), fb(n);
            hone::kernels::convert(std::span<const hone::half>(h), fh);
            hone::kernels::convert(std::span<const hone::bfloat16>(b), fb);
            for (std::size_t i = 0; i < n; ++i) {
                REQUIRE(std::bit_cast<std::uint32_t>(fh[i]) ==
                        std::bit_cast<std::uint32_t>(hone::to_float(h[i])));
                REQUIRE(std::bit_cast<std::uint32_t>(fb[i]) ==
                        std::bit_cast<std::uint32_t>(hone::to_float(b[i])));
            }
        }
    });
}

TEST_CASE("every f16 bit pattern converts to f32 exactly on every tier") {
    std::vector<hone::half> all(65536);
    for (std::uint32_t i = 0; i < 65536; ++i)
        all[i].bits = static_cast<std::uint16_t>(i);
    hone::test::for_each_tier([&](hone::isa) {
        std::vector<float> f(all.size());
        hone::kernels::convert(std::span<const hone::half>(all), f);
        for (std::uint32_t i = 0; i < 65536; ++i)
            REQUIRE(std::bit_cast<std::uint32_t>(f[i]) ==
                    std::bit_cast<std::uint32_t>(hone::to_float(all[i])));
    });
}

TEST_CASE("convert: size mismatch and the tensor form") {
    std::vector<float> src(4, 1.5f);
    std::vector<hone::half> dst(3);
    CHECK_THROWS_AS(hone::kernels::convert(src, dst), hone::error);
    hone::tensor a(hone::dtype::f32, {2, 2});
    hone::tensor b(hone::dtype::bf16, {2, 2});
    a.span<float>()[3] = 3.0f;
    hone::kernels::convert(a, b);
    CHECK(b.span<hone::bfloat16>()[3].bits == 0x4040);
    hone::tensor c(hone::dtype::f16, {2, 2});
    hone::kernels::convert(b, c); // not a SIMD pair: falls back to hone::copy
    CHECK(c.span<hone::half>()[3].bits == 0x4200);
    hone::tensor wrong(hone::dtype::f16, {4});
    CHECK_THROWS_AS(hone::kernels::convert(a, wrong), hone::error);
}

TEST_CASE("isa names and cap") {
    CHECK(hone::name_of(hone::isa::avx2) == "avx2");
    CHECK(hone::isa_from_name("avx512") == hone::isa::avx512);
    CHECK_FALSE(hone::isa_from_name("sse9").has_value());
    CHECK(hone::set_max_isa(hone::isa::scalar) == hone::isa::scalar);
    CHECK(hone::active_isa() == hone::isa::scalar);
    CHECK(hone::set_max_isa(hone::isa::avx512) == hone::detected_cpu().best);
}
