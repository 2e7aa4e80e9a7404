// checkpoint.hpp — `hone checkpoint quantize`: a LLaMA checkpoint folder (Hugging Face
// config.json + safetensors shards) to a GGUF file llama.cpp loads, validated against the
// checkpoint on held-out tokens, decided by the policy's language-model gates, recorded with
// the GGUF's and every shard's SHA-256 (hone/pipeline/checkpoint_quantize.hpp, docs/scale.md).
//
//   hone checkpoint quantize FOLDER --type Q4_K --calib T.npy --eval E.npy [--slices S.json]
//        --out model.gguf [--ledger L.jsonl] [--report DIR] [--policy TIER|FILE] [--key K.pem]
//
// A run stopped by a kill resumes from its work folder (--work, default OUT.work) when started
// again with the same arguments. Exit codes as optimize: 0 approved, 10 needs sign-off,
// 20 rejected, 1 error.
#pragma once

#include "commands.hpp"

#include <CLI/CLI.hpp>

#include <functional>
#include <string>

namespace hone::cli {

struct checkpoint_cli_options {
    std::string folder, out, format = "gguf", type = "Q4_K", calib, eval, slices, work, ledger,
                             report;
    int bits = 4;
    std::int64_t group = 128;
    bool asymmetric = false;
    std::string policy = "medium", key, actor = "hone";
    std::int64_t sequence = 0, batch = 16;
    bool no_sequential = false;
};

void add_checkpoint_command(CLI::App& app, checkpoint_cli_options& o,
                            std::function<int(console&)>& action);

} // namespace hone::cli
