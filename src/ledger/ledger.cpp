#include "hone/ledger/ledger.hpp"

#include "hone/core/atomic_file.hpp"
#include "hone/core/error.hpp"
#include "record_json.hpp"

#include <cerrno>
#include <chrono>
#include <cstring>
#include <ctime>
#include <fcntl.h>
#include <fmt/format.h>
#include <set>
#include <sys/file.h>
#include <unistd.h>

namespace hone {

using ledger_detail::json;

namespace {

const std::string genesis(64, '0');

std::string utc_now() {
    const std::time_t t = std::chrono::system_clock::to_time_t(std::chrono::system_clock::now());
    std::tm tm{};
    gmtime_r(&t, &tm);
    char text[32];
    std::strftime(text, sizeof text, "%Y-%m-%dT%H:%M:%SZ", &tm);
    return text;
}

std::filesystem::path sidecar(const std::filesystem::path& p, const char* suffix) {
    return p.string() + suffix;
}

// Exclusive advisory lock on <ledger>.lock for the lifetime of the object.
class file_lock {
public:
    explicit file_lock(const std::filesystem::path& path) {
        fd_ = ::open(path.c_str(), O_CREAT | O_RDWR | O_CLOEXEC, 0644);
        if (fd_ < 0)
            fail(status::io_error, fmt::format("cannot open lock file '{}': {}", path.string(),
                                               std::strerror(errno)));
        while (::flock(fd_, LOCK_EX) != 0) {
            if (errno == EINTR) continue;
            ::close(fd_);
            fail(status::io_error,
                 fmt::format("cannot lock '{}': {}", path.string(), std::strerror(errno)));
        }
    }
    ~file_lock() { ::close(fd_); } // closing releases the lock
    file_lock(const file_lock&) = delete;
    file_lock& operator=(const file_lock&) = delete;

private:
    int fd_ = -1;
};

std::string read_if_exists(const std::filesystem::path& p) {
    std::error_code ec;
    if (!std::filesystem::exists(p, ec)) return {};
    return read_file(p);
}

struct parsed_ledger {
    std::vector<ledger_entry> entries;
    verify_report report;
};

verify_report bad(std::uint64_t line, std::uint64_t good, std::string problem) {
    return {false, good, line, std::move(problem)};
}

// The whole check, shared by verify(), append() and check_artifact().
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
    } catch (const json::exception&) {
        out.report =
            bad(0, n, head_text.empty() ? "head file is missing" : "head file is malformed");
        return out;
    }
    out.report = {true, n, 0, {}};
    return out;
}

} // namespace

std::string_view name_of(ledger_action action) noexcept {
    switch (action) {
    case ledger_action::baseline: return "baseline";
    case ledger_action::optimize: return "optimize";
    case ledger_action::approve: return "approve";
    case ledger_action::reject: return "reject";
    case ledger_action::promote: return "promote";
    }
    return "invalid";
}

std::optional<ledger_action> ledger_action_from_name(std::string_view name) noexcept {
    for (auto a : {ledger_action::baseline, ledger_action::optimize, ledger_action::approve,
                   ledger_action::reject, ledger_action::promote})
        if (name == name_of(a)) return a;
    return std::nullopt;
}

std::string_view name_of(artifact_verdict verdict) noexcept {
    switch (verdict) {
    case artifact_verdict::approved: return "approved";
    case artifact_verdict::needs_signoff: return "needs_signoff";
    case artifact_verdict::rejected: return "rejected";
    case artifact_verdict::unknown: return "unknown";
    }
    return "invalid";
}

ledger::ledger(std::filesystem::path path) : path_(std::move(path)), clock_(utc_now) {}

ledger_entry ledger::append(const change_record& record, const signing_key* key) {
    if (record.actor.empty())
        fail(status::invalid_argument,
             fmt::format("ledger '{}': a record needs an actor", path_.string()));
    const bool needs_subject = record.action == ledger_action::approve ||
                               record.action == ledger_action::reject ||
                               record.action == ledger_action::promote;
    if (needs_subject && !record.subject)
        fail(status::invalid_argument,
             fmt::format("ledger '{}': a {} record needs a subject (the seq it acts on)",
                         path_.string(), name_of(record.action)));

    const file_lock lock(sidecar(path_, ".lock"));
    const parsed_ledger current = parse_and_verify(path_, {});
    if (!current.report.ok)
        fail(status::verification_failed,
             fmt::format("ledger '{}' does not verify at line {}: {}; nothing was appended",
                         path_.string(), current.report.first_bad, current.report.problem));
    ledger_entry e;
    e.seq = current.entries.size() + 1;
    if (needs_subject && *record.subject >= e.seq)
        fail(status::invalid_argument,
             fmt::format("ledger '{}': subject {} is not an existing record (there are {})",
                         path_.string(), *record.subject, e.seq - 1));
    e.prev = current.entries.empty() ? genesis : sha256_hex(current.entries.back().line);
    e.time = clock_();
    e.record = record;
    json j = ledger_detail::to_json(e);
    const std::string where = fmt::format("ledger '{}' new record", path_.string());
    if (key) {
        e.signer = key->public_key_hex();
        j["signature"] = {{"public_key", e.signer},
                          {"value", key->sign(ledger_detail::canonical(j, where))}};
    }
    e.line = ledger_detail::canonical(j, where);
    std::string content = read_if_exists(path_);
    content += e.line;
    content += '\n';
    write_file_atomic(path_, content);
    const json head = {{"records", e.seq}, {"sha256", sha256_hex(e.line)}};
    write_file_atomic(sidecar(path_, ".head"), head.dump() + "\n");
    return e;
}

std::vector<ledger_entry> ledger::read() const {
    std::vector<ledger_entry> entries;
    const std::string content = read_if_exists(path_);
    std::size_t start = 0;
    std::uint64_t n = 0;
    while (start < content.size()) {
        std::size_t end = content.find('\n', start);
        if (end == std::string::npos) end = content.size();
        const std::string line = content.substr(start, end - start);
        start = end + 1;
        const std::string where = fmt::format("ledger '{}' line {}", path_.string(), ++n);
        json j;
        try {
            j = json::parse(line);
        } catch (const json::exception& err) {
            fail(status::format_error, fmt::format("{}: not valid JSON ({})", where, err.what()));
        }
        entries.push_back(ledger_detail::from_json(j, line, where));
    }
    return entries;
}

verify_report ledger::verify(const verify_options& options) const {
    return parse_and_verify(path_, options).report;
}

artifact_status ledger::check_artifact(const std::filesystem::path& file,
                                       const verify_options& options) const {
    artifact_status s;
    s.artifact = hash_file(file);
    const parsed_ledger parsed = parse_and_verify(path_, options);
    if (!parsed.report.ok) {
        s.reason = fmt::format("the ledger does not verify (line {}: {})", parsed.report.first_bad,
                               parsed.report.problem);
        return s;
    }
    const ledger_entry* decided = nullptr;
    for (const auto& e : parsed.entries)
        if (e.record.action == ledger_action::optimize)
            for (const auto& a : e.record.artifacts)
                if (a.sha256 == s.artifact.sha256) decided = &e;
    if (!decided) {
        s.reason = "no optimize record lists these exact bytes";
        return s;
    }
    s.seq = decided->seq;
    std::string verdict;
    std::uint64_t required = 1;
    try {
        const json decision = json::parse(decided->record.decision);
        verdict = decision.at("verdict").get<std::string>();
        if (decision.contains("approvals_required"))
            required = decision.at("approvals_required").get<std::uint64_t>();
    } catch (const json::exception&) {
        s.verdict = artifact_verdict::rejected;
        s.reason = fmt::format("record {} has no readable decision verdict", decided->seq);
        return s;
    }
    std::set<std::string> approvers;
    for (const auto& e : parsed.entries) {
        if (!e.record.subject || *e.record.subject != decided->seq) continue;
        if (e.record.action == ledger_action::reject) {
            s.verdict = artifact_verdict::rejected;
            s.reason = fmt::format("rejected by '{}' in record {}", e.record.actor, e.seq);
            return s;
        }
        if (e.record.action == ledger_action::approve && !e.signer.empty())
            approvers.insert(e.record.actor); // only signed approvals count
    }
    if (verdict == "approved") {
        s.verdict = artifact_verdict::approved;
        s.reason = fmt::format("approved by policy in record {}", decided->seq);
    } else if (verdict == "needs_signoff") {
        if (approvers.size() >= required) {
            s.verdict = artifact_verdict::approved;
            s.reason = fmt::format("signed off by {} approver(s) of {} required", approvers.size(),
                                   required);
        } else {
            s.verdict = artifact_verdict::needs_signoff;
            s.approvals_missing = required - approvers.size();
            s.reason = fmt::format("needs {} more signed approval(s)", s.approvals_missing);
        }
    } else {
        s.verdict = artifact_verdict::rejected;
        s.reason = fmt::format("record {} has verdict '{}'", decided->seq, verdict);
    }
    return s;
}

} // namespace hone
