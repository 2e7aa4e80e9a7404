// Fuzzes the trust-store parser with arbitrary text: it must return a store or throw
// hone::error, and every entry it returns has a holder and at least one role.
#include <hone/core/error.hpp>
#include <hone/ledger/trust_store.hpp>

#include <cstdint>
#include <string_view>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    try {
        const auto store = hone::trust_store::parse(
            std::string_view(reinterpret_cast<const char*>(data), size), "fuzz.trust");
        for (const auto& e : store.entries())
            if (e.holder.empty() || e.roles.empty()) __builtin_trap();
    } catch (const hone::error&) {
    }
    return 0;
}
