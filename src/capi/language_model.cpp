#include "hone/validate/language_model.hpp"
#include "guard.hpp"
#include "tensor_handle.hpp"

#include <fmt/format.h>

#include <optional>

using hone::capi::guarded;
using hone::capi::require;

struct hone_lm_comparison {
    std::vector<hone::lm_sequence_stats> sequences;
    std::vector<std::string> labels;
    bool labelled = false;
    std::optional<hone::lm_comparison> summary;
    std::string json;
};

namespace {

hone_estimate estimate_of(const hone::estimate& e) { return {e.value, e.ci.low, e.ci.high}; }

hone_lm_slice_metrics slice_of(const hone::lm_slice_metrics& m) {
    return {sizeof(hone_lm_slice_metrics),           m.name.c_str(),
            static_cast<std::uint64_t>(m.sequences), static_cast<std::uint64_t>(m.tokens),
            estimate_of(m.baseline_perplexity),      estimate_of(m.candidate_perplexity),
            estimate_of(m.perplexity_change),        estimate_of(m.mean_kl),
            estimate_of(m.top1_agreement),           estimate_of(m.flip_rate),
            estimate_of(m.baseline_accuracy),        estimate_of(m.candidate_accuracy),
            estimate_of(m.accuracy_change)};
}

} // namespace

extern "C" {

HONE_API hone_status hone_lm_comparison_create(hone_lm_comparison** out) {
    return guarded([&] {
        require(out, "hone_lm_comparison_create", "out");
        *out = new hone_lm_comparison{};
    });
}

HONE_API void hone_lm_comparison_destroy(hone_lm_comparison* comparison) { delete comparison; }

HONE_API hone_status hone_next_token_targets(const hone_tensor* tokens, hone_tensor* targets) {
    constexpr const char* fn = "hone_next_token_targets";
    return guarded([&] {
        hone::tensor t;
        hone::capi::named(
            fn, [&] { t = hone::next_token_targets(hone::capi::view_of(tokens, fn, "tokens")); });
        const auto dst = hone::capi::export_target(targets, t, fn, "targets");
        std::copy(t.span<std::int64_t>().begin(), t.span<std::int64_t>().end(),
                  dst.span<std::int64_t>().begin());
    });
}

HONE_API hone_status hone_lm_comparison_add(hone_lm_comparison* comparison,
                                            const hone_tensor* baseline_logits,
                                            const hone_tensor* candidate_logits,
                                            const hone_tensor* targets,
                                            const char* const* slice_labels,
                                            size_t slice_label_count) {
    constexpr const char* fn = "hone_lm_comparison_add";
    return guarded([&] {
        require(comparison, fn, "comparison");
        const auto b = hone::capi::view_of(baseline_logits, fn, "baseline_logits");
        const auto c = hone::capi::view_of(candidate_logits, fn, "candidate_logits");
        const auto t = hone::capi::view_of(targets, fn, "targets");
        std::vector<hone::lm_sequence_stats> stats;
        hone::capi::named(fn, [&] { stats = hone::lm_sequence_statistics(b, c, t); });
        const bool labelled = slice_label_count > 0;
        if (labelled) require(slice_labels, fn, "slice_labels");
        if (labelled && slice_label_count != stats.size())
            hone::fail(hone::status::invalid_argument,
                       fmt::format("{}: {} slice labels for a batch of {} sequences", fn,
                                   slice_label_count, stats.size()));
        if (!comparison->sequences.empty() && labelled != comparison->labelled)
            hone::fail(
                hone::status::invalid_argument,
                fmt::format("{}: slice labels must be given with every batch or with none", fn));
        std::vector<std::string> labels;
        for (size_t i = 0; i < slice_label_count; ++i)
            labels.emplace_back(require(slice_labels[i], fn, "slice_labels[i]"));
        comparison->labelled = labelled;
        comparison->sequences.insert(comparison->sequences.end(), stats.begin(), stats.end());
        comparison->labels.insert(comparison->labels.end(), labels.begin(), labels.end());
    });
}

HONE_API hone_status hone_lm_params_init(hone_lm_params* params) {
    return guarded([&] {
        *require(params, "hone_lm_params_init", "params") = {};
        const hone::lm_metrics_options d;
        params->struct_size = sizeof(hone_lm_params);
        params->confidence = d.confidence;
        params->resamples = d.resamples;
        params->seed = d.seed;
    });
}

HONE_API hone_status hone_lm_comparison_summarize(hone_lm_comparison* comparison,
                                                  const hone_lm_params* params,
                                                  size_t* slice_count) {
    constexpr const char* fn = "hone_lm_comparison_summarize";
    return guarded([&] {
        require(comparison, fn, "comparison");
        hone::lm_metrics_options o;
        if (params) {
            hone::capi::check_struct_size(params->struct_size, sizeof(hone_lm_params), fn,
                                          "hone_lm_params");
            o.confidence = params->confidence;
            o.resamples = params->resamples;
            o.seed = params->seed;
        }
        hone::lm_comparison s;
        hone::capi::named(fn, [&] {
            s = hone::compare_language_models(comparison->sequences, comparison->labels, o);
        });
        std::string json = s.to_json();
        const size_t count = s.slices.size();
        comparison->summary = std::move(s);
        comparison->json = std::move(json);
        if (slice_count) *slice_count = count;
    });
}

HONE_API hone_status hone_lm_comparison_slice(const hone_lm_comparison* comparison, size_t index,
                                              hone_lm_slice_metrics* out) {
    constexpr const char* fn = "hone_lm_comparison_slice";
    return guarded([&] {
        require(comparison, fn, "comparison");
        require(out, fn, "out");
        if (!comparison->summary)
            hone::fail(hone::status::invalid_argument,
                       fmt::format("{}: call hone_lm_comparison_summarize first", fn));
        const auto& s = *comparison->summary;
        if (index > s.slices.size())
            hone::fail(hone::status::invalid_argument,
                       fmt::format("{}: index {} (0 = overall, 1…{} = slices)", fn, index,
                                   s.slices.size()));
        hone::capi::write_versioned(out, slice_of(index == 0 ? s.overall : s.slices[index - 1]), fn,
                                    "hone_lm_slice_metrics");
    });
}

HONE_API hone_status hone_lm_comparison_json(const hone_lm_comparison* comparison, char* buffer,
                                             size_t capacity, size_t* needed) {
    constexpr const char* fn = "hone_lm_comparison_json";
    return guarded([&] {
        require(comparison, fn, "comparison");
        if (!comparison->summary)
            hone::fail(hone::status::invalid_argument,
                       fmt::format("{}: call hone_lm_comparison_summarize first", fn));
        hone::capi::copy_string(comparison->json, buffer, capacity, needed, fn);
    });
}

} // extern "C"
