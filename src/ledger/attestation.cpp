#include "hone/ledger/attestation.hpp"

#include "evidence.hpp"
#include "hone/core/error.hpp"
#include "hone/core/version.hpp"

#include <fmt/format.h>
#include <openssl/evp.h>

namespace hone {

using ledger_detail::json;
using ledger_detail::optimize_record;

namespace {

std::vector<unsigned char> hex_bytes(const std::string& hex) {
    std::vector<unsigned char> out;
    for (std::size_t i = 0; i + 1 < hex.size(); i += 2)
        out.push_back(static_cast<unsigned char>(std::stoi(hex.substr(i, 2), nullptr, 16)));
    return out;
}

} // namespace

std::string dsse_pae(std::string_view payload_type, std::string_view payload) {
    return fmt::format("DSSEv1 {} {} {} {}", payload_type.size(), payload_type, payload.size(),
                       payload);
}

std::string base64_encode(std::string_view bytes) {
    std::string out(4 * ((bytes.size() + 2) / 3) + 1, '\0');
    const int n = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                                  reinterpret_cast<const unsigned char*>(bytes.data()),
                                  static_cast<int>(bytes.size()));
    out.resize(static_cast<std::size_t>(n));
    return out;
}

namespace {

json subjects_of(const change_record& r) {
    json subjects = json::array();
    for (const auto& a : r.artifacts)
        subjects.push_back({{"name", a.path}, {"digest", {{"sha256", a.sha256}}}});
    return subjects;
}

} // namespace

std::string validation_statement(const std::vector<ledger_entry>& entries, std::uint64_t seq,
                                 std::string_view ledger_name) {
    const ledger_entry& e = optimize_record(entries, seq, "in-toto export");
    const json statement = {
        {"_type", "https://in-toto.io/Statement/v1"},
        {"subject", subjects_of(e.record)},
        {"predicateType", validation_predicate_type},
        {"predicate",
         {{"metrics", json::parse(e.record.metrics)},
          {"policy", json::parse(e.record.policy)},
          {"decision", json::parse(e.record.decision)},
          {"ledger",
           {{"name", ledger_name}, {"seq", e.seq}, {"record_sha256", sha256_hex(e.line)}}}}}};
    return statement.dump();
}

std::string in_toto_statement(const std::vector<ledger_entry>& entries, std::uint64_t seq,
                              std::string_view ledger_name) {
    const ledger_entry& e = optimize_record(entries, seq, "in-toto export");
    const change_record& r = e.record;
    json subjects = subjects_of(r);
    json dependencies = json::array();
    if (const ledger_entry* base = ledger_detail::baseline_of(entries, e))
        for (const auto& a : base->record.artifacts)
            dependencies.push_back({{"name", a.path},
                                    {"digest", {{"sha256", a.sha256}}},
                                    {"annotations", {{"role", "base model"}}}});
    for (const auto& set : ledger_detail::data_sets_of(json::parse(r.data)))
        for (const auto& f : set.files)
            dependencies.push_back({{"name", f.path},
                                    {"digest", {{"sha256", f.sha256}}},
                                    {"annotations", {{"role", set.role}}}});
    const json statement = {
        {"_type", "https://in-toto.io/Statement/v1"},
        {"subject", std::move(subjects)},
        {"predicateType", "https://slsa.dev/provenance/v1"},
        {"predicate",
         {{"buildDefinition",
           {{"buildType", "https://github.com/hone/hone/docs/ledger.md#optimize-v1"},
            {"externalParameters",
             {{"recipe", json::parse(r.recipe)}, {"policy", json::parse(r.policy)}}},
            {"internalParameters", {{"environment", json::parse(r.environment)}}},
            {"resolvedDependencies", std::move(dependencies)}}},
          {"runDetails",
           {{"builder",
             {{"id", "https://github.com/hone/hone"},
              {"version", {{"hone", std::string(version().text)}}}}},
            {"metadata",
             {{"invocationId", fmt::format("{}#{}", ledger_name, e.seq)},
              {"startedOn", e.time}}}}}}}};
    return statement.dump();
}

std::string dsse_envelope(std::string_view payload_type, std::string_view payload,
                          const signing_key& key) {
    const auto sig = hex_bytes(key.sign(dsse_pae(payload_type, payload)));
    const json envelope = {
        {"payloadType", payload_type},
        {"payload", base64_encode(payload)},
        {"signatures",
         {{{"keyid", key.public_key_hex()},
           {"sig", base64_encode(std::string_view(reinterpret_cast<const char*>(sig.data()),
                                                  sig.size()))}}}}};
    return envelope.dump();
}

} // namespace hone
