// min/max and abs-max reductions: hand-computed values, the NaN and signed-zero rules, every
// granularity against an independent oracle, and every tier bit-identical to the scalar one.
#include "../status_of.hpp"
#include "hone/core/threads.hpp"
#include "hone/kernels/reduce.hpp"
#include "isa_tiers.hpp"

#include <bit>
#include <cmath>
#include <cstdint>
#include <limits>
#include <random>
#include <string>
#include <vector>

using hone::dtype;
using hone::kernels::granularity;
using hone::kernels::quant_axis;

namespace {

constexpr float inf = std::numeric_limits<float>::infinity();
constexpr std::uint32_t canonical_nan = 0x7fc00000u;

std::uint32_t bits(float x) { return std::bit_cast<std::uint32_t>(x); }

/// Normal values with ±0, denormals, ±inf, huge values and (optionally) NaN sprinkled in.
std::vector<float> data(std::size_t n, unsigned seed, bool with_nan) {
    std::mt19937 rng(seed);
    std::normal_distribution<float> normal(0.0f, 3.0f);
    const float specials[] = {0.0f,
                              -0.0f,
                              std::numeric_limits<float>::denorm_min(),
                              -std::numeric_limits<float>::denorm_min(),
                              std::numeric_limits<float>::max(),
                              -std::numeric_limits<float>::max(),
                              inf,
                              -inf,
                              std::bit_cast<float>(0x7fa00001u), // signalling NaN
                              std::bit_cast<float>(0xffc12345u)};
    std::vector<float> v(n);
    for (auto& x : v) {
        const unsigned r = rng() % 64;
        x = r < 10 ? specials[r] : normal(rng);
        if (!with_nan && std::isnan(x)) x = 1.0f;
    }
    return v;
}

struct oracle_result {
    std::vector<float> min, max, amax;
};

/// Independent oracle: element by element, parameter index from the multi-index.
oracle_result oracle(const std::vector<float>& x, const hone::shape& dims, const quant_axis& g) {
    const hone::shape out = hone::kernels::reduced_shape(dims, g);
    const auto m = static_cast<std::size_t>(out.numel());
    oracle_result r{std::vector<float>(m, inf), std::vector<float>(m, -inf),
                    std::vector<float>(m, 0.0f)};
    std::vector<bool> nan(m, false);
    const int rank = static_cast<int>(dims.rank());
    const int axis = g.axis < 0 ? g.axis + rank : g.axis;
    std::vector<std::int64_t> idx(dims.rank(), 0);
    for (std::size_t e = 0; e < x.size(); ++e) {
        std::int64_t rem = static_cast<std::int64_t>(e);
        for (int d = rank - 1; d >= 0; --d) {
            idx[d] = rem % dims[d];
            rem /= dims[d];
        }
        std::size_t p = 0;
        if (g.kind == granularity::per_channel) {
            p = static_cast<std::size_t>(idx[axis]);
        } else if (g.kind == granularity::per_group) {
            for (int d = 0; d < rank; ++d)
                p = p * static_cast<std::size_t>(out[d]) +
                    static_cast<std::size_t>(d == axis ? idx[d] / g.group_size : idx[d]);
        }
        const float v = x[e];
        if (std::isnan(v)) {
            nan[p] = true;
            continue;
        }
        if (v < r.min[p] || (v == r.min[p] && std::signbit(v))) r.min[p] = v;
        if (v > r.max[p] || (v == r.max[p] && !std::signbit(v))) r.max[p] = v;
        if (std::fabs(v) > r.amax[p]) r.amax[p] = std::fabs(v);
    }
    for (std::size_t p = 0; p < m; ++p)
        if (nan[p]) r.min[p] = r.max[p] = r.amax[p] = std::bit_cast<float>(canonical_nan);
    return r;
}

void require_same_bits(const std::vector<float>& got, const std::vector<float>& want,
                       const char* what) {
    REQUIRE(got.size() == want.size());
    for (std::size_t i = 0; i < got.size(); ++i) {
        CAPTURE(what);
        CAPTURE(i);
        CAPTURE(got[i]);
        CAPTURE(want[i]);
        REQUIRE(bits(got[i]) == bits(want[i]));
    }
}

hone::tensor make_f32(const std::vector<float>& v, const hone::shape& dims) {
    hone::tensor t(dtype::f32, dims);
    std::copy(v.begin(), v.end(), t.span<float>().begin());
    return t;
}

/// Runs the tensor forms and checks them against the oracle.
void check_tensor_form(const std::vector<float>& x, const hone::shape& dims, const quant_axis& g) {
    CAPTURE(dims.to_string());
    CAPTURE(static_cast<int>(g.kind));
    CAPTURE(g.axis);
    CAPTURE(g.group_size);
    const auto want = oracle(x, dims, g);
    const hone::tensor src = make_f32(x, dims);
    const hone::shape out = hone::kernels::reduced_shape(dims, g);
    hone::tensor mn(dtype::f32, out), mx(dtype::f32, out), am(dtype::f32, out);
    hone::kernels::min_max(src, g, mn, mx);
    hone::kernels::abs_max(src, g, am);
    const auto vec = [](const hone::tensor& t) {
        return std::vector<float>(t.span<float>().begin(), t.span<float>().end());
    };
    require_same_bits(vec(mn), want.min, "min");
    require_same_bits(vec(mx), want.max, "max");
    require_same_bits(vec(am), want.amax, "abs_max");
}

} // namespace

TEST_CASE("reductions: hand-computed values") {
    hone::test::for_each_tier([](hone::isa) {
        const std::vector<float> v = {3.0f, -1.0f, 2.0f, -7.5f, 0.25f, 6.0f, -0.0f, 1.0f, 4.0f};
        const auto r = hone::kernels::min_max(v);
        CHECK(r.min == -7.5f);
        CHECK(r.max == 6.0f);
        CHECK(hone::kernels::abs_max(v) == 7.5f);

        // rows of a 3×3 matrix, columns, groups of 3 (= rows here)
        std::vector<float> mn(3), mx(3), am(3);
        hone::kernels::min_max_rows(v, 3, 3, mn, mx);
        CHECK(mn == std::vector<float>{-1.0f, -7.5f, -0.0f});
        CHECK(mx == std::vector<float>{3.0f, 6.0f, 4.0f});
        hone::kernels::abs_max_rows(v, 3, 3, am);
        CHECK(am == std::vector<float>{3.0f, 7.5f, 4.0f});
        hone::kernels::min_max_cols(v, 3, 3, mn, mx);
        CHECK(mn == std::vector<float>{-7.5f, -1.0f, 2.0f});
        CHECK(mx == std::vector<float>{3.0f, 1.0f, 6.0f});
        hone::kernels::abs_max_cols(v, 3, 3, am);
        CHECK(am == std::vector<float>{7.5f, 1.0f, 6.0f});
        std::vector<float> gmn(6), gmx(6), gam(6);
        const std::vector<float> m2 = {1, -2, 3, 4, -5, 6, 7, 8, 9, 10, -11, 12}; // 2×6, groups 2
        hone::kernels::min_max_groups(m2, 2, 6, 2, gmn, gmx);
        CHECK(gmn == std::vector<float>{-2, 3, -5, 7, 9, -11});
        CHECK(gmx == std::vector<float>{1, 4, 6, 8, 10, 12});
        hone::kernels::abs_max_groups(m2, 2, 6, 2, gam);
        CHECK(gam == std::vector<float>{2, 4, 6, 8, 10, 12});
    });
}

TEST_CASE("reductions: NaN poisons its set, -0 < +0, empty gives identities") {
    hone::test::for_each_tier([](hone::isa) {
        // NaN at every position of sizes that exercise the vector body and the scalar tail
        for (std::size_t n : {1u, 7u, 8u, 9u, 16u, 17u, 40u}) {
            for (std::size_t at = 0; at < n; ++at) {
                CAPTURE(n);
                CAPTURE(at);
                std::vector<float> v(n, 1.0f);
                v[at] = std::bit_cast<float>(0xffc00001u); // negative NaN with a payload
                const auto r = hone::kernels::min_max(v);
                REQUIRE(bits(r.min) == canonical_nan);
                REQUIRE(bits(r.max) == canonical_nan);
                REQUIRE(bits(hone::kernels::abs_max(v)) == canonical_nan);
            }
        }
        // only the rows / columns / groups holding the NaN become NaN
        std::vector<float> m(4 * 20, 2.0f);
        m[1 * 20 + 13] = std::numeric_limits<float>::quiet_NaN();
        std::vector<float> mn(20), mx(20), am(20);
        hone::kernels::min_max_rows(m, 4, 20, {mn.data(), 4}, {mx.data(), 4});
        CHECK(mn[0] == 2.0f);
        CHECK(std::isnan(mn[1]));
        CHECK(std::isnan(mx[1]));
        CHECK(mx[2] == 2.0f);
        hone::kernels::min_max_cols(m, 4, 20, mn, mx);
        hone::kernels::abs_max_cols(m, 4, 20, am);
        for (int j = 0; j < 20; ++j) {
            CHECK(std::isnan(mn[j]) == (j == 13));
            CHECK(std::isnan(am[j]) == (j == 13));
        }
        std::vector<float> gmn(8), gmx(8);
        hone::kernels::min_max_groups(m, 4, 20, 10, gmn, gmx);
        for (int g = 0; g < 8; ++g)
            CHECK(std::isnan(gmx[g]) == (g == 3));

        // signed zeros, in the vector body (n = 64) and in the tail (n = 3)
        for (std::size_t n : {3u, 64u}) {
            std::vector<float> z(n, 0.0f);
            z[n / 2] = -0.0f;
            const auto r = hone::kernels::min_max(z);
            CHECK(bits(r.min) == bits(-0.0f));
            CHECK(bits(r.max) == bits(0.0f));
            std::vector<float> neg(n, -0.0f);
            CHECK(bits(hone::kernels::min_max(neg).max) == bits(-0.0f));
            CHECK(bits(hone::kernels::abs_max(neg)) == bits(0.0f));
        }
        // infinities take part
        const std::vector<float> w = {1.0f, -inf, 2.0f, inf, 0.0f, 0.0f, 0.0f, 0.0f, 0.0f};
        CHECK(hone::kernels::min_max(w).min == -inf);
        CHECK(hone::kernels::min_max(w).max == inf);
        CHECK(hone::kernels::abs_max(w) == inf);
        // empty
        const auto e = hone::kernels::min_max(std::span<const float>{});
        CHECK(e.min == inf);
        CHECK(e.max == -inf);
        CHECK(bits(hone::kernels::abs_max(std::span<const float>{})) == 0u);
        std::vector<float> r3(3);
        std::vector<float> none;
        hone::kernels::abs_max_rows(none, 3, 0, r3);
        CHECK(r3 == std::vector<float>{0.0f, 0.0f, 0.0f});
    });
}

TEST_CASE("reductions: every granularity matches the oracle on every tier") {
    struct shape_case {
        hone::shape dims;
        std::vector<quant_axis> axes;
    };
    const std::vector<shape_case> cases = {
        {{1}, {{granularity::per_tensor}, {granularity::per_channel, 0}}},
        {{0, 5}, {{granularity::per_tensor}, {granularity::per_channel, 1}}},
        {{7, 0}, {{granularity::per_channel, 0}, {granularity::per_group, 1, 3}}},
        {{3, 17},
         {{granularity::per_tensor},
          {granularity::per_channel, 0},
          {granularity::per_channel, -1},
          {granularity::per_group, 1, 17},
          {granularity::per_group, 0, 3}}},
        {{33, 40},
         {{granularity::per_channel, 0},
          {granularity::per_channel, 1},
          {granularity::per_group, 1, 8},
          {granularity::per_group, 1, 5},
          {granularity::per_group, 0, 11}}},
        {{4, 6, 9},
         {{granularity::per_channel, 0},
          {granularity::per_channel, 1},
          {granularity::per_channel, 2},
          {granularity::per_group, 1, 3},
          {granularity::per_group, -1, 9},
          {granularity::per_group, 0, 2}}},
        {{2, 3, 5, 7}, {{granularity::per_channel, 2}, {granularity::per_group, 2, 5}}},
        {{1000003}, {{granularity::per_tensor}}},
        {{300, 520},
         {{granularity::per_tensor},
          {granularity::per_channel, 0},
          {granularity::per_channel, 1},
          {granularity::per_group, 1, 130},
          {granularity::per_group, 0, 20}}},
    };
    for (bool with_nan : {false, true}) {
        for (const auto& c : cases) {
            const auto x = data(static_cast<std::size_t>(c.dims.numel()), 7, with_nan);
            hone::test::for_each_tier([&](hone::isa) {
                for (const auto& g : c.axes)
                    check_tensor_form(x, c.dims, g);
            });
        }
    }
}

TEST_CASE("reductions: span forms equal the scalar tier bit for bit on edge sizes") {
    for (std::int64_t rows : {1, 2, 5}) {
        for (std::int64_t cols : {1, 7, 8, 9, 15, 16, 17, 31, 33, 64, 100, 129}) {
            CAPTURE(rows);
            CAPTURE(cols);
            const auto x =
                data(static_cast<std::size_t>(rows * cols), unsigned(rows * cols), cols % 3 == 0);
            const auto run = [&] {
                std::vector<float> out;
                const auto tr = hone::kernels::min_max(x);
                out.push_back(tr.min);
                out.push_back(tr.max);
                out.push_back(hone::kernels::abs_max(x));
                std::vector<float> a(rows), b(rows), c(cols), d(cols), e(cols);
                hone::kernels::min_max_rows(x, rows, cols, a, b);
                out.insert(out.end(), a.begin(), a.end());
                out.insert(out.end(), b.begin(), b.end());
                hone::kernels::abs_max_rows(x, rows, cols, a);
                out.insert(out.end(), a.begin(), a.end());
                hone::kernels::min_max_cols(x, rows, cols, c, d);
                hone::kernels::abs_max_cols(x, rows, cols, e);
                for (auto* v : {&c, &d, &e})
                    out.insert(out.end(), v->begin(), v->end());
                std::vector<float> gm(rows), gx(rows), ga(rows);
                hone::kernels::min_max_groups(x, rows, cols, cols, gm, gx);
                hone::kernels::abs_max_groups(x, rows, cols, cols, ga);
                for (auto* v : {&gm, &gx, &ga})
                    out.insert(out.end(), v->begin(), v->end());
                return out;
            };
            hone::set_max_isa(hone::isa::scalar);
            const auto reference = run();
            hone::test::for_each_tier(
                [&](hone::isa) { require_same_bits(run(), reference, "all"); });
        }
    }
}

TEST_CASE("reductions: strided input, results independent of the thread count") {
    // a strided view: every other column of a [64, 2·1000] matrix
    const auto x = data(64 * 2000, 11, true);
    const hone::tensor full = make_f32(x, {64, 2000});
    const std::int64_t strides[] = {2000, 2};
    const auto view = hone::make_view(full.data(), full.nbytes(), dtype::f32, {64, 1000}, strides);
    std::vector<float> gathered;
    for (int r = 0; r < 64; ++r)
        for (int c = 0; c < 1000; ++c)
            gathered.push_back(x[r * 2000 + 2 * c]);
    for (const quant_axis g :
         {quant_axis{granularity::per_channel, 0}, quant_axis{granularity::per_channel, 1},
          quant_axis{granularity::per_group, 1, 100}}) {
        const hone::shape out = hone::kernels::reduced_shape({64, 1000}, g);
        hone::tensor mn(dtype::f32, out), mx(dtype::f32, out);
        hone::kernels::min_max(view, g, mn, mx);
        const auto want = oracle(gathered, {64, 1000}, g);
        require_same_bits({mn.span<float>().begin(), mn.span<float>().end()}, want.min, "min");
    }
    const auto big = data(1 << 21, 5, true);
    const hone::shape dims{512, 4096};
    const hone::tensor src = make_f32(big, dims);
    const int saved = hone::num_threads();
    for (const quant_axis g :
         {quant_axis{granularity::per_tensor}, quant_axis{granularity::per_channel, 0},
          quant_axis{granularity::per_channel, 1}, quant_axis{granularity::per_group, 1, 64},
          quant_axis{granularity::per_group, 0, 8}}) {
        const hone::shape out = hone::kernels::reduced_shape(dims, g);
        hone::tensor a(dtype::f32, out), b(dtype::f32, out), c(dtype::f32, out), d(dtype::f32, out);
        hone::set_num_threads(1);
        hone::kernels::min_max(src, g, a, b);
        hone::set_num_threads(7);
        hone::kernels::min_max(src, g, c, d);
        require_same_bits({a.span<float>().begin(), a.span<float>().end()},
                          {c.span<float>().begin(), c.span<float>().end()}, "threads min");
        require_same_bits({b.span<float>().begin(), b.span<float>().end()},
                          {d.span<float>().begin(), d.span<float>().end()}, "threads max");
        const auto want = oracle(big, dims, g);
        require_same_bits({a.span<float>().begin(), a.span<float>().end()}, want.min, "min");
    }
    hone::set_num_threads(saved);
}

TEST_CASE("reductions: bad input gets a clear error") {
    const std::vector<float> v(12, 1.0f);
    std::vector<float> out(4), out2(4);
    std::string msg;
    CHECK(status_of([&] { hone::kernels::min_max_groups(v, 2, 6, 4, out, out2); }, &msg) ==
          hone::status::invalid_argument);
    CHECK(msg.find("group size 4 does not divide dimension 6") != std::string::npos);
    CHECK(status_of([&] { hone::kernels::abs_max_groups(v, 2, 6, 0, out); }, &msg) ==
          hone::status::invalid_argument);
    CHECK(status_of([&] { hone::kernels::abs_max_rows(v, 3, 5, out); }, &msg) ==
          hone::status::shape_mismatch);
    CHECK(msg.find("'src' has 12 elements, expected 15") != std::string::npos);
    CHECK(status_of(
              [&] {
                  hone::kernels::min_max_rows(v, 3, 4, {out.data(), 3}, {out2.data(), 2});
              },
              &msg) == hone::status::shape_mismatch);
    CHECK(msg.find("'max' has 2 elements, expected 3") != std::string::npos);
    CHECK(status_of([&] { hone::kernels::abs_max_cols(v, -1, 4, out); }) ==
          hone::status::invalid_argument);

    const hone::tensor t = make_f32(v, {3, 4});
    hone::tensor r3(dtype::f32, {3}), r4(dtype::f32, {4}), i3(dtype::i32, {3});
    CHECK(status_of(
              [&] {
                  hone::kernels::abs_max(t, {granularity::per_channel, 2}, r3);
              },
              &msg) == hone::status::invalid_argument);
    CHECK(msg.find("axis 2 is out of range for a tensor of rank 2") != std::string::npos);
    CHECK(status_of([&] {
              hone::kernels::abs_max(t, {granularity::per_channel, -3}, r3);
          }) == hone::status::invalid_argument);
    CHECK(status_of(
              [&] {
                  hone::kernels::abs_max(t, {granularity::per_channel, 0}, r4);
              },
              &msg) == hone::status::shape_mismatch);
    CHECK(msg.find("expected [3]") != std::string::npos);
    CHECK(status_of([&] {
              hone::kernels::abs_max(t, {granularity::per_channel, 0}, i3);
          }) == hone::status::dtype_mismatch);
    hone::tensor ints(dtype::i32, {3, 4});
    CHECK(status_of([&] {
              hone::kernels::abs_max(ints, {granularity::per_channel, 0}, r3);
          }) == hone::status::dtype_mismatch);
    CHECK(status_of([&] {
              hone::kernels::abs_max(t, {static_cast<granularity>(9), 0}, r3);
          }) == hone::status::invalid_argument);
    CHECK(hone::kernels::reduced_shape({4, 6, 8}, {granularity::per_group, 1, 3}) ==
          hone::shape{4, 2, 8});
    CHECK(hone::kernels::reduced_shape({4, 6, 8}, {granularity::per_tensor}).rank() == 0);
}
