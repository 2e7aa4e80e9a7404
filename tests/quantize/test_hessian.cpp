// Hessian preparation shared by GPTQ and SparseGPT (src/quantize/hessian.hpp): U is the upper
// Cholesky factor of the dampened, permuted H⁻¹; dead inputs; errors; thread-count determinism.
#include "../../src/quantize/hessian.hpp"

#include <hone/core/error.hpp>
#include <hone/core/tensor.hpp>
#include <hone/core/threads.hpp>
#include <hone/kernels/gemm.hpp>

#include <doctest/doctest.h>

#include <cmath>
#include <cstring>
#include <limits>
#include <random>
#include <vector>

namespace {

/// H = XᵀX for X [rows, k] with normal entries, some columns scaled, `dead` columns zero.
hone::tensor gram(std::int64_t k, std::int64_t rows, unsigned seed,
                  const std::vector<std::int64_t>& dead = {}) {
    std::mt19937 rng(seed);
    std::normal_distribution<float> normal;
    hone::tensor x(hone::dtype::f32, {rows, k});
    auto xs = x.span<float>();
    for (std::int64_t r = 0; r < rows; ++r)
        for (std::int64_t c = 0; c < k; ++c)
            xs[std::size_t(r * k + c)] = normal(rng) * (1.0f + float(c % 5));
    for (auto c : dead)
        for (std::int64_t r = 0; r < rows; ++r)
            xs[std::size_t(r * k + c)] = 0;
    hone::tensor h(hone::dtype::f32, {k, k});
    hone::kernels::hessian_accumulate(x, h);
    return h;
}

/// max |UᵀU·Hd − I| (U from f32 values, arithmetic in double) where Hd is H symmetrised, dampened
/// (dead → 1) and permuted, in double.
double residual(const hone::tensor& h, const std::vector<float>& u, double damp,
                const std::vector<std::int64_t>& order, const std::vector<std::uint8_t>& dead) {
    const std::int64_t k = h.dims()[0];
    const auto hs = h.span<float>();
    std::vector<double> hd(std::size_t(k * k));
    double mean = 0;
    for (std::int64_t i = 0; i < k; ++i)
        mean += dead[std::size_t(i)] ? 1.0 : hs[std::size_t(i * k + i)];
    mean /= double(k);
    for (std::int64_t i = 0; i < k; ++i)
        for (std::int64_t j = 0; j < k; ++j) {
            const auto a = order.empty() ? i : order[std::size_t(i)];
            const auto b = order.empty() ? j : order[std::size_t(j)];
            double v = 0.5 * (double(hs[std::size_t(a * k + b)]) + hs[std::size_t(b * k + a)]);
            if (a == b) v = (dead[std::size_t(a)] ? 1.0 : v) + damp * mean;
            hd[std::size_t(i * k + j)] = v;
        }
    // M = UᵀU, then M·Hd.
    std::vector<double> m(std::size_t(k * k), 0.0);
    for (std::int64_t r = 0; r < k; ++r)
        for (std::int64_t i = 0; i < k; ++i)
            for (std::int64_t j = 0; j < k; ++j)
                m[std::size_t(i * k + j)] += u[std::size_t(r * k + i)] * u[std::size_t(r * k + j)];
    double worst = 0;
    for (std::int64_t i = 0; i < k; ++i)
        for (std::int64_t j = 0; j < k; ++j) {
            double s = 0;
            for (std::int64_t t = 0; t < k; ++t)
                s += m[std::size_t(i * k + t)] * hd[std::size_t(t * k + j)];
            worst = std::max(worst, std::fabs(s - (i == j ? 1.0 : 0.0)));
        }
    return worst;
}

} // namespace

TEST_CASE("prepare_hessian: U is the upper Cholesky factor of the dampened H⁻¹") {
    for (std::int64_t k : {1, 5, 255, 256, 257, 600}) {
        CAPTURE(k);
        const auto h = gram(k, 2 * k + 10, 11);
        const auto p = hone::detail::prepare_hessian(h, 0.01, {}, "h");
        const auto& u = p.inverse_cholesky_upper;
        const auto& dead = p.dead;
        for (std::int64_t i = 0; i < k; ++i) {
            CHECK(u[std::size_t(i * k + i)] > 0);
            for (std::int64_t j = 0; j < i; ++j)
                CHECK(u[std::size_t(i * k + j)] == 0);
        }
        CHECK(residual(h, u, 0.01, {}, dead) < 2e-4);
    }
}

TEST_CASE("prepare_hessian: 1×1 by hand") {
    float v = 4.0f;
    const auto h = hone::make_view(&v, sizeof v, hone::dtype::f32, {1, 1});
    const auto p = hone::detail::prepare_hessian(h, 0.0, {}, "h");
    REQUIRE(p.k == 1);
    CHECK(p.inverse_cholesky_upper[0] == doctest::Approx(0.5));    // H⁻¹ = 1/4, U = 1/2
    const auto d = hone::detail::prepare_hessian(h, 1.0, {}, "h"); // H + 1·4 = 8
    CHECK(d.inverse_cholesky_upper[0] == doctest::Approx(1.0 / std::sqrt(8.0)));
}

TEST_CASE("prepare_hessian: act-order permutation and dead inputs") {
    const std::int64_t k = 200;
    const auto h = gram(k, 400, 5, {3, 150});
    std::vector<std::int64_t> order(static_cast<std::size_t>(k), 0);
    for (std::int64_t i = 0; i < k; ++i)
        order[std::size_t(i)] = (i * 37) % k; // 37 coprime to 200
    const auto p = hone::detail::prepare_hessian(h, 0.01, order, "h");
    const auto& u = p.inverse_cholesky_upper;
    const auto& dead = p.dead;
    CHECK(dead[3] == 1);
    CHECK(dead[150] == 1);
    CHECK(std::count(dead.begin(), dead.end(), 1) == 2);
    CHECK(residual(h, u, 0.01, order, dead) < 2e-4);
    CHECK(p.k == k);
}

TEST_CASE("prepare_hessian: identical bytes at any thread count") {
    const auto h = gram(520, 600, 9);
    const int saved = hone::num_threads();
    hone::set_num_threads(1);
    const auto one = hone::detail::prepare_hessian(h, 0.01, {}, "h");
    hone::set_num_threads(2);
    const auto two = hone::detail::prepare_hessian(h, 0.01, {}, "h");
    hone::set_num_threads(3);
    const auto three = hone::detail::prepare_hessian(h, 0.01, {}, "h");
    hone::set_num_threads(saved);
    CHECK(std::memcmp(one.inverse_cholesky_upper.data(), two.inverse_cholesky_upper.data(),
                      one.inverse_cholesky_upper.size() * sizeof(float)) == 0);
    CHECK(std::memcmp(one.inverse_cholesky_upper.data(), three.inverse_cholesky_upper.data(),
                      one.inverse_cholesky_upper.size() * sizeof(float)) == 0);
}

TEST_CASE("prepare_hessian: bad input names the tensor") {
    auto expect = [](auto&& fn, const char* needle) {
        try {
            fn();
            FAIL("no error");
        } catch (const hone::error& e) {
            CHECK(e.code() == hone::status::invalid_argument);
            CHECK(std::string(e.what()).find("fc1.weight") != std::string::npos);
            CHECK(std::string(e.what()).find(needle) != std::string::npos);
        }
    };
    auto h = gram(4, 10, 1);
    auto hs = h.span<float>();
    hs[5] = std::numeric_limits<float>::quiet_NaN();
    expect([&] { hone::detail::prepare_hessian(h, 0.01, {}, "fc1.weight"); }, "not finite");
    hs[5] = std::numeric_limits<float>::infinity();
    expect([&] { hone::detail::prepare_hessian(h, 0.01, {}, "fc1.weight"); }, "not finite");
    hone::tensor rect(hone::dtype::f32, {3, 4});
    expect([&] { hone::detail::prepare_hessian(rect, 0.01, {}, "fc1.weight"); }, "not square");
    hone::tensor empty(hone::dtype::f32, {0, 0});
    expect([&] { hone::detail::prepare_hessian(empty, 0.01, {}, "fc1.weight"); }, "empty");
    // Indefinite: [[1, 2], [2, 1]] (eigenvalues 3, −1); 1% dampening does not fix it.
    float indef[4] = {1, 2, 2, 1};
    const auto hv = hone::make_view(indef, sizeof indef, hone::dtype::f32, {2, 2});
    expect([&] { hone::detail::prepare_hessian(hv, 0.01, {}, "fc1.weight"); },
           "not positive definite");
    // Singular with no zero diagonal (two identical inputs) and no dampening.
    float sing[4] = {1, 1, 1, 1};
    const auto sv = hone::make_view(sing, sizeof sing, hone::dtype::f32, {2, 2});
    expect([&] { hone::detail::prepare_hessian(sv, 0.0, {}, "fc1.weight"); },
           "not positive definite");
    CHECK_NOTHROW(hone::detail::prepare_hessian(sv, 0.01, {}, "fc1.weight"));
    const std::int64_t bad_order[2] = {0, 0};
    expect([&] { hone::detail::prepare_hessian(sv, 0.01, bad_order, "fc1.weight"); },
           "permutation");
    expect([&] { hone::detail::prepare_hessian(sv, -1.0, {}, "fc1.weight"); }, "dampening");
}
