#include "commands.hpp"

#include "exit_codes.hpp"
#include "report.hpp"

#include <hone/core/atomic_file.hpp>
#include <hone/core/error.hpp>
#include <hone/io/digest.hpp>
#include <hone/ledger/identity.hpp>

#include <fmt/format.h>

#include <algorithm>
#include <cctype>

namespace hone::cli {

namespace fs = std::filesystem;
using json = nlohmann::json;

void print_json(std::ostream& out, const json& j) {
    out << j.dump(-1, ' ', false, json::error_handler_t::replace) << '\n';
}

trust_context::trust_context(const std::filesystem::path& file, bool require_signatures,
                             bool strict) {
    if (!file.empty()) store = trust_store::load(file);
    options.require_signatures = require_signatures;
    options.strict = strict;
    options.trust = store ? &*store : nullptr;
}

void require_ledger(const fs::path& ledger) {
    fs::path head = ledger;
    head += ".head";
    std::error_code ec;
    if (!fs::exists(ledger, ec) && !fs::exists(head, ec))
        fail(status::io_error, fmt::format("ledger '{}' does not exist", ledger.string()));
    if (fs::is_directory(ledger, ec))
        fail(status::io_error, fmt::format("ledger '{}' is a folder, not a file", ledger.string()));
}

// ---------------------------------------------------------------------------------------------

int run_keygen(const keygen_options& o, console& c) {
    if (o.out.empty()) fail(status::invalid_argument, "keygen: --out KEY.pem is required");
    if (o.public_only) {
        const signing_key key = signing_key::load_pem(o.out);
        if (c.json)
            print_json(c.out, {{"key", o.out.string()}, {"public_key", key.public_key_hex()}});
        else
            c.out << key.public_key_hex() << '\n';
        return exit_ok;
    }
    std::error_code ec;
    if (fs::exists(o.out, ec) && !o.force)
        fail(status::invalid_argument,
             fmt::format("key file '{}' exists; use --force to replace it", o.out.string()));
    const signing_key key = signing_key::generate();
    key.save_pem(o.out);
    if (c.json)
        print_json(c.out, {{"key", o.out.string()}, {"public_key", key.public_key_hex()}});
    else
        c.out << fmt::format("wrote Ed25519 key {} (owner-only)\npublic key: {}\n", o.out.string(),
                             key.public_key_hex());
    return exit_ok;
}

// ---------------------------------------------------------------------------------------------

int run_ledger_verify(const ledger_verify_options& o, console& c) {
    const trust_context trust(o.trust, o.require_signatures, o.strict);
    const verify_options& options = trust.options;
    require_ledger(o.ledger);
    const verify_report r = ledger(o.ledger).verify(options);
    if (c.json) {
        json j = {{"ledger", o.ledger.string()}, {"ok", r.ok}, {"records", r.records}};
        if (!r.ok) {
            j["first_bad"] = r.first_bad;
            j["problem"] = r.problem;
        }
        print_json(c.out, j);
    } else if (r.ok) {
        c.out << fmt::format(
            "ledger {} verifies: {} record{}{}\n", o.ledger.string(), r.records,
            r.records == 1 ? "" : "s",
            options.trust && options.strict
                ? fmt::format(", every record signed by a key of {}", options.trust->source())
            : options.trust ? fmt::format(" ({} given; strict mode off unless a high or "
                                          "critical change is recorded)",
                                          options.trust->source())
            : options.require_signatures ? ", all signed"
                                         : "");
    } else {
        c.out << fmt::format("ledger {} does NOT verify: {}: {} ({} record{} verified before it)\n",
                             o.ledger.string(),
                             r.first_bad == 0 ? std::string("head file")
                                              : fmt::format("line {}", r.first_bad),
                             r.problem, r.records, r.records == 1 ? "" : "s");
    }
    return r.ok ? exit_ok : exit_not_verified;
}

// ---------------------------------------------------------------------------------------------

namespace {

json parse_line(const ledger_entry& e) {
    return json::parse(e.line); // lines were parsed once already by ledger::read()
}

std::string verdict_of(const ledger_entry& e) {
    if (e.record.action != ledger_action::optimize) return {};
    try {
        const json d = json::parse(e.record.decision);
        if (d.is_object() && d.contains("verdict") && d["verdict"].is_string())
            return d["verdict"].get<std::string>();
    } catch (const json::exception&) {
    }
    return "?";
}

std::string artifact_column(const ledger_entry& e) {
    if (e.record.subject) return fmt::format("record {}", *e.record.subject);
    if (e.record.artifacts.empty()) return "-";
    std::string s = e.record.artifacts.front().path;
    if (e.record.artifacts.size() > 1) s += fmt::format(" (+{})", e.record.artifacts.size() - 1);
    return s;
}

const ledger_entry& find_record(const std::vector<ledger_entry>& entries, std::uint64_t seq,
                                const fs::path& path) {
    if (seq < 1 || seq > entries.size())
        fail(status::not_found,
             fmt::format("ledger '{}' has no record {} (it has {} record{})", path.string(), seq,
                         entries.size(), entries.size() == 1 ? "" : "s"));
    return entries[seq - 1];
}

} // namespace

int run_ledger_show(const ledger_show_options& o, console& c) {
    require_ledger(o.ledger);
    const ledger l(o.ledger);
    const std::vector<ledger_entry> entries = l.read();
    const verify_report check = l.verify();
    if (o.seq) {
        const ledger_entry& e = find_record(entries, *o.seq, o.ledger);
        const json j = parse_line(e);
        if (c.json) {
            print_json(c.out, j);
        } else {
            for (const auto& [key, value] : j.items())
                c.out << fmt::format(
                    "{:<12} {}\n", key,
                    value.is_string() ? value.get<std::string>()
                                      : value.dump(2, ' ', false, json::error_handler_t::replace));
            c.out << fmt::format("{:<12} {}\n", "sha256", sha256_hex(e.line));
        }
    } else if (c.json) {
        json records = json::array();
        for (const auto& e : entries)
            records.push_back(parse_line(e));
        print_json(c.out, {{"ledger", o.ledger.string()},
                           {"verifies", check.ok},
                           {"problem", check.problem},
                           {"records", std::move(records)}});
    } else {
        c.out << fmt::format("{:>4}  {:<20}  {:<18}  {:<8}  {:<30}  {:<13}  {}\n", "seq", "time",
                             "actor", "action", "artifact", "verdict", "signed");
        for (const auto& e : entries)
            c.out << fmt::format("{:>4}  {:<20}  {:<18}  {:<8}  {:<30}  {:<13}  {}\n", e.seq,
                                 e.time, e.record.actor, name_of(e.record.action),
                                 artifact_column(e), verdict_of(e).empty() ? "-" : verdict_of(e),
                                 e.signer.empty() ? "no" : "yes");
    }
    if (!c.json && !check.ok)
        c.err << fmt::format("warning: ledger {} does not verify ({}: {})\n", o.ledger.string(),
                             check.first_bad == 0 ? std::string("head file")
                                                  : fmt::format("line {}", check.first_bad),
                             check.problem);
    return exit_ok;
}

// ---------------------------------------------------------------------------------------------

int run_ledger_decide(const ledger_decide_options& o, console& c) {
    const std::string what(name_of(o.action));
    if (o.actor.empty())
        fail(status::invalid_argument, fmt::format("ledger {}: --actor is required", what));
    const trust_context trust(o.trust, o.require_signatures, o.strict);
    const verify_options& options = trust.options;
    require_ledger(o.ledger);
    // The key first: a bad key file must fail before anything else happens.
    std::optional<signing_key> key;
    if (!o.key.empty()) key = signing_key::load_pem(o.key);
    ledger l(o.ledger);
    if (const verify_report r = l.verify(options); !r.ok)
        fail(status::verification_failed,
             fmt::format(
                 "ledger '{}' does not verify ({}: {}); nothing appended", o.ledger.string(),
                 r.first_bad == 0 ? std::string("head file") : fmt::format("line {}", r.first_bad),
                 r.problem));
    const std::vector<ledger_entry> entries = l.read();
    const ledger_entry& subject = find_record(entries, o.seq, o.ledger);
    // The rules (who may approve, reject or promote what) are the library's: append refuses.
    if (!key && o.action == ledger_action::approve)
        c.err << "warning: unsigned approval: it is recorded but does not count toward sign-off "
                 "(give --key)\n";
    change_record r;
    r.action = o.action;
    r.actor = o.actor;
    r.subject = o.seq;
    r.note = o.reason;
    const ledger_entry appended = l.append(r, key ? &*key : nullptr, options.trust);

    // Where the subject's artifact stands now, when its file is at hand.
    json status_json = nullptr;
    std::string status_text;
    for (const auto& a : subject.record.artifacts) {
        std::error_code ec;
        if (!fs::is_regular_file(a.path, ec)) continue;
        const artifact_status s = l.check_artifact(a.path, options);
        if (s.artifact.sha256 != a.sha256) continue; // the file changed since: not this artifact
        status_json = {{"path", a.path},
                       {"verdict", std::string(name_of(s.verdict))},
                       {"approvals_missing", s.approvals_missing},
                       {"reason", s.reason}};
        status_text = fmt::format("artifact {}: {} ({})\n", a.path, name_of(s.verdict), s.reason);
        break;
    }
    if (c.json) {
        print_json(c.out, {{"ledger", o.ledger.string()},
                           {"seq", appended.seq},
                           {"action", what},
                           {"subject", o.seq},
                           {"actor", o.actor},
                           {"signed", !appended.signer.empty()},
                           {"sha256", sha256_hex(appended.line)},
                           {"artifact", status_json}});
    } else {
        c.out << fmt::format(
            "appended record {}: {} of record {} by '{}'{}\n", appended.seq, what, o.seq, o.actor,
            appended.signer.empty() ? std::string(", unsigned")
                                    : ", signed by " + appended.signer.substr(0, 16) + "...");
        c.out << status_text;
    }
    return exit_ok;
}

// ---------------------------------------------------------------------------------------------

int run_check(const check_options& o, console& c) {
    const trust_context trust(o.trust, o.require_signatures, o.strict);
    const verify_options& options = trust.options;
    std::error_code ec;
    if (!fs::is_regular_file(o.model, ec))
        fail(status::io_error,
             fmt::format("model '{}' does not exist or is not a file", o.model.string()));
    require_ledger(o.ledger);
    const artifact_status s = ledger(o.ledger).check_artifact(o.model, options);
    if (c.json) {
        json j = json::parse(s.to_json());
        j["file"] = o.model.string();
        j["ledger"] = o.ledger.string();
        j["seq"] = s.seq;
        j["sha256"] = s.artifact.sha256;
        j["approvals_missing"] = s.approvals_missing;
        print_json(c.out, j);
    } else {
        c.out << fmt::format("{}: {} ({})\n", o.model.string(), name_of(s.verdict), s.reason);
        for (const auto& n : s.approvals)
            c.out << fmt::format("  approval record {} by '{}'{}: {}\n", n.seq, n.actor,
                                 n.holder.empty() ? std::string() : " (" + n.holder + ")",
                                 n.counted ? "counted" : "not counted, " + n.why);
    }
    return exit_code_for(s.verdict);
}

// ---------------------------------------------------------------------------------------------

int run_report_render(const report_render_options& o, console& c) {
    const std::string text = read_file(o.input);
    json report;
    try {
        report = json::parse(text);
    } catch (const json::exception& e) {
        fail(status::format_error,
             fmt::format("report '{}': not valid JSON ({})", o.input.string(), e.what()));
    }
    if (!report.is_object())
        fail(status::format_error,
             fmt::format("report '{}': expected a JSON object", o.input.string()));
    write_file_atomic(o.html, render_html(report));
    if (c.json)
        print_json(c.out, {{"report", o.input.string()}, {"html", o.html.string()}});
    else
        c.out << fmt::format("wrote {}\n", o.html.string());
    return exit_ok;
}

} // namespace hone::cli
