// Scalar tier: eight independent multiply-add chains (what portable code can reach).
#include "peak.hpp"

namespace hone::kernels {

namespace {

double f32_fma(std::int64_t iterations, float* sink) {
    float acc[8] = {0, 1, 2, 3, 4, 5, 6, 7};
    const float a = 0.999999f, b = 1e-7f;
    for (std::int64_t i = 0; i < iterations; ++i)
#pragma GCC unroll 16
        for (float& x : acc)
            x = x * a + b;
    float s = 0;
    for (float x : acc)
        s += x;
    *sink = s;
    return double(iterations) * 8 * 2;
}

double int8_mac(std::int64_t iterations, std::int32_t* sink) {
    std::uint32_t acc[8] = {}; // unsigned: the sums wrap (as the SIMD tiers' adds do)
    const std::int8_t w = 3;
    std::uint8_t x = 7;
    for (std::int64_t i = 0; i < iterations; ++i) {
#pragma GCC unroll 16
        for (std::uint32_t& a : acc)
            a += static_cast<std::uint32_t>(std::int32_t(x) * w);
        x = static_cast<std::uint8_t>(x + 1);
    }
    std::uint32_t s = 0;
    for (std::uint32_t a : acc)
        s += a;
    *sink = static_cast<std::int32_t>(s & 0x7fffffffu);
    return double(iterations) * 8 * 2;
}

} // namespace

const peak_table peak_ref = {f32_fma, int8_mac};

} // namespace hone::kernels
