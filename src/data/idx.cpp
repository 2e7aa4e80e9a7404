#include "hone/core/error.hpp"
#include "hone/data/arrays.hpp"

#include <bit>
#include <cstring>
#include <fmt/format.h>
#include <fmt/ranges.h>
#include <vector>

namespace hone {

namespace {

std::uint32_t big_endian_u32(const unsigned char* p) {
    return (std::uint32_t(p[0]) << 24) | (std::uint32_t(p[1]) << 16) | (std::uint32_t(p[2]) << 8) |
           std::uint32_t(p[3]);
}

template <class T> T big_endian(const unsigned char* p) {
    using U = std::conditional_t<sizeof(T) == 2, std::uint16_t,
                                 std::conditional_t<sizeof(T) == 4, std::uint32_t, std::uint64_t>>;
    U v = 0;
    for (std::size_t i = 0; i < sizeof(T); ++i)
        v = static_cast<U>((v << 8) | p[i]);
    return std::bit_cast<T>(v);
}

} // namespace

tensor parse_idx(std::string_view bytes, std::string_view source) {
    auto bad = [&](const std::string& what) {
        fail(status::format_error, fmt::format("IDX '{}': {}", source, what));
    };
    if (bytes.size() < 4) bad(fmt::format("{} bytes, too short for the header", bytes.size()));
    const auto* p = reinterpret_cast<const unsigned char*>(bytes.data());
    if (p[0] != 0 || p[1] != 0) bad("magic bytes are not 00 00 (not an IDX file)");
    const unsigned type = p[2], rank = p[3];
    std::size_t element = 0;
    dtype out_type = dtype::u8;
    switch (type) {
    case 0x08: element = 1, out_type = dtype::u8; break;
    case 0x09: element = 1, out_type = dtype::i8; break;
    case 0x0B: element = 2, out_type = dtype::i32; break;
    case 0x0C: element = 4, out_type = dtype::i32; break;
    case 0x0D: element = 4, out_type = dtype::f32; break;
    case 0x0E: element = 8, out_type = dtype::f32; break;
    default: bad(fmt::format("unknown element type 0x{:02x}", type));
    }
    if (rank == 0 || rank > shape::max_rank)
        bad(fmt::format("rank {} is outside 1…{}", rank, shape::max_rank));
    const std::size_t header = 4 + 4 * std::size_t(rank);
    if (bytes.size() < header)
        bad(fmt::format("{} bytes, too short for {} dimensions", bytes.size(), rank));
    std::vector<std::int64_t> dims(rank);
    std::uint64_t count = 1;
    for (unsigned i = 0; i < rank; ++i) {
        dims[i] = big_endian_u32(p + 4 + 4 * i);
        if (__builtin_mul_overflow(count, std::uint64_t(dims[i]), &count) || count > (1ull << 40))
            bad("the dimensions describe more than 2^40 elements");
    }
    const std::uint64_t payload = bytes.size() - header;
    if (payload != count * element)
        bad(fmt::format("dimensions [{}] need {} data bytes, the file has {}",
                        fmt::join(dims, ", "), count * element, payload));
    tensor t(out_type, shape(std::span<const std::int64_t>(dims)));
    const unsigned char* data = p + header;
    switch (type) {
    case 0x08:
    case 0x09: std::memcpy(t.data(), data, count); break;
    case 0x0B: {
        auto out = t.span<std::int32_t>();
        for (std::uint64_t i = 0; i < count; ++i)
            out[i] = big_endian<std::int16_t>(data + 2 * i);
        break;
    }
    case 0x0C: {
        auto out = t.span<std::int32_t>();
        for (std::uint64_t i = 0; i < count; ++i)
            out[i] = big_endian<std::int32_t>(data + 4 * i);
        break;
    }
    case 0x0D: {
        auto out = t.span<float>();
        for (std::uint64_t i = 0; i < count; ++i)
            out[i] = big_endian<float>(data + 4 * i);
        break;
    }
    default: {
        auto out = t.span<float>();
        for (std::uint64_t i = 0; i < count; ++i)
            out[i] = static_cast<float>(big_endian<double>(data + 8 * i));
    }
    }
    return t;
}

} // namespace hone
