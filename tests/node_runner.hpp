// Test helper: run a shell command (the node harnesses of other engines: tests/ort,
// tests/llama) in a scratch folder and capture its output.
#pragma once

#include <hone/core/error.hpp>

#include <atomic>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <sys/wait.h>
#include <unistd.h>

namespace hone::test::detail {

inline std::string quoted(const std::string& s) {
    std::string q = "'";
    for (char c : s)
        q += c == '\'' ? std::string("'\\''") : std::string(1, c);
    return q + "'";
}

inline std::string slurp(const std::filesystem::path& p) {
    std::ifstream f(p, std::ios::binary);
    return {std::istreambuf_iterator<char>(f), std::istreambuf_iterator<char>()};
}

/// A fresh scratch folder, removed on destruction.
struct scratch {
    std::filesystem::path path;
    scratch() {
        static std::atomic<int> counter{0};
        path = std::filesystem::temp_directory_path() /
               ("hone_node_" + std::to_string(::getpid()) + "_" + std::to_string(counter++));
        std::filesystem::remove_all(path);
        std::filesystem::create_directories(path);
    }
    ~scratch() {
        std::error_code ec;
        std::filesystem::remove_all(path, ec);
    }
    scratch(const scratch&) = delete;
    scratch& operator=(const scratch&) = delete;
};

/// Runs `cmd` with stdout and stderr sent to files in `dir`; returns stdout. Throws
/// hone::error(io_error) "<what> (exit N): <stderr>" when it fails.
inline std::string run_shell(std::string cmd, const scratch& dir, const std::string& what) {
    const auto out = dir.path / "stdout", err = dir.path / "stderr";
    cmd += " >" + quoted(out.string()) + " 2>" + quoted(err.string());
    const int wait_status = std::system(cmd.c_str());
    const int rc = wait_status != -1 && WIFEXITED(wait_status) ? WEXITSTATUS(wait_status) : -1;
    if (rc != 0) {
        auto msg = slurp(err);
        while (!msg.empty() && (msg.back() == '\n' || msg.back() == '\r'))
            msg.pop_back();
        throw error(status::io_error, what + " (exit " + std::to_string(rc) + "): " + msg);
    }
    return slurp(out);
}

} // namespace hone::test::detail
