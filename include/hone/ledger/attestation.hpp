// hone/ledger/attestation.hpp — a ledger's optimize records as standard evidence.
//
// in_toto_statement(): an in-toto Statement v1 (https://in-toto.io/Statement/v1) whose
// subjects are the record's artifacts (name = path, digest.sha256) and whose predicate is SLSA
// Provenance v1 (https://slsa.dev/provenance/v1): buildDefinition.externalParameters = the
// recipe and the policy, internalParameters = the environment, resolvedDependencies = the base
// model (the artifacts of the record's baseline record) and every file of the record's `data`
// (calibration / evaluation) by SHA-256; runDetails.builder = hone and its version,
// metadata.invocationId = ledger path and seq, startedOn = the record's time.
//
// dsse_envelope(): the statement in a DSSE envelope (payloadType
// "application/vnd.in-toto+json"), signed with Ed25519 over PAE(type, body); the signature's
// keyid is the public key in hex, so a verifier needs nothing else.
#pragma once

#include "hone/core/export.hpp"
#include "hone/ledger/ledger.hpp"

#include <string>
#include <string_view>
#include <vector>

namespace hone {

/// DSSE's pre-authentication encoding: "DSSEv1" SP len(type) SP type SP len(body) SP body,
/// lengths in decimal ASCII.
HONE_EXPORT std::string dsse_pae(std::string_view payload_type, std::string_view payload);

/// Standard base64 (RFC 4648, with padding).
HONE_EXPORT std::string base64_encode(std::string_view bytes);

/// The Statement (compact JSON) of optimize record `seq` of `entries` (a ledger's records, as
/// ledger::read gives them; `ledger_name` goes into invocationId). Throws invalid_argument
/// when `seq` is not an optimize record.
HONE_EXPORT std::string in_toto_statement(const std::vector<ledger_entry>& entries,
                                          std::uint64_t seq, std::string_view ledger_name);

/// The predicate type of validation_statement(), documented in docs/ledger.md.
inline constexpr std::string_view validation_predicate_type =
    "https://github.com/hone/hone/docs/ledger.md#validation-v1";

/// A second Statement for optimize record `seq`, same subjects, predicate
/// {"metrics" (the recorded validation: accuracies, delta intervals, McNemar, slices with their
/// intervals, latency with its paired-ratio interval), "policy", "decision", "ledger":
/// {"name", "seq", "record_sha256"}}. Throws invalid_argument as in_toto_statement.
HONE_EXPORT std::string validation_statement(const std::vector<ledger_entry>& entries,
                                             std::uint64_t seq, std::string_view ledger_name);

/// {"payloadType", "payload" (base64), "signatures": [{"keyid", "sig" (base64)}]} as compact
/// JSON.
HONE_EXPORT std::string dsse_envelope(std::string_view payload_type, std::string_view payload,
                                      const signing_key& key);

} // namespace hone
