// Fuzzes the ONNX reader with arbitrary bytes: it must return a model or throw hone::error,
// never crash. A model that parses is validated, written back and read again: the second read
// must succeed and give the same weights.
#include <hone/core/error.hpp>
#include <hone/io/onnx.hpp>

#include <cstdint>
#include <cstring>
#include <string_view>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    hone::model m;
    try {
        m = hone::parse_onnx(std::string_view(reinterpret_cast<const char*>(data), size),
                             "fuzz.onnx");
    } catch (const hone::error&) {
        return 0;
    }
    // Every weight came from bytes of the input (no external data without a folder).
    if (m.weight_bytes() > size) __builtin_trap();
    std::string bytes;
    try {
        bytes = hone::serialize_onnx(m, /*check=*/false);
    } catch (const hone::error&) {
        return 0; // e.g. a dtype ONNX cannot write back
    }
    const auto again = hone::parse_onnx(bytes, "fuzz-roundtrip.onnx");
    if (again.weight_names() != m.weight_names()) __builtin_trap();
    for (const auto& name : m.weight_names()) {
        const auto& a = m.weight(name);
        const auto& b = again.weight(name);
        if (a.nbytes() != b.nbytes() || std::memcmp(a.data(), b.data(), a.nbytes()) != 0)
            __builtin_trap();
    }
    return 0;
}
