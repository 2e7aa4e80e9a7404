// SmoothQuant: factors by hand, exact folding, the α search against an independent W8A8
// computation (kernels::linear), outlier channels, the MLP's fc2, bad input.
#include "calib_fixture.hpp"
#include "hone/core/threads.hpp"
#include "hone/quantize/calibrator.hpp"
#include "hone/quantize/smooth_quant.hpp"

#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <random>
#include <span>
#include <string>
#include <tuple>
#include <vector>

using hone::dtype;
using hone::smooth_quant;
using hone::smooth_quant_params;

using calib_fixture::error_of;
using calib_fixture::view;

namespace {

// x / s quantized with q, times Ŵ(W·s)ᵀ through kernels::linear (int8, static activations):
// the W8A8 layer exactly as it would run, independent of the search's fake-quant.
std::vector<float> run_int8(const std::vector<float>& x, std::int64_t m, std::int64_t k,
                            std::int64_t n, const hone::smooth_quant_result& r) {
    std::vector<float> xs(x.size());
    for (std::int64_t i = 0; i < m; ++i)
        for (std::int64_t j = 0; j < k; ++j)
            xs[static_cast<std::size_t>(i * k + j)] =
                x[static_cast<std::size_t>(i * k + j)] / r.scales[static_cast<std::size_t>(j)];
    hone::kernels::linear_params p;
    p.type = hone::kernels::gemm_type::int8;
    p.k = k;
    p.n = n;
    p.activations = hone::kernels::act_quant::static_per_tensor;
    p.act_scale = r.act_qparams.scale;
    p.act_zero_point = r.act_qparams.zero_point;
    const hone::kernels::linear lin(p, r.weights.span<float>());
    std::vector<float> y(static_cast<std::size_t>(m * n));
    lin.run(xs.data(), y.data(), m);
    return y;
}

} // namespace

TEST_CASE("the search's weights: the quantizer's int8 RTN is kernels::linear's, bit for bit") {
    // W with a zero row, an outlier row, ties at half steps and the fc2 fixture's weights.
    const std::int64_t n = 4, k = 8;
    std::vector<float> w = {0,    0,       0,     0,       0,        0,        0,      0,
                            1000, -0.001f, 3.5f,  -2.5f,   0,        1,        -1000,  7,
                            -1,   0.5f,    0.25f, -0.125f, 1.0f / 3, 2.0f / 3, -0.75f, 0.99f};
    std::mt19937 rng(7);
    std::normal_distribution<float> d(0.0f, 0.05f);
    for (std::int64_t c = 0; c < k; ++c)
        w.push_back(d(rng));
    const auto& l = calib_fixture::mlp_fc2();
    for (auto [weights, rows, cols] :
         {std::tuple{std::span<const float>(w), n, k}, std::tuple{l.w2.span<float>(), l.n, l.k}}) {
        const auto wq = calib_fixture::int8_rows_dequantized(weights, rows, cols);
        // kernels::linear with int8 weights on one-hot activations (act scale 1, zero point 0):
        // row j of the output is column j of its dequantized weights.
        std::vector<float> eye(static_cast<std::size_t>(cols * cols), 0.0f);
        for (std::int64_t j = 0; j < cols; ++j)
            eye[static_cast<std::size_t>(j * cols + j)] = 1.0f;
        hone::kernels::linear_params p;
        p.type = hone::kernels::gemm_type::int8;
        p.k = cols;
        p.n = rows;
        p.activations = hone::kernels::act_quant::static_per_tensor;
        p.act_scale = 1.0f;
        p.act_zero_point = 0;
        const hone::kernels::linear lin(p, weights);
        std::vector<float> y(static_cast<std::size_t>(cols * rows));
        lin.run(eye.data(), y.data(), cols);
        std::size_t differ = 0;
        for (std::int64_t r = 0; r < rows; ++r)
            for (std::int64_t j = 0; j < cols; ++j) {
                const auto i = static_cast<std::size_t>(r * cols + j);
                differ += y[static_cast<std::size_t>(j * rows + r)] != wq[i];
                // and the textbook formula: s = max|row| / 127, clamp(round(w / s), −127, 127)·s
                float amax = 0;
                for (std::int64_t c = 0; c < cols; ++c)
                    amax =
                        std::max(amax, std::fabs(weights[static_cast<std::size_t>(r * cols + c)]));
                const float sc = amax > 0 ? amax / 127.0f : 1.0f;
                differ +=
                    std::clamp(std::nearbyint(weights[i] / sc), -127.0f, 127.0f) * sc != wq[i];
            }
        CHECK(differ == 0);
    }
}

TEST_CASE("smoothing factors by hand and exact folding") {
    // W [2, 2]: column abs-max {1, 4}; X column abs-max {4, 1}
    const std::vector<float> w{1.0f, -4.0f, 0.5f, 2.0f};
    const std::vector<float> x{4.0f, 1.0f, -2.0f, 0.5f};
    smooth_quant sq(view(w, 2, 2));
    sq.observe(view(x, 2, 2));
    auto f = sq.factors(0.5f);
    CHECK(f[0] == doctest::Approx(2.0)); // sqrt(4) / sqrt(1)
    CHECK(f[1] == doctest::Approx(0.5)); // sqrt(1) / sqrt(4)
    f = sq.factors(1.0f);                // s = max|X|
    CHECK(f[0] == 4.0f);
    CHECK(f[1] == 1.0f);
    f = sq.factors(0.0f); // s = 1 / max|W|
    CHECK(f[0] == 1.0f);
    CHECK(f[1] == 0.25f);

    // dead channel: s = 1
    const std::vector<float> xz{0.0f, 1.0f, 0.0f, 2.0f};
    smooth_quant dz(view(w, 2, 2));
    dz.observe(view(xz, 2, 2));
    CHECK(dz.factors(0.5f)[0] == 1.0f);

    // (x / s)·(W·s)ᵀ = x·Wᵀ
    sq.score(view(x, 2, 2));
    const auto r = sq.result();
    for (int i = 0; i < 2; ++i)
        for (int o = 0; o < 2; ++o) {
            double ref = 0, folded = 0;
            for (int j = 0; j < 2; ++j) {
                ref +=
                    x[static_cast<std::size_t>(i * 2 + j)] * w[static_cast<std::size_t>(o * 2 + j)];
                folded += (x[static_cast<std::size_t>(i * 2 + j)] /
                           r.scales[static_cast<std::size_t>(j)]) *
                          r.weights.span<float>()[static_cast<std::size_t>(o * 2 + j)];
            }
            CHECK(folded == doctest::Approx(ref).epsilon(1e-6));
        }
}

TEST_CASE("outlier channels: smoothing lowers the W8A8 error; search matches kernels::linear") {
    const std::int64_t m = 512, k = 64, n = 32;
    std::mt19937 rng(5);
    std::normal_distribution<float> nd(0.0f, 1.0f);
    std::vector<float> x(static_cast<std::size_t>(m * k)), w(static_cast<std::size_t>(n * k));
    for (std::int64_t i = 0; i < m; ++i)
        for (std::int64_t j = 0; j < k; ++j) // channels 3 and 17 carry 40× outliers (LLM-like)
            x[static_cast<std::size_t>(i * k + j)] = nd(rng) * (j == 3 || j == 17 ? 40.0f : 1.0f);
    for (float& v : w)
        v = nd(rng) * 0.1f;
    smooth_quant_params p;
    p.name = "block.fc";
    const std::vector<hone::const_tensor_view> batches{view(x, m, k).slice(0, 0, 200),
                                                       view(x, m, k).slice(0, 200, 512)};
    const auto r = hone::smooth_quant_search(view(w, n, k), batches, p);
    MESSAGE("synthetic outliers: α = "
            << r.alpha << ", SQNR before "
            << calib_fixture::sqnr_db(r.reference_energy, r.error_before) << " dB, after "
            << calib_fixture::sqnr_db(r.reference_energy, r.error_after) << " dB");
    CHECK(r.error_after < 0.5 * r.error_before);
    CHECK(r.alpha > 0.0f);
    CHECK(r.alpha < 1.0f);
    CHECK(r.error_after == *std::min_element(r.errors.begin(), r.errors.end()));
    REQUIRE(r.errors.size() == p.alphas.size());
    // the outlier channels get the largest factors
    CHECK(r.scales[3] > 5.0f * r.scales[0]);
    // the act range is exactly that of x / s
    float lo = std::numeric_limits<float>::infinity(), hi = -lo;
    for (std::int64_t i = 0; i < m; ++i)
        for (std::int64_t j = 0; j < k; ++j) {
            const float v =
                x[static_cast<std::size_t>(i * k + j)] / r.scales[static_cast<std::size_t>(j)];
            lo = std::min(lo, v);
            hi = std::max(hi, v);
        }
    CHECK(r.act_min == lo);
    CHECK(r.act_max == hi);
    // the searched error is that of the real int8 layer
    const auto y = run_int8(x, m, k, n, r);
    std::vector<float> ref(static_cast<std::size_t>(m * n));
    hone::kernels::matmul_f32(x.data(), w.data(), ref.data(), m, k, n,
                              hone::kernels::weight_layout::n_by_k, nullptr);
    double e = 0;
    for (std::size_t i = 0; i < ref.size(); ++i)
        e += (static_cast<double>(ref[i]) - y[i]) * (static_cast<double>(ref[i]) - y[i]);
    CHECK(e == doctest::Approx(r.error_after).epsilon(1e-3));

    // same bits at any thread count; another batch split changes only the summation order
    const int before = hone::num_threads();
    hone::set_num_threads(1);
    const auto r1 = hone::smooth_quant_search(view(w, n, k), batches, p);
    const std::vector<hone::const_tensor_view> one{view(x, m, k)};
    const auto r2 = hone::smooth_quant_search(view(w, n, k), one, p);
    hone::set_num_threads(before);
    CHECK(r1.alpha == r.alpha);
    CHECK(r1.scales == r.scales);
    CHECK(r1.errors == r.errors);
    CHECK(r2.alpha == r.alpha);
    CHECK(r2.scales == r.scales);
    for (std::size_t i = 0; i < r.errors.size(); ++i)
        CHECK(r2.errors[i] == doctest::Approx(r.errors[i]).epsilon(1e-6));
}

TEST_CASE("acceptance: SmoothQuant on the Fashion-MNIST MLP's fc2") {
    const auto& l = calib_fixture::mlp_fc2();
    std::vector<hone::const_tensor_view> batches;
    for (std::int64_t b = 0; b < l.rows; b += 512)
        batches.push_back(
            hone::make_view(l.calib.data() + b * l.k, 512 * l.k * 4, dtype::f32, {512, l.k}));
    const auto r = hone::smooth_quant_search(l.w2, batches);
    const double before = calib_fixture::sqnr_db(r.reference_energy, r.error_before);
    const double after = calib_fixture::sqnr_db(r.reference_energy, r.error_after);
    // held-out: the unsmoothed layer (MinMax activations) against the smoothed one, both through
    // kernels::linear int8 (bias included)
    const auto ref_test = calib_fixture::fc2_f32(l, l.test);
    hone::calibrator_params cp;
    hone::calibrator mm(cp);
    for (const auto& b : batches)
        mm.observe(b);
    const auto q = mm.result().qparams();
    const double test_before =
        calib_fixture::sqnr_db(ref_test, calib_fixture::fc2_w8a8(l, l.test, q.scale, q.zero_point));
    std::vector<float> xs(l.test.size());
    for (std::size_t i = 0; i < xs.size(); ++i)
        xs[i] = l.test[i] / r.scales[i % static_cast<std::size_t>(l.k)];
    const double test_after = calib_fixture::sqnr_db(
        ref_test, calib_fixture::fc2_w8a8(l, xs, r.act_qparams.scale, r.act_qparams.zero_point,
                                          r.weights.span<float>().data()));
    MESSAGE("fc2 SmoothQuant: best α = " << r.alpha << "; calibration W8A8 output SQNR " << before
                                         << " dB unsmoothed, " << after << " dB smoothed; test "
                                         << test_before << " dB → " << test_after << " dB");
    CHECK(r.error_after == *std::min_element(r.errors.begin(), r.errors.end()));
    CHECK(after > 20.0);
}

TEST_CASE("SmoothQuant bad input") {
    const std::vector<float> w{1, 2, 3, 4, 5, 6};
    const std::vector<float> x{1, 2, 3};
    smooth_quant_params p;
    p.name = "fc7";
    std::vector<float> bad = w;
    bad[4] = std::numeric_limits<float>::quiet_NaN();
    auto msg =
        error_of([&] { smooth_quant s(view(bad, 2, 3), p); }, hone::status::invalid_argument);
    CHECK(msg.find("fc7") != std::string::npos);
    CHECK(msg.find("index 4") != std::string::npos);
    p.alphas = {0.5f, 1.5f};
    error_of([&] { smooth_quant s(view(w, 2, 3), p); }, hone::status::invalid_argument);
    p.alphas = {};
    error_of([&] { smooth_quant s(view(w, 2, 3), p); }, hone::status::invalid_argument);
    p = {};
    p.name = "fc7";
    smooth_quant s(view(w, 2, 3), p);
    error_of([&] { s.score(view(x, 1, 3)); }, hone::status::invalid_argument);
    error_of([&] { s.result(); }, hone::status::invalid_argument);
    msg = error_of([&] { s.observe(view(w, 3, 2)); }, hone::status::shape_mismatch);
    CHECK(msg.find("fc7") != std::string::npos);
    std::vector<float> xi = x;
    xi[2] = std::numeric_limits<float>::infinity();
    msg = error_of([&] { s.observe(view(xi, 1, 3)); }, hone::status::invalid_argument);
    CHECK(msg.find("input channel 2") != std::string::npos);
    s.observe(view(x, 1, 3));
    s.score(view(x, 1, 3));
    error_of([&] { s.observe(view(x, 1, 3)); }, hone::status::invalid_argument);
    CHECK(s.result().errors.size() == 21);
}
