#include "hone/validate/language_model.hpp"

#include "hone/core/error.hpp"
#include "hone/core/threads.hpp"

#include <algorithm>
#include <cmath>
#include <fmt/format.h>
#include <map>
#include <nlohmann/json.hpp>
#include <random>

namespace hone {

namespace {

constexpr const char* fn = "compare_language_models";

__extension__ typedef unsigned __int128 u128; // GCC and Clang; -Wpedantic otherwise warns

// log Σ exp(x) of one row, in double.
double log_sum_exp(const float* x, std::int64_t n) {
    double hi = -INFINITY;
    for (std::int64_t v = 0; v < n; ++v)
        hi = std::max(hi, double(x[v]));
    double s = 0;
    for (std::int64_t v = 0; v < n; ++v)
        s += std::exp(double(x[v]) - hi);
    return hi + std::log(s);
}

std::int64_t argmax(const float* x, std::int64_t n) {
    std::int64_t best = 0;
    for (std::int64_t v = 1; v < n; ++v)
        if (x[v] > x[best]) best = v;
    return best;
}

bool all_finite(const float* x, std::int64_t n) {
    for (std::int64_t v = 0; v < n; ++v)
        if (!std::isfinite(x[v])) return false;
    return true;
}

// The figures of one set of (resampled) sequences.
struct figures {
    double ppl_b, ppl_c, change, kl, agree, flip, acc_b, acc_c, acc_change;
};
constexpr int figure_count = 9;

figures figures_of(const lm_sequence_stats& s) {
    const double n = double(s.tokens);
    const double pb = std::exp(s.baseline_nll / n), pc = std::exp(s.candidate_nll / n);
    return {pb,
            pc,
            pc / pb - 1.0,
            s.kl / n,
            double(s.agreements) / n,
            double(s.flips) / n,
            double(s.baseline_correct) / n,
            double(s.candidate_correct) / n,
            double(s.candidate_correct - s.baseline_correct) / n};
}

void accumulate(lm_sequence_stats& into, const lm_sequence_stats& s) {
    into.tokens += s.tokens;
    into.baseline_nll += s.baseline_nll;
    into.candidate_nll += s.candidate_nll;
    into.kl += s.kl;
    into.agreements += s.agreements;
    into.baseline_correct += s.baseline_correct;
    into.candidate_correct += s.candidate_correct;
    into.flips += s.flips;
}

// splitmix64: independent, reproducible streams per slice from one seed.
std::uint64_t mix(std::uint64_t x) {
    x += 0x9e3779b97f4a7c15ull;
    x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
    x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
    return x ^ (x >> 31);
}

lm_slice_metrics bootstrap(std::string name, std::span<const lm_sequence_stats> all,
                           const std::vector<std::size_t>& members, std::uint64_t stream,
                           const lm_metrics_options& o) {
    lm_slice_metrics m;
    m.name = std::move(name);
    m.sequences = static_cast<std::int64_t>(members.size());
    lm_sequence_stats total;
    for (std::size_t i : members)
        accumulate(total, all[i]);
    m.tokens = total.tokens;
    if (total.tokens == 0)
        fail(status::invalid_argument,
             fmt::format("{}: slice '{}' has {} sequences but no position with a target", fn,
                         m.name, members.size()));
    const figures point = figures_of(total);

    // Resamples: an empty draw of tokens (all drawn sequences without targets) is redrawn
    // implicitly by skipping it; with at least one token in the slice that is rare.
    std::mt19937_64 rng(mix(o.seed ^ mix(stream)));
    const auto n = static_cast<u128>(members.size());
    std::vector<std::vector<double>> draws(figure_count);
    for (auto& d : draws)
        d.reserve(static_cast<std::size_t>(o.resamples));
    for (int r = 0; r < o.resamples;) {
        lm_sequence_stats s;
        for (std::size_t k = 0; k < members.size(); ++k) {
            // Lemire's multiply-shift: the same indices on every standard library
            const auto pick = static_cast<std::size_t>((static_cast<u128>(rng()) * n) >> 64);
            accumulate(s, all[members[pick]]);
        }
        if (s.tokens == 0) continue;
        const figures f = figures_of(s);
        const double v[figure_count] = {f.ppl_b, f.ppl_c, f.change, f.kl,        f.agree,
                                        f.flip,  f.acc_b, f.acc_c,  f.acc_change};
        for (int j = 0; j < figure_count; ++j)
            draws[j].push_back(v[j]);
        ++r;
    }
    estimate* out[figure_count] = {&m.baseline_perplexity, &m.candidate_perplexity,
                                   &m.perplexity_change,   &m.mean_kl,
                                   &m.top1_agreement,      &m.flip_rate,
                                   &m.baseline_accuracy,   &m.candidate_accuracy,
                                   &m.accuracy_change};
    const double val[figure_count] = {point.ppl_b, point.ppl_c, point.change,
                                      point.kl,    point.agree, point.flip,
                                      point.acc_b, point.acc_c, point.acc_change};
    for (int j = 0; j < figure_count; ++j)
        *out[j] = {val[j], percentile_interval(draws[j], o.confidence)};
    return m;
}

nlohmann::json estimate_json(const estimate& e) {
    return {{"value", e.value}, {"low", e.ci.low}, {"high", e.ci.high}};
}

nlohmann::json slice_json(const lm_slice_metrics& m) {
    return {{"name", m.name},
            {"sequences", m.sequences},
            {"tokens", m.tokens},
            {"baseline_perplexity", estimate_json(m.baseline_perplexity)},
            {"candidate_perplexity", estimate_json(m.candidate_perplexity)},
            {"perplexity_change", estimate_json(m.perplexity_change)},
            {"mean_kl", estimate_json(m.mean_kl)},
            {"top1_agreement", estimate_json(m.top1_agreement)},
            {"flip_rate", estimate_json(m.flip_rate)},
            {"baseline_accuracy", estimate_json(m.baseline_accuracy)},
            {"candidate_accuracy", estimate_json(m.candidate_accuracy)},
            {"accuracy_change", estimate_json(m.accuracy_change)}};
}

} // namespace

std::vector<lm_sequence_stats> lm_sequence_statistics(const_tensor_view baseline_logits,
                                                      const_tensor_view candidate_logits,
                                                      const_tensor_view targets) {
    constexpr const char* f = "lm_sequence_statistics";
    if (baseline_logits.type() != dtype::f32 || candidate_logits.type() != dtype::f32)
        fail(status::dtype_mismatch,
             fmt::format("{}: logits must be f32 (baseline {}, candidate {})", f,
                         name_of(baseline_logits.type()), name_of(candidate_logits.type())));
    if (targets.type() != dtype::i64)
        fail(status::dtype_mismatch,
             fmt::format("{}: targets must be i64, got {}", f, name_of(targets.type())));
    if (baseline_logits.rank() != 3 || baseline_logits.dims() != candidate_logits.dims())
        fail(status::shape_mismatch,
             fmt::format("{}: logits must both be [batch, seq, vocab]: baseline {}, candidate {}",
                         f, baseline_logits.dims().to_string(),
                         candidate_logits.dims().to_string()));
    const std::int64_t batch = baseline_logits.dims()[0], seq = baseline_logits.dims()[1],
                       vocab = baseline_logits.dims()[2];
    if (targets.rank() != 2 || targets.dims()[0] != batch || targets.dims()[1] != seq)
        fail(status::shape_mismatch,
             fmt::format("{}: targets {} do not match logits {} (need [batch, seq])", f,
                         targets.dims().to_string(), baseline_logits.dims().to_string()));
    if (vocab < 1) fail(status::shape_mismatch, fmt::format("{}: the vocabulary is empty", f));

    // Contiguous copies only when the views are strided.
    tensor bcopy, ccopy, tcopy;
    if (!baseline_logits.is_contiguous()) bcopy = tensor::copy_of(baseline_logits);
    if (!candidate_logits.is_contiguous()) ccopy = tensor::copy_of(candidate_logits);
    if (!targets.is_contiguous()) tcopy = tensor::copy_of(targets);
    const float* base =
        bcopy.numel() ? bcopy.span<float>().data() : baseline_logits.span<float>().data();
    const float* cand =
        ccopy.numel() ? ccopy.span<float>().data() : candidate_logits.span<float>().data();
    const std::int64_t* tgt =
        tcopy.numel() ? tcopy.span<std::int64_t>().data() : targets.span<std::int64_t>().data();

    for (std::int64_t i = 0; i < batch * seq; ++i)
        if (tgt[i] >= vocab)
            fail(status::invalid_argument,
                 fmt::format("{}: target {} of sequence {} position {} is outside the vocabulary "
                             "of {}",
                             f, tgt[i], i / seq, i % seq, vocab));

    std::vector<lm_sequence_stats> out(static_cast<std::size_t>(batch));
    std::vector<std::int64_t> bad(static_cast<std::size_t>(batch), -1); // first non-finite position
#pragma omp parallel for num_threads(std::max(1, num_threads())) schedule(static)
    for (std::int64_t b = 0; b < batch; ++b) {
        lm_sequence_stats s;
        for (std::int64_t t = 0; t < seq; ++t) {
            const std::int64_t y = tgt[b * seq + t];
            if (y < 0) continue;
            const float* p = base + (b * seq + t) * vocab;
            const float* q = cand + (b * seq + t) * vocab;
            if (!all_finite(p, vocab) || !all_finite(q, vocab)) {
                bad[static_cast<std::size_t>(b)] = t;
                break;
            }
            const double lp = log_sum_exp(p, vocab), lq = log_sum_exp(q, vocab);
            double kl = 0;
            for (std::int64_t v = 0; v < vocab; ++v) {
                const double log_p = double(p[v]) - lp, log_q = double(q[v]) - lq;
                kl += std::exp(log_p) * (log_p - log_q);
            }
            const std::int64_t ab = argmax(p, vocab), ac = argmax(q, vocab);
            s.tokens += 1;
            s.baseline_nll += lp - double(p[y]);
            s.candidate_nll += lq - double(q[y]);
            s.kl += std::max(0.0, kl);
            s.agreements += ab == ac;
            s.baseline_correct += ab == y;
            s.candidate_correct += ac == y;
            s.flips += (ab == y) != (ac == y);
        }
        out[static_cast<std::size_t>(b)] = s;
    }
    for (std::int64_t b = 0; b < batch; ++b)
        if (bad[static_cast<std::size_t>(b)] >= 0)
            fail(status::invalid_argument,
                 fmt::format("{}: non-finite logit in sequence {} at position {}", f, b,
                             bad[static_cast<std::size_t>(b)]));
    return out;
}

lm_comparison compare_language_models(std::span<const lm_sequence_stats> sequences,
                                      std::span<const std::string> slice_labels,
                                      const lm_metrics_options& o) {
    if (sequences.empty()) fail(status::invalid_argument, fmt::format("{}: no sequences", fn));
    if (!slice_labels.empty() && slice_labels.size() != sequences.size())
        fail(status::invalid_argument, fmt::format("{}: {} slice labels for {} sequences", fn,
                                                   slice_labels.size(), sequences.size()));
    if (o.resamples < 1)
        fail(status::invalid_argument, fmt::format("{}: resamples {} (need ≥ 1)", fn, o.resamples));
    if (!(o.confidence > 0 && o.confidence < 1))
        fail(status::invalid_argument,
             fmt::format("{}: confidence {} (need 0 < confidence < 1)", fn, o.confidence));

    lm_comparison c;
    c.confidence = o.confidence;
    c.resamples = o.resamples;
    std::vector<std::size_t> everyone(sequences.size());
    for (std::size_t i = 0; i < everyone.size(); ++i)
        everyone[i] = i;
    c.overall = bootstrap("overall", sequences, everyone, 0, o);

    std::vector<std::string> order;
    std::map<std::string, std::vector<std::size_t>, std::less<>> members;
    for (std::size_t i = 0; i < slice_labels.size(); ++i) {
        auto [it, fresh] = members.try_emplace(slice_labels[i]);
        if (fresh) order.push_back(slice_labels[i]);
        it->second.push_back(i);
    }
    for (std::size_t k = 0; k < order.size(); ++k)
        c.slices.push_back(bootstrap(order[k], sequences, members[order[k]], k + 1, o));
    return c;
}

lm_comparison compare_language_model_slices(std::span<const lm_sequence_stats> sequences,
                                            std::span<const named_slice> slices,
                                            const lm_metrics_options& o) {
    lm_comparison c = compare_language_models(sequences, {}, o);
    for (std::size_t k = 0; k < slices.size(); ++k) {
        std::vector<std::size_t> members;
        for (const std::uint32_t i : slices[k].samples) {
            if (i >= sequences.size())
                fail(status::invalid_argument,
                     fmt::format("{}: slice '{}' names sequence {}, but there are {}", fn,
                                 slices[k].name, i, sequences.size()));
            members.push_back(i);
        }
        if (members.empty())
            fail(status::invalid_argument,
                 fmt::format("{}: slice '{}' has no sequences", fn, slices[k].name));
        c.slices.push_back(bootstrap(slices[k].name, sequences, members, k + 1, o));
    }
    return c;
}

lm_comparison compare_language_models(const_tensor_view baseline_logits,
                                      const_tensor_view candidate_logits, const_tensor_view targets,
                                      std::span<const std::string> slice_labels,
                                      const lm_metrics_options& options) {
    const auto stats = lm_sequence_statistics(baseline_logits, candidate_logits, targets);
    return compare_language_models(stats, slice_labels, options);
}

tensor next_token_targets(const_tensor_view tokens) {
    if (tokens.type() != dtype::i64)
        fail(status::dtype_mismatch,
             fmt::format("next_token_targets: tokens must be i64, got {}", name_of(tokens.type())));
    if (tokens.rank() != 2)
        fail(status::shape_mismatch,
             fmt::format("next_token_targets: tokens {} (need [batch, seq])",
                         tokens.dims().to_string()));
    const tensor src = tensor::copy_of(tokens);
    const auto in = src.span<std::int64_t>();
    tensor out(dtype::i64, tokens.dims());
    auto o = out.span<std::int64_t>();
    const std::int64_t batch = tokens.dims()[0], seq = tokens.dims()[1];
    for (std::int64_t b = 0; b < batch; ++b)
        for (std::int64_t t = 0; t < seq; ++t)
            o[b * seq + t] = t + 1 < seq ? in[b * seq + t + 1] : -1;
    return out;
}

std::string lm_comparison::to_json() const {
    nlohmann::json j = {{"confidence", confidence},
                        {"resamples", resamples},
                        {"overall", slice_json(overall)},
                        {"slices", nlohmann::json::array()}};
    for (const auto& s : slices)
        j["slices"].push_back(slice_json(s));
    return j.dump(2);
}

} // namespace hone
