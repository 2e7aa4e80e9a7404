// Nearest-centroid assignment and codebook lookup: brute force, exact midpoints, every tier.
#include "hone/kernels/cluster.hpp"
#include "isa_tiers.hpp"

#include <algorithm>
#include <bit>
#include <cmath>
#include <limits>
#include <random>
#include <string>
#include <vector>

namespace {

// Brute force in long double (exact for these magnitudes): nearest, ties to the lower index.
// ±inf: the limit, i.e. the first of the largest / the smallest centroid.
std::uint8_t brute(float v, const std::vector<float>& c) {
    if (v == INFINITY) return std::uint8_t(std::find(c.begin(), c.end(), c.back()) - c.begin());
    if (v == -INFINITY) return 0;
    std::size_t best = 0;
    long double dbest = std::fabs((long double)v - c[0]);
    for (std::size_t j = 1; j < c.size(); ++j) {
        const long double d = std::fabs((long double)v - c[j]);
        if (d < dbest) {
            dbest = d;
            best = j;
        }
    }
    return std::uint8_t(best);
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

TEST_CASE("nearest_centroid equals brute force, incl. exact midpoints, on every tier") {
    std::mt19937 rng(11);
    std::normal_distribution<float> normal;
    for (std::size_t k : {1u, 2u, 3u, 8u, 16u, 17u, 100u, 256u}) {
        std::vector<float> c(k);
        for (auto& x : c)
            x = std::round(normal(rng) * 64.0f) / 16.0f; // coarse grid: exact midpoints exist
        std::sort(c.begin(), c.end());
        std::vector<float> v;
        for (std::size_t j = 0; j < k; ++j) {
            v.push_back(c[j]);
            if (j + 1 < k) {
                const float mid = (c[j] + c[j + 1]) / 2; // exact on this grid
                v.push_back(mid);
                v.push_back(std::nextafter(mid, -INFINITY));
                v.push_back(std::nextafter(mid, INFINITY));
            }
        }
        for (int i = 0; i < 2000; ++i)
            v.push_back(normal(rng) * 5.0f);
        v.push_back(INFINITY);
        v.push_back(-INFINITY);
        v.push_back(-0.0f);
        v.push_back(1e-45f);
        hone::test::for_each_tier([&](hone::isa) {
            for (std::size_t n : {v.size(), v.size() - 3, std::size_t(5), std::size_t(0)}) {
                CAPTURE(k);
                CAPTURE(n);
                std::vector<std::uint8_t> idx(n, 0xee);
                hone::kernels::nearest_centroid(std::span(v).first(n), c, idx);
                for (std::size_t i = 0; i < n; ++i) {
                    CAPTURE(v[i]);
                    REQUIRE(idx[i] == brute(v[i], c));
                }
            }
        });
    }
}

TEST_CASE("nearest_centroid: midpoints that f32 cannot hold, and extreme ratios") {
    // c = {1+2^-23, 1+2^-22}: the f32 midpoint rounds up onto c[1]; c[1] must still map to 1.
    const float a = std::nextafter(1.0f, 2.0f), b = std::nextafter(a, 2.0f);
    const float huge = 1e30f, tiny = -1e-30f;
    hone::test::for_each_tier([&](hone::isa) {
        std::vector<float> c = {a, b};
        std::vector<float> v(16, b);
        v[3] = a;
        std::vector<std::uint8_t> idx(v.size());
        hone::kernels::nearest_centroid(v, c, idx);
        CHECK(idx[0] == 1);
        CHECK(idx[3] == 0);
        CHECK(idx[15] == 1);
        // huge/2 is nearer to `huge` than to a tiny negative centroid by |tiny|.
        c = {tiny, huge};
        std::fill(v.begin(), v.end(), huge / 2);
        hone::kernels::nearest_centroid(v, c, idx);
        CHECK(idx[0] == 1);
        CHECK(idx[9] == 1);
    });
}

TEST_CASE("nearest_centroid: duplicate centroids map to the first of equals") {
    const std::vector<float> c = {-1, 0, 0, 0, 2, 2};
    std::vector<float> v = {-1, -0.6f, -0.5f, -0.4f, 0, 0.9f, 1, 1.1f, 2,
                            3,  100,   -0.0f, 0,     0, 0,    5, 0.5f};
    hone::test::for_each_tier([&](hone::isa) {
        std::vector<std::uint8_t> idx(v.size());
        hone::kernels::nearest_centroid(v, c, idx);
        for (std::size_t i = 0; i < v.size(); ++i) {
            CAPTURE(v[i]);
            CHECK(idx[i] == brute(v[i], c));
        }
    });
}

TEST_CASE("nearest_centroid: errors") {
    std::vector<float> v(40, 1.0f);
    std::vector<std::uint8_t> idx(40, 3);
    std::vector<float> c = {0, 1, 2};
    hone::test::for_each_tier([&](hone::isa) {
        v[21] = std::nanf("");
        const auto msg = message_of([&] { hone::kernels::nearest_centroid(v, c, idx); });
        CHECK(msg.find("value 21") != std::string::npos);
        CHECK(idx[0] == 3);
        v[21] = 1.0f;
    });
    c = {0, 2, 1};
    CHECK(message_of([&] { hone::kernels::nearest_centroid(v, c, idx); }).find("centroid 2") !=
          std::string::npos);
    c = {0, INFINITY};
    CHECK(message_of([&] { hone::kernels::nearest_centroid(v, c, idx); }).find("finite") !=
          std::string::npos);
    c.clear();
    CHECK_THROWS_AS(hone::kernels::nearest_centroid(v, c, idx), hone::error);
    c.assign(257, 0.0f);
    CHECK_THROWS_AS(hone::kernels::nearest_centroid(v, c, idx), hone::error);
    c = {0, 1};
    std::vector<std::uint8_t> short_idx(39);
    CHECK_THROWS_AS(hone::kernels::nearest_centroid(v, c, short_idx), hone::error);
    hone::tensor tv(hone::dtype::f32, {4, 10}), tc(hone::dtype::f32, {2}),
        ti(hone::dtype::u8, {4, 10});
    tc.span<float>()[1] = 1.0f;
    tv.span<float>()[7] = 0.75f;
    hone::kernels::nearest_centroid(tv, tc, ti);
    CHECK(ti.span<std::uint8_t>()[7] == 1);
    hone::tensor wrong(hone::dtype::i8, {4, 10});
    CHECK_THROWS_AS(hone::kernels::nearest_centroid(tv, tc, wrong), hone::error);
}

TEST_CASE("codebook_lookup: bit-identical on every tier; bad index is an error") {
    std::vector<float> cb = {-0.0f, std::nanf(""), INFINITY, 1e-45f, 3.5f};
    for (int i = 5; i < 40; ++i)
        cb.push_back(float(i) * 0.5f);
    hone::test::for_each_tier([&](hone::isa) {
        for (std::size_t size : {std::size_t(1), std::size_t(5), cb.size(), std::size_t(256)}) {
            std::vector<float> book(size);
            for (std::size_t j = 0; j < size; ++j)
                book[j] = j < cb.size() ? cb[j] : float(j);
            for (std::size_t n : {0u, 1u, 15u, 16u, 17u, 1000u}) {
                std::vector<std::uint8_t> idx(n);
                for (std::size_t i = 0; i < n; ++i)
                    idx[i] = std::uint8_t((i * 7 + 3) % size);
                std::vector<float> dst(n);
                hone::kernels::codebook_lookup(idx, book, dst);
                for (std::size_t i = 0; i < n; ++i)
                    REQUIRE(std::bit_cast<std::uint32_t>(dst[i]) ==
                            std::bit_cast<std::uint32_t>(book[idx[i]]));
            }
        }
        std::vector<std::uint8_t> idx(50, 1);
        idx[33] = 5;
        std::vector<float> dst(50, 42.0f);
        const auto msg =
            message_of([&] { hone::kernels::codebook_lookup(idx, std::span(cb).first(5), dst); });
        CHECK(msg.find("index 5 at position 33") != std::string::npos);
        CHECK(dst[0] == 42.0f);
    });
    std::vector<std::uint8_t> idx(3);
    std::vector<float> dst(2);
    CHECK_THROWS_AS(hone::kernels::codebook_lookup(idx, cb, dst), hone::error);
    CHECK_THROWS_AS(hone::kernels::codebook_lookup(idx, std::span<const float>(), dst),
                    hone::error);
}
