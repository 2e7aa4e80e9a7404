// hone/io/onnx.hpp — ONNX models in and out (opsets 9 to 21), through libonnx's protobuf classes.
//
// Reading treats the file as hostile. Before anything is allocated every count, dimension and
// size is checked in 64 bits against the bytes really present: a tensor's raw_data must hold
// exactly dims × element size bytes (typed fields exactly dims values; INT4 / UINT4: ⌈n/2⌉
// bytes, two values per byte, low nibble first, read as hone's i4 / u4); names are unique;
// external data locations are relative paths that, once canonicalized (symlinks resolved),
// stay inside the model's folder, and their offset/length lie inside the side file; the graph
// is checked for missing inputs and cycles (hone::validate); QuantizeLinear / DequantizeLinear
// with constant inputs have their scale and zero point shapes checked against x, axis and
// block_size (opset 21; block_size must divide the axis). Errors are hone::error with
// format_error (malformed), unsupported (valid ONNX hone does not handle: opset outside 9–21,
// double tensors, subgraph attributes, sparse tensors) or io_error, each naming the file and the
// field, tensor or node.
//
// What the reader does to the graph (see hone/model/model.hpp):
// - initializers, Constant nodes and external data all become weights (model::origin says
//   which); initializers listed among the graph inputs (IR < 4 style) are not inputs;
// - operators whose attributes moved to inputs before opset 13 are rewritten to their opset-13
//   forms and model::opset is raised to 13 (model::source_opset keeps the file's);
// - anonymous nodes are named "<op_type>_<index>".
//
// Writing (save_onnx) puts every weight in an initializer (raw_data, little-endian) or, above a
// size threshold, in one external data file beside the model; the result passes
// onnx::checker::check_model (opset ≤ 17; a newer model, beyond the linked libonnx 1.12, is
// checked by reading its bytes back through this reader), and load → save → load gives
// bit-identical weights. Files are
// written atomically (hone/core/atomic_file.hpp). Quantized models in ONNX's QDQ form:
// hone/io/qdq.hpp (to_qdq, then save_onnx).
#pragma once

#include "hone/core/export.hpp"
#include "hone/model/model.hpp"

#include <cstdint>
#include <filesystem>
#include <string>
#include <string_view>

namespace hone {

struct onnx_load_options {
    /// Largest model file accepted (protobuf itself cannot parse more than 2 GiB).
    std::uint64_t max_file_bytes = std::uint64_t(2) << 30;
    /// Whether external data files may be read at all.
    bool allow_external_data = true;
};

/// Reads an ONNX model file. External data is looked up relative to the file's folder.
HONE_EXPORT model load_onnx(const std::filesystem::path& path,
                            const onnx_load_options& options = {});

/// Parses the bytes of an ONNX model. `source` names it in errors; external data is looked up
/// relative to `base_dir`, and refused when base_dir is empty.
HONE_EXPORT model parse_onnx(std::string_view bytes, std::string_view source,
                             const std::filesystem::path& base_dir = {},
                             const onnx_load_options& options = {});

struct onnx_save_options {
    /// Weights of at least this many bytes go to the external data file (0: none do).
    std::uint64_t external_threshold = 0;
    /// Name of the external data file, in the model's folder; default "<model file name>.data".
    std::string external_file;
    /// Run onnx::checker on the result before writing (throws format_error naming the check).
    bool check = true;
};

/// Writes `m` as an ONNX file, atomically (and its external data file first, if any).
HONE_EXPORT void save_onnx(const model& m, const std::filesystem::path& path,
                           const onnx_save_options& options = {});

/// The serialized ModelProto of `m` with every weight inline (checked with onnx::checker when
/// `check`).
HONE_EXPORT std::string serialize_onnx(const model& m, bool check = true);

/// Runs onnx::checker::check_model on a file; throws format_error with the checker's message.
HONE_EXPORT void check_onnx(const std::filesystem::path& path);

} // namespace hone
