// Top-k masks, N:M masks and mask apply: every tier equals the scalar reference byte for byte.
#include "hone/kernels/sparsity.hpp"
#include "isa_tiers.hpp"

#include <algorithm>
#include <bit>
#include <cmath>
#include <cstdint>
#include <limits>
#include <numeric>
#include <random>
#include <string>
#include <vector>

using hone::kernels::score_kind;

namespace {

std::vector<float> weights(std::size_t n, unsigned seed, bool ties) {
    std::mt19937 rng(seed);
    std::normal_distribution<float> normal;
    std::vector<float> v(n);
    for (auto& x : v)
        x = ties ? float(int(normal(rng) * 3.0f)) * 0.25f : normal(rng); // many equal values
    return v;
}

// Brute force: keep the `keep` largest keys, ties to the lower index (a stable sort).
std::vector<std::uint8_t> brute_topk(const std::vector<float>& s, std::int64_t keep,
                                     score_kind kind) {
    std::vector<std::size_t> order(s.size());
    std::iota(order.begin(), order.end(), 0);
    auto key = [&](std::size_t i) {
        return kind == score_kind::magnitude ? std::fabs(s[i]) : s[i];
    };
    std::stable_sort(order.begin(), order.end(),
                     [&](std::size_t a, std::size_t b) { return key(a) > key(b); });
    std::vector<std::uint8_t> mask(s.size(), 0);
    for (std::int64_t i = 0; i < keep; ++i)
        mask[order[std::size_t(i)]] = 1;
    return mask;
}

std::string message_of(auto&& fn) {
    try {
        fn();
    } catch (const hone::error& e) {
        return e.what();
    }
    return "";
}

} // namespace

TEST_CASE("topk_mask keeps exactly k, ties to the lower index, on every tier") {
    hone::test::for_each_tier([](hone::isa) {
        for (std::size_t n : {0u, 1u, 7u, 8u, 17u, 33u, 1000u, 70001u}) {
            for (bool ties : {false, true}) {
                for (score_kind kind : {score_kind::magnitude, score_kind::value}) {
                    const auto s = weights(n, unsigned(n) + ties, ties);
                    for (std::int64_t keep : {std::int64_t(0), std::int64_t(n / 2),
                                              std::int64_t(n / 3), std::int64_t(n)}) {
                        CAPTURE(n);
                        CAPTURE(ties);
                        CAPTURE(int(kind));
                        CAPTURE(keep);
                        std::vector<std::uint8_t> mask(n, 7);
                        const auto r = hone::kernels::topk_mask(s, keep, kind, mask);
                        REQUIRE(mask == brute_topk(s, keep, kind));
                        CHECK(r.kept == keep);
                        CHECK(std::count(mask.begin(), mask.end(), 1) == keep);
                        if (keep == 0) {
                            CHECK(std::isinf(r.threshold));
                            continue;
                        }
                        std::int64_t above = 0, tied = 0;
                        for (float x : s) {
                            const float k = kind == score_kind::magnitude ? std::fabs(x) : x;
                            above += k > r.threshold;
                            tied += k == r.threshold;
                        }
                        CHECK(r.above == above);
                        CHECK(r.tied == tied);
                        CHECK(r.above < keep);
                        CHECK(r.above + r.tied >= keep);
                    }
                }
            }
        }
    });
}

TEST_CASE("topk_mask: special values") {
    const float inf = std::numeric_limits<float>::infinity();
    const std::vector<float> s = {0.0f, -0.0f, inf, -inf, 1e-45f, -1e-45f, 3.0f, -3.0f, 0.0f};
    hone::test::for_each_tier([&](hone::isa) {
        std::vector<std::uint8_t> mask(s.size());
        // magnitude: ±inf, ±3, ±denormal; the 7th largest is a zero: +0 at index 0 first.
        auto r = hone::kernels::topk_mask(s, 7, score_kind::magnitude, mask);
        CHECK(mask == std::vector<std::uint8_t>{1, 0, 1, 1, 1, 1, 1, 1, 0});
        CHECK(r.threshold == 0.0f);
        CHECK(!std::signbit(r.threshold));
        CHECK(r.tied == 3); // -0 ties with +0
        r = hone::kernels::topk_mask(s, 3, score_kind::value, mask);
        CHECK(mask == std::vector<std::uint8_t>{0, 0, 1, 0, 1, 0, 1, 0, 0});
        CHECK(r.threshold == 1e-45f);
        r = hone::kernels::topk_mask(s, 5, score_kind::value, mask);
        CHECK(mask == std::vector<std::uint8_t>{1, 1, 1, 0, 1, 0, 1, 0, 0});
        CHECK(r.threshold == 0.0f);
        CHECK(r.above == 3);
        CHECK(r.tied == 3);
    });
}

TEST_CASE("topk_mask: errors") {
    std::vector<float> s(100, 1.0f);
    std::vector<std::uint8_t> mask(100, 9);
    hone::test::for_each_tier([&](hone::isa) {
        s[77] = std::nanf("");
        const auto msg =
            message_of([&] { hone::kernels::topk_mask(s, 5, score_kind::magnitude, mask); });
        CHECK(msg.find("score 77") != std::string::npos);
        CHECK(msg.find("NaN") != std::string::npos);
        CHECK(mask[0] == 9); // untouched
        s[77] = 1.0f;
    });
    CHECK_THROWS_AS(hone::kernels::topk_mask(s, 101, score_kind::magnitude, mask), hone::error);
    CHECK_THROWS_AS(hone::kernels::topk_mask(s, -1, score_kind::magnitude, mask), hone::error);
    std::vector<std::uint8_t> small(99);
    CHECK_THROWS_AS(hone::kernels::topk_mask(s, 1, score_kind::magnitude, small), hone::error);
    hone::tensor t(hone::dtype::f32, {10, 10});
    hone::tensor bad(hone::dtype::i8, {10, 10});
    hone::tensor ok(hone::dtype::boolean, {10, 10});
    CHECK_THROWS_AS(hone::kernels::topk_mask(t, 3, score_kind::value, bad), hone::error);
    t.span<float>()[42] = -5.0f;
    const auto r = hone::kernels::topk_mask(t, 1, score_kind::magnitude, ok);
    CHECK(ok.span<bool>()[42]);
    CHECK(r.threshold == 5.0f);
}

TEST_CASE("nm_mask: every group keeps exactly N, matches the reference on every tier") {
    const std::vector<std::pair<int, int>> patterns = {{1, 2}, {2, 4}, {1, 4}, {3, 4},  {4, 8},
                                                       {2, 8}, {1, 3}, {2, 5}, {8, 16}, {5, 32}};
    for (const auto& pattern : patterns) {
        const int n = pattern.first, m = pattern.second; // captured by lambdas below
        for (bool ties : {false, true}) {
            const std::int64_t rows = 13, cols = std::int64_t(m) * 11;
            const auto s = weights(std::size_t(rows * cols), unsigned(n * 100 + m), ties);
            for (score_kind kind : {score_kind::magnitude, score_kind::value}) {
                std::vector<std::uint8_t> expected(s.size());
                hone::set_max_isa(hone::isa::scalar);
                hone::kernels::nm_mask(s, rows, cols, n, m, kind, expected);
                hone::set_max_isa(hone::isa::avx512);
                // the reference itself: brute force per group
                for (std::size_t g = 0; g < s.size() / std::size_t(m); ++g) {
                    std::vector<float> group(s.begin() + std::ptrdiff_t(g * m),
                                             s.begin() + std::ptrdiff_t((g + 1) * m));
                    const auto want = brute_topk(group, n, kind);
                    REQUIRE(std::equal(want.begin(), want.end(),
                                       expected.begin() + std::ptrdiff_t(g * m)));
                }
                hone::test::for_each_tier([&](hone::isa) {
                    CAPTURE(n);
                    CAPTURE(m);
                    CAPTURE(ties);
                    std::vector<std::uint8_t> mask(s.size(), 5);
                    hone::kernels::nm_mask(s, rows, cols, n, m, kind, mask);
                    REQUIRE(mask == expected);
                });
            }
        }
    }
}

TEST_CASE("nm_mask: 2:4 ties and special values") {
    const float inf = std::numeric_limits<float>::infinity();
    const std::vector<float> s = {1, 1, 1, 1, -0.0f, 0.0f, 0, 0, -inf, 2, inf, -2, 5, -5, 5, -5};
    hone::test::for_each_tier([&](hone::isa) {
        std::vector<std::uint8_t> mask(s.size());
        hone::kernels::nm_mask(s, 1, 16, 2, 4, score_kind::magnitude, mask);
        CHECK(mask == std::vector<std::uint8_t>{1, 1, 0, 0, 1, 1, 0, 0, 1, 0, 1, 0, 1, 1, 0, 0});
        hone::kernels::nm_mask(s, 2, 8, 2, 4, score_kind::value, mask);
        CHECK(mask == std::vector<std::uint8_t>{1, 1, 0, 0, 1, 1, 0, 0, 0, 1, 1, 0, 1, 0, 1, 0});
    });
}

TEST_CASE("nm_mask: errors name the problem") {
    std::vector<float> s(24, 1.0f);
    std::vector<std::uint8_t> mask(24);
    auto msg =
        message_of([&] { hone::kernels::nm_mask(s, 4, 6, 2, 4, score_kind::magnitude, mask); });
    CHECK(msg.find("6 columns") != std::string::npos);
    CHECK(msg.find("M = 4") != std::string::npos);
    CHECK_THROWS_AS(hone::kernels::nm_mask(s, 3, 8, 4, 4, score_kind::magnitude, mask),
                    hone::error);
    CHECK_THROWS_AS(hone::kernels::nm_mask(s, 3, 8, 0, 4, score_kind::magnitude, mask),
                    hone::error);
    CHECK_THROWS_AS(hone::kernels::nm_mask(s, 1, 24, 2, 33, score_kind::magnitude, mask),
                    hone::error);
    CHECK_THROWS_AS(hone::kernels::nm_mask(s, 2, 8, 2, 4, score_kind::magnitude, mask),
                    hone::error);
    s[13] = std::nanf("");
    msg = message_of([&] { hone::kernels::nm_mask(s, 3, 8, 2, 4, score_kind::magnitude, mask); });
    CHECK(msg.find("row 1, column 5") != std::string::npos);
}

TEST_CASE("apply_mask: kept bits identical, pruned entries +0, in place allowed") {
    hone::test::for_each_tier([](hone::isa) {
        for (std::size_t n : {0u, 1u, 9u, 16u, 31u, 1001u}) {
            auto w = weights(n, 5, false);
            if (n > 4) {
                w[0] = -0.0f;
                w[1] = std::nanf("");
                w[2] = -std::numeric_limits<float>::infinity();
                w[3] = -1e-45f;
            }
            std::vector<std::uint8_t> mask(n);
            std::mt19937 rng(9);
            for (auto& b : mask)
                b = std::uint8_t(rng() % 3 == 0 ? 0 : (rng() % 2 ? 1 : 200)); // nonzero keeps
            std::vector<float> dst(n, 7.0f);
            hone::kernels::apply_mask(w, mask, dst);
            for (std::size_t i = 0; i < n; ++i) {
                const auto want = mask[i] ? std::bit_cast<std::uint32_t>(w[i]) : 0u;
                REQUIRE(std::bit_cast<std::uint32_t>(dst[i]) == want);
            }
            hone::kernels::apply_mask(w, mask, std::span<float>(w)); // in place
            CHECK(std::equal(w.begin(), w.end(), dst.begin(), [](float a, float b) {
                return std::bit_cast<std::uint32_t>(a) == std::bit_cast<std::uint32_t>(b);
            }));
        }
    });
    std::vector<float> a(4), b(3);
    std::vector<std::uint8_t> m(4);
    CHECK_THROWS_AS(hone::kernels::apply_mask(a, m, b), hone::error);
}
