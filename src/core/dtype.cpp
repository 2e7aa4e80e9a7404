#include "hone/core/dtype.hpp"

#include "hone/core/error.hpp"

#include <array>
#include <fmt/format.h>
#include <limits>

namespace hone {

namespace {
constexpr std::array<std::string_view, dtype_count> names = {"f32", "f16", "bf16", "i8",  "u8",
                                                             "i4",  "u4",  "i32",  "i64", "bool"};
} // namespace

std::string_view name_of(dtype t) noexcept {
    return is_valid(t) ? names[static_cast<std::size_t>(t)] : std::string_view("invalid");
}

std::optional<dtype> dtype_from_name(std::string_view name) noexcept {
    for (std::size_t i = 0; i < names.size(); ++i)
        if (names[i] == name) return static_cast<dtype>(i);
    return std::nullopt;
}

std::size_t storage_bytes(dtype t, std::int64_t count) {
    if (!is_valid(t)) fail(status::invalid_argument, fmt::format("invalid dtype value {}", int(t)));
    if (count < 0) fail(status::out_of_range, fmt::format("negative element count {}", count));
    const auto n = static_cast<std::uint64_t>(count);
    if (is_packed(t)) return static_cast<std::size_t>((n + 1) / 2);
    const std::uint64_t size = size_of(t);
    if (n > std::numeric_limits<std::size_t>::max() / size)
        fail(status::out_of_range,
             fmt::format("{} elements of {} overflow the address space", count, name_of(t)));
    return static_cast<std::size_t>(n * size);
}

} // namespace hone
