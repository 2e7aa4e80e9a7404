// Test helper: run a model in ONNX Runtime (the real CPU engine, npm package onnxruntime-node
// in tests/ort, installed by scripts/setup.sh) through tests/ort/ort_run.js, from C++.
// The build passes HONE_NODE_EXECUTABLE and HONE_ORT_RUN_JS (tests/CMakeLists.txt); see
// docs/onnxruntime.md.
#pragma once

#include <hone/core/error.hpp>
#include <hone/core/tensor.hpp>
#include <hone/data/arrays.hpp>

#include "node_runner.hpp"

#include <atomic>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <initializer_list>
#include <iterator>
#include <set>
#include <sstream>
#include <string>
#include <sys/wait.h>
#include <unistd.h>
#include <vector>

#if !defined(HONE_NODE_EXECUTABLE) || !defined(HONE_ORT_RUN_JS)
#error "tests/ort_runner.hpp needs HONE_NODE_EXECUTABLE and HONE_ORT_RUN_JS (tests/CMakeLists.txt)"
#endif

namespace hone::test {

struct ort_options {
    int threads = 2;
    std::int64_t batch = 256;              ///< rows of the input per run; 0 = all at once
    std::string opt_level = "all";         ///< disabled | basic | extended | all
    std::string output_name;               ///< empty: the model's first output
    std::filesystem::path optimized_model; ///< when set, ORT writes the graph it ran there
};

namespace detail {

/// Runs ort_run.js on `input` with `extra` arguments; returns its stdout. Throws hone::error
/// naming the model and carrying node's stderr when it fails.
inline std::string run_node(const std::filesystem::path& model, const_tensor_view input,
                            const ort_options& o, const scratch& dir,
                            std::initializer_list<std::string> extra) {
    namespace fs = std::filesystem;
    const fs::path script = HONE_ORT_RUN_JS;
    const fs::path module = script.parent_path() / "node_modules" / "onnxruntime-node";
    if (!fs::exists(module / "package.json"))
        throw error(status::io_error,
                    "ONNX Runtime is not installed (" + module.string() +
                        " is missing): run scripts/setup.sh, or `cd tests/ort && npm ci "
                        "--ignore-scripts`");
    const auto in = dir.path / "input.npy";
    save_npy(in, input);
    std::string cmd = "env -u LD_PRELOAD " + quoted(HONE_NODE_EXECUTABLE) + " " +
                      quoted(script.string()) + " --model " + quoted(model.string()) + " --input " +
                      quoted(in.string()) + " --threads " + std::to_string(o.threads) +
                      " --batch " + std::to_string(o.batch) + " --opt-level " + quoted(o.opt_level);
    if (!o.output_name.empty()) cmd += " --output-name " + quoted(o.output_name);
    if (!o.optimized_model.empty()) cmd += " --optimized-model " + quoted(o.optimized_model);
    for (const auto& a : extra)
        cmd += " " + quoted(a);
    return run_shell(cmd, dir, "ONNX Runtime failed on " + model.string());
}

} // namespace detail

/// The model's output (first, or o.output_name) for `input` (f32, i64, i32, u8 or i8; rows
/// along axis 0 are batched), computed by ONNX Runtime, as f32.
inline tensor ort_run(const std::filesystem::path& model, const_tensor_view input,
                      const ort_options& o = {}) {
    detail::scratch dir;
    const auto out = dir.path / "output.npy";
    (void)detail::run_node(model, input, o, dir, {"--output", out.string()});
    return parse_npy(read_maybe_gzip(out), out.string());
}

/// The op types of the nodes ONNX Runtime executed (after its graph optimizations) running
/// `model` on `input`, from its profiler.
inline std::set<std::string> ort_executed_ops(const std::filesystem::path& model,
                                              const_tensor_view input, const ort_options& o = {}) {
    detail::scratch dir;
    const auto json = detail::run_node(model, input, o, dir, {"--ops"});
    // A JSON array of strings of identifiers: ["Conv","QLinearConv",...].
    std::set<std::string> ops;
    std::string cur;
    bool in = false;
    for (char c : json) {
        if (c == '"') {
            if (in) ops.insert(cur);
            cur.clear();
            in = !in;
        } else if (in) {
            cur += c;
        }
    }
    if (json.find('[') == std::string::npos || in)
        throw error(status::format_error, "ort_run.js --ops printed no JSON array: " + json);
    return ops;
}

/// The integer kernels ONNX Runtime fuses a QDQ graph into.
inline const std::set<std::string>& ort_integer_ops() {
    static const std::set<std::string> ops{"QLinearConv",
                                           "QLinearMatMul",
                                           "QGemm",
                                           "MatMulIntegerToFloat",
                                           "DynamicQuantizeMatMul",
                                           "MatMulInteger",
                                           "ConvInteger",
                                           "MatMulNBits",
                                           "QLinearAdd",
                                           "QLinearMul",
                                           "QLinearGlobalAveragePool",
                                           "QLinearAveragePool",
                                           "QLinearSigmoid",
                                           "QLinearLeakyRelu",
                                           "QLinearConcat",
                                           "QAttention"};
    return ops;
}

/// Those of `executed` that are integer kernels (empty: ORT ran the graph in float, e.g. the
/// QDQ pairs were kept as separate Quantize/DequantizeLinear nodes around f32 layers).
inline std::set<std::string> ort_integer_ops_in(const std::set<std::string>& executed) {
    std::set<std::string> r;
    for (const auto& op : executed)
        if (ort_integer_ops().count(op)) r.insert(op);
    return r;
}

/// For a doctest CHECK / MESSAGE: "QLinearConv, QGemm" (or "none").
inline std::string join(const std::set<std::string>& s) {
    std::string r;
    for (const auto& x : s)
        r += (r.empty() ? "" : ", ") + x;
    return r.empty() ? "none" : r;
}

} // namespace hone::test
