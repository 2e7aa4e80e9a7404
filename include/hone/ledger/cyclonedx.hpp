// hone/ledger/cyclonedx.hpp — an optimize record as a CycloneDX 1.6 ML-BOM (model card).
//
// cyclonedx_bom() gives one BOM (JSON, https://cyclonedx.org/docs/1.6/json/) per optimize record:
//   serialNumber   urn:uuid from the SHA-256 of the record's line (cyclonedx_serial_number), so
//                  the same record gives the same bytes (with the same hone version)
//   metadata       timestamp = the record's time; tools = hone and its version; properties
//                  naming the ledger, the seq, the record's SHA-256, its actor and signer
//   components     the candidate (the record's first artifact) as a machine-learning-model with
//                  its SHA-256 and a modelCard; further artifacts as files; the base model (the
//                  baseline record's artifacts); one `data` component per data set of the
//                  record (calibration, evaluation) holding its files with their SHA-256
//   modelCard      modelParameters.task and datasets (refs); quantitativeAnalysis.
//                  performanceMetrics: one entry per recorded figure (type, value, slice,
//                  confidenceInterval) — docs/ledger.md lists them; considerations.
//                  performanceTradeoffs = the decision's reasons; properties = policy tier,
//                  verdict, approvals required, the policy
//   dependencies   the candidate depends on the base model and the data sets
//   formulation    the recipe and the environment as properties
// Numbers are written as the ledger stores them (shortest round-trip text).
#pragma once

#include "hone/core/export.hpp"
#include "hone/ledger/ledger.hpp"

#include <string>
#include <string_view>
#include <vector>

namespace hone {

/// "urn:uuid:" + the first 128 bits of SHA-256(record_line) as a UUID with version 8 (RFC 9562,
/// vendor-specific) and the RFC variant bits set.
HONE_EXPORT std::string cyclonedx_serial_number(std::string_view record_line);

/// The BOM (indented JSON ending in a newline) of optimize record `seq` of `entries` (a ledger's
/// records as ledger::read gives them; `ledger_name` goes into the metadata). Throws
/// invalid_argument when `seq` is not an optimize record, format_error naming the record and the
/// field when its metrics, policy or decision are malformed, and verification_failed when its
/// stored decision is not the one its metrics and policy give (docs/ledger.md, "Re-derived
/// verdicts").
HONE_EXPORT std::string cyclonedx_bom(const std::vector<ledger_entry>& entries, std::uint64_t seq,
                                      std::string_view ledger_name);

} // namespace hone
