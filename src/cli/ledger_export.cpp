#include "ledger_export.hpp"

#include "exit_codes.hpp"

#include <hone/core/atomic_file.hpp>
#include <hone/core/error.hpp>
#include <hone/ledger/attestation.hpp>
#include <hone/ledger/cyclonedx.hpp>

#include <fmt/format.h>

namespace hone::cli {

namespace {

void write_out(const ledger_export_options& o, console& c, const std::string& text,
               const std::string& what) {
    if (o.out.empty()) {
        c.out << text;
        return;
    }
    write_file_atomic(o.out, text);
    if (!c.json) c.err << fmt::format("wrote {} to {}\n", what, o.out.string());
}

/// The ledger's records, after the whole ledger verified.
std::vector<ledger_entry> verified_entries(const ledger_export_options& o) {
    require_ledger(o.ledger);
    const ledger l(o.ledger);
    if (const verify_report r = l.verify(); !r.ok)
        fail(status::verification_failed,
             fmt::format(
                 "ledger '{}' does not verify ({}: {}); nothing exported", o.ledger.string(),
                 r.first_bad == 0 ? std::string("head file") : fmt::format("line {}", r.first_bad),
                 r.problem));
    return l.read();
}

int export_cyclonedx(const ledger_export_options& o, console& c) {
    const std::vector<ledger_entry> entries = verified_entries(o);
    std::uint64_t seq = o.seq.value_or(0);
    if (!o.seq)
        for (const auto& e : entries)
            if (e.record.action == ledger_action::optimize) seq = e.seq;
    if (seq == 0)
        fail(status::invalid_argument,
             fmt::format("ledger export: '{}' has no optimize record", o.ledger.string()));
    if (seq > entries.size() || entries[seq - 1].record.action != ledger_action::optimize)
        fail(status::invalid_argument,
             fmt::format("ledger export: record {} is not an optimize record of '{}'", seq,
                         o.ledger.string()));
    write_out(o, c, cyclonedx_bom(entries, seq, o.ledger.filename().string()),
              fmt::format("the CycloneDX BOM of record {}", seq));
    return exit_ok;
}

} // namespace

int run_ledger_export(const ledger_export_options& o, console& c) {
    if (o.format == "cyclonedx") return export_cyclonedx(o, c);
    if (o.format != "in-toto")
        fail(status::invalid_argument,
             fmt::format("ledger export: --format '{}' is not supported (in-toto, cyclonedx)",
                         o.format));
    if (o.key.empty())
        fail(status::invalid_argument,
             "ledger export: --key is required (the key that signed the optimize record)");
    const signing_key key = signing_key::load_pem(o.key);
    const std::string public_key = key.public_key_hex();
    const std::vector<ledger_entry> entries = verified_entries(o);
    std::vector<std::uint64_t> chosen;
    if (o.seq) {
        if (*o.seq < 1 || *o.seq > entries.size() ||
            entries[*o.seq - 1].record.action != ledger_action::optimize)
            fail(status::invalid_argument,
                 fmt::format("ledger export: record {} is not an optimize record of '{}'", *o.seq,
                             o.ledger.string()));
        if (entries[*o.seq - 1].signer != public_key)
            fail(status::invalid_argument,
                 fmt::format("ledger export: record {} is not signed by the key in '{}'; an "
                             "attestation is signed with the record's own key",
                             *o.seq, o.key.string()));
        chosen.push_back(*o.seq);
    } else {
        for (const auto& e : entries)
            if (e.record.action == ledger_action::optimize && e.signer == public_key)
                chosen.push_back(e.seq);
        if (chosen.empty())
            fail(status::invalid_argument,
                 fmt::format("ledger export: no optimize record of '{}' is signed by the key in "
                             "'{}'",
                             o.ledger.string(), o.key.string()));
    }
    std::string lines;
    const std::string name = o.ledger.filename().string();
    for (const auto seq : chosen)
        for (const auto& statement :
             {in_toto_statement(entries, seq, name), validation_statement(entries, seq, name)})
            lines += dsse_envelope("application/vnd.in-toto+json", statement, key) + "\n";
    write_out(o, c, lines,
              fmt::format("{} attestation(s) of {} record(s)", 2 * chosen.size(), chosen.size()));
    return exit_ok;
}

} // namespace hone::cli
