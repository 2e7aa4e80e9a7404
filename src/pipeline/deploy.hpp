// deploy.hpp — the file `hone optimize` writes: a standard ONNX that other engines run
// compressed (docs/formats.md), made from the candidate, read back and run by hone to validate
// exactly those bytes.
//
// Forms, by the recipe's execution and --format:
//   qdq (default)  int8 static: QuantizeLinear/DequantizeLinear around every quantized layer,
//                  int8 weights per output channel, activation grids calibrated per tensor
//                  (hone/io/qdq.hpp); int8 dynamic: DynamicQuantizeLinear + MatMulInteger /
//                  ConvInteger; f32 execution: quantized weights through DequantizeLinear
//                  (int4 blocked at opset 21), palettes as indices + codebook Gather, pruned
//                  weights dense.
//   matmulnbits    as qdq, but 4-bit per-group MatMul/Gemm weights as ONNX Runtime's
//                  com.microsoft.MatMulNBits.
//   hone           the candidate ONNX (f32 weights as they run) beside hone's packed
//                  safetensors, for engines that embed hone's kernels.
#pragma once

#include <hone/core/export.hpp>

#include "layers.hpp"

#include <hone/cluster/clusterer.hpp>
#include <hone/graph/executor.hpp>

#include <nlohmann/json.hpp>

#include <filesystem>

#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace hone::pipeline {

enum class artifact_format { qdq, matmulnbits, hone };

/// "qdq", "matmulnbits", "hone"; invalid_argument naming --format otherwise.
HONE_EXPORT artifact_format parse_artifact_format(std::string_view text);
HONE_EXPORT const char* name_of(artifact_format f);

/// "f32", "int8 static", "int8 dynamic" (as files' doc strings and reports say it).
HONE_EXPORT const char* execution_name(exec_precision p);

/// What a changed layer stores.
struct HONE_EXPORT deploy_layer {
    layer_ref ref;
    std::shared_ptr<const quantized_tensor> quantized; ///< [N, K], or null
    bool palettized = false; ///< the candidate's weight holds a palette's values (≤ 256 distinct)
};

struct HONE_EXPORT deploy_input {
    const model* candidate = nullptr; ///< the candidate: weights as they run, stored layouts
    std::string recipe_json;          ///< recorded in the file's doc string
    std::vector<deploy_layer> layers;
    exec_precision execution = exec_precision::f32;
    /// Activation ranges by tensor name (int8 static): deploy_grid_tensors(), calibrated.
    std::map<std::string, tensor_range, std::less<>> grids;
    std::vector<std::string> f32_nodes; ///< layers left in f32
};

/// The ONNX file and how hone runs it.
struct HONE_EXPORT deployable {
    model m;               ///< the file, as hone reads it back
    executor_options exec; ///< how hone runs it (what validation measures)
    std::string bytes;     ///< the file's bytes
    std::string form;      ///< what the file holds, for the report ("QDQ int8 static", ...)
};

/// How hone runs a file that `hone optimize` wrote, from the "hone" object of its doc string
/// (execution precision, f32 layers, and for --format hone the activation ranges); f32 for
/// any other file. `hone validate` uses it, so a candidate is run as optimize validated it —
/// except --format hone's packed weight-only layers, which run on their dequantized f32
/// weights (the same values; hone's packed files are not read back).
///
/// With `path` (where `file` was read from) and a --format hone file whose doc string lists
/// packed weights: those are read from hone's packed safetensors beside it (PATH with the
/// extension .safetensors, else weights.safetensors in its folder), int4 layers into
/// int4_weights and palettized layers (re-clustered exactly from the file's f32 weights) into
/// palettized_weights, so they run on the packed kernels exactly as optimize validated them.
/// Throws not_found naming both candidates when the side file is missing, format_error naming
/// the file and weight when its entries do not match the model.
HONE_EXPORT executor_options run_options_of(const model& file,
                                            const std::filesystem::path& path = {});

/// The fields of a quant_spec as JSON (hone's packed safetensors records them per weight), and
/// back (format_error naming `what` for a malformed object).
HONE_EXPORT nlohmann::json spec_json(const quant_spec& s);
HONE_EXPORT quant_spec spec_from_json(const nlohmann::json& j, std::string_view what);

/// The tensors whose activation grids an int8-static file needs, in graph order.
HONE_EXPORT std::vector<std::string> deploy_grid_tensors(const deploy_input& in);

/// Makes the file (qdq or matmulnbits; hone's own format is written by the caller), serializes
/// it and reads it back. `source` names it in errors.
HONE_EXPORT deployable make_deployable(const deploy_input& in, artifact_format f,
                                       const std::string& source);

/// Clusters weights that already hold at most `k` distinct values (a codebook's dequantized
/// form, possibly moved to another layout, or fine-tuned centroids): optimal 1-D k-means gives
/// back exactly those values. Fails (internal) if it does not.
HONE_EXPORT palettized_tensor recluster_exact(const_tensor_view w, int k, bool preserve_sparsity,
                                              const std::string& name);
/// Distinct values of w (zeros included when `with_zero`).
HONE_EXPORT int distinct_values(const_tensor_view w, bool with_zero);

} // namespace hone::pipeline
