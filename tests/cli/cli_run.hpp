// Test helpers for the CLI's doctest programs: run `hone` in-process (hone::cli::run) capturing
// its exit code, stdout and stderr, and a scratch directory removed afterwards.
#pragma once

#include "cli_app.hpp"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <unistd.h>
#include <vector>

namespace cli_test {

struct result {
    int code;
    std::string out, err;
};

/// `hone args...` in this process.
inline result hone_cli(std::vector<std::string> args) {
    args.insert(args.begin(), "hone");
    std::vector<const char*> argv;
    for (const auto& a : args)
        argv.push_back(a.c_str());
    std::ostringstream out, err;
    const int code = hone::cli::run(static_cast<int>(argv.size()), argv.data(), out, err);
    return {code, out.str(), err.str()};
}

/// The last record of a JSONL ledger, parsed.
inline nlohmann::json last_record(const std::filesystem::path& ledger) {
    std::ifstream in(ledger);
    std::string line, last;
    while (std::getline(in, line))
        if (!line.empty()) last = line;
    return nlohmann::json::parse(last);
}

/// A low-tier policy whose bounds every candidate meets (tests of what a run records, not of
/// its verdict).
inline constexpr const char* permissive_policy = R"({"tier": "low", "max_accuracy_drop": 1,
    "max_slice_accuracy_drop": 1, "min_agreement": 0, "max_latency_regression": null})";

inline int lines(const std::string& s) {
    return static_cast<int>(std::count(s.begin(), s.end(), '\n'));
}

/// An empty directory hone_cli_<tag>_<pid> under the system's temporary folder.
struct temp_dir {
    std::filesystem::path path;
    explicit temp_dir(const std::string& tag) {
        path = std::filesystem::temp_directory_path() /
               ("hone_cli_" + tag + "_" + std::to_string(::getpid()));
        std::filesystem::remove_all(path);
        std::filesystem::create_directories(path);
    }
    ~temp_dir() { std::filesystem::remove_all(path); }
    temp_dir(const temp_dir&) = delete;
    temp_dir& operator=(const temp_dir&) = delete;
    std::string operator/(const char* name) const { return (path / name).string(); }
};

} // namespace cli_test
