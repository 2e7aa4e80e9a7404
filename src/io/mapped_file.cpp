// Read-only file mappings (mapped_file.hpp).
#include "mapped_file.hpp"

#include "hone/core/error.hpp"

#include <cerrno>
#include <cstring>
#include <fcntl.h>
#include <fmt/format.h>
#include <string>
#include <sys/stat.h>

namespace hone::io::detail {

mapped_file mapped_file::open(const std::filesystem::path& path, std::string_view kind) {
    const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        fail(status::io_error,
             fmt::format("{} '{}': cannot open: {}", kind, path.string(), std::strerror(errno)));
    struct stat st {};
    if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        const int err = errno;
        ::close(fd);
        fail(status::io_error, fmt::format("{} '{}': not a regular file{}", kind, path.string(),
                                           err ? std::string(": ") + std::strerror(err) : ""));
    }
    mapped_file m;
    m.size_ = static_cast<std::size_t>(st.st_size);
    if (m.size_ > 0) {
        void* p = ::mmap(nullptr, m.size_, PROT_READ, MAP_PRIVATE, fd, 0);
        if (p == MAP_FAILED) {
            const int err = errno;
            ::close(fd);
            fail(status::io_error, fmt::format("{} '{}': cannot map {} bytes: {}", kind,
                                               path.string(), m.size_, std::strerror(err)));
        }
        m.map_ = p;
    }
    ::close(fd);
    return m;
}

} // namespace hone::io::detail
