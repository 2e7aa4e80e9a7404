// Fuzzes the policy parser (hone/policy/policy.hpp) with arbitrary text: it must return a policy
// or throw hone::error, and a policy it returns writes canonical JSON that parses back to the
// same JSON.
#include <hone/core/error.hpp>
#include <hone/policy/policy.hpp>

#include <cstdint>
#include <string_view>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    try {
        const auto p = hone::policy::from_json(
            std::string_view(reinterpret_cast<const char*>(data), size), "fuzz.json");
        const auto text = p.to_json();
        if (hone::policy::from_json(text, "again").to_json() != text) __builtin_trap();
    } catch (const hone::error&) {
    }
    return 0;
}
