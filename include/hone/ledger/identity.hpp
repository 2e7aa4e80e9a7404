// hone/ledger/identity.hpp — Ed25519 identities that sign change records.
//
// A signing_key holds an Ed25519 private key (generated, or read from a PKCS#8 PEM file as
// `openssl genpkey -algorithm ed25519` writes). Public keys travel as 64 hex digits (the raw
// 32-byte key); signatures as 128 hex digits (the raw 64-byte signature).
#pragma once

#include "hone/core/export.hpp"

#include <filesystem>
#include <memory>
#include <string>
#include <string_view>

namespace hone {

class HONE_EXPORT signing_key {
public:
    /// A fresh key from the system's random source.
    static signing_key generate();
    /// Reads a PEM private key; throws io_error (unreadable file) or format_error (not an
    /// Ed25519 private key), naming the file.
    static signing_key load_pem(const std::filesystem::path& path);
    /// Writes the private key as PEM, atomically, readable by the owner only (0600).
    void save_pem(const std::filesystem::path& path) const;

    std::string public_key_hex() const;
    /// Signature of `message`, hex.
    std::string sign(std::string_view message) const;

    signing_key(signing_key&&) noexcept;
    signing_key& operator=(signing_key&&) noexcept;
    ~signing_key();

private:
    struct impl;
    explicit signing_key(std::unique_ptr<impl> p);
    std::unique_ptr<impl> impl_;
};

/// True when `signature_hex` is a valid Ed25519 signature of `message` by `public_key_hex`.
/// Malformed hex or key sizes give false, never an exception.
HONE_EXPORT bool verify_signature(std::string_view public_key_hex, std::string_view message,
                                  std::string_view signature_hex) noexcept;

} // namespace hone
