// Whether exact bytes were approved: ledger::check_artifact / check_bytes / check_fd.
#include "chain.hpp"
#include "record_json.hpp"
#include "rules.hpp"

#include "hone/core/error.hpp"

#include <array>
#include <cerrno>
#include <cstring>
#include <fmt/format.h>
#include <unistd.h>

namespace hone {

using namespace ledger_detail;

namespace ledger_detail {

void evaluate(const std::vector<ledger_entry>& entries, const ledger_entry& subject,
              const verify_options& options, artifact_status& s) {
    s.seq = subject.seq;
    s.signer = subject.signer;
    s.trust_store = options.trust != nullptr;
    const trust_entry* optimizer = options.trust ? options.trust->find(subject.signer) : nullptr;
    if (optimizer) s.signer_holder = optimizer->holder;
    const auto tier = tier_of(subject);
    if (tier) s.tier = std::string(name_of(*tier));
    s.verdict = artifact_verdict::unknown;
    if (const std::string problem = rederive_problem(subject); !problem.empty()) {
        s.reason = fmt::format("record {}: {}; refused", subject.seq, problem);
        return;
    }
    s.decision_rederived = true;
    s.strict = options.strict || tier == risk_tier::high || tier == risk_tier::critical;
    if (s.strict)
        if (const auto v = strict_violation(entries, options.trust)) {
            s.reason = fmt::format("strict mode{}: line {}: {}",
                                   options.strict ? "" : fmt::format(" (tier '{}')", s.tier),
                                   v->first, v->second);
            return;
        }
    if (options.trust && !options.trust->may_optimize(subject.signer)) {
        s.reason = subject.signer.empty()
                       ? fmt::format("record {} is unsigned; with a trust store a change must be "
                                     "signed by an optimizer key",
                                     subject.seq)
                       : fmt::format("record {} is signed by a key that is not an optimizer in {}",
                                     subject.seq, options.trust->source());
        return;
    }
    s.approvals = tally_approvals(entries, subject, options.trust);
    s.approvals_counted = static_cast<std::uint64_t>(std::count_if(
        s.approvals.begin(), s.approvals.end(), [](const approval_note& n) { return n.counted; }));
    const json decision = json::parse(subject.record.decision);
    const std::string verdict = decision["verdict"].get<std::string>();
    if (verdict == "needs_signoff") s.approvals_required = decision["approvals_required"];
    if (const ledger_entry* r = first_reject(entries, subject)) {
        s.verdict = artifact_verdict::rejected;
        s.reason = fmt::format("rejected by '{}' in record {}", r->record.actor, r->seq);
    } else if (verdict == "approved") {
        s.verdict = artifact_verdict::approved;
        s.reason = fmt::format("approved by policy in record {} (verdict re-derived)", subject.seq);
    } else if (verdict == "rejected") {
        s.verdict = artifact_verdict::rejected;
        s.reason =
            fmt::format("record {} was rejected by its policy (verdict re-derived)", subject.seq);
    } else if (s.approvals_counted >= s.approvals_required) {
        s.verdict = artifact_verdict::approved;
        s.reason = fmt::format("signed off by {} approver(s) of {} required", s.approvals_counted,
                               s.approvals_required);
    } else {
        s.verdict = artifact_verdict::needs_signoff;
        s.approvals_missing = s.approvals_required - s.approvals_counted;
        s.reason =
            fmt::format("needs {} more signed approval(s) by distinct keys{}", s.approvals_missing,
                        s.approvals.size() > s.approvals_counted
                            ? fmt::format(" ({} approval(s) did not count)",
                                          s.approvals.size() - s.approvals_counted)
                            : std::string());
    }
}

} // namespace ledger_detail

namespace {

artifact_status check_hashed(const std::filesystem::path& path, artifact_ref artifact,
                             const verify_options& options) {
    artifact_status s;
    s.artifact = std::move(artifact);
    const parsed_ledger parsed = [&] {
        const file_lock lock(path, true);
        return parse_and_verify(path, options);
    }();
    s.chain_records = parsed.report.records;
    s.trust_store = options.trust != nullptr;
    if (!parsed.report.ok) {
        s.reason = fmt::format("the ledger does not verify ({}: {})",
                               parsed.report.first_bad == 0
                                   ? std::string("head file")
                                   : fmt::format("line {}", parsed.report.first_bad),
                               parsed.report.problem);
        return s;
    }
    s.chain_ok = true;
    s.chain_head = parsed.entries.empty() ? genesis : sha256_hex(parsed.entries.back().line);
    const ledger_entry* decided = nullptr;
    for (const auto& e : parsed.entries)
        if (e.record.action == ledger_action::optimize)
            for (const auto& a : e.record.artifacts)
                if (a.sha256 == s.artifact.sha256) decided = &e;
    if (!decided) {
        s.reason = "no optimize record lists these exact bytes";
        return s;
    }
    evaluate(parsed.entries, *decided, options, s);
    return s;
}

} // namespace

artifact_status ledger::check_artifact(const std::filesystem::path& file,
                                       const verify_options& options) const {
    return check_hashed(path_, hash_file(file), options);
}

artifact_status ledger::check_bytes(std::string_view bytes, const verify_options& options) const {
    return check_hashed(path_, {"(buffer)", sha256_hex(bytes), bytes.size()}, options);
}

artifact_status ledger::check_fd(int fd, const verify_options& options) const {
    std::string bytes;
    std::array<char, 1 << 16> buffer;
    for (off_t at = 0;;) {
        const ssize_t n = ::pread(fd, buffer.data(), buffer.size(), at);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0)
            fail(status::io_error,
                 fmt::format("cannot read file descriptor {}: {}", fd, std::strerror(errno)));
        if (n == 0) break;
        bytes.append(buffer.data(), static_cast<std::size_t>(n));
        at += n;
    }
    artifact_status s = check_bytes(bytes, options);
    s.artifact.path = fmt::format("(fd {})", fd);
    return s;
}

std::string artifact_status::to_json() const {
    json approvals_json = json::array();
    for (const auto& n : approvals) {
        json a = {{"seq", n.seq},
                  {"actor", n.actor},
                  {"public_key", n.public_key},
                  {"holder", n.holder},
                  {"counted", n.counted}};
        if (!n.counted) a["why_not"] = n.why;
        approvals_json.push_back(std::move(a));
    }
    const json j = {
        {"verdict", std::string(name_of(verdict))},
        {"reason", reason},
        {"artifact",
         {{"path", artifact.path}, {"sha256", artifact.sha256}, {"bytes", artifact.bytes}}},
        {"matched_record", seq},
        {"chain",
         {{"intact", chain_ok}, {"records_verified", chain_records}, {"head_sha256", chain_head}}},
        {"tier", tier},
        {"strict", strict},
        {"trust_store", trust_store},
        {"optimize_signer", {{"public_key", signer}, {"holder", signer_holder}}},
        {"decision_rederived", decision_rederived},
        {"approvals",
         {{"required", approvals_required},
          {"counted", approvals_counted},
          {"missing", approvals_missing},
          {"records", std::move(approvals_json)}}}};
    return j.dump(-1, ' ', false, json::error_handler_t::replace);
}

} // namespace hone
