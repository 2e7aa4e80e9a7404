#include "hone/core/atomic_file.hpp"

#include "hone/core/error.hpp"

#include <cerrno>
#include <cstring>
#include <fcntl.h>
#include <fmt/format.h>
#include <fstream>
#include <sstream>
#include <sys/stat.h>
#include <unistd.h>

namespace hone {

namespace {

[[noreturn]] void fail_io(const std::string& what, const std::filesystem::path& path) {
    fail(status::io_error, fmt::format("{} '{}': {}", what, path.string(), std::strerror(errno)));
}

void write_all(int fd, std::string_view bytes, const std::filesystem::path& path) {
    while (!bytes.empty()) {
        const ssize_t n = ::write(fd, bytes.data(), bytes.size());
        if (n < 0) {
            if (errno == EINTR) continue;
            fail_io("cannot write", path);
        }
        bytes.remove_prefix(static_cast<std::size_t>(n));
    }
}

} // namespace

void write_file_atomic(const std::filesystem::path& path, std::string_view bytes,
                       unsigned permissions) {
    const auto folder = path.has_parent_path() ? path.parent_path() : std::filesystem::path(".");
    std::string temp = (folder / ("." + path.filename().string() + ".tmp-XXXXXX")).string();
    const int fd = ::mkstemp(temp.data());
    if (fd < 0) fail_io("cannot create a temporary file beside", path);
    try {
        if (::fchmod(fd, permissions) != 0) fail_io("cannot set permissions of", temp);
        write_all(fd, bytes, temp);
        if (::fsync(fd) != 0) fail_io("cannot flush", temp);
        if (::close(fd) != 0) {
            ::unlink(temp.c_str());
            fail_io("cannot close", temp);
        }
    } catch (...) {
        ::close(fd);
        ::unlink(temp.c_str());
        throw;
    }
    if (::rename(temp.c_str(), path.c_str()) != 0) {
        const int saved = errno;
        ::unlink(temp.c_str());
        errno = saved;
        fail_io("cannot replace", path);
    }
    const int dir = ::open(folder.c_str(), O_RDONLY | O_DIRECTORY);
    if (dir >= 0) { // make the rename itself durable
        ::fsync(dir);
        ::close(dir);
    }
}

std::string read_file(const std::filesystem::path& path) {
    std::ifstream in(path, std::ios::binary);
    if (!in) fail_io("cannot open", path);
    std::ostringstream bytes;
    bytes << in.rdbuf();
    if (in.bad()) fail_io("cannot read", path);
    return std::move(bytes).str();
}

} // namespace hone
