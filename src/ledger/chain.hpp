// Internal: reading a ledger file and verifying its chain (shared by verify, append, check).
#pragma once

#include "hone/ledger/ledger.hpp"

#include <filesystem>
#include <string>
#include <vector>

namespace hone::ledger_detail {

extern const std::string genesis; ///< `prev` of the first record: 64 zeros

/// The bytes a head file's signature covers: "hone-ledger-head-v1 <records> <sha256>" (a text
/// no record's canonical JSON can equal).
std::string head_signed_bytes(std::uint64_t records, const std::string& sha256);

/// The head file's text for a ledger of `records` records whose last line hashes to `sha256`,
/// signed with `key` (the last appender's) when given.
std::string head_text(std::uint64_t records, const std::string& sha256, const signing_key* key);

/// `<ledger><suffix>`: the head and lock files.
std::filesystem::path sidecar(const std::filesystem::path& p, const char* suffix);

/// The file's bytes, or "" when it does not exist.
std::string read_if_exists(const std::filesystem::path& p);

// Advisory lock on <ledger>.lock for the lifetime of the object: exclusive for an append
// (which writes the ledger, then its head file), shared for readers, so a reader never sees a
// ledger whose head file is not written yet. A reader that cannot create the lock file (a
// read-only folder: nobody appends there) reads without it.
class file_lock {
public:
    explicit file_lock(const std::filesystem::path& ledger_path, bool shared = false);
    ~file_lock();
    file_lock(const file_lock&) = delete;
    file_lock& operator=(const file_lock&) = delete;

private:
    int fd_ = -1;
};

struct parsed_ledger {
    std::vector<ledger_entry> entries;
    verify_report report;
};

verify_report bad(std::uint64_t line, std::uint64_t good, std::string problem);

/// Parses and checks everything verify() promises: canonical form, seq, prev, subjects,
/// signatures, trusted actor keys, required signatures, the head file, and strict mode.
parsed_ledger parse_and_verify(const std::filesystem::path& path, const verify_options& options);

} // namespace hone::ledger_detail
