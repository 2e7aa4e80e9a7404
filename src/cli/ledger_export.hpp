// ledger_export.hpp — `hone ledger export`: optimize records as standard attestations.
#pragma once

#include "commands.hpp"

#include <filesystem>
#include <optional>
#include <string>

namespace hone::cli {

struct ledger_export_options {
    std::filesystem::path ledger;
    std::string format = "in-toto";   ///< in-toto: DSSE envelopes, one JSON line each; cyclonedx
    std::optional<std::uint64_t> seq; ///< one optimize record; default: all signed by --key
                                      ///< (cyclonedx: the newest optimize record)
    std::filesystem::path key;        ///< in-toto: the key that signed the record(s) (required)
    std::filesystem::path out;        ///< file to write; empty = stdout
};

/// Writes two DSSE envelopes per optimize record (JSON Lines, the in-toto bundle form): SLSA
/// provenance, then hone's validation predicate. The
/// ledger must verify; --seq must name an optimize record signed by --key; without --seq every
/// optimize record signed by --key is exported (none: invalid_argument).
/// --format cyclonedx writes one CycloneDX 1.6 BOM (hone::cyclonedx_bom) of record --seq, else
/// of the newest optimize record; no key is needed (the BOM names the record's SHA-256 and
/// signer).
int run_ledger_export(const ledger_export_options& o, console& c);

} // namespace hone::cli
