// hone/core/atomic_file.hpp — whole-file writes that are all-or-nothing.
//
// The bytes go to a temporary file in the destination's folder, are flushed to disk (fsync),
// and the temporary is renamed over the destination, then the folder is synced. A reader sees
// the old file or the new one, never a mix; a failure leaves the old file untouched and no
// temporary behind. Throws hone::error(io_error) naming the path and the system error.
#pragma once

#include "hone/core/export.hpp"

#include <filesystem>
#include <string>
#include <string_view>

namespace hone {

HONE_EXPORT void write_file_atomic(const std::filesystem::path& path, std::string_view bytes,
                                   unsigned permissions = 0644);

/// Reads a whole file; throws hone::error(io_error) naming the path when it cannot.
HONE_EXPORT std::string read_file(const std::filesystem::path& path);

} // namespace hone
