// Internal: the governance rules of docs/ledger.md — who may approve, reject or promote what,
// which approvals count, strict mode, and the re-derived verdict of an optimize record.
#pragma once

#include "hone/ledger/ledger.hpp"

#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace hone::ledger_detail {

/// The tier in an optimize record's policy, if it names a known one.
std::optional<risk_tier> tier_of(const ledger_entry& e);

/// Some optimize record's tier is high or critical (strict mode by default).
bool holds_strict_tier(const std::vector<ledger_entry>& entries);

/// Strict mode: the first record (line, problem) that is unsigned or signed by a key the trust
/// store does not list; with no trust store, line 1 ("strict mode needs a trust store").
std::optional<std::pair<std::uint64_t, std::string>>
strict_violation(const std::vector<ledger_entry>& entries, const trust_store* trust);

/// Throws invalid_argument naming the rule when `record` (signed by `signer`, "" = unsigned)
/// may not be appended after `entries`.
void check_append_allowed(const std::vector<ledger_entry>& entries, const change_record& record,
                          const std::string& signer, const trust_store* trust);

/// The whole judgement of optimize record `subject`: re-derived decision, strict mode, trust
/// roles, rejects and counted approvals. Fills every field of `s` but artifact and the chain
/// fields.
void evaluate(const std::vector<ledger_entry>& entries, const ledger_entry& subject,
              const verify_options& options, artifact_status& s);

} // namespace hone::ledger_detail

namespace hone::ledger_detail {

/// "" when the stored decision of optimize record `e` equals the one decide() gives for its
/// recorded metrics and policy; otherwise what disagrees (or why it cannot be re-derived).
std::string rederive_problem(const ledger_entry& e);

/// The approve records of `subject`, each with whether it counts (see docs/ledger.md).
std::vector<approval_note> tally_approvals(const std::vector<ledger_entry>& entries,
                                           const ledger_entry& subject, const trust_store* trust);

/// The first reject record of `subject`, or nullptr.
const ledger_entry* first_reject(const std::vector<ledger_entry>& entries,
                                 const ledger_entry& subject);

} // namespace hone::ledger_detail
