// GPTQ: equals RTN when inputs are uncorrelated (diagonal H), beats RTN on the layer output
// when they are correlated (held-out data), blocked lazy updates equal the unblocked method,
// act-order and static groups, dead inputs, thread-count determinism, bad Hessians.
#include <hone/core/error.hpp>
#include <hone/core/tensor.hpp>
#include <hone/core/threads.hpp>
#include <hone/kernels/gemm.hpp>
#include <hone/quantize/quantizer.hpp>

#include <doctest/doctest.h>

#include <cmath>
#include <cstring>
#include <limits>
#include <random>
#include <vector>

namespace {

hone::tensor random_weights(std::int64_t n, std::int64_t k, unsigned seed) {
    std::mt19937 rng(seed);
    std::normal_distribution<float> normal;
    hone::tensor w(hone::dtype::f32, {n, k});
    for (auto& v : w.span<float>())
        v = normal(rng) * 0.1f;
    return w;
}

/// Correlated inputs: x = z·A with a fixed random mixing A (k×k) plus per-column scales.
hone::tensor correlated_inputs(std::int64_t m, std::int64_t k, unsigned seed,
                               const std::vector<std::int64_t>& dead = {}) {
    std::mt19937 mix_rng(1234); // the same "layer" for every split
    std::normal_distribution<float> normal;
    std::vector<float> a(std::size_t(k * k));
    for (auto& v : a)
        v = normal(mix_rng) / std::sqrt(float(k));
    for (std::int64_t i = 0; i < k; ++i)
        a[std::size_t(i * k + i)] += 1.0f;
    std::mt19937 rng(seed);
    hone::tensor z(hone::dtype::f32, {m, k}), x(hone::dtype::f32, {m, k});
    for (auto& v : z.span<float>())
        v = normal(rng);
    hone::kernels::matmul_f32(z.span<float>().data(), a.data(), x.span<float>().data(), m, k, k,
                              hone::kernels::weight_layout::k_by_n, nullptr);
    auto xs = x.span<float>();
    for (std::int64_t r = 0; r < m; ++r)
        for (std::int64_t c = 0; c < k; ++c)
            xs[std::size_t(r * k + c)] *= 1.0f + float(c % 4);
    for (auto c : dead)
        for (std::int64_t r = 0; r < m; ++r)
            xs[std::size_t(r * k + c)] = 0;
    return x;
}

double output_mse(const hone::tensor& w, const hone::quantized_tensor& q, const hone::tensor& x) {
    return hone::measure_error(w, q, "w", x).output_mse;
}

bool same_bytes(const hone::quantized_tensor& a, const hone::quantized_tensor& b) {
    return a.data.nbytes() == b.data.nbytes() &&
           std::memcmp(a.data.data(), b.data.data(), a.data.nbytes()) == 0 &&
           std::memcmp(a.scales.data(), b.scales.data(), a.scales.nbytes()) == 0 &&
           a.zero_points.nbytes() == b.zero_points.nbytes() &&
           std::memcmp(a.zero_points.data(), b.zero_points.data(), a.zero_points.nbytes()) == 0;
}

} // namespace

TEST_CASE("GPTQ with a diagonal Hessian is RTN (no error to spread)") {
    const auto w = random_weights(8, 40, 1);
    hone::tensor h(hone::dtype::f32, {40, 40});
    for (int i = 0; i < 40; ++i)
        h.span<float>()[std::size_t(i * 40 + i)] = 1.0f + float(i);
    for (auto g : {hone::quant_granularity::per_channel, hone::quant_granularity::per_group}) {
        const hone::quant_spec spec{.bits = 4, .granularity = g, .group_size = 8};
        const auto rtn = hone::quantizer({.spec = spec}).quantize(w);
        const auto gptq = hone::gptq_quantize(w, h, spec, {}, "w");
        CHECK(same_bytes(rtn, gptq));
    }
}

TEST_CASE("GPTQ beats RTN on the layer output (held-out inputs), every variant") {
    const std::int64_t n = 48, k = 128;
    const auto w = random_weights(n, k, 2);
    const auto calib = correlated_inputs(1024, k, 10);
    const auto test = correlated_inputs(1024, k, 20);
    for (int bits : {3, 4})
        for (auto [g, gs] : {std::pair{hone::quant_granularity::per_channel, std::int64_t{0}},
                             std::pair{hone::quant_granularity::per_group, std::int64_t{32}}})
            for (bool act : {false, true})
                for (bool stat : {false, true}) {
                    hone::quant_spec spec{.bits = bits,
                                          .symmetric = false,
                                          .granularity = g,
                                          .group_size = gs ? gs : 128};
                    const auto rtn = hone::quantizer({.spec = spec}).quantize(w);
                    const auto r =
                        hone::quantizer({.spec = spec,
                                         .method = hone::weight_method::gptq,
                                         .gptq = {.act_order = act, .static_groups = stat}})
                            .run(w, {.inputs = calib}, "w");
                    const double e_rtn = output_mse(w, rtn, test);
                    const double e_gptq = output_mse(w, r.weights, test);
                    CAPTURE(bits);
                    CAPTURE(act);
                    CAPTURE(stat);
                    CAPTURE(e_rtn);
                    CAPTURE(e_gptq);
                    CHECK(e_gptq < 0.8 * e_rtn);
                    CHECK(r.report.output_mse < output_mse(w, rtn, calib));
                }
}

TEST_CASE("GPTQ: blocked lazy updates equal the column-by-column method") {
    const std::int64_t n = 32, k = 200;
    const auto w = random_weights(n, k, 3);
    const auto x = correlated_inputs(600, k, 4);
    hone::tensor h(hone::dtype::f32, {k, k});
    hone::kernels::hessian_accumulate(x, h);
    const hone::quant_spec spec{.bits = 4, .granularity = hone::quant_granularity::per_channel};
    const auto one = hone::gptq_quantize(w, h, spec, {.block_size = 1}, "w");
    const auto blocked = hone::gptq_quantize(w, h, spec, {.block_size = 64}, "w");
    const auto odd = hone::gptq_quantize(w, h, spec, {.block_size = 37}, "w");
    // Same arithmetic in another order: a rounding tie may flip, nothing more.
    const auto a = one.values(), b = blocked.values(), c = odd.values();
    std::size_t diff_b = 0, diff_c = 0;
    for (std::size_t i = 0; i < a.size(); ++i) {
        diff_b += a[i] != b[i];
        diff_c += a[i] != c[i];
        CHECK(std::abs(a[i] - b[i]) <= 1);
    }
    CHECK(diff_b <= a.size() / 200);
    CHECK(diff_c <= a.size() / 200);
}

TEST_CASE("GPTQ: dead inputs get zero weights; Hessian given = Hessian from inputs") {
    const std::int64_t n = 16, k = 64;
    const auto w = random_weights(n, k, 5);
    const auto x = correlated_inputs(300, k, 6, {3, 40});
    hone::tensor h(hone::dtype::f32, {k, k});
    hone::kernels::hessian_accumulate(x, h);
    const hone::quantizer qz({.spec = {.bits = 4,
                                       .is_signed = false,
                                       .symmetric = false,
                                       .granularity = hone::quant_granularity::per_group,
                                       .group_size = 16},
                              .method = hone::weight_method::gptq});
    const auto from_x = qz.run(w, {.inputs = x}, "w");
    const auto from_h = qz.run(w, {.hessian = h}, "w");
    CHECK(same_bytes(from_x.weights, from_h.weights));
    const auto d = from_x.weights.dequantize();
    for (std::int64_t r = 0; r < n; ++r) {
        CHECK(d.span<float>()[std::size_t(r * k + 3)] == 0.0f);
        CHECK(d.span<float>()[std::size_t(r * k + 40)] == 0.0f);
    }
    CHECK(std::isfinite(from_x.report.output_sqnr_db));
}

TEST_CASE("GPTQ: identical bytes at any thread count") {
    // 600 rows = three chunks of 256 rows; K = 320 = two Hessian tiles of 256.
    const auto w = random_weights(600, 320, 7);
    const auto x = correlated_inputs(700, 320, 8);
    const hone::quantizer qz(
        {.spec = {.bits = 4, .granularity = hone::quant_granularity::per_group, .group_size = 32},
         .method = hone::weight_method::gptq,
         .gptq = {.act_order = true, .clip_search = true}});
    const int saved = hone::num_threads();
    hone::set_num_threads(1);
    const auto a = qz.run(w, {.inputs = x}, "w");
    hone::set_num_threads(2);
    const auto b = qz.run(w, {.inputs = x}, "w");
    hone::set_num_threads(4);
    const auto c = qz.run(w, {.inputs = x}, "w");
    hone::set_num_threads(saved);
    CHECK(same_bytes(a.weights, b.weights));
    CHECK(same_bytes(a.weights, c.weights));
}

TEST_CASE("GPTQ: bad input names the tensor") {
    const auto w = random_weights(4, 8, 9);
    const hone::quant_spec spec{.bits = 4};
    hone::tensor h(hone::dtype::f32, {8, 8});
    for (int i = 0; i < 8; ++i)
        h.span<float>()[std::size_t(i * 9)] = 1.0f;
    auto check = [](auto&& fn, hone::status code, const char* needle) {
        try {
            fn();
            FAIL("no error");
        } catch (const hone::error& e) {
            INFO(e.what());
            CHECK(e.code() == code);
            CHECK(std::string(e.what()).find("layer3") != std::string::npos);
            CHECK(std::string(e.what()).find(needle) != std::string::npos);
        }
    };
    auto hn = h.clone();
    hn.span<float>()[3] = std::numeric_limits<float>::quiet_NaN();
    check([&] { hone::gptq_quantize(w, hn, spec, {}, "layer3"); }, hone::status::invalid_argument,
          "not finite");
    hone::tensor sing(hone::dtype::f32, {8, 8});
    for (auto& v : sing.span<float>())
        v = 1.0f; // rank 1, no dampening
    check([&] { hone::gptq_quantize(w, sing, spec, {.damp_fraction = 0}, "layer3"); },
          hone::status::invalid_argument, "not positive definite");
    hone::tensor small(hone::dtype::f32, {7, 7});
    check([&] { hone::gptq_quantize(w, small, spec, {}, "layer3"); }, hone::status::shape_mismatch,
          "[8, 8]");
    auto wn = w.clone();
    wn.span<float>()[5] = std::numeric_limits<float>::infinity();
    check([&] { hone::gptq_quantize(wn, h, spec, {}, "layer3"); }, hone::status::invalid_argument,
          "non-finite");
    check(
        [&] {
            hone::gptq_quantize(
                w, h,
                {.bits = 4, .granularity = hone::quant_granularity::per_group, .group_size = 3}, {},
                "layer3");
        },
        hone::status::invalid_argument, "does not divide");
    check([&] { hone::gptq_quantize(w, h, {.bits = 1}, {}, "layer3"); },
          hone::status::invalid_argument, "bits");
    const hone::quantizer qz({.spec = spec, .method = hone::weight_method::gptq});
    check([&] { qz.run(w, {}, "layer3"); }, hone::status::invalid_argument, "calibration");
    check([&] { qz.quantize(w, "layer3"); }, hone::status::invalid_argument, "calibration");
    hone::tensor x0(hone::dtype::f32, {0, 8});
    check([&] { qz.run(w, {.inputs = x0}, "layer3"); }, hone::status::invalid_argument, "empty");
    hone::tensor xn(hone::dtype::f32, {3, 8});
    xn.span<float>()[4] = std::numeric_limits<float>::quiet_NaN();
    check([&] { qz.run(w, {.inputs = xn}, "layer3"); }, hone::status::invalid_argument,
          "non-finite");
}

#include "../fixture_layer.hpp"

TEST_CASE("fixture: GPTQ int4 beats RTN on the MLP's first layer (held-out test images)") {
    const auto& l = fixture::fc1();
    for (std::int64_t group : {112, 56, 16})
        for (bool sym : {true, false}) {
            const hone::quant_spec spec{.bits = 4,
                                        .is_signed = sym,
                                        .symmetric = sym,
                                        .granularity = hone::quant_granularity::per_group,
                                        .group_size = group};
            const auto rtn = hone::quantizer({.spec = spec}).quantize(l.weight, "fc1.weight");
            const auto gptq = hone::quantizer({.spec = spec, .method = hone::weight_method::gptq})
                                  .run(l.weight, {.inputs = l.calib}, "fc1.weight");
            const auto act = hone::quantizer({.spec = spec,
                                              .method = hone::weight_method::gptq,
                                              .gptq = {.act_order = true}})
                                 .run(l.weight, {.inputs = l.calib}, "fc1.weight");
            const auto r_rtn = hone::measure_error(l.weight, rtn, "fc1.weight", l.test);
            const auto r_gptq = hone::measure_error(l.weight, gptq.weights, "fc1.weight", l.test);
            const auto r_act = hone::measure_error(l.weight, act.weights, "fc1.weight", l.test);
            const std::string kind = sym ? "signed symmetric" : "unsigned affine";
            MESSAGE("fc1 int4 " << kind << " group " << group << ": held-out output MSE RTN "
                                << r_rtn.output_mse << " (SQNR " << r_rtn.output_sqnr_db
                                << " dB), GPTQ " << r_gptq.output_mse << " ("
                                << r_gptq.output_sqnr_db << " dB), GPTQ act-order "
                                << r_act.output_mse << " (" << r_act.output_sqnr_db << " dB)");
            CHECK(r_gptq.output_mse < r_rtn.output_mse);
            CHECK(r_act.output_mse < r_rtn.output_mse);
        }
}
