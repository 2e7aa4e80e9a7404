// Activation calibrators: hand-computed ranges and parameters, percentiles of known
// distributions, entropy clipping an outlier, MSE never worse than min/max, auto never worse than
// min/max, streaming == one-shot (any split), thread-count determinism, bad input.
#include "calib_fixture.hpp"
#include "hone/core/threads.hpp"
#include "hone/quantize/calibrator.hpp"
#include "hone/quantize/smooth_quant.hpp"

#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <random>
#include <string>
#include <vector>

using hone::calib_method;
using hone::calibrator;
using hone::calibrator_params;
using hone::dtype;
using hone::kernels::granularity;
using hone::kernels::quant_scheme;

using calib_fixture::error_of;

namespace {

hone::const_tensor_view view(const std::vector<float>& v, const hone::shape& s) {
    return hone::make_view(v.data(), v.size() * sizeof(float), dtype::f32, s);
}
hone::const_tensor_view view(const std::vector<float>& v) {
    return view(v, hone::shape{static_cast<std::int64_t>(v.size())});
}

hone::calib_result run(calibrator_params p, const std::vector<float>& x) {
    calibrator c(p);
    c.observe(view(x));
    if (p.method == calib_method::auto_select) c.score(view(x));
    return c.result();
}

// Exact quantize-dequantize squared error of x with per-tensor params.
double qdq_error(const std::vector<float>& x, hone::kernels::qparams q, dtype t, bool rr) {
    std::vector<float> xq(x.size());
    for (std::size_t i = 0; i < x.size(); ++i)
        xq[i] = hone::calib_fake_quant(x[i], q, t, rr);
    return hone::kernels::compare(x, xq, "qdq_error").error_sq;
}

std::vector<float> normal(std::size_t n, std::uint32_t seed, float sd = 1.0f) {
    std::mt19937 rng(seed);
    std::normal_distribution<float> d(0.0f, sd);
    std::vector<float> v(n);
    for (float& x : v)
        x = d(rng);
    return v;
}

bool same_bits(const hone::calib_result& a, const hone::calib_result& b) {
    return a.min == b.min && a.max == b.max && a.scale == b.scale && a.zero_point == b.zero_point &&
           a.chosen == b.chosen && a.candidate_error == b.candidate_error;
}

} // namespace

TEST_CASE("min/max: hand-computed ranges, scales and zero points") {
    const std::vector<float> x{-1.0f, 0.5f, 2.0f, 3.0f};
    calibrator_params p;
    auto r = run(p, x);
    CHECK(r.min[0] == -1.0f);
    CHECK(r.max[0] == 3.0f);
    CHECK(r.scale[0] == 4.0f / 255.0f);
    CHECK(r.zero_point[0] == 64); // round(0 - (-1) / (4/255)) = round(63.75)
    CHECK(r.chosen[0] == calib_method::min_max);

    p.type = dtype::i8;
    p.scheme = quant_scheme::symmetric;
    r = run(p, x);
    CHECK(r.scale[0] == 3.0f / 127.0f);
    CHECK(r.zero_point[0] == 0);

    p = {};
    p.reduce_range = true; // u8 [0, 127]
    r = run(p, x);
    CHECK(r.scale[0] == 4.0f / 127.0f);
    CHECK(r.zero_point[0] == 32); // round(31.75)
    // the 7-bit grid keeps every value in [0, 127]
    for (float v : x) {
        const float q = std::nearbyint(v / r.scale[0]) + static_cast<float>(r.zero_point[0]);
        CHECK(q >= 0.0f);
        CHECK(q <= 127.0f);
    }

    p.type = dtype::i8;
    p.scheme = quant_scheme::symmetric; // i8 [-64, 63]: scale = a / 63
    r = run(p, x);
    CHECK(r.scale[0] == 3.0f / 63.0f);
    CHECK(r.zero_point[0] == 0);

    // ReLU-like data: zero point 0, scale max / 255
    p = {};
    r = run(p, {0.0f, 0.0f, 1.0f, 5.1f});
    CHECK(r.zero_point[0] == 0);
    CHECK(r.scale[0] == 5.1f / 255.0f);

    // all zeros: degenerate range, scale 1 (zeros stay exact)
    r = run(p, {0.0f, 0.0f});
    CHECK(r.scale[0] == 1.0f);
    CHECK(r.zero_point[0] == 0);
}

TEST_CASE("min/max per channel, any axis, equals per-tensor of each slice") {
    // [2, 3]: rows {1, -2, 3}, {4, 5, -6}
    const std::vector<float> x{1, -2, 3, 4, 5, -6};
    calibrator_params p;
    p.granularity = {granularity::per_channel, 0, 0};
    calibrator c0(p);
    c0.observe(view(x, {2, 3}));
    auto r = c0.result();
    REQUIRE(r.min.size() == 2);
    CHECK(r.min == std::vector<float>{-2, -6});
    CHECK(r.max == std::vector<float>{3, 5});
    p.granularity = {granularity::per_channel, -1, 0}; // columns
    calibrator c1(p);
    c1.observe(view(x, {2, 3}));
    r = c1.result();
    CHECK(c1.channels() == 3);
    CHECK(r.min == std::vector<float>{1, -2, -6});
    CHECK(r.max == std::vector<float>{4, 5, 3});
    CHECK(r.scale[1] == 7.0f / 255.0f);

    // histogram methods per channel = per tensor on each channel's values
    const auto big = normal(3 * 4000, 7);
    for (auto m : {calib_method::percentile, calib_method::entropy, calib_method::mse}) {
        CAPTURE(hone::calib_method_name(m));
        calibrator_params pc;
        pc.method = m;
        pc.bins = 256;
        pc.granularity = {granularity::per_channel, 1, 0};
        calibrator cc(pc);
        cc.observe(view(big, {4000, 3}));
        const auto rc = cc.result();
        for (int ch = 0; ch < 3; ++ch) {
            std::vector<float> col;
            for (int i = 0; i < 4000; ++i)
                col.push_back(big[static_cast<std::size_t>(i * 3 + ch)]);
            pc.granularity = {};
            const auto rt = run(pc, col);
            CHECK(rc.min[static_cast<std::size_t>(ch)] == rt.min[0]);
            CHECK(rc.max[static_cast<std::size_t>(ch)] == rt.max[0]);
            CHECK(rc.scale[static_cast<std::size_t>(ch)] == rt.scale[0]);
        }
    }
}

TEST_CASE("moving average min/max follows the momentum") {
    calibrator_params p;
    p.method = calib_method::moving_average;
    p.momentum = 0.5f;
    calibrator c(p);
    c.observe(view(std::vector<float>{0.0f, 10.0f}));
    c.observe(view(std::vector<float>{-4.0f, 20.0f}));
    auto r = c.result();
    CHECK(r.min[0] == -2.0f); // 0 + 0.5·(−4 − 0)
    CHECK(r.max[0] == 15.0f); // 10 + 0.5·(20 − 10)
    c.observe(view(std::vector<float>{0.0f, 15.0f}));
    r = c.result();
    CHECK(r.min[0] == -1.0f);
    CHECK(r.max[0] == 15.0f);
}

TEST_CASE("percentile of known distributions, within one bin of the exact value") {
    // uniform grid on [0, 1): the p-th percentile is p / 100
    std::vector<float> u(100000);
    for (std::size_t i = 0; i < u.size(); ++i)
        u[i] = static_cast<float>(i) / 100000.0f;
    calibrator_params p;
    p.method = calib_method::percentile;
    p.percentile = 99.0;
    auto r = run(p, u);
    const double bin = 1.0 / 2048;            // R = 1
    CHECK(std::fabs(r.min[0] - 0.01) <= bin); // the 1st percentile
    CHECK(std::fabs(r.max[0] - 0.99) <= bin);
    CHECK(r.zero_point[0] == 0); // the range is widened to include 0

    // standard normal, 1e6 samples: 99.99th percentile of x and 0.01th, against the sorted data
    auto x = normal(1000000, 3);
    p.percentile = 99.99;
    r = run(p, x);
    auto sorted = x;
    std::sort(sorted.begin(), sorted.end());
    const double hi = sorted[static_cast<std::size_t>(0.9999 * (sorted.size() - 1))];
    const double lo = sorted[static_cast<std::size_t>(0.0001 * (sorted.size() - 1))];
    const float amax = std::max(-sorted.front(), sorted.back());
    const double w = std::ldexp(1.0, static_cast<int>(std::ceil(std::log2(amax)))) / 2048;
    CHECK(std::fabs(r.max[0] - hi) <= w);
    CHECK(std::fabs(r.min[0] - lo) <= w);
    CHECK(r.max[0] < sorted.back()); // the tail is clipped
    // and it is about 3.72 (the normal's 99.99th percentile)
    CHECK(r.max[0] == doctest::Approx(3.719).epsilon(0.05));

    // symmetric: the p-th percentile of |x|
    p.type = dtype::i8;
    p.scheme = quant_scheme::symmetric;
    r = run(p, x);
    std::vector<float> a(x.size());
    std::transform(x.begin(), x.end(), a.begin(), [](float v) { return std::fabs(v); });
    std::sort(a.begin(), a.end());
    const double t = a[static_cast<std::size_t>(0.9999 * (a.size() - 1))];
    CHECK(std::fabs(r.max[0] - t) <= w);
    CHECK(r.min[0] == -r.max[0]);
    CHECK(r.scale[0] == r.max[0] / 127.0f);

    // exact zeros are an atom at 0: ReLU-like data has a lower percentile of exactly 0
    {
        calibrator_params pz;
        pz.method = calib_method::percentile;
        pz.percentile = 99.0;
        std::vector<float> relu = x;
        for (float& v : relu)
            v = std::max(v, 0.0f);
        const auto rz = run(pz, relu);
        CHECK(rz.min[0] == 0.0f);
        CHECK(std::fabs(rz.max[0] - sorted[static_cast<std::size_t>(0.99 * (sorted.size() - 1))]) <=
              w);
    }

    // 100th percentile = the max
    p = {};
    p.method = calib_method::percentile;
    p.percentile = 100.0;
    r = run(p, x);
    CHECK(r.max[0] == sorted.back());
}

TEST_CASE("entropy clips an outlier; mse never worse than min/max") {
    auto x = normal(200000, 11);
    for (float& v : x)
        v = std::fabs(v); // ReLU-like, one-sided
    for (float outlier : {30.0f, 1000.0f}) {
        x.back() = outlier;
        for (auto t : {dtype::u8, dtype::i8}) {
            CAPTURE(hone::name_of(t));
            CAPTURE(outlier);
            calibrator_params p;
            p.type = t;
            p.scheme = t == dtype::u8 ? quant_scheme::affine : quant_scheme::symmetric;
            const auto mm = run(p, x);
            CHECK(mm.max[0] == outlier);
            p.method = calib_method::entropy;
            const auto en = run(p, x);
            CHECK(en.max[0] < 0.5f * outlier); // KL clips the outlier
            CHECK(en.max[0] > 2.0f);           // but not the bulk
            p.method = calib_method::mse;
            const auto ms = run(p, x);
            // the MSE range is never worse than min/max in the true qdq MSE of the data (with a
            // single outlier of 1000 in 2e5 values, not clipping it is the better choice)
            CHECK(qdq_error(x, ms.qparams(), t, false) <= qdq_error(x, mm.qparams(), t, false));
            if (outlier == 30.0f) {
                CHECK(ms.max[0] < outlier);
                CHECK(qdq_error(x, ms.qparams(), t, false) < qdq_error(x, mm.qparams(), t, false));
            }
        }
    }
    // two-sided affine data: greedy search; KL clips both tails, MSE is no worse than min/max
    auto y = normal(100000, 12);
    y.push_back(-30.0f);
    y.push_back(20.0f);
    calibrator_params p;
    const auto mm = run(p, y);
    p.method = calib_method::entropy;
    const auto en = run(p, y);
    CHECK(en.min[0] > -15.0f);
    CHECK(en.max[0] < 10.0f);
    CHECK(en.min[0] < -2.0f);
    CHECK(en.max[0] > 2.0f);
    p.method = calib_method::mse;
    const auto ms = run(p, y);
    CHECK(ms.min[0] < 0.0f);
    CHECK(ms.max[0] > 0.0f);
    CHECK(qdq_error(y, ms.qparams(), dtype::u8, false) <=
          qdq_error(y, mm.qparams(), dtype::u8, false));
    // MSE on data without outliers: no worse than min/max either
    const auto u = normal(50000, 13);
    const auto mu = run(p, u);
    p.method = calib_method::min_max;
    CHECK(qdq_error(u, mu.qparams(), dtype::u8, false) <=
          qdq_error(u, run(p, u).qparams(), dtype::u8, false));
}

TEST_CASE("entropy leaves exact zeros out: ReLU zeros do not move the threshold") {
    auto x = normal(50000, 17);
    for (float& v : x)
        v = std::fabs(v);
    std::vector<float> with_zeros = x;
    with_zeros.resize(with_zeros.size() * 3, 0.0f); // two thirds exact zeros, as after a ReLU
    for (auto t : {dtype::u8, dtype::i8}) {
        calibrator_params p;
        p.method = calib_method::entropy;
        p.type = t;
        p.scheme = t == dtype::u8 ? quant_scheme::affine : quant_scheme::symmetric;
        const auto a = run(p, x), b = run(p, with_zeros);
        CHECK(a.max[0] == b.max[0]);
        CHECK(a.scale[0] == b.scale[0]);
    }
}

TEST_CASE("auto picks the least scored error, never worse than min/max") {
    auto x = normal(100000, 21);
    x.push_back(40.0f);
    calibrator_params p;
    p.method = calib_method::auto_select;
    const auto r = run(p, x);
    REQUIRE(r.candidate_error.size() == 1);
    const auto& e = r.candidate_error[0];
    REQUIRE(e.size() == 4);
    // each candidate's score is the exact qdq squared error of its range
    calibrator_params pm;
    const auto mm = run(pm, x);
    CHECK(e[0] == doctest::Approx(qdq_error(x, mm.qparams(), dtype::u8, false)).epsilon(1e-9));
    const double chosen = qdq_error(x, r.qparams(), dtype::u8, false);
    CHECK(chosen <= qdq_error(x, mm.qparams(), dtype::u8, false));
    CHECK(chosen == doctest::Approx(*std::min_element(e.begin(), e.end())).epsilon(1e-9));
    CHECK(r.chosen[0] != calib_method::min_max); // the outlier makes min/max the worst here

    // a tensor where min/max is best (uniform over a tiny range): auto keeps min/max
    std::vector<float> g;
    for (int i = 0; i <= 255; ++i)
        g.push_back(static_cast<float>(i) / 255.0f);
    const auto rg = run(p, g);
    CHECK(rg.candidate_error[0][0] < 1e-9); // the grid points are (nearly) exact
    CHECK(rg.chosen[0] == calib_method::min_max);

    // per channel: one choice per channel
    calibrator_params pc = p;
    pc.granularity = {granularity::per_channel, 1, 0};
    pc.bins = 256;
    std::vector<float> two(2 * 5000);
    const auto n0 = normal(5000, 31);
    for (int i = 0; i < 5000; ++i) {
        two[static_cast<std::size_t>(2 * i)] = n0[static_cast<std::size_t>(i)];
        two[static_cast<std::size_t>(2 * i + 1)] = static_cast<float>(i % 256) / 255.0f;
    }
    two[0] = 60.0f; // outlier in channel 0
    calibrator c(pc);
    c.observe(view(two, {5000, 2}));
    c.score(view(two, {5000, 2}));
    const auto rc = c.result();
    REQUIRE(rc.candidate_error.size() == 2);
    for (std::size_t ch = 0; ch < 2; ++ch) {
        const auto& ec = rc.candidate_error[ch];
        CHECK(*std::min_element(ec.begin(), ec.end()) <= ec[0]);
    }
    CHECK(rc.chosen[1] == calib_method::min_max); // grid-aligned channel
}

TEST_CASE("streaming == one-shot for every order-independent method, any split and order") {
    auto x = normal(60000, 41, 0.5f);
    x[59999] = 9.0f; // the max arrives in the last batch: the histogram has to grow (re-bin)
    x[100] = -3.0f;
    for (auto m : {calib_method::min_max, calib_method::percentile, calib_method::entropy,
                   calib_method::mse, calib_method::auto_select}) {
        for (auto s : {quant_scheme::affine, quant_scheme::symmetric}) {
            CAPTURE(hone::calib_method_name(m));
            calibrator_params p;
            p.method = m;
            p.scheme = s;
            p.type = s == quant_scheme::affine ? dtype::u8 : dtype::i8;
            const auto one = run(p, x);
            // uneven batches, then the same batches in reverse order
            const std::vector<std::size_t> cuts{0, 7, 1000, 1001, 33333, 59000, 60000};
            for (bool reverse : {false, true}) {
                calibrator c(p);
                std::vector<hone::const_tensor_view> parts;
                for (std::size_t i = 0; i + 1 < cuts.size(); ++i)
                    parts.push_back(hone::make_view(
                        x.data() + cuts[i], (cuts[i + 1] - cuts[i]) * sizeof(float), dtype::f32,
                        {static_cast<std::int64_t>(cuts[i + 1] - cuts[i])}));
                if (reverse) std::reverse(parts.begin(), parts.end());
                for (const auto& v : parts)
                    c.observe(v);
                if (m == calib_method::auto_select) {
                    // scoring in one batch and in parts: equal up to summation order
                    c.score(view(x));
                }
                const auto r = c.result();
                CHECK(r.min == one.min);
                CHECK(r.max == one.max);
                CHECK(r.scale == one.scale);
                CHECK(r.zero_point == one.zero_point);
                CHECK(c.count() == 60000);
            }
        }
    }
}

TEST_CASE("results do not depend on the thread count") {
    auto x = normal(300000, 51);
    x[5] = 25.0f;
    const int before = hone::num_threads();
    for (auto g : {granularity::per_tensor, granularity::per_channel}) {
        for (auto m : {calib_method::min_max, calib_method::percentile, calib_method::entropy,
                       calib_method::mse, calib_method::auto_select}) {
            CAPTURE(hone::calib_method_name(m));
            calibrator_params p;
            p.method = m;
            p.granularity = {g, 1, 0};
            p.bins = 512;
            std::vector<hone::calib_result> rs;
            for (int t : {1, 2, 3}) {
                hone::set_num_threads(t);
                calibrator c(p);
                c.observe(view(x, {100000, 3}));
                if (m == calib_method::auto_select) c.score(view(x, {100000, 3}));
                rs.push_back(c.result());
            }
            CHECK(same_bits(rs[0], rs[1]));
            CHECK(same_bits(rs[0], rs[2]));
        }
    }
    hone::set_num_threads(before);
}

TEST_CASE("strided batches give the results of their contiguous copies") {
    const auto x = normal(2 * 3000, 61);
    // column 1 of a [3000, 2] matrix, seen through a stride-2 view
    const std::int64_t stride[] = {2};
    const auto strided =
        hone::make_view(x.data() + 1, (x.size() - 1) * sizeof(float), dtype::f32, {3000}, stride);
    std::vector<float> col;
    for (std::size_t i = 1; i < x.size(); i += 2)
        col.push_back(x[i]);
    calibrator_params p;
    p.method = calib_method::entropy;
    calibrator c(p);
    c.observe(strided);
    CHECK(same_bits(c.result(), run(p, col)));
}

TEST_CASE("calib_qparams: the kernel's conventions and 7-bit activations") {
    const auto full = hone::calib_qparams(-1.0f, 3.0f, dtype::u8, quant_scheme::affine, false);
    const auto k = hone::kernels::choose_qparams(-1.0f, 3.0f, dtype::u8, quant_scheme::affine);
    CHECK(full.scale == k.scale);
    CHECK(full.zero_point == k.zero_point);
    const auto r7 = hone::calib_qparams(0.0f, 12.7f, dtype::u8, quant_scheme::affine, true);
    CHECK(r7.scale == 12.7f / 127.0f);
    CHECK(r7.zero_point == 0);
    const auto us = hone::calib_qparams(-2.0f, 1.0f, dtype::u8, quant_scheme::symmetric, true);
    CHECK(us.zero_point == 64);
    CHECK(us.scale == 2.0f / 63.0f);
    CHECK(hone::calib_fake_quant(200.0f, r7, dtype::u8, true) == 127.0f * r7.scale); // saturates
    CHECK(hone::calib_fake_quant(std::nanf(""), r7, dtype::u8, true) == 0.0f);
    error_of([] { hone::calib_qparams(1.0f, 0.0f, dtype::u8, quant_scheme::affine, true); },
             hone::status::invalid_argument);
}

TEST_CASE("bad input gets a clear error naming the tensor") {
    calibrator_params p;
    p.name = "fc2.input";
    p.method = calib_method::percentile;
    {
        calibrator c(p);
        std::vector<float> x{1.0f, std::nanf(""), 2.0f};
        auto msg = error_of([&] { c.observe(view(x)); }, hone::status::invalid_argument);
        CHECK(msg.find("fc2.input") != std::string::npos);
        CHECK(msg.find("NaN") != std::string::npos);
        x[1] = std::numeric_limits<float>::infinity();
        msg = error_of([&] { c.observe(view(x)); }, hone::status::invalid_argument);
        CHECK(msg.find("infinite") != std::string::npos);
        // nothing was taken in
        CHECK(c.count() == 0);
        msg = error_of([&] { c.result(); }, hone::status::invalid_argument);
        CHECK(msg.find("fc2.input") != std::string::npos);
        // empty batches are fine and change nothing
        c.observe(view(std::vector<float>{}));
        CHECK(c.count() == 0);
        error_of([&] { c.result(); }, hone::status::invalid_argument);
    }
    {
        calibrator_params q = p;
        q.granularity = {granularity::per_channel, 1, 0};
        calibrator c(q);
        std::vector<float> x{1, 2, 3, 4, std::nanf(""), 6};
        const auto msg = error_of(
            [&] {
                c.observe(view(x, {2, 3}));
            },
            hone::status::invalid_argument);
        CHECK(msg.find("channel 1") != std::string::npos);
    }
    for (double bad : {0.0, -1.0, 100.5, std::nan("")}) {
        calibrator_params q = p;
        q.percentile = bad;
        const auto msg = error_of([&] { calibrator c(q); }, hone::status::invalid_argument);
        CHECK(msg.find("percentile") != std::string::npos);
    }
    {
        calibrator_params q = p;
        q.granularity = {granularity::per_channel, 2, 0};
        calibrator c(q);
        std::vector<float> x{1, 2, 3, 4};
        const auto msg = error_of(
            [&] {
                c.observe(view(x, {2, 2}));
            },
            hone::status::invalid_argument);
        CHECK(msg.find("axis 2") != std::string::npos);
        q.granularity = {granularity::per_channel, -3, 0};
        calibrator c2(q);
        error_of([&] { c2.observe(view(x, {2, 2})); }, hone::status::invalid_argument);
    }
    {
        calibrator_params q = p;
        q.granularity = {granularity::per_group, 1, 2};
        error_of([&] { calibrator c(q); }, hone::status::invalid_argument);
        q = p;
        q.bins = 1000;
        error_of([&] { calibrator c(q); }, hone::status::invalid_argument);
        q = p;
        q.momentum = 0.0f;
        error_of([&] { calibrator c(q); }, hone::status::invalid_argument);
        q = p;
        q.type = dtype::i4;
        error_of([&] { calibrator c(q); }, hone::status::dtype_mismatch);
        q = p;
        q.method = static_cast<calib_method>(17);
        error_of([&] { calibrator c(q); }, hone::status::invalid_argument);
    }
    {
        calibrator_params q = p;
        q.granularity = {granularity::per_channel, 1, 0};
        calibrator c(q);
        std::vector<float> x{1, 2, 3, 4, 5, 6};
        c.observe(view(x, {2, 3}));
        error_of([&] { c.observe(view(x, {3, 2})); }, hone::status::shape_mismatch);
        error_of([&] { c.observe(view(x)); }, hone::status::shape_mismatch);
        std::vector<std::int32_t> ints(6);
        error_of(
            [&] {
                c.observe(hone::make_view(ints.data(), 24, dtype::i32, {2, 3}));
            },
            hone::status::dtype_mismatch);
        error_of([&] { c.score(view(x, {2, 3})); }, hone::status::invalid_argument);
    }
    {
        calibrator_params q = p;
        q.method = calib_method::auto_select;
        calibrator c(q);
        std::vector<float> x{1, 2, 3, 4};
        error_of([&] { c.score(view(x)); }, hone::status::invalid_argument);
        c.observe(view(x));
        const auto msg = error_of([&] { c.result(); }, hone::status::invalid_argument);
        CHECK(msg.find("score") != std::string::npos);
        std::vector<float> w{1, 2, 3};
        error_of(
            [&] {
                c.set_consumer(view(w, {1, 3}), std::vector<float>{1, 2});
            },
            hone::status::shape_mismatch);
        c.set_consumer(view(w, {3, 1}));
        error_of([&] { c.score(view(x, {2, 2})); }, hone::status::shape_mismatch);
    }
}

TEST_CASE("acceptance: the input of the Fashion-MNIST MLP's fc2, W8A8 output SQNR per calibrator") {
    const auto& l = calib_fixture::mlp_fc2();
    const auto ref_cal = calib_fixture::fc2_f32(l, l.calib);
    const auto ref_test = calib_fixture::fc2_f32(l, l.test);
    const auto w2 = l.w2.span<float>();
    const auto w2q = calib_fixture::int8_rows_dequantized(w2, l.n, l.k);
    const std::int64_t batch = 256;
    struct row {
        const char* name;
        calib_method m;
    };
    double minmax_cal = 0, auto_cal = 0;
    for (const row& r :
         {row{"min_max", calib_method::min_max}, row{"percentile 99.99", calib_method::percentile},
          row{"entropy", calib_method::entropy}, row{"mse", calib_method::mse},
          row{"auto (tensor qdq error)", calib_method::auto_select},
          row{"auto (fc2 output error)", calib_method::auto_select}}) {
        calibrator_params p;
        p.method = r.m;
        p.name = "fc2.input";
        calibrator c(p);
        const bool consumer = std::string(r.name).find("fc2") != std::string::npos;
        if (consumer)
            c.set_consumer(view(std::vector<float>(w2.begin(), w2.end()), {l.n, l.k}), w2q);
        for (std::int64_t b = 0; b < l.rows; b += batch)
            c.observe(hone::make_view(l.calib.data() + b * l.k, batch * l.k * 4, dtype::f32,
                                      {batch, l.k}));
        if (r.m == calib_method::auto_select)
            for (std::int64_t b = 0; b < l.rows; b += batch)
                c.score(hone::make_view(l.calib.data() + b * l.k, batch * l.k * 4, dtype::f32,
                                        {batch, l.k}));
        const auto res = c.result();
        const auto q = res.qparams();
        const double s_cal = calib_fixture::sqnr_db(
            ref_cal, calib_fixture::fc2_w8a8(l, l.calib, q.scale, q.zero_point));
        const double s_test = calib_fixture::sqnr_db(
            ref_test, calib_fixture::fc2_w8a8(l, l.test, q.scale, q.zero_point));
        MESSAGE(std::string(r.name)
                << ": range [" << res.min[0] << ", " << res.max[0] << "], scale " << q.scale
                << ", zp " << q.zero_point << ", chosen "
                << std::string(hone::calib_method_name(res.chosen[0]))
                << "; fc2 W8A8 SQNR calibration " << s_cal << " dB, test " << s_test << " dB");
        if (r.m == calib_method::min_max) minmax_cal = s_cal;
        if (consumer) auto_cal = s_cal;
        CHECK(s_test > 20.0); // every calibrator gives a usable int8 layer
    }
    // auto scored by fc2's output error (reference weights vs RTN int8 weights) is, by
    // construction, never worse than min/max on the calibration data (up to the float rounding
    // of the int8 kernel against the f32 fake-quant reference)
    CHECK(auto_cal >= minmax_cal - 1e-6);
}
