// Test helper for the checkpoint tests: the language-model fixture's files (tests/fixtures/lm),
// its token rows, and a scratch folder removed at the end.
#pragma once

#include "../model/fixture_path.hpp"

#include <hone/data/arrays.hpp>

#include <filesystem>
#include <string>
#include <unistd.h>

namespace hone::test {

inline std::filesystem::path lm_file(const std::string& name) {
    return fixtures_dir() / "lm" / name;
}

/// The first `rows` rows of the fixture's token file `name` (i64 [rows, seq]).
inline tensor lm_tokens(const std::string& name, std::int64_t rows) {
    const auto p = lm_file(name);
    const tensor all = parse_npy(read_maybe_gzip(p), p.string());
    return tensor::copy_of(all.view().slice(0, 0, rows));
}

/// <temp>/<prefix><tag>_<pid>, made empty; removed with the object.
struct temp_dir {
    std::filesystem::path path;
    temp_dir(const std::string& prefix, const std::string& tag) {
        path = std::filesystem::temp_directory_path() /
               (prefix + tag + "_" + std::to_string(::getpid()));
        std::filesystem::remove_all(path);
        std::filesystem::create_directories(path);
    }
    ~temp_dir() { std::filesystem::remove_all(path); }
    temp_dir(const temp_dir&) = delete;
    temp_dir& operator=(const temp_dir&) = delete;
};

} // namespace hone::test
