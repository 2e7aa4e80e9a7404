#include "hone/core/half.hpp"

#include <bit>

namespace hone {

half to_half(float value) noexcept {
    const auto x = std::bit_cast<std::uint32_t>(value);
    const auto sign = static_cast<std::uint16_t>((x >> 16) & 0x8000u);
    const std::uint32_t abs = x & 0x7fffffffu;
    if (abs > 0x7f800000u) // NaN: keep the top payload bits, force quiet
        return {static_cast<std::uint16_t>(sign | 0x7e00u | ((abs >> 13) & 0x3ffu))};
    if (abs >= 0x477ff000u) return {static_cast<std::uint16_t>(sign | 0x7c00u)}; // ≥ 65520 → inf
    if (abs >= 0x38800000u) { // normal in f16: rebias the exponent, round mantissa to even
        const std::uint32_t r = abs - 0x38000000u;
        return {static_cast<std::uint16_t>(sign | ((r + 0xfffu + ((r >> 13) & 1u)) >> 13))};
    }
    if (abs <= 0x33000000u) return {sign}; // ≤ 2^-25 (half the smallest subnormal) → ±0
    // Subnormal f16: m·2^-24 with m = round_half_even(mantissa · 2^(e-126)).
    const std::uint32_t e = abs >> 23;
    const std::uint32_t mant = (abs & 0x7fffffu) | 0x800000u;
    const std::uint32_t shift = 126u - e; // 14…24
    std::uint32_t q = mant >> shift;
    const std::uint32_t rem = mant & ((1u << shift) - 1u);
    const std::uint32_t halfway = 1u << (shift - 1u);
    if (rem > halfway || (rem == halfway && (q & 1u))) ++q; // may carry into the smallest normal
    return {static_cast<std::uint16_t>(sign | q)};
}

float to_float(half value) noexcept {
    const std::uint32_t h = value.bits;
    const std::uint32_t sign = (h & 0x8000u) << 16;
    std::uint32_t e = (h >> 10) & 0x1fu;
    std::uint32_t m = h & 0x3ffu;
    if (e == 31) // inf, or NaN made quiet as IEEE conversion (and F16C) does
        return std::bit_cast<float>(sign | 0x7f800000u | (m << 13) | (m != 0 ? 0x400000u : 0u));
    if (e == 0) {
        if (m == 0) return std::bit_cast<float>(sign);
        e = 1;
        while (!(m & 0x400u)) { // normalise the subnormal
            m <<= 1;
            --e;
        }
        m &= 0x3ffu;
    }
    return std::bit_cast<float>(sign | ((e + 112u) << 23) | (m << 13));
}

bfloat16 to_bfloat16(float value) noexcept {
    const auto x = std::bit_cast<std::uint32_t>(value);
    if ((x & 0x7fffffffu) > 0x7f800000u) return {static_cast<std::uint16_t>((x >> 16) | 0x40u)};
    return {static_cast<std::uint16_t>((x + 0x7fffu + ((x >> 16) & 1u)) >> 16)};
}

float to_float(bfloat16 value) noexcept {
    return std::bit_cast<float>(static_cast<std::uint32_t>(value.bits) << 16);
}

} // namespace hone
