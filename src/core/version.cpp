#include "hone/core/version.hpp"

#include "hone/hone.h"

#define HONE_STR2_(x) #x
#define HONE_STR_(x) HONE_STR2_(x)

namespace hone {

version_info version() noexcept {
    return {HONE_VERSION_MAJOR, HONE_VERSION_MINOR, HONE_VERSION_PATCH,
            HONE_STR_(HONE_VERSION_MAJOR) "." HONE_STR_(HONE_VERSION_MINOR) "." HONE_STR_(
                HONE_VERSION_PATCH)};
}

int abi_version() noexcept { return HONE_ABI_VERSION; }
int packed_format_version() noexcept { return HONE_PACKED_FORMAT_VERSION; }

} // namespace hone
