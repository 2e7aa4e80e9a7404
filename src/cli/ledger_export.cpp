#include "ledger_export.hpp"

#include "exit_codes.hpp"

#include <hone/core/atomic_file.hpp>
#include <hone/core/error.hpp>
#include <hone/ledger/attestation.hpp>

#include <fmt/format.h>

namespace hone::cli {

int run_ledger_export(const ledger_export_options& o, console& c) {
    if (o.format != "in-toto")
        fail(status::invalid_argument,
             fmt::format("ledger export: --format '{}' is not supported (in-toto)", o.format));
    if (o.key.empty())
        fail(status::invalid_argument,
             "ledger export: --key is required (the key that signed the optimize record)");
    require_ledger(o.ledger);
    const signing_key key = signing_key::load_pem(o.key);
    const std::string public_key = key.public_key_hex();
    const ledger l(o.ledger);
    if (const verify_report r = l.verify(); !r.ok)
        fail(status::verification_failed,
             fmt::format(
                 "ledger '{}' does not verify ({}: {}); nothing exported", o.ledger.string(),
                 r.first_bad == 0 ? std::string("head file") : fmt::format("line {}", r.first_bad),
                 r.problem));
    const std::vector<ledger_entry> entries = l.read();
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
    if (o.out.empty()) {
        c.out << lines;
    } else {
        write_file_atomic(o.out, lines);
        if (!c.json)
            c.err << fmt::format("wrote {} attestation(s) of {} record(s) to {}\n",
                                 2 * chosen.size(), chosen.size(), o.out.string());
    }
    return exit_ok;
}

} // namespace hone::cli
