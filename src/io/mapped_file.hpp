// Read-only file mappings for the readers of large files (safetensors, GGUF): opening one, and
// dropping pages of it from resident memory.
#pragma once

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <string_view>
#include <sys/mman.h>
#include <unistd.h>

namespace hone::io::detail {

/// A whole regular file mapped read-only (private), unmapped on destruction. An empty file has
/// no mapping (data() null, size() 0).
class mapped_file {
public:
    mapped_file() = default;
    /// Maps `path`; throws hone::error(io_error) "<kind> '<path>': <what failed>" when it cannot
    /// be opened, is not a regular file or cannot be mapped.
    static mapped_file open(const std::filesystem::path& path, std::string_view kind);
    mapped_file(mapped_file&& other) noexcept : map_(other.map_), size_(other.size_) {
        other.map_ = nullptr;
        other.size_ = 0;
    }
    mapped_file& operator=(mapped_file&& other) noexcept {
        if (this != &other) {
            unmap();
            map_ = other.map_;
            size_ = other.size_;
            other.map_ = nullptr;
            other.size_ = 0;
        }
        return *this;
    }
    mapped_file(const mapped_file&) = delete;
    mapped_file& operator=(const mapped_file&) = delete;
    ~mapped_file() { unmap(); }

    bool mapped() const noexcept { return map_ != nullptr; }
    const std::byte* data() const noexcept { return static_cast<const std::byte*>(map_); }
    std::size_t size() const noexcept { return size_; }

private:
    void unmap() noexcept {
        if (map_ != nullptr) ::munmap(map_, size_);
        map_ = nullptr;
    }
    void* map_ = nullptr;
    std::size_t size_ = 0;
};

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
