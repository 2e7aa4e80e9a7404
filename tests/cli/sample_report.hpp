// A report made the real way on a toy problem: toy baseline and candidates whose wrong answers
// are chosen, validated by hone::validate, decided by a policy, recorded in a signed ledger.
// Shared by test_cli_report (structure) and cli_fixture (the browser screenshot test).
#pragma once

#include "report.hpp"

#include <hone/ledger/ledger.hpp>
#include <hone/policy/policy.hpp>
#include <hone/validate/validator.hpp>

#include <filesystem>
#include <set>
#include <string>

namespace sample {

constexpr std::int64_t samples = 1000, classes = 4;

// Sample i: [one-hot(i % 4), i]; the last column lets a toy model be wrong on chosen samples.
inline hone::tensor inputs() {
    hone::tensor t(hone::dtype::f32, {samples, classes + 1});
    auto v = t.span<float>();
    for (std::int64_t i = 0; i < samples; ++i) {
        v[i * (classes + 1) + i % classes] = 1.0f;
        v[i * (classes + 1) + classes] = static_cast<float>(i);
    }
    return t;
}

inline std::vector<std::int64_t> labels() {
    std::vector<std::int64_t> y(samples);
    for (std::int64_t i = 0; i < samples; ++i)
        y[static_cast<std::size_t>(i)] = i % classes;
    return y;
}

// Wrong on samples where i % modulus == residue (and on the baseline's i % 10 == 0).
inline hone::function_runner toy(std::string name, std::int64_t modulus, std::int64_t residue,
                                 std::uint64_t bytes) {
    return hone::function_runner(
        std::move(name),
        [modulus, residue](hone::const_tensor_view in) {
            const hone::tensor dense = hone::tensor::copy_of(in);
            const auto x = dense.span<float>();
            const std::int64_t b = in.dims()[0];
            hone::tensor out(hone::dtype::f32, {b, classes});
            auto y = out.span<float>();
            for (std::int64_t r = 0; r < b; ++r) {
                const auto index = static_cast<std::int64_t>(x[r * (classes + 1) + classes]);
                for (std::int64_t k = 0; k < classes; ++k)
                    y[r * classes + k] = x[r * (classes + 1) + k];
                if (index % 10 == 0 || (modulus > 0 && index % modulus == residue))
                    y[r * classes + (index + 1) % classes] = 2.0f;
            }
            return out;
        },
        bytes);
}

struct made {
    hone::pipeline::report_inputs inputs;
    std::filesystem::path ledger;
};

/// Validates the candidate (wrong on 1 in 97 more samples, 4× smaller) and three more sweep
/// candidates, decides by the `tier` policy, appends the signed optimize record to `ledger`.
inline made make(const std::filesystem::path& ledger_path, const hone::signing_key& key,
                 hone::risk_tier tier = hone::risk_tier::low) {
    const hone::tensor x = inputs();
    const std::vector<std::int64_t> y = labels();
    hone::evaluation_set data{
        "toy <eval> & \"test\"",
        x,
        y,
        {{"<script>alert('x')</script>", {1, 2, 3, 5, 8, 13, 21, 34, 55, 89}}, {"every 7th", {}}},
        {"T-shirt <top>", "Trouser & \"pants\"", "Bag's", "Coat"}};
    for (std::uint32_t i = 0; i < samples; i += 7)
        data.slices[1].samples.push_back(i);
    hone::validator_options options;
    options.latency_batch_sizes = {1, 64};
    options.warmup = 1;
    options.repeats = 5;
    options.bootstrap_resamples = 200;

    auto baseline = toy("baseline f32", 0, 0, 4000);
    auto candidate = toy("candidate int8", 97, 1, 1000);
    made m;
    m.ledger = ledger_path;
    auto& in = m.inputs;
    in.title = "hone report: toy <model> & \"int8\"";
    in.model = "models/toy<1>.onnx";
    in.recipe = "int8";
    in.validation = hone::validate(baseline, candidate, data, options);
    in.policy = hone::policy::for_tier(tier);
    in.policy.max_latency_regression = 5; // toy models of equal cost: timing noise only
    in.decision = hone::decide(in.policy, in.validation.comparison);
    in.generated = "2026-11-27T12:00:00Z";

    hone::ledger ledger(ledger_path);
    hone::change_record record;
    record.action = hone::ledger_action::optimize;
    record.actor = "report-test";
    record.metrics = in.validation.to_json();
    record.policy = in.policy.to_json();
    record.decision = in.decision.to_json();
    record.recipe = R"({"name":"int8"})";
    in.record = ledger.append(record, &key);
    in.ledger_verification = ledger.verify();
    in.ledger_path = ledger_path.string();

    in.layers = {{"fc1", "Gemm", "int8 per-channel", 41.5, 0.0084, 802816, 200704},
                 {"fc2 <&>", "Gemm", "int8 per-channel", 37.25, 0.0137, 131072, 32768},
                 {"fc3", "Gemm", "int8 per-channel", 18.5, 0.118, 5120, 1280}};

    // A sweep: the baseline, this candidate and three more, each validated the same way.
    const auto point = [&](hone::function_runner& r, const hone::validation_report& v, bool base) {
        const auto& c = v.comparison;
        hone::pipeline::candidate_point p{r.name(),
                                          base ? c.baseline_accuracy : c.candidate_accuracy,
                                          r.model_bytes(),
                                          std::nullopt,
                                          "",
                                          base};
        for (const auto& l : v.latency)
            if (l.batch == 64) p.latency_ms = base ? l.baseline.p50_ms : l.candidate.p50_ms;
        if (!base) p.verdict = std::string(hone::name_of(hone::decide(in.policy, c).verdict));
        return p;
    };
    in.candidates.push_back(point(baseline, in.validation, true));
    in.candidates.push_back(point(candidate, in.validation, false));
    auto int4 = toy("int4 g128", 19, 3, 520);
    auto sparse = toy("sparse50", 11, 2, 2100);
    auto dominated = toy("cluster16 (dominated)", 9, 4, 1500);
    for (auto* r : {&int4, &sparse, &dominated})
        in.candidates.push_back(point(*r, hone::validate(baseline, *r, data, options), false));
    return m;
}

} // namespace sample
