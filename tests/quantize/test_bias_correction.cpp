// Bias correction: hand-computed shift, the corrected mean equals the float mean on the
// calibration data, streaming means, the MLP's fc2 (output mean shift before/after), bad input.
#include "calib_fixture.hpp"
#include "hone/quantize/bias_correction.hpp"
#include "hone/quantize/calibrator.hpp"
#include "hone/quantize/smooth_quant.hpp"

#include <doctest/doctest.h>

#include <cmath>
#include <limits>
#include <random>
#include <string>
#include <vector>

using hone::dtype;

using calib_fixture::error_of;
using calib_fixture::view;

namespace {

// Mean over rows of each output column of y [m, n].
std::vector<double> column_mean(const std::vector<float>& y, std::int64_t n) {
    std::vector<double> s(static_cast<std::size_t>(n), 0.0);
    const std::size_t m = y.size() / static_cast<std::size_t>(n);
    for (std::size_t i = 0; i < y.size(); ++i)
        s[i % static_cast<std::size_t>(n)] += y[i];
    for (double& v : s)
        v /= static_cast<double>(m);
    return s;
}

double mean_abs_diff(const std::vector<double>& a, const std::vector<double>& b) {
    double s = 0;
    for (std::size_t i = 0; i < a.size(); ++i)
        s += std::fabs(a[i] - b[i]);
    return s / static_cast<double>(a.size());
}

} // namespace

TEST_CASE("hand-computed correction") {
    const std::vector<float> w{1.0f, 2.0f}, wq{1.0f, 1.0f}, b{0.5f};
    const std::vector<double> ex{1.0, 3.0};
    auto r = hone::bias_correction(view(w, 1, 2), view(wq, 1, 2), b, ex);
    CHECK(r.shift[0] == 3.0f); // (2 − 1)·3
    CHECK(r.bias[0] == 3.5f);
    // with the quantized inputs' mean: W·E[x] − Ŵ·E[x̂] = 7 − (1·1 + 1·2.5) = 3.5
    const std::vector<double> exq{1.0, 2.5};
    r = hone::bias_correction(view(w, 1, 2), view(wq, 1, 2), {}, ex, exq);
    CHECK(r.shift[0] == 3.5f);
    CHECK(r.bias[0] == 3.5f);
}

TEST_CASE("after correction the quantized layer's output mean equals the float one") {
    const std::int64_t m = 1000, k = 16, n = 8;
    std::mt19937 rng(3);
    std::normal_distribution<float> nd(0.5f, 1.0f);
    std::vector<float> x(static_cast<std::size_t>(m * k)), w(static_cast<std::size_t>(n * k)),
        b(static_cast<std::size_t>(n), 0.1f);
    for (float& v : x)
        v = std::max(0.0f, nd(rng)); // non-negative inputs: E[x] ≠ 0
    for (float& v : w)
        v = nd(rng) * 0.3f;
    // coarse "quantized" weights (4-bit-like) to make the shift visible
    std::vector<float> wq(w.size());
    for (std::size_t i = 0; i < w.size(); ++i)
        wq[i] = std::round(w[i] * 4.0f) / 4.0f;
    hone::channel_mean cm;
    cm.observe(view(x, m, k).slice(0, 0, 300));
    cm.observe(view(x, m, k).slice(0, 300, 1000));
    CHECK(cm.rows() == 1000);
    hone::channel_mean one;
    one.observe(view(x, m, k));
    const auto mean = cm.mean();
    for (std::size_t j = 0; j < mean.size(); ++j)
        CHECK(mean[j] == doctest::Approx(one.mean()[j]).epsilon(1e-12));

    const auto r = hone::bias_correction(view(w, n, k), view(wq, n, k), b, mean);
    std::vector<float> yf(static_cast<std::size_t>(m * n)), yq(yf.size()), yc(yf.size());
    using hone::kernels::matmul_f32;
    using hone::kernels::weight_layout;
    matmul_f32(x.data(), w.data(), yf.data(), m, k, n, weight_layout::n_by_k, b.data());
    matmul_f32(x.data(), wq.data(), yq.data(), m, k, n, weight_layout::n_by_k, b.data());
    matmul_f32(x.data(), wq.data(), yc.data(), m, k, n, weight_layout::n_by_k, r.bias.data());
    const auto mf = column_mean(yf, n), mq = column_mean(yq, n), mc = column_mean(yc, n);
    CHECK(mean_abs_diff(mf, mq) > 0.01);
    CHECK(mean_abs_diff(mf, mc) < 1e-5);
}

TEST_CASE("acceptance: bias correction of the Fashion-MNIST MLP's fc2 (W8A8)") {
    const auto& l = calib_fixture::mlp_fc2();
    const auto w2 = l.w2.span<float>();
    const auto wq = calib_fixture::int8_rows_dequantized(w2, l.n, l.k);
    // activations: static min/max u8; E[x] and E[x̂] from the calibration split
    hone::calibrator cal(hone::calibrator_params{});
    const auto xc = hone::make_view(l.calib.data(), l.calib.size() * 4, dtype::f32, {l.rows, l.k});
    cal.observe(xc);
    const auto q = cal.result().qparams();
    std::vector<float> xq(l.calib.size());
    for (std::size_t i = 0; i < xq.size(); ++i)
        xq[i] = hone::calib_fake_quant(l.calib[i], q, dtype::u8, false);
    hone::channel_mean mx, mxq;
    mx.observe(xc);
    mxq.observe(view(xq, l.rows, l.k));
    const auto r = hone::bias_correction(l.w2, view(wq, l.n, l.k), l.b2.span<float>(), mx.mean(),
                                         mxq.mean(), "fc2");
    auto shift = [&](const std::vector<float>& x, const float* bias) {
        const auto ref = column_mean(calib_fixture::fc2_f32(l, x), l.n);
        const auto out =
            column_mean(calib_fixture::fc2_w8a8(l, x, q.scale, q.zero_point, nullptr, bias), l.n);
        return mean_abs_diff(ref, out);
    };
    const double cal_before = shift(l.calib, nullptr), cal_after = shift(l.calib, r.bias.data());
    const double test_before = shift(l.test, nullptr), test_after = shift(l.test, r.bias.data());
    const auto ref_test = calib_fixture::fc2_f32(l, l.test);
    const double sqnr_before =
        calib_fixture::sqnr_db(ref_test, calib_fixture::fc2_w8a8(l, l.test, q.scale, q.zero_point));
    const double sqnr_after =
        calib_fixture::sqnr_db(ref_test, calib_fixture::fc2_w8a8(l, l.test, q.scale, q.zero_point,
                                                                 nullptr, r.bias.data()));
    MESSAGE("fc2 bias correction: mean |E[y_fp] − E[y_q]| over the 128 outputs: calibration "
            << cal_before << " → " << cal_after << ", test " << test_before << " → " << test_after
            << "; test SQNR " << sqnr_before << " → " << sqnr_after << " dB");
    CHECK(cal_after < 0.1 * cal_before); // removed on the data it was estimated from
}

TEST_CASE("bias correction bad input") {
    const std::vector<float> w{1, 2, 3, 4};
    const std::vector<double> ex{1.0, 2.0};
    auto msg =
        error_of([&] { hone::bias_correction(view(w, 2, 2), view(w, 1, 4), {}, ex, {}, "fc9"); },
                 hone::status::shape_mismatch);
    CHECK(msg.find("fc9") != std::string::npos);
    error_of(
        [&] { hone::bias_correction(view(w, 2, 2), view(w, 2, 2), std::vector<float>{1}, ex); },
        hone::status::shape_mismatch);
    error_of(
        [&] { hone::bias_correction(view(w, 2, 2), view(w, 2, 2), {}, std::vector<double>{1}); },
        hone::status::shape_mismatch);
    msg = error_of(
        [&] {
            hone::bias_correction(view(w, 2, 2), view(w, 2, 2), {},
                                  std::vector<double>{1, std::nan("")}, {}, "fc9");
        },
        hone::status::invalid_argument);
    CHECK(msg.find("E[x]") != std::string::npos);
    hone::channel_mean cm("fc9.input");
    msg = error_of([&] { cm.mean(); }, hone::status::invalid_argument);
    CHECK(msg.find("fc9.input") != std::string::npos);
    std::vector<float> x{1, std::numeric_limits<float>::infinity()};
    msg = error_of([&] { cm.observe(view(x, 1, 2)); }, hone::status::invalid_argument);
    CHECK(msg.find("feature 1") != std::string::npos);
    CHECK(cm.rows() == 0);
    cm.observe(view(w, 2, 2));
    error_of([&] { cm.observe(view(w, 1, 4)); }, hone::status::shape_mismatch);
}
