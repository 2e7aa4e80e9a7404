// Dropping pages of a read-only file mapping from resident memory (the safetensors and GGUF
// readers' release()).
#pragma once

#include <cstdint>
#include <sys/mman.h>
#include <unistd.h>

namespace hone::io::detail {

/// madvise(MADV_DONTNEED) on the whole pages inside [begin, end) of a private read-only file
/// mapping: they leave the resident set and a later access reads them from the file again. A
/// page shared with bytes outside the range stays. Advice only: a failure changes nothing.
inline void release_pages(const void* begin, const void* end) noexcept {
    const auto page = static_cast<std::uintptr_t>(::sysconf(_SC_PAGESIZE));
    const auto first = reinterpret_cast<std::uintptr_t>(begin);
    const auto last = reinterpret_cast<std::uintptr_t>(end);
    const std::uintptr_t from = (first + page - 1) / page * page, to = last / page * page;
    if (to > from)
        (void)::madvise(reinterpret_cast<void*>(from), static_cast<std::size_t>(to - from),
                        MADV_DONTNEED);
}

} // namespace hone::io::detail
