// Who may approve, reject or promote what; which approvals count; strict mode.
#include "rules.hpp"
#include "record_json.hpp"

#include "hone/core/error.hpp"

#include <algorithm>
#include <fmt/format.h>

namespace hone::ledger_detail {

namespace {

std::string short_key(const std::string& key) { return key.substr(0, 16) + "…"; }

std::string stored_verdict(const ledger_entry& e) {
    try {
        const json d = json::parse(e.record.decision);
        if (d.is_object() && d.contains("verdict") && d["verdict"].is_string())
            return d["verdict"].get<std::string>();
    } catch (const json::exception&) {
    }
    return {};
}

bool acts_on(const ledger_entry& e, const ledger_entry& subject, ledger_action action) {
    return e.record.action == action && e.record.subject && *e.record.subject == subject.seq;
}

} // namespace

std::optional<risk_tier> tier_of(const ledger_entry& e) {
    try {
        const json p = json::parse(e.record.policy);
        if (p.is_object() && p.contains("tier") && p["tier"].is_string())
            return risk_tier_from_name(p["tier"].get<std::string>());
    } catch (const json::exception&) {
    }
    return std::nullopt;
}

bool holds_strict_tier(const std::vector<ledger_entry>& entries) {
    return std::any_of(entries.begin(), entries.end(), [](const ledger_entry& e) {
        const auto t = e.record.action == ledger_action::optimize ? tier_of(e) : std::nullopt;
        return t == risk_tier::high || t == risk_tier::critical;
    });
}

std::optional<std::pair<std::uint64_t, std::string>>
strict_violation(const std::vector<ledger_entry>& entries, const trust_store* trust) {
    if (!trust)
        return std::make_pair(std::uint64_t{1},
                              std::string("strict mode needs a trust store (every key must be "
                                          "known)"));
    for (const auto& e : entries) {
        if (e.signer.empty())
            return std::make_pair(e.seq,
                                  fmt::format("unsigned record by '{}' (strict mode: every record "
                                              "must be signed by a key of the trust store)",
                                              e.record.actor));
        if (!trust->find(e.signer))
            return std::make_pair(e.seq, fmt::format("record by '{}' is signed by key {}, which "
                                                     "{} does not list (strict mode)",
                                                     e.record.actor, short_key(e.signer),
                                                     trust->source()));
    }
    return std::nullopt;
}

const ledger_entry* first_reject(const std::vector<ledger_entry>& entries,
                                 const ledger_entry& subject) {
    for (const auto& e : entries)
        if (acts_on(e, subject, ledger_action::reject)) return &e;
    return nullptr;
}

std::vector<approval_note> tally_approvals(const std::vector<ledger_entry>& entries,
                                           const ledger_entry& subject, const trust_store* trust) {
    const auto tier = tier_of(subject);
    const trust_entry* optimizer = trust ? trust->find(subject.signer) : nullptr;
    std::vector<approval_note> notes;
    // The approval that already counted for this identity: the holder with a trust store,
    // else the key.
    auto counted_before = [&](const approval_note& n) -> const approval_note* {
        for (const auto& o : notes)
            if (o.counted &&
                (n.holder.empty() ? o.public_key == n.public_key : o.holder == n.holder))
                return &o;
        return nullptr;
    };
    for (const auto& e : entries) {
        if (!acts_on(e, subject, ledger_action::approve)) continue;
        approval_note n{e.seq, e.record.actor, e.signer, {}, false, {}};
        const trust_entry* holder = trust && !e.signer.empty() ? trust->find(e.signer) : nullptr;
        if (holder) n.holder = holder->holder;
        if (e.signer.empty()) {
            n.why = "unsigned";
        } else if (e.signer == subject.signer) {
            n.why = "signed by the key that signed the change (separation of duties)";
        } else if (trust && !holder) {
            n.why = fmt::format("key {} is not in the trust store", short_key(e.signer));
        } else if (holder && optimizer && holder->holder == optimizer->holder) {
            n.why = fmt::format("'{}' signed the change and cannot approve it", holder->holder);
        } else if (holder && !(tier ? trust->may_approve(e.signer, *tier)
                                    : std::find(holder->roles.begin(), holder->roles.end(),
                                                "approver") != holder->roles.end())) {
            n.why = fmt::format("'{}' is not an approver for tier '{}'", holder->holder,
                                tier ? name_of(*tier) : "?");
        } else if (const approval_note* twice = counted_before(n)) {
            n.why = fmt::format("{} already approved in record {}",
                                holder ? "'" + holder->holder + "'" : "this key", twice->seq);
        } else {
            n.counted = true;
        }
        notes.push_back(std::move(n));
    }
    return notes;
}

void check_append_allowed(const std::vector<ledger_entry>& entries, const change_record& record,
                          const std::string& signer, const trust_store* trust) {
    const auto action = record.action;
    if (action != ledger_action::approve && action != ledger_action::reject &&
        action != ledger_action::promote)
        return;
    const char* verb = action == ledger_action::approve  ? "approve"
                       : action == ledger_action::reject ? "reject"
                                                         : "promote";
    const ledger_entry& subject = entries.at(*record.subject - 1);
    if (subject.record.action != ledger_action::optimize)
        fail(status::invalid_argument,
             fmt::format("record {} is a '{}' record; approve, reject and promote refer to an "
                         "optimize record",
                         subject.seq, name_of(subject.record.action)));
    if (trust && signer.empty())
        fail(status::invalid_argument,
             fmt::format("an unsigned {} is refused with a trust store: sign it with a key the "
                         "trust store lists",
                         verb));
    const trust_entry* holder = trust ? trust->find(signer) : nullptr;
    if (trust && !holder)
        fail(status::invalid_argument,
             fmt::format("the signing key {} is not in {}", short_key(signer), trust->source()));
    const ledger_entry* rejected = first_reject(entries, subject);
    if (action == ledger_action::reject) {
        for (const auto& e : entries)
            if (acts_on(e, subject, ledger_action::reject) &&
                ((!signer.empty() && e.signer == signer) || e.record.actor == record.actor))
                fail(status::invalid_argument,
                     fmt::format("record {} was already rejected by '{}' in record {}", subject.seq,
                                 e.record.actor, e.seq));
        return; // a reject is always allowed otherwise: it wins over approvals, past or future
    }
    if (rejected)
        fail(status::invalid_argument,
             fmt::format("record {} was rejected by '{}' in record {}; {} cannot undo that",
                         subject.seq, rejected->record.actor, rejected->seq,
                         action == ledger_action::approve ? "an approval" : "a promotion"));
    if (stored_verdict(subject) == "rejected")
        fail(status::invalid_argument,
             fmt::format("record {} was rejected by its policy; it cannot be {}d", subject.seq,
                         verb));
    if (action == ledger_action::promote) {
        for (const auto& e : entries)
            if (acts_on(e, subject, ledger_action::promote))
                fail(
                    status::invalid_argument,
                    fmt::format("record {} was already promoted in record {}", subject.seq, e.seq));
        artifact_status s;
        verify_options o;
        o.trust = trust;
        evaluate(entries, subject, o, s);
        if (s.verdict != artifact_verdict::approved)
            fail(status::invalid_argument,
                 fmt::format("record {} is not approved ({}: {}); only an approved change can be "
                             "promoted",
                             subject.seq, name_of(s.verdict), s.reason));
        return;
    }
    // approve
    if (!signer.empty() && signer == subject.signer)
        fail(status::invalid_argument,
             fmt::format("the key that signed record {} (the change) cannot approve it: separation "
                         "of duties",
                         subject.seq));
    const trust_entry* optimizer = trust ? trust->find(subject.signer) : nullptr;
    if (holder && optimizer && holder->holder == optimizer->holder)
        fail(status::invalid_argument,
             fmt::format("'{}' signed record {} (the change) and cannot approve it: separation of "
                         "duties",
                         holder->holder, subject.seq));
    if (holder) {
        const auto tier = tier_of(subject);
        if (!tier || !trust->may_approve(signer, *tier))
            fail(status::invalid_argument,
                 fmt::format("'{}' is not an approver for tier '{}' in {}", holder->holder,
                             tier ? name_of(*tier) : "(none recorded)", trust->source()));
    }
    for (const auto& e : entries) {
        if (!acts_on(e, subject, ledger_action::approve)) continue;
        if (!signer.empty() && e.signer == signer)
            fail(status::invalid_argument,
                 fmt::format("this key already approved record {} in record {} (as '{}'); one "
                             "key approves once",
                             subject.seq, e.seq, e.record.actor));
        if (holder && !e.signer.empty() && trust->find(e.signer) &&
            trust->find(e.signer)->holder == holder->holder)
            fail(status::invalid_argument,
                 fmt::format("'{}' already approved record {} in record {}", holder->holder,
                             subject.seq, e.seq));
        if (e.record.actor == record.actor)
            fail(status::invalid_argument,
                 fmt::format("'{}' already approved record {} (record {})", record.actor,
                             subject.seq, e.seq));
    }
}

} // namespace hone::ledger_detail
