#include "hone/io/digest.hpp"

#include "hone/core/error.hpp"

#include <array>
#include <cerrno>
#include <cstring>
#include <fmt/format.h>
#include <fstream>
#include <memory>
#include <openssl/evp.h>

namespace hone {

namespace {

struct digest_context {
    std::unique_ptr<EVP_MD_CTX, decltype(&EVP_MD_CTX_free)> ctx{EVP_MD_CTX_new(), EVP_MD_CTX_free};
    digest_context() {
        if (!ctx || EVP_DigestInit_ex(ctx.get(), EVP_sha256(), nullptr) != 1)
            fail(status::internal, "OpenSSL: cannot initialise SHA-256");
    }
    void update(const void* data, std::size_t n) {
        if (EVP_DigestUpdate(ctx.get(), data, n) != 1)
            fail(status::internal, "OpenSSL: SHA-256 update");
    }
    std::string hex() {
        std::array<unsigned char, EVP_MAX_MD_SIZE> md{};
        unsigned int n = 0;
        if (EVP_DigestFinal_ex(ctx.get(), md.data(), &n) != 1)
            fail(status::internal, "OpenSSL: SHA-256 final");
        std::string out;
        out.reserve(2 * n);
        for (unsigned int i = 0; i < n; ++i)
            out += fmt::format("{:02x}", md[i]);
        return out;
    }
};

} // namespace

std::string sha256_hex(std::string_view bytes) {
    digest_context d;
    d.update(bytes.data(), bytes.size());
    return d.hex();
}

artifact_ref hash_file(const std::filesystem::path& path) {
    std::ifstream in(path, std::ios::binary);
    if (!in)
        fail(status::io_error,
             fmt::format("cannot open artifact '{}': {}", path.string(), std::strerror(errno)));
    digest_context d;
    std::array<char, 1 << 16> buffer;
    std::uint64_t total = 0;
    while (in) {
        in.read(buffer.data(), buffer.size());
        const auto n = static_cast<std::size_t>(in.gcount());
        d.update(buffer.data(), n);
        total += n;
    }
    if (in.bad()) fail(status::io_error, fmt::format("cannot read artifact '{}'", path.string()));
    return {path.string(), d.hex(), total};
}

} // namespace hone
