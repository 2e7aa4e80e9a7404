// hone/data/arrays.hpp — reading numeric arrays from IDX and NPY files.
//
// Both readers treat the bytes as hostile: every dimension, count and size is checked in 64
// bits against the bytes actually present before anything is allocated, and errors name the
// file and the field (hone::error(format_error)). gzip-compressed files (IDX as distributed,
// e.g. Fashion-MNIST) are inflated with a size bound.
//
// IDX (LeCun's MNIST format): 0x00 0x00, a type byte (0x08 u8, 0x09 i8, 0x0B i16, 0x0C i32,
// 0x0D f32, 0x0E f64), a rank byte, then rank big-endian u32 dimensions and the data,
// big-endian. NPY (NumPy ≥ 1.0, format versions 1–3): "\x93NUMPY", version, header length, a
// Python dict literal {'descr', 'fortran_order', 'shape'}, then C-order data.
#pragma once

#include "hone/core/export.hpp"
#include "hone/core/tensor.hpp"

#include <cstdint>
#include <filesystem>
#include <string>
#include <string_view>

namespace hone {

/// The bytes of a file, inflated when it is gzip-compressed (magic 1f 8b); at most `limit`
/// bytes after inflation. Throws io_error (unreadable) or format_error (corrupt, too large).
HONE_EXPORT std::string read_maybe_gzip(const std::filesystem::path& path,
                                        std::uint64_t limit = std::uint64_t(4) << 30);

/// Parses IDX bytes into a tensor of the matching dtype (u8, i8, i32, f32; i16 → i32,
/// f64 → f32). `source` names the file in errors.
HONE_EXPORT tensor parse_idx(std::string_view bytes, std::string_view source);

/// Parses NPY bytes: dtypes f4, f8 (→ f32), i1, u1, i4, i8, b1; little-endian or
/// byte-order-free; C order only. `source` names the file in errors.
HONE_EXPORT tensor parse_npy(std::string_view bytes, std::string_view source);

/// Writes a C-order little-endian NPY (version 1.0) file atomically (f32, i64, i32, u8, i8).
HONE_EXPORT void save_npy(const std::filesystem::path& path, const_tensor_view array);

} // namespace hone
