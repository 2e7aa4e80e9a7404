// Internal: change records ↔ canonical JSON (nlohmann_json stays out of public headers).
#pragma once

#include "hone/ledger/ledger.hpp"

#include <nlohmann/json.hpp>
#include <string>

namespace hone::ledger_detail {

using json = nlohmann::json;

/// Canonical text of a JSON value: keys sorted bytewise (std::map), no whitespace, shortest
/// round-trip numbers. Throws invalid_argument for NaN/inf or invalid UTF-8, naming `what`.
std::string canonical(const json& value, const std::string& what);

/// Parses a caller's JSON text for member `what`; throws invalid_argument naming it.
json parse_member(const std::string& text, const std::string& what);

/// The record's JSON without signature.
json to_json(const ledger_entry& entry);

/// Parses a stored line's JSON into an entry; throws format_error with `where` as prefix.
ledger_entry from_json(const json& value, const std::string& line, const std::string& where);

/// The bytes a signature covers: the canonical record without its "signature" member.
std::string signed_bytes(json value);

} // namespace hone::ledger_detail
