// Fuzzes the safetensors reader with arbitrary bytes: it must accept a file whose tensors lie
// inside it and agree with their shapes, or throw hone::error — never crash or read outside.
#include <hone/core/error.hpp>
#include <hone/io/safetensors.hpp>

#include <cstddef>
#include <cstdint>
#include <span>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    try {
        const auto f = hone::io::safetensors_file::parse(
            std::span<const std::byte>(reinterpret_cast<const std::byte*>(data), size),
            "fuzz.safetensors");
        std::uint64_t total = 0;
        for (const auto& t : f.tensors()) {
            if (t.end > size || t.begin > t.end) __builtin_trap();
            total += t.end - t.begin;
            const auto copy = f.read(t.name); // reads every byte of the tensor
            if (copy.nbytes() != t.end - t.begin) __builtin_trap();
            try {
                const auto v = f.view(t.name);
                if (v.numel() != copy.numel()) __builtin_trap();
            } catch (const hone::error&) { // misaligned: allowed for foreign files
            }
        }
        if (total + 8 + f.header_bytes() != size) __builtin_trap(); // buffer covered exactly
    } catch (const hone::error&) {
    }
    return 0;
}
