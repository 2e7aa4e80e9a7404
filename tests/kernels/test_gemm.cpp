// GEMM through oneDNN against naive double-precision references (f32, bf16, Hessian) and
// an exact-integer reference (int8).
#include "../status_of.hpp"
#include "hone/kernels/gemm.hpp"

#include "hone/core/half.hpp"
#include "hone/core/threads.hpp"

#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <optional>
#include <random>
#include <thread>
#include <vector>

using hone::kernels::weight_layout;

namespace {

std::vector<float> randn(std::size_t n, unsigned seed, float scale = 1.0f) {
    std::mt19937 rng(seed);
    std::normal_distribution<float> d(0.0f, scale);
    std::vector<float> v(n);
    for (auto& x : v)
        x = d(rng);
    return v;
}

// b(kk, j) of B in either layout.
float b_at(const std::vector<float>& b, std::int64_t kk, std::int64_t j, std::int64_t k,
           std::int64_t n, weight_layout layout) {
    return layout == weight_layout::k_by_n ? b[std::size_t(kk * n + j)]
                                           : b[std::size_t(j * k + kk)];
}

// Naive reference in double; also returns Σ|a·b| per element for a relative tolerance.
void ref_matmul(const std::vector<float>& a, const std::vector<float>& b, const float* bias,
                std::int64_t m, std::int64_t k, std::int64_t n, weight_layout layout,
                std::vector<double>& out, std::vector<double>& mag) {
    out.assign(std::size_t(m * n), 0.0);
    mag.assign(std::size_t(m * n), 0.0);
    for (std::int64_t i = 0; i < m; ++i)
        for (std::int64_t j = 0; j < n; ++j) {
            double s = bias ? bias[j] : 0.0, g = bias ? std::fabs(bias[j]) : 0.0;
            for (std::int64_t kk = 0; kk < k; ++kk) {
                const double p = double(a[std::size_t(i * k + kk)]) * b_at(b, kk, j, k, n, layout);
                s += p;
                g += std::fabs(p);
            }
            out[std::size_t(i * n + j)] = s;
            mag[std::size_t(i * n + j)] = g;
        }
}

// f32 accumulation error bound: |err| ≤ tol · Σ|a·b| (tol covers K·eps for blocked sums).
void check_close(const std::vector<float>& c, const std::vector<double>& ref,
                 const std::vector<double>& mag, double tol) {
    REQUIRE(c.size() == ref.size());
    for (std::size_t i = 0; i < c.size(); ++i) {
        CAPTURE(i);
        REQUIRE(std::fabs(c[i] - ref[i]) <= tol * mag[i] + 1e-30);
    }
}

std::vector<float> round_bf16(const std::vector<float>& v) {
    std::vector<float> r(v.size());
    for (std::size_t i = 0; i < v.size(); ++i)
        r[i] = hone::to_float(hone::to_bfloat16(v[i]));
    return r;
}

} // namespace

TEST_CASE("matmul_f32 matches a double reference on edge shapes, both layouts, bias on/off") {
    struct shape3 {
        std::int64_t m, k, n;
    };
    for (auto s : {shape3{1, 1, 1}, shape3{1, 7, 5}, shape3{3, 17, 1}, shape3{5, 33, 19},
                   shape3{64, 64, 64}, shape3{1, 4096, 33}, shape3{37, 129, 257}}) {
        for (auto layout : {weight_layout::k_by_n, weight_layout::n_by_k}) {
            for (bool with_bias : {false, true}) {
                CAPTURE(s.m);
                CAPTURE(s.k);
                CAPTURE(s.n);
                CAPTURE(int(layout));
                CAPTURE(with_bias);
                const auto a = randn(std::size_t(s.m * s.k), 1);
                const auto b = randn(std::size_t(s.k * s.n), 2);
                const auto bias = randn(std::size_t(s.n), 3);
                std::vector<float> c(std::size_t(s.m * s.n), -7.0f);
                const float* bp = with_bias ? bias.data() : nullptr;
                hone::kernels::matmul_f32(a.data(), b.data(), c.data(), s.m, s.k, s.n, layout, bp);
                std::vector<double> ref, mag;
                ref_matmul(a, b, bp, s.m, s.k, s.n, layout, ref, mag);
                check_close(c, ref, mag, 2e-6 * std::sqrt(double(s.k)) + 1e-6);
            }
        }
    }
}

TEST_CASE("matmul_f32: empty dimensions") {
    std::vector<float> c(6, -1.0f);
    const float bias[3] = {1, 2, 3};
    // K = 0: C = bias (or zeros).
    hone::kernels::matmul_f32(nullptr, nullptr, c.data(), 2, 0, 3, weight_layout::k_by_n, bias);
    CHECK(c == std::vector<float>{1, 2, 3, 1, 2, 3});
    hone::kernels::matmul_f32(nullptr, nullptr, c.data(), 2, 0, 3, weight_layout::n_by_k, nullptr);
    CHECK(c == std::vector<float>(6, 0.0f));
    // M = 0 / N = 0: nothing written; empty buffers may be null.
    const std::vector<float> b(15, 1.0f);
    hone::kernels::matmul_f32(nullptr, b.data(), nullptr, 0, 5, 3, weight_layout::k_by_n, nullptr);
    hone::kernels::matmul_f32(b.data(), nullptr, nullptr, 3, 5, 0, weight_layout::k_by_n, nullptr);
}

TEST_CASE("matmul_f32: bad arguments name what is wrong") {
    std::vector<float> a(6), b(6), c(4);
    CHECK(status_of([&] {
              hone::kernels::matmul_f32(a.data(), b.data(), c.data(), -1, 3, 2,
                                        weight_layout::k_by_n, nullptr);
          }) == hone::status::invalid_argument);
    CHECK(status_of([&] {
              hone::kernels::matmul_f32(nullptr, b.data(), c.data(), 2, 3, 2, weight_layout::k_by_n,
                                        nullptr);
          }) == hone::status::invalid_argument);
    CHECK(status_of([&] {
              hone::kernels::matmul_f32(a.data(), b.data(), nullptr, 2, 3, 2, weight_layout::k_by_n,
                                        nullptr);
          }) == hone::status::invalid_argument);
    CHECK(status_of([&] {
              hone::kernels::matmul_f32(a.data(), b.data(), c.data(), 2, 3, 2,
                                        static_cast<weight_layout>(9), nullptr);
          }) == hone::status::invalid_argument);
    try {
        hone::kernels::matmul_f32(a.data(), nullptr, c.data(), 2, 3, 2, weight_layout::k_by_n,
                                  nullptr);
        FAIL("no throw");
    } catch (const hone::error& e) {
        CHECK(std::string(e.what()).find("matmul_f32: 'b' is null") != std::string::npos);
    }
}

TEST_CASE("matmul_f32: cached primitives give the same results on repeated calls") {
    const auto a = randn(8 * 16, 4), b = randn(16 * 8, 5);
    std::vector<float> c1(64), c2(64);
    hone::kernels::matmul_f32(a.data(), b.data(), c1.data(), 8, 16, 8, weight_layout::n_by_k,
                              nullptr);
    hone::kernels::matmul_f32(a.data(), b.data(), c2.data(), 8, 16, 8, weight_layout::n_by_k,
                              nullptr);
    CHECK(c1 == c2);
}

TEST_CASE("matmul_bf16 equals the double product of bf16-rounded operands") {
    for (auto layout : {weight_layout::k_by_n, weight_layout::n_by_k}) {
        const std::int64_t m = 9, k = 71, n = 13;
        const auto a = randn(std::size_t(m * k), 6), b = randn(std::size_t(k * n), 7);
        const auto bias = randn(std::size_t(n), 8);
        std::vector<float> c(std::size_t(m * n));
        hone::kernels::matmul_bf16(a.data(), b.data(), c.data(), m, k, n, layout, bias.data());
        std::vector<double> ref, mag;
        ref_matmul(round_bf16(a), round_bf16(b), bias.data(), m, k, n, layout, ref, mag);
        check_close(c, ref, mag, 2e-6 * std::sqrt(double(k)) + 1e-6);
        // ... and differs from the unrounded product (the rounding really happened).
        std::vector<double> exact, mag2;
        ref_matmul(a, b, bias.data(), m, k, n, layout, exact, mag2);
        double worst = 0;
        for (std::size_t i = 0; i < c.size(); ++i)
            worst = std::max(worst, std::fabs(c[i] - exact[i]) / mag2[i]);
        CHECK(worst > 1e-4);
    }
}

TEST_CASE("hessian_accumulate: H += XᵀX against a double reference") {
    for (auto shape :
         {std::pair<std::int64_t, std::int64_t>{1, 1}, {7, 5}, {128, 33}, {3, 100}, {513, 64}}) {
        const std::int64_t rows = shape.first, k = shape.second; // (clang 14: no lambda
                                                                 // captures of bindings)
        CAPTURE(rows);
        CAPTURE(k);
        const auto x = randn(std::size_t(rows * k), 9);
        auto h = randn(std::size_t(k * k), 10); // accumulates onto existing values
        const auto h0 = h;
        hone::kernels::hessian_accumulate(x.data(), rows, k, h.data());
        hone::kernels::hessian_accumulate(x.data(), rows, k, h.data()); // twice: 2·XᵀX
        for (std::int64_t i = 0; i < k; ++i)
            for (std::int64_t j = 0; j < k; ++j) {
                double s = 0, g = 0;
                for (std::int64_t r = 0; r < rows; ++r) {
                    const double p = double(x[std::size_t(r * k + i)]) * x[std::size_t(r * k + j)];
                    s += p;
                    g += std::fabs(p);
                }
                const double want = h0[std::size_t(i * k + j)] + 2 * s;
                CAPTURE(i);
                CAPTURE(j);
                REQUIRE(std::fabs(h[std::size_t(i * k + j)] - want) <=
                        4e-6 * std::sqrt(double(rows)) *
                                (2 * g + std::fabs(h0[std::size_t(i * k + j)])) +
                            1e-6);
            }
    }
}

TEST_CASE("hessian_accumulate: the same bytes at any thread count, in one call or several") {
    // k = 600: three tiles of 256 (the last partial); 1000 rows: 3 chunks of 256 and a partial.
    const std::int64_t rows = 1000, k = 600;
    const auto x = randn(std::size_t(rows * k), 21);
    const int saved = hone::num_threads();
    std::vector<std::vector<float>> results;
    for (int threads : {1, 2, 3, 4}) {
        hone::set_num_threads(threads);
        std::vector<float> h(std::size_t(k * k), 0.0f);
        hone::kernels::hessian_accumulate(x.data(), rows, k, h.data());
        results.push_back(std::move(h));
    }
    // Two calls split at a multiple of 256 rows give the bytes of one call.
    std::vector<float> split(std::size_t(k * k), 0.0f);
    hone::kernels::hessian_accumulate(x.data(), 512, k, split.data());
    hone::kernels::hessian_accumulate(x.data() + 512 * k, rows - 512, k, split.data());
    hone::set_num_threads(saved);
    for (std::size_t t = 1; t < results.size(); ++t) {
        CAPTURE(t);
        CHECK(results[t] == results[0]);
    }
    CHECK(split == results[0]);
    // Off the 256×256 diagonal tiles, H is exactly symmetric.
    const auto& h = results[0];
    std::int64_t asymmetric = 0;
    for (std::int64_t i = 0; i < k; ++i)
        for (std::int64_t j = 0; j < k; ++j)
            if (i / 256 != j / 256 && h[std::size_t(i * k + j)] != h[std::size_t(j * k + i)])
                ++asymmetric;
    CHECK(asymmetric == 0);
}

TEST_CASE("matmul_f32: one cached primitive run from many threads at once") {
    // The race fixed in #15: a cached primitive shared oneDNN's library scratchpad between
    // concurrent executions (brgemm's copy of B), which then produced wrong products.
    const std::int64_t m = 256, k = 256, n = 256;
    const auto a = randn(std::size_t(m * k), 31), b = randn(std::size_t(k * n), 32);
    for (bool one_thread : {false, true}) {
        CAPTURE(one_thread);
        std::vector<float> want(std::size_t(m * n));
        {
            std::optional<hone::kernels::single_thread_scope> scope;
            if (one_thread) scope.emplace();
            hone::kernels::matmul_f32(a.data(), b.data(), want.data(), m, k, n,
                                      weight_layout::n_by_k, nullptr);
        }
        std::vector<std::vector<float>> got(4, std::vector<float>(std::size_t(m * n)));
        std::vector<int> mismatches(4, 0);
        std::vector<std::thread> threads;
        for (std::size_t t = 0; t < got.size(); ++t)
            threads.emplace_back([&, t] {
                std::optional<hone::kernels::single_thread_scope> scope;
                if (one_thread) scope.emplace(); // as each thread of an OpenMP loop runs it
                for (int rep = 0; rep < 10; ++rep) {
                    hone::kernels::matmul_f32(a.data(), b.data(), got[t].data(), m, k, n,
                                              weight_layout::n_by_k, nullptr);
                    if (got[t] != want) ++mismatches[t];
                }
            });
        for (auto& th : threads)
            th.join();
        for (std::size_t t = 0; t < got.size(); ++t) {
            CAPTURE(t);
            CHECK(mismatches[t] == 0);
        }
    }
}

TEST_CASE("matmul_f32 in a single_thread_scope: the same bytes whatever num_threads() is") {
    // Small M and N, long K: the shape where a multi-threaded oneDNN may split the reduction.
    const std::int64_t m = 4, k = 8192, n = 4;
    const auto a = randn(std::size_t(m * k), 33), b = randn(std::size_t(k * n), 34);
    const int saved = hone::num_threads();
    std::vector<std::vector<float>> results;
    for (int threads : {1, 2, 4}) {
        hone::set_num_threads(threads);
        const hone::kernels::single_thread_scope scope;
        std::vector<float> c(std::size_t(m * n));
        hone::kernels::matmul_f32(a.data(), b.data(), c.data(), m, k, n, weight_layout::k_by_n,
                                  nullptr);
        results.push_back(std::move(c));
    }
    hone::set_num_threads(saved);
    CHECK(results[1] == results[0]);
    CHECK(results[2] == results[0]);
}

TEST_CASE("hessian_accumulate: tensor form checks shapes and types") {
    hone::tensor x(hone::dtype::f32, {4, 3}), h(hone::dtype::f32, {3, 3});
    x.span<float>()[0] = 2.0f;
    hone::kernels::hessian_accumulate(x, h);
    CHECK(h.span<float>()[0] == 4.0f);
    hone::tensor bad(hone::dtype::f32, {3, 4}), i8(hone::dtype::i8, {4, 3});
    CHECK_THROWS_WITH_AS(hone::kernels::hessian_accumulate(x, bad),
                         doctest::Contains("h is [3, 4] but x [4, 3] needs [3, 3]"), hone::error);
    CHECK_THROWS_WITH_AS(hone::kernels::hessian_accumulate(i8, h), doctest::Contains("x is i8"),
                         hone::error);
    hone::kernels::hessian_accumulate(nullptr, 0, 3, h.span<float>().data()); // rows = 0: no-op
    CHECK(h.span<float>()[0] == 4.0f);
    CHECK_THROWS_AS(hone::kernels::hessian_accumulate(nullptr, 2, 3, h.span<float>().data()),
                    hone::error);
}

TEST_CASE("oneDNN identification") {
    MESSAGE("oneDNN ", hone::kernels::onednn_version(), " isa ", hone::kernels::onednn_isa());
    CHECK(hone::kernels::onednn_version().rfind("2.", 0) == 0);
    CHECK(hone::kernels::onednn_isa() != "unknown");
}

// ---- linear ------------------------------------------------------------------------------------

namespace {

using hone::kernels::act_quant;
using hone::kernels::gemm_type;
using hone::kernels::linear;
using hone::kernels::linear_params;

float relu_if(float y, bool relu) { return relu && !(y > 0.0f) ? 0.0f : y; }

// Independent int8 reference: u8 affine activations (per tensor or per row), s8 weights given
// as [N, K], exact integer accumulation, then y = (s_a·s_w[n])·float(acc) + bias[n].
struct int8_ref {
    std::vector<float> y;
    std::vector<double> mag; // |s_a·s_w·acc| + |bias|, for the tolerance
};

// qmax = 255 (u8), or 127 (reduce_range).
void act_qparams(const float* row, std::size_t count, float& s, std::int32_t& z,
                 float qmax = 255.0f) {
    float lo = 0.0f, hi = 0.0f;
    for (std::size_t i = 0; i < count; ++i) {
        lo = std::min(lo, row[i]);
        hi = std::max(hi, row[i]);
    }
    s = (hi - lo) / qmax;
    if (s == 0.0f) s = 1.0f;
    z = std::int32_t(std::clamp(std::nearbyint(-lo / s), 0.0f, qmax));
}

std::uint8_t quant_u8(float x, float s, std::int32_t z, float qmax = 255.0f) {
    return std::uint8_t(std::clamp(std::nearbyint(x / s) + float(z), 0.0f, qmax));
}

int8_ref reference_int8(const std::vector<float>& a, std::int64_t m, std::int64_t k,
                        const std::vector<std::int8_t>& q_nk, const std::vector<float>& w_scales,
                        const std::vector<float>& bias, act_quant mode, float s_static,
                        std::int32_t z_static, bool relu, float qmax = 255.0f) {
    const std::int64_t n = std::int64_t(w_scales.size());
    int8_ref r;
    r.y.resize(std::size_t(m * n));
    r.mag.resize(r.y.size());
    float s = s_static;
    std::int32_t z = z_static;
    if (mode == act_quant::dynamic_per_tensor) act_qparams(a.data(), a.size(), s, z, qmax);
    for (std::int64_t i = 0; i < m; ++i) {
        if (mode == act_quant::dynamic_per_row)
            act_qparams(&a[std::size_t(i * k)], std::size_t(k), s, z, qmax);
        for (std::int64_t j = 0; j < n; ++j) {
            std::int64_t acc = 0;
            for (std::int64_t kk = 0; kk < k; ++kk)
                acc += (std::int64_t(quant_u8(a[std::size_t(i * k + kk)], s, z, qmax)) - z) *
                       q_nk[std::size_t(j * k + kk)];
            const float scale = s * w_scales[std::size_t(j)];
            const float b = bias.empty() ? 0.0f : bias[std::size_t(j)];
            r.y[std::size_t(i * n + j)] = relu_if(scale * float(acc) + b, relu);
            r.mag[std::size_t(i * n + j)] = std::fabs(double(scale) * double(acc)) + std::fabs(b);
        }
    }
    return r;
}

// Symmetric per-channel quantization of [N, K] weights, written independently of hone.
void quantize_nk(const std::vector<float>& w_nk, std::int64_t k, std::int64_t n,
                 std::vector<std::int8_t>& q, std::vector<float>& scales) {
    q.resize(w_nk.size());
    scales.resize(std::size_t(n));
    for (std::int64_t j = 0; j < n; ++j) {
        float amax = 0.0f;
        for (std::int64_t kk = 0; kk < k; ++kk)
            amax = std::max(amax, std::fabs(w_nk[std::size_t(j * k + kk)]));
        const float s = amax > 0.0f ? amax / 127.0f : 1.0f;
        scales[std::size_t(j)] = s;
        for (std::int64_t kk = 0; kk < k; ++kk)
            q[std::size_t(j * k + kk)] = std::int8_t(
                std::clamp(std::nearbyint(w_nk[std::size_t(j * k + kk)] / s), -127.0f, 127.0f));
    }
}

std::vector<float> transpose(const std::vector<float>& v, std::int64_t rows, std::int64_t cols) {
    std::vector<float> t(v.size());
    for (std::int64_t r = 0; r < rows; ++r)
        for (std::int64_t c = 0; c < cols; ++c)
            t[std::size_t(c * rows + r)] = v[std::size_t(r * cols + c)];
    return t;
}

void check_int8(const std::vector<float>& y, const int8_ref& ref, double rel) {
    REQUIRE(y.size() == ref.y.size());
    for (std::size_t i = 0; i < y.size(); ++i) {
        CAPTURE(i);
        CAPTURE(y[i]);
        CAPTURE(ref.y[i]);
        REQUIRE(std::fabs(double(y[i]) - ref.y[i]) <= rel * ref.mag[i] + 1e-30);
    }
}

} // namespace

TEST_CASE("linear f32 / bf16: several M on one object, both layouts, bias and ReLU") {
    const std::int64_t k = 45, n = 23;
    for (auto type : {gemm_type::f32, gemm_type::bf16})
        for (auto layout : {weight_layout::k_by_n, weight_layout::n_by_k})
            for (bool relu : {false, true})
                for (bool with_bias : {false, true}) {
                    CAPTURE(int(type));
                    CAPTURE(int(layout));
                    CAPTURE(relu);
                    CAPTURE(with_bias);
                    const auto w = randn(std::size_t(k * n), 11);
                    const auto bias = randn(std::size_t(n), 12);
                    linear_params p;
                    p.type = type;
                    p.k = k;
                    p.n = n;
                    p.layout = layout;
                    p.relu = relu;
                    const linear lin(
                        p, w, with_bias ? std::span<const float>(bias) : std::span<const float>());
                    const auto wr = type == gemm_type::bf16 ? round_bf16(w) : w;
                    std::size_t shapes = 0;
                    for (std::int64_t m : {1, 7, 64, 1, 7}) {
                        CAPTURE(m);
                        const auto a = randn(std::size_t(m * k), unsigned(20 + m));
                        hone::tensor src(hone::dtype::f32, {m, k}), dst(hone::dtype::f32, {m, n});
                        std::copy(a.begin(), a.end(), src.span<float>().begin());
                        lin.run(src, dst);
                        std::vector<double> ref, mag;
                        ref_matmul(type == gemm_type::bf16 ? round_bf16(a) : a, wr,
                                   with_bias ? bias.data() : nullptr, m, k, n, layout, ref, mag);
                        for (auto& r : ref)
                            if (relu) r = std::max(r, 0.0);
                        const auto y =
                            std::vector<float>(dst.span<float>().begin(), dst.span<float>().end());
                        check_close(y, ref, mag, 2e-6 * std::sqrt(double(k)) + 1e-6);
                        shapes = std::max(shapes, lin.cached_shapes());
                    }
                    CHECK(shapes == 3); // M = 1, 7, 64: reused, not recreated
                    CHECK(lin.weight_scales().empty());
                }
}

TEST_CASE(
    "linear int8, f32 weights: quantized per output channel, static and dynamic activations") {
    struct shape3 {
        std::int64_t m, k, n;
    };
    for (auto s : {shape3{1, 1, 1}, shape3{1, 33, 1}, shape3{5, 17, 9}, shape3{16, 64, 48},
                   shape3{3, 301, 77}})
        for (auto layout : {weight_layout::n_by_k, weight_layout::k_by_n})
            for (auto mode : {act_quant::static_per_tensor, act_quant::dynamic_per_tensor,
                              act_quant::dynamic_per_row})
                for (bool relu : {false, true})
                    for (bool with_bias : {false, true}) {
                        CAPTURE(s.m);
                        CAPTURE(s.k);
                        CAPTURE(s.n);
                        CAPTURE(int(layout));
                        CAPTURE(int(mode));
                        CAPTURE(relu);
                        CAPTURE(with_bias);
                        // Channels of very different magnitudes: per-channel scales matter.
                        auto w_nk = randn(std::size_t(s.k * s.n), 31);
                        for (std::int64_t j = 0; j < s.n; ++j)
                            for (std::int64_t kk = 0; kk < s.k; ++kk)
                                w_nk[std::size_t(j * s.k + kk)] *= float(1 + j % 5) * 0.3f;
                        const auto bias = randn(std::size_t(s.n), 32, 3.0f);
                        auto a = randn(std::size_t(s.m * s.k), 33);
                        for (std::size_t i = 0; i < a.size(); ++i)
                            a[i] =
                                a[i] * float(1 + (i / std::size_t(s.k)) % 3) + 0.5f; // rows differ
                        linear_params p;
                        p.type = gemm_type::int8;
                        p.k = s.k;
                        p.n = s.n;
                        p.layout = layout;
                        p.relu = relu;
                        p.activations = mode;
                        p.act_scale = 0.03f;
                        p.act_zero_point = 37;
                        const auto w =
                            layout == weight_layout::n_by_k ? w_nk : transpose(w_nk, s.n, s.k);
                        const std::vector<float> no_bias;
                        const linear lin(p, w, with_bias ? bias : no_bias);
                        std::vector<std::int8_t> q;
                        std::vector<float> scales;
                        quantize_nk(w_nk, s.k, s.n, q, scales);
                        REQUIRE(lin.weight_scales().size() == scales.size());
                        for (std::size_t j = 0; j < scales.size(); ++j)
                            REQUIRE(lin.weight_scales()[j] == scales[j]);
                        std::vector<float> y(std::size_t(s.m * s.n), -1.0f);
                        lin.run(a.data(), y.data(), s.m);
                        const auto ref =
                            reference_int8(a, s.m, s.k, q, scales, with_bias ? bias : no_bias, mode,
                                           0.03f, 37, relu);
                        // Dynamic: hone's rescale does the reference's float steps (exact up to
                        // one rounding); static: oneDNN computes s·(acc + bias/s).
                        check_int8(y, ref, mode == act_quant::static_per_tensor ? 4e-7 : 1.2e-7);
                    }
}

TEST_CASE("linear f32: first_rows packs for the M that runs; the bytes are those of the default") {
    const std::int64_t k = 96, n = 40, m = 64;
    const auto w = randn(std::size_t(k * n), 31);
    const auto a = randn(std::size_t(m * k), 32);
    linear_params p;
    p.k = k;
    p.n = n;
    const linear plain(p, w);
    p.first_rows = m;
    const linear packed_for_m(p, w);
    for (std::int64_t rows : {m, std::int64_t(1)}) {
        CAPTURE(rows);
        hone::tensor src(hone::dtype::f32, {rows, k}), y1(hone::dtype::f32, {rows, n}),
            y2(hone::dtype::f32, {rows, n});
        std::copy(a.begin(), a.begin() + rows * k, src.span<float>().begin());
        plain.run(src, y1);
        packed_for_m.run(src, y2);
        CHECK(std::memcmp(y1.data(), y2.data(), y1.nbytes()) == 0);
    }
}

TEST_CASE("linear int8: pre-quantized weights, u8 input, saturation bounds are exact") {
    // 255·127 products over a long K: catches any 16-bit intermediate saturation.
    const std::int64_t m = 3, k = 1031, n = 5;
    std::vector<std::int8_t> q_nk(std::size_t(k * n));
    for (std::size_t i = 0; i < q_nk.size(); ++i)
        q_nk[i] = (i % 7 == 3) ? std::int8_t(-128) : std::int8_t(127 - int(i % 3));
    const std::vector<float> scales = {0.5f, 0.25f, 1.0f / 3.0f, 2.0f, 1e-3f};
    const std::vector<float> bias = {1.0f, -2.0f, 0.0f, 1e3f, -0.5f};
    for (std::int32_t z : {0, 255, 128}) {
        CAPTURE(z);
        linear_params p;
        p.type = gemm_type::int8;
        p.k = k;
        p.n = n;
        p.activations = act_quant::static_per_tensor;
        p.act_scale = 0.125f;
        p.act_zero_point = z;
        const linear lin(p, q_nk, scales, bias);
        CHECK(lin.splits_activations() == hone::kernels::int8_pairs_saturate());
        hone::tensor src(hone::dtype::u8, {m, k}), dst(hone::dtype::f32, {m, n});
        auto s = src.span<std::uint8_t>();
        for (std::size_t i = 0; i < s.size(); ++i)
            s[i] = i % 11 == 0 ? 0 : 255;
        lin.run(src, dst);
        // Reference from the u8 values directly.
        for (std::int64_t i = 0; i < m; ++i)
            for (std::int64_t j = 0; j < n; ++j) {
                std::int64_t acc = 0;
                for (std::int64_t kk = 0; kk < k; ++kk)
                    acc += (std::int64_t(s[std::size_t(i * k + kk)]) - z) *
                           q_nk[std::size_t(j * k + kk)];
                const float want =
                    0.125f * scales[std::size_t(j)] * float(acc) + bias[std::size_t(j)];
                CAPTURE(acc);
                REQUIRE(std::fabs(dst.span<float>()[std::size_t(i * n + j)] - want) <=
                        4e-7 * (std::fabs(want) + std::fabs(bias[std::size_t(j)])));
            }
    }
}

TEST_CASE("linear int8: weights within ±64 take the fused single-primitive path, exactly") {
    // |q_w| ≤ 64 cannot saturate a pair of u8·s8 products, so no CPU splits: this runs the
    // static path VNNI machines always take (output scales fixed at creation, source zero
    // point, bias folded as bias / (s_a·s_w)) on this machine too.
    const std::int64_t m = 4, k = 515, n = 3;
    std::vector<std::int8_t> q_nk(std::size_t(k * n));
    for (std::size_t i = 0; i < q_nk.size(); ++i)
        q_nk[i] = std::int8_t(int(i * 37 % 129) - 64); // every value in [-64, 64]
    const std::vector<float> scales = {0.5f, 0.03125f, 3.0f};
    const std::vector<float> bias = {-7.0f, 0.25f, 1e3f};
    for (std::int32_t z : {0, 37, 255}) {
        CAPTURE(z);
        linear_params p;
        p.type = gemm_type::int8;
        p.k = k;
        p.n = n;
        p.activations = act_quant::static_per_tensor;
        p.act_scale = 0.0625f;
        p.act_zero_point = z;
        const linear lin(p, q_nk, scales, bias);
        CHECK_FALSE(lin.splits_activations());
        hone::tensor src(hone::dtype::u8, {m, k}), dst(hone::dtype::f32, {m, n});
        auto s = src.span<std::uint8_t>();
        for (std::size_t i = 0; i < s.size(); ++i)
            s[i] = std::uint8_t(i * 101 % 256);
        lin.run(src, dst);
        for (std::int64_t i = 0; i < m; ++i)
            for (std::int64_t j = 0; j < n; ++j) {
                std::int64_t acc = 0;
                for (std::int64_t kk = 0; kk < k; ++kk)
                    acc += (std::int64_t(s[std::size_t(i * k + kk)]) - z) *
                           q_nk[std::size_t(j * k + kk)];
                const float want =
                    0.0625f * scales[std::size_t(j)] * float(acc) + bias[std::size_t(j)];
                CAPTURE(acc);
                REQUIRE(std::fabs(dst.span<float>()[std::size_t(i * n + j)] - want) <=
                        4e-7 * (std::fabs(want) + std::fabs(bias[std::size_t(j)])) + 1e-6);
            }
    }
}

TEST_CASE("linear int8 reduce_range: 7-bit activations, exact s32 without splitting") {
    // Weights that reach ±127 (±128 for the pre-quantized ones) and activations whose 8-bit
    // codes would be near 255: without reduce_range, oneDNN's unsplit kernels would saturate
    // pairs here on CPUs without VNNI (2·255·127 > 32767); with it, |pair| ≤ 2·127·128.
    const std::int64_t k = 515, n = 7;
    auto w_nk = randn(std::size_t(k * n), 61);
    for (std::size_t i = 0; i < w_nk.size(); i += 2)
        w_nk[i] = (i / 2) % 3 == 0 ? 2.0f : -2.0f; // many codes at ±127 in every channel
    std::vector<std::int8_t> q_pre(w_nk.size());
    for (std::size_t i = 0; i < q_pre.size(); ++i)
        q_pre[i] = std::int8_t(i % 5 == 1 ? -128 : (i % 2 ? 127 : -127 + int(i % 7)));
    const std::vector<float> pre_scales = {0.5f, 0.25f, 1.0f / 3.0f, 2.0f, 1e-3f, 0.01f, 1.0f};
    const auto bias = randn(std::size_t(n), 62, 2.0f);
    for (auto mode :
         {act_quant::static_per_tensor, act_quant::dynamic_per_tensor, act_quant::dynamic_per_row})
        for (bool prequantized : {false, true})
            for (bool relu : {false, true})
                for (std::int64_t m : {1, 6, 64}) {
                    CAPTURE(int(mode));
                    CAPTURE(prequantized);
                    CAPTURE(relu);
                    CAPTURE(m);
                    // Mostly large positive values (codes near the top), a few negatives; rows
                    // of different ranges.
                    auto a = randn(std::size_t(m * k), unsigned(63 + m));
                    for (std::size_t i = 0; i < a.size(); ++i)
                        a[i] = (i % 9 == 0 ? -0.5f : 5.0f + 0.1f * a[i]) *
                               float(1 + (i / std::size_t(k)) % 4);
                    linear_params p;
                    p.type = gemm_type::int8;
                    p.k = k;
                    p.n = n;
                    p.relu = relu;
                    p.activations = mode;
                    p.act_scale = 0.04f; // static: 5/0.04 + 9 saturates at 127 often
                    p.act_zero_point = 9;
                    p.reduce_range = true;
                    std::vector<std::int8_t> q;
                    std::vector<float> scales;
                    if (prequantized) {
                        q = q_pre;
                        scales = pre_scales;
                    } else {
                        quantize_nk(w_nk, k, n, q, scales);
                    }
                    const linear lin =
                        prequantized ? linear(p, q, scales, bias) : linear(p, w_nk, bias);
                    CHECK_FALSE(lin.splits_activations());
                    std::vector<float> y(std::size_t(m * n), -1.0f);
                    lin.run(a.data(), y.data(), m);
                    const auto ref =
                        reference_int8(a, m, k, q, scales, bias, mode, 0.04f, 9, relu, 127.0f);
                    check_int8(y, ref, mode == act_quant::static_per_tensor ? 4e-7 : 1.2e-7);
                    // The 7-bit grid really is used: the 8-bit reference differs.
                    const auto ref8 =
                        reference_int8(a, m, k, q, scales, bias, mode, 0.04f, 9, relu, 255.0f);
                    double diff = 0;
                    for (std::size_t i = 0; i < y.size(); ++i)
                        diff = std::max(diff, std::fabs(double(ref8.y[i]) - ref.y[i]));
                    if (!relu) CHECK(diff > 0); // ReLU may zero both
                }
    SUBCASE("static: u8 src must lie in 0..127, zero point in 0..127") {
        linear_params p;
        p.type = gemm_type::int8;
        p.k = k;
        p.n = n;
        p.activations = act_quant::static_per_tensor;
        p.act_scale = 0.5f;
        p.act_zero_point = 127;
        p.reduce_range = true;
        const linear lin(p, q_pre, pre_scales, bias);
        hone::tensor src(hone::dtype::u8, {2, k}), dst(hone::dtype::f32, {2, n});
        auto u = src.span<std::uint8_t>();
        for (std::size_t i = 0; i < u.size(); ++i)
            u[i] = std::uint8_t(i % 4 == 0 ? 0 : 127 - i % 3);
        lin.run(src, dst);
        for (std::int64_t i = 0; i < 2; ++i)
            for (std::int64_t j = 0; j < n; ++j) {
                std::int64_t acc = 0;
                for (std::int64_t kk = 0; kk < k; ++kk)
                    acc += (std::int64_t(u[std::size_t(i * k + kk)]) - 127) *
                           q_pre[std::size_t(j * k + kk)];
                const float want = 0.5f * pre_scales[std::size_t(j)] * float(acc);
                CAPTURE(acc);
                REQUIRE(std::fabs(dst.span<float>()[std::size_t(i * n + j)] -
                                  (want + bias[std::size_t(j)])) <=
                        4e-7 * (std::fabs(want) + std::fabs(bias[std::size_t(j)])));
            }
        u[777] = 128;
        CHECK_THROWS_WITH_AS(lin.run(src, dst), doctest::Contains("src[777] = 128 is above 127"),
                             hone::error);
        p.act_zero_point = 128;
        CHECK(status_of([&] { linear l(p, q_pre, pre_scales); }) == hone::status::invalid_argument);
        p.reduce_range = false; // 128 is fine for 8-bit activations
        CHECK(status_of([&] { linear l(p, q_pre, pre_scales); }) == hone::status::ok);
    }
}

TEST_CASE("linear int8: exact = false lets oneDNN saturate on CPUs without VNNI") {
    const std::int64_t k = 64, n = 2;
    const std::vector<std::int8_t> q(std::size_t(k * n), 127);
    const std::vector<float> scales = {1.0f, 1.0f};
    linear_params p;
    p.type = gemm_type::int8;
    p.k = k;
    p.n = n;
    p.activations = act_quant::static_per_tensor;
    p.exact = false;
    const linear fast(p, q, scales);
    CHECK_FALSE(fast.splits_activations());
    hone::tensor src(hone::dtype::u8, {1, k}), dst(hone::dtype::f32, {1, n});
    for (auto& v : src.span<std::uint8_t>())
        v = 255;
    fast.run(src, dst);
    const float exact = 255.0f * 127.0f * float(k);
    MESSAGE("exact = false on oneDNN ISA ", hone::kernels::onednn_isa(), ": ", dst.span<float>()[0],
            " (exact ", exact, ")");
    if (hone::kernels::int8_pairs_saturate())
        CHECK(dst.span<float>()[0] < exact); // documents the hazard exact = true avoids
    else
        CHECK(dst.span<float>()[0] == exact);
}

TEST_CASE("linear int8 dynamic per row is more accurate than per tensor on rows of mixed range") {
    const std::int64_t m = 4, k = 256, n = 16;
    auto a = randn(std::size_t(m * k), 41);
    for (std::int64_t kk = 0; kk < k; ++kk)
        a[std::size_t(kk)] *= 100.0f; // row 0 is 100× larger than the others
    const auto w = randn(std::size_t(k * n), 42);
    linear_params p;
    p.type = gemm_type::int8;
    p.k = k;
    p.n = n;
    p.activations = act_quant::dynamic_per_tensor;
    const linear per_tensor(p, w);
    p.activations = act_quant::dynamic_per_row;
    const linear per_row(p, w);
    std::vector<float> yt(std::size_t(m * n)), yr(yt.size()), yf(yt.size());
    per_tensor.run(a.data(), yt.data(), m);
    per_row.run(a.data(), yr.data(), m);
    hone::kernels::matmul_f32(a.data(), w.data(), yf.data(), m, k, n, weight_layout::n_by_k,
                              nullptr);
    double et = 0, er = 0;
    for (std::size_t i = std::size_t(n); i < yf.size(); ++i) { // rows 1..3
        et += std::fabs(yt[i] - yf[i]);
        er += std::fabs(yr[i] - yf[i]);
    }
    CHECK(er * 5 < et);
}

TEST_CASE("linear: concurrent run() on one object from several threads") {
    const std::int64_t k = 64, n = 32;
    const auto w = randn(std::size_t(k * n), 51);
    linear_params p;
    p.type = gemm_type::int8;
    p.k = k;
    p.n = n;
    const linear lin(p, w);
    std::vector<std::vector<float>> outs(4);
    std::vector<std::thread> threads;
    const auto a = randn(std::size_t(8 * k), 52);
    for (int t = 0; t < 4; ++t)
        threads.emplace_back([&, t] {
            outs[std::size_t(t)].resize(std::size_t((t + 1) * 2 * n));
            for (int rep = 0; rep < 20; ++rep)
                lin.run(a.data(), outs[std::size_t(t)].data(), (t + 1) * 2);
        });
    for (auto& th : threads)
        th.join();
    std::vector<float> y(std::size_t(8 * n));
    lin.run(a.data(), y.data(), 8);
    // Dynamic per-tensor scale depends on the rows given: compare each against a fresh run.
    for (int t = 0; t < 4; ++t) {
        std::vector<float> again(outs[std::size_t(t)].size());
        lin.run(a.data(), again.data(), (t + 1) * 2);
        CHECK(again == outs[std::size_t(t)]);
    }
    CHECK(lin.cached_shapes() == 4);
}

TEST_CASE("linear: bad configuration and bad inputs give clear errors") {
    const std::vector<float> w(12, 1.0f), bias3(3), bias4(4);
    linear_params p;
    p.k = 4;
    p.n = 3;
    CHECK(status_of([&] {
              p.k = 0;
              linear l(p, w);
          }) == hone::status::invalid_argument);
    p.k = 4;
    CHECK(status_of([&] {
              p.n = -1;
              linear l(p, w);
          }) == hone::status::invalid_argument);
    p.n = 3;
    CHECK(status_of([&] { linear l(p, std::span<const float>(w).first(11)); }) ==
          hone::status::shape_mismatch);
    CHECK(status_of([&] { // k·n would wrap to 0 in int64: refused, not built around no weights
              linear_params huge = p;
              huge.k = huge.n = std::int64_t(1) << 32;
              linear l(huge, std::span<const float>());
          }) == hone::status::invalid_argument);
    CHECK(status_of([&] { // s32 sums of u8·s8 products over K = 70000 could overflow
              linear_params deep = p;
              deep.type = hone::kernels::gemm_type::int8;
              deep.k = 70000;
              deep.n = 1;
              linear l(deep, std::vector<float>(70000, 0.5f));
          }) == hone::status::unsupported);
    CHECK(status_of([&] { linear l(p, w, bias4); }) == hone::status::shape_mismatch);
    CHECK(status_of([&] {
              auto q = p;
              q.type = static_cast<gemm_type>(7);
              linear l(q, w);
          }) == hone::status::invalid_argument);
    CHECK(status_of([&] {
              auto q = p;
              q.layout = static_cast<weight_layout>(3);
              linear l(q, w);
          }) == hone::status::invalid_argument);
    auto i8 = p;
    i8.type = gemm_type::int8;
    i8.activations = act_quant::static_per_tensor;
    CHECK(status_of([&] {
              auto q = i8;
              q.act_scale = 0.0f;
              linear l(q, w);
          }) == hone::status::invalid_argument);
    CHECK(status_of([&] {
              auto q = i8;
              q.act_scale = INFINITY;
              linear l(q, w);
          }) == hone::status::invalid_argument);
    CHECK(status_of([&] {
              auto q = i8;
              q.act_zero_point = 256;
              linear l(q, w);
          }) == hone::status::invalid_argument);
    CHECK(status_of([&] {
              auto q = i8;
              q.activations = static_cast<act_quant>(5);
              linear l(q, w);
          }) == hone::status::invalid_argument);
    const std::vector<std::int8_t> qw(12, 1);
    const std::vector<float> scales = {1.0f, 1.0f, 1.0f}, bad_scales = {1.0f, -1.0f, 1.0f};
    CHECK(status_of([&] { linear l(p, qw, scales); }) ==
          hone::status::dtype_mismatch); // f32 params
    CHECK(status_of([&] { linear l(i8, qw, bad_scales); }) == hone::status::invalid_argument);
    CHECK(status_of([&] { linear l(i8, qw, std::span<const float>(scales).first(2)); }) ==
          hone::status::shape_mismatch);
    auto nan_w = w;
    nan_w[5] = NAN;
    CHECK(status_of([&] { linear l(i8, nan_w); }) == hone::status::invalid_argument);

    const linear lin(p, w, bias3);
    hone::tensor src(hone::dtype::f32, {2, 4}), dst(hone::dtype::f32, {2, 3});
    hone::tensor wrong_k(hone::dtype::f32, {2, 5}), wrong_m(hone::dtype::f32, {3, 3}),
        i32(hone::dtype::i32, {2, 4}), u8(hone::dtype::u8, {2, 4}),
        rank3(hone::dtype::f32, {1, 2, 4});
    lin.run(src, dst);
    CHECK_THROWS_WITH_AS(lin.run(wrong_k, dst),
                         doctest::Contains("src is [2, 5] but the layer has K = 4"), hone::error);
    CHECK_THROWS_WITH_AS(lin.run(src, wrong_m),
                         doctest::Contains("dst is [3, 3] but src [2, 4] needs [2, 3]"),
                         hone::error);
    CHECK(status_of([&] { lin.run(i32, dst); }) == hone::status::dtype_mismatch);
    CHECK(status_of([&] { lin.run(u8, dst); }) == hone::status::dtype_mismatch); // f32 layer
    CHECK(status_of([&] { lin.run(src, i32); }) == hone::status::dtype_mismatch);
    CHECK(status_of([&] { lin.run(rank3, dst); }) == hone::status::shape_mismatch);
    CHECK(status_of([&] { lin.run(nullptr, dst.span<float>().data(), 2); }) ==
          hone::status::invalid_argument);
    CHECK(status_of([&] { lin.run(src.span<float>().data(), nullptr, 2); }) ==
          hone::status::invalid_argument);
    CHECK(status_of([&] { lin.run(src.span<float>().data(), dst.span<float>().data(), -2); }) ==
          hone::status::invalid_argument);
    lin.run(nullptr, nullptr, 0); // M = 0: nothing to do
    // Dynamic quantization of non-finite activations has no scale: a clear error.
    i8.activations = act_quant::dynamic_per_row;
    const linear dyn(i8, w);
    src.span<float>()[5] = INFINITY;
    CHECK_THROWS_WITH_AS(dyn.run(src, dst), doctest::Contains("dynamic quantization of src"),
                         hone::error);
    CHECK(status_of([&] { dyn.run(u8, dst); }) == hone::status::dtype_mismatch); // u8 needs static
    MESSAGE("int8 implementation at M=1: ", dyn.implementation(1),
            "; f32: ", lin.implementation(1));
}

TEST_CASE("linear int8 static: new row counts and thread counts after the first run") {
    // Each (threads, M) may want its own blocked weight layout. oneDNN cannot reorder one
    // blocked int8 layout (with zero-point compensation) into another, so later layouts come
    // from the plain weights: before, M = 4096 at 4 threads after M = 1 failed to reorder.
    const std::int64_t k = 128, n = 128;
    std::vector<std::int8_t> q_nk(std::size_t(k * n));
    for (std::size_t i = 0; i < q_nk.size(); ++i)
        q_nk[i] = std::int8_t(int(i * 37 % 255) - 127);
    std::vector<float> scales(static_cast<std::size_t>(n), 0.0f);
    for (std::size_t j = 0; j < scales.size(); ++j)
        scales[j] = 0.01f * float(1 + j % 7);
    linear_params p;
    p.type = gemm_type::int8;
    p.k = k;
    p.n = n;
    p.activations = act_quant::static_per_tensor;
    p.act_scale = 0.05f;
    p.act_zero_point = 37;
    const linear lin(p, q_nk, scales);
    const int saved = hone::num_threads();
    std::vector<std::pair<int, std::int64_t>> runs;
    for (int threads : {1, 4, 2})
        for (std::int64_t m : {1, 64, 1024, 4096, 16384, 3})
            runs.emplace_back(threads, m);
    for (const auto& run : runs) {
        const int threads = run.first;
        const std::int64_t m = run.second;
        CAPTURE(threads);
        CAPTURE(m);
        hone::set_num_threads(threads);
        hone::tensor src(hone::dtype::u8, {m, k}), dst(hone::dtype::f32, {m, n});
        auto s = src.span<std::uint8_t>();
        for (std::size_t i = 0; i < s.size(); ++i)
            s[i] = std::uint8_t(i * 101 % 256);
        REQUIRE_NOTHROW(lin.run(src, dst));
        for (std::int64_t i : {std::int64_t(0), m - 1})
            for (std::int64_t j : {std::int64_t(0), n / 2, n - 1}) {
                std::int64_t acc = 0;
                for (std::int64_t kk = 0; kk < k; ++kk)
                    acc += (std::int64_t(s[std::size_t(i * k + kk)]) - 37) *
                           q_nk[std::size_t(j * k + kk)];
                const float want = 0.05f * scales[std::size_t(j)] * float(acc);
                CHECK(dst.span<float>()[std::size_t(i * n + j)] ==
                      doctest::Approx(want).epsilon(1e-5));
            }
    }
    hone::set_num_threads(saved);
}
