// hone/io/digest.hpp — SHA-256 of bytes and files, as lower-case hex.
#pragma once

#include "hone/core/export.hpp"

#include <cstdint>
#include <filesystem>
#include <string>
#include <string_view>

namespace hone {

/// SHA-256 of `bytes`, 64 lower-case hex digits.
HONE_EXPORT std::string sha256_hex(std::string_view bytes);

/// A file as the ledger records it: the path as given, its SHA-256 and its size.
struct artifact_ref {
    std::string path;
    std::string sha256;
    std::uint64_t bytes = 0;
};

/// Hashes a file in a streaming pass. Throws hone::error(io_error) naming the path.
HONE_EXPORT artifact_ref hash_file(const std::filesystem::path& path);

} // namespace hone
