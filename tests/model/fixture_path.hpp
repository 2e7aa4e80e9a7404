// Test helper: where tests/fixtures is. $HONE_FIXTURES wins; otherwise the folder is searched
// upwards from the test executable (build/tests/test_x → <source>/tests/fixtures) and the
// current directory.
#pragma once

#include <cstdlib>
#include <filesystem>
#include <system_error>

namespace hone::test {

inline std::filesystem::path fixtures_dir() {
    namespace fs = std::filesystem;
    if (const char* env = std::getenv("HONE_FIXTURES")) return env;
    std::error_code ec;
    for (fs::path start :
         {fs::read_symlink("/proc/self/exe", ec).parent_path(), fs::current_path()}) {
        for (auto p = start; !p.empty(); p = p.parent_path()) {
            if (fs::exists(p / "tests/fixtures/fashion_mnist/fixtures.json", ec))
                return p / "tests/fixtures";
            if (p == p.parent_path()) break;
        }
    }
    return "tests/fixtures";
}

inline std::filesystem::path fashion_fixture(const char* name) {
    return fixtures_dir() / "fashion_mnist" / name;
}

} // namespace hone::test
