// Test helper: run a GGUF file in real llama.cpp (npm node-llama-cpp 3.21.1 with its prebuilt
// CPU binaries, in tests/llama, installed by scripts/setup.sh) through tests/llama/
// llama_run.mjs, from C++. The build passes HONE_NODE_EXECUTABLE and HONE_LLAMA_RUN_JS
// (tests/CMakeLists.txt); see docs/scale.md.
#pragma once

#include <hone/core/tensor.hpp>
#include <hone/data/arrays.hpp>

#include "node_runner.hpp"

#include <filesystem>
#include <string>

#if !defined(HONE_NODE_EXECUTABLE) || !defined(HONE_LLAMA_RUN_JS)
#error                                                                                             \
    "tests/llama_runner.hpp needs HONE_NODE_EXECUTABLE and HONE_LLAMA_RUN_JS (tests/CMakeLists.txt)"
#endif

namespace hone::test {

/// llama.cpp's next-token probabilities f32 [rows, seq, vocab] for token rows i64 [rows, seq]
/// (each row evaluated in a fresh sequence; softmax of the raw logits over the vocabulary).
inline tensor llama_cpp_probabilities(const std::filesystem::path& gguf, const_tensor_view tokens,
                                      std::int64_t vocab, int threads = 2) {
    namespace fs = std::filesystem;
    using detail::quoted;
    const fs::path script = HONE_LLAMA_RUN_JS;
    const fs::path module = script.parent_path() / "node_modules" / "node-llama-cpp";
    if (!fs::exists(module / "package.json"))
        throw error(status::io_error,
                    "llama.cpp (node-llama-cpp) is not installed (" + module.string() +
                        " is missing): run scripts/setup.sh, or `cd tests/llama && npm ci "
                        "--ignore-scripts --omit=optional`");
    detail::scratch dir;
    const auto in = dir.path / "tokens.npy", out = dir.path / "probabilities.npy";
    save_npy(in, tokens);
    const std::string cmd = "env -u LD_PRELOAD " + quoted(HONE_NODE_EXECUTABLE) + " " +
                            quoted(script.string()) + " --model " + quoted(gguf.string()) +
                            " --tokens " + quoted(in.string()) + " --vocab " +
                            std::to_string(vocab) + " --threads " + std::to_string(threads) +
                            " --output " + quoted(out.string());
    (void)detail::run_shell(cmd, dir, "llama.cpp failed on " + gguf.string());
    return parse_npy(read_maybe_gzip(out), out.string());
}

} // namespace hone::test
