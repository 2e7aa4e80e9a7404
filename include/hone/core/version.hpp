// hone/core/version.hpp — version of the library actually loaded (may differ from the headers).
#pragma once

#include "hone/core/export.hpp"

#include <string_view>

namespace hone {

struct version_info {
    int major;
    int minor;
    int patch;
    std::string_view text; ///< "major.minor.patch"
};

HONE_EXPORT version_info version() noexcept;
/// The C ABI version; equals the shared library's SOVERSION.
HONE_EXPORT int abi_version() noexcept;
/// Bumped whenever any packed layout of docs/formats.md changes.
HONE_EXPORT int packed_format_version() noexcept;

} // namespace hone
