// Fuzzes the IDX reader with arbitrary bytes: it must return a tensor or throw hone::error.
#include <hone/core/error.hpp>
#include <hone/data/arrays.hpp>

#include <cstdint>
#include <string_view>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    try {
        const auto t = hone::parse_idx(std::string_view(reinterpret_cast<const char*>(data), size),
                                       "fuzz.idx");
        if (std::uint64_t(t.numel()) > size) __builtin_trap(); // each element came from a byte
    } catch (const hone::error&) {
    }
    return 0;
}
