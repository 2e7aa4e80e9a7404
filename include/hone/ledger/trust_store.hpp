// hone/ledger/trust_store.hpp — who holds which Ed25519 key, and what each key may do.
//
// A trust store is a text file in the spirit of git's allowed_signers: one key per line,
//
//   <holder> <roles> <public key>
//
// holder      a name without whitespace or '#' (a person or a service)
// roles       a comma list of: optimizer | approver | approver:<tier>  (tier: low, medium,
//             high, critical); "approver" approves any tier, "approver:high" only high
// public key  the Ed25519 public key, 64 hex digits (hone keygen --public prints it)
//
// '#' starts a comment to the end of the line; blank lines are ignored. A key may appear on
// one line only (one key, one holder); a holder may hold several keys. Errors name the source,
// the line and the field. docs/ledger.md has the rules that use it.
#pragma once

#include "hone/core/export.hpp"
#include "hone/policy/policy.hpp"

#include <cstdint>
#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

namespace hone {

struct trust_entry {
    std::string holder;
    std::vector<std::string> roles; ///< as written: "optimizer", "approver", "approver:high"
    std::string public_key;         ///< 64 lower-case hex digits
    std::uint64_t line = 0;         ///< where it was read
};

class HONE_EXPORT trust_store {
public:
    /// Parses the text; throws format_error naming `source`, the line and the field.
    static trust_store parse(std::string_view text, std::string_view source = "trust store");
    /// Reads and parses a file; io_error when unreadable.
    static trust_store load(const std::filesystem::path& path);

    /// The entry of a public key (hex, any case), or nullptr when the key is unknown.
    const trust_entry* find(std::string_view public_key_hex) const noexcept;
    /// The key holds the optimizer role.
    bool may_optimize(std::string_view public_key_hex) const noexcept;
    /// The key holds "approver" or "approver:<tier>".
    bool may_approve(std::string_view public_key_hex, risk_tier tier) const noexcept;

    const std::vector<trust_entry>& entries() const noexcept { return entries_; }
    const std::string& source() const noexcept { return source_; }

private:
    std::vector<trust_entry> entries_;
    std::string source_;
};

} // namespace hone
