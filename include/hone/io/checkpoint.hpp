// hone/io/checkpoint.hpp — a Hugging Face-style checkpoint folder, read tensor by tensor.
//
// A checkpoint folder holds `config.json` and its weights in safetensors files, either one
// `model.safetensors` or shards listed by `model.safetensors.index.json`:
//   {"metadata": {...}, "weight_map": {"<tensor name>": "<shard file name>", ...}}
// Every shard is memory-mapped and validated as hone::io::safetensors_file does (hone/io/
// safetensors.hpp); nothing is read until a tensor is asked for, so opening a 140 GB folder
// costs its headers only. read_f32() copies one tensor out, converting F16 and BF16 exactly.
//
// Opening checks, each failure a hone::error naming the folder, the file and the tensor:
//  - config.json exists (not_found) and is a JSON object (format_error);
//  - with an index: "weight_map" is an object of strings; each shard name is a plain file name
//    in the folder (no '/' or "..": format_error) that exists (not_found); every tensor the
//    index names is in the shard it names, and every tensor of every shard is in the index
//    under that shard (format_error: a checkpoint whose index and shards disagree is refused,
//    not guessed at);
//  - without an index: model.safetensors exists (not_found).
// Tensor names are unique across shards by construction of these checks.
#pragma once

#include "hone/core/export.hpp"
#include "hone/core/tensor.hpp"
#include "hone/io/safetensors.hpp"

#include <filesystem>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace hone::io {

class HONE_EXPORT checkpoint {
public:
    /// Opens and validates the folder (see the top). Throws not_found, format_error,
    /// unsupported (a shard dtype hone lacks), io_error.
    static checkpoint open(const std::filesystem::path& folder);

    const std::filesystem::path& folder() const noexcept;
    /// config.json's text, as in the file.
    const std::string& config_text() const noexcept;
    /// Shard paths in name order (one path for a single-file checkpoint).
    std::vector<std::filesystem::path> shards() const;
    /// Every tensor name, ascending.
    std::vector<std::string> names() const;
    bool contains(std::string_view name) const noexcept;
    /// The tensor's header entry; throws not_found naming the folder and the tensor.
    const safetensors_tensor_info& info(std::string_view name) const;
    /// The shard file that holds the tensor.
    const std::filesystem::path& shard_of(std::string_view name) const;
    /// A zero-copy view into the mapped shard (see safetensors_file::view's alignment rule).
    const_tensor_view view(std::string_view name) const;
    /// A contiguous f32 copy of the tensor (F32, F16, BF16 in the file; other dtypes:
    /// dtype_mismatch naming the tensor and its dtype). The mapped pages it read are released
    /// (safetensors_file::release): reading a checkpoint tensor by tensor keeps one tensor
    /// resident, not the files.
    tensor read_f32(std::string_view name) const;

    struct impl;

private:
    explicit checkpoint(std::shared_ptr<const impl> state) noexcept;
    std::shared_ptr<const impl> impl_;
};

} // namespace hone::io
