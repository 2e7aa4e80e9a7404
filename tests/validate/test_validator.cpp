// The validator on synthetic models whose disagreements are known exactly.
#include "hone/core/error.hpp"
#include "hone/kernels/peak.hpp"
#include "hone/validate/comparison_json.hpp"
#include "hone/validate/validator.hpp"

#include <algorithm>
#include <cmath>
#include <doctest/doctest.h>
#include <nlohmann/json.hpp>
#include <set>

using doctest::Approx;

namespace {

constexpr std::int64_t samples = 1000, classes = 4;

// Sample i has inputs [one-hot(i % 4), i]: the last column carries the sample's index, so a
// toy model can answer wrongly on chosen samples whatever batch they arrive in.
hone::tensor make_inputs() {
    hone::tensor t(hone::dtype::f32, {samples, classes + 1});
    auto v = t.span<float>();
    for (std::int64_t i = 0; i < samples; ++i) {
        v[i * (classes + 1) + i % classes] = 1.0f;
        v[i * (classes + 1) + classes] = static_cast<float>(i);
    }
    return t;
}

// Logits = the one-hot part, except that samples in `wrong` score the next class highest.
hone::function_runner toy_model(std::string name, std::set<std::int64_t> wrong,
                                std::uint64_t bytes = 0) {
    return hone::function_runner(
        std::move(name),
        [wrong](hone::const_tensor_view in) {
            const hone::tensor dense = hone::tensor::copy_of(in);
            const auto x = dense.span<float>();
            const std::int64_t b = in.dims()[0];
            hone::tensor out(hone::dtype::f32, {b, classes});
            auto y = out.span<float>();
            for (std::int64_t r = 0; r < b; ++r) {
                const auto index = static_cast<std::int64_t>(x[r * (classes + 1) + classes]);
                for (std::int64_t k = 0; k < classes; ++k)
                    y[r * classes + k] = x[r * (classes + 1) + k];
                if (wrong.count(index)) y[r * classes + (index + 1) % classes] = 2.0f;
            }
            return out;
        },
        bytes);
}

std::set<std::int64_t> range(std::int64_t begin, std::int64_t end) {
    std::set<std::int64_t> s;
    for (std::int64_t i = begin; i < end; ++i)
        s.insert(i);
    return s;
}

} // namespace

TEST_CASE("paired counts, slices and the comparison come out exactly") {
    const hone::tensor inputs = make_inputs();
    std::vector<std::int64_t> labels(samples);
    for (std::int64_t i = 0; i < samples; ++i)
        labels[i] = i % classes;
    // baseline wrong on 0..39 (40); candidate wrong on 20..79 (60): 40 regressions (40..79),
    // 20 improvements (0..19), 20 both wrong.
    auto baseline = toy_model("base", range(0, 40), 4000);
    auto candidate = toy_model("cand", range(20, 80), 1000);
    hone::evaluation_set data{"toy", inputs, labels, {{"first fifty", {}}}, {"a", "b", "c", "d"}};
    for (std::uint32_t i = 0; i < 50; ++i)
        data.slices[0].samples.push_back(i);
    hone::validator_options options;
    options.batch_size = 128;
    options.latency_batch_sizes = {};
    const auto r = hone::validate(baseline, candidate, data, options);
    CHECK(r.paired.only_baseline_correct == 40);
    CHECK(r.paired.only_candidate_correct == 20);
    CHECK(r.paired.both_wrong == 20);
    CHECK(r.paired.both_correct == 920);
    CHECK(r.baseline.accuracy == Approx(0.96));
    CHECK(r.candidate.accuracy == Approx(0.94));
    CHECK(r.candidate.agreement == Approx(0.94)); // 60 samples differ from the baseline's top-1
    const auto& c = r.comparison;
    CHECK(c.baseline_accuracy == Approx(0.96));
    CHECK(c.candidate_accuracy == Approx(0.94));
    CHECK(c.accuracy_delta.low < -0.02);
    CHECK(c.accuracy_delta.high > -0.02);
    CHECK(c.mcnemar_p == Approx(hone::mcnemar_exact_p(40, 20)));
    CHECK(*c.baseline_bytes == 4000);
    REQUIRE(r.slices.size() == 5); // 4 classes + the named slice
    CHECK(r.slices[0].figures.name == "class 0 (a)");
    CHECK(r.slices[0].figures.samples == 250);
    const auto& fifty = r.slices[4];
    CHECK(fifty.figures.name == "first fifty");
    CHECK(fifty.paired.only_candidate_correct == 20); // 0..19
    CHECK(fifty.paired.only_baseline_correct == 10);  // 40..49
    CHECK(fifty.figures.baseline_accuracy == Approx(10.0 / 50));
    // the policy sees the same figures
    const auto d = hone::decide(hone::policy::for_tier(hone::risk_tier::medium), c);
    CHECK(d.verdict == hone::verdict::rejected); // a 2-point drop exceeds 1 point
    const auto j = nlohmann::json::parse(r.to_json());
    CHECK(j.at("accuracy").at("regressions") == 40);
    CHECK(j.at("slices").size() == 5);
}

TEST_CASE("class weights, latency, label-free validation and errors") {
    const hone::tensor inputs = make_inputs();
    std::vector<std::int64_t> labels(samples);
    for (std::int64_t i = 0; i < samples; ++i)
        labels[i] = i % classes;
    std::set<std::int64_t> class_three; // the candidate is always wrong on class 3
    for (std::int64_t i = 3; i < samples; i += 4)
        class_three.insert(i);
    auto baseline = toy_model("base", {});
    auto candidate = toy_model("cand", class_three);
    hone::evaluation_set data{"toy", inputs, labels, {}, {}};
    hone::validator_options options;
    options.latency_batch_sizes = {1, 8};
    options.repeats = 3;
    options.warmup = 1;
    auto r = hone::validate(baseline, candidate, data, options);
    CHECK(r.comparison.candidate_accuracy == Approx(0.75));
    REQUIRE(r.latency.size() == 2);
    CHECK(r.latency[1].batch == 8);
    CHECK(r.latency[1].baseline.runs == 3);
    CHECK(r.comparison.candidate_latency_ms.has_value());
    CHECK(r.latency[1].ratio > 0);
    CHECK(r.latency[1].ratio_interval.low <= r.latency[1].ratio);
    CHECK(r.latency[1].ratio <= r.latency[1].ratio_interval.high);
    CHECK(r.comparison.latency_ratio == r.latency[1].ratio);
    CHECK(r.peak_resident_bytes > 0);
    CHECK(r.latency[1].baseline_utilisation == 0.0); // the toy runners state no work
    // production mix: class 3 is 70% of traffic
    options.class_weights = {0.1, 0.1, 0.1, 0.7};
    options.latency_batch_sizes = {};
    r = hone::validate(baseline, candidate, data, options);
    CHECK(r.weighted);
    CHECK(r.comparison.candidate_accuracy == Approx(0.3));
    CHECK(r.comparison.baseline_accuracy == Approx(1.0));
    CHECK(r.comparison.accuracy_delta.low == Approx(-0.7)); // no sampling noise here: exact
    CHECK(r.comparison.accuracy_delta.high == Approx(-0.7));
    // no labels: the baseline's answers are the labels
    hone::evaluation_set unlabeled{"toy", inputs, {}, {}, {}};
    options.class_weights = {};
    r = hone::validate(baseline, candidate, unlabeled, options);
    CHECK(r.comparison.baseline_accuracy == Approx(1.0));
    CHECK(r.comparison.candidate_accuracy == Approx(0.75));
    // errors
    options.class_weights = {1.0, 1.0};
    CHECK_THROWS_WITH_AS(hone::validate(baseline, candidate, data, options),
                         doctest::Contains("no class weight for label 2"), hone::error);
    options.class_weights = {};
    hone::evaluation_set bad_slice{"toy", inputs, labels, {{"edge", {5000}}}, {}};
    CHECK_THROWS_WITH_AS(hone::validate(baseline, candidate, bad_slice, options),
                         doctest::Contains("slice 'edge' names sample 5000"), hone::error);
    hone::function_runner wrong_shape("odd", [](hone::const_tensor_view in) {
        return hone::tensor(hone::dtype::f32, {in.dims()[0], 3});
    });
    CHECK_THROWS_AS(hone::validate(baseline, wrong_shape, data, options), hone::error);
    const hone::tensor none(hone::dtype::f32, {0, 4});
    hone::evaluation_set empty{"empty", none, {}, {}, {}};
    CHECK_THROWS_AS(hone::validate(baseline, candidate, empty, options), hone::error);
}

TEST_CASE("utilisation: achieved GOP/s at p50 over the measured peak") {
    const hone::tensor inputs = make_inputs();
    auto logits = [](hone::const_tensor_view in) {
        hone::tensor out(hone::dtype::f32, {in.dims()[0], classes});
        return out;
    };
    hone::function_runner baseline("f32", logits, 0, {2.0e6, false});
    hone::function_runner candidate("int8", logits, 0, {2.0e6, true});
    hone::evaluation_set data{"toy", inputs, {}, {}, {}};
    hone::validator_options options;
    options.latency_batch_sizes = {16};
    options.repeats = 3;
    const auto r = hone::validate(baseline, candidate, data, options);
    const auto& l = r.latency.at(0);
    const auto peak = hone::measured_peak();
    CHECK(l.baseline_gops == Approx(2.0e6 * 16 / (l.baseline.p50_ms * 1e-3) / 1e9));
    CHECK(l.baseline_utilisation == Approx(l.baseline_gops / peak.f32_gflops));
    CHECK(l.candidate_utilisation == Approx(l.candidate_gops / peak.int8_gops));
}

TEST_CASE("language models: next-token figures from token sequences, round trip to the policy") {
    // 40 sequences of 6 tokens over a vocabulary of 4. The baseline scores the true next token
    // 3 (it peeks at the input), every other token 0; the candidate does the same except on
    // sequences 0..9, where its logits are flat.
    constexpr std::int64_t n = 40, seq = 6, vocab = 4;
    hone::tensor tokens(hone::dtype::i64, {n, seq});
    auto t = tokens.span<std::int64_t>();
    for (std::int64_t s = 0; s < n; ++s) // distinct rows: the first three tokens spell s in base 4
        for (std::int64_t p = 0; p < seq; ++p)
            t[std::size_t(s * seq + p)] = p < 3 ? (s >> (2 * p)) & 3 : (s * 3 + p) % vocab;
    // The sequence's index is recovered from its tokens: a map from row content to index.
    const auto model = [&](std::string name, bool flat_first_ten) {
        return hone::function_runner(std::move(name), [=](hone::const_tensor_view in) {
            const hone::tensor x = hone::tensor::copy_of(in);
            const auto ids = x.span<std::int64_t>();
            const std::int64_t b = in.dims()[0];
            hone::tensor out(hone::dtype::f32, {b, seq, vocab});
            auto y = out.span<float>();
            for (std::int64_t r = 0; r < b; ++r) {
                // row r of the batch is sequence (ids[0] + …) — find it among the 40
                std::int64_t which = -1;
                for (std::int64_t s = 0; s < n && which < 0; ++s)
                    if (std::equal(ids.begin() + r * seq, ids.begin() + (r + 1) * seq,
                                   t.begin() + s * seq))
                        which = s;
                for (std::int64_t p = 0; p + 1 < seq; ++p)
                    if (!(flat_first_ten && which < 10))
                        y[std::size_t((r * seq + p) * vocab + ids[std::size_t(r * seq + p + 1)])] =
                            3.0f;
            }
            return out;
        });
    };
    // The rows must be distinct for the lookup above.
    for (std::int64_t a = 0; a < n; ++a)
        for (std::int64_t b = a + 1; b < n; ++b)
            REQUIRE_FALSE(
                std::equal(t.begin() + a * seq, t.begin() + (a + 1) * seq, t.begin() + b * seq));
    auto base = model("f32", false), cand = model("int4", true);
    hone::evaluation_set data;
    data.name = "tokens";
    data.inputs = tokens.view();
    std::vector<std::uint32_t> first, rest;
    for (std::uint32_t i = 0; i < n; ++i)
        (i < 10 ? first : rest).push_back(i);
    data.slices = {{"first ten", first}, {"rest", rest}};
    hone::validator_options o;
    o.batch_size = 16;
    o.latency_batch_sizes = {3};
    o.repeats = 2;
    o.warmup = 0;
    o.bootstrap_resamples = 500;
    const auto r = hone::validate(base, cand, data, o);
    REQUIRE(r.language_model.has_value());
    const auto& lm = *r.language_model;
    const double nll_b = std::log(std::exp(3.0) + 3.0) - 3.0, nll_flat = std::log(4.0);
    const double tokens_all = double(n * (seq - 1)), tokens_flat = double(10 * (seq - 1));
    const double ppl_b = std::exp(nll_b);
    const double ppl_c =
        std::exp((nll_b * (tokens_all - tokens_flat) + nll_flat * tokens_flat) / tokens_all);
    CHECK(lm.overall.tokens == n * (seq - 1));
    CHECK(lm.overall.baseline_perplexity.value == Approx(ppl_b).epsilon(1e-6));
    CHECK(lm.overall.candidate_perplexity.value == Approx(ppl_c).epsilon(1e-6));
    CHECK(lm.overall.baseline_accuracy.value == 1.0);
    // flat logits: argmax is token 0, right where the next token is 0
    std::int64_t zeros = 0;
    for (std::int64_t s = 0; s < 10; ++s)
        for (std::int64_t p = 1; p < seq; ++p)
            zeros += t[std::size_t(s * seq + p)] == 0;
    const double acc_c = (tokens_all - tokens_flat + double(zeros)) / tokens_all;
    CHECK(lm.overall.candidate_accuracy.value == Approx(acc_c));
    CHECK(lm.overall.top1_agreement.value == Approx(acc_c));
    CHECK(lm.overall.flip_rate.value == Approx(1.0 - acc_c));
    REQUIRE(lm.slices.size() == 2);
    CHECK(lm.slices[0].name == "first ten");
    CHECK(lm.slices[0].candidate_perplexity.value == Approx(4.0).epsilon(1e-6));
    CHECK(lm.slices[1].perplexity_change.value == Approx(0.0).epsilon(1e-12));
    // the comparison the policy judges
    const auto& c = r.comparison;
    CHECK(c.samples == std::uint64_t(n));
    CHECK(c.baseline_accuracy == 1.0);
    CHECK(c.candidate_accuracy == Approx(acc_c));
    REQUIRE(c.language_model.has_value());
    CHECK(c.language_model->perplexity_change == Approx(ppl_c / ppl_b - 1).epsilon(1e-6));
    REQUIRE(c.slices.size() == 2);
    CHECK(c.slices[0].samples == 10);
    CHECK(r.latency.size() == 1);
    // The recorded metrics give back the same comparison, so the decision re-derives.
    const auto back = hone::comparison_from_metrics_json(r.to_json());
    REQUIRE(back.language_model.has_value());
    CHECK(back.language_model->perplexity_change == c.language_model->perplexity_change);
    CHECK(back.language_model->mean_kl_ci.high == c.language_model->mean_kl_ci.high);
    CHECK(back.language_model->slices.size() == 2);
    CHECK(back.language_model->slices[0].sequences == 10);
    const auto policy = hone::policy::for_tier(hone::risk_tier::low);
    CHECK(hone::decide(policy, back).to_json() == hone::decide(policy, c).to_json());
    CHECK(hone::decide(policy, c).verdict == hone::verdict::rejected); // ppl +40%: far past

    // Token data with labels, and models that do not give [batch, seq, vocab], are refused.
    std::vector<std::int64_t> labels(n, 0);
    auto labelled = data;
    labelled.labels = labels;
    CHECK_THROWS_WITH_AS(hone::validate(base, cand, labelled, o),
                         doctest::Contains("labels are not used"), hone::error);
    hone::function_runner classifier("cls", [](hone::const_tensor_view in) {
        return hone::tensor(hone::dtype::f32, {in.dims()[0], vocab});
    });
    CHECK_THROWS_WITH_AS(hone::validate(classifier, classifier, data, o),
                         doctest::Contains("a language model gives logits [batch, seq, vocab]"),
                         hone::error);
}
