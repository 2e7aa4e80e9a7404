#include "hone/core/error.hpp"
#include "hone/metrics/metric_collector.hpp"
#include "hone/metrics/performance.hpp"

#include <cmath>
#include <doctest/doctest.h>
#include <vector>

using doctest::Approx;

namespace {
hone::tensor matrix(std::int64_t rows, std::int64_t cols, std::vector<float> values) {
    hone::tensor t(hone::dtype::f32, {rows, cols});
    std::copy(values.begin(), values.end(), t.span<float>().begin());
    return t;
}
} // namespace

TEST_CASE("top-1, top-k, per-class accuracy with known values") {
    hone::metric_collector m({2});
    // 4 samples, 3 classes
    const auto out = matrix(4, 3,
                            {0.1f, 0.7f, 0.2f,   // top-1 1, label 1: correct
                             0.5f, 0.4f, 0.1f,   // top-1 0, label 1: wrong, in top-2
                             0.2f, 0.2f, 0.6f,   // top-1 2, label 0: wrong; tie rank → 2nd
                             0.3f, 0.3f, 0.3f}); // all tied: top-1 0 (lowest index), label 0
    const std::int64_t labels[] = {1, 1, 0, 0};
    m.add(out, labels);
    const auto s = m.summary();
    CHECK(s.samples == 4);
    CHECK(s.accuracy == Approx(0.5));
    CHECK(s.top_k_accuracy ==
          Approx(1.0)); // sample 3: class 0 ties class 1 but has the lower index
    REQUIRE(s.per_class.size() == 2);
    CHECK(s.per_class[0].label == 0);
    CHECK(s.per_class[0].correct == 1);
    CHECK(s.per_class[1].samples == 2);
    CHECK(m.predictions()[3] == 0);
    const std::uint32_t subset[] = {0, 1};
    CHECK(m.summary(subset).accuracy == Approx(0.5));
    CHECK_FALSE(s.has_reference);
}

TEST_CASE("agreement, KL and cosine against a reference") {
    hone::metric_collector m;
    const auto ref = matrix(2, 2, {0.0f, 0.0f, 2.0f, 0.0f});
    const auto out = matrix(2, 2, {0.0f, 0.0f, 0.0f, 2.0f});
    m.add(out, {}, ref);
    const auto s = m.summary();
    CHECK(s.has_reference);
    CHECK(s.agreement == Approx(0.5)); // row 0 ties → both class 0; row 1 differs
    // KL(softmax(2,0) ‖ softmax(0,2)) = (p − q)·2 with p = σ(2) = 0.8808, q = 0.1192; row 0: 0
    const double p = 1.0 / (1.0 + std::exp(-2.0));
    CHECK(s.mean_kl == Approx((p * std::log(p / (1 - p)) + (1 - p) * std::log((1 - p) / p)) / 2));
    CHECK(s.mean_cosine == Approx((1.0 + 0.0) / 2)); // zero vectors count as identical
}

TEST_CASE("bad batches are refused, naming the sample") {
    hone::metric_collector m;
    const std::int64_t labels[] = {0, 3};
    try {
        m.add(matrix(2, 3, {0, 1, 2, 3, 4, 5}), labels);
        FAIL("no error");
    } catch (const hone::error& e) {
        CHECK(std::string(e.what()).find("label 3 of sample 1") != std::string::npos);
    }
    hone::metric_collector n;
    try {
        n.add(matrix(2, 2, {0, 1, NAN, 1}));
        FAIL("no error");
    } catch (const hone::error& e) {
        CHECK(std::string(e.what()).find("NaN in the outputs of sample 1") != std::string::npos);
    }
    hone::metric_collector k;
    k.add(matrix(1, 2, {0, 1}));
    CHECK_THROWS_AS(k.add(matrix(1, 3, {0, 1, 2})), hone::error); // class count changed
    CHECK_THROWS_AS(k.add(hone::tensor(hone::dtype::f16, {1, 2})), hone::error);
    CHECK_THROWS_AS(k.add(matrix(1, 2, {0, 1}), std::vector<std::int64_t>{0}), hone::error);
    CHECK_THROWS_AS(hone::metric_collector({0}), hone::error);
}

TEST_CASE("latency statistics use nearest rank") {
    std::vector<double> ms;
    for (int i = 20; i >= 1; --i)
        ms.push_back(i);
    const auto s = hone::summarize_latency(ms);
    CHECK(s.runs == 20);
    CHECK(s.p50_ms == 10);
    CHECK(s.p90_ms == 18);
    CHECK(s.p99_ms == 20);
    CHECK(s.min_ms == 1);
    CHECK(s.mean_ms == Approx(10.5));
    CHECK_THROWS_AS(hone::summarize_latency({}), hone::error);
    int calls = 0;
    const auto m = hone::measure_latency([&] { ++calls; }, 2, 5);
    CHECK(calls == 7);
    CHECK(m.runs == 5);
    CHECK(hone::peak_resident_bytes() >= hone::resident_bytes() / 2);
    CHECK(hone::resident_bytes() > 0);
}
