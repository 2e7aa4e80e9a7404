// AWQ-style activation-aware scaling: the layer stays equivalent with the returned input
// scales, it is never worse than RTN on the calibration data, and it helps when a few input
// channels carry large activations; uniform channels give s = 1 (α = 0); bad input.
#include <hone/core/error.hpp>
#include <hone/core/tensor.hpp>
#include <hone/kernels/gemm.hpp>
#include <hone/quantize/quantizer.hpp>

#include <doctest/doctest.h>

#include <cmath>
#include <random>
#include <vector>

#include "../fixture_layer.hpp"

namespace {

/// Inputs whose channels c % 16 == 0 are ~20× larger than the others (activation outliers).
hone::tensor outlier_inputs(std::int64_t m, std::int64_t k, unsigned seed) {
    std::mt19937 rng(seed);
    std::normal_distribution<float> normal;
    hone::tensor x(hone::dtype::f32, {m, k});
    auto xs = x.span<float>();
    for (std::int64_t r = 0; r < m; ++r)
        for (std::int64_t c = 0; c < k; ++c)
            xs[std::size_t(r * k + c)] = normal(rng) * (c % 16 == 0 ? 20.0f : 1.0f);
    return x;
}

hone::tensor random_weights(std::int64_t n, std::int64_t k, unsigned seed) {
    std::mt19937 rng(seed);
    std::normal_distribution<float> normal;
    hone::tensor w(hone::dtype::f32, {n, k});
    for (auto& v : w.span<float>())
        v = normal(rng) * 0.05f;
    return w;
}

} // namespace

TEST_CASE("AWQ: equivalent layer, better than RTN with activation outliers") {
    const std::int64_t n = 64, k = 128;
    const auto w = random_weights(n, k, 1);
    const auto calib = outlier_inputs(512, k, 2), test = outlier_inputs(512, k, 3);
    const hone::quant_spec spec{.bits = 3,
                                .is_signed = false,
                                .symmetric = false,
                                .granularity = hone::quant_granularity::per_group,
                                .group_size = 32};
    const auto rtn = hone::quantizer({.spec = spec}).run(w, {.inputs = calib}, "w");
    const auto awq = hone::quantizer({.spec = spec, .method = hone::weight_method::awq})
                         .run(w, {.inputs = calib}, "w");
    REQUIRE(awq.input_scales.size() == std::size_t(k));
    for (float s : awq.input_scales)
        CHECK((s > 0 && std::isfinite(s)));
    CHECK(awq.awq_alpha > 0);
    // Outlier channels get the larger scales.
    CHECK(awq.input_scales[0] > awq.input_scales[1]);
    CHECK(awq.report.output_mse <= rtn.report.output_mse);
    const double rtn_test = hone::measure_error(w, rtn.weights, "w", test).output_mse;
    const auto awq_test = hone::measure_error(w, awq.weights, "w", test, awq.input_scales);
    CHECK(awq_test.output_mse < 0.9 * rtn_test);
    // Equivalence, computed by hand: y = (x / s) · dequantize(Q(W·diag(s)))ᵀ.
    const auto dq = awq.weights.dequantize();
    std::vector<float> xs(std::size_t(512 * k)), y(std::size_t(512 * n)), ref(std::size_t(512 * n));
    for (std::int64_t r = 0; r < 512; ++r)
        for (std::int64_t c = 0; c < k; ++c)
            xs[std::size_t(r * k + c)] =
                test.span<float>()[std::size_t(r * k + c)] / awq.input_scales[std::size_t(c)];
    hone::kernels::matmul_f32(xs.data(), dq.span<float>().data(), y.data(), 512, k, n,
                              hone::kernels::weight_layout::n_by_k, nullptr);
    hone::kernels::matmul_f32(test.span<float>().data(), w.span<float>().data(), ref.data(), 512, k,
                              n, hone::kernels::weight_layout::n_by_k, nullptr);
    double e = 0;
    for (std::size_t i = 0; i < y.size(); ++i)
        e += double(y[i] - ref[i]) * (y[i] - ref[i]);
    CHECK(e / double(y.size()) == doctest::Approx(awq_test.output_mse).epsilon(1e-3));
}

TEST_CASE("AWQ: channels of equal magnitude give s = 1 and RTN's result (α = 0)") {
    const std::int64_t n = 8, k = 32;
    const auto w = random_weights(n, k, 4);
    hone::tensor x(hone::dtype::f32, {4, k});
    for (std::int64_t r = 0; r < 4; ++r)
        for (std::int64_t c = 0; c < k; ++c)
            x.span<float>()[std::size_t(r * k + c)] = (r + c) % 2 ? 1.5f : -1.5f;
    const hone::quant_spec spec{.bits = 4};
    const auto awq =
        hone::quantizer({.spec = spec, .method = hone::weight_method::awq}).run(w, {.inputs = x});
    const auto rtn = hone::quantizer({.spec = spec}).quantize(w);
    CHECK(awq.awq_alpha == 0);
    for (float s : awq.input_scales)
        CHECK(s == 1.0f);
    CHECK(awq.weights.values() == rtn.values());
}

TEST_CASE("AWQ: bad input") {
    const auto w = random_weights(4, 8, 5);
    const hone::quantizer q({.spec = {.bits = 4}, .method = hone::weight_method::awq});
    CHECK_THROWS_WITH_AS(q.run(w, {}, "proj"), doctest::Contains("proj"), hone::error);
    hone::tensor bad(hone::dtype::f32, {3, 7});
    CHECK_THROWS_WITH_AS(q.run(w, {.inputs = bad}, "proj"), doctest::Contains("proj"), hone::error);
    hone::tensor w3(hone::dtype::f32, {2, 2, 2});
    CHECK_THROWS_WITH_AS(q.run(w3, {.inputs = bad}, "proj"), doctest::Contains("[N, K]"),
                         hone::error);
    CHECK_THROWS_AS(hone::quantizer({.method = hone::weight_method::awq, .awq = {.grid = 0}}),
                    hone::error);
}

TEST_CASE("fixture: AWQ and clip search on the MLP's first layer (figures)") {
    const auto& l = fixture::fc1();
    const hone::quant_spec spec{.bits = 4,
                                .is_signed = false,
                                .symmetric = false,
                                .granularity = hone::quant_granularity::per_group,
                                .group_size = 112};
    const auto rtn = hone::quantizer({.spec = spec}).run(l.weight, {.inputs = l.calib}, "fc1");
    const auto clip = hone::quantizer({.spec = spec, .method = hone::weight_method::clip_search})
                          .run(l.weight, {.inputs = l.calib}, "fc1");
    const auto awq = hone::quantizer({.spec = spec, .method = hone::weight_method::awq})
                         .run(l.weight, {.inputs = l.calib}, "fc1");
    CHECK(awq.report.output_mse <= rtn.report.output_mse); // on the calibration data
    CHECK(clip.report.mse <= rtn.report.mse);
    const auto t_rtn = hone::measure_error(l.weight, rtn.weights, "fc1", l.test);
    const auto t_clip = hone::measure_error(l.weight, clip.weights, "fc1", l.test);
    const auto t_awq = hone::measure_error(l.weight, awq.weights, "fc1", l.test, awq.input_scales);
    MESSAGE("fc1 int4 unsigned affine group 112, held-out output MSE: RTN "
            << t_rtn.output_mse << ", clip search " << t_clip.output_mse << ", AWQ (alpha "
            << awq.awq_alpha << ") " << t_awq.output_mse);
}

#include <hone/core/threads.hpp>

#include <cstring>

TEST_CASE("AWQ: identical bytes and scales at any thread count") {
    const auto w = random_weights(96, 128, 6);
    const auto x = outlier_inputs(300, 128, 7);
    const hone::quantizer q(
        {.spec = {.bits = 4, .granularity = hone::quant_granularity::per_group, .group_size = 32},
         .method = hone::weight_method::awq});
    const int saved = hone::num_threads();
    hone::set_num_threads(1);
    const auto a = q.run(w, {.inputs = x});
    hone::set_num_threads(3);
    const auto b = q.run(w, {.inputs = x});
    hone::set_num_threads(saved);
    CHECK(a.awq_alpha == b.awq_alpha);
    CHECK(a.input_scales == b.input_scales);
    CHECK(std::memcmp(a.weights.data.data(), b.weights.data.data(), a.weights.data.nbytes()) == 0);
    CHECK(std::memcmp(a.weights.scales.data(), b.weights.scales.data(),
                      a.weights.scales.nbytes()) == 0);
}
