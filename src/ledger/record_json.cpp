#include "record_json.hpp"

#include "hone/core/error.hpp"

#include <cmath>
#include <fmt/format.h>

namespace hone::ledger_detail {

namespace {

void check_finite(const json& value, const std::string& what) {
    if (value.is_number_float() && !std::isfinite(value.get<double>()))
        fail(status::invalid_argument, fmt::format("{}: NaN and infinity are not allowed", what));
    if (value.is_structured())
        for (const auto& item : value)
            check_finite(item, what);
}

const json& member(const json& object, const char* key, const std::string& where) {
    const auto it = object.find(key);
    if (it == object.end())
        fail(status::format_error, fmt::format("{}: no field '{}'", where, key));
    return *it;
}

std::string string_member(const json& object, const char* key, const std::string& where) {
    const json& v = member(object, key, where);
    if (!v.is_string())
        fail(status::format_error, fmt::format("{}: field '{}' is not a string", where, key));
    return v.get<std::string>();
}

std::uint64_t unsigned_member(const json& v, const char* key, const std::string& where) {
    if (!v.is_number_unsigned())
        fail(status::format_error,
             fmt::format("{}: field '{}' is not a non-negative integer", where, key));
    return v.get<std::uint64_t>();
}

bool is_hex(const std::string& s, std::size_t digits) {
    return s.size() == digits && s.find_first_not_of("0123456789abcdef") == std::string::npos;
}

} // namespace

std::string canonical(const json& value, const std::string& what) {
    check_finite(value, what);
    try {
        return value.dump(-1, ' ', false, json::error_handler_t::strict);
    } catch (const json::exception& e) {
        fail(status::invalid_argument, fmt::format("{}: {}", what, e.what()));
    }
}

json parse_member(const std::string& text, const std::string& what) {
    try {
        json value = json::parse(text);
        check_finite(value, what);
        return value;
    } catch (const json::exception& e) {
        fail(status::invalid_argument, fmt::format("{} is not valid JSON: {}", what, e.what()));
    }
}

json to_json(const ledger_entry& e) {
    const change_record& r = e.record;
    json artifacts = json::array();
    for (const auto& a : r.artifacts)
        artifacts.push_back({{"path", a.path}, {"sha256", a.sha256}, {"bytes", a.bytes}});
    json j = {{"seq", e.seq},
              {"prev", e.prev},
              {"time", e.time},
              {"actor", r.actor},
              {"action", std::string(name_of(r.action))},
              {"artifacts", std::move(artifacts)},
              {"recipe", parse_member(r.recipe, "recipe")},
              {"data", parse_member(r.data, "data")},
              {"metrics", parse_member(r.metrics, "metrics")},
              {"policy", parse_member(r.policy, "policy")},
              {"decision", parse_member(r.decision, "decision")},
              {"environment", parse_member(r.environment, "environment")},
              {"note", r.note}};
    if (r.subject) j["subject"] = *r.subject;
    return j;
}

ledger_entry from_json(const json& j, const std::string& line, const std::string& where) {
    if (!j.is_object()) fail(status::format_error, fmt::format("{}: not a JSON object", where));
    ledger_entry e;
    e.line = line;
    e.seq = unsigned_member(member(j, "seq", where), "seq", where);
    e.prev = string_member(j, "prev", where);
    if (!is_hex(e.prev, 64))
        fail(status::format_error,
             fmt::format("{}: field 'prev' is not a SHA-256 hex digest", where));
    e.time = string_member(j, "time", where);
    change_record& r = e.record;
    r.actor = string_member(j, "actor", where);
    const std::string action = string_member(j, "action", where);
    const auto parsed = ledger_action_from_name(action);
    if (!parsed) fail(status::format_error, fmt::format("{}: unknown action '{}'", where, action));
    r.action = *parsed;
    if (const auto it = j.find("subject"); it != j.end())
        r.subject = unsigned_member(*it, "subject", where);
    const json& artifacts = member(j, "artifacts", where);
    if (!artifacts.is_array())
        fail(status::format_error, fmt::format("{}: field 'artifacts' is not an array", where));
    for (const json& a : artifacts) {
        if (!a.is_object())
            fail(status::format_error, fmt::format("{}: an artifact is not an object", where));
        artifact_ref ref{string_member(a, "path", where), string_member(a, "sha256", where),
                         unsigned_member(member(a, "bytes", where), "bytes", where)};
        if (!is_hex(ref.sha256, 64))
            fail(status::format_error,
                 fmt::format("{}: artifact '{}' has no valid sha256", where, ref.path));
        r.artifacts.push_back(std::move(ref));
    }
    r.recipe = member(j, "recipe", where).dump();
    r.data = member(j, "data", where).dump();
    r.metrics = member(j, "metrics", where).dump();
    r.policy = member(j, "policy", where).dump();
    r.decision = member(j, "decision", where).dump();
    r.environment = member(j, "environment", where).dump();
    r.note = string_member(j, "note", where);
    if (const auto it = j.find("signature"); it != j.end()) {
        if (!it->is_object())
            fail(status::format_error,
                 fmt::format("{}: field 'signature' is not an object", where));
        e.signer = string_member(*it, "public_key", where);
        string_member(*it, "value", where);
    }
    const std::size_t expected = 13 + (r.subject ? 1 : 0) + (j.contains("signature") ? 1 : 0);
    if (j.size() != expected)
        fail(status::format_error, fmt::format("{}: unexpected fields in the record", where));
    return e;
}

std::string signed_bytes(json value) {
    value.erase("signature");
    return value.dump();
}

} // namespace hone::ledger_detail
