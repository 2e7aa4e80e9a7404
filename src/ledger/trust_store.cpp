#include "hone/ledger/trust_store.hpp"

#include "hone/core/atomic_file.hpp"
#include "hone/core/error.hpp"

#include <algorithm>
#include <fmt/format.h>

namespace hone {

namespace {

std::vector<std::string_view> split(std::string_view text, std::string_view separators) {
    std::vector<std::string_view> out;
    std::size_t start = 0;
    while (start < text.size()) {
        const auto begin = text.find_first_not_of(separators, start);
        if (begin == std::string_view::npos) break;
        auto end = text.find_first_of(separators, begin);
        if (end == std::string_view::npos) end = text.size();
        out.push_back(text.substr(begin, end - begin));
        start = end;
    }
    return out;
}

std::string lower(std::string_view s) {
    std::string out(s);
    std::transform(out.begin(), out.end(), out.begin(),
                   [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    return out;
}

bool valid_role(std::string_view role) {
    if (role == "optimizer" || role == "approver") return true;
    return role.rfind("approver:", 0) == 0 && risk_tier_from_name(role.substr(9)).has_value();
}

} // namespace

trust_store trust_store::parse(std::string_view text, std::string_view source) {
    trust_store store;
    store.source_ = std::string(source);
    std::uint64_t line_no = 0;
    std::size_t start = 0;
    while (start <= text.size()) {
        auto end = text.find('\n', start);
        if (end == std::string_view::npos) end = text.size();
        std::string_view line = text.substr(start, end - start);
        start = end + 1;
        ++line_no;
        if (const auto hash = line.find('#'); hash != std::string_view::npos)
            line = line.substr(0, hash);
        const auto fields = split(line, " \t\r");
        if (fields.empty()) continue;
        const auto where = [&](int field, const char* name) {
            return fmt::format("{} line {}, field {} ({})", source, line_no, field, name);
        };
        if (fields.size() != 3)
            fail(status::format_error,
                 fmt::format("{} line {}: expected 3 fields '<holder> <roles> <public key>', "
                             "found {}",
                             source, line_no, fields.size()));
        trust_entry e;
        e.holder = std::string(fields[0]);
        e.line = line_no;
        const auto roles = split(fields[1], ",");
        if (roles.empty() || fields[1].front() == ',' || fields[1].back() == ',' ||
            fields[1].find(",,") != std::string_view::npos)
            fail(status::format_error, fmt::format("{}: '{}' is not a comma list of roles",
                                                   where(2, "roles"), fields[1]));
        for (const auto role : roles) {
            if (!valid_role(role))
                fail(status::format_error,
                     fmt::format("{}: unknown role '{}' (optimizer, approver, approver:<tier> "
                                 "with tier low, medium, high or critical)",
                                 where(2, "roles"), role));
            if (std::find(e.roles.begin(), e.roles.end(), role) == e.roles.end())
                e.roles.emplace_back(role);
        }
        e.public_key = lower(fields[2]);
        if (e.public_key.size() != 64 ||
            e.public_key.find_first_not_of("0123456789abcdef") != std::string::npos)
            fail(status::format_error,
                 fmt::format("{}: '{}' is not an Ed25519 public key (64 hex digits)",
                             where(3, "public key"), fields[2]));
        if (const trust_entry* other = store.find(e.public_key))
            fail(status::format_error,
                 fmt::format("{}: this key is already listed for '{}' on line {} (one key, one "
                             "holder)",
                             where(3, "public key"), other->holder, other->line));
        store.entries_.push_back(std::move(e));
    }
    return store;
}

trust_store trust_store::load(const std::filesystem::path& path) {
    return parse(read_file(path), fmt::format("trust store '{}'", path.string()));
}

const trust_entry* trust_store::find(std::string_view public_key_hex) const noexcept {
    const std::string key = lower(public_key_hex);
    for (const auto& e : entries_)
        if (e.public_key == key) return &e;
    return nullptr;
}

bool trust_store::may_optimize(std::string_view public_key_hex) const noexcept {
    const trust_entry* e = find(public_key_hex);
    return e && std::find(e->roles.begin(), e->roles.end(), "optimizer") != e->roles.end();
}

bool trust_store::may_approve(std::string_view public_key_hex, risk_tier tier) const noexcept {
    const trust_entry* e = find(public_key_hex);
    if (!e) return false;
    const std::string tiered = "approver:" + std::string(name_of(tier));
    return std::any_of(e->roles.begin(), e->roles.end(),
                       [&](const std::string& r) { return r == "approver" || r == tiered; });
}

} // namespace hone
