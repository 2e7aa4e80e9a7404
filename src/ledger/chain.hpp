// Internal: reading a ledger file and verifying its chain (shared by verify, append, check).
#pragma once

#include "hone/ledger/ledger.hpp"

#include <filesystem>
#include <string>
#include <vector>

namespace hone::ledger_detail {

extern const std::string genesis; ///< `prev` of the first record: 64 zeros

/// `<ledger><suffix>`: the head and lock files.
std::filesystem::path sidecar(const std::filesystem::path& p, const char* suffix);

/// The file's bytes, or "" when it does not exist.
std::string read_if_exists(const std::filesystem::path& p);

struct parsed_ledger {
    std::vector<ledger_entry> entries;
    verify_report report;
};

verify_report bad(std::uint64_t line, std::uint64_t good, std::string problem);

/// Parses and checks everything verify() promises: canonical form, seq, prev, subjects,
/// signatures, trusted actor keys, required signatures, the head file, and strict mode.
parsed_ledger parse_and_verify(const std::filesystem::path& path, const verify_options& options);

} // namespace hone::ledger_detail
