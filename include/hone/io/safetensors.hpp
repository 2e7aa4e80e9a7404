// hone/io/safetensors.hpp — safetensors files in and out, every header field validated.
//
// Format (https://github.com/huggingface/safetensors): an 8-byte little-endian unsigned header
// size N, then N bytes of UTF-8 JSON, then the byte buffer:
//   { "<name>": {"dtype": "F32", "shape": [2, 3], "data_offsets": [begin, end]}, ...,
//     "__metadata__": {"<key>": "<string value>", ...} }
// Offsets are relative to the start of the byte buffer (8 + N). Tensors are row-major,
// little-endian.
//
// Reading treats every byte as hostile. Before any tensor is exposed, hone checks:
//  - the file is at least 8 bytes; N ≤ file size − 8 and N ≤ max_header_bytes (100 MiB, the
//    reference implementation's bound) — nothing is allocated for the header before this;
//  - the header starts with '{' and is one JSON object (nlohmann_json; trailing spaces allowed
//    as the spec pads with them), nesting at most 3 deep, with no duplicate key anywhere;
//  - "__metadata__", if present, is an object of string values;
//  - each tensor entry has exactly the fields dtype (string), shape (array of non-negative
//    integers, at most 8 — hone's maximum rank) and data_offsets (two non-negative integers);
//  - dtype is one hone maps (F32, F16, BF16, I8, U8, I32, I64, BOOL); other dtypes of the spec
//    (F64, I16, U16, U32, U64, F8_*, ...) are `unsupported`, unknown strings `format_error`;
//  - begin ≤ end ≤ buffer size, and shape product × element size == end − begin, all in
//    checked 64-bit arithmetic;
//  - taken in offset order, the tensors are contiguous and non-overlapping and cover the buffer
//    exactly (the spec forbids holes: no polyglot files).
// Every error is a hone::error (format_error, unsupported, io_error, not_found) whose message
// names the file (or "<memory>"), the tensor and the field.
//
// Files are memory-mapped read-only; views returned by view() point into the mapping and stay
// valid as long as any copy of the safetensors_file lives. If another process truncates the
// file while it is mapped, reading a view can fault (SIGBUS) — use read() on files you do not
// control the lifetime of, or parse() a copy.
//
// Writing (save_safetensors / serialize_safetensors) follows the reference implementation's
// layout: tensors ordered by element size (largest first) then name, so every tensor's offset
// is a multiple of its element size; the header padded with spaces to a multiple of 8 bytes, so
// the buffer starts 8-aligned and views of a mapped file are aligned. Files are written
// atomically (temporary file, fsync, rename). load → save → load is bit-exact.
#pragma once

#include "hone/core/export.hpp"
#include "hone/core/tensor.hpp"

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace hone::io {

/// Bound on the JSON header size, as the reference implementation's.
inline constexpr std::uint64_t safetensors_max_header_bytes = 100ull << 20;

/// One tensor as its header describes it.
struct safetensors_tensor_info {
    std::string name;
    hone::dtype type = hone::dtype::f32;
    hone::shape dims;
    std::uint64_t begin = 0; ///< byte offset in the buffer
    std::uint64_t end = 0;   ///< one past the last byte
};

using safetensors_metadata = std::map<std::string, std::string, std::less<>>;

/// A validated safetensors file (or buffer). Cheap to copy (shared state).
class HONE_EXPORT safetensors_file {
public:
    /// Maps and validates `path`. Throws io_error (cannot open/map), format_error, unsupported.
    static safetensors_file open(const std::filesystem::path& path);
    /// Validates a copy of `bytes`; `source` names it in errors (e.g. a path or "<memory>").
    static safetensors_file parse(std::span<const std::byte> bytes,
                                  std::string_view source = "<memory>");

    /// Where the bytes came from (the path, or the source given to parse()).
    const std::string& source() const noexcept;
    /// Tensors in buffer (offset) order.
    const std::vector<safetensors_tensor_info>& tensors() const noexcept;
    /// Names in buffer order.
    std::vector<std::string> names() const;
    bool contains(std::string_view name) const noexcept;
    /// The tensor's header entry; throws not_found naming the file and the tensor.
    const safetensors_tensor_info& info(std::string_view name) const;
    /// A zero-copy view into the file. Throws not_found, or unsupported when the tensor's data
    /// is not aligned for its element type (possible in files written by other tools; read()
    /// works for those).
    const_tensor_view view(std::string_view name) const;
    /// A copy of the tensor (any alignment).
    tensor read(std::string_view name) const;
    /// read() that releases the mapped pages as it copies them (64 MiB at a time): resident
    /// memory grows by the copy only, not by the file's pages as well. For reading a
    /// checkpoint larger than memory tensor by tensor.
    tensor take(std::string_view name) const;
    /// Drops the tensor's pages from this process's resident memory (madvise MADV_DONTNEED on
    /// the whole pages inside its bytes; the file is unchanged and a later view or read maps
    /// them in again). Reading a checkpoint tensor by tensor with read() then release() keeps
    /// resident memory at one tensor, whatever the file's size. Views of the tensor stay
    /// valid. Throws not_found; does nothing for a parse()d buffer.
    void release(std::string_view name) const;
    /// The "__metadata__" map (empty when absent).
    const safetensors_metadata& metadata() const noexcept;
    /// N, the JSON header's size in bytes (padding included).
    std::uint64_t header_bytes() const noexcept;

    struct impl;

private:
    explicit safetensors_file(std::shared_ptr<const impl> state) noexcept;
    std::shared_ptr<const impl> impl_;
};

/// A tensor to write: its name (non-empty, not "__metadata__") and its data (any view of a
/// dtype safetensors has: f32, f16, bf16, i8, u8, i32, i64, bool; strided views are gathered).
struct safetensors_entry {
    std::string name;
    const_tensor_view data;
};

/// The bytes of a safetensors file holding `tensors` and `metadata`. Throws invalid_argument
/// (empty, reserved or duplicate name) or unsupported (a packed dtype: store i4/u4 as u8 bytes
/// and describe the packing in the metadata, see docs/formats.md).
HONE_EXPORT std::string serialize_safetensors(std::span<const safetensors_entry> tensors,
                                              const safetensors_metadata& metadata = {});

/// Writes serialize_safetensors(tensors, metadata) to `path` atomically. Throws as
/// serialize_safetensors, and io_error naming the path.
HONE_EXPORT void save_safetensors(const std::filesystem::path& path,
                                  std::span<const safetensors_entry> tensors,
                                  const safetensors_metadata& metadata = {});

/// The safetensors dtype string of a hone dtype ("F32", "BOOL", ...); throws unsupported for
/// i4/u4.
HONE_EXPORT std::string_view safetensors_dtype_name(hone::dtype type);

} // namespace hone::io
