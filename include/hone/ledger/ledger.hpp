// hone/ledger/ledger.hpp — the tamper-evident, signed change ledger.
//
// A ledger is a JSONL file: one change record per line, each line the record's canonical JSON
// (keys sorted bytewise, no whitespace, numbers in shortest round-trip form, no NaN/inf).
// Every record holds
//   seq          1, 2, 3, … (line number)
//   prev         SHA-256 (hex) of the previous line's bytes; 64 zeros for the first record
//   time         UTC, RFC 3339 ("2026-11-27T08:40:00Z")
//   actor        the identity that acted, human or service
//   action       "baseline" | "optimize" | "approve" | "reject" | "promote"
//   subject      for approve / reject / promote: the seq of the record acted on (else absent)
//   artifacts    [{path, sha256, bytes}]
//   recipe, data, metrics, policy, decision, environment   JSON values given by the caller
//   note         free text
//   signature    optional {public_key, value}: Ed25519 over the canonical bytes of the record
//                without its "signature" member
// A sidecar file `<ledger>.head` holds {"records": n, "sha256": <hash of the last line>} and,
// when the last record is signed, that appender's signature over "hone-ledger-head-v1 n sha256",
// so removing or editing the last records is detected too, even with the head rewritten, unless
// the key of the new last record's signer is at hand (a rollback to an earlier genuine
// ledger + head pair is not detectable from the files alone: docs/ledger.md, "Limits"). Appends
// take an exclusive lock
// (`<ledger>.lock`), verify the whole chain, and replace both files atomically, so concurrent
// writers never lose a record and a crash never leaves a torn line.
//
// An optimize record's `decision` is an object with "verdict" ("approved" | "needs_signoff" |
// "rejected") and, for needs_signoff, "approvals_required" (how many distinct approvers must
// still sign). check_artifact() re-derives it from the record's `metrics` and `policy` with
// hone::decide() and applies the approval rules of docs/ledger.md: identities are keys, the
// optimizer's key never approves its own change, one key (one holder, with a trust store)
// counts once, unsigned approvals never count, a reject wins.
#pragma once

#include "hone/core/export.hpp"
#include "hone/io/digest.hpp"
#include "hone/ledger/identity.hpp"
#include "hone/ledger/trust_store.hpp"

#include <cstdint>
#include <filesystem>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace hone {

enum class ledger_action { baseline, optimize, approve, reject, promote };

HONE_EXPORT std::string_view name_of(ledger_action action) noexcept;
HONE_EXPORT std::optional<ledger_action> ledger_action_from_name(std::string_view name) noexcept;

/// What a caller appends. The JSON members are JSON texts ("null" when absent); they are
/// parsed, checked (no NaN/inf) and stored canonically.
struct change_record {
    ledger_action action = ledger_action::baseline;
    std::string actor;
    std::optional<std::uint64_t> subject; ///< required for approve, reject and promote
    std::vector<artifact_ref> artifacts;
    std::string recipe = "null";
    std::string data = "null";
    std::string metrics = "null";
    std::string policy = "null";
    std::string decision = "null";
    std::string environment = "null";
    std::string note;
};

/// A record as stored: the caller's part plus what the ledger added.
struct ledger_entry {
    std::uint64_t seq = 0;
    std::string prev;
    std::string time;
    change_record record;
    std::string signer; ///< public key hex of the signature, empty when unsigned
    std::string line;   ///< the canonical bytes as stored (without the newline)
};

struct verify_options {
    /// actor → public key hex. A record by a listed actor must be signed by that key.
    std::map<std::string, std::string> trusted_keys;
    /// Every record must carry a valid signature.
    bool require_signatures = false;
    /// Who holds which key and role (not owned; may be null). With it, approvals count only
    /// approver keys of the tier, and an optimize record must be signed by an optimizer key.
    const trust_store* trust = nullptr;
    /// Strict mode: every record signed by a key of the trust store. Always on for a high or
    /// critical tier record's check (and for verify() of a ledger holding one, given a trust
    /// store); this flag turns it on for every tier.
    bool strict = false;
    /// A head an earlier check accepted (artifact_status::chain_records / chain_head): the
    /// ledger must extend it — record `pinned_records` exists and its line's SHA-256 is
    /// `pinned_head`. Detects a rollback to an earlier state, which the files alone cannot
    /// show (docs/ledger.md, "Limits"). 0: no pin.
    std::uint64_t pinned_records = 0;
    std::string pinned_head;
};

struct verify_report {
    bool ok = true;
    std::uint64_t records = 0;   ///< records that verified before the first problem
    std::uint64_t first_bad = 0; ///< line of the first problem (0: the head file)
    std::string problem;         ///< what is wrong there, empty when ok
};

enum class artifact_verdict { approved, needs_signoff, rejected, unknown };

/// One approve record of the matched optimize record, and whether it counted.
struct approval_note {
    std::uint64_t seq = 0;
    std::string actor;
    std::string public_key; ///< empty: unsigned
    std::string holder;     ///< from the trust store; empty without one or for unknown keys
    bool counted = false;
    std::string why; ///< why it did not count ("" when it did)
};

/// What check_artifact() verified, step by step (to_json() gives all of it).
struct artifact_status {
    artifact_verdict verdict = artifact_verdict::unknown;
    std::uint64_t seq = 0; ///< the optimize record the file matched
    std::uint64_t approvals_missing = 0;
    std::string reason;              ///< why, in words
    artifact_ref artifact;           ///< the bytes as hashed now
    bool chain_ok = false;           ///< the whole ledger and its head verified
    std::uint64_t chain_records = 0; ///< records verified (all of them when chain_ok)
    std::string chain_head;          ///< SHA-256 of the last record's line (pin it externally)
    std::string tier;                ///< the matched record's policy tier
    bool strict = false;             ///< strict mode applied
    bool trust_store = false;        ///< a trust store was given
    std::string signer;              ///< public key that signed the optimize record
    std::string signer_holder;       ///< its holder in the trust store
    bool decision_rederived = false; ///< the stored decision equals the re-derived one
    std::uint64_t approvals_required = 0;
    std::uint64_t approvals_counted = 0;
    std::vector<approval_note> approvals;

    /// Everything above as one JSON object (the load-time check's report).
    HONE_EXPORT std::string to_json() const;
};

class HONE_EXPORT ledger {
public:
    /// A ledger at `path`; the file is created by the first append.
    explicit ledger(std::filesystem::path path);

    /// Appends a record, signed with `key` when given; returns it as stored. Throws
    /// verification_failed when the existing ledger does not verify (nothing is written),
    /// invalid_argument for a bad record (empty actor, missing subject, malformed JSON text),
    /// io_error when the files cannot be written. The clock may be replaced for tests.
    /// approve / reject / promote records must obey the rules of docs/ledger.md (subject an
    /// optimize record; no approval of a rejected change, by the optimizer's own key, or twice
    /// by one key or holder; with `trust`, approvals only by approver keys of the tier; promote
    /// only an approved change, once): invalid_argument says which rule, nothing is written.
    ledger_entry append(const change_record& record, const signing_key* key = nullptr,
                        const trust_store* trust = nullptr);

    /// Parses every record; throws format_error naming the file and line for a malformed one.
    /// (Parsing does not verify the chain: use verify().)
    std::vector<ledger_entry> read() const;

    /// Checks canonical form, sequence, hash chain, head file and signatures; names the first
    /// bad record. Never throws for a bad ledger (only for an unreadable file: io_error).
    verify_report verify(const verify_options& options = {}) const;

    /// Whether a file's exact bytes were approved: the ledger must verify; the newest optimize
    /// record listing the file's SHA-256 decides, its decision re-derived from its metrics and
    /// policy (disagreement: unknown); strict mode and trust roles apply; any reject of it, or
    /// a rejected verdict, rejects it; needs_signoff until enough approvals count (distinct
    /// keys or holders, signed, not the optimizer's, approvers of the tier with a trust store).
    /// docs/ledger.md has the rules.
    artifact_status check_artifact(const std::filesystem::path& file,
                                   const verify_options& options = {}) const;
    /// The same for the bytes an engine is about to load, as they are in memory.
    artifact_status check_bytes(std::string_view bytes, const verify_options& options = {}) const;
    /// The same for an open file descriptor: hashes it from offset 0 to its end with pread (the
    /// descriptor's offset is unchanged). io_error when it cannot be read.
    artifact_status check_fd(int fd, const verify_options& options = {}) const;

    const std::filesystem::path& path() const noexcept { return path_; }

    /// Replaces the clock used for `time` (UTC RFC 3339 text); for tests and replays.
    void set_clock(std::function<std::string()> clock) { clock_ = std::move(clock); }

private:
    std::filesystem::path path_;
    std::function<std::string()> clock_;
};

HONE_EXPORT std::string_view name_of(artifact_verdict verdict) noexcept;

} // namespace hone
