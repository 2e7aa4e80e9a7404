#include "../status_of.hpp"
#include "hone/core/error.hpp"
#include "hone/policy/policy.hpp"

#include <doctest/doctest.h>
#include <nlohmann/json.hpp>

#include <cmath>

using hone::risk_tier;
using hone::verdict;

namespace {

// A comparison whose only interesting figure is the accuracy drop; everything else passes.
hone::comparison with_drop(double drop, double interval_low) {
    hone::comparison c;
    c.samples = 10000;
    c.baseline_accuracy = 0.9;
    c.candidate_accuracy = 0.9 - drop;
    c.accuracy_delta = {interval_low, -drop + 0.004};
    c.agreement = 0.999;
    return c;
}

} // namespace

TEST_CASE("tier defaults are the documented ones") {
    const auto low = hone::policy::for_tier(risk_tier::low);
    CHECK(low.max_accuracy_drop == 0.02);
    CHECK(low.required_approvals == 0);
    const auto high = hone::policy::for_tier(risk_tier::high);
    CHECK(high.max_accuracy_drop == 0.005);
    CHECK(high.required_approvals == 1);
    const auto critical = hone::policy::for_tier(risk_tier::critical);
    CHECK(critical.judge_by_confidence_bound);
    CHECK(critical.required_approvals == 2);
    CHECK(hone::risk_tier_from_name("critical") == risk_tier::critical);
    CHECK_FALSE(hone::risk_tier_from_name("severe").has_value());
}

TEST_CASE("decision table per tier, at and just past each bound") {
    struct row {
        risk_tier tier;
        double drop, low;
        verdict expected;
    };
    const row rows[] = {
        {risk_tier::low, 0.02, -0.03, verdict::approved},
        {risk_tier::low, 0.0201, -0.03, verdict::rejected},
        {risk_tier::medium, 0.01, -0.02, verdict::approved},
        {risk_tier::medium, 0.0101, -0.02, verdict::rejected},
        {risk_tier::high, 0.005, -0.01, verdict::needs_signoff},
        {risk_tier::high, 0.0051, -0.01, verdict::rejected},
        // critical judges the pessimistic end of the interval, not the point estimate
        {risk_tier::critical, 0.0, -0.002, verdict::needs_signoff},
        {risk_tier::critical, 0.0, -0.0021, verdict::rejected},
        {risk_tier::critical, -0.001, -0.0025, verdict::rejected},
    };
    for (const auto& r : rows) {
        CAPTURE(hone::name_of(r.tier));
        CAPTURE(r.drop);
        CAPTURE(r.low);
        const auto d = hone::decide(hone::policy::for_tier(r.tier), with_drop(r.drop, r.low));
        CHECK(d.verdict == r.expected);
        if (d.verdict == verdict::needs_signoff)
            CHECK(d.approvals_missing == hone::policy::for_tier(r.tier).required_approvals);
        const auto& first = d.reasons.at(0);
        CHECK(first.metric == "accuracy_drop");
        CHECK(first.passed == (r.expected != verdict::rejected));
    }
}

TEST_CASE("slices, agreement, latency and size each reject with a reason that names them") {
    auto p = hone::policy::for_tier(risk_tier::medium);
    p.min_size_reduction = 0.5;
    hone::comparison c = with_drop(0.001, -0.004);
    c.slices = {{"class 6 (shirt)", 1000, 0.62, 0.58, {-0.05, -0.03}},
                {"class 1 (trouser)", 1000, 0.97, 0.97, {-0.01, 0.01}},
                {"night images", 12, 0.5, 0.25, {-0.6, 0.1}}};
    c.agreement = 0.96;
    c.baseline_latency_ms = 2.0;
    c.candidate_latency_ms = 2.3;
    c.baseline_bytes = 1000;
    c.candidate_bytes = 600;
    const auto d = hone::decide(p, c);
    CHECK(d.verdict == verdict::rejected);
    auto find = [&](const std::string& metric, const std::string& slice = "") {
        for (const auto& r : d.reasons)
            if (r.metric == metric && r.slice == slice) return r;
        FAIL("no reason for " << metric << " " << slice);
        return hone::decision_reason{};
    };
    const auto shirt = find("slice_accuracy_drop", "class 6 (shirt)");
    CHECK_FALSE(shirt.passed);
    CHECK(shirt.value == doctest::Approx(0.04));
    CHECK(shirt.bound == 0.03);
    CHECK(shirt.text.find("class 6 (shirt)") != std::string::npos);
    CHECK(find("slice_accuracy_drop", "class 1 (trouser)").passed);
    const auto tiny = find("slice_accuracy_drop", "night images");
    CHECK(tiny.passed); // 12 samples: reported, not gated
    CHECK(tiny.text.find("not gated") != std::string::npos);
    CHECK_FALSE(find("agreement").passed);
    const auto latency = find("latency_regression");
    CHECK_FALSE(latency.passed);
    CHECK(latency.value == doctest::Approx(0.15));
    const auto size = find("size_reduction");
    CHECK_FALSE(size.passed);
    CHECK(size.value == doctest::Approx(0.4));
    c.candidate_bytes.reset();
    CHECK_FALSE(find("size_reduction").passed); // still rejected when not measured
    CHECK(status_of([&] { hone::decide(p, hone::comparison{}); }) ==
          hone::status::invalid_argument);
}

TEST_CASE("latency is judged on the paired ratio; a judge-by-bound tier takes its slow end") {
    hone::comparison c = with_drop(0.0, 0.0);
    c.baseline_latency_ms = 2.0; // the p50s alone would say +15%
    c.candidate_latency_ms = 2.3;
    c.latency_ratio = 1.04;
    c.latency_ratio_interval = hone::interval{0.99, 1.12};
    auto latency_of = [&](const hone::policy& p) {
        for (const auto& r : hone::decide(p, c).reasons)
            if (r.metric == "latency_regression") return r;
        FAIL("no latency reason");
        return hone::decision_reason{};
    };
    const auto medium = latency_of(hone::policy::for_tier(risk_tier::medium)); // +10% allowed
    CHECK(medium.passed);
    CHECK(medium.value == doctest::Approx(0.04));
    CHECK(medium.text.find("paired median") != std::string::npos);
    auto strict = hone::policy::for_tier(risk_tier::medium);
    strict.judge_by_confidence_bound = true; // slow end 1.12: +12% > +10%
    const auto judged = latency_of(strict);
    CHECK_FALSE(judged.passed);
    CHECK(judged.value == doctest::Approx(0.12));
    CHECK(judged.text.find("slow end") != std::string::npos);
}

TEST_CASE("a null latency bound reports latency without gating it") {
    hone::comparison c = with_drop(0.0, 0.0);
    c.baseline_latency_ms = 1.0;
    c.candidate_latency_ms = 500.0;
    c.latency_ratio = 500.0;
    c.latency_ratio_interval = hone::interval{400.0, 600.0};
    const auto p = hone::policy::from_json(
        R"({"tier": "low", "max_latency_regression": null, "judge_by_confidence_bound": true})");
    CHECK(std::isinf(p.max_latency_regression));
    const auto d = hone::decide(p, c);
    CHECK(d.verdict == verdict::approved);
    bool seen = false;
    for (const auto& r : d.reasons)
        if (r.metric == "latency_regression") {
            seen = true;
            CHECK(r.passed);
            CHECK(r.value == doctest::Approx(599.0)); // the slow end, still reported
            CHECK(r.text.find("not gated") != std::string::npos);
        }
    CHECK(seen);
    // JSON keeps it null, and reads it back the same.
    const auto j = nlohmann::json::parse(p.to_json());
    CHECK(j["max_latency_regression"].is_null());
    CHECK(std::isinf(hone::policy::from_json(p.to_json()).max_latency_regression));
    CHECK(nlohmann::json::parse(d.to_json()).dump().find("not gated") != std::string::npos);
    // Without null, the same figures are rejected by the tier's bound.
    CHECK(hone::decide(hone::policy::for_tier(risk_tier::low), c).verdict == verdict::rejected);
}

TEST_CASE("policy JSON: round trip, overrides and clear errors") {
    const auto high = hone::policy::for_tier(risk_tier::high);
    const auto back = hone::policy::from_json(high.to_json());
    CHECK(back.to_json() == high.to_json());
    const auto custom = hone::policy::from_json(
        R"({"tier":"low","max_accuracy_drop":0.003,"required_approvals":3})", "team.json");
    CHECK(custom.tier == risk_tier::low);
    CHECK(custom.max_accuracy_drop == 0.003);
    CHECK(custom.max_slice_accuracy_drop == 0.05); // the tier's default
    CHECK(custom.required_approvals == 3);
    std::string msg;
    CHECK(status_of([] { hone::policy::from_json(R"({"tier":"severe"})", "p.json"); }, &msg) ==
          hone::status::format_error);
    CHECK(msg == "p.json: unknown tier 'severe' (low, medium, high, critical)");
    CHECK(status_of([] { hone::policy::from_json(R"({"tier":"low","max_drop":0.1})", "p.json"); },
                    &msg) == hone::status::format_error);
    CHECK(msg == "p.json: unknown field 'max_drop'");
    CHECK(status_of([] { hone::policy::from_json(R"({"tier":"low","min_agreement":1.5})"); },
                    &msg) == hone::status::format_error);
    CHECK(msg.find("'min_agreement' is 1.5, outside [0, 1]") != std::string::npos);
    CHECK(status_of([] { hone::policy::from_json(R"({"tier":"low","required_approvals":-1})"); }) ==
          hone::status::format_error);
    CHECK(status_of([] { hone::policy::from_json("{\"tier\":"); }) == hone::status::format_error);
    CHECK(status_of([] { hone::policy::from_json(R"({"max_accuracy_drop":0.01})"); }) ==
          hone::status::format_error);
    CHECK(status_of([] { hone::policy::from_json("[1,2]"); }) == hone::status::format_error);
}

TEST_CASE("the decision's JSON is what the ledger's approval rules read") {
    const auto d =
        hone::decide(hone::policy::for_tier(risk_tier::critical), with_drop(0.0, -0.001));
    const auto j = nlohmann::json::parse(d.to_json());
    CHECK(j.at("verdict") == "needs_signoff");
    CHECK(j.at("approvals_required") == 2);
    CHECK(j.at("reasons").at(0).at("metric") == "accuracy_drop");
}

TEST_CASE("language models: perplexity, slice perplexity, KL and token agreement gates") {
    // A comparison of next-token predictions; every figure within the medium tier's bounds.
    const auto lm_comparison = [] {
        hone::comparison c;
        c.samples = 128;
        c.baseline_accuracy = 0.52;
        c.candidate_accuracy = 0.519;
        c.accuracy_delta = {-0.004, 0.002};
        c.agreement = 0.96; // below the classification min_agreement 0.97: not what is gated
        hone::language_model_comparison g;
        g.perplexity_change = 0.015;
        g.perplexity_change_ci = {0.012, 0.021};
        g.mean_kl = 0.01;
        g.mean_kl_ci = {0.009, 0.011};
        g.flip_rate = 0.02;
        g.slices = {{"Ruth", 32, 0.02, {0.01, 0.03}}, {"tiny", 5, 0.5, {0.2, 0.9}}};
        c.language_model = g;
        return c;
    };
    const auto medium = hone::policy::for_tier(risk_tier::medium);
    CHECK(medium.max_perplexity_increase == 0.02);
    CHECK(medium.max_slice_perplexity_increase == 0.05);
    CHECK(medium.max_mean_kl == 0.02);
    CHECK(medium.min_token_agreement == 0.95);
    auto d = hone::decide(medium, lm_comparison());
    CHECK(d.verdict == verdict::approved);
    const auto find = [&](const char* metric, const char* slice = "") {
        for (const auto& r : d.reasons)
            if (r.metric == metric && r.slice == slice) return r;
        FAIL("no reason ", metric, " ", slice);
        return hone::decision_reason{};
    };
    CHECK(find("accuracy_drop").text.find("next-token accuracy") == 0);
    CHECK(find("perplexity_increase").value == 0.015);
    CHECK(find("slice_perplexity_increase", "Ruth").value == 0.02);
    CHECK(find("slice_perplexity_increase", "tiny").passed); // 5 sequences < 30: not gated
    CHECK(find("mean_kl").value == 0.01);
    CHECK(find("token_agreement").value == 0.96);
    for (const auto& r : d.reasons)
        CHECK(r.metric != "agreement"); // the classification agreement gate is not applied

    auto c = lm_comparison();
    c.language_model->perplexity_change = 0.0201;
    d = hone::decide(medium, c);
    CHECK(d.verdict == verdict::rejected);
    CHECK_FALSE(find("perplexity_increase").passed);
    CHECK(find("perplexity_increase").text.find("exceeds the bound +2.00%") != std::string::npos);

    c = lm_comparison();
    c.language_model->slices[0].perplexity_change = 0.051;
    d = hone::decide(medium, c);
    CHECK(d.verdict == verdict::rejected);
    CHECK_FALSE(find("slice_perplexity_increase", "Ruth").passed);

    c = lm_comparison();
    c.language_model->mean_kl = 0.0201;
    d = hone::decide(medium, c);
    CHECK_FALSE(find("mean_kl").passed);

    c = lm_comparison();
    c.agreement = 0.9499;
    d = hone::decide(medium, c);
    CHECK_FALSE(find("token_agreement").passed);

    // Judged by the bound: the pessimistic ends of the intervals.
    auto bound = medium;
    bound.judge_by_confidence_bound = true;
    d = hone::decide(bound, lm_comparison());
    CHECK(find("perplexity_increase").value == 0.021);
    CHECK_FALSE(find("perplexity_increase").passed);
    CHECK(find("mean_kl").value == 0.011);
    CHECK(find("slice_perplexity_increase", "Ruth").value == 0.03);

    // The tiers tighten in order; JSON carries the fields.
    const auto low = hone::policy::for_tier(risk_tier::low);
    const auto crit = hone::policy::for_tier(risk_tier::critical);
    CHECK(low.max_perplexity_increase > medium.max_perplexity_increase);
    CHECK(crit.max_perplexity_increase <
          hone::policy::for_tier(risk_tier::high).max_perplexity_increase);
    const auto custom = hone::policy::from_json(
        R"({"tier":"medium","max_perplexity_increase":0.03,"max_mean_kl":0.1,"min_token_agreement":0.9,"max_slice_perplexity_increase":0.2})");
    CHECK(custom.max_perplexity_increase == 0.03);
    CHECK(custom.max_mean_kl == 0.1);
    CHECK(custom.min_token_agreement == 0.9);
    CHECK(custom.max_slice_perplexity_increase == 0.2);
    CHECK(hone::policy::from_json(custom.to_json()).to_json() == custom.to_json());
    std::string msg;
    CHECK(status_of([] { hone::policy::from_json(R"({"tier":"low","min_token_agreement":2})"); },
                    &msg) == hone::status::format_error);
    CHECK(msg.find("'min_token_agreement' is 2, outside [0, 1]") != std::string::npos);
}
