// hone/core/half.hpp — IEEE binary16 and bfloat16 storage types and exact conversions.
//
// f32 → f16/bf16 rounds to nearest, ties to even; overflow rounds to ±inf as IEEE specifies;
// f16 subnormals are produced and read exactly. NaN stays NaN (payload kept where it fits, the
// quiet bit set), ±inf and ±0 keep their sign. f16/bf16 → f32 is exact, except that a
// signalling f16 NaN becomes quiet (as IEEE conversion and the F16C instructions do).
#pragma once

#include "hone/core/export.hpp"

#include <cstdint>

namespace hone {

/// IEEE 754 binary16, stored as its bit pattern.
struct half {
    std::uint16_t bits = 0;
    friend constexpr bool operator==(half a, half b) noexcept { return a.bits == b.bits; }
};

/// bfloat16 (the upper half of an f32), stored as its bit pattern.
struct bfloat16 {
    std::uint16_t bits = 0;
    friend constexpr bool operator==(bfloat16 a, bfloat16 b) noexcept { return a.bits == b.bits; }
};

static_assert(sizeof(half) == 2 && sizeof(bfloat16) == 2);

HONE_EXPORT half to_half(float value) noexcept;
HONE_EXPORT float to_float(half value) noexcept;
HONE_EXPORT bfloat16 to_bfloat16(float value) noexcept;
HONE_EXPORT float to_float(bfloat16 value) noexcept;

} // namespace hone
