#include "hone/core/atomic_file.hpp"
#include "hone/core/error.hpp"
#include "hone/data/arrays.hpp"

#include <fmt/format.h>
#include <zlib.h>

namespace hone {

std::string read_maybe_gzip(const std::filesystem::path& path, std::uint64_t limit) {
    std::string raw = read_file(path);
    const bool gzip = raw.size() >= 2 && static_cast<unsigned char>(raw[0]) == 0x1f &&
                      static_cast<unsigned char>(raw[1]) == 0x8b;
    if (!gzip) {
        if (raw.size() > limit)
            fail(status::format_error,
                 fmt::format("'{}' is larger than the limit of {} bytes", path.string(), limit));
        return raw;
    }
    if (raw.size() > 0xffffffffu)
        fail(status::format_error, fmt::format("'{}': compressed files over 4 GiB are not "
                                               "supported",
                                               path.string()));
    z_stream z{};
    if (inflateInit2(&z, 15 + 32) != Z_OK) // 32: accept the gzip header
        fail(status::internal, "zlib: inflateInit2 failed");
    std::string out;
    char chunk[1 << 16];
    z.next_in = reinterpret_cast<Bytef*>(raw.data());
    z.avail_in = static_cast<uInt>(raw.size());
    int rc = Z_OK;
    while (rc != Z_STREAM_END) {
        z.next_out = reinterpret_cast<Bytef*>(chunk);
        z.avail_out = sizeof chunk;
        rc = inflate(&z, Z_NO_FLUSH);
        if (rc != Z_OK && rc != Z_STREAM_END) {
            inflateEnd(&z);
            fail(status::format_error,
                 fmt::format("'{}': corrupt gzip data ({})", path.string(),
                             z.msg ? z.msg : (rc == Z_BUF_ERROR ? "truncated" : "zlib error")));
        }
        out.append(chunk, sizeof chunk - z.avail_out);
        if (out.size() > limit) {
            inflateEnd(&z);
            fail(status::format_error,
                 fmt::format("'{}' inflates to more than the limit of {} bytes", path.string(),
                             limit));
        }
        if (rc == Z_OK && z.avail_in == 0 && z.avail_out != 0) {
            inflateEnd(&z);
            fail(status::format_error, fmt::format("'{}': truncated gzip data", path.string()));
        }
    }
    inflateEnd(&z);
    return out;
}

} // namespace hone
