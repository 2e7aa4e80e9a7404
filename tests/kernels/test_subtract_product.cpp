// C −= A·B: every tier bit for bit against an element-by-element reference written here (products
// and sums rounded separately, summed in j order), on edge shapes, strided operands and special
// values; the same bits at any thread count; a whole SparseGPT run byte-identical on every tier;
// argument errors.
#include "hone/core/error.hpp"
#include "hone/core/threads.hpp"
#include "hone/kernels/subtract_product.hpp"
#include "hone/prune/pruner.hpp"
#include "isa_tiers.hpp"

#include <bit>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <random>
#include <string>
#include <vector>

namespace hk = hone::kernels;

namespace {

// The promised arithmetic, one element at a time. The product goes through a volatile so that no
// compiler flag (-march=native, -ffp-contract=fast) can fuse it into the sum.
void expected(const std::vector<float>& a, const std::vector<float>& b, std::vector<float>& c,
              std::int64_t m, std::int64_t k, std::int64_t n, std::int64_t ldb, std::int64_t ldc) {
    for (std::int64_t i = 0; i < m; ++i)
        for (std::int64_t x = 0; x < n; ++x) {
            float acc = 0.0f;
            for (std::int64_t j = 0; j < k; ++j) {
                volatile float p = a[std::size_t(i * k + j)] * b[std::size_t(j * ldb + x)];
                acc = acc + p;
            }
            c[std::size_t(i * ldc + x)] = c[std::size_t(i * ldc + x)] - acc;
        }
}

// Bitwise equality, except that any NaN matches any NaN (payloads are not promised).
bool same(float x, float y) {
    return (std::isnan(x) && std::isnan(y)) ||
           std::bit_cast<std::uint32_t>(x) == std::bit_cast<std::uint32_t>(y);
}

std::vector<float> normals(std::size_t size, unsigned seed) {
    std::vector<float> v(size);
    std::mt19937 rng(seed);
    std::normal_distribution<float> normal;
    for (float& x : v)
        x = normal(rng);
    return v;
}

template <class Fn> hone::status code_of(Fn&& fn) {
    try {
        fn();
    } catch (const hone::error& e) {
        return e.code();
    }
    return hone::status::ok;
}

} // namespace

TEST_CASE("subtract_product: every tier bit for bit on edge shapes, contiguous and strided") {
    const std::vector<std::int64_t> ms = {0, 1, 2, 3, 4, 5, 7, 8, 9, 13};
    const std::vector<std::int64_t> ks = {0, 1, 2, 7, 16, 17};
    const std::vector<std::int64_t> ns = {0,  1,  3,  7,  8,  9,  15, 16,
                                          17, 31, 32, 33, 63, 64, 65, 257};
    hone::test::for_each_tier([&](hone::isa) {
        unsigned seed = 1;
        for (std::int64_t m : ms)
            for (std::int64_t k : ks)
                for (std::int64_t n : ns)
                    for (std::int64_t extra : {0, 5}) { // ldb = n + extra, ldc = n + 2·extra
                        const std::int64_t ldb = n + extra, ldc = n + 2 * extra;
                        const auto a = normals(std::size_t(m * k), ++seed);
                        const auto b = normals(std::size_t(k * ldb), ++seed);
                        auto c = normals(std::size_t(m * ldc), ++seed), want = c;
                        expected(a, b, want, m, k, n, ldb, ldc);
                        hk::subtract_product(a, b, c, m, k, n, ldb, ldc);
                        CAPTURE(m);
                        CAPTURE(k);
                        CAPTURE(n);
                        CAPTURE(extra);
                        bool ok = true;
                        for (std::size_t i = 0; i < c.size(); ++i) // (the gaps must be untouched)
                            ok = ok && same(c[i], want[i]);
                        REQUIRE(ok);
                    }
    });
}

TEST_CASE("subtract_product: special values, bit for bit on every tier") {
    const float inf = std::numeric_limits<float>::infinity(), nan = std::nanf("");
    const float tiny = std::numeric_limits<float>::denorm_min(), big = 3e38f;
    const std::vector<float> specials = {0.0f,   -0.0f, inf,  -inf, nan,   tiny, -tiny,
                                         1e-38f, big,   -big, 1.0f, -1.0f, 0.5f, 1e-20f};
    hone::test::for_each_tier([&](hone::isa) {
        for (std::int64_t n : {1, 15, 16, 17, 33, 64}) {
            const std::int64_t m = 6, k = 5;
            std::mt19937 rng{static_cast<unsigned>(n)};
            auto pick = [&] { return specials[rng() % specials.size()]; };
            std::vector<float> a(std::size_t(m * k)), b(std::size_t(k * n)), c(std::size_t(m * n));
            for (auto& x : a)
                x = pick();
            for (auto& x : b)
                x = pick();
            for (auto& x : c)
                x = pick();
            auto want = c;
            expected(a, b, want, m, k, n, n, n);
            hk::subtract_product(a, b, c, m, k, n);
            CAPTURE(n);
            for (std::size_t i = 0; i < c.size(); ++i) {
                CAPTURE(i);
                REQUIRE(same(c[i], want[i]));
            }
        }
    });
    // Zero products leave C's sign of zero as C − (+0) gives it; k = 0 leaves C untouched.
    hone::test::for_each_tier([&](hone::isa) {
        std::vector<float> a = {0.0f, -0.0f}, b(2 * 16, 1.0f), c(16, -0.0f);
        hk::subtract_product(a, b, c, 1, 2, 16);
        for (float x : c)
            CHECK(std::bit_cast<std::uint32_t>(x) == std::bit_cast<std::uint32_t>(-0.0f));
        std::vector<float> snan(16, std::numeric_limits<float>::signaling_NaN());
        hk::subtract_product({}, {}, snan, 1, 0, 16);
        for (float x : snan)
            CHECK(std::bit_cast<std::uint32_t>(x) ==
                  std::bit_cast<std::uint32_t>(std::numeric_limits<float>::signaling_NaN()));
    });
}

TEST_CASE("subtract_product: the same bits at 1, 2 and 3 threads and on every tier") {
    // Large enough to run in parallel (m·n·k > 2^20) over several panels, with a ragged last one.
    const std::int64_t m = 70, k = 128, n = 1000;
    const auto a = normals(std::size_t(m * k), 7), b = normals(std::size_t(k * n), 8);
    const auto c0 = normals(std::size_t(m * n), 9);
    auto want = c0;
    expected(a, b, want, m, k, n, n, n);
    const int threads = hone::num_threads();
    hone::test::for_each_tier([&](hone::isa) {
        for (int t : {1, 2, 3}) {
            hone::set_num_threads(t);
            auto c = c0;
            hk::subtract_product(a, b, c, m, k, n);
            CAPTURE(t);
            CHECK(std::memcmp(c.data(), want.data(), c.size() * sizeof(float)) == 0);
        }
        hone::set_num_threads(threads);
    });
}

TEST_CASE("SparseGPT gives the same bytes on every tier") {
    const std::int64_t rows = 37, K = 96, tokens = 300;
    const auto x = normals(std::size_t(tokens * K), 11);
    hone::tensor h(hone::dtype::f32, {K, K});
    auto hs = h.span<float>();
    for (std::int64_t i = 0; i < K; ++i)
        for (std::int64_t j = 0; j < K; ++j) {
            double s = 0;
            for (std::int64_t t = 0; t < tokens; ++t)
                s += double(x[std::size_t(t * K + i)]) * x[std::size_t(t * K + j)];
            hs[std::size_t(i * K + j)] = float(s / double(tokens)) + (i == j ? 0.1f : 0.0f);
        }
    const auto w0 = normals(std::size_t(rows * K), 12);
    const hone::sparsegpt_config configs[] = {{0.5, 0, 0, 32}, {0.0, 2, 4, 128, 0.01, 4}};
    auto run = [&](int i) {
        hone::tensor w(hone::dtype::f32, {rows, K});
        std::copy(w0.begin(), w0.end(), w.span<float>().begin());
        hone::prune_sparsegpt(w, h, configs[i]);
        const auto ws = w.span<float>();
        return std::vector<float>(ws.begin(), ws.end());
    };
    hone::set_max_isa(hone::isa::scalar);
    const std::vector<float> reference[2] = {run(0), run(1)};
    hone::set_max_isa(hone::isa::avx512);
    hone::test::for_each_tier([&](hone::isa) {
        for (int i = 0; i < 2; ++i) {
            const auto w = run(i);
            CAPTURE(i);
            REQUIRE(w.size() == reference[i].size());
            CHECK(std::memcmp(w.data(), reference[i].data(), w.size() * sizeof(float)) == 0);
        }
    });
}

TEST_CASE("subtract_product: argument errors") {
    std::vector<float> a(12), b(12), c(12);
    using hone::status;
    CHECK(code_of([&] { hk::subtract_product(a, b, c, -1, 2, 2); }) == status::invalid_argument);
    CHECK(code_of([&] { hk::subtract_product(a, b, c, 2, 2, 3, 2, 3); }) ==
          status::invalid_argument); // ldb < n
    CHECK(code_of([&] { hk::subtract_product(a, b, c, 4, 4, 3); }) == status::out_of_range);
    CHECK(code_of([&] { hk::subtract_product(a, b, std::span(c).first(5), 2, 2, 3); }) ==
          status::out_of_range);
    CHECK(code_of([&] { hk::subtract_product(a, c, std::span(c).subspan(2), 2, 2, 3); }) ==
          status::invalid_argument); // C overlaps B
    CHECK(code_of([&] { hk::subtract_product(a, b, c, 2, 2, 3); }) == status::ok);
    CHECK(code_of([&] { hk::subtract_product({}, {}, {}, 0, 0, 0); }) == status::ok);
    try {
        hk::subtract_product(a, b, c, 4, 4, 3);
    } catch (const hone::error& e) {
        CHECK(std::string(e.what()).find("subtract_product: A [4, 4] needs 16 entries (has 12)") !=
              std::string::npos);
    }
}
