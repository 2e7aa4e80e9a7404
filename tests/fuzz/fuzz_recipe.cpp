// Fuzzes the recipe parser (hone/pipeline/recipe.hpp) with arbitrary text: it must return a
// recipe or throw hone::error, and a recipe it returns writes JSON that parses back to the same
// JSON (the typed object and its JSON form agree).
#include <hone/core/error.hpp>
#include <hone/pipeline/recipe.hpp>

#include <cstdint>
#include <string_view>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    try {
        const auto r = hone::pipeline::parse_recipe(
            std::string_view(reinterpret_cast<const char*>(data), size), "fuzz.json");
        const auto j = r.to_json();
        if (hone::pipeline::parse_recipe(j.dump(), "again").to_json() != j) __builtin_trap();
    } catch (const hone::error&) {
    }
    return 0;
}
