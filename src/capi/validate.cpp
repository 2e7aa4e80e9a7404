#include "guard.hpp"
#include "hone/policy/policy.hpp"
#include "hone/validate/validator.hpp"
#include "runner_handle.hpp"
#include "tensor_handle.hpp"

#include <cstring>
#include <fmt/format.h>
#include <memory>

namespace {

using hone::capi::guarded;
using hone::capi::require;

} // namespace

struct hone_policy {
    hone::policy policy;
};
struct hone_validation {
    hone::validation_report report;
    std::string json;
};

static_assert(HONE_TIER_CRITICAL == static_cast<int>(hone::risk_tier::critical));
static_assert(HONE_VERDICT_REJECTED == static_cast<int>(hone::verdict::rejected));

extern "C" {

HONE_API hone_status hone_runner_params_init(hone_runner_params* params) {
    return guarded([&] {
        *require(params, "hone_runner_params_init", "params") = hone_runner_params{};
        params->struct_size = sizeof(hone_runner_params);
        params->name = "runner";
    });
}

HONE_API hone_status hone_runner_create(const hone_runner_params* params, hone_runner** out) {
    return guarded([&] {
        require(params, "hone_runner_create", "params");
        require(out, "hone_runner_create", "out");
        hone::capi::check_struct_size(params->struct_size, sizeof(hone_runner_params),
                                      "hone_runner_create", "hone_runner_params");
        if (!params->run)
            hone::fail(hone::status::invalid_argument, "hone_runner_create: params->run is NULL");
        if (!(params->ops_per_sample >= 0))
            hone::fail(hone::status::invalid_argument,
                       "hone_runner_create: params->ops_per_sample is negative or NaN");
        *out = new hone_runner{hone::capi::callback_runner(*params)};
    });
}

HONE_API void hone_runner_destroy(hone_runner* runner) { delete runner; }

HONE_API hone_status hone_policy_create_for_tier(hone_risk_tier tier, hone_policy** out) {
    return guarded([&] {
        require(out, "hone_policy_create_for_tier", "out");
        const long long raw = hone::capi::raw_enum(tier);
        if (raw < HONE_TIER_LOW || raw > HONE_TIER_CRITICAL)
            hone::fail(hone::status::invalid_argument,
                       fmt::format("hone_policy_create_for_tier: {} is not a hone_risk_tier", raw));
        *out = new hone_policy{hone::policy::for_tier(static_cast<hone::risk_tier>(raw))};
    });
}

HONE_API hone_status hone_policy_create_from_json(const char* json, const char* source,
                                                  hone_policy** out) {
    return guarded([&] {
        require(json, "hone_policy_create_from_json", "json");
        require(out, "hone_policy_create_from_json", "out");
        *out = new hone_policy{hone::policy::from_json(json, source ? source : "policy")};
    });
}

HONE_API hone_status hone_policy_to_json(const hone_policy* policy, char* buffer, size_t capacity,
                                         size_t* needed) {
    return guarded([&] {
        const std::string text = require(policy, "hone_policy_to_json", "policy")->policy.to_json();
        hone::capi::copy_string(text, buffer, capacity, needed, "hone_policy_to_json");
    });
}

HONE_API void hone_policy_destroy(hone_policy* policy) { delete policy; }

HONE_API hone_status hone_validate_params_init(hone_validate_params* params) {
    return guarded([&] {
        static const int64_t default_batches[] = {1, 64};
        *require(params, "hone_validate_params_init", "params") = hone_validate_params{};
        params->struct_size = sizeof(hone_validate_params);
        params->batch_size = 256;
        params->confidence = 0.95;
        params->per_class_slices = 1;
        params->latency_batch_sizes = default_batches;
        params->latency_batch_count = 2;
        params->warmup = 3;
        params->repeats = 30;
    });
}

HONE_API hone_status hone_validate(hone_runner* baseline, hone_runner* candidate,
                                   const hone_tensor* inputs, const int64_t* labels,
                                   size_t label_count, const hone_validate_params* params,
                                   hone_validation** out) {
    return guarded([&] {
        constexpr const char* fn = "hone_validate";
        require(baseline, fn, "baseline");
        require(candidate, fn, "candidate");
        require(inputs, fn, "inputs");
        require(out, fn, "out");
        if (label_count > 0) require(labels, fn, "labels");
        hone_validate_params defaults;
        hone_validate_params_init(&defaults);
        const hone_validate_params& p = params ? *params : defaults;
        hone::capi::check_struct_size(p.struct_size, sizeof(hone_validate_params), fn,
                                      "hone_validate_params");
        hone::validator_options o;
        o.batch_size = p.batch_size;
        o.confidence = p.confidence;
        o.per_class_slices = p.per_class_slices != 0;
        if (p.class_weight_count > 0)
            o.class_weights.assign(require(p.class_weights, fn, "params->class_weights"),
                                   p.class_weights + p.class_weight_count);
        o.latency_batch_sizes.clear();
        if (p.latency_batch_count > 0)
            o.latency_batch_sizes.assign(
                require(p.latency_batch_sizes, fn, "params->latency_batch_sizes"),
                p.latency_batch_sizes + p.latency_batch_count);
        o.warmup = p.warmup;
        o.repeats = p.repeats;
        hone::evaluation_set data;
        data.name = "inputs";
        data.inputs = inputs->view;
        data.labels = std::span<const std::int64_t>(labels, label_count);
        if (p.slice_count > 0) {
            require(p.slice_names, fn, "params->slice_names");
            require(p.slice_samples, fn, "params->slice_samples");
            require(p.slice_sizes, fn, "params->slice_sizes");
        }
        for (std::size_t i = 0; i < p.slice_count; ++i) {
            hone::named_slice s;
            s.name = require(p.slice_names[i], fn, "params->slice_names[i]");
            if (p.slice_sizes[i] > 0) require(p.slice_samples[i], fn, "params->slice_samples[i]");
            s.samples.assign(p.slice_samples[i], p.slice_samples[i] + p.slice_sizes[i]);
            data.slices.push_back(std::move(s));
        }
        auto v = std::make_unique<hone_validation>();
        v->report = hone::validate(baseline->runner, candidate->runner, data, o);
        v->json = v->report.to_json();
        *out = v.release();
    });
}

HONE_API hone_status hone_validation_summary_get(const hone_validation* validation,
                                                 hone_validation_summary* out) {
    return guarded([&] {
        const auto& r = require(validation, "hone_validation_summary_get", "validation")->report;
        require(out, "hone_validation_summary_get", "out");
        const auto& c = r.comparison;
        hone::capi::write_versioned(
            out,
            hone_validation_summary{0, c.samples, c.baseline_accuracy, c.candidate_accuracy,
                                    c.accuracy_delta.low, c.accuracy_delta.high, c.mcnemar_p,
                                    c.agreement.value_or(0.0), r.paired.only_baseline_correct,
                                    r.paired.only_candidate_correct},
            "hone_validation_summary_get", "hone_validation_summary");
    });
}

HONE_API hone_status hone_validation_json(const hone_validation* validation, char* buffer,
                                          size_t capacity, size_t* needed) {
    return guarded([&] {
        const auto* v = require(validation, "hone_validation_json", "validation");
        hone::capi::copy_string(v->json, buffer, capacity, needed, "hone_validation_json");
    });
}

HONE_API hone_status hone_validation_decide(const hone_validation* validation,
                                            const hone_policy* policy, hone_verdict* verdict,
                                            uint32_t* approvals_missing, char* decision_json,
                                            size_t capacity, size_t* needed) {
    return guarded([&] {
        constexpr const char* fn = "hone_validation_decide";
        require(validation, fn, "validation");
        require(policy, fn, "policy");
        require(verdict, fn, "verdict");
        const auto d = hone::decide(policy->policy, validation->report.comparison);
        const std::string text = d.to_json();
        // NULL / 0: the text is not wanted (only its size); anything else is the string rule.
        if (decision_json == nullptr && capacity == 0) {
            if (needed) *needed = text.size() + 1;
        } else {
            hone::capi::copy_string(text, decision_json, capacity, needed, fn);
        }
        *verdict = static_cast<hone_verdict>(d.verdict);
        if (approvals_missing) *approvals_missing = d.approvals_missing;
    });
}

HONE_API void hone_validation_destroy(hone_validation* validation) { delete validation; }

} // extern "C"
