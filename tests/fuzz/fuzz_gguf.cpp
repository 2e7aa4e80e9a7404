// Fuzzes the GGUF reader with arbitrary bytes: it must accept a file whose fields, tensors and
// offsets are consistent, or throw hone::error — never crash, read outside the input or
// allocate what a hostile count asks for.
#include <hone/core/error.hpp>
#include <hone/io/gguf.hpp>

#include <cstddef>
#include <cstdint>
#include <span>

volatile unsigned fuzz_gguf_sink; // keeps the reads of tensor bytes

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    try {
        const auto f = hone::io::gguf_file::parse(
            std::span<const std::byte>(reinterpret_cast<const std::byte*>(data), size),
            "fuzz.gguf");
        if (f.alignment() == 0 || (f.alignment() & (f.alignment() - 1)) != 0) __builtin_trap();
        if (f.data_offset() % f.alignment() != 0) __builtin_trap();
        for (const auto& [key, value] : f.metadata())
            if (f.find(key) != &value) __builtin_trap(); // keys unique, index consistent
        unsigned sum = 0;
        for (const auto& t : f.tensors()) {
            if (t.offset % f.alignment() != 0) __builtin_trap();
            if (t.bytes != hone::io::gguf_tensor_bytes(t.type, t.dims)) __builtin_trap();
            if (f.data_offset() + t.offset + t.bytes > size && t.bytes > 0) __builtin_trap();
            const auto bytes = f.data(t.name);
            if (bytes.size() != t.bytes) __builtin_trap();
            for (const auto b : bytes) // reads every byte of the tensor
                sum += static_cast<unsigned>(b);
        }
        // Round trip: what was read writes, and reads back to the same metadata and tensors.
        if (f.tensors().size() <= 16 && size <= 4096) {
            std::vector<hone::io::gguf_tensor_spec> specs;
            for (const auto& t : f.tensors())
                specs.push_back({t.name, t.dims, t.type});
            try {
                const auto out = hone::io::serialize_gguf(
                    f.metadata(), specs, [&](std::size_t i, std::span<std::byte> dst) {
                        const auto src = f.data(specs[i].name);
                        for (std::size_t k = 0; k < src.size(); ++k)
                            dst[k] = src[k];
                    });
                const auto g = hone::io::gguf_file::parse(
                    std::span<const std::byte>(reinterpret_cast<const std::byte*>(out.data()),
                                               out.size()),
                    "fuzz-rewritten.gguf");
                if (g.tensors().size() != f.tensors().size()) __builtin_trap();
                if (g.metadata().size() != f.metadata().size()) __builtin_trap();
            } catch (const hone::error&) {
                // The writer is stricter than the reader (ASCII keys, names < 64 bytes,
                // alignment a multiple of 8): refusing is fine.
            }
        }
        fuzz_gguf_sink = sum;
    } catch (const hone::error&) {
    }
    return 0;
}
