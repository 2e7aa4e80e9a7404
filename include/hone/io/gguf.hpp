// hone/io/gguf.hpp — GGUF files (llama.cpp's model format) in and out, every field validated.
//
// Format (GGUF v3, https://github.com/ggml-org/ggml/blob/master/docs/gguf.md), little-endian,
// fields back to back without alignment unless stated:
//   "GGUF" (4 bytes) | u32 version | u64 tensor_count | u64 metadata_kv_count
//   metadata_kv_count × { string key | u32 value type | value }
//   tensor_count × { string name | u32 n_dimensions | u64 dims[n_dimensions] | u32 ggml type |
//                    u64 offset }
//   zero padding to a multiple of ALIGNMENT | tensor data section
// A string is a u64 byte length and that many bytes (UTF-8, no NUL). A value is the scalar's
// bytes (bool: one byte, 0 or 1), a string, or an array: u32 element type, u64 count, elements.
// ALIGNMENT is the u32 metadata "general.alignment" (default 32). Offsets are relative to the
// data section and multiples of ALIGNMENT. dims[0] is the innermost (contiguous) axis: a
// PyTorch weight [out, in] has dims {in, out}. Row bytes = dims[0] / block size × block bytes.
//
// Reading treats every byte as hostile. Before any tensor is exposed, hone checks, with
// overflow-checked 64-bit arithmetic and before allocating anything a count or length asks for:
//  - magic "GGUF"; version 2 or 3 (same layout; 1 had 32-bit counts and is `unsupported`, as
//    are versions above 3 and byte-swapped (big-endian) files);
//  - every count and length against the bytes that remain (a key-value needs ≥ 14, a tensor
//    info ≥ 33, an array element ≥ its size, a string element ≥ 8): a hostile count of 2^60
//    allocates nothing; every field is read only after the bytes it spans are known present;
//  - keys non-empty, at most 65535 bytes, unique; value types 0..12; bools 0 or 1; arrays of
//    arrays are `unsupported` (ggml refuses them too);
//  - "general.alignment", if present, a UINT32 power of two;
//  - tensor names non-empty, at most 64 bytes, unique; 1 to 4 dimensions (more: unsupported),
//    each < 2^63 with the element count < 2^63; the ggml type one of gguf_type (others:
//    `unsupported`, naming the tensor and the number); dims[0] a multiple of the block size;
//  - the data section (header end rounded up to ALIGNMENT) starts within the file; each
//    tensor's offset is a multiple of ALIGNMENT and offset + bytes lies within the file;
//    tensors do not overlap. Gaps between tensors and bytes after the last are allowed (the
//    spec allows them; ggml's loader wants the tensors back to back in info order, which is
//    what write_gguf produces).
// Every error is a hone::error (format_error, unsupported, io_error, not_found) whose message
// names the file (or "<memory>"), and the key, tensor and field.
//
// Files are memory-mapped read-only; spans returned by data() point into the mapping and stay
// valid as long as any copy of the gguf_file lives. If another process truncates the file
// while it is mapped, reading a span can fault (SIGBUS) — parse() a copy of files whose
// lifetime you do not control.
//
// Writing (write_gguf) streams: it lays out the file first (plan_gguf), writes the header, then
// asks `fill` for each tensor's bytes in turn into one buffer of that tensor's size, so memory
// stays bounded by the largest tensor. The layout is ggml's: tensors back to back in the order
// given, each padded with zeros to ALIGNMENT, the file ending with the last tensor's padding.
// The file is written atomically (temporary file in the same folder, fsync, rename); on any
// error, including an exception thrown by `fill`, no file and no temporary is left.
#pragma once

#include "hone/core/export.hpp"

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

namespace hone::io {

inline constexpr std::uint32_t gguf_version = 3;
inline constexpr std::uint32_t gguf_default_alignment = 32;
/// Longest tensor name the spec allows. The writer keeps names under it (≤ 63 bytes): ggml
/// stores names NUL-terminated in 64 bytes and refuses a 64-byte name.
inline constexpr std::size_t gguf_max_name_bytes = 64;
/// Longest metadata key the spec allows (2^16 − 1 bytes).
inline constexpr std::size_t gguf_max_key_bytes = 65535;
/// Most dimensions a tensor may have (ggml's GGML_MAX_DIMS).
inline constexpr std::size_t gguf_max_dims = 4;

/// ggml tensor types hone reads and writes, with their numbers in the file. Other ggml types
/// (Q8_1, the IQ*, TQ* and MXFP4 families, ...) are refused as `unsupported`.
enum class gguf_type : std::uint32_t {
    f32 = 0,
    f16 = 1,
    q4_0 = 2,
    q4_1 = 3,
    q5_0 = 6,
    q5_1 = 7,
    q8_0 = 8,
    q2_k = 10,
    q3_k = 11,
    q4_k = 12,
    q5_k = 13,
    q6_k = 14,
    q8_k = 15,
    i8 = 24,
    i16 = 25,
    i32 = 26,
    i64 = 27,
    f64 = 28,
    bf16 = 30,
};

/// Whether `type` is one of gguf_type's values.
HONE_EXPORT bool gguf_type_known(gguf_type type) noexcept;
/// The name llama.cpp gives the type ("F32", "Q4_K", "BF16"), or "unknown".
HONE_EXPORT std::string_view gguf_type_name(gguf_type type) noexcept;
/// The type of a name as gguf_type_name spells it (case-sensitive), or nullopt.
HONE_EXPORT std::optional<gguf_type> gguf_type_from_name(std::string_view name) noexcept;
/// Elements per block (1 for plain types, 32 for Q4_0..Q8_0, 256 for the K-quants). Throws
/// unsupported for a value not in gguf_type.
HONE_EXPORT std::uint64_t gguf_block_size(gguf_type type);
/// Bytes per block (e.g. 18 for Q4_0, 144 for Q4_K). Throws unsupported as gguf_block_size.
HONE_EXPORT std::uint64_t gguf_block_bytes(gguf_type type);
/// Bytes of a tensor of `type` with ggml dims (dims[0] innermost): dims[0] / block size × block
/// bytes × dims[1] × ... Throws invalid_argument when dims is empty or longer than 4, dims[0] is
/// not a multiple of the block size, or a dimension, the element count or the byte count
/// reaches 2^63; unsupported for an unknown type.
HONE_EXPORT std::uint64_t gguf_tensor_bytes(gguf_type type, std::span<const std::uint64_t> dims);

/// Metadata value types, with their numbers in the file.
enum class gguf_value_type : std::uint32_t {
    uint8 = 0,
    int8 = 1,
    uint16 = 2,
    int16 = 3,
    uint32 = 4,
    int32 = 5,
    float32 = 6,
    boolean = 7,
    string = 8,
    array = 9,
    uint64 = 10,
    int64 = 11,
    float64 = 12,
};

/// "UINT8", "STRING", "ARRAY", ... (the spec's names), or "unknown".
HONE_EXPORT std::string_view gguf_value_type_name(gguf_value_type type) noexcept;

/// The elements of an array value; the alternative's index is the element type's number, less
/// one past ARRAY (arrays of arrays are not supported).
using gguf_array_values =
    std::variant<std::vector<std::uint8_t>, std::vector<std::int8_t>, std::vector<std::uint16_t>,
                 std::vector<std::int16_t>, std::vector<std::uint32_t>, std::vector<std::int32_t>,
                 std::vector<float>, std::vector<bool>, std::vector<std::string>,
                 std::vector<std::uint64_t>, std::vector<std::int64_t>, std::vector<double>>;

/// An ARRAY value: `gguf_array{std::vector<std::string>{"a", "b"}}`.
struct HONE_EXPORT gguf_array {
    gguf_array_values values;

    /// The element type (never ARRAY).
    gguf_value_type element_type() const noexcept;
    std::size_t size() const noexcept;
    bool operator==(const gguf_array&) const = default;
};

/// A metadata value. The alternative's index is the value type's number: value.index() ==
/// static_cast<std::size_t>(gguf_value_type::...). Spell the C++ type to pick the GGUF type:
/// `std::uint32_t{32}`, `1.5f` (FLOAT32), `std::string("llama")`.
using gguf_value = std::variant<std::uint8_t, std::int8_t, std::uint16_t, std::int16_t,
                                std::uint32_t, std::int32_t, float, bool, std::string, gguf_array,
                                std::uint64_t, std::int64_t, double>;

/// The GGUF type of a value.
HONE_EXPORT gguf_value_type gguf_type_of(const gguf_value& value) noexcept;

/// Metadata in file order.
using gguf_metadata = std::vector<std::pair<std::string, gguf_value>>;

/// The value of `key` in `kv`, or null.
HONE_EXPORT const gguf_value* gguf_find(const gguf_metadata& kv, std::string_view key) noexcept;

/// One tensor as its info describes it.
struct gguf_tensor_info {
    std::string name;
    std::vector<std::uint64_t> dims; ///< ggml order: dims[0] is the innermost axis
    gguf_type type = gguf_type::f32;
    std::uint64_t offset = 0; ///< from the start of the data section; a multiple of alignment()
    std::uint64_t bytes = 0;  ///< gguf_tensor_bytes(type, dims)
};

/// A validated GGUF file (or buffer). Cheap to copy (shared state).
class HONE_EXPORT gguf_file {
public:
    /// Maps and validates `path`. Throws io_error (cannot open/map), format_error, unsupported.
    static gguf_file open(const std::filesystem::path& path);
    /// Validates a copy of `bytes`; `source` names it in errors (e.g. a path or "<memory>").
    static gguf_file parse(std::span<const std::byte> bytes, std::string_view source = "<memory>");

    /// Where the bytes came from (the path, or the source given to parse()).
    const std::string& source() const noexcept;
    /// The header's version (2 or 3).
    std::uint32_t version() const noexcept;
    /// "general.alignment", or 32.
    std::uint64_t alignment() const noexcept;
    /// Metadata in file order.
    const gguf_metadata& metadata() const noexcept;
    /// The value of `key`, or null.
    const gguf_value* find(std::string_view key) const noexcept;
    /// The value of `key`; throws not_found naming the file and the key.
    const gguf_value& get(std::string_view key) const;
    /// The value of `key` as a T (one of gguf_value's alternatives); throws not_found, or
    /// format_error naming the key, the type wanted and the type found.
    template <class T> const T& get(std::string_view key) const {
        const gguf_value& v = get(key);
        if (const T* p = std::get_if<T>(&v)) return *p;
        wrong_type(key, static_cast<gguf_value_type>(gguf_value(std::in_place_type<T>).index()), v);
    }
    /// Tensors in file (tensor-info) order.
    const std::vector<gguf_tensor_info>& tensors() const noexcept;
    bool contains(std::string_view name) const noexcept;
    /// The tensor's info; throws not_found naming the file and the tensor.
    const gguf_tensor_info& info(std::string_view name) const;
    /// The tensor's bytes in the file (zero-copy). Throws not_found.
    std::span<const std::byte> data(std::string_view name) const;
    /// Drops the tensor's mapped pages from resident memory (as safetensors_file::release:
    /// reading tensor by tensor keeps one resident). Throws not_found; nothing for parse().
    void release(std::string_view name) const;
    /// Where the data section starts, from the start of the file.
    std::uint64_t data_offset() const noexcept;
    /// The file's size in bytes.
    std::uint64_t file_size() const noexcept;

    struct impl;

private:
    explicit gguf_file(std::shared_ptr<const impl> state) noexcept;
    [[noreturn]] void wrong_type(std::string_view key, gguf_value_type wanted,
                                 const gguf_value& found) const;
    std::shared_ptr<const impl> impl_;
};

/// A tensor to write: its name (non-empty, ≤ 63 bytes, unique), ggml dims (1 to 4, dims[0]
/// innermost and a multiple of the type's block size) and type.
struct gguf_tensor_spec {
    std::string name;
    std::vector<std::uint64_t> dims;
    gguf_type type = gguf_type::f32;
};

/// Where everything of a file write_gguf would write goes.
struct gguf_layout {
    std::uint64_t alignment = gguf_default_alignment;
    std::uint64_t header_bytes = 0;     ///< magic to the end of the tensor infos, unpadded
    std::uint64_t data_offset = 0;      ///< header_bytes rounded up to alignment
    std::vector<std::uint64_t> offsets; ///< per tensor, from data_offset
    std::vector<std::uint64_t> bytes;   ///< per tensor, unpadded
    std::uint64_t file_bytes = 0;       ///< the whole file
};

/// Writes the bytes of tensor `index` (of the specs given) into `dst`, which has exactly
/// gguf_tensor_bytes(type, dims) bytes, zero-initialised.
using gguf_fill = std::function<void(std::size_t index, std::span<std::byte> dst)>;

/// Validates `kv` and `tensors` as write_gguf does and lays the file out. Throws
/// invalid_argument naming the key or tensor: an empty, over-long (65535 bytes), non-ASCII or
/// duplicate key; "general.alignment" not a UINT32 power of two that is a multiple of 8 (the
/// spec's rule); an empty, over-long (63 bytes) or duplicate tensor name; bad dims (see
/// gguf_tensor_spec, gguf_tensor_bytes); unsupported for a type not in gguf_type.
HONE_EXPORT gguf_layout plan_gguf(const gguf_metadata& kv,
                                  std::span<const gguf_tensor_spec> tensors);

/// Writes a GGUF v3 file atomically, streaming tensor data through `fill` (see the top of this
/// header). Throws as plan_gguf, io_error naming the path, or whatever `fill` throws; on any
/// error no file and no temporary file is left (an existing file at `path` is untouched).
HONE_EXPORT void write_gguf(const std::filesystem::path& path, const gguf_metadata& kv,
                            std::span<const gguf_tensor_spec> tensors, const gguf_fill& fill);

/// The bytes write_gguf would write, in memory (for tests and small files).
HONE_EXPORT std::string serialize_gguf(const gguf_metadata& kv,
                                       std::span<const gguf_tensor_spec> tensors,
                                       const gguf_fill& fill);

} // namespace hone::io
