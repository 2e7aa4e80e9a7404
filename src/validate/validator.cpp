#include "hone/validate/validator.hpp"

#include "hone/core/error.hpp"
#include "hone/kernels/peak.hpp"
#include "hone/validate/language_model.hpp"

#include <algorithm>
#include <chrono>
#include <cstring>
#include <fmt/format.h>
#include <map>
#include <nlohmann/json.hpp>
#include <random>
#include <span>
#include <type_traits>

namespace hone {

evaluation_set evaluation_of(const loaded_data& data) {
    return evaluation_set{data.data.name(), data.data.inputs(), data.data.labels(), data.slices,
                          data.class_names};
}

namespace {

using json = nlohmann::json;

paired_counts pair_up(std::span<const std::uint8_t> base, std::span<const std::uint8_t> cand,
                      std::span<const std::uint32_t> samples) {
    paired_counts p;
    for (std::uint32_t i : samples) {
        const bool b = base[i], c = cand[i];
        (b && c ? p.both_correct
         : b    ? p.only_baseline_correct
         : c    ? p.only_candidate_correct
                : p.both_wrong)++;
    }
    return p;
}

// A batch of `batch` samples taken cyclically from the evaluation inputs (for latency runs).
tensor cyclic_batch(const_tensor_view inputs, std::int64_t batch) {
    std::vector<std::int64_t> dims(inputs.dims().dims().begin(), inputs.dims().dims().end());
    const std::int64_t n = dims[0];
    dims[0] = batch;
    tensor out(inputs.type(), shape(std::span<const std::int64_t>(dims)));
    const std::int64_t per_sample = n == 0 ? 0 : inputs.numel() / n;
    for (std::int64_t i = 0; i < batch; ++i) {
        const tensor row = tensor::copy_of(inputs.slice(0, i % n, i % n + 1));
        std::memcpy(static_cast<std::byte*>(out.data()) +
                        i * per_sample * static_cast<std::int64_t>(size_of(inputs.type())),
                    row.data(), row.nbytes());
    }
    return out;
}

// Stratified paired bootstrap of the class-weighted accuracy difference.
interval weighted_bootstrap(const std::map<std::int64_t, std::vector<std::uint32_t>>& by_class,
                            std::span<const double> weights, std::span<const std::uint8_t> base,
                            std::span<const std::uint8_t> cand, int resamples, double confidence,
                            std::uint64_t seed) {
    std::mt19937_64 rng(seed);
    std::vector<double> deltas;
    deltas.reserve(static_cast<std::size_t>(resamples));
    for (int r = 0; r < resamples; ++r) {
        double wsum = 0, delta = 0;
        for (const auto& [label, samples] : by_class) {
            std::uniform_int_distribution<std::size_t> pick(0, samples.size() - 1);
            double db = 0, dc = 0;
            for (std::size_t k = 0; k < samples.size(); ++k) {
                const std::uint32_t i = samples[pick(rng)];
                db += base[i];
                dc += cand[i];
            }
            const double w = weights[static_cast<std::size_t>(label)];
            delta += w * (dc - db) / double(samples.size());
            wsum += w;
        }
        deltas.push_back(delta / wsum);
    }
    return percentile_interval(deltas, confidence);
}

json summary_json(const classification_summary& s) {
    json j = {{"samples", s.samples}};
    if (s.has_labels) {
        j["accuracy"] = s.accuracy;
        j["top_k_accuracy"] = s.top_k_accuracy;
    }
    if (s.has_reference) {
        j["agreement"] = s.agreement;
        j["mean_kl"] = s.mean_kl;
        j["mean_cosine"] = s.mean_cosine;
    }
    return j;
}

json latency_json(const latency_stats& s) {
    return {{"runs", s.runs},  {"mean", s.mean_ms}, {"min", s.min_ms}, {"p50", s.p50_ms},
            {"p90", s.p90_ms}, {"p99", s.p99_ms},   {"max", s.max_ms}};
}

// Classification: top-1 against the labels (or the baseline's answers), paired per sample.
validation_report compare_classes(runner& baseline, runner& candidate, const evaluation_set& data,
                                  const validator_options& o) {
    const auto& in = data.inputs;
    const std::int64_t n = in.dims()[0];
    // Without labels, the baseline's own top-1 answers are the labels: accuracy then means
    // agreement with the baseline.
    metric_collector base_metrics({o.top_k}), cand_metrics({o.top_k});
    std::vector<std::int64_t> labels(data.labels.begin(), data.labels.end());
    for (std::int64_t begin = 0; begin < n; begin += o.batch_size) {
        const std::int64_t end = std::min(n, begin + o.batch_size);
        const auto batch = in.slice(0, begin, end);
        const tensor out_base = baseline.run(batch);
        const tensor out_cand = candidate.run(batch);
        if (!(out_base.dims() == out_cand.dims()) || out_base.dims().rank() < 1 ||
            out_base.dims()[0] != end - begin)
            fail(status::shape_mismatch,
                 fmt::format("validate: for a batch of {}, '{}' gave {} and '{}' gave {}",
                             end - begin, baseline.name(), out_base.dims().to_string(),
                             candidate.name(), out_cand.dims().to_string()));
        if (out_base.dims().rank() != 2)
            fail(status::unsupported,
                 fmt::format("validate: '{}' gives {} for a batch of {}: the validator's top-1 "
                             "metrics need [batch, classes] outputs (dense outputs such as "
                             "segmentation maps are not supported yet)",
                             baseline.name(), out_base.dims().to_string(), end - begin));
        if (data.labels.empty()) {
            metric_collector probe({1});
            probe.add(out_base);
            labels.insert(labels.end(), probe.predictions().begin(), probe.predictions().end());
        }
        const auto batch_labels = std::span<const std::int64_t>(labels).subspan(
            static_cast<std::size_t>(begin), static_cast<std::size_t>(end - begin));
        base_metrics.add(out_base, batch_labels);
        cand_metrics.add(out_cand, batch_labels, out_base);
    }

    validation_report r;
    r.baseline = base_metrics.summary();
    r.candidate = cand_metrics.summary();
    const auto base_ok = base_metrics.correct(), cand_ok = cand_metrics.correct();
    std::vector<std::uint32_t> all(static_cast<std::size_t>(n));
    for (std::size_t i = 0; i < all.size(); ++i)
        all[i] = static_cast<std::uint32_t>(i);
    r.paired = pair_up(base_ok, cand_ok, all);

    std::map<std::int64_t, std::vector<std::uint32_t>> by_class;
    for (std::uint32_t i : all)
        by_class[labels[i]].push_back(i);
    std::vector<named_slice> slices;
    if (o.per_class_slices)
        for (const auto& [label, samples] : by_class) {
            const auto index = static_cast<std::size_t>(label);
            slices.push_back({index < data.class_names.size()
                                  ? fmt::format("class {} ({})", label, data.class_names[index])
                                  : fmt::format("class {}", label),
                              samples});
        }
    slices.insert(slices.end(), data.slices.begin(), data.slices.end());
    for (const auto& s : slices) {
        slice_report sr;
        sr.paired = pair_up(base_ok, cand_ok, s.samples);
        const double m = std::max<double>(1.0, double(s.samples.size()));
        sr.figures = {s.name, s.samples.size(),
                      double(sr.paired.both_correct + sr.paired.only_baseline_correct) / m,
                      double(sr.paired.both_correct + sr.paired.only_candidate_correct) / m,
                      paired_difference_interval(sr.paired, o.confidence)};
        sr.mcnemar_p =
            mcnemar_exact_p(sr.paired.only_baseline_correct, sr.paired.only_candidate_correct);
        r.slices.push_back(std::move(sr));
    }

    comparison& c = r.comparison;
    c.samples = static_cast<std::uint64_t>(n);
    c.baseline_accuracy = r.baseline.accuracy;
    c.candidate_accuracy = r.candidate.accuracy;
    c.accuracy_delta = paired_difference_interval(r.paired, o.confidence);
    c.mcnemar_p = mcnemar_exact_p(r.paired.only_baseline_correct, r.paired.only_candidate_correct);
    c.agreement = r.candidate.agreement;
    if (!o.class_weights.empty()) {
        double wsum = 0, wb = 0, wc = 0;
        for (const auto& [label, samples] : by_class) {
            if (label >= static_cast<std::int64_t>(o.class_weights.size()))
                fail(status::invalid_argument,
                     fmt::format("validate: no class weight for label {} ({} weights given)", label,
                                 o.class_weights.size()));
            const double w = o.class_weights[static_cast<std::size_t>(label)];
            if (!(w >= 0))
                fail(status::invalid_argument,
                     fmt::format("validate: class weight {} of label {} is negative", w, label));
            const auto p = pair_up(base_ok, cand_ok, samples);
            wb += w * double(p.both_correct + p.only_baseline_correct) / double(samples.size());
            wc += w * double(p.both_correct + p.only_candidate_correct) / double(samples.size());
            wsum += w;
        }
        if (!(wsum > 0))
            fail(status::invalid_argument, "validate: the class weights of the labels sum to 0");
        r.weighted = true;
        c.baseline_accuracy = wb / wsum;
        c.candidate_accuracy = wc / wsum;
        c.accuracy_delta = weighted_bootstrap(by_class, o.class_weights, base_ok, cand_ok,
                                              o.bootstrap_resamples, o.confidence, o.seed);
    }
    for (const auto& s : r.slices)
        c.slices.push_back(s.figures);
    return r;
}

// Every rank's per-sequence sums, in rank (= sequence) order: exact, as the sums travel as
// their bytes.
std::vector<lm_sequence_stats>
gathered(process_group& group, const std::vector<lm_sequence_stats>& mine, std::int64_t sequences) {
    static_assert(std::is_trivially_copyable_v<lm_sequence_stats>);
    const auto bytes = std::as_bytes(std::span(mine));
    std::vector<lm_sequence_stats> all;
    all.reserve(static_cast<std::size_t>(sequences));
    for (const auto& part : all_gather(group, bytes)) {
        if (part.size() % sizeof(lm_sequence_stats) != 0)
            fail(status::internal, "validate: a rank sent a partial sequence record");
        const std::size_t count = part.size() / sizeof(lm_sequence_stats);
        if (count == 0) continue; // a rank without batches
        const std::size_t at = all.size();
        all.resize(at + count);
        std::memcpy(all.data() + at, part.data(), part.size());
    }
    if (static_cast<std::int64_t>(all.size()) != sequences)
        fail(status::internal,
             fmt::format("validate: the ranks' sums cover {} sequences, not {} (ranks given "
                         "different evaluation data?)",
                         all.size(), sequences));
    return all;
}

// Language models: next-token predictions on token sequences [N, seq] (i64), paired per
// sequence (hone/validate/language_model.hpp); the comparison's accuracy is next-token accuracy.
validation_report compare_next_tokens(runner& baseline, runner& candidate,
                                      const evaluation_set& data, const validator_options& o) {
    const auto& in = data.inputs;
    const std::int64_t n = in.dims()[0];
    if (in.rank() != 2)
        fail(status::shape_mismatch,
             fmt::format("validate: token sequences of '{}' are {}; a language model's "
                         "evaluation set is [sequences, tokens] of i64",
                         data.name, in.dims().to_string()));
    // With a process group, this rank runs its range of whole batches.
    const std::int64_t batches = (n + o.batch_size - 1) / o.batch_size;
    const auto [first_batch, last_batch] =
        o.group ? rank_range(batches, o.group->rank(), o.group->size())
                : std::pair<std::int64_t, std::int64_t>{0, batches};
    std::vector<lm_sequence_stats> sums;
    for (std::int64_t b = first_batch; b < last_batch; ++b) {
        const std::int64_t begin = b * o.batch_size, end = std::min(n, begin + o.batch_size);
        const auto batch = in.slice(0, begin, end);
        const tensor out_base = baseline.run(batch);
        const tensor out_cand = candidate.run(batch);
        if (!(out_base.dims() == out_cand.dims()) || out_base.dims().rank() != 3 ||
            out_base.dims()[0] != end - begin || out_base.dims()[1] != in.dims()[1])
            fail(status::shape_mismatch,
                 fmt::format("validate: for token sequences {} '{}' gave {} and '{}' gave {} "
                             "(a language model gives logits [batch, seq, vocab])",
                             batch.dims().to_string(), baseline.name(), out_base.dims().to_string(),
                             candidate.name(), out_cand.dims().to_string()));
        const tensor targets = next_token_targets(batch);
        const auto part = lm_sequence_statistics(out_base.view(), out_cand.view(), targets.view());
        sums.insert(sums.end(), part.begin(), part.end());
    }
    if (o.group) sums = gathered(*o.group, sums, n);
    lm_metrics_options lo;
    lo.confidence = o.confidence;
    lo.resamples = o.bootstrap_resamples;
    lo.seed = o.seed;
    const lm_comparison lm = compare_language_model_slices(sums, data.slices, lo);

    validation_report r;
    r.baseline.samples = r.candidate.samples = static_cast<std::uint64_t>(n);
    r.baseline.has_labels = r.candidate.has_labels = true;
    r.baseline.accuracy = lm.overall.baseline_accuracy.value;
    r.candidate.accuracy = lm.overall.candidate_accuracy.value;
    r.candidate.has_reference = true;
    r.candidate.agreement = lm.overall.top1_agreement.value;
    r.candidate.mean_kl = lm.overall.mean_kl.value;
    comparison& c = r.comparison;
    c.samples = static_cast<std::uint64_t>(n);
    c.baseline_accuracy = r.baseline.accuracy;
    c.candidate_accuracy = r.candidate.accuracy;
    c.accuracy_delta = lm.overall.accuracy_change.ci;
    c.agreement = r.candidate.agreement;
    language_model_comparison g;
    g.perplexity_change = lm.overall.perplexity_change.value;
    g.perplexity_change_ci = lm.overall.perplexity_change.ci;
    g.mean_kl = lm.overall.mean_kl.value;
    g.mean_kl_ci = lm.overall.mean_kl.ci;
    g.flip_rate = lm.overall.flip_rate.value;
    for (const auto& s : lm.slices) {
        const auto seqs = static_cast<std::uint64_t>(s.sequences);
        g.slices.push_back({s.name, seqs, s.perplexity_change.value, s.perplexity_change.ci});
        c.slices.push_back({s.name, seqs, s.baseline_accuracy.value, s.candidate_accuracy.value,
                            s.accuracy_change.ci});
        slice_report sr;
        sr.figures = c.slices.back();
        r.slices.push_back(std::move(sr));
    }
    c.language_model = std::move(g);
    r.language_model = lm;
    return r;
}

} // namespace

validation_report validate(runner& baseline, runner& candidate, const evaluation_set& data,
                           const validator_options& o) {
    const auto& in = data.inputs;
    if (in.rank() < 1 || in.dims()[0] == 0)
        fail(status::invalid_argument,
             fmt::format("validate: evaluation set '{}' has no samples", data.name));
    const std::int64_t n = in.dims()[0];
    if (!data.labels.empty() && static_cast<std::int64_t>(data.labels.size()) != n)
        fail(status::invalid_argument,
             fmt::format("validate: evaluation set '{}' has {} samples but {} labels", data.name, n,
                         data.labels.size()));
    if (o.batch_size < 1)
        fail(status::invalid_argument, fmt::format("validate: batch size {}", o.batch_size));
    for (const auto& s : data.slices)
        for (std::uint32_t i : s.samples)
            if (i >= n)
                fail(status::invalid_argument,
                     fmt::format("validate: slice '{}' names sample {}, but '{}' has {}", s.name, i,
                                 data.name, n));

    const bool tokens = in.type() == dtype::i64;
    if (tokens && !data.labels.empty())
        fail(status::invalid_argument,
             fmt::format("validate: '{}' holds token sequences; a language model's targets are "
                         "the next tokens, labels are not used",
                         data.name));
    validation_report r = tokens ? compare_next_tokens(baseline, candidate, data, o)
                                 : compare_classes(baseline, candidate, data, o);
    r.data_name = data.name;
    r.baseline_name = baseline.name();
    r.candidate_name = candidate.name();
    comparison& c = r.comparison;
    if (baseline.model_bytes() > 0) c.baseline_bytes = baseline.model_bytes();
    if (candidate.model_bytes() > 0) c.candidate_bytes = candidate.model_bytes();

    for (std::int64_t b : o.latency_batch_sizes) {
        if (b < 1) fail(status::invalid_argument, fmt::format("validate: latency batch {}", b));
        const tensor input = cyclic_batch(in, b);
        for (int i = 0; i < o.warmup; ++i) {
            baseline.run(input);
            candidate.run(input);
        }
        std::vector<double> tb, tc; // alternate, so drifting machine load hits both alike
        for (int i = 0; i < std::max(1, o.repeats); ++i)
            for (int which = 0; which < 2; ++which) {
                runner& m = which == 0 ? baseline : candidate;
                const auto start = std::chrono::steady_clock::now();
                m.run(input);
                const auto stop = std::chrono::steady_clock::now();
                (which == 0 ? tb : tc)
                    .push_back(std::chrono::duration<double, std::milli>(stop - start).count());
            }
        latency_point point;
        point.batch = b;
        point.baseline = summarize_latency(tb);
        point.candidate = summarize_latency(tc);
        std::vector<double> ratios(tb.size());
        for (std::size_t i = 0; i < tb.size(); ++i)
            ratios[i] = tb[i] > 0 ? tc[i] / tb[i] : 1.0;
        point.ratio = median(ratios);
        point.ratio_interval = median_interval(ratios, o.confidence);
        auto achieved = [b](const runner::work& w, const latency_stats& t) {
            return t.p50_ms > 0 ? w.ops_per_sample * double(b) / (t.p50_ms * 1e-3) / 1e9 : 0.0;
        };
        auto fraction = [](const runner::work& w, double gops) {
            if (gops <= 0) return 0.0;
            const auto peak = measured_peak();
            return gops / (w.int8 ? peak.int8_gops : peak.f32_gflops);
        };
        const auto wb = baseline.work_per_sample(), wc = candidate.work_per_sample();
        point.baseline_gops = achieved(wb, point.baseline);
        point.candidate_gops = achieved(wc, point.candidate);
        point.baseline_utilisation = fraction(wb, point.baseline_gops);
        point.candidate_utilisation = fraction(wc, point.candidate_gops);
        r.latency.push_back(point);
    }
    if (!r.latency.empty()) {
        c.baseline_latency_ms = r.latency.back().baseline.p50_ms;
        c.candidate_latency_ms = r.latency.back().candidate.p50_ms;
        c.latency_ratio = r.latency.back().ratio;
        c.latency_ratio_interval = r.latency.back().ratio_interval;
    }
    r.peak_resident_bytes = peak_resident_bytes();
    return r;
}

std::string validation_report::to_json() const {
    json slices_json = json::array();
    for (const auto& s : slices) {
        json item = {{"name", s.figures.name},
                     {"samples", s.figures.samples},
                     {"baseline_accuracy", s.figures.baseline_accuracy},
                     {"candidate_accuracy", s.figures.candidate_accuracy},
                     {"delta_interval", {s.figures.delta.low, s.figures.delta.high}}};
        if (!language_model) { // per-sample pairs: a language model's are tokens in sequences
            item["regressions"] = s.paired.only_baseline_correct;
            item["improvements"] = s.paired.only_candidate_correct;
            item["mcnemar_p"] = s.mcnemar_p;
        }
        slices_json.push_back(std::move(item));
    }
    json latency_json_list = json::array();
    for (const auto& l : latency)
        latency_json_list.push_back(
            {{"batch", l.batch},
             {"baseline_ms", latency_json(l.baseline)},
             {"candidate_ms", latency_json(l.candidate)},
             {"paired_ratio", l.ratio},
             {"paired_ratio_interval", {l.ratio_interval.low, l.ratio_interval.high}},
             {"baseline_gops", l.baseline_gops},
             {"candidate_gops", l.candidate_gops},
             {"baseline_utilisation", l.baseline_utilisation},
             {"candidate_utilisation", l.candidate_utilisation}});
    json j = {{"data", data_name},
              {"baseline", summary_json(baseline)},
              {"candidate", summary_json(candidate)},
              {"baseline_name", baseline_name},
              {"candidate_name", candidate_name},
              {"weighted", weighted},
              {"accuracy",
               {{"baseline", comparison.baseline_accuracy},
                {"candidate", comparison.candidate_accuracy},
                {"delta_interval", {comparison.accuracy_delta.low, comparison.accuracy_delta.high}},
                {"regressions", paired.only_baseline_correct},
                {"improvements", paired.only_candidate_correct},
                {"mcnemar_p", comparison.mcnemar_p}}},
              {"slices", std::move(slices_json)},
              {"latency", std::move(latency_json_list)},
              {"peak_resident_bytes", peak_resident_bytes}};
    if (language_model) {
        j["language_model"] = json::parse(language_model->to_json());
        for (const char* k : {"regressions", "improvements", "mcnemar_p"}) // per-sample pairs
            j["accuracy"].erase(k);
    }
    if (comparison.baseline_bytes) j["baseline"]["model_bytes"] = *comparison.baseline_bytes;
    if (comparison.candidate_bytes) j["candidate"]["model_bytes"] = *comparison.candidate_bytes;
    return j.dump();
}

} // namespace hone
