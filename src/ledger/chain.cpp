#include "chain.hpp"

#include "hone/core/atomic_file.hpp"
#include "hone/core/error.hpp"
#include "record_json.hpp"
#include "rules.hpp"

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fcntl.h>
#include <fmt/format.h>
#include <sys/file.h>
#include <unistd.h>

namespace hone::ledger_detail {

const std::string genesis(64, '0');

file_lock::file_lock(const std::filesystem::path& ledger_path, bool shared) {
    const auto path = sidecar(ledger_path, ".lock");
    fd_ = ::open(path.c_str(), O_CREAT | O_RDWR | O_CLOEXEC, 0644);
    if (fd_ < 0 && shared) return;
    if (fd_ < 0)
        fail(status::io_error,
             fmt::format("cannot open lock file '{}': {}", path.string(), std::strerror(errno)));
    while (::flock(fd_, shared ? LOCK_SH : LOCK_EX) != 0) {
        if (errno == EINTR) continue;
        ::close(fd_);
        fail(status::io_error,
             fmt::format("cannot lock '{}': {}", path.string(), std::strerror(errno)));
    }
}

file_lock::~file_lock() {
    if (fd_ >= 0) ::close(fd_); // closing releases the lock
}

std::string head_signed_bytes(std::uint64_t records, const std::string& sha256) {
    return fmt::format("hone-ledger-head-v1 {} {}", records, sha256);
}

std::string head_text(std::uint64_t records, const std::string& sha256, const signing_key* key) {
    json head = {{"records", records}, {"sha256", sha256}};
    if (key)
        head["signature"] = {{"public_key", key->public_key_hex()},
                             {"value", key->sign(head_signed_bytes(records, sha256))}};
    return head.dump() + "\n";
}

namespace {

// Whether the head file's signature fits the ledger: required, and by the last record's key,
// when the last record is signed (its appender signed the head); "" when it does.
std::string head_signature_problem(const json& head, std::uint64_t records, const std::string& hash,
                                   const std::string& last_signer) {
    if (!head.contains("signature")) {
        if (last_signer.empty()) return {};
        return fmt::format("head file is not signed, but the last record ({}) is: the head was "
                           "rewritten (records removed at the end?)",
                           records);
    }
    const json& sig = head.at("signature");
    const auto key = sig.at("public_key").get<std::string>();
    if (!verify_signature(key, head_signed_bytes(records, hash),
                          sig.at("value").get<std::string>()))
        return "head file signature does not verify";
    if (key != last_signer)
        return fmt::format("head file is signed by key {}…, not by the key that signed the last "
                           "record ({}): the head was rewritten (records removed at the end?)",
                           key.substr(0, 12), records);
    return {};
}

} // namespace

std::filesystem::path sidecar(const std::filesystem::path& p, const char* suffix) {
    return p.string() + suffix;
}

std::string read_if_exists(const std::filesystem::path& p) {
    std::error_code ec;
    if (!std::filesystem::exists(p, ec)) return {};
    return read_file(p);
}

verify_report bad(std::uint64_t line, std::uint64_t good, std::string problem) {
    return {false, good, line, std::move(problem)};
}

parsed_ledger parse_and_verify(const std::filesystem::path& path, const verify_options& options) {
    parsed_ledger out;
    const std::string content = read_if_exists(path);
    const std::string head_text = read_if_exists(sidecar(path, ".head"));
    if (!content.empty() && content.back() != '\n') {
        const auto lines =
            static_cast<std::uint64_t>(std::count(content.begin(), content.end(), '\n'));
        out.report = bad(lines + 1, 0, "the last line is incomplete (no newline)");
        return out;
    }
    std::string prev_hash = genesis;
    std::string last_line;
    std::size_t start = 0;
    std::uint64_t n = 0;
    while (start < content.size()) {
        const std::size_t end = content.find('\n', start);
        const std::string line = content.substr(start, end - start);
        start = end + 1;
        ++n;
        const std::string where = fmt::format("ledger '{}' line {}", path.string(), n);
        json j;
        try {
            j = json::parse(line);
        } catch (const json::exception&) {
            out.report = bad(n, n - 1, "not valid JSON");
            return out;
        }
        ledger_entry e;
        try {
            if (ledger_detail::canonical(j, where) != line) {
                out.report = bad(n, n - 1, "not in canonical form");
                return out;
            }
            e = ledger_detail::from_json(j, line, where);
        } catch (const error& err) {
            out.report = bad(n, n - 1, err.what());
            return out;
        }
        if (e.seq != n) {
            out.report = bad(n, n - 1, fmt::format("seq is {}, expected {}", e.seq, n));
            return out;
        }
        if (e.prev != prev_hash) {
            out.report = bad(n, n - 1, "prev does not match the SHA-256 of the previous record");
            return out;
        }
        const bool needs_subject = e.record.action == ledger_action::approve ||
                                   e.record.action == ledger_action::reject ||
                                   e.record.action == ledger_action::promote;
        if (needs_subject &&
            !(e.record.subject && *e.record.subject >= 1 && *e.record.subject < n)) {
            out.report = bad(n, n - 1, "subject does not name an earlier record");
            return out;
        }
        if (!e.signer.empty()) {
            const std::string value = j["signature"].value("value", std::string());
            if (!verify_signature(e.signer, ledger_detail::signed_bytes(j), value)) {
                out.report = bad(n, n - 1, "bad signature");
                return out;
            }
        }
        if (const auto it = options.trusted_keys.find(e.record.actor);
            it != options.trusted_keys.end() && e.signer != it->second) {
            out.report = bad(
                n, n - 1,
                e.signer.empty()
                    ? fmt::format("unsigned record by '{}', whose key is trusted", e.record.actor)
                    : fmt::format("record by '{}' is not signed by its trusted key",
                                  e.record.actor));
            return out;
        }
        if (options.require_signatures && e.signer.empty()) {
            out.report = bad(n, n - 1, "unsigned record (signatures are required)");
            return out;
        }
        prev_hash = sha256_hex(line);
        last_line = line;
        out.entries.push_back(std::move(e));
    }
    // The head file pins the number of records and the last one's hash.
    if (n == 0 && head_text.empty()) {
        out.report = {true, 0, 0, {}};
        return out;
    }
    try {
        const json head = json::parse(head_text);
        const auto records = head.at("records").get<std::uint64_t>();
        const auto hash = head.at("sha256").get<std::string>();
        if (records != n || hash != (n == 0 ? genesis : sha256_hex(last_line))) {
            out.report = bad(0, n,
                             fmt::format("head file says {} records ending in {}…, the ledger has "
                                         "{}: records were removed, added or changed at the end",
                                         records, hash.substr(0, 12), n));
            return out;
        }
        const std::string last_signer = n == 0 ? std::string() : out.entries.back().signer;
        if (auto problem = head_signature_problem(head, records, hash, last_signer);
            !problem.empty()) {
            out.report = bad(0, n, std::move(problem));
            return out;
        }
    } catch (const json::exception&) {
        out.report =
            bad(0, n, head_text.empty() ? "head file is missing" : "head file is malformed");
        return out;
    }
    if (options.pinned_records > n) {
        out.report = bad(0, n,
                         fmt::format("the ledger has {} records, fewer than the {} of the pinned "
                                     "head: records were removed at the end (rolled back)",
                                     n, options.pinned_records));
        return out;
    }
    if (options.pinned_records > 0 &&
        sha256_hex(out.entries[options.pinned_records - 1].line) != options.pinned_head) {
        const auto k = options.pinned_records;
        out.report = bad(k, k - 1,
                         fmt::format("record {} is not the pinned head {}…: the ledger was "
                                     "rewritten",
                                     k, options.pinned_head.substr(0, 12)));
        return out;
    }
    out.report = {true, n, 0, {}};
    if (options.strict || (options.trust && holds_strict_tier(out.entries)))
        if (const auto v = strict_violation(out.entries, options.trust))
            out.report = bad(v->first, v->first - 1, v->second);
    return out;
}

} // namespace hone::ledger_detail
