#include "hone/ledger/identity.hpp"

#include "hone/core/atomic_file.hpp"
#include "hone/core/error.hpp"

#include <fmt/format.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <vector>

namespace hone {

namespace {

using pkey_ptr = std::unique_ptr<EVP_PKEY, decltype(&EVP_PKEY_free)>;
using bio_ptr = std::unique_ptr<BIO, decltype(&BIO_free)>;

std::string to_hex(const unsigned char* p, std::size_t n) {
    std::string out;
    out.reserve(2 * n);
    for (std::size_t i = 0; i < n; ++i)
        out += fmt::format("{:02x}", p[i]);
    return out;
}

bool from_hex(std::string_view hex, std::vector<unsigned char>& out) {
    if (hex.size() % 2 != 0) return false;
    out.clear();
    for (std::size_t i = 0; i < hex.size(); i += 2) {
        auto nibble = [](char c) -> int {
            if (c >= '0' && c <= '9') return c - '0';
            if (c >= 'a' && c <= 'f') return c - 'a' + 10;
            return -1;
        };
        const int hi = nibble(hex[i]), lo = nibble(hex[i + 1]);
        if (hi < 0 || lo < 0) return false;
        out.push_back(static_cast<unsigned char>(hi * 16 + lo));
    }
    return true;
}

} // namespace

struct signing_key::impl {
    pkey_ptr key{nullptr, EVP_PKEY_free};
};

signing_key::signing_key(std::unique_ptr<impl> p) : impl_(std::move(p)) {}
signing_key::signing_key(signing_key&&) noexcept = default;
signing_key& signing_key::operator=(signing_key&&) noexcept = default;
signing_key::~signing_key() = default;

signing_key signing_key::generate() {
    auto p = std::make_unique<impl>();
    EVP_PKEY* raw = nullptr;
    std::unique_ptr<EVP_PKEY_CTX, decltype(&EVP_PKEY_CTX_free)> ctx(
        EVP_PKEY_CTX_new_id(EVP_PKEY_ED25519, nullptr), EVP_PKEY_CTX_free);
    if (!ctx || EVP_PKEY_keygen_init(ctx.get()) != 1 || EVP_PKEY_keygen(ctx.get(), &raw) != 1)
        fail(status::internal, "OpenSSL: Ed25519 key generation failed");
    p->key.reset(raw);
    return signing_key(std::move(p));
}

signing_key signing_key::load_pem(const std::filesystem::path& path) {
    const std::string pem = read_file(path);
    bio_ptr bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())), BIO_free);
    auto p = std::make_unique<impl>();
    p->key.reset(bio ? PEM_read_bio_PrivateKey(bio.get(), nullptr, nullptr, nullptr) : nullptr);
    if (!p->key)
        fail(status::format_error,
             fmt::format("key file '{}' holds no PEM private key", path.string()));
    if (EVP_PKEY_get_id(p->key.get()) != EVP_PKEY_ED25519)
        fail(status::format_error,
             fmt::format("key file '{}' is not an Ed25519 private key", path.string()));
    return signing_key(std::move(p));
}

void signing_key::save_pem(const std::filesystem::path& path) const {
    bio_ptr bio(BIO_new(BIO_s_mem()), BIO_free);
    if (!bio || PEM_write_bio_PrivateKey(bio.get(), impl_->key.get(), nullptr, nullptr, 0, nullptr,
                                         nullptr) != 1)
        fail(status::internal, "OpenSSL: cannot encode the private key as PEM");
    char* data = nullptr;
    const long n = BIO_get_mem_data(bio.get(), &data);
    write_file_atomic(path, std::string_view(data, static_cast<std::size_t>(n)), 0600);
}

std::string signing_key::public_key_hex() const {
    unsigned char raw[32];
    std::size_t n = sizeof raw;
    if (EVP_PKEY_get_raw_public_key(impl_->key.get(), raw, &n) != 1)
        fail(status::internal, "OpenSSL: cannot read the Ed25519 public key");
    return to_hex(raw, n);
}

std::string signing_key::sign(std::string_view message) const {
    std::unique_ptr<EVP_MD_CTX, decltype(&EVP_MD_CTX_free)> ctx(EVP_MD_CTX_new(), EVP_MD_CTX_free);
    unsigned char sig[64];
    std::size_t n = sizeof sig;
    if (!ctx || EVP_DigestSignInit(ctx.get(), nullptr, nullptr, nullptr, impl_->key.get()) != 1 ||
        EVP_DigestSign(ctx.get(), sig, &n, reinterpret_cast<const unsigned char*>(message.data()),
                       message.size()) != 1)
        fail(status::internal, "OpenSSL: Ed25519 signing failed");
    return to_hex(sig, n);
}

bool verify_signature(std::string_view public_key_hex, std::string_view message,
                      std::string_view signature_hex) noexcept {
    try {
        std::vector<unsigned char> key, sig;
        if (!from_hex(public_key_hex, key) || key.size() != 32) return false;
        if (!from_hex(signature_hex, sig) || sig.size() != 64) return false;
        pkey_ptr pkey(
            EVP_PKEY_new_raw_public_key(EVP_PKEY_ED25519, nullptr, key.data(), key.size()),
            EVP_PKEY_free);
        std::unique_ptr<EVP_MD_CTX, decltype(&EVP_MD_CTX_free)> ctx(EVP_MD_CTX_new(),
                                                                    EVP_MD_CTX_free);
        if (!pkey || !ctx ||
            EVP_DigestVerifyInit(ctx.get(), nullptr, nullptr, nullptr, pkey.get()) != 1)
            return false;
        return EVP_DigestVerify(ctx.get(), sig.data(), sig.size(),
                                reinterpret_cast<const unsigned char*>(message.data()),
                                message.size()) == 1;
    } catch (...) {
        return false;
    }
}

} // namespace hone
