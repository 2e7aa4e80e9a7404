#include "evidence.hpp"

#include "hone/core/error.hpp"

#include <fmt/format.h>
#include <regex>

namespace hone::ledger_detail {

const ledger_entry& optimize_record(const std::vector<ledger_entry>& entries, std::uint64_t seq,
                                    std::string_view what) {
    if (seq < 1 || seq > entries.size() ||
        entries[seq - 1].record.action != ledger_action::optimize)
        fail(status::invalid_argument,
             fmt::format("{}: record {} is not an optimize record", what, seq));
    return entries[seq - 1];
}

const ledger_entry* baseline_of(const std::vector<ledger_entry>& entries, const ledger_entry& e) {
    // Positions, not the records' seq fields: entries read without verification may carry any
    // seq. `e` is an element of `entries` (optimize_record gives it).
    const auto before = static_cast<std::uint64_t>(&e - entries.data());
    const auto baseline_at = [&](std::uint64_t seq) {
        return seq >= 1 && seq <= before && entries[seq - 1].seq == seq &&
               entries[seq - 1].record.action == ledger_action::baseline;
    };
    std::smatch m;
    static const std::regex named("baseline record ([0-9]{1,18})");
    if (std::regex_search(e.record.note, m, named))
        if (const auto seq = std::stoull(m[1].str()); baseline_at(seq)) return &entries[seq - 1];
    for (auto seq = before; seq >= 1; --seq)
        if (baseline_at(seq)) return &entries[seq - 1];
    return nullptr;
}

namespace {

bool is_file(const json& v) {
    return v.is_object() && v.contains("path") && v.contains("sha256") && v["path"].is_string() &&
           v["sha256"].is_string();
}

void collect(const json& value, std::vector<artifact_ref>& out) {
    if (is_file(value)) {
        const json& bytes = value.contains("bytes") ? value["bytes"] : json();
        out.push_back({value["path"].get<std::string>(), value["sha256"].get<std::string>(),
                       bytes.is_number_unsigned() ? bytes.get<std::uint64_t>() : 0});
    } else if (value.is_object() || value.is_array()) {
        for (const auto& item : value)
            collect(item, out);
    }
}

std::optional<std::uint64_t> count_member(const json& set, const char* key) {
    if (set.contains(key) && set[key].is_number_unsigned()) return set[key].get<std::uint64_t>();
    return std::nullopt;
}

data_set make_set(const std::string& role, const json& value) {
    data_set s{role, {}, count_member(value, "samples"), count_member(value, "seed"), {}};
    if (value.contains("spec") && value["spec"].is_string()) s.spec = value["spec"];
    collect(value, s.files);
    return s;
}

} // namespace

std::vector<data_set> data_sets_of(const json& data) {
    std::vector<data_set> out;
    if (!data.is_object()) return out;
    if (data.contains("files") || is_file(data)) { // one unnamed set (a baseline record's)
        out.push_back(make_set("data", data));
        return out;
    }
    for (const auto& [role, value] : data.items()) {
        data_set s = make_set(role, value);
        if (!s.files.empty()) out.push_back(std::move(s));
    }
    return out;
}

} // namespace hone::ledger_detail
