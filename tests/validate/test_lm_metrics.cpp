// Language-model comparison metrics (hone/validate/language_model.hpp): hand-computed values on
// tiny inputs, an independent reference written here (softmax by probabilities, not
// log-sum-exp), bootstrap behaviour (determinism, thread count, an analytic interval width),
// and malformed inputs.
#include "../status_of.hpp"

#include <hone/core/threads.hpp>
#include <hone/validate/language_model.hpp>

#include <doctest/doctest.h>
#include <nlohmann/json.hpp>

#include <cmath>
#include <random>

using namespace hone;

namespace {

tensor logits_of(std::int64_t b, std::int64_t s, std::int64_t v, std::vector<float> values) {
    tensor t(dtype::f32, shape{b, s, v});
    REQUIRE(values.size() == static_cast<std::size_t>(t.numel()));
    std::copy(values.begin(), values.end(), t.span<float>().begin());
    return t;
}

tensor targets_of(std::int64_t b, std::int64_t s, std::vector<std::int64_t> values) {
    tensor t(dtype::i64, shape{b, s});
    std::copy(values.begin(), values.end(), t.span<std::int64_t>().begin());
    return t;
}

tensor random_logits(std::int64_t b, std::int64_t s, std::int64_t v, std::uint32_t seed,
                     float scale) {
    std::mt19937 rng(seed);
    std::normal_distribution<float> d(0.0f, scale);
    std::vector<float> x(static_cast<std::size_t>(b * s * v));
    for (auto& e : x)
        e = d(rng);
    return logits_of(b, s, v, x);
}

// Reference figures over a set of rows, straight from the definitions.
struct ref_figures {
    double ppl_b = 0, ppl_c = 0, kl = 0, agree = 0, flip = 0, acc_b = 0, acc_c = 0;
};

ref_figures reference(const tensor& base, const tensor& cand, const tensor& tgt,
                      const std::vector<std::int64_t>& rows) {
    const auto s = base.dims()[1], v = base.dims()[2];
    const auto pb = base.span<float>(), pc = cand.span<float>();
    const auto y = tgt.span<std::int64_t>();
    double nb = 0, nc = 0, kl = 0, agree = 0, flip = 0, ab = 0, ac = 0, n = 0;
    for (auto r : rows)
        for (std::int64_t t = 0; t < s; ++t) {
            const std::int64_t target = y[r * s + t];
            if (target < 0) continue;
            std::vector<double> p(v), q(v);
            double zp = 0, zq = 0;
            for (std::int64_t k = 0; k < v; ++k) {
                p[k] = std::exp(double(pb[(r * s + t) * v + k]));
                q[k] = std::exp(double(pc[(r * s + t) * v + k]));
                zp += p[k];
                zq += q[k];
            }
            std::int64_t mp = 0, mq = 0;
            for (std::int64_t k = 0; k < v; ++k) {
                p[k] /= zp;
                q[k] /= zq;
                kl += p[k] * std::log(p[k] / q[k]);
                if (p[k] > p[mp]) mp = k;
                if (q[k] > q[mq]) mq = k;
            }
            nb -= std::log(p[target]);
            nc -= std::log(q[target]);
            agree += mp == mq;
            ab += mp == target;
            ac += mq == target;
            flip += (mp == target) != (mq == target);
            n += 1;
        }
    return {std::exp(nb / n), std::exp(nc / n), kl / n, agree / n, flip / n, ab / n, ac / n};
}

} // namespace

TEST_CASE("lm metrics: uniform logits have perplexity = vocabulary, identical logits KL 0") {
    const std::int64_t vocab = 7;
    const tensor zeros = logits_of(2, 3, vocab, std::vector<float>(2 * 3 * vocab, 0.0f));
    const tensor tgt = targets_of(2, 3, {1, 6, -1, 0, 3, 2});
    const auto c = compare_language_models(zeros.view(), zeros.view(), tgt.view());
    CHECK(c.overall.tokens == 5);
    CHECK(c.overall.sequences == 2);
    CHECK(c.overall.baseline_perplexity.value == doctest::Approx(7.0).epsilon(1e-12));
    CHECK(c.overall.candidate_perplexity.value == doctest::Approx(7.0).epsilon(1e-12));
    CHECK(c.overall.perplexity_change.value == doctest::Approx(0.0));
    CHECK(c.overall.mean_kl.value == doctest::Approx(0.0));
    CHECK(c.overall.top1_agreement.value == 1.0);
    CHECK(c.overall.flip_rate.value == 0.0);
    // argmax of a tie is the first index: only the target 0 is a correct top-1
    CHECK(c.overall.baseline_accuracy.value == doctest::Approx(0.2));
    // every resample of identical models gives the same figures
    CHECK(c.overall.mean_kl.ci.low == doctest::Approx(0.0));
    CHECK(c.overall.mean_kl.ci.high == doctest::Approx(0.0));
    CHECK(c.overall.top1_agreement.ci.low == 1.0);
    CHECK(c.overall.baseline_perplexity.ci.low == doctest::Approx(7.0));
    CHECK(c.overall.baseline_perplexity.ci.high == doctest::Approx(7.0));

    const tensor r = random_logits(3, 5, 11, 7, 3.0f);
    const tensor t2 = targets_of(3, 5, {0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 0, 1, 2, -1});
    const auto same = compare_language_models(r.view(), r.view(), t2.view());
    CHECK(same.overall.mean_kl.value == doctest::Approx(0.0));
    CHECK(same.overall.top1_agreement.value == 1.0);
    CHECK(same.overall.flip_rate.value == 0.0);
    CHECK(same.overall.perplexity_change.value == doctest::Approx(0.0));
}

TEST_CASE("lm metrics: one position worked by hand") {
    // baseline p = (1/4, 1/2, 1/4), candidate q = uniform over 3, target 1
    const tensor base = logits_of(1, 1, 3, {0.0f, std::log(2.0f), 0.0f});
    const tensor cand = logits_of(1, 1, 3, {5.0f, 5.0f, 5.0f});
    const tensor tgt = targets_of(1, 1, {1});
    const auto s = lm_sequence_statistics(base.view(), cand.view(), tgt.view());
    REQUIRE(s.size() == 1);
    CHECK(s[0].tokens == 1);
    CHECK(s[0].baseline_nll == doctest::Approx(std::log(2.0)).epsilon(1e-7));
    CHECK(s[0].candidate_nll == doctest::Approx(std::log(3.0)).epsilon(1e-9));
    const double kl = 0.25 * std::log(0.75) + 0.5 * std::log(1.5) + 0.25 * std::log(0.75);
    CHECK(s[0].kl == doctest::Approx(kl).epsilon(1e-6));
    CHECK(s[0].agreements == 0);        // argmax 1 vs 0
    CHECK(s[0].baseline_correct == 1);  // baseline picks the target
    CHECK(s[0].candidate_correct == 0); // candidate does not
    CHECK(s[0].flips == 1);
    const auto c = compare_language_models(s);
    CHECK(c.overall.baseline_perplexity.value == doctest::Approx(2.0).epsilon(1e-7));
    CHECK(c.overall.candidate_perplexity.value == doctest::Approx(3.0).epsilon(1e-9));
    CHECK(c.overall.perplexity_change.value == doctest::Approx(0.5).epsilon(1e-7));
}

TEST_CASE("lm metrics: overall and per-slice figures match an independent reference") {
    const std::int64_t b = 12, s = 9, v = 17;
    const tensor base = random_logits(b, s, v, 1, 2.0f);
    tensor cand = tensor::copy_of(base.view());
    {
        std::mt19937 rng(2);
        std::normal_distribution<float> noise(0.0f, 0.7f);
        for (auto& x : cand.span<float>())
            x += noise(rng);
    }
    std::vector<std::int64_t> y(static_cast<std::size_t>(b * s));
    std::mt19937 rng(3);
    for (std::size_t i = 0; i < y.size(); ++i)
        y[i] = i % s == s - 1 ? -1 : std::int64_t(rng() % v);
    const tensor tgt = targets_of(b, s, y);
    std::vector<std::string> labels;
    for (std::int64_t i = 0; i < b; ++i)
        labels.push_back(i % 3 == 0 ? "Ruth" : i % 3 == 1 ? "Jonah" : "James");

    const auto c = compare_language_models(base.view(), cand.view(), tgt.view(), labels);
    auto check = [&](const lm_slice_metrics& m, const std::vector<std::int64_t>& rows) {
        CAPTURE(m.name);
        const auto r = reference(base, cand, tgt, rows);
        CHECK(m.sequences == std::int64_t(rows.size()));
        CHECK(m.tokens == std::int64_t(rows.size()) * (s - 1));
        CHECK(m.baseline_perplexity.value == doctest::Approx(r.ppl_b).epsilon(1e-6));
        CHECK(m.candidate_perplexity.value == doctest::Approx(r.ppl_c).epsilon(1e-6));
        CHECK(m.perplexity_change.value == doctest::Approx(r.ppl_c / r.ppl_b - 1).epsilon(1e-6));
        CHECK(m.mean_kl.value == doctest::Approx(r.kl).epsilon(1e-6));
        CHECK(m.top1_agreement.value == doctest::Approx(r.agree));
        CHECK(m.flip_rate.value == doctest::Approx(r.flip));
        CHECK(m.baseline_accuracy.value == doctest::Approx(r.acc_b));
        CHECK(m.candidate_accuracy.value == doctest::Approx(r.acc_c));
        CHECK(m.accuracy_change.value == doctest::Approx(r.acc_c - r.acc_b));
        CHECK(m.accuracy_change.ci.low <= m.accuracy_change.value);
        CHECK(m.accuracy_change.value <= m.accuracy_change.ci.high);
        for (const estimate* e :
             {&m.baseline_perplexity, &m.candidate_perplexity, &m.perplexity_change, &m.mean_kl,
              &m.top1_agreement, &m.flip_rate}) {
            CHECK(e->ci.low <= e->value);
            CHECK(e->value <= e->ci.high);
        }
        CHECK(m.mean_kl.ci.low > 0);
    };
    check(c.overall, {0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11});
    REQUIRE(c.slices.size() == 3);
    CHECK(c.slices[0].name == "Ruth");
    CHECK(c.slices[1].name == "Jonah");
    CHECK(c.slices[2].name == "James");
    check(c.slices[0], {0, 3, 6, 9});
    check(c.slices[1], {1, 4, 7, 10});
    check(c.slices[2], {2, 5, 8, 11});

    // Named slices (index lists, as load_data gives them; they may overlap) give the same
    // figures as labels at the same positions, and the overall set is unchanged.
    const std::vector<hone::named_slice> named = {
        {"Ruth", {0, 3, 6, 9}}, {"Jonah", {1, 4, 7, 10}}, {"James", {2, 5, 8, 11}}};
    const auto stats = lm_sequence_statistics(base.view(), cand.view(), tgt.view());
    const auto by_name = compare_language_model_slices(stats, named);
    CHECK(by_name.to_json() == c.to_json());
    const std::vector<hone::named_slice> overlapping = {{"all but one", {1, 2, 3, 4, 5, 6, 7, 8}},
                                                        {"first", {0, 1}}};
    const auto o2 = compare_language_model_slices(stats, overlapping);
    REQUIRE(o2.slices.size() == 2);
    check(o2.slices[0], {1, 2, 3, 4, 5, 6, 7, 8});
    check(o2.slices[1], {0, 1});
    const std::vector<hone::named_slice> bad = {{"past", {12}}};
    CHECK_THROWS_WITH_AS(compare_language_model_slices(stats, bad),
                         doctest::Contains("slice 'past' names sequence 12, but there are 12"),
                         hone::error);
    const std::vector<hone::named_slice> empty = {{"none", {}}};
    CHECK_THROWS_WITH_AS(compare_language_model_slices(stats, empty),
                         doctest::Contains("slice 'none' has no sequences"), hone::error);

    const auto j = nlohmann::json::parse(c.to_json());
    CHECK(j.at("overall").at("mean_kl").at("value").get<double>() == c.overall.mean_kl.value);
    CHECK(j.at("overall").at("accuracy_change").at("value").get<double>() ==
          c.overall.accuracy_change.value);
    CHECK(j.at("slices").size() == 3);
    CHECK(j.at("slices")[1].at("name") == "Jonah");
}

TEST_CASE("lm metrics: the bootstrap is deterministic, thread-count independent and the right "
          "width") {
    // 400 one-token sequences; 120 agree (p = 0.3): the bootstrap interval of the agreement
    // should be about the normal one, 0.3 ± 1.96·sqrt(0.3·0.7/400) = ± 0.0449.
    std::vector<lm_sequence_stats> seqs(400);
    for (std::size_t i = 0; i < seqs.size(); ++i) {
        seqs[i].tokens = 1;
        seqs[i].baseline_nll = 1.0 + double(i % 7) * 0.1;
        seqs[i].candidate_nll = seqs[i].baseline_nll + 0.01;
        seqs[i].kl = 0.001 * double(i % 5);
        seqs[i].agreements = i % 10 < 3;
    }
    const lm_metrics_options o{.confidence = 0.95, .resamples = 4000, .seed = 11};
    const int saved = num_threads();
    set_num_threads(1);
    const auto one = compare_language_models(seqs, {}, o);
    set_num_threads(2);
    const auto two = compare_language_models(seqs, {}, o);
    set_num_threads(saved);
    CHECK(one.to_json() == two.to_json());
    const auto& a = one.overall.top1_agreement;
    CHECK(a.value == doctest::Approx(0.3));
    const double half = 1.959964 * std::sqrt(0.3 * 0.7 / 400);
    CHECK(a.ci.high - a.ci.low == doctest::Approx(2 * half).epsilon(0.1));
    CHECK(std::fabs((a.ci.low + a.ci.high) / 2 - 0.3) < 0.01);
    // the paired perplexity change is nearly exact: every sequence is 0.01 nats worse
    CHECK(one.overall.perplexity_change.value == doctest::Approx(std::exp(0.01) - 1));
    CHECK(one.overall.perplexity_change.ci.low == doctest::Approx(std::exp(0.01) - 1));
    CHECK(one.overall.perplexity_change.ci.high == doctest::Approx(std::exp(0.01) - 1));

    const auto other = compare_language_models(seqs, {}, {.resamples = 4000, .seed = 12});
    CHECK(other.to_json() != one.to_json()); // another seed, other draws
    // slices draw from their own streams: labelling does not change the overall interval
    std::vector<std::string> labels(seqs.size(), "a");
    labels[0] = "b";
    const auto sliced = compare_language_models(seqs, labels, o);
    CHECK(sliced.overall.top1_agreement.ci.low == a.ci.low);
    CHECK(sliced.overall.top1_agreement.ci.high == a.ci.high);
    REQUIRE(sliced.slices.size() == 2);
    CHECK(sliced.slices[0].name == "b"); // order of first appearance
    CHECK(sliced.slices[0].sequences == 1);
    CHECK(sliced.slices[0].top1_agreement.ci.low == sliced.slices[0].top1_agreement.ci.high);
    CHECK(sliced.slices[1].sequences == 399);
}

TEST_CASE("lm metrics: next-token targets") {
    tensor tok = targets_of(2, 3, {5, 6, 7, 8, 9, 10});
    const tensor t = next_token_targets(tok.view());
    const std::vector<std::int64_t> want = {6, 7, -1, 9, 10, -1};
    CHECK(std::vector<std::int64_t>(t.span<std::int64_t>().begin(), t.span<std::int64_t>().end()) ==
          want);
    std::string msg;
    const tensor f = logits_of(1, 1, 1, {0.0f});
    CHECK(status_of([&] { (void)next_token_targets(f.view()); }, &msg) == status::dtype_mismatch);
    CHECK(msg.find("next_token_targets") != std::string::npos);
}

TEST_CASE("lm metrics: malformed inputs are refused, naming the argument") {
    const tensor base = logits_of(1, 2, 3, std::vector<float>(6, 0.0f));
    const tensor other = logits_of(1, 2, 4, std::vector<float>(8, 0.0f));
    const tensor tgt = targets_of(1, 2, {0, 1});
    std::string msg;
    CHECK(status_of([&] { (void)lm_sequence_statistics(base.view(), other.view(), tgt.view()); },
                    &msg) == status::shape_mismatch);
    CHECK(msg.find("lm_sequence_statistics") != std::string::npos);
    CHECK(msg.find("candidate") != std::string::npos);

    const tensor bad_targets = targets_of(1, 2, {0, 3});
    CHECK(status_of(
              [&] { (void)lm_sequence_statistics(base.view(), base.view(), bad_targets.view()); },
              &msg) == status::invalid_argument);
    CHECK(msg.find("position 1") != std::string::npos);

    const tensor short_targets = targets_of(1, 1, {0});
    CHECK(status_of(
              [&] { (void)lm_sequence_statistics(base.view(), base.view(), short_targets.view()); },
              &msg) == status::shape_mismatch);
    CHECK(msg.find("targets") != std::string::npos);

    CHECK(status_of([&] { (void)lm_sequence_statistics(base.view(), base.view(), base.view()); },
                    &msg) == status::dtype_mismatch);

    const tensor nan_logits = logits_of(1, 2, 3, {0, 0, 0, 0, NAN, 0});
    CHECK(
        status_of([&] { (void)lm_sequence_statistics(base.view(), nan_logits.view(), tgt.view()); },
                  &msg) == status::invalid_argument);
    CHECK(msg.find("non-finite") != std::string::npos);

    const auto stats = lm_sequence_statistics(base.view(), base.view(), tgt.view());
    const std::vector<std::string> two_labels = {"a", "b"};
    CHECK(status_of([&] { (void)compare_language_models(stats, two_labels); }, &msg) ==
          status::invalid_argument);
    CHECK(msg.find("labels") != std::string::npos);
    CHECK(status_of([&] { (void)compare_language_models(stats, {}, {.resamples = 0}); }, &msg) ==
          status::invalid_argument);
    CHECK(msg.find("resamples") != std::string::npos);
    CHECK(status_of([&] { (void)compare_language_models(stats, {}, {.confidence = 1.0}); }, &msg) ==
          status::invalid_argument);
    CHECK(msg.find("confidence") != std::string::npos);
    CHECK(status_of([&] { (void)compare_language_models(std::span<const lm_sequence_stats>{}); },
                    &msg) == status::invalid_argument);

    const tensor none = targets_of(1, 2, {-1, -1});
    const auto empty = lm_sequence_statistics(base.view(), base.view(), none.view());
    CHECK(status_of([&] { (void)compare_language_models(empty); }, &msg) ==
          status::invalid_argument);
    CHECK(msg.find("no position with a target") != std::string::npos);
}
