#include "hone/ledger/ledger.hpp"

#include "chain.hpp"
#include "hone/core/atomic_file.hpp"
#include "hone/core/error.hpp"
#include "record_json.hpp"
#include "rules.hpp"

#include <cerrno>
#include <chrono>
#include <cstring>
#include <ctime>
#include <fcntl.h>
#include <fmt/format.h>
#include <sys/file.h>
#include <unistd.h>

namespace hone {

using ledger_detail::json;
using namespace ledger_detail;

namespace {

std::string utc_now() {
    const std::time_t t = std::chrono::system_clock::to_time_t(std::chrono::system_clock::now());
    std::tm tm{};
    gmtime_r(&t, &tm);
    char text[32];
    std::strftime(text, sizeof text, "%Y-%m-%dT%H:%M:%SZ", &tm);
    return text;
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

ledger_entry ledger::append(const change_record& record, const signing_key* key,
                            const trust_store* trust) {
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

    const file_lock lock(path_);
    const parsed_ledger current = parse_and_verify(path_, {});
    if (!current.report.ok)
        fail(status::verification_failed,
             fmt::format("ledger '{}' does not verify at line {}: {}; nothing was appended",
                         path_.string(), current.report.first_bad, current.report.problem));
    ledger_entry e;
    e.seq = current.entries.size() + 1;
    if (needs_subject && (*record.subject == 0 || *record.subject >= e.seq))
        fail(status::invalid_argument,
             fmt::format("ledger '{}': subject {} is not an existing record (there are {})",
                         path_.string(), *record.subject, e.seq - 1));
    check_append_allowed(current.entries, record, key ? key->public_key_hex() : std::string(),
                         trust);
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
    write_file_atomic(sidecar(path_, ".head"), head_text(e.seq, sha256_hex(e.line), key));
    return e;
}

std::vector<ledger_entry> ledger::read() const {
    std::vector<ledger_entry> entries;
    std::string content;
    {
        const file_lock lock(path_, true);
        content = read_if_exists(path_);
    }
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
    const file_lock lock(path_, true);
    return parse_and_verify(path_, options).report;
}

} // namespace hone
