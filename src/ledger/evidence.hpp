// Internal: what the evidence exports (in-toto, CycloneDX) read out of a ledger's records.
#pragma once

#include "hone/ledger/ledger.hpp"
#include "record_json.hpp"

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace hone::ledger_detail {

/// Record `seq` of `entries`; throws invalid_argument ("<what>: record N is not an optimize
/// record") unless it is an optimize record.
const ledger_entry& optimize_record(const std::vector<ledger_entry>& entries, std::uint64_t seq,
                                    std::string_view what);

/// The baseline record an optimize record names in its note ("baseline record N"), else the
/// newest baseline record before it; null when there is none. `e` must be an element of
/// `entries`.
const ledger_entry* baseline_of(const std::vector<ledger_entry>& entries, const ledger_entry& e);

/// One data set of a record's `data`: its role (the member it sits under: "calibration",
/// "evaluation"; "data" at the top level), its spec and sample count when recorded, and every
/// {path, sha256, bytes} file under it.
struct data_set {
    std::string role;
    std::string spec;
    std::optional<std::uint64_t> samples;
    std::optional<std::uint64_t> seed;
    std::vector<artifact_ref> files;
};

/// The data sets of a record's `data` value, in member order (sorted: canonical JSON).
std::vector<data_set> data_sets_of(const json& data);

} // namespace hone::ledger_detail
