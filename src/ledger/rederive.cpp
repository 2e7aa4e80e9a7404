// The verdict of an optimize record, re-derived from its metrics and policy with decide().
#include "record_json.hpp"
#include "rules.hpp"

#include "hone/core/error.hpp"
#include "hone/validate/comparison_json.hpp"

#include <fmt/format.h>

namespace hone::ledger_detail {

std::string rederive_problem(const ledger_entry& e) {
    const std::string where = fmt::format("record {}", e.seq);
    decision derived;
    try {
        const policy p = policy::from_json(e.record.policy, where + " policy");
        derived = decide(p, comparison_from_metrics_json(e.record.metrics, where + " metrics"));
    } catch (const error& err) {
        return fmt::format("its decision cannot be re-derived ({})", err.what());
    }
    json stored;
    try {
        stored = json::parse(e.record.decision);
    } catch (const json::exception&) {
    }
    if (!stored.is_object() || !stored.contains("verdict") || !stored["verdict"].is_string())
        return "its stored decision has no verdict";
    const json redone = json::parse(derived.to_json());
    const std::string verdict = stored["verdict"].get<std::string>();
    if (verdict != redone["verdict"].get<std::string>())
        return fmt::format("its stored verdict '{}' disagrees with the verdict '{}' re-derived "
                           "from its metrics and policy",
                           verdict, redone["verdict"].get<std::string>());
    const json none = 0;
    const json& want = redone.contains("approvals_required") ? redone["approvals_required"] : none;
    const json& have = stored.contains("approvals_required") ? stored["approvals_required"] : none;
    if (want != have)
        return fmt::format("its stored approvals_required {} disagrees with {} re-derived from its "
                           "policy",
                           have.dump(), want.dump());
    if (stored.contains("reasons") && stored["reasons"] != redone["reasons"])
        return "its stored reasons disagree with those re-derived from its metrics and policy";
    return {};
}

} // namespace hone::ledger_detail
