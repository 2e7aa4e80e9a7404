// hone/core/dtype.hpp — element types and their traits.
//
// Packed types i4/u4 hold two elements per byte; element 2k is the low nibble of byte k and
// element 2k+1 the high nibble (see docs/formats.md). All other types are byte-addressable.
#pragma once

#include "hone/core/export.hpp"

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string_view>
#include <type_traits>

namespace hone {

/// Element types. Values are part of the ABI (hone_dtype in hone.h): append only.
enum class dtype : std::uint8_t {
    f32 = 0,
    f16 = 1,
    bf16 = 2,
    i8 = 3,
    u8 = 4,
    i4 = 5, ///< signed 4-bit, two per byte, range [-8, 7]
    u4 = 6, ///< unsigned 4-bit, two per byte, range [0, 15]
    i32 = 7,
    i64 = 8,
    boolean = 9, ///< one byte per element, 0 or 1
};

inline constexpr int dtype_count = 10;

/// Bits of storage per element: 4 for i4/u4, 8·size otherwise.
constexpr int bits_of(dtype t) noexcept {
    switch (t) {
    case dtype::i4:
    case dtype::u4: return 4;
    case dtype::i8:
    case dtype::u8:
    case dtype::boolean: return 8;
    case dtype::f16:
    case dtype::bf16: return 16;
    case dtype::f32:
    case dtype::i32: return 32;
    case dtype::i64: return 64;
    }
    return 0;
}

/// True for types stored several to a byte (i4, u4).
constexpr bool is_packed(dtype t) noexcept { return bits_of(t) < 8; }
constexpr bool is_floating(dtype t) noexcept {
    return t == dtype::f32 || t == dtype::f16 || t == dtype::bf16;
}
constexpr bool is_signed_integer(dtype t) noexcept {
    return t == dtype::i4 || t == dtype::i8 || t == dtype::i32 || t == dtype::i64;
}
/// Bytes of one element; 0 for packed types, whose elements are smaller than a byte.
constexpr std::size_t size_of(dtype t) noexcept {
    return is_packed(t) ? 0 : static_cast<std::size_t>(bits_of(t) / 8);
}
constexpr bool is_valid(dtype t) noexcept { return static_cast<int>(t) < dtype_count; }

/// Lower-case name as in docs and files: "f32", "bf16", "i4", "bool", ...
HONE_EXPORT std::string_view name_of(dtype t) noexcept;
/// Inverse of name_of; std::nullopt for an unknown name.
HONE_EXPORT std::optional<dtype> dtype_from_name(std::string_view name) noexcept;

/// Bytes needed to store `count` elements contiguously (packed types round up to whole bytes).
/// Throws hone::error(out_of_range) if count is negative or the size overflows.
HONE_EXPORT std::size_t storage_bytes(dtype t, std::int64_t count);

struct half;
struct bfloat16;

namespace detail {
template <class T> inline constexpr bool has_dtype = false;
template <class T> inline constexpr dtype dtype_of = dtype::f32;
} // namespace detail

/// dtype_of<T>: the dtype whose elements have C++ type T (const/volatile ignored); only
/// meaningful when has_dtype<T>.
template <class T> inline constexpr bool has_dtype = detail::has_dtype<std::remove_cv_t<T>>;
template <class T> inline constexpr dtype dtype_of = detail::dtype_of<std::remove_cv_t<T>>;
#define HONE_DTYPE_OF_(T, D)                                                                       \
    template <> inline constexpr bool detail::has_dtype<T> = true;                                 \
    template <> inline constexpr dtype detail::dtype_of<T> = dtype::D
HONE_DTYPE_OF_(float, f32);
HONE_DTYPE_OF_(half, f16);
HONE_DTYPE_OF_(bfloat16, bf16);
HONE_DTYPE_OF_(std::int8_t, i8);
HONE_DTYPE_OF_(std::uint8_t, u8);
HONE_DTYPE_OF_(std::int32_t, i32);
HONE_DTYPE_OF_(std::int64_t, i64);
HONE_DTYPE_OF_(bool, boolean);
#undef HONE_DTYPE_OF_

} // namespace hone
