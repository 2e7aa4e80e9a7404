// An optimize record as `hone optimize` writes it: validator-shaped metrics, a policy, and the
// decision hone::decide() gives for them (check_artifact re-derives it, so it must be real).
#pragma once

#include "hone/ledger/ledger.hpp"
#include "hone/policy/policy.hpp"
#include "hone/validate/comparison_json.hpp"

#include <string>

namespace fixture {

/// Metrics of 1000 paired samples: baseline 90% top-1, candidate `candidate_accuracy`,
/// agreement 99%.
inline std::string metrics(double candidate_accuracy) {
    return R"({"accuracy":{"baseline":0.9,"candidate":)" + std::to_string(candidate_accuracy) +
           R"(,"delta_interval":[-0.012,0.002],"mcnemar_p":0.3},"baseline":{"samples":1000},)"
           R"("candidate":{"samples":1000,"agreement":0.99}})";
}

/// `verdict`: "approved" (tier low, 0 approvals), "needs_signoff" (tier `tier`, `approvals`
/// required) or "rejected" (candidate at 80%: a 10-point drop fails every tier).
inline hone::change_record optimize(const hone::artifact_ref& artifact, const std::string& verdict,
                                    unsigned approvals = 1, const std::string& tier = "low") {
    hone::change_record r;
    r.action = hone::ledger_action::optimize;
    r.actor = "ci@build-7";
    r.artifacts = {artifact};
    r.recipe = R"({"name":"int8","steps":[{"quantize":{"bits":8}}]})";
    r.metrics = metrics(verdict == "rejected" ? 0.8 : 0.897);
    r.policy = R"({"tier":")" + tier + R"(","required_approvals":)" +
               std::to_string(verdict == "needs_signoff" ? approvals : 0) + "}";
    r.decision = hone::decide(hone::policy::from_json(r.policy),
                              hone::comparison_from_metrics_json(r.metrics))
                     .to_json();
    r.environment = R"({"hone":"0.1.0","isa":"avx2","threads":2})";
    return r;
}

} // namespace fixture
