// hone/data/data_spec.hpp — data sets named by a spec string: the CLI's --calib, --eval, validate
// and sweep, the C ABI's hone_data_source.spec, and any engine that names its data the same way.
//
// A spec is one of
//   fashion-mnist:train | fashion-mnist:test       the Debian dataset-fashion-mnist files
//   IMAGES,LABELS                                  IDX files (raw or .gz); LABELS optional
//   INPUTS.npy[,LABELS.npy]                        NPY: f32 (or u8) inputs, batch first; int
//   labels;
//                                                  or i64/i32 token ids [N, seq] (language models)
//   TEXT.txt                                       text as byte-level token ids (id = byte, the
//                                                  language-model fixture's tokenizer), cut into
//                                                  sequences of the sample shape's length
//                                                  (--input-shape 64); the short tail dropped
// each optionally followed by `:N`: a fixed-seed subset of N samples (dataset::subset), kept in
// file order. A file is NPY when its name ends in ".npy", IDX when it ends in ".idx",
// ".idx.gz", "-ubyte" or "-ubyte.gz" (or its name contains "idx"). Image bytes become f32 in
// [0, 1]; the samples are reshaped to the model's input shape (N×784 or N×1×28×28: any shape
// with the same number of values) and, with a mean and std, normalized as (x − mean) / std.
//
// Slices: the validator adds one slice per class (named by class_names when given); a slice
// file adds named slices. It is a JSON object whose members name a slice each, with either
//   an array of sample indices     {"dark": [3, 17, 256]}
//   a path to an NPY bool mask     {"edge": "edge_mask.npy"}   (relative to the JSON file;
//                                   one b1/u1/integer value per sample, nonzero = member)
// or a JSON array of one label per sample (["Ruth", "Ruth", "Jonah", …]): a slice per label,
// in order of first appearance (the language-model fixture's tokens.eval.slices.json).
// Indices and masks refer to the samples of the file as stored, before any `:N` subset; the
// subset keeps the members it drew, renumbered. Every error names the spec and what is wrong.
#pragma once

#include "hone/core/export.hpp"
#include "hone/core/shape.hpp"
#include "hone/data/dataset.hpp"
#include "hone/io/digest.hpp"

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace hone {

/// A spec taken apart, before any file is read.
struct HONE_EXPORT data_source {
    enum class kind { fashion_mnist, idx, npy, text };
    kind format = kind::fashion_mnist;
    std::string split;                  ///< fashion-mnist: "train" or "test"
    std::filesystem::path inputs;       ///< idx / npy
    std::filesystem::path labels;       ///< idx / npy; empty = no labels
    std::optional<std::int64_t> subset; ///< `:N`
};

/// Parses a spec; throws hone::error(invalid_argument) naming the spec and what is wrong.
HONE_EXPORT data_source parse_data_spec(std::string_view spec);

struct HONE_EXPORT data_options {
    /// Shape of one sample as the model wants it (e.g. {784} or {1, 28, 28}); empty = as read.
    /// A −1 is a dimension the model leaves dynamic: the data's own sample shape is used when it
    /// has the same rank and agrees on every fixed dimension (an NPY of [N, 3, 48, 192] for a
    /// model input [N, 3, H, W]); otherwise load_data fails asking for --input-shape.
    std::vector<std::int64_t> sample_shape;
    std::optional<float> mean; ///< with std: x ← (x − mean) / std
    std::optional<float> std;
    std::filesystem::path slices_file; ///< empty = class slices only
    std::uint64_t seed = 2026;         ///< of the `:N` subset
    std::filesystem::path fashion_mnist_root = dataset::fashion_mnist_root;
};

/// A data set ready for calibration or validation.
struct HONE_EXPORT loaded_data {
    std::string spec;
    dataset data;
    std::vector<named_slice> slices;      ///< from the slice file (class slices: the validator's)
    std::vector<std::string> class_names; ///< Fashion-MNIST's; empty for files
    /// The files read, hashed: the ledger's `data` member (see data_json).
    std::vector<artifact_ref> files;
};

/// Reads the spec's files, subsets, reshapes, normalizes and reads the slice file. Throws
/// hone::error naming the spec: invalid_argument (bad spec or options), io_error (unreadable
/// file), format_error (malformed file or slice file), shape_mismatch (samples do not fit
/// sample_shape; labels and inputs disagree).
HONE_EXPORT loaded_data load_data(std::string_view spec, const data_options& options = {});

/// In-memory samples given by a caller (an engine's own data, the C ABI's data callback), made
/// ready as load_data does (reshaped, normalized, slice file); named "memory:<name>" in errors
/// and in the ledger, whose `files` hold the SHA-256 of the inputs' and the labels' bytes.
HONE_EXPORT loaded_data load_memory(const dataset& d, std::string_view name,
                                    const data_options& options = {});

/// {"spec": ..., "samples": n, "files": [{path, sha256, bytes}], "subset": n, "seed": s,
///  "normalize": {"mean", "std"}, "slices": {name: size}}: what the ledger's `data` records.
HONE_EXPORT std::string data_json(const loaded_data& data, const data_options& options);

/// Parses "784" or "1x28x28" (also "1,28,28"); throws invalid_argument naming the text.
HONE_EXPORT std::vector<std::int64_t> parse_sample_shape(std::string_view text);

} // namespace hone
