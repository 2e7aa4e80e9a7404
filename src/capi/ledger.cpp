#include "hone/ledger/ledger.hpp"
#include "guard.hpp"
#include "hone/ledger/cyclonedx.hpp"
#include "trust_handle.hpp"

#include <cstddef>
#include <cstring>
#include <fmt/format.h>
#include <memory>

struct hone_key {
    hone::signing_key key;
};

struct hone_ledger {
    hone::ledger ledger;
    std::string message; // storage behind the const char* results
};

namespace {

using hone::capi::guarded;
using hone::capi::require;

const char* or_null(const char* text) { return text ? text : "null"; }

hone::verify_options options_from(const hone_verify_params* p) {
    hone::verify_options o;
    if (!p) return o;
    hone::capi::check_struct_size(p->struct_size, offsetof(hone_verify_params, trust),
                                  "hone_ledger_verify", "hone_verify_params");
    o.require_signatures = p->require_signatures != 0;
    if (p->struct_size >= sizeof(hone_verify_params)) { // fields added in 0.2
        o.trust = p->trust ? &p->trust->store : nullptr;
        o.strict = p->strict != 0;
    }
    if (p->trusted_count > 0 && (!p->trusted_actors || !p->trusted_keys))
        hone::fail(hone::status::invalid_argument,
                   "hone_verify_params: trusted_actors and trusted_keys must not be NULL when "
                   "trusted_count > 0");
    for (std::size_t i = 0; i < p->trusted_count; ++i) {
        if (!p->trusted_actors[i] || !p->trusted_keys[i])
            hone::fail(hone::status::invalid_argument,
                       fmt::format("hone_verify_params: trusted entry {} is NULL", i));
        o.trusted_keys[p->trusted_actors[i]] = p->trusted_keys[i];
    }
    return o;
}

hone::change_record record_from(const hone_change_record* r) {
    hone::capi::check_struct_size(r->struct_size, sizeof(hone_change_record), "hone_ledger_append",
                                  "hone_change_record");
    const int action = hone::capi::raw_enum(r->action);
    if (action < HONE_LEDGER_BASELINE || action > HONE_LEDGER_PROMOTE)
        hone::fail(hone::status::invalid_argument,
                   fmt::format("hone_ledger_append: record->action {} is not a hone_ledger_action",
                               action));
    hone::change_record c;
    c.action = static_cast<hone::ledger_action>(action);
    c.actor = require(r->actor, "hone_ledger_append", "record->actor");
    if (r->subject != 0) c.subject = r->subject;
    if (r->artifact_count > 0)
        require(r->artifact_paths, "hone_ledger_append", "record->artifact_paths");
    for (std::size_t i = 0; i < r->artifact_count; ++i)
        c.artifacts.push_back(hone::hash_file(
            require(r->artifact_paths[i], "hone_ledger_append", "record->artifact_paths[i]")));
    c.recipe = or_null(r->recipe);
    c.data = or_null(r->data);
    c.metrics = or_null(r->metrics);
    c.policy = or_null(r->policy);
    c.decision = or_null(r->decision);
    c.environment = or_null(r->environment);
    c.note = r->note ? r->note : "";
    return c;
}

} // namespace

static_assert(HONE_LEDGER_PROMOTE == static_cast<int>(hone::ledger_action::promote));
static_assert(HONE_ARTIFACT_UNKNOWN == static_cast<int>(hone::artifact_verdict::unknown));

extern "C" {

HONE_API hone_status hone_key_generate(hone_key** out) {
    return guarded([&] {
        require(out, "hone_key_generate", "out");
        *out = new hone_key{hone::signing_key::generate()};
    });
}

HONE_API hone_status hone_key_load_pem(const char* path, hone_key** out) {
    return guarded([&] {
        require(path, "hone_key_load_pem", "path");
        require(out, "hone_key_load_pem", "out");
        *out = new hone_key{hone::signing_key::load_pem(path)};
    });
}

HONE_API hone_status hone_key_save_pem(const hone_key* key, const char* path) {
    return guarded([&] {
        require(key, "hone_key_save_pem", "key")
            ->key.save_pem(require(path, "hone_key_save_pem", "path"));
    });
}

HONE_API hone_status hone_key_public_hex(const hone_key* key, char* buffer, size_t capacity,
                                         size_t* needed) {
    return guarded([&] {
        const std::string hex = require(key, "hone_key_public_hex", "key")->key.public_key_hex();
        hone::capi::copy_string(hex, buffer, capacity, needed, "hone_key_public_hex");
    });
}

HONE_API void hone_key_destroy(hone_key* key) { delete key; }

HONE_API hone_status hone_change_record_init(hone_change_record* record) {
    return guarded([&] {
        *require(record, "hone_change_record_init", "record") = hone_change_record{};
        record->struct_size = sizeof(hone_change_record);
    });
}

HONE_API hone_status hone_ledger_open(const char* path, hone_ledger** out) {
    return guarded([&] {
        require(path, "hone_ledger_open", "path");
        require(out, "hone_ledger_open", "out");
        if (*path == '\0')
            hone::fail(hone::status::invalid_argument, "hone_ledger_open: empty path");
        *out = new hone_ledger{hone::ledger(path), {}};
    });
}

HONE_API void hone_ledger_destroy(hone_ledger* ledger) { delete ledger; }

HONE_API hone_status hone_ledger_append(hone_ledger* ledger, const hone_change_record* record,
                                        const hone_key* key, uint64_t* seq) {
    return guarded([&] {
        require(ledger, "hone_ledger_append", "ledger");
        const auto r = record_from(require(record, "hone_ledger_append", "record"));
        const auto entry = ledger->ledger.append(r, key ? &key->key : nullptr);
        if (seq) *seq = entry.seq;
    });
}

HONE_API hone_status hone_ledger_append_trusted(hone_ledger* ledger,
                                                const hone_change_record* record,
                                                const hone_key* key, const hone_trust_store* trust,
                                                uint64_t* seq) {
    return guarded([&] {
        require(ledger, "hone_ledger_append_trusted", "ledger");
        require(trust, "hone_ledger_append_trusted", "trust");
        const auto r = record_from(require(record, "hone_ledger_append_trusted", "record"));
        const auto entry = ledger->ledger.append(r, key ? &key->key : nullptr, &trust->store);
        if (seq) *seq = entry.seq;
    });
}

HONE_API hone_status hone_verify_params_init(hone_verify_params* params) {
    return guarded([&] {
        *require(params, "hone_verify_params_init", "params") = hone_verify_params{};
        params->struct_size = sizeof(hone_verify_params);
    });
}

HONE_API hone_status hone_ledger_verify(hone_ledger* ledger, const hone_verify_params* params,
                                        hone_verify_result* out) {
    return guarded([&] {
        require(ledger, "hone_ledger_verify", "ledger");
        require(out, "hone_ledger_verify", "out");
        hone::capi::check_struct_size(out->struct_size, sizeof(hone_verify_result),
                                      "hone_ledger_verify", "hone_verify_result");
        const auto report = ledger->ledger.verify(options_from(params));
        ledger->message = report.problem;
        hone::capi::write_versioned(out,
                                    hone_verify_result{0, report.ok ? 1 : 0, report.records,
                                                       report.first_bad, ledger->message.c_str()},
                                    "hone_ledger_verify", "hone_verify_result");
    });
}

HONE_API hone_status hone_ledger_check_artifact(hone_ledger* ledger, const char* path,
                                                const hone_verify_params* params,
                                                hone_artifact_status* out) {
    return guarded([&] {
        require(ledger, "hone_ledger_check_artifact", "ledger");
        require(path, "hone_ledger_check_artifact", "path");
        require(out, "hone_ledger_check_artifact", "out");
        hone::capi::check_struct_size(out->struct_size, sizeof(hone_artifact_status),
                                      "hone_ledger_check_artifact", "hone_artifact_status");
        const auto s = ledger->ledger.check_artifact(path, options_from(params));
        ledger->message = s.reason;
        hone_artifact_status result{};
        result.verdict = static_cast<hone_artifact_verdict>(s.verdict);
        result.seq = s.seq;
        result.approvals_missing = s.approvals_missing;
        std::memcpy(result.sha256, s.artifact.sha256.c_str(), 65);
        result.reason = ledger->message.c_str();
        hone::capi::write_versioned(out, result, "hone_ledger_check_artifact",
                                    "hone_artifact_status");
    });
}

HONE_API hone_status hone_cyclonedx_params_init(hone_cyclonedx_params* params) {
    return guarded([&] {
        *require(params, "hone_cyclonedx_params_init", "params") = hone_cyclonedx_params{};
        params->struct_size = sizeof(hone_cyclonedx_params);
    });
}

HONE_API hone_status hone_ledger_export_cyclonedx(hone_ledger* ledger,
                                                  const hone_cyclonedx_params* params, char* buffer,
                                                  size_t capacity, size_t* needed) {
    return guarded([&] {
        const char* fn = "hone_ledger_export_cyclonedx";
        require(ledger, fn, "ledger");
        std::uint64_t seq = 0;
        if (params) {
            hone::capi::check_struct_size(params->struct_size, sizeof(hone_cyclonedx_params), fn,
                                          "hone_cyclonedx_params");
            seq = params->seq;
        }
        const hone::ledger& l = ledger->ledger;
        if (const auto report = l.verify(); !report.ok)
            hone::fail(hone::status::verification_failed,
                       fmt::format("{}: ledger '{}' does not verify (line {}: {}); nothing "
                                   "exported",
                                   fn, l.path().string(), report.first_bad, report.problem));
        const auto entries = l.read();
        if (seq == 0)
            for (const auto& e : entries)
                if (e.record.action == hone::ledger_action::optimize) seq = e.seq;
        if (seq == 0)
            hone::fail(
                hone::status::invalid_argument,
                fmt::format("{}: ledger '{}' has no optimize record", fn, l.path().string()));
        const std::string bom = hone::cyclonedx_bom(entries, seq, l.path().filename().string());
        hone::capi::copy_string(bom, buffer, capacity, needed, fn);
    });
}

HONE_API hone_status hone_trust_store_load(const char* path, hone_trust_store** out) {
    return guarded([&] {
        require(path, "hone_trust_store_load", "path");
        require(out, "hone_trust_store_load", "out");
        *out = new hone_trust_store{hone::trust_store::load(path)};
    });
}

HONE_API hone_status hone_trust_store_parse(const char* text, size_t size, const char* source,
                                            hone_trust_store** out) {
    return guarded([&] {
        if (size > 0) require(text, "hone_trust_store_parse", "text");
        require(out, "hone_trust_store_parse", "out");
        *out = new hone_trust_store{hone::trust_store::parse(
            std::string_view(text ? text : "", size), source ? source : "trust store")};
    });
}

HONE_API hone_status hone_trust_store_count(const hone_trust_store* store, size_t* count) {
    return guarded([&] {
        *require(count, "hone_trust_store_count", "count") =
            require(store, "hone_trust_store_count", "store")->store.entries().size();
    });
}

HONE_API hone_status hone_trust_store_holder(const hone_trust_store* store,
                                             const char* public_key_hex, char* buffer,
                                             size_t capacity, size_t* needed) {
    return guarded([&] {
        require(store, "hone_trust_store_holder", "store");
        require(public_key_hex, "hone_trust_store_holder", "public_key_hex");
        const hone::trust_entry* e = store->store.find(public_key_hex);
        if (!e)
            hone::fail(hone::status::not_found,
                       fmt::format("hone_trust_store_holder: key '{}' is not in {}", public_key_hex,
                                   store->store.source()));
        hone::capi::copy_string(e->holder, buffer, capacity, needed, "hone_trust_store_holder");
    });
}

HONE_API void hone_trust_store_destroy(hone_trust_store* store) { delete store; }

} // extern "C"
